"""One customer per real person across channels: profile, history and erasure on request."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.domain.access import Permission
from ordermesh.domain.contacts import anonymise_address, anonymised_contact, anonymised_name, mask_email, mask_phone
from ordermesh.domain.errors import Conflict, NotFound, ValidationFailed
from ordermesh.domain.money import format_amount
from ordermesh.services.common import require
from ordermesh.services.order_queries import OrderFilter, list_orders


def get_customer(uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
    """The profile, with counts of delivered / RTO / returned orders, lifetime value and the most
    recent orders; phone and email masked for roles that should not see them."""
    require(uow.actor, Permission.CUSTOMERS_READ)
    row = uow.customers.get(customer_id)
    if row is None:
        raise NotFound(f"customer {customer_id} not found", field="customer")
    history = uow.orders.customer_history(customer_id, uow.now, exclude_id=0)
    contacts = uow.actor.can(Permission.CUSTOMER_CONTACTS)
    recent = list_orders(uow, OrderFilter(customer_id=customer_id), cursor=None, limit=20).items
    concluded = history.delivered + history.rto
    return {
        "id": row.id,
        "name": row.name,
        "phone": row.phone if contacts else mask_phone(row.phone),
        "email": row.email if contacts else mask_email(row.email),
        "erased": row.erased_at is not None,
        "created_at": row.created_at,
        "orders": history.orders,
        "delivered": history.delivered,
        "rto": history.rto,
        "returned": history.returned,
        "rto_rate": round(100 * history.rto / concluded) if concluded else None,
        "lifetime_value": format_amount(Decimal(history.lifetime_value or 0)),
        "recent_orders": recent,
    }


def erase_customer(uow: UnitOfWork, customer_id: int, *, reason: str) -> None:
    """Anonymise a person on request (India's DPDP Act): name, phone, email and street address go
    from the profile and every order; what tax records need (amounts, SKUs, place of supply: city,
    state, pincode) stays. Recorded in the audit trail."""
    require(uow.actor, Permission.CUSTOMERS_ERASE)
    if not reason.strip():
        raise ValidationFailed("say on whose request and why", field="reason")
    row = uow.customers.get(customer_id)
    if row is None:
        raise NotFound(f"customer {customer_id} not found", field="customer")
    if row.erased_at is not None:
        raise Conflict(f"customer {customer_id} was erased already", field="customer")
    orders = uow.orders.of_customer(customer_id)
    for o in orders:
        uow.orders.update(
            o.id,
            customer=anonymised_contact(),
            shipping_address=anonymise_address(o.shipping_address),
            billing_address=anonymise_address(o.billing_address) if o.billing_address else None,
        )
    uow.customers.erase(customer_id, anonymised_name(), uow.now)
    uow.audit(
        "customer.erased",
        "customer",
        str(customer_id),
        before={"orders": len(orders)},
        after={"erased": True, "reason": reason.strip()},
    )
    uow.commit()

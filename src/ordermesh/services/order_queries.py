"""Reading orders: one order with everything a person needs, and the queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ordermesh.adapters.db.repositories import encode_cursor
from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.domain.access import Permission
from ordermesh.domain.contacts import mask_email, mask_phone
from ordermesh.domain.errors import NotFound, ValidationFailed
from ordermesh.domain.money import format_amount
from ordermesh.domain.statuses import HOLD_ACTIONS, HoldReason, OrderStatus
from ordermesh.services.common import Page, cursor_values, page_limit, require
from ordermesh.services.order_actions import load
from ordermesh.services.orders import Written


def order_number(order_id: int) -> str:
    """Our human-readable number: derived from the id, so it is never stored twice."""
    return f"OM{order_id:07d}"


def get_order(uow: UnitOfWork, order_id: int) -> dict[str, Any]:
    require(uow.actor, Permission.ORDERS_READ)
    order = load(uow, order_id)
    allocations: dict[int, list[dict[str, Any]]] = {}
    for a in order.allocations:
        allocations.setdefault(a.line_id, []).append({"location": a.location, "quantity": a.quantity})
    events = [
        {"at": e.at, "kind": e.kind, "message": e.message, "data": e.data, "actor": e.actor}
        for e in uow.orders.events(order_id)
    ]
    # Every recorded change raises the version, so an order at version 1 has none to read.
    changes = uow.orders.changes(order_id) if order.row.version > 1 else []
    view = _full(uow, order.row, order.lines, [allocations.get(line.id, []) for line in order.lines], events)
    view["changes"] = [
        {"version": c.version, "at": c.at, "actor": c.actor, "reason": c.reason, "changes": c.changes} for c in changes
    ]
    return view


def new_order_view(uow: UnitOfWork, written: Written) -> dict[str, Any]:
    """A new order's answer from what intake wrote: the same view get_order gives, without reading
    back what this request has just written (tests compare the two, field by field)."""
    require(uow.actor, Permission.ORDERS_READ)
    allocations = [written.allocations.get(line.line_no, []) for line in written.lines]
    # The one channel this view needs is known: no read of every channel after the commit.
    codes = {written.row.channel_id: written.channel} if uow.actor.sees_channel(written.channel) else {}
    view = _full(uow, written.row, written.lines, allocations, written.events, codes)
    view["changes"] = []
    return view


def _full(
    uow: UnitOfWork,
    row: Any,
    lines: list[Any],
    allocations: list[list[dict[str, Any]]],
    events: list[dict[str, Any]],
    channels: dict[int, str] | None = None,
) -> dict[str, Any]:
    view = _summary(uow, row, lines, _channel_codes(uow) if channels is None else channels)
    for out, allocated in zip(view["lines"], allocations, strict=True):
        out["allocations"] = allocated
    view["risk"] = row.risk
    view["routing"] = row.routing
    view["timeline"] = events
    return view


@dataclass(frozen=True)
class OrderFilter:
    status: str | None = None
    channel: str | None = None
    hold: str | None = None
    sla: str | None = None
    customer_id: int | None = None


def list_orders(
    uow: UnitOfWork, filters: OrderFilter, *, cursor: str | None, limit: int | None
) -> Page[dict[str, Any]]:
    require(uow.actor, Permission.ORDERS_READ)
    n = page_limit(limit)
    before = cursor_values(cursor)
    if filters.status and filters.status not in {s.value for s in OrderStatus}:
        raise ValidationFailed(f"'{filters.status}' is not an order status", field="status")
    if filters.hold and filters.hold not in {h.value for h in HoldReason}:
        raise ValidationFailed(f"'{filters.hold}' is not a hold reason", field="hold")
    if filters.sla and filters.sla not in ("ok", "at_risk", "breached"):
        raise ValidationFailed("sla must be ok, at_risk or breached", field="sla")
    codes = _channel_codes(uow)
    channel_id = None
    if filters.channel:
        ids = [i for i, c in codes.items() if c == filters.channel]
        if not ids:
            raise NotFound(f"channel '{filters.channel}' not found", field="channel")
        channel_id = ids[0]
    visible = list(codes) if uow.actor.channels is not None else None
    rows = uow.orders.page(
        status=filters.status,
        channel_id=channel_id,
        hold=filters.hold,
        sla=filters.sla,
        customer_id=filters.customer_id,
        before_id=int(str(before[0])) if before else None,
        limit=n + 1,
        channel_ids=visible,
    )
    more = len(rows) > n
    rows = rows[:n]
    lines = uow.orders.lines_for([r.id for r in rows])
    items = [_summary(uow, r, lines.get(r.id, []), codes) for r in rows]
    return Page(items, encode_cursor(rows[-1].id) if more and rows else None)


COUNT_CAP = 10_000


@dataclass(frozen=True)
class OrderCount:
    count: int
    exact: bool  # False: there are more than ``count``; the queue says "10,000+"

    @property
    def label(self) -> str:
        return f"{self.count:,}" if self.exact else f"{self.count:,}+"


def count_orders(uow: UnitOfWork, *, status: str | None = None, channel: str | None = None) -> OrderCount:
    """Orders matching a queue filter, exact up to 10,000 and "10,000+" beyond: counting millions
    of rows to print one number is not worth a slow page."""
    require(uow.actor, Permission.ORDERS_READ)
    codes = _channel_codes(uow)
    channel_id = next((i for i, c in codes.items() if c == channel), None) if channel else None
    if channel and channel_id is None:
        raise NotFound(f"channel '{channel}' not found", field="channel")
    n = uow.orders.count_up_to(status=status, channel_id=channel_id, cap=COUNT_CAP)
    return OrderCount(min(n, COUNT_CAP), n <= COUNT_CAP)


def _channel_codes(uow: UnitOfWork) -> dict[int, str]:
    return {c.id: c.spec.code for c in uow.all_channels() if uow.actor.sees_channel(c.spec.code)}


def _summary(uow: UnitOfWork, row: Any, lines: list[Any], channels: dict[int, str]) -> dict[str, Any]:
    if row.channel_id not in channels:
        raise NotFound(f"order {row.id} not found", field="order")
    contacts = uow.actor.can(Permission.CUSTOMER_CONTACTS)
    customer = dict(row.customer)
    address = dict(row.shipping_address)
    if not contacts:
        customer["phone"] = mask_phone(customer.get("phone") or "") if customer.get("phone") else None
        customer["email"] = mask_email(customer.get("email") or "") if customer.get("email") else None
        address["phone"] = mask_phone(address.get("phone") or "") if address.get("phone") else None
    return {
        "id": row.id,
        "number": order_number(row.id),
        "channel": channels[row.channel_id],
        "external_id": row.external_id,
        "placed_at": row.placed_at,
        "status": row.status,
        "holds": [{**h, "action": HOLD_ACTIONS[HoldReason(h["reason"])]} for h in row.holds],
        "customer": {**customer, "id": row.customer_id},
        "shipping_address": address,
        "billing_address": row.billing_address,
        "payment": {"method": row.payment_method, "status": row.payment_status},
        "currency": row.currency,
        "totals": {
            "items": format_amount(row.items_total),
            "discounts": format_amount(row.discount_total),
            "shipping": format_amount(row.shipping_total),
            "tax": format_amount(row.tax_total),
            "grand_total": format_amount(row.grand_total),
        },
        "risk_score": row.risk_score,
        "dispatch_by": row.dispatch_by,
        "sla": row.sla_state,
        "tags": row.tags,
        "notes": row.notes,
        "version": row.version,
        "lines": [_line(line) for line in lines],
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _line(line: Any) -> dict[str, Any]:
    open_units = line.quantity - line.allocated - line.shipped - line.cancelled
    return {
        "line_no": line.line_no,
        "sku": line.sku_code,
        "mapped": line.sku_id is not None,
        "quantity": line.quantity,
        "unit_price": format_amount(line.unit_price),
        "discount": format_amount(line.discount),
        "tax": format_amount(line.tax),
        "open": open_units,
        "allocated": line.allocated,
        "shipped": line.shipped,
        "delivered": line.delivered,
        "cancelled": line.cancelled,
        "returned": line.returned,
    }

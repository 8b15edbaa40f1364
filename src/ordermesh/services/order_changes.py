"""Versioned changes to an order, from its channel (a changed payload for the same external id)
or from a person (address, quantities). Each change records what changed, who and why; a change
that is no longer possible (a shipped line) is refused, never half-applied or dropped."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ordermesh.adapters.db.orders import OrderRow, quantities_of
from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.domain import events
from ordermesh.domain.access import Permission
from ordermesh.domain.errors import Collector, Conflict, ValidationFailed
from ordermesh.domain.intake import AddressIn, LineIn, OrderIn, build_address_in
from ordermesh.domain.orders import line_tax, totals
from ordermesh.domain.statuses import SETTLED, OrderStatus
from ordermesh.services.common import require
from ordermesh.services.order_actions import _cancel, load
from ordermesh.services.orders import Timeline, run_pipeline


def apply_channel_update(uow: UnitOfWork, current: OrderRow, order_in: OrderIn) -> None:
    """The channel sent the order again with different content: apply what changed."""
    lines = {line.sku: line.quantity for line in _merge(order_in.lines)}
    _apply(
        uow,
        current,
        address=order_in.shipping,
        quantities=lines,
        prices={line.sku: (line.unit_price, line.discount) for line in order_in.lines},
        payment_status=order_in.payment_status.value,
        reason="changed by the channel",
        payload_hash=order_in.fingerprint(),
    )


def edit_order(uow: UnitOfWork, order_id: int, patch: Mapping[str, Any], *, reason: str) -> None:
    """A person changes the shipping address and/or line quantities ({"sku": quantity})."""
    require(uow.actor, Permission.ORDERS_WRITE)
    errors = Collector()
    if not reason or not reason.strip():
        errors.add("reason", "say why the order is changed")
    address = (
        build_address_in(patch["shipping_address"], errors, "shipping_address") if "shipping_address" in patch else None
    )
    quantities: dict[str, int] | None = None
    if "lines" in patch:
        quantities = {}
        raw_lines = patch["lines"]
        if not isinstance(raw_lines, list) or not raw_lines:
            errors.add("lines", "must be a non-empty list of {sku, quantity}")
        else:
            for i, item in enumerate(raw_lines):
                sku, qty = (item.get("sku"), item.get("quantity")) if isinstance(item, Mapping) else (None, None)
                if not isinstance(sku, str) or not sku:
                    errors.add(f"lines.{i}.sku", "is required")
                elif isinstance(qty, bool) or not isinstance(qty, int) or qty < 0:
                    errors.add(f"lines.{i}.quantity", "must be a whole number (0 cancels the line)")
                else:
                    quantities[sku] = qty
    if address is None and quantities is None and not errors.errors:
        errors.add("shipping_address", "give shipping_address, lines or both")
    errors.raise_if_any()
    order = load(uow, order_id, for_update=True)
    _apply(
        uow,
        order,
        address=address,
        quantities=quantities,
        prices=None,
        payment_status=None,
        reason=reason.strip(),
        payload_hash=None,
    )


def _apply(
    uow: UnitOfWork,
    order: OrderRow,
    *,
    address: AddressIn | None,
    quantities: dict[str, int] | None,
    prices: dict[str, tuple[Decimal, Decimal]] | None,
    payment_status: str | None,
    reason: str,
    payload_hash: str | None,
) -> None:
    row = order.row
    if OrderStatus(row.status) in SETTLED:
        raise Conflict(f"order {row.id} is {row.status}; it can no longer be changed", field="status")
    changes: dict[str, Any] = {}
    update: dict[str, Any] = {}
    timeline = Timeline(uow, row.id)
    if address is not None and address.as_dict() != row.shipping_address:
        if any(line.shipped for line in order.lines):
            raise Conflict(f"order {row.id} has shipped; its address can no longer change", field="shipping_address")
        changes["shipping_address"] = {"from": row.shipping_address, "to": address.as_dict()}
        update.update(shipping_address=address.as_dict(), ship_pincode=address.pincode)
    if payment_status is not None and payment_status != row.payment_status:
        changes["payment_status"] = {"from": row.payment_status, "to": payment_status}
        update["payment_status"] = payment_status
    if quantities is not None:
        _change_lines(uow, order, quantities, prices or {}, changes, timeline, reason)
    if payload_hash is not None:
        update["payload_hash"] = payload_hash
    if not changes:
        if update:
            uow.orders.update(row.id, **update)
        uow.commit()
        return
    version = row.version + 1
    uow.orders.update(row.id, version=version, updated_at=uow.now, **update)
    uow.orders.add_change(row.id, version, uow.now, uow.actor.ref, reason, changes)
    timeline.add("order.changed", f"Version {version}: {', '.join(sorted(changes))} changed ({reason})", changes)
    uow.audit(
        "order.changed", "order", str(row.id), before={"version": row.version}, after={"version": version, **changes}
    )
    uow.emit(events.Event("order.changed", {"order_id": row.id, "version": version}))
    run_pipeline(uow, row.id, timeline)
    timeline.flush()
    uow.commit()


def _change_lines(
    uow: UnitOfWork,
    order: OrderRow,
    wanted: dict[str, int],
    prices: dict[str, tuple[Decimal, Decimal]],
    changes: dict[str, Any],
    timeline: Timeline,
    reason: str,
) -> None:
    have: dict[str, int] = {}
    for line in order.lines:
        have[line.sku_code] = have.get(line.sku_code, 0) + quantities_of(line).active
    to_cancel = []
    grow: list[tuple[str, int]] = []
    for sku in sorted(set(have) | set(wanted)):
        before, after = have.get(sku, 0), wanted.get(sku, 0)
        if after == before:
            continue
        matching = [line for line in order.lines if line.sku_code == sku]
        if after < before:
            cancellable = sum(quantities_of(line).open + quantities_of(line).allocated for line in matching)
            if before - after > cancellable:
                raise Conflict(
                    f"'{sku}' cannot go from {before} to {after}: {before - cancellable} unit(s) already shipped",
                    field="lines",
                )
            remaining = before - after
            for line in reversed(matching):
                take = min(remaining, quantities_of(line).open + quantities_of(line).allocated)
                if take:
                    to_cancel.append({"line_no": line.line_no, "quantity": take})
                    remaining -= take
        else:
            grow.append((sku, after - before))
        changes.setdefault("lines", {})[sku] = {"from": before, "to": after}
    if to_cancel:
        _cancel(uow, order, to_cancel, timeline, reason)
    if grow:
        facts = uow.skus.facts_for([sku for sku, _ in grow])
        next_no = max(line.line_no for line in order.lines) + 1
        rows = []
        for sku, extra in grow:
            price, discount = prices.get(sku) or _price_of(order, sku)
            fact = facts.get(sku)
            rows.append(
                {
                    "line_no": next_no,
                    "sku_code": sku,
                    "sku_id": fact.id if fact else None,
                    "quantity": extra,
                    "unit_price": price,
                    "discount": Decimal(0) if sku in {line.sku_code for line in order.lines} else discount,
                    "tax": line_tax(price, extra, Decimal(0), fact.gst_rate if fact else Decimal(0)),
                }
            )
            next_no += 1
        uow.orders.add_lines(order.row.id, rows)
    if to_cancel or grow:
        fresh = uow.orders.get(order.row.id)
        assert fresh is not None
        active = [
            (Decimal(x.unit_price), quantities_of(x).active, Decimal(x.discount), Decimal(x.tax))
            for x in fresh.lines
            if quantities_of(x).active
        ]
        money = totals(active, Decimal(order.row.shipping_total))
        uow.orders.update(
            order.row.id,
            items_total=money.items,
            discount_total=money.discounts,
            tax_total=money.tax,
            grand_total=money.grand_total,
        )


def _price_of(order: OrderRow, sku: str) -> tuple[Decimal, Decimal]:
    for line in order.lines:
        if line.sku_code == sku:
            return Decimal(line.unit_price), Decimal(0)
    raise ValidationFailed(f"'{sku}' is not on the order; a new line needs its price from the channel", field="lines")


def _merge(lines: tuple[LineIn, ...]) -> list[LineIn]:
    merged: dict[str, LineIn] = {}
    for line in lines:
        prev = merged.get(line.sku)
        merged[line.sku] = (
            line
            if prev is None
            else LineIn(line.sku, prev.quantity + line.quantity, line.unit_price, prev.discount + line.discount)
        )
    return list(merged.values())

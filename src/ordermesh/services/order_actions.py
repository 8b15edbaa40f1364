"""What a person (or a channel) does to an order: confirm it, resolve a hold, hold it, cancel
it in whole or in part. Each action re-runs the pipeline where that can move the order on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ordermesh.adapters.db.orders import OrderRow, quantities_of
from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.domain import events
from ordermesh.domain.access import Permission
from ordermesh.domain.errors import Collector, Conflict, NotFound, ValidationFailed
from ordermesh.domain.orders import derive_status
from ordermesh.domain.statuses import SETTLED, HoldReason, OrderStatus
from ordermesh.services.common import require
from ordermesh.services.inventory import StockLine, release_in_transaction
from ordermesh.services.orders import Timeline, run_pipeline

# Holds a person may simply wave through; the others need the data fixed (map the SKU, correct
# the address, receive stock), after which resolving re-checks them.
CLEARABLE = frozenset(
    {
        HoldReason.PRICE_CHECK,
        HoldReason.DUPLICATE_SUSPECTED,
        HoldReason.RISK_REVIEW,
        HoldReason.UNSERVICEABLE,
        HoldReason.PAYMENT_PENDING,
        HoldReason.MANUAL,
    }
)


def load(uow: UnitOfWork, order_id: int, *, for_update: bool = False) -> OrderRow:
    order = uow.orders.get(order_id, for_update=for_update)
    if order is None:
        raise NotFound(f"order {order_id} not found", field="order")
    channel = uow.channel_by_id(order.row.channel_id)
    if channel is None or not uow.actor.sees_channel(channel.spec.code):
        raise NotFound(f"order {order_id} not found", field="order")
    return order


def confirm_order(uow: UnitOfWork, order_id: int, *, note: str | None = None) -> OrderStatus:
    """A person verified the order (e.g. called the COD buyer): clear the risk and duplicate
    reviews and let it through to allocation."""
    require(uow.actor, Permission.ORDERS_WRITE)
    order = load(uow, order_id, for_update=True)
    _check_open(order)
    timeline = Timeline(uow, order_id)
    cleared = set(order.row.cleared_holds) | {HoldReason.RISK_REVIEW.value, HoldReason.DUPLICATE_SUSPECTED.value}
    uow.orders.update(order_id, confirmed=True, cleared_holds=sorted(cleared))
    timeline.add("order.confirmed", "Confirmed" + (f": {note}" if note else ""), {"note": note})
    status = run_pipeline(uow, order_id, timeline)
    uow.audit(
        "order.confirmed", "order", str(order_id), before={"status": order.row.status}, after={"status": status.value}
    )
    timeline.flush()
    uow.commit()
    return status


def resolve_hold(
    uow: UnitOfWork,
    order_id: int,
    reason: str,
    *,
    note: str | None = None,
    sku_mappings: Mapping[str, str] | None = None,
) -> OrderStatus:
    """Act on one hold. Clearable holds are waved through; an unmapped SKU is mapped to a catalog
    SKU with ``sku_mappings``; address and stock holds are re-checked (fix the address first)."""
    require(uow.actor, Permission.ORDERS_WRITE)
    try:
        hold = HoldReason(reason)
    except ValueError:
        raise ValidationFailed(f"'{reason}' is not a hold reason", field="reason") from None
    order = load(uow, order_id, for_update=True)
    _check_open(order)
    if hold.value not in {h["reason"] for h in order.row.holds}:
        raise Conflict(f"order {order_id} is not on hold for {hold.value}", field="reason")
    timeline = Timeline(uow, order_id)
    if hold is HoldReason.UNMAPPED_SKU:
        _map_skus(uow, order, sku_mappings or {}, timeline)
    elif hold in CLEARABLE:
        cleared = set(order.row.cleared_holds) | {hold.value}
        holds = [h for h in order.row.holds if h["reason"] != hold.value]
        uow.orders.update(
            order_id,
            cleared_holds=sorted(cleared),
            holds=holds,
            confirmed=order.row.confirmed or hold is HoldReason.RISK_REVIEW,
        )
    timeline.add(
        "order.hold_resolved",
        f"Hold {hold.value} resolved" + (f": {note}" if note else ""),
        {"reason": hold.value, "note": note},
    )
    status = run_pipeline(uow, order_id, timeline)
    uow.audit(
        "order.hold_resolved", "order", str(order_id), before={"hold": hold.value}, after={"status": status.value}
    )
    timeline.flush()
    uow.commit()
    return status


def hold_order(uow: UnitOfWork, order_id: int, *, note: str) -> OrderStatus:
    """Put an order on a manual hold (it keeps any stock it has)."""
    require(uow.actor, Permission.ORDERS_WRITE)
    if not note.strip():
        raise ValidationFailed("say why the order is held", field="note")
    order = load(uow, order_id, for_update=True)
    _check_open(order)
    if order.row.status not in ("pending", "on_hold", "confirmed", "allocated"):
        raise Conflict(f"an order that is {order.row.status} cannot be held", field="status")
    holds = [h for h in order.row.holds if h["reason"] != HoldReason.MANUAL.value]
    holds.append({"reason": HoldReason.MANUAL.value, "detail": note.strip()})
    cleared = sorted(set(order.row.cleared_holds) - {HoldReason.MANUAL.value})
    timeline = Timeline(uow, order_id)
    timeline.add("order.held", f"On hold (manual): {note.strip()}", {"reason": "manual", "detail": note.strip()})
    uow.orders.update(
        order_id, holds=holds, cleared_holds=cleared, status=OrderStatus.ON_HOLD.value, updated_at=uow.now
    )
    uow.audit("order.held", "order", str(order_id), before={"status": order.row.status}, after={"status": "on_hold"})
    timeline.flush()
    uow.commit()
    return OrderStatus.ON_HOLD


def cancel_order(
    uow: UnitOfWork, order_id: int, *, reason: str, lines: Sequence[Mapping[str, Any]] | None = None
) -> OrderStatus:
    """Cancel the whole order, or some units of some lines; reservations are released in the same
    transaction. Units already shipped cannot be cancelled (that is a return)."""
    require(uow.actor, Permission.ORDERS_WRITE)
    errors = Collector()
    if not reason or not reason.strip():
        errors.add("reason", "say why the order is cancelled")
    errors.raise_if_any()
    order = load(uow, order_id, for_update=True)
    if OrderStatus(order.row.status) in SETTLED:
        raise Conflict(f"order {order_id} is {order.row.status} and cannot be cancelled", field="status")
    timeline = Timeline(uow, order_id)
    if lines:
        status = _cancel_lines(uow, order, lines, timeline, reason.strip())
    else:
        status = cancel_whole(uow, order_id, timeline, reason=reason.strip(), order=order)
    uow.audit(
        "order.cancelled",
        "order",
        str(order_id),
        before={"status": order.row.status},
        after={"status": status.value, "reason": reason},
    )
    timeline.flush()
    uow.commit()
    return status


def cancel_whole(
    uow: UnitOfWork, order_id: int, timeline: Timeline, *, reason: str, order: OrderRow | None = None
) -> OrderStatus:
    order = order or load(uow, order_id, for_update=True)
    wanted = [
        {"line_no": line.line_no, "quantity": quantities_of(line).open + quantities_of(line).allocated}
        for line in order.lines
    ]
    wanted = [w for w in wanted if w["quantity"]]
    if not wanted:
        raise Conflict(f"order {order_id} has nothing left to cancel", field="lines")
    return _cancel(uow, order, wanted, timeline, reason)


def _cancel_lines(
    uow: UnitOfWork, order: OrderRow, lines: Sequence[Mapping[str, Any]], timeline: Timeline, reason: str
) -> OrderStatus:
    wanted = []
    for i, item in enumerate(lines):
        sku, qty = item.get("sku"), item.get("quantity")
        if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
            raise ValidationFailed("must be a whole number above zero", field=f"lines.{i}.quantity")
        matching = [line for line in order.lines if line.sku_code == sku]
        if not matching:
            raise ValidationFailed(f"the order has no line for SKU '{sku}'", field=f"lines.{i}.sku")
        remaining = qty  # several lines of one SKU: cancel from the last line first
        for line in reversed(matching):
            take = min(remaining, quantities_of(line).open + quantities_of(line).allocated)
            if take:
                wanted.append({"line_no": line.line_no, "quantity": take})
                remaining -= take
        if remaining:
            cancellable = sum(quantities_of(line).open + quantities_of(line).allocated for line in matching)
            raise Conflict(
                f"cannot cancel {qty} of '{sku}': only {cancellable} unit(s) are not yet shipped or cancelled",
                field=f"lines.{i}.quantity",
            )
    return _cancel(uow, order, wanted, timeline, reason)


def _cancel(
    uow: UnitOfWork, order: OrderRow, wanted: Sequence[Mapping[str, int]], timeline: Timeline, reason: str
) -> OrderStatus:
    by_no = {line.line_no: line for line in order.lines}
    allocs_by_line: dict[int, list[Any]] = {}
    for a in order.allocations:
        allocs_by_line.setdefault(a.line_id, []).append(a)
    releases: list[StockLine] = []
    counts = []
    quantities = {line.line_no: quantities_of(line) for line in order.lines}
    for w in wanted:
        line = by_no[w["line_no"]]
        new_q, from_allocated = quantities[line.line_no].cancel(w["quantity"])
        quantities[line.line_no] = new_q
        counts.append({"id": line.id, "cancelled": new_q.cancelled, "allocated": new_q.allocated})
        for alloc in reversed(allocs_by_line.get(line.id, [])):
            if from_allocated == 0:
                break
            take = min(from_allocated, alloc.quantity)
            releases.append(StockLine(line.sku_code, alloc.location, take))
            uow.orders.reduce_allocation(alloc.id, take)
            from_allocated -= take
    if releases:
        release_in_transaction(uow, releases, reference=f"order:{order.row.id}")
    uow.orders.set_line_counts(counts)
    described = ", ".join(f"{by_no[w['line_no']].sku_code} × {w['quantity']}" for w in wanted)
    timeline.add("order.cancelled", f"Cancelled {described}: {reason}", {"lines": list(wanted), "reason": reason})
    status = derive_status(
        list(quantities.values()), holds=[h["reason"] for h in order.row.holds], confirmed=order.row.confirmed
    )
    holds: list[Any] = [] if status is OrderStatus.CANCELLED else order.row.holds
    if status.value != order.row.status:
        timeline.add(
            "order.status_changed",
            f"{order.row.status} → {status.value}",
            {"from": order.row.status, "to": status.value},
        )
        uow.emit(
            events.Event(
                "order.status_changed", {"order_id": order.row.id, "from": order.row.status, "to": status.value}
            )
        )
    uow.orders.update(order.row.id, status=status.value, holds=holds, updated_at=uow.now)
    if releases:
        uow.emit(events.Event("order.stock_released", {"order_id": order.row.id}))
    return status


def _map_skus(uow: UnitOfWork, order: OrderRow, mappings: Mapping[str, str], timeline: Timeline) -> None:
    unknown = sorted({line.sku_code for line in order.lines if line.sku_id is None})
    missing = [code for code in unknown if code not in mappings]
    if missing:
        raise ValidationFailed(f"map every unknown SKU: {', '.join(missing)}", field="sku_mappings")
    facts = uow.skus.facts_for(mappings.values())
    for theirs, ours in mappings.items():
        if ours not in facts:
            raise NotFound(f"SKU '{ours}' not found", field=f"sku_mappings.{theirs}")
    for line in order.lines:
        if line.sku_id is None and line.sku_code in mappings:
            ours = mappings[line.sku_code]
            uow.orders.map_line(line.id, ours, facts[ours].id)
            timeline.add("order.sku_mapped", f"{line.sku_code} mapped to {ours}", {"from": line.sku_code, "to": ours})


def _check_open(order: OrderRow) -> None:
    if OrderStatus(order.row.status) in SETTLED:
        raise Conflict(f"order {order.row.id} is {order.row.status}", field="status")

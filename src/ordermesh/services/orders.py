"""Orders: ingestion (idempotent by channel and external id) and the pipeline every order goes
through — validate, score risk, route, reserve — leaving it allocated, or held with reasons a
person can act on. Everything an order goes through is written to its timeline."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from ordermesh.adapters.db.channels import ChannelRecord
from ordermesh.adapters.db.intake import IntakeRequest, IntakeSnapshot
from ordermesh.adapters.db.orders import OrderBody, quantities_of
from ordermesh.adapters.db.repositories import SkuFacts as SkuFact
from ordermesh.adapters.db.stock import LocationStock
from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.adapters.pincodes import pincode_states
from ordermesh.domain import events
from ordermesh.domain.access import Permission
from ordermesh.domain.contacts import normalise_email, normalise_phone
from ordermesh.domain.errors import Collector, ValidationFailed
from ordermesh.domain.intake import AddressIn, Hold, LineIn, OrderIn, SkuFacts, address_holds, build_order, line_holds
from ordermesh.domain.orders import LineQuantities, derive_status, line_tax, totals
from ordermesh.domain.risk import CustomerHistory, PincodeHistory, RiskConfig, RiskInput, Verdict, assess
from ordermesh.domain.routing import RouteLine, RoutingDecision
from ordermesh.domain.statuses import HoldReason, OrderStatus, PaymentMethod
from ordermesh.services import routing as order_routing
from ordermesh.services.common import require
from ordermesh.services.inventory import StockLine, reserve_many_in_transaction

DUPLICATE_WINDOW = timedelta(hours=24)
# Holds the pipeline decides each time it runs; a person's "release" of one sticks (cleared_holds).
PIPELINE_HOLDS = frozenset(
    {
        HoldReason.UNMAPPED_SKU,
        HoldReason.INVALID_ADDRESS,
        HoldReason.STATE_MISMATCH,
        HoldReason.UNSERVICEABLE,
        HoldReason.PRICE_CHECK,
        HoldReason.DUPLICATE_SUSPECTED,
        HoldReason.RISK_REVIEW,
        HoldReason.OUT_OF_STOCK,
    }
)


def parse_time(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.astimezone(UTC) if value.tzinfo is not None else None


@dataclass(frozen=True)
class Written:
    """A new order as intake wrote it, in the shapes reading it back would give: the API answers
    with it instead of reading back what it has just written."""

    row: Any
    lines: list[Any]
    allocations: dict[int, list[dict[str, Any]]]  # line_no -> [{"location", "quantity"}]
    events: list[dict[str, Any]]
    channel: str  # the code of row.channel_id


@dataclass
class Ingested:
    order_id: int
    created: bool
    changed: bool = False  # an existing order took the payload as a new version
    written: Written | None = None  # a new order, as written (None on the paths that re-read)


def ingest_order(
    uow: UnitOfWork, raw: Mapping[str, Any], *, channel_data: dict[str, Any] | None = None, answer: bool = False
) -> Ingested:
    """Accept an order from any channel, once.

    The same (channel, external id) again returns the existing order unchanged when the payload
    is the same; a different payload is applied as a versioned change (services.order_changes).
    ``channel_data``: what the channel's connector needs later (line ids …), kept on a new order.
    ``answer``: a new order comes back as written (``Ingested.written``), for a caller that shows
    it (the API) without reading it back; the others (channel webhooks, imports) skip building it."""
    require(uow.actor, Permission.ORDERS_WRITE)
    errors = Collector()
    order_in = build_order(raw, errors, parse_time)
    errors.raise_if_any()
    assert order_in is not None
    snapshot = uow.intake_snapshot(
        order_in.channel, order_in.external_id, [line.sku for line in order_in.lines], order_in.shipping.pincode
    )
    channel = uow.channel(order_in.channel)
    if channel is None or not uow.actor.sees_channel(order_in.channel):
        raise ValidationFailed(f"channel '{order_in.channel}' does not exist; create it first", field="channel")
    if snapshot.existing_id is not None:
        return _again(uow, snapshot.existing_id, order_in)
    customer_id, customer_is_new = uow.customers.match_or_create(
        order_in.customer_name,
        normalise_phone(order_in.customer_phone or order_in.shipping.phone),
        normalise_email(order_in.customer_email),
        uow.now,
    )
    draft = _draft(uow, order_in, channel, channel_data, snapshot, customer_id, customer_is_new)
    if draft.cancel:
        return _insert_cancelled(uow, draft)
    order_id = uow.orders.insert_if_new(draft.values)
    if order_id is None:  # another request inserted it a moment ago; answer as for a repeat
        return _raced(uow, channel.id, order_in)
    allocation_rows, entries = _carry_out(uow, draft, order_id)
    uow.orders.add_body(order_id, draft.line_rows, allocation_rows, entries, uow.now)
    ingested = _created(uow, order_id, channel, order_in, draft.timeline)
    if not answer:
        return ingested
    by_line: dict[int, list[dict[str, Any]]] = {}
    if draft.allocated:
        assert draft.decision is not None
        for a in draft.decision.assignments:
            by_line.setdefault(int(a.line_key), []).append({"location": a.location, "quantity": a.quantity})
    ingested.written = Written(
        SimpleNamespace(id=order_id, **_as_stored(draft.values)),
        [SimpleNamespace(**r, shipped=0, delivered=0, cancelled=0, returned=0) for r in draft.line_rows],
        by_line,
        [{**e, "data": _json_round_trip(e["data"])} for e in entries],
        channel.spec.code,
    )
    return ingested


def ingest_batch(
    uow: UnitOfWork, batch: list[tuple[Mapping[str, Any], dict[str, Any] | None]]
) -> list[Ingested | None]:
    """:func:`ingest_order` for several new orders in the caller's transaction (it commits
    nothing: the caller holds the unit in ``one_transaction(gather=True)``), each decided as the
    one-at-a-time path decides it, their reads and writes shared: one statement reads what all of
    them need, one inserts the new buyers, one the orders, one reserves their stock (when no two
    of them reserve at the same place; else one per order, all of the batch's balances locked
    first in the order every reservation locks them), one writes their lines, allocations and
    timelines. Orders are decided in the batch's order, each seeing the stock the ones before it
    took.

    None for an order left to :func:`ingest_order`: one that does not read as an order, one this
    channel sent before (or twice in this batch), one with a bundle, one whose buyer repeats in
    the batch or has no phone, one another process inserted meanwhile."""
    require(uow.actor, Permission.ORDERS_WRITE)
    out: list[Ingested | None] = [None] * len(batch)
    taken: list[tuple[int, OrderIn, ChannelRecord, str]] = []
    seen: set[tuple[int, str]] = set()
    phones: set[str] = set()
    for i, (raw, _) in enumerate(batch):
        errors = Collector()
        order_in = build_order(raw, errors, parse_time)
        if order_in is None or errors.errors:
            continue  # the one-at-a-time path says what is wrong
        channel = uow.channel(order_in.channel)
        if channel is None or not uow.actor.sees_channel(order_in.channel):
            continue
        phone = normalise_phone(order_in.customer_phone or order_in.shipping.phone)
        if not phone or phone in phones or (channel.id, order_in.external_id) in seen:
            continue
        seen.add((channel.id, order_in.external_id))
        phones.add(phone)
        taken.append((i, order_in, channel, phone))
    snapshots = uow.intake_snapshots(
        [
            IntakeRequest(ch.id, o.external_id, [line.sku for line in o.lines], o.shipping.pincode)
            for _, o, ch, _ in taken
        ]
    )
    fresh = [
        (t, snap)
        for t, snap in zip(taken, snapshots, strict=True)
        if snap.existing_id is None and snap.stock is not None
    ]
    if not fresh:
        return out
    buyers = uow.customers.match_or_create_many(
        [(o.customer_name, phone, normalise_email(o.customer_email)) for (_, o, _, phone), _ in fresh], uow.now
    )
    drafts: list[tuple[int, _Draft]] = []
    for (i, order_in, channel, phone), snapshot in fresh:
        customer_id, is_new = buyers.get(phone) or uow.customers.match_or_create(
            order_in.customer_name, phone, normalise_email(order_in.customer_email), uow.now
        )
        draft = _draft(uow, order_in, channel, batch[i][1], snapshot, customer_id, is_new)
        if draft.cancel:
            out[i] = _insert_cancelled(uow, draft)
            continue
        if draft.allocated:
            assert snapshot.stock is not None  # orders with bundles were left out above
            _take(snapshot.stock, snapshot.facts, draft)
        drafts.append((i, draft))
    ids = uow.orders.insert_many([d.values for _, d in drafts])
    placed = [(i, ids[key], d) for i, d in drafts if (key := (d.channel.id, d.order_in.external_id)) in ids]
    # (An order missing from ``ids`` was inserted by another process meanwhile: left out.)
    reserving = [
        (order_id, order_routing.stock_lines(d.decision, d.route_lines), [r["sku_id"] for r in d.line_rows])
        for _, order_id, d in placed
        if d.allocated and d.decision is not None
    ]
    reserved = _reserve_together(uow, reserving)
    bodies: list[OrderBody] = []
    created: list[tuple[int, int, _Draft]] = []
    for i, order_id, draft in placed:
        allocation_rows, entries = _carry_out(uow, draft, order_id, reserved=order_id in reserved)
        bodies.append((order_id, draft.line_rows, allocation_rows, entries))
        created.append((i, order_id, draft))
    uow.orders.add_bodies(bodies, uow.now)
    for i, order_id, draft in created:
        out[i] = _created(uow, order_id, draft.channel, draft.order_in, draft.timeline)
    return out


def _reserve_together(uow: UnitOfWork, reserving: list[tuple[int, list[StockLine], list[int | None]]]) -> set[int]:
    """A batch's reservations (order id, its stock lines, its lines' SKU ids) in one statement
    (reserve_many_in_transaction), each order taking its turn where several reserve at one place.
    Should that be refused (one of them lacks stock, as when another process took it meanwhile:
    nothing is written), they reserve one at a time, in order, as the one-order path does, every
    balance of the batch locked first, in the order every reservation locks them, so two batches
    never each hold a balance the other waits for. The orders reserved here."""
    if len(reserving) < 2:
        return set()
    if reserve_many_in_transaction(uow, [(f"order:{order_id}", lines) for order_id, lines, _ in reserving]):
        return {order_id for order_id, _, _ in reserving}
    uow.stock.lock_skus([sku_id for _, _, sku_ids in reserving for sku_id in sku_ids if sku_id])
    return set()


def _take(stock: dict[int, list[LocationStock]], facts: Mapping[str, SkuFact], draft: _Draft) -> None:
    """What the draft's decision assigns, reserved in the shared stock the next order sees."""
    assert draft.decision is not None
    for line in order_routing.stock_lines(draft.decision, draft.route_lines):
        rows = stock.get(facts[line.sku].id, [])
        for n, row in enumerate(rows):
            if row.location == line.location:
                b = row.balance
                rows[n] = replace(row, balance=replace(b, reserved=b.reserved + line.quantity))


@dataclass
class _Draft:
    """A new order as intake decided it, before any of it is written."""

    order_in: OrderIn
    channel: ChannelRecord
    values: dict[str, Any]  # the order row
    line_rows: list[dict[str, Any]]
    route_lines: list[RouteLine]
    timeline: Timeline
    checked: Checked
    holds: list[Hold]
    decision: RoutingDecision | None
    allocated: dict[str, int]  # units by line key the decision assigns (none while held)
    status: OrderStatus

    @property
    def cancel(self) -> bool:
        """The risk verdict cancels it: written as received, then cancelled."""
        return self.checked.cancel


def _draft(
    uow: UnitOfWork,
    order_in: OrderIn,
    channel: ChannelRecord,
    channel_data: dict[str, Any] | None,
    snapshot: IntakeSnapshot,
    customer_id: int,
    customer_is_new: bool,
) -> _Draft:
    """Everything about a new order decided before anything is written, so the order goes in
    once, in its final state; only a reservation lost to another order at the last moment
    changes it afterwards (:func:`_carry_out`)."""
    facts = snapshot.facts
    line_rows: list[dict[str, Any]] = []
    for n, line in enumerate(order_in.lines, start=1):
        fact = facts.get(line.sku)
        tax = line_tax(line.unit_price, line.quantity, line.discount, fact.gst_rate if fact else Decimal(0))
        line_rows.append(
            {
                "line_no": n,
                "sku_code": line.sku,
                "sku_id": fact.id if fact else None,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "discount": line.discount,
                "tax": tax,
                "allocated": 0,
            }
        )
    money = totals(
        [(r["unit_price"], r["quantity"], r["discount"], r["tax"]) for r in line_rows], order_in.shipping_charge
    )
    values: dict[str, Any] = {
        "channel_id": channel.id,
        "external_id": order_in.external_id,
        "customer_id": customer_id,
        "placed_at": order_in.placed_at,
        "status": OrderStatus.PENDING.value,
        "confirmed": False,
        "holds": [],
        "cleared_holds": [],
        "payment_method": order_in.payment_method.value,
        "payment_status": order_in.payment_status.value,
        "currency": order_in.currency,
        "items_total": money.items,
        "discount_total": money.discounts,
        "shipping_total": money.shipping,
        "tax_total": money.tax,
        "grand_total": money.grand_total,
        "customer": {
            "name": order_in.customer_name,
            "phone": order_in.customer_phone,
            "email": order_in.customer_email,
        },
        "shipping_address": order_in.shipping.as_dict(),
        "billing_address": order_in.billing.as_dict() if order_in.billing else None,
        "tags": list(order_in.tags),
        "notes": order_in.notes or None,
        "risk_score": None,
        "risk": None,
        "routing": None,
        "dispatch_by": order_routing.dispatch_by_for(channel, order_in.placed_at),
        "sla_state": "ok",
        "ship_pincode": order_in.shipping.pincode,
        "basket": order_in.basket(),
        "payload_hash": order_in.fingerprint(),
        "channel_data": channel_data,
        "version": 1,
        "created_at": uow.now,
        "updated_at": uow.now,
    }
    timeline = Timeline(uow, None)
    timeline.add(
        "order.received",
        f"Order {order_in.external_id} received from {channel.spec.name} "
        f"({order_in.payment_method.value.upper()}, ₹{money.grand_total})",
        {"channel": channel.spec.code, "external_id": order_in.external_id},
    )
    draft_row = SimpleNamespace(id=None, **values)
    checked = _check(
        uow,
        draft_row,
        list(order_in.lines),
        facts,
        timeline,
        customer_is_new=customer_is_new,
        pincode_history=snapshot.pincode_history,
    )
    route_lines = [
        RouteLine(str(r["line_no"]), r["sku_code"], r["quantity"], r["unit_price"] * r["quantity"] - r["discount"])
        for r in line_rows
    ]
    draft = _Draft(order_in, channel, values, line_rows, route_lines, timeline, checked, checked.holds, None, {},
                   OrderStatus.PENDING)  # fmt: skip
    if draft.cancel:
        return draft
    holds, update = checked.holds, checked.update
    decision = None
    if not holds:
        decision = order_routing.decide(
            uow, channel, route_lines, order_in.shipping.pincode, order_in.payment_method, facts, snapshot.stock
        )
        update["routing"] = decision.as_dict()
        if not decision.allocates:
            holds.append(order_routing.failure_hold(decision, [], timeline))
    draft.decision = decision
    draft.allocated = decision.units_by_line if decision is not None and not holds else {}
    draft.status = _status_of(line_rows, draft.allocated, holds, checked.confirmed)
    values.update(update, status=draft.status.value, holds=[h.as_dict() for h in holds], confirmed=checked.confirmed)
    return draft


def _insert_cancelled(uow: UnitOfWork, draft: _Draft) -> Ingested:
    """A new order the risk verdict cancels: written as received, then cancelled."""
    order_id = _insert(uow, draft.values, draft.line_rows)
    if order_id is None:
        return _raced(uow, draft.channel.id, draft.order_in)
    draft.timeline.order_id = order_id
    _cancel_for_risk(uow, order_id, draft.checked.update, draft.timeline)
    return _created(uow, order_id, draft.channel, draft.order_in, draft.timeline)


def _carry_out(
    uow: UnitOfWork, draft: _Draft, order_id: int, *, reserved: bool = False
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Reserve what the draft's decision assigns (deciding again should another order have taken
    the stock since), for the order just inserted; ``reserved``: the caller has reserved it
    already. Returns its allocations (by line number) and its timeline entries, for the caller to
    write with its lines."""
    draft.timeline.order_id = order_id
    decision, holds, allocated, status = draft.decision, draft.holds, draft.allocated, draft.status
    order_in, channel, values = draft.order_in, draft.channel, draft.values
    if allocated:
        assert decision is not None
        final = decision
        if not reserved:
            final, reserved = order_routing.reserve_decided(
                uow,
                f"order:{order_id}",
                decision,
                draft.route_lines,
                draft.timeline,
                lambda: order_routing.decide(
                    uow, channel, draft.route_lines, order_in.shipping.pincode, order_in.payment_method
                ),
            )
        if not reserved:
            holds = [order_routing.failure_hold(final, [], draft.timeline)]
            allocated = {}
        else:
            allocated = final.units_by_line
            draft.timeline.add("order.routed", " ".join(final.explanation), final.as_dict())
        if final is not decision or not reserved:
            decision = final
            status = _status_of(draft.line_rows, allocated, holds, draft.checked.confirmed)
            changed = {"status": status.value, "holds": [h.as_dict() for h in holds], "routing": final.as_dict()}
            uow.orders.update(order_id, **changed)
            values.update(changed)
    draft.decision, draft.holds, draft.allocated, draft.status = decision, holds, allocated, status
    for r in draft.line_rows:
        r["allocated"] = allocated.get(str(r["line_no"]), 0)
    allocation_rows = []
    if allocated:
        assert decision is not None
        locations = uow.locations.ids_for({a.location for a in decision.assignments})
        allocation_rows = [
            {"line_no": int(a.line_key), "location_id": locations[a.location], "quantity": a.quantity}
            for a in decision.assignments
        ]
    _announce(uow, order_id, draft.timeline, [], holds, OrderStatus.PENDING.value, status)
    return allocation_rows, draft.timeline.take()


def _as_stored(values: dict[str, Any]) -> dict[str, Any]:
    """JSON columns as a read would return them (lists, not tuples; no types JSON lacks)."""
    return {k: _json_round_trip(v) if isinstance(v, dict | list) else v for k, v in values.items()}


def _json_round_trip(value: Any) -> Any:
    return None if value is None else json.loads(json.dumps(value, default=str))


def _insert(uow: UnitOfWork, values: dict[str, Any], line_rows: list[dict[str, Any]]) -> int | None:
    order_id = uow.orders.insert_if_new(values)
    if order_id is not None:
        uow.orders.add_lines(order_id, line_rows)
    return order_id


def _raced(uow: UnitOfWork, channel_id: int, order_in: OrderIn) -> Ingested:
    raced = uow.orders.id_for_external(channel_id, order_in.external_id)
    assert raced is not None
    return _again(uow, raced, order_in)


def _created(uow: UnitOfWork, order_id: int, channel: ChannelRecord, order_in: OrderIn, timeline: Timeline) -> Ingested:
    uow.audit(
        "order.created",
        "order",
        str(order_id),
        after={"channel": channel.spec.code, "external_id": order_in.external_id},
    )
    uow.emit(events.Event("order.created", {"order_id": order_id}))
    timeline.flush()
    uow.commit()
    return Ingested(order_id, True)


def _status_of(
    line_rows: list[dict[str, Any]], allocated: dict[str, int], holds: list[Hold], confirmed: bool
) -> OrderStatus:
    quantities = [LineQuantities(r["quantity"], allocated.get(str(r["line_no"]), 0), 0, 0, 0, 0) for r in line_rows]
    return derive_status(quantities, holds=[h.reason for h in holds], confirmed=confirmed)


def _again(uow: UnitOfWork, order_id: int, order_in: OrderIn) -> Ingested:
    import ordermesh.services.order_changes as order_changes

    current = uow.orders.get(order_id)
    assert current is not None
    if current.row.payload_hash == order_in.fingerprint():
        uow.commit()  # a customer matched or created for the repeat is harmless to keep
        return Ingested(order_id, False)
    order_changes.apply_channel_update(uow, current, order_in)
    return Ingested(order_id, False, changed=True)


class Timeline:
    """Collects an order's timeline entries during a use case and writes them in one statement."""

    def __init__(self, uow: UnitOfWork, order_id: int | None):
        self.uow = uow
        self.order_id = order_id  # None until a new order is inserted
        self.entries: list[dict[str, Any]] = []

    def add(self, kind: str, message: str, data: dict[str, Any] | None = None) -> None:
        self.entries.append(
            {"at": self.uow.now, "kind": kind, "message": message, "data": data, "actor": self.uow.actor.ref}
        )

    def take(self) -> list[dict[str, Any]]:
        """The entries so far, for a caller that writes them itself."""
        entries, self.entries = self.entries, []
        return entries

    def flush(self) -> None:
        assert self.order_id is not None
        self.uow.orders.add_events(self.order_id, self.entries)
        self.entries = []


def run_pipeline(
    uow: UnitOfWork,
    order_id: int,
    timeline: Timeline,
    *,
    channel: ChannelRecord | None = None,
    order_in: OrderIn | None = None,
) -> OrderStatus:
    """Validate → risk → route → reserve, for whatever of the order is still open.

    Safe to run again at any time (a hold resolved, stock arrived): it recomputes the holds it
    owns, keeps the ones a person set or cleared, and allocates only units not yet allocated."""
    order = uow.orders.get(order_id, for_update=True)
    assert order is not None
    row = order.row
    status = OrderStatus(row.status)
    if status in (OrderStatus.CANCELLED, OrderStatus.CLOSED) or status not in _PIPELINE_STATUSES:
        return status
    channel = channel or uow.channel_by_id(row.channel_id)
    assert channel is not None
    codes = [line.sku_code for line in order.lines]
    facts = uow.skus.facts_for(codes)
    checked = _check(uow, row, [_line_in(line) for line in order.lines], facts, timeline, customer_is_new=False)
    if checked.cancel:
        _cancel_for_risk(uow, order_id, checked.update, timeline)
        return OrderStatus.CANCELLED
    holds, update, confirmed = checked.holds, checked.update, checked.confirmed
    cleared = {HoldReason(r) for r in row.cleared_holds}
    quantities = [quantities_of(line) for line in order.lines]
    if not holds and any(q.open for q in quantities):
        outcome = order_routing.allocate(uow, order, channel, timeline)
        if outcome.hold is not None and outcome.hold.reason not in cleared:
            holds.append(outcome.hold)
        quantities = outcome.quantities or quantities
        if outcome.decision is not None:
            update["routing"] = outcome.decision
    new_status = derive_status(quantities, holds=[h.reason for h in holds], confirmed=confirmed)
    _announce(uow, order_id, timeline, row.holds, holds, row.status, new_status)
    uow.orders.update(
        order_id,
        status=new_status.value,
        holds=[h.as_dict() for h in holds],
        confirmed=confirmed,
        updated_at=uow.now,
        **update,
    )
    return new_status


@dataclass
class Checked:
    holds: list[Hold]
    confirmed: bool
    update: dict[str, Any]  # order columns the checks set (risk score and reasons)
    cancel: bool  # the risk verdict cancels the order


def _check(
    uow: UnitOfWork,
    row: Any,
    lines: list[LineIn],
    facts: Mapping[str, SkuFact],
    timeline: Timeline,
    *,
    customer_is_new: bool,
    pincode_history: tuple[int, int] | None = None,
) -> Checked:
    """The holds an order's lines, address, buyer and risk call for (keeping those a person set,
    and leaving out those a person cleared). ``row``: the order as stored, or as about to be."""
    cleared = {HoldReason(r) for r in row.cleared_holds}
    kept = [
        Hold(HoldReason(h["reason"]), h["detail"]) for h in row.holds if HoldReason(h["reason"]) not in PIPELINE_HOLDS
    ]
    found = line_holds(lines, {code: SkuFacts(f.mrp, f.active) for code, f in facts.items()})
    address_found, _ = address_holds(_address_in(row.shipping_address), pincode_states)
    found += address_found
    if row.customer_id is not None and not customer_is_new:  # a buyer first seen now has no other orders
        dupes = uow.orders.duplicates(row.customer_id, row.basket, row.placed_at - DUPLICATE_WINDOW, row.id)
        if dupes:
            found.append(
                Hold(HoldReason.DUPLICATE_SUSPECTED, f"same buyer and items as order {dupes[0]} within 24 hours")
            )
    update: dict[str, Any] = {}
    if row.risk is None:  # scored once, at intake; a person's decision is recorded as a cleared hold
        assessment = _assess(uow, row, customer_is_new, pincode_history)
        update["risk_score"] = assessment.score
        update["risk"] = assessment.to_dict()
        reasons = "; ".join(r.message for r in assessment.reasons) or "no risk signals"
        timeline.add("order.risk_scored", f"Risk score {assessment.score}: {reasons}", assessment.to_dict())
        verdict = assessment.verdict
    else:
        verdict = Verdict(row.risk["verdict"])
    if verdict is Verdict.CANCEL and HoldReason.RISK_REVIEW not in cleared:
        return Checked([], False, update, True)
    if verdict is Verdict.HOLD:
        found.append(
            Hold(
                HoldReason.RISK_REVIEW, f"risk score {update.get('risk_score', row.risk_score)}: verify with the buyer"
            )
        )
    holds = kept + [h for h in found if h.reason not in cleared]
    return Checked(holds, bool(row.confirmed) or not holds, update, False)


def _cancel_for_risk(uow: UnitOfWork, order_id: int, update: dict[str, Any], timeline: Timeline) -> None:
    import ordermesh.services.order_actions as order_actions

    uow.orders.update(order_id, **update)
    order_actions.cancel_whole(
        uow, order_id, timeline, reason="cancelled automatically: risk score above the cancel threshold"
    )


def _announce(
    uow: UnitOfWork,
    order_id: int,
    timeline: Timeline,
    previous: list[dict[str, Any]],
    holds: list[Hold],
    old_status: str,
    new_status: OrderStatus,
) -> None:
    """Timeline entries and events for holds that came or went and a status that changed."""
    previous_holds = {h["reason"] for h in previous}
    for h in holds:
        if h.reason.value not in previous_holds:
            timeline.add("order.held", f"On hold ({h.reason.value}): {h.detail}", h.as_dict())
    for reason in previous_holds - {h.reason.value for h in holds}:
        timeline.add("order.hold_cleared", f"Hold {reason} no longer applies", {"reason": reason})
    if new_status.value != old_status:
        timeline.add(
            "order.status_changed", f"{old_status} → {new_status.value}", {"from": old_status, "to": new_status.value}
        )
        uow.emit(
            events.Event("order.status_changed", {"order_id": order_id, "from": old_status, "to": new_status.value})
        )


_PIPELINE_STATUSES = frozenset({OrderStatus.PENDING, OrderStatus.ON_HOLD, OrderStatus.CONFIRMED, OrderStatus.ALLOCATED})


@lru_cache(maxsize=256)
def _risk_config(settings: str) -> RiskConfig:
    """A tenant's risk settings as read (one parse per distinct settings, not one per order)."""
    return RiskConfig.from_dict(json.loads(settings))


def _assess(uow: UnitOfWork, row: Any, customer_is_new: bool, pincode_history: tuple[int, int] | None) -> Any:
    config = _risk_config(json.dumps(uow.tenant_settings().get("risk") or {}, sort_keys=True))
    history = (
        uow.orders.customer_history(row.customer_id, row.placed_at - timedelta(hours=config.phone_window_hours), row.id)
        if row.customer_id is not None and not customer_is_new
        else None
    )
    shipments, rto = pincode_history or uow.orders.pincode_history(row.ship_pincode, row.id)
    addr = row.shipping_address
    inp = RiskInput(
        payment_method=PaymentMethod(row.payment_method),
        grand_total=Decimal(row.grand_total),
        line1=addr.get("line1", ""),
        line2=addr.get("line2") or None,
        city=addr.get("city", ""),
        pincode=addr.get("pincode", ""),
        customer=CustomerHistory(history.orders, history.delivered, history.rto, history.returned)
        if history
        else CustomerHistory(),
        pincode_history=PincodeHistory(shipments, rto),
        phone_orders_in_window=history.recent if history else 0,
    )
    return assess(inp, config)


def _line_in(line: Any) -> LineIn:
    return LineIn(line.sku_code, line.quantity, Decimal(line.unit_price), Decimal(line.discount))


def _address_in(addr: Mapping[str, Any]) -> AddressIn:
    return AddressIn(
        addr.get("name", ""), addr.get("line1", ""), addr.get("line2", ""), addr.get("city", ""),
        addr.get("state", ""), addr.get("pincode", ""), addr.get("phone", ""),
    )  # fmt: skip


def allocate_backorders(uow: UnitOfWork, sku_codes: list[str], *, limit: int = 50) -> list[int]:
    """Stock arrived for these SKUs: try the orders waiting only for stock, oldest placed first.

    Called by the worker for each stock change; an order that now allocates changes stock again,
    which brings the next waiting orders in turn."""
    facts = uow.skus.facts_for(sku_codes)
    sku_ids = [f.id for f in facts.values()]
    # bundles that contain these SKUs wait on them too
    for code in sku_codes:
        fact = facts.get(code)
        if fact is not None and not fact.is_bundle:
            sku_ids += [f.id for f in uow.skus.facts_for(uow.skus.bundles_containing(fact.id)).values()]
    allocated = []
    for order_id in uow.orders.held_for_stock(sku_ids, limit):
        order = uow.orders.get(order_id)
        assert order is not None
        if {h["reason"] for h in order.row.holds} != {HoldReason.OUT_OF_STOCK.value}:
            continue  # held for something a person must look at too
        timeline = Timeline(uow, order_id)
        if run_pipeline(uow, order_id, timeline) is OrderStatus.ALLOCATED:
            allocated.append(order_id)
        timeline.flush()
    return allocated

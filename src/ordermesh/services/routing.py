"""Routing an order to the location(s) that ship it, and reserving the stock there, in the
order's transaction. The decision itself is pure (domain.routing); this module gathers its facts
(candidate locations, stock, pincodes) and carries it out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ordermesh.adapters import pincode_directory
from ordermesh.adapters.db.channels import ChannelRecord
from ordermesh.adapters.db.orders import OrderRow, quantities_of
from ordermesh.adapters.db.repositories import SkuFacts as SkuFact
from ordermesh.adapters.db.stock import LocationStock
from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.domain.catalog import Component, bundle_available
from ordermesh.domain.errors import Collector, InsufficientStock
from ordermesh.domain.intake import Hold
from ordermesh.domain.locations import Capability
from ordermesh.domain.orders import LineQuantities
from ordermesh.domain.routing import STRATEGIES, Candidate, Outcome, RouteLine, RoutingDecision, RoutingRules, route
from ordermesh.domain.sla import DispatchSla, dispatch_by
from ordermesh.domain.statuses import HoldReason, PaymentMethod
from ordermesh.services.inventory import StockLine, reserve_in_transaction

ATTEMPTS = 2  # route again once if a reservation loses a race for the last units


def prepare() -> None:
    """Load what routing reads on every order (the pincode directory) before the first order does."""
    pincode_directory.preload()


def dispatch_by_for(channel: ChannelRecord, placed_at: datetime) -> datetime:
    """The dispatch deadline the channel's SLA sets (2 business days, 14:00 IST cut-off, when the
    channel does not say: the most lenient common marketplace handling time)."""
    return dispatch_by(placed_at, DispatchSla.from_dict(channel.spec.sla or {}))


def validate_channel_settings(sla: dict[str, Any], rules: dict[str, Any], errors: Collector) -> None:
    if sla:
        DispatchSla.from_dict(sla, errors, "sla")
    if rules:
        rules_from(rules, errors)


def rules_from(raw: dict[str, Any], errors: Collector | None = None) -> RoutingRules:
    known = {
        "min_shipment_value",
        "allow_split",
        "pinned_location",
        "fallback_location",
        "max_split_locations",
        "strategy",
    }
    problems = Collector() if errors is None else errors
    for key in sorted(set(raw) - known):
        problems.add(f"routing.{key}", f"unknown setting; use {', '.join(sorted(known))}")
    allow_split = raw.get("allow_split", True)
    if not isinstance(allow_split, bool):
        problems.add("routing.allow_split", "must be true or false")
        allow_split = True
    strategy = raw.get("strategy")
    if strategy is not None and strategy not in STRATEGIES:
        problems.add("routing.strategy", f"must be one of {', '.join(sorted(STRATEGIES))}")
        strategy = None
    try:
        rules = RoutingRules(
            min_shipment_value=Decimal(str(raw.get("min_shipment_value", "0"))),
            allow_split=allow_split,
            pinned_location=raw.get("pinned_location"),
            fallback_location=raw.get("fallback_location"),
            max_split_locations=raw.get("max_split_locations"),
            strategy=strategy,
        )
    except (ArithmeticError, ValueError, TypeError) as exc:
        problems.add("routing", str(exc))
        rules = RoutingRules()
    if errors is None:
        problems.raise_if_any()
    return rules


@dataclass
class Allocation:
    hold: Hold | None
    quantities: list[LineQuantities] | None
    decision: dict[str, Any] | None


def allocate(uow: UnitOfWork, order: OrderRow, channel: ChannelRecord, timeline: Any) -> Allocation:
    """Route the order's open units and reserve them; or say which hold stops it."""
    row = order.row
    open_lines = [line for line in order.lines if line.sku_id is not None and quantities_of(line).open > 0]
    if not open_lines:
        return Allocation(None, None, None)
    route_lines = [
        RouteLine(
            str(line.line_no),  # a line's key in routing decisions: its number within the order
            line.sku_code,
            quantities_of(line).open,
            Decimal(line.unit_price) * quantities_of(line).open - Decimal(line.discount),
        )
        for line in open_lines
    ]
    payment = PaymentMethod(row.payment_method)
    decision = decide(uow, channel, route_lines, row.ship_pincode, payment)
    decision, reserved = reserve_decided(
        uow,
        f"order:{row.id}",
        decision,
        route_lines,
        timeline,
        lambda: decide(uow, channel, route_lines, row.ship_pincode, payment),
    )
    if not reserved:
        return Allocation(failure_hold(decision, row.holds, timeline), None, decision.as_dict())
    by_key = {str(line.line_no): line for line in open_lines}
    return _record(uow, order, decision, by_key, timeline)


def decide(
    uow: UnitOfWork,
    channel: ChannelRecord,
    lines: list[RouteLine],
    pincode: str,
    payment: PaymentMethod,
    facts: dict[str, SkuFact] | None = None,
    stock: dict[int, list[LocationStock]] | None = None,
) -> RoutingDecision:
    """Where these lines would ship from now, by the channel's rules and the stock as it stands
    (``stock``: the plain SKUs' balances by SKU id, when the caller has just read them)."""
    destination = pincode_directory.lookup(pincode)
    candidates = _candidates(uow, channel, [line.sku for line in lines], destination is not None, facts, stock)
    return route(lines, candidates, destination, payment, rules_from(channel.spec.routing or {}))


def reserve_decided(
    uow: UnitOfWork,
    reference: str,
    decision: RoutingDecision,
    lines: list[RouteLine],
    timeline: Any,
    again: Callable[[], RoutingDecision],
) -> tuple[RoutingDecision, bool]:
    """Reserve what the decision assigns, in the caller's transaction. If another order took the
    last units meanwhile, decide ``again`` with fresh stock and retry (ATTEMPTS in all). Returns
    the decision carried out (or the last one that could not be) and whether stock was reserved."""
    for attempt in range(ATTEMPTS):
        if not decision.allocates:
            return decision, False
        try:
            # All or nothing, and a refusal writes nothing: no savepoint needed to carry on.
            reserve_in_transaction(uow, stock_lines(decision, lines), reference=reference)
        except InsufficientStock as exc:
            timeline.add("order.reservation_lost", f"Stock went elsewhere while routing: {exc.detail}", None)
            if attempt + 1 < ATTEMPTS:
                decision = again()
            continue
        return decision, True
    return decision, False


def stock_lines(decision: RoutingDecision, lines: list[RouteLine]) -> list[StockLine]:
    """What a decision reserves: units of each line's SKU at its assigned locations."""
    sku_of = {line.key: line.sku for line in lines}
    return [StockLine(sku_of[a.line_key], a.location, a.quantity) for a in decision.assignments]


def failure_hold(decision: RoutingDecision, current_holds: list[dict[str, Any]], timeline: Any) -> Hold:
    """The hold an order gets when routing could not allocate it, said once on its timeline."""
    text = " ".join(decision.explanation[:3])
    if not any(h["reason"] == HoldReason.OUT_OF_STOCK.value for h in current_holds):  # once, not on every retry
        timeline.add("order.routing_failed", text, decision.as_dict())
    if decision.outcome is Outcome.NO_ELIGIBLE_LOCATION:
        return Hold(HoldReason.UNSERVICEABLE, text)
    return Hold(HoldReason.OUT_OF_STOCK, text)


def _record(
    uow: UnitOfWork, order: OrderRow, decision: RoutingDecision, by_key: dict[str, Any], timeline: Any
) -> Allocation:
    locations = uow.locations.ids_for({a.location for a in decision.assignments})
    uow.orders.add_allocations(
        order.row.id,
        [
            {"line_id": by_key[a.line_key].id, "location_id": locations[a.location], "quantity": a.quantity}
            for a in decision.assignments
        ],
        uow.now,
    )
    added = decision.units_by_line
    quantities = []
    counts = []
    for line in order.lines:
        q = quantities_of(line)
        if str(line.line_no) in added:
            q = q.allocate(added[str(line.line_no)])
            counts.append({"id": line.id, "allocated": q.allocated})
        quantities.append(q)
    uow.orders.set_line_counts(counts)
    timeline.add("order.routed", " ".join(decision.explanation), decision.as_dict())
    return Allocation(None, quantities, decision.as_dict())


def _candidates(
    uow: UnitOfWork,
    channel: ChannelRecord,
    sku_codes: list[str],
    serviceable: bool,
    known: dict[str, SkuFact] | None = None,
    known_stock: dict[int, list[LocationStock]] | None = None,
) -> list[Candidate]:
    """Every location with its stock of the order's SKUs (bundles derived from components).

    Routing sees every location, whatever the acting person may see: the decision is the
    tenant's, not the user's. ``known``: the SKUs' catalog facts, when the caller has them."""
    facts = known if known is not None and all(c in known for c in sku_codes) else uow.skus.facts_for(sku_codes)
    facts = {c: facts[c] for c in sku_codes if c in facts}
    plain = {code: f.id for code, f in facts.items() if not f.is_bundle}
    bundles = {code: f.id for code, f in facts.items() if f.is_bundle}
    components = uow.skus.components_of(list(bundles.values())) if bundles else {}
    component_ids = {cid for parts in components.values() for cid, _ in parts}
    wanted = set(plain.values()) | component_ids
    if known_stock is not None and not component_ids:
        # (the batch's shared stock: look up this order's SKUs, never walk all of it per order)
        balances = {sku_id: known_stock[sku_id] for sku_id in wanted if sku_id in known_stock}
    else:
        balances = uow.stock.by_location(list(wanted))
    stock: dict[str, dict[str, int]] = {}  # location -> sku code -> available
    by_sku_id: dict[str, dict[int, int]] = {}
    for sku_id, rows in balances.items():
        for r in rows:
            by_sku_id.setdefault(r.location, {})[sku_id] = r.balance.available
    for location, avail in by_sku_id.items():
        at = stock.setdefault(location, {})
        for code, sid in plain.items():
            at[code] = avail.get(sid, 0)
        for code, bid in bundles.items():
            parts = [Component(str(cid), q) for cid, q in components.get(bid, [])]
            at[code] = bundle_available(parts, {str(cid): avail.get(cid, 0) for cid, _ in components.get(bid, [])})
    serving = set(channel.spec.locations) if channel.spec.locations else None
    out = []
    for loc in uow.all_locations():
        spec = loc.spec
        origin = pincode_directory.lookup(spec.address.pincode)
        if origin is None:
            continue
        out.append(
            Candidate(
                code=spec.code,
                origin=origin,
                priority=spec.priority,
                serves_channel=serving is None or spec.code in serving,
                ships=Capability.SHIPS in spec.capabilities,
                active=spec.active,
                serviceable=serviceable,
                stock=stock.get(spec.code, {}),
                name=spec.name,
            )
        )
    return out

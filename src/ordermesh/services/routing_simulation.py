"""Routing dry run: replay past orders through a candidate rule set and report where they would
have gone, without changing anything, so a seller can try a rule change before switching it on.

Each order placed in the window is routed again by ``domain.routing.route`` with the candidate
settings laid over its channel's own, against the stock there is *now*, with the order's own live
allocations added back (an allocated order competes for its own units, as it did when it was
routed). It is compared with the decision stored on the order. Orders are replayed one by one and
independently: one order's replayed allocation does not take stock from the next.

Nothing is written: the unit of work must be read-only, the database is told so for the whole
simulation (``SET TRANSACTION READ ONLY`` on PostgreSQL, ``PRAGMA query_only`` on SQLite), and the
transaction is rolled back at the end.

Shipping costs are an *estimate* from a simple rate card - a price per weight slab by zone, the
weight being the SKUs' catalogue weight times the units in each shipment - not a carrier's quote.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from ordermesh.adapters import pincode_directory
from ordermesh.adapters.db.channels import ChannelRecord
from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.domain.access import Permission
from ordermesh.domain.errors import Collector, NotFound, ValidationFailed
from ordermesh.domain.money import format_amount, parse_amount
from ordermesh.domain.routing import STRATEGIES, Candidate, RouteLine, RoutingRules, route
from ordermesh.domain.sla import IST
from ordermesh.domain.statuses import PaymentMethod
from ordermesh.domain.zones import Zone
from ordermesh.services import routing as order_routing
from ordermesh.services.common import require
from ordermesh.services.order_queries import order_number

DEFAULT_LIMIT = 1000
MAX_LIMIT = 20_000
_PAGE = 500

ESTIMATE_NOTE = (
    "Shipping costs are estimates from a simple rate card (a price per weight slab by zone; weight = "
    "catalogue weight x units per shipment), not carrier quotes. Stock is today's, with each order's "
    "own allocations added back; orders are replayed independently of each other."
)


@dataclass(frozen=True)
class RateCard:
    """Price per started weight slab, by zone. The defaults are typical of Indian aggregator rate
    cards for a 500 g slab; a seller should put in their own."""

    slab_g: int = 500
    per_slab: Mapping[Zone, Decimal] = field(
        default_factory=lambda: {
            Zone.LOCAL: Decimal("40.00"),
            Zone.REGIONAL: Decimal("50.00"),
            Zone.METRO: Decimal("60.00"),
            Zone.NATIONAL: Decimal("75.00"),
            Zone.SPECIAL: Decimal("100.00"),
        }
    )

    def price(self, zone: Zone | None, weight_g: int) -> Decimal | None:
        """The estimate for one shipment; None when the zone is unknown (unknown pincode)."""
        if zone is None:
            return None
        slabs = max(1, math.ceil(weight_g / self.slab_g))
        return self.per_slab[zone] * slabs

    def as_dict(self) -> dict[str, Any]:
        return {"slab_g": self.slab_g, **{zone.value: format_amount(self.per_slab[zone]) for zone in Zone}}


def rate_card_from(raw: object, errors: Collector, path: str = "rate_card") -> RateCard:
    """``{"slab_g": 500, "local": "40", "regional": "50", ...}``; missing keys keep their default."""
    card = RateCard()
    if raw is None:
        return card
    if not isinstance(raw, Mapping):
        errors.add(path, "must be an object with slab_g and a price per slab for each zone")
        return card
    prices = dict(card.per_slab)
    slab = card.slab_g
    for key, value in raw.items():
        if key == "slab_g":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100_000:
                errors.add(f"{path}.slab_g", "must be a whole number of grams from 1 to 100000")
            else:
                slab = value
        elif key in {z.value for z in Zone}:
            amount = parse_amount(value)
            if amount is None:
                errors.add(f"{path}.{key}", "must be a non-negative amount in rupees")
            else:
                prices[Zone(key)] = amount
        else:
            errors.add(f"{path}.{key}", f"unknown; use slab_g, {', '.join(z.value for z in Zone)}")
    return RateCard(slab, prices)


def parse_bound(text: str, field_name: str, *, end: bool = False) -> datetime:
    """A window bound from ``2026-11-01`` (a whole day in India time; ``end`` takes the day in) or
    an ISO 8601 date-time (IST when it has no offset)."""
    value = text.strip()
    try:
        if len(value) == 10:
            start = datetime.combine(date.fromisoformat(value), time(), IST)
            at = start + timedelta(days=1) if end else start
        else:
            at = datetime.fromisoformat(value)
            at = at if at.tzinfo is not None else at.replace(tzinfo=IST)
        at.astimezone(UTC)  # stored in UTC: the first and last days of the calendar do not fit
    except (ValueError, OverflowError):
        raise ValidationFailed(
            f"'{text}' is not a date (2026-11-01) or an ISO 8601 date-time", field=field_name
        ) from None
    return at


@dataclass(frozen=True)
class _Shipment:
    location: str
    zone: Zone | None
    km: float | None
    weight_g: int
    cost: Decimal | None


@dataclass(frozen=True)
class _Plan:
    """One routing decision, as the report compares it."""

    outcome: str
    shipments: tuple[_Shipment, ...]
    lines: tuple[tuple[str, tuple[str, ...]], ...]  # line key -> the locations it ships from

    def same_as(self, other: _Plan) -> bool:
        return self.outcome == other.outcome and self.lines == other.lines

    def as_dict(self) -> dict[str, Any]:
        known = [s.km for s in self.shipments if s.km is not None]
        costs = [s.cost for s in self.shipments if s.cost is not None]
        return {
            "outcome": self.outcome,
            "locations": [s.location for s in self.shipments],
            "zones": [s.zone.value if s.zone else None for s in self.shipments],
            "distance_km": round(sum(known), 1) if known and len(known) == len(self.shipments) else None,
            "weight_g": sum(s.weight_g for s in self.shipments),
            "shipping_cost": format_amount(sum(costs, Decimal(0)))
            if self.shipments and len(costs) == len(self.shipments)
            else None,
        }


def _plan(decision: Mapping[str, Any] | None, unit_weight: Mapping[str, int], card: RateCard) -> _Plan:
    """A decision as ``RoutingDecision.as_dict()`` writes it (and the order stores it)."""
    if not decision:
        return _Plan("not_routed", (), ())
    verdicts = {v.get("location"): v for v in decision.get("locations") or [] if isinstance(v, Mapping)}
    weights: dict[str, int] = {}
    lines: dict[str, set[str]] = {}
    for a in decision.get("assignments") or []:
        location, key = str(a["location"]), str(a["line"])
        weights[location] = weights.get(location, 0) + unit_weight.get(key, 0) * int(a["quantity"])
        lines.setdefault(key, set()).add(location)
    shipments = []
    for location, weight in weights.items():
        verdict = verdicts.get(location) or {}
        zone = _zone(verdict.get("zone"))
        km = verdict.get("distance_km")
        shipments.append(
            _Shipment(location, zone, float(km) if km is not None else None, weight, card.price(zone, weight))
        )
    return _Plan(
        str(decision.get("outcome") or "unknown"),
        tuple(shipments),
        tuple(sorted((key, tuple(sorted(where))) for key, where in lines.items())),
    )


def _zone(value: object) -> Zone | None:
    try:
        return Zone(str(value)) if value else None
    except ValueError:
        return None


@dataclass
class _Totals:
    """One side (before or after) of the report."""

    outcomes: Counter[str] = field(default_factory=Counter)
    routed: int = 0
    shipments: int = 0
    split: int = 0
    zones: Counter[str] = field(default_factory=Counter)
    km: float = 0.0
    km_shipments: int = 0
    cost: Decimal = Decimal(0)
    unpriced: int = 0

    def add(self, plan: _Plan) -> None:
        self.outcomes[plan.outcome] += 1
        if not plan.shipments:
            return
        self.routed += 1
        self.shipments += len(plan.shipments)
        self.split += len(plan.shipments) > 1
        for s in plan.shipments:
            self.zones[s.zone.value if s.zone else "unknown"] += 1
            if s.km is not None:
                self.km += s.km
                self.km_shipments += 1
            if s.cost is None:
                self.unpriced += 1
            else:
                self.cost += s.cost

    def as_dict(self) -> dict[str, Any]:
        zones = {zone.value: self.zones[zone.value] for zone in Zone}
        zones["unknown"] = self.zones["unknown"]
        return {
            "outcomes": dict(sorted(self.outcomes.items())),
            "routed_orders": self.routed,
            "shipments": self.shipments,
            "shipments_per_order": round(self.shipments / self.routed, 2) if self.routed else None,
            "split_orders": self.split,
            "zones": zones,
            "distance_km": {
                "total": round(self.km, 1),
                "average_per_shipment": round(self.km / self.km_shipments, 1) if self.km_shipments else None,
            },
            "shipping_cost": {
                "total": format_amount(self.cost),
                "average_per_order": format_amount(self.cost / self.routed) if self.routed else None,
                "unpriced_shipments": self.unpriced,
            },
        }


class _Facts:
    """What replays share, read once per page of orders rather than per order: candidate locations
    with their stock of every SKU the page's orders name (stock does not change while nothing is
    written), unit weights, and each channel's rules."""

    def __init__(self, uow: UnitOfWork, candidate_rules: Mapping[str, Any]):
        self.uow = uow
        self.candidate_rules = candidate_rules
        self._candidates: dict[tuple[int, bool], list[Candidate]] = {}
        self._weights: dict[str, int] = {}
        self._rules: dict[int, RoutingRules] = {}

    def load_page(self, page: Sequence[Any], lines: Mapping[int, Sequence[Any]], channels: Mapping[int, Any]) -> None:
        wanted: dict[tuple[int, bool], set[str]] = {}
        for order in page:
            key = (order.channel_id, pincode_directory.lookup(order.ship_pincode) is not None)
            skus = wanted.setdefault(key, set())
            skus.update(line.sku_code for line in lines.get(order.id, ()) if line.sku_id is not None)
        self._candidates = {
            key: order_routing._candidates(self.uow, channels[key[0]], sorted(skus), key[1])
            for key, skus in wanted.items()
            if skus
        }
        unknown = {sku for skus in wanted.values() for sku in skus} - set(self._weights)
        if unknown:
            self._weights.update(dict.fromkeys(unknown, 0) | _weights(self.uow, sorted(unknown)))

    def candidates(self, channel: ChannelRecord, serviceable: bool) -> list[Candidate]:
        return self._candidates[(channel.id, serviceable)]

    def weight(self, sku: str) -> int:
        return self._weights.get(sku, 0)

    def rules(self, channel: ChannelRecord) -> RoutingRules:
        """The channel's own settings with the candidate ones laid over; a null removes one."""
        if channel.id not in self._rules:
            merged = {**(channel.spec.routing or {}), **self.candidate_rules}
            errors = Collector()
            rules = order_routing.rules_from({k: v for k, v in merged.items() if v is not None}, errors)
            if errors.errors:
                raise ValidationFailed(
                    f"the rules cannot apply to channel '{channel.spec.code}': "
                    + "; ".join(f"{e.field}: {e.message}" for e in errors.errors),
                    field="rules",
                )
            self._rules[channel.id] = rules
        return self._rules[channel.id]


def simulate(
    uow: UnitOfWork,
    *,
    since: datetime,
    until: datetime | None = None,
    rules: Mapping[str, Any],
    channel: str | None = None,
    limit: int | None = None,
    rate_card: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Replay the orders placed in ``[since, until)`` (oldest first, at most ``limit``) through
    ``rules`` and report before and after. ``uow`` must be read-only; nothing is written."""
    require(uow.actor, Permission.ORDERS_READ)
    if uow.write:
        raise ValueError("the routing simulation takes a read-only unit of work")
    errors = Collector()
    n = DEFAULT_LIMIT if limit is None else limit
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_LIMIT:
        errors.add("limit", f"must be from 1 to {MAX_LIMIT}")
    if since.tzinfo is None:
        errors.add("since", "must have a UTC offset")
    if until is not None and (until.tzinfo is None or (since.tzinfo is not None and until <= since)):
        errors.add("until", "must have a UTC offset and come after since")
    card = rate_card_from(rate_card, errors)
    candidate = _candidate_rules(uow, rules, errors)
    errors.raise_if_any()
    channels = {c.id: c for c in uow.channels.all() if uow.actor.sees_channel(c.spec.code)}
    if channel is not None:
        channels = {i: c for i, c in channels.items() if c.spec.code == channel}
        if not channels:
            raise NotFound(f"channel '{channel}' not found", field="channel")
    facts = _Facts(uow, candidate)
    before, after = _Totals(), _Totals()
    skipped: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    same = matched = 0
    truncated = False
    with _read_only(uow):
        for page in _pages(uow, since, until, list(channels), n + 1):
            if matched + len(page) > n:
                truncated, page = True, page[: n - matched]
            matched += len(page)
            ids = [order.id for order in page]
            lines = uow.orders.lines_for(ids)
            held = _live_allocations(uow, ids)
            facts.load_page(page, lines, channels)
            for order in page:
                replayed = _replay(
                    facts, order, channels[order.channel_id], lines.get(order.id, []), held.get(order.id, []), card
                )
                if isinstance(replayed, str):
                    skipped[replayed] += 1
                    continue
                old, new, row = replayed
                before.add(old)
                after.add(new)
                same += row["same"]
                rows.append(row)
    uow.rollback()
    return {
        "since": since.isoformat(),
        "until": until.isoformat() if until else None,
        "channel": channel,
        "rules": dict(candidate),
        "rate_card": card.as_dict(),
        "note": ESTIMATE_NOTE,
        "orders_matched": matched,
        "orders_replayed": len(rows),
        "truncated": truncated,
        "skipped": dict(sorted(skipped.items())),
        "same_decision": same,
        "different_decision": len(rows) - same,
        "before": before.as_dict(),
        "after": after.as_dict(),
        "orders": rows,
    }


def _candidate_rules(uow: UnitOfWork, raw: object, errors: Collector) -> dict[str, Any]:
    """The candidate settings, checked as a channel's would be, plus what only the whole tenant
    can tell (do the named locations exist?)."""
    if not isinstance(raw, Mapping):
        errors.add("rules", "must be an object of routing settings")
        return {}
    rules = dict(raw)
    problems = Collector()
    order_routing.rules_from({k: v for k, v in rules.items() if v is not None}, problems)
    for e in problems.errors:
        errors.add("rules" + e.field.removeprefix("routing"), e.message)
    if "allow_split" in rules and not isinstance(rules["allow_split"], bool | None):
        errors.add("rules.allow_split", "must be true or false")
    strategy = rules.get("strategy")
    if strategy is not None and (not isinstance(strategy, str) or strategy not in STRATEGIES):
        errors.add("rules.strategy", f"unknown strategy; use {', '.join(sorted(STRATEGIES))}")
    named = {k: rules[k] for k in ("pinned_location", "fallback_location") if rules.get(k) is not None}
    for key, code in named.items():
        if not isinstance(code, str):
            errors.add(f"rules.{key}", "must be a location code")
    known = uow.locations.ids_for([c for c in named.values() if isinstance(c, str)])
    for key, code in named.items():
        if isinstance(code, str) and code not in known:
            errors.add(f"rules.{key}", f"location '{code}' not found")
    return rules


def _replay(
    facts: _Facts,
    order: Any,
    channel: ChannelRecord,
    lines: Sequence[Any],
    allocations: Sequence[tuple[int, str, int]],
    card: RateCard,
) -> str | tuple[_Plan, _Plan, dict[str, Any]]:
    """One order routed again; or why it cannot be (a reason for the skipped count)."""
    unit_weight = {str(line.line_no): facts.weight(line.sku_code) for line in lines if line.sku_id is not None}
    route_lines = []
    for line in lines:
        units = line.quantity - line.cancelled
        if line.sku_id is None or units <= 0:
            continue
        value = Decimal(line.unit_price) * units - Decimal(line.discount)
        route_lines.append(RouteLine(str(line.line_no), line.sku_code, units, max(value, Decimal(0))))
    if not route_lines:
        return "unmapped_sku" if any(line.sku_id is None for line in lines) else "cancelled"
    destination = pincode_directory.lookup(order.ship_pincode)
    candidates = facts.candidates(channel, destination is not None)
    candidates = _add_back(candidates, allocations, {str(x.id): x.sku_code for x in lines})
    decision = route(route_lines, candidates, destination, PaymentMethod(order.payment_method), facts.rules(channel))
    old = _plan(order.routing, unit_weight, card)
    new = _plan(decision.as_dict(), unit_weight, card)
    row = {
        "id": order.id,
        "number": order_number(order.id),
        "channel": channel.spec.code,
        "placed_at": order.placed_at.astimezone(IST).isoformat(),
        "status": order.status,
        "same": old.same_as(new),
        "before": {**old.as_dict(), "explanation": _first(order.routing)},
        "after": {**new.as_dict(), "explanation": decision.explanation[0]},
    }
    return old, new, row


def _first(decision: Mapping[str, Any] | None) -> str | None:
    """The stored decision's summary sentence."""
    sentences = (decision or {}).get("explanation") or []
    return str(sentences[0]) if sentences else None


def _add_back(
    candidates: list[Candidate], allocations: Sequence[tuple[int, str, int]], sku_of_line: Mapping[str, str]
) -> list[Candidate]:
    """The order's own reserved units count as available to it again. For a bundle this adds the
    bundle's units directly, which is exact for one bundle line (its components were reserved in
    whole bundles)."""
    extra: dict[str, dict[str, int]] = {}
    for line_id, location, quantity in allocations:
        sku = sku_of_line.get(str(line_id))
        if sku is not None:
            at = extra.setdefault(location, {})
            at[sku] = at.get(sku, 0) + quantity
    if not extra:
        return candidates
    skus = set(sku_of_line.values())
    out = []
    for c in candidates:
        more = extra.get(c.code)
        if more:  # only the order's own SKUs matter to routing: copy those, not the page's
            c = replace(c, stock={sku: c.stock.get(sku, 0) + more.get(sku, 0) for sku in skus})
        out.append(c)
    return out


# --- reads this use case needs that OrderRepository does not offer yet ---------------------------
# (They belong in the repositories: OrderRepository.placed_between and .live_allocations,
# SkuRepository.weights_for.)


def _pages(
    uow: UnitOfWork, since: datetime, until: datetime | None, channel_ids: list[int], limit: int
) -> Iterator[list[Any]]:
    """Orders placed in the window, oldest first, a page at a time (keyset on placed_at, id)."""
    if not channel_ids:
        return
    after: tuple[datetime, int] | None = None
    remaining = limit
    while remaining > 0:
        size = min(_PAGE, remaining)
        page = uow.orders.placed_between(since, until, channel_ids, after, size)
        if page:
            yield page
        if len(page) < size:
            return
        remaining -= len(page)
        after = (page[-1].placed_at, page[-1].id)


def _weights(uow: UnitOfWork, codes: list[str]) -> dict[str, int]:
    """SKU code -> catalogue weight in grams."""
    return uow.skus.weights_for(codes)


def _live_allocations(uow: UnitOfWork, order_ids: list[int]) -> dict[int, list[tuple[int, str, int]]]:
    """Order id -> (line id, location code, units) it holds reserved now."""
    return uow.orders.live_allocations(order_ids)


def _read_only(uow: UnitOfWork) -> AbstractContextManager[None]:
    """Have the database refuse any write while the simulation runs."""
    return uow.read_only()

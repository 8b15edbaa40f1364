"""Routing: which location ships which lines of an order, and why, in sentences a person can check.

The pipeline, in the order the issue sets it:

1. eligibility: the location serves the order's channel, ships, is active and not excluded today;
2. payment: a COD order only from locations that take COD;
3. serviceability of the destination pincode from the location;
4. stock: what each location is short of, per SKU (lines with the same SKU share the stock);
5. one location that has everything, if any: the best by
   ``(capacity exhausted, zone rank, -capacity left, priority, code)``, where an exhausted daily
   capacity is a last resort and no capacity limit counts as the most capacity;
6. otherwise a split: the plan with the fewest shipments, then
   ``(locations with exhausted capacity, sum of zone ranks, sum of distances in whole km, sum of
   priorities, the members' single-location ranks best first)``, among plans where every shipment
   is worth at least the minimum shipment value (a single shipment needs no minimum). A SKU's
   lines are split by quantity only when no single eligible location holds the order's whole
   demand for that SKU; otherwise each of its lines ships whole;
7. if nothing works and a fallback location is set and can ship this order, everything goes there
   (outcome ``fallback``; the caller tries to reserve, and holds the order if that fails).

It is exact: the split search tries location sets in objective order and checks each for a
feasible assignment exhaustively, so the first set that works is optimal (see
:mod:`ordermesh.domain.routing_search`, and its one limit, with a minimum shipment value on large
tangled orders). The common case - one location has everything - needs no search at all.
Deterministic: every tie ends at the location code, whatever order the candidates come in.

Strategies are pluggable: a strategy takes a :class:`RoutingRequest` and returns a
:class:`RoutingDecision`; :data:`STRATEGIES` names them and :class:`RoutingRules` picks one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter
from typing import NamedTuple, Protocol

from ordermesh.domain.routing_search import SEARCH_LIMIT, Plan, SearchLimitReached, Site, best_split, demand_of
from ordermesh.domain.statuses import PaymentMethod
from ordermesh.domain.zones import PincodeInfo, Zone, lane


@dataclass(frozen=True, slots=True)
class RouteLine:
    key: str  # the order line's number, unique within the order
    sku: str
    quantity: int
    value: Decimal  # what the line is worth in all (its share of a shipment's value)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A location as routing sees it: facts the caller looked up, no database behind them."""

    code: str
    origin: PincodeInfo
    priority: int = 100  # lower is preferred
    serves_channel: bool = True
    ships: bool = True
    active: bool = True
    excluded_today: bool = False
    cod_allowed: bool = True
    serviceable: bool = True  # a carrier delivers from here to the destination pincode
    capacity_left: int | None = None  # orders it can still take today; None means no limit
    stock: Mapping[str, int] = field(default_factory=dict)  # available units per SKU (bundles derived)
    name: str = ""


@dataclass(frozen=True, slots=True)
class RoutingRules:
    min_shipment_value: Decimal = Decimal(0)  # each part of a split is worth at least this
    allow_split: bool = True
    pinned_location: str | None = None  # with strategy "pinned" (the default when this is set)
    fallback_location: str | None = None
    max_split_locations: int | None = None
    strategy: str | None = None  # None: "pinned" when pinned_location is set, else "default"

    def __post_init__(self) -> None:
        """Refuse settings no order could be routed with, when they are made, not mid-order."""
        if not isinstance(self.min_shipment_value, Decimal) or not self.min_shipment_value.is_finite():
            raise ValueError("min_shipment_value must be a finite Decimal")
        if self.min_shipment_value < 0:
            raise ValueError("min_shipment_value must not be negative")
        limit = self.max_split_locations
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError("max_split_locations must be a whole number of at least 1")
        if self.strategy_name == "pinned" and not self.pinned_location:
            raise ValueError("the pinned strategy needs a pinned_location")

    @property
    def strategy_name(self) -> str:
        return self.strategy or ("pinned" if self.pinned_location else "default")


class Outcome(StrEnum):
    ALLOCATED = "allocated"
    FALLBACK = "fallback"  # sent to the fallback location without known stock there
    NO_ELIGIBLE_LOCATION = "no_eligible_location"  # none passes eligibility, payment, serviceability
    OUT_OF_STOCK = "out_of_stock"  # the eligible locations together lack stock
    SPLIT_NOT_ALLOWED = "split_not_allowed"  # only a split works, and the rules forbid it
    SPLIT_BELOW_MINIMUM = "split_below_minimum"  # every split has a part below the minimum value


class Verdict(StrEnum):
    CHOSEN = "chosen"
    PASSED_OVER = "passed_over"  # had everything too, but ranked lower
    SHORT = "short"  # short of stock and not used
    NOT_PINNED = "not_pinned"
    NOT_SERVING_CHANNEL = "not_serving_channel"
    NOT_SHIPPING = "not_shipping"
    INACTIVE = "inactive"
    EXCLUDED_TODAY = "excluded_today"
    NO_COD = "no_cod"
    UNSERVICEABLE = "unserviceable"
    FALLBACK = "fallback"


class Assignment(NamedTuple):
    line_key: str
    location: str
    quantity: int


class LocationVerdict(NamedTuple):
    """What routing made of one candidate (a named tuple: routing makes many of these)."""

    location: str
    verdict: Verdict
    zone: Zone | None = None  # only for locations that passed the filters (and a known destination)
    distance_km: float | None = None
    shortages: tuple[tuple[str, int], ...] = ()  # (sku, units short of the order's demand)


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    outcome: Outcome
    strategy: str
    assignments: tuple[Assignment, ...]
    verdicts: tuple[LocationVerdict, ...]  # one per candidate, in the order given
    explanation: tuple[str, ...]  # sentences, the decision first
    fallback_reason: Outcome | None = None  # what failed before falling back

    @property
    def allocates(self) -> bool:
        """Whether carrying out the decision allocates the lines (directly or from the fallback)."""
        return self.outcome in (Outcome.ALLOCATED, Outcome.FALLBACK)

    @property
    def units_by_line(self) -> dict[str, int]:
        """Line key -> the units the decision assigns it, over every location."""
        out: dict[str, int] = {}
        for a in self.assignments:
            out[a.line_key] = out.get(a.line_key, 0) + a.quantity
        return out

    @property
    def shipments(self) -> dict[str, tuple[str, ...]]:
        """Location -> the keys of the lines it ships (a line split by quantity is in several)."""
        out: dict[str, list[str]] = {}
        for a in self.assignments:
            out.setdefault(a.location, []).append(a.line_key)
        return {location: tuple(keys) for location, keys in out.items()}

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready record of the decision, as the order's timeline stores it."""
        return {
            "outcome": self.outcome.value,
            "strategy": self.strategy,
            "fallback_reason": self.fallback_reason.value if self.fallback_reason else None,
            "assignments": [
                {"line": a.line_key, "location": a.location, "quantity": a.quantity} for a in self.assignments
            ],
            "shipments": {location: list(keys) for location, keys in self.shipments.items()},
            "explanation": list(self.explanation),
            "locations": [
                {
                    "location": v.location,
                    "verdict": v.verdict.value,
                    "zone": v.zone.value if v.zone else None,
                    "distance_km": round(v.distance_km) if v.distance_km is not None else None,
                    "shortages": dict(v.shortages),
                }
                for v in self.verdicts
            ],
        }


@dataclass(frozen=True, slots=True)
class RoutingRequest:
    lines: tuple[RouteLine, ...]
    candidates: tuple[Candidate, ...]
    destination: PincodeInfo | None  # None when the pincode is unknown: zones are then unknown
    payment: PaymentMethod
    rules: RoutingRules


class RoutingStrategy(Protocol):
    def __call__(self, request: RoutingRequest) -> RoutingDecision: ...


def route(
    lines: Iterable[RouteLine],
    candidates: Iterable[Candidate],
    destination: PincodeInfo | None,
    payment: PaymentMethod | str = PaymentMethod.PREPAID,
    rules: RoutingRules | None = None,
    strategies: Mapping[str, RoutingStrategy] | None = None,
) -> RoutingDecision:
    """Route one order with the strategy its rules name. Raises ValueError on malformed input
    (no lines, a quantity below 1, duplicate keys or codes, an unknown strategy)."""
    method = payment if isinstance(payment, PaymentMethod) else PaymentMethod(payment)
    request = RoutingRequest(tuple(lines), tuple(candidates), destination, method, rules or _DEFAULT_RULES)
    _check(request)
    name = request.rules.strategy_name
    strategy = (STRATEGIES if strategies is None else strategies).get(name)
    if strategy is None:
        raise ValueError(f"unknown routing strategy '{name}'")
    return strategy(request)


def default_strategy(request: RoutingRequest) -> RoutingDecision:
    """The pipeline in the module docstring, over every candidate."""
    return _route(request, "default", None)


def pinned_strategy(request: RoutingRequest) -> RoutingDecision:
    """Only the pinned location may ship (a channel fulfilled from one warehouse); then the fallback."""
    if not request.rules.pinned_location:
        raise ValueError("the pinned strategy needs rules.pinned_location")
    return _route(request, "pinned", request.rules.pinned_location)


STRATEGIES: Mapping[str, RoutingStrategy] = {"default": default_strategy, "pinned": pinned_strategy}

_DEFAULT_RULES = RoutingRules()


def _check(request: RoutingRequest) -> None:
    if not request.lines:
        raise ValueError("an order to route has at least one line")
    keys = set()
    for line in request.lines:
        if line.quantity < 1 or not line.value.is_finite() or line.value < 0:
            raise ValueError("line quantities are at least 1 and values are not negative")
        keys.add(line.key)
    if len(keys) != len(request.lines):
        raise ValueError("line keys must be unique")
    if len({c.code for c in request.candidates}) != len(request.candidates):
        raise ValueError("location codes must be unique")


def _exclusion(c: Candidate, pinned: str | None, cod: bool, where: str) -> tuple[Verdict, str] | None:
    """Why a location cannot ship this order at all (first reason in pipeline order), or None."""
    if pinned is not None and c.code != pinned:
        return Verdict.NOT_PINNED, f"the channel is pinned to {pinned}"
    if not c.serves_channel:
        return Verdict.NOT_SERVING_CHANNEL, "does not serve this channel"
    if not c.ships:
        return Verdict.NOT_SHIPPING, "does not ship orders"
    if not c.active:
        return Verdict.INACTIVE, "inactive"
    if c.excluded_today:
        return Verdict.EXCLUDED_TODAY, "excluded for today"
    if cod and not c.cod_allowed:
        return Verdict.NO_COD, "does not ship COD"
    if not c.serviceable:
        return Verdict.UNSERVICEABLE, f"cannot deliver to {where}"
    return None


def _label(c: Candidate) -> str:
    return f"{c.code} {c.name}" if c.name else c.code


_ZONE_TEXT = {zone: f"zone {zone.value} ({zone.letter})" for zone in Zone}


def _zone_text(site: Site) -> str:
    return _ZONE_TEXT[site.zone] if site.zone else "zone unknown"


def _shortage_text(shortages: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{sku} short by {units}" for sku, units in shortages)


def _route(request: RoutingRequest, name: str, pinned: str | None) -> RoutingDecision:
    lines, destination, rules, candidates = request.lines, request.destination, request.rules, request.candidates
    demand = demand_of(lines)
    cod = request.payment is PaymentMethod.COD
    where = destination.pincode if destination else "this pincode"
    # Per candidate, by position: the verdict and the sentence about it.
    verdicts = [_PENDING] * len(candidates)
    notes = [""] * len(candidates)
    sites: list[Site] = []
    for index, c in enumerate(candidates):
        eligible = c.serves_channel and c.ships and c.active and not c.excluded_today and c.serviceable
        excluded = (
            None if eligible and pinned is None and (c.cod_allowed or not cod) else _exclusion(c, pinned, cod, where)
        )
        if excluded is None:
            zone, km = lane(c.origin, destination) if destination else (None, None)
            sites.append(Site(c, zone, km, demand, index))
        else:
            verdicts[index] = LocationVerdict(c.code, excluded[0])
            notes[index] = (
                f"{_label(c)} {'skipped' if excluded[0] is Verdict.NOT_PINNED else 'excluded'}: {excluded[1]}"
            )

    n = len(lines)
    chosen: tuple[Site, ...] = ()
    plan: Plan = ()
    full = [s for s in sites if not s.shortages]
    if not sites:
        outcome = Outcome.NO_ELIGIBLE_LOCATION
        summary = "No location can ship this order: none passes the channel, payment and pincode checks."
    elif full:
        best = min(full, key=_SINGLE)
        outcome, chosen, plan = Outcome.ALLOCATED, (best,), _whole(lines)
        summary = f"Allocated to {best.code} in one shipment."
        for s in full:
            if s is not best:
                verdicts[s.index] = _verdict(s, Verdict.PASSED_OVER)
                notes[s.index] = (
                    f"{_label(s.candidate)} passed over: {_lines_text(n)} in stock too, but {_why_not(s, best)}"
                )
    else:
        outcome, summary, chosen, plan = _split(lines, demand, sites, rules)

    fallback_reason: Outcome | None = None
    if outcome is not Outcome.ALLOCATED and rules.fallback_location:
        code = rules.fallback_location
        at = next((i for i, c in enumerate(candidates) if c.code == code), -1)
        excluded = (
            _exclusion(candidates[at], None, cod, where) if at >= 0 else (Verdict.NOT_SHIPPING, "not a known location")
        )
        if excluded is None:
            fallback_reason, outcome, plan = outcome, Outcome.FALLBACK, _whole(lines)
            c = candidates[at]
            zone, km = lane(c.origin, destination) if destination else (None, None)
            chosen = (Site(c, zone, km, demand, at),)
            summary += f" Falling back to {code}: every line goes there, to be reserved if stock allows."
        else:
            summary += f" The fallback {code} cannot be used ({excluded[1]})."

    verdict = Verdict.FALLBACK if outcome is Outcome.FALLBACK else Verdict.CHOSEN
    explanation = [summary]
    for at, site in enumerate(chosen):
        verdicts[site.index] = _verdict(site, verdict)
        notes[site.index] = ""
        explanation.append(_chosen_text(site, [(lines[i], q) for i, place, q in plan if place == at], n, verdict))
    if len(chosen) > 1:
        explanation.extend(_split_line_notes(lines, chosen, plan))
    for s in sites:
        if verdicts[s.index] is _PENDING:
            verdicts[s.index] = _verdict(s, Verdict.SHORT)
            notes[s.index] = f"{_label(s.candidate)} skipped: {_shortage_text(s.shortages)}"
    explanation.extend(note for note in notes if note)
    return RoutingDecision(
        outcome,
        name,
        tuple([Assignment(lines[i].key, chosen[at].code, q) for i, at, q in plan]),
        tuple(verdicts),
        tuple(explanation),
        fallback_reason,
    )


_SINGLE = attrgetter("single")
_PENDING = LocationVerdict("", Verdict.SHORT)  # a placeholder until a candidate's verdict is known


def _whole(lines: tuple[RouteLine, ...]) -> Plan:
    return tuple([(i, 0, line.quantity) for i, line in enumerate(lines)])


def _split(
    lines: tuple[RouteLine, ...], demand: Mapping[str, int], sites: list[Site], rules: RoutingRules
) -> tuple[Outcome, str, tuple[Site, ...], Plan]:
    """No single location has everything: out of stock, a split, or why not a split."""
    n = len(lines)
    missing = []
    for sku, need in demand.items():
        for s in sites:
            need -= s.units[sku]
        if need > 0:
            missing.append((sku, need))
    if missing:
        return Outcome.OUT_OF_STOCK, f"Not enough stock at the eligible locations: {_shortage_text(missing)}.", (), ()
    head = f"No single location has {_lines_text(n)}"
    limit = len(sites) if rules.max_split_locations is None else min(rules.max_split_locations, len(sites))
    if not rules.allow_split or limit < 2:
        why = "splitting is turned off" if not rules.allow_split else "the rules allow one location only"
        return Outcome.SPLIT_NOT_ALLOWED, f"{head}, and {why}.", (), ()
    minimum = rules.min_shipment_value
    try:
        found = best_split(lines, sites, minimum, limit)
    except SearchLimitReached:
        return (
            Outcome.SPLIT_BELOW_MINIMUM,
            f"{head}, and no split with every shipment worth at least ₹{minimum:.2f} was found within "
            f"the search limit of {SEARCH_LIMIT:,} steps: the order needs a person to route it.",
            (),
            (),
        )
    if found is not None:
        chosen, plan = found
        parts = "; ".join(
            f"{s.code}: {', '.join(lines[i].key for i, place, _ in plan if place == at)}" for at, s in enumerate(chosen)
        )
        return Outcome.ALLOCATED, f"{head}: split into {len(chosen)} shipments ({parts}).", chosen, plan
    if minimum > 0 and (unbounded := best_split(lines, sites, Decimal(0), limit)) is not None:
        chosen, plan = unbounded
        values = [
            sum((lines[i].value * q / lines[i].quantity for i, at, q in plan if at == k), Decimal(0))
            for k in range(len(chosen))
        ]
        low = min(range(len(chosen)), key=lambda k: (values[k], chosen[k].code))
        best = " + ".join(s.code for s in chosen)
        return (
            Outcome.SPLIT_BELOW_MINIMUM,
            f"{head}, and every split leaves a shipment below the minimum of ₹{minimum:.2f}: "
            f"the best split, {best}, would send ₹{values[low]:.2f} from {chosen[low].code}.",
            (),
            (),
        )
    return Outcome.SPLIT_NOT_ALLOWED, f"{head}, and a split needs more than {limit} locations.", (), ()


def _verdict(site: Site, verdict: Verdict) -> LocationVerdict:
    return LocationVerdict(site.code, verdict, site.zone, site.km, site.shortages)


def _lines_text(n: int) -> str:
    return "the only line" if n == 1 else f"all {n} lines"


def _chosen_text(site: Site, mine: list[tuple[RouteLine, int]], n: int, verdict: Verdict) -> str:
    c = site.candidate
    tail = f"{_zone_text(site)}, priority {c.priority}"
    if c.capacity_left is not None:
        tail += f", capacity left today {c.capacity_left}"
    if verdict is Verdict.FALLBACK:
        short = f"; stock here is short ({_shortage_text(site.shortages)})" if site.shortages else ""
        return f"{_label(c)} (fallback): ships {_lines_text(n)}, {tail}{short}"
    if len(mine) == n and all(q == line.quantity for line, q in mine):
        return f"{_label(c)}: {_lines_text(n)} in stock, {tail}"
    worth = sum((line.value if q == line.quantity else line.value * q / line.quantity for line, q in mine), Decimal(0))
    parts = ", ".join(line.key if q == line.quantity else f"{line.key} ×{q}" for line, q in mine)
    return f"{_label(c)}: ships {parts} (₹{worth:.2f}), {tail}"


def _split_line_notes(lines: tuple[RouteLine, ...], chosen: tuple[Site, ...], plan: Plan) -> list[str]:
    notes = []
    for i, line in enumerate(lines):
        parts = [(chosen[at].code, q) for j, at, q in plan if j == i]
        if len(parts) > 1:
            where = ", ".join(f"{q} from {code}" for code, q in parts)
            notes.append(f"Line {line.key} ({line.sku} × {line.quantity}) is split by quantity: {where}.")
    return notes


def _why_not(site: Site, best: Site) -> str:
    """The first criterion of the single-location ranking on which ``site`` loses to ``best``."""
    mine, theirs = site.single_key(), best.single_key()
    if mine[0] != theirs[0]:
        return "it has no capacity left today"
    if mine[1] != theirs[1]:
        return f"{_zone_text(site)} is farther than {_zone_text(best)}"
    if mine[2] != theirs[2]:
        theirs_left = best.candidate.capacity_left
        return f"it has less capacity left today ({site.candidate.capacity_left} vs {'no limit' if theirs_left is None else theirs_left})"
    if mine[3] != theirs[3]:
        return f"priority {site.candidate.priority} comes after {best.candidate.priority}"
    return f"on a tie {best.code} sorts first"

"""The exact search behind a split: the best set of locations, and who ships what.

Kept apart from :mod:`ordermesh.domain.routing` (the pipeline and its explanations) because it is
the one part that needs a careful proof of optimality:

- The objective of a split depends only on the set of locations used. So the search walks the
  sets of size 2, 3, ... and, within a size, in objective order (:func:`split_key`); the first set
  with a feasible assignment is optimal.
- Feasibility of a set is decided exhaustively. With no minimum shipment value, SKUs do not
  interact: a splittable SKU only needs enough units across the set (filled greedily, preferred
  location first), and the whole lines of any other SKU are placed by a small depth-first search.
  With a minimum, every location must end up with a shipment worth at least it, which couples the
  lines: a depth-first search over lines (whole lines, then quantity splits) with a bound on the
  value still to place and a memo of failed states decides it.
- A set whose assignment leaves a location empty cannot be first: the smaller set would have
  worked and come earlier. So every location of the chosen set ships something.

Values of quantity-split lines are pro rata, compared exactly as fractions.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from itertools import combinations
from typing import TYPE_CHECKING

from ordermesh.domain.zones import Zone

if TYPE_CHECKING:
    from ordermesh.domain.routing import Candidate, RouteLine

# (line index, index into the chosen sites, quantity), sorted by line then site.
Plan = tuple[tuple[int, int, int], ...]

_NATIONAL = Zone.NATIONAL.rank  # the rank used when the destination is unknown
UNKNOWN_KM = 5000  # an unknown distance sorts after every real one (India spans about 3,500 km)


class Site:
    """A candidate that passed the filters: its lane to the destination, and its stock of each SKU
    the order wants (never below zero) with what it is short of."""

    __slots__ = (
        "candidate",
        "code",
        "exhausted",
        "index",
        "km",
        "km_key",
        "priority",
        "rank",
        "shortages",
        "single",
        "units",
        "zone",
    )

    def __init__(
        self, candidate: Candidate, zone: Zone | None, km: float | None, demand: Mapping[str, int], index: int = 0
    ) -> None:
        capacity = candidate.capacity_left
        stock = candidate.stock
        units: dict[str, int] = {}
        shortages: list[tuple[str, int]] = []
        for sku, need in demand.items():
            have = stock.get(sku, 0)
            if have < 0:
                have = 0
            units[sku] = have
            if have < need:
                shortages.append((sku, need - have))
        self.candidate = candidate
        self.index = index  # the candidate's position in the request
        self.code = candidate.code
        self.priority = candidate.priority
        self.zone = zone
        self.km = km
        self.km_key = UNKNOWN_KM if km is None else round(km)  # whole km; an unknown distance sorts last
        self.units = units
        self.shortages = tuple(shortages)
        self.exhausted = capacity is not None and capacity <= 0
        self.rank = _NATIONAL if zone is None else zone.rank
        # The single-location ranking: exhausted capacity last, nearest zone, most capacity left
        # (no limit counts as most), lowest priority number, then code.
        self.single: tuple[bool, int, float, int, str] = (
            self.exhausted,
            self.rank,
            -math.inf if capacity is None else -capacity,
            candidate.priority,
            candidate.code,
        )

    def single_key(self) -> tuple[bool, int, float, int, str]:
        return self.single


def split_key(sites: Sequence[Site]) -> tuple[int, int, int, int, int, tuple[tuple[bool, int, float, int, str], ...]]:
    """The split ranking: fewest shipments, fewest exhausted locations, nearest by zone rank then
    distance, lowest priorities; last, the set whose members rank first one by one (by their
    single-location ranking, best first), which ends every tie at a code."""
    return (*_sums(sites), tuple(sorted(s.single for s in sites)))


def _sums(sites: Sequence[Site]) -> tuple[int, int, int, int, int]:
    exhausted = rank = km = priority = 0
    for s in sites:
        exhausted += s.exhausted
        rank += s.rank
        km += s.km_key
        priority += s.priority
    return (len(sites), exhausted, rank, km, priority)


def best_split(
    lines: Sequence[RouteLine], sites: Sequence[Site], minimum: Decimal, limit: int
) -> tuple[tuple[Site, ...], Plan] | None:
    """The best split over 2..limit of ``sites`` with every shipment worth >= ``minimum``, or None."""
    demand = demand_of(lines)
    splittable = frozenset(sku for sku, need in demand.items() if all(s.units[sku] < need for s in sites))
    ordered = sorted(sites, key=Site.single_key)  # so each set lists its preferred location first
    total = sum((line.value for line in lines), Decimal(0))
    for size in range(2, limit + 1):
        if minimum > 0 and minimum * size > total:
            return None
        # combinations() of the ranked list come out in the order of split_key's last part, and the
        # sort is stable, so sorting by the sums alone gives split_key's order, cheaper.
        for chosen in sorted(combinations(ordered, size), key=_sums):
            if not _covers(chosen, demand):
                continue
            plan = (
                _fill(lines, chosen, splittable) if minimum <= 0 else _fill_minimum(lines, chosen, splittable, minimum)
            )
            if plan is not None:
                return chosen, plan
    return None


def _covers(chosen: Sequence[Site], demand: Mapping[str, int]) -> bool:
    """Whether the locations together hold the order's demand of every SKU (necessary, cheap)."""
    for sku, need in demand.items():
        total = 0
        for s in chosen:
            total += s.units[sku]
        if total < need:
            return False
    return True


def _fill(lines: Sequence[RouteLine], chosen: Sequence[Site], splittable: frozenset[str]) -> Plan | None:
    """An assignment within ``chosen`` with no minimum value: SKU by SKU, as they do not interact."""
    by_sku: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        by_sku.setdefault(line.sku, []).append(i)
    plan: list[tuple[int, int, int]] = []
    for sku, indexes in by_sku.items():
        room = [s.units[sku] for s in chosen]
        if sku in splittable:
            for i in indexes:
                left = lines[i].quantity
                for at, units in enumerate(room):
                    take = min(left, units)
                    if take:
                        plan.append((i, at, take))
                        room[at] -= take
                        left -= take
                if left:
                    return None
        elif len(indexes) == 1:  # the usual case: one whole line, at the first location that has it
            quantity = lines[indexes[0]].quantity
            at = next((at for at, units in enumerate(room) if units >= quantity), -1)
            if at < 0:
                return None
            plan.append((indexes[0], at, quantity))
        else:
            places = _place_whole([lines[i].quantity for i in indexes], room)
            if places is None:
                return None
            plan.extend((i, at, lines[i].quantity) for i, at in zip(indexes, places, strict=True))
    return tuple(sorted(plan))


def _place_whole(quantities: list[int], room: list[int]) -> list[int] | None:
    """Where each whole line of one SKU goes (an index into ``room``), preferred first, or None."""
    places: list[int] = []
    failed: set[tuple[int, tuple[int, ...]]] = set()

    def place(j: int) -> bool:
        if j == len(quantities):
            return True
        state = (j, tuple(room))
        if state in failed:
            return False
        for at, units in enumerate(room):
            if units >= quantities[j]:
                room[at] -= quantities[j]
                places.append(at)
                if place(j + 1):
                    return True
                places.pop()
                room[at] += quantities[j]
        failed.add(state)
        return False

    return places if place(0) else None


def _fill_minimum(
    lines: Sequence[RouteLine], chosen: Sequence[Site], splittable: frozenset[str], minimum: Decimal
) -> Plan | None:
    """An assignment within ``chosen`` where every location ships at least ``minimum`` of value."""
    k = len(chosen)
    floor = Fraction(minimum)
    room = {sku: [s.units[sku] for s in chosen] for sku in chosen[0].units}
    worth = [Fraction(line.value) for line in lines]

    def options(i: int) -> int:
        return sum(units >= lines[i].quantity for units in room[lines[i].sku])

    # Whole lines first, the most constrained first; lines that may be split by quantity last.
    order = sorted(range(len(lines)), key=lambda i: (lines[i].sku in splittable, options(i), i))
    tail = [sum(worth[i] for i in order[j:]) for j in range(len(order) + 1)]
    later = [tuple(sorted({lines[i].sku for i in order[j:]})) for j in range(len(order) + 1)]
    values = [Fraction(0)] * k
    plan: list[tuple[int, int, int]] = []
    failed: set[object] = set()

    def give(i: int, at: int, units: int, sign: int) -> None:
        room[lines[i].sku][at] -= sign * units
        values[at] += sign * worth[i] * units / lines[i].quantity

    def search(j: int) -> bool:
        missing = sum((floor - v for v in values if v < floor), Fraction(0))
        if missing > tail[j]:
            return False
        if j == len(order):
            return True  # nothing missing, so every location ships at least the minimum
        state = (j, tuple(min(v, floor) for v in values), tuple(tuple(room[sku]) for sku in later[j]))
        if state in failed:
            return False
        i = order[j]
        line = lines[i]
        if line.sku in splittable:
            choices: Iterator[tuple[int, ...]] = _distributions(line.quantity, tuple(room[line.sku]))
        else:
            choices = (
                tuple(line.quantity if a == at else 0 for a in range(k))
                for at in range(k)
                if room[line.sku][at] >= line.quantity
            )
        for parts in choices:
            for at, units in enumerate(parts):
                if units:
                    give(i, at, units, 1)
                    plan.append((i, at, units))
            if search(j + 1):
                return True
            for at, units in enumerate(parts):
                if units:
                    give(i, at, units, -1)
                    plan.pop()
        failed.add(state)
        return False

    return tuple(sorted(plan)) if search(0) else None


def _distributions(quantity: int, room: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    """Every way to take ``quantity`` units from locations holding ``room``, most from the first."""
    reach = [sum(room[at:]) for at in range(len(room) + 1)]

    def spread(at: int, left: int) -> Iterator[tuple[int, ...]]:
        if at == len(room):
            if left == 0:
                yield ()
            return
        for units in range(min(left, room[at]), max(0, left - reach[at + 1]) - 1, -1):
            for rest in spread(at + 1, left - units):
                yield (units, *rest)

    return spread(0, quantity)


def demand_of(lines: Sequence[RouteLine]) -> dict[str, int]:
    """Units wanted per SKU, in the order the SKUs first appear (lines of one SKU share stock)."""
    demand: dict[str, int] = {}
    for line in lines:
        demand[line.sku] = demand.get(line.sku, 0) + line.quantity
    return demand

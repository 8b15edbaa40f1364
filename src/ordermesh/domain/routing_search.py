"""The exact search behind a split: the best set of locations, and who ships what.

Kept apart from :mod:`ordermesh.domain.routing` (the pipeline and its explanations) because it is
the one part that needs a careful proof of optimality:

- The objective of a split depends only on the set of locations used. So the search walks the
  sets of size 2, 3, ... and, within a size, in objective order (:func:`split_key`); the first set
  with a feasible assignment is optimal.
- Feasibility of a set is decided exhaustively. With no minimum shipment value, SKUs do not
  interact: a splittable SKU only needs enough units across the set (filled greedily, preferred
  location first), and the whole lines of any other SKU are placed by a small depth-first search.
  This is fast in every case (milliseconds for 10 lines over 10 locations).
- With a minimum, every location must end up with a shipment worth at least it, which couples the
  lines into a bin-covering problem (NP-hard in general): :class:`_MinimumSearch` decides it by a
  pruned depth-first search. Orders of a few lines take microseconds; on random 10-line orders over
  10 locations with scattered stock, most take under a millisecond, 99% under 10 ms, and about 1 in
  700 needs more than
  :data:`SEARCH_LIMIT` steps, where the search stops and says so (:class:`SearchLimitReached`)
  rather than hold a worker up or return a plan it has not proven best.
- A set whose assignment leaves a location empty cannot be first: the smaller set would have
  worked and come earlier. So every location of the chosen set ships something.

Values of quantity-split lines are pro rata, and compared exactly (as scaled integers).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from itertools import combinations
from typing import TYPE_CHECKING

from ordermesh.domain.zones import Zone

if TYPE_CHECKING:
    from ordermesh.domain.routing import Candidate, RouteLine

# (line index, index into the chosen sites, quantity), sorted by line then site.
Plan = tuple[tuple[int, int, int], ...]

_NATIONAL = Zone.NATIONAL.rank  # the rank used when the destination is unknown
UNKNOWN_KM = 5000  # an unknown distance sorts after every real one (India spans about 3,500 km)
SEARCH_LIMIT = 50_000  # steps of the minimum-value search per order: about 0.3 s


class SearchLimitReached(Exception):
    """The minimum-value search took more than SEARCH_LIMIT steps: the order is too tangled to
    prove a best split quickly, and a person should look at it rather than a worker wait on it."""


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
        shortages: tuple[tuple[str, int], ...] = ()
        for sku, need in demand.items():
            have = stock.get(sku, 0)
            if have < 0:
                have = 0
            units[sku] = have
            if have < need:
                shortages += ((sku, need - have),)
        self.units = units  # units of each SKU the order wants, never below zero
        self.candidate = candidate
        self.index = index  # the candidate's position in the request
        self.code = candidate.code
        self.priority = candidate.priority
        self.zone = zone
        self.km = km
        self.km_key = UNKNOWN_KM if km is None else round(km)  # whole km; an unknown distance sorts last
        self.shortages = shortages
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
    steps = [SEARCH_LIMIT]  # shared by every set's search
    for size in range(2, limit + 1):
        if minimum > 0 and minimum * size > total:
            return None
        # combinations() of the ranked list come out in the order of split_key's last part, and the
        # sort is stable, so sorting by the sums alone gives split_key's order, cheaper.
        for chosen in sorted(combinations(ordered, size), key=_sums):
            if not _covers(chosen, demand):
                continue
            if minimum <= 0:
                plan = _fill(lines, chosen, splittable)
            else:
                plan = _MinimumSearch(lines, chosen, splittable, minimum, steps).run()
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


class _MinimumSearch:
    """An assignment within a set where every location ships at least the minimum value.

    Depth-first over the lines: whole lines to one location each, then the lines of splittable
    SKUs, of which only the units a location still needs to reach the minimum are placed during the
    search. The rest of a split line ("leftover") is poured into whatever room is left at the end:
    the locations together hold the SKU's whole demand, so it always fits, and more units only add
    value. When no later line shares the SKU, only maximal ways to place those units are tried (one
    that could take another unit somewhere is never better). Pruned by the value still to place, by
    the value each location could still reach, and by a memo of failed states (with locations
    sorted, so states that differ only in their order are one).

    Amounts are exact integers: money scaled to whole units of its smallest decimal place, times
    the least common multiple of the quantities, so that a unit of any line is a whole number."""

    def __init__(
        self,
        lines: Sequence[RouteLine],
        chosen: Sequence[Site],
        splittable: frozenset[str],
        minimum: Decimal,
        steps: list[int],
    ) -> None:
        places = max(0, *(-_exponent(d) for d in (minimum, *(line.value for line in lines))))
        per_unit = math.lcm(*(line.quantity for line in lines))
        self.lines, self.k = lines, len(chosen)
        self.floor = int(minimum.scaleb(places)) * per_unit
        self.room = {sku: [s.units[sku] for s in chosen] for sku in chosen[0].units}
        self.worth = [int(line.value.scaleb(places)) * per_unit for line in lines]
        self.unit = [w // line.quantity for w, line in zip(self.worth, lines, strict=True)]
        self.split = [line.sku in splittable for line in lines]
        # Whole lines first, the most constrained and the most valuable first; split lines last.
        options = [sum(units >= line.quantity for units in self.room[line.sku]) for line in lines]
        self.order = sorted(range(len(lines)), key=lambda i: (self.split[i], options[i], -self.worth[i], i))
        self.tail = [sum(self.worth[i] for i in self.order[j:]) for j in range(len(lines) + 1)]
        self.later = [tuple(sorted({lines[i].sku for i in self.order[j:]})) for j in range(len(lines) + 1)]
        self.rest_by_value = [sorted(self.order[j:], key=lambda i: -self.unit[i]) for j in range(len(lines) + 1)]
        self.values = [0] * self.k
        self.plan: list[tuple[int, int, int]] = []
        self.leftover: list[tuple[int, int]] = []  # (line, units) still to pour in at the end
        self.failed: set[object] = set()
        self.steps = steps  # a counter shared with the searches of other sets

    def run(self) -> Plan | None:
        if not self.search(0):
            return None
        for i, units in self.leftover:  # pour leftovers in, preferred location first
            room = self.room[self.lines[i].sku]
            for at in range(self.k):
                take = min(units, room[at])
                if take:
                    room[at] -= take
                    units -= take
                    self.plan.append((i, at, take))
        merged: dict[tuple[int, int], int] = {}
        for i, at, units in self.plan:
            merged[i, at] = merged.get((i, at), 0) + units
        return tuple(sorted((i, at, units) for (i, at), units in merged.items()))

    def search(self, j: int) -> bool:
        self.steps[0] -= 1
        if self.steps[0] < 0:
            raise SearchLimitReached
        floor, values = self.floor, self.values
        missing = 0
        for v in values:
            if v < floor:
                missing += floor - v
        if missing > self.tail[j]:
            return False
        if j == len(self.order):
            return True  # nothing missing: every location ships at least the minimum
        rooms = [self.room[sku] for sku in self.later[j]]
        state = (j, tuple(sorted((min(values[at], floor), *(r[at] for r in rooms)) for at in range(self.k))))
        if state in self.failed:
            return False
        if self.reachable(j):
            i = self.order[j]
            choices = self.useful_parts(i, j) if self.split[i] else self.whole_parts(i)
            for parts in choices:
                self.give(i, parts, 1)
                if self.search(j + 1):
                    return True
                self.give(i, parts, -1)
        self.failed.add(state)
        return False

    def reachable(self, j: int) -> bool:
        """Whether every location short of the minimum could still reach it from lines j.. alone.

        An upper bound per location: lines that fit there, best value per unit first, as many
        units of each SKU as the location has room for (a whole line counted in part if need be)."""
        lines, room, split, unit = self.lines, self.room, self.split, self.unit
        for at in range(self.k):
            need = self.floor - self.values[at]
            if need <= 0:
                continue
            taken: dict[str, int] = {}
            for i in self.rest_by_value[j]:
                line = lines[i]
                space = room[line.sku][at]
                if not split[i] and space < line.quantity:
                    continue
                units = min(space - taken.get(line.sku, 0), line.quantity)
                if units > 0:
                    taken[line.sku] = taken.get(line.sku, 0) + units
                    need -= unit[i] * units
                    if need <= 0:
                        break
            if need > 0:
                return False
        return True

    def whole_parts(self, i: int) -> Iterator[tuple[int, ...]]:
        quantity, room = self.lines[i].quantity, self.room[self.lines[i].sku]
        for at in range(self.k):
            if room[at] >= quantity:
                yield tuple(quantity if a == at else 0 for a in range(self.k))

    def useful_parts(self, i: int, j: int) -> Iterator[tuple[int, ...]]:
        """Units of a split line for each location, up to what it needs to reach the minimum."""
        line = self.lines[i]
        room, unit = self.room[line.sku], self.unit[i]
        caps = tuple(
            0 if unit == 0 or v >= self.floor else min(room[at], -(-(self.floor - v) // unit))
            for at, v in enumerate(self.values)
        )
        maximal_only = line.sku not in self.later[j + 1]
        return _up_to(line.quantity, caps, maximal_only)

    def give(self, i: int, parts: tuple[int, ...], sign: int) -> None:
        line = self.lines[i]
        room = self.room[line.sku]
        for at, units in enumerate(parts):
            if units:
                room[at] -= sign * units
                self.values[at] += sign * self.unit[i] * units
                if sign > 0:
                    self.plan.append((i, at, units))
                else:
                    self.plan.pop()
        if self.split[i]:
            if sign > 0:
                self.leftover.append((i, line.quantity - sum(parts)))
            else:
                self.leftover.pop()


def _exponent(amount: Decimal) -> int:
    exponent = amount.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def _up_to(quantity: int, caps: tuple[int, ...], maximal_only: bool) -> Iterator[tuple[int, ...]]:
    """Ways to take at most ``quantity`` units, at most ``caps[at]`` from each, most first; with
    ``maximal_only``, only those that could not take one more unit anywhere."""
    if maximal_only and sum(caps) <= quantity:
        yield caps
        return
    reach = [sum(caps[at:]) for at in range(len(caps) + 1)]

    def spread(at: int, left: int) -> Iterator[tuple[int, ...]]:
        if at == len(caps):
            yield ()
            return
        # when only maximal ways count (and the caps exceed the quantity), all units are taken
        low = max(0, left - reach[at + 1]) if maximal_only else 0
        for units in range(min(left, caps[at]), low - 1, -1):
            for rest in spread(at + 1, left - units):
                yield (units, *rest)

    yield from spread(0, quantity)


def demand_of(lines: Sequence[RouteLine]) -> dict[str, int]:
    """Units wanted per SKU, in the order the SKUs first appear (lines of one SKU share stock)."""
    demand: dict[str, int] = {}
    for line in lines:
        demand[line.sku] = demand.get(line.sku, 0) + line.quantity
    return demand

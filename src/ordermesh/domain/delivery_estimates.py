"""How many days a parcel takes on a lane, the date that makes, and how good the estimates were.

A **lane** is (carrier, origin zone, destination pincode prefix): the first three digits of a
pincode are its sorting district, the finest grain with enough shipments to learn from. The
origin zone is whatever key the service groups origins by (the location code, or its own
prefix); it is only compared for equality here.

**Estimate** for a lane, the first that applies:

1. history: the median transit days of the lane's last ``last_n`` deliveries (rows oldest first),
   when there are at least ``min_count`` of them; a median between two days is rounded up,
   because promising a day late is kinder than a day early;
2. the carrier's stated days (a quote's ``etd_days`` or the tariff's transit days);
3. a default for the zone of the lane (local 1 … special 7 days).

Transit days are **working days**: a parcel picked up on Saturday with 2 days arrives Tuesday,
since carriers do not deliver on Sundays or the holidays given. The accuracy report counts a
delivered shipment as on estimate when it arrived within one calendar day of the estimated date.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ordermesh.domain.zones import Zone

SUNDAY = 6
DEFAULT_LAST_N = 50
DEFAULT_MIN_COUNT = 10
ZONE_DEFAULT_DAYS: Mapping[Zone, int] = {
    Zone.LOCAL: 1,
    Zone.REGIONAL: 2,
    Zone.METRO: 3,
    Zone.NATIONAL: 5,
    Zone.SPECIAL: 7,
}


@dataclass(frozen=True)
class TransitRecord:
    carrier: str
    origin_zone: str
    destination_prefix: str  # first 3 digits of the destination pincode
    transit_days: int  # working days from pickup to delivery


@dataclass(frozen=True)
class Estimate:
    days: int
    basis: str  # history | carrier | zone_default
    count: int = 0  # deliveries the history estimate used

    def explain(self) -> str:
        if self.basis == "history":
            return f"{self.days} days: median of the last {self.count} deliveries on this lane"
        if self.basis == "carrier":
            return f"{self.days} days: the carrier's stated transit time (too little history)"
        return f"{self.days} days: the default for the zone (no history, no stated time)"


def lane_history(rows: Iterable[TransitRecord], carrier: str, origin_zone: str, destination_pincode: str) -> list[int]:
    prefix = destination_pincode[:3]
    return [
        r.transit_days
        for r in rows
        if r.carrier == carrier and r.origin_zone == origin_zone and r.destination_prefix == prefix
    ]


def estimate_days(
    rows: Iterable[TransitRecord],
    carrier: str,
    origin_zone: str,
    destination_pincode: str,
    *,
    zone: Zone,
    stated_days: int | None = None,
    last_n: int = DEFAULT_LAST_N,
    min_count: int = DEFAULT_MIN_COUNT,
    zone_defaults: Mapping[Zone, int] = ZONE_DEFAULT_DAYS,
) -> Estimate:
    """Days for a lane (see the module docstring); ``rows`` oldest first."""
    if last_n < 1 or min_count < 1:
        raise ValueError("last_n and min_count must be at least 1")
    recent = lane_history(rows, carrier, origin_zone, destination_pincode)[-last_n:]
    if len(recent) >= min_count:
        return Estimate(math.ceil(statistics.median(recent)), "history", len(recent))
    if stated_days is not None:
        return Estimate(stated_days, "carrier")
    return Estimate(zone_defaults.get(zone, ZONE_DEFAULT_DAYS[zone]), "zone_default")


def is_working_day(day: date, holidays: Collection[date] = ()) -> bool:
    return day.weekday() != SUNDAY and day not in holidays


def next_working_day(day: date, holidays: Collection[date] = ()) -> date:
    """The first working day after ``day``."""
    day += timedelta(days=1)
    while not is_working_day(day, holidays):
        day += timedelta(days=1)
    return day


def add_working_days(start: date, days: int, holidays: Collection[date] = ()) -> date:
    """``days`` working days after ``start`` (0: ``start`` itself, or the next working day if it is
    not one)."""
    if days < 0:
        raise ValueError("days cannot be negative")
    if days == 0:
        return start if is_working_day(start, holidays) else next_working_day(start, holidays)
    day = start
    for _ in range(days):
        day = next_working_day(day, holidays)
    return day


def estimated_delivery(shipped_on: date, estimate: Estimate | int, holidays: Collection[date] = ()) -> date:
    days = estimate.days if isinstance(estimate, Estimate) else estimate
    return add_working_days(shipped_on, days, holidays)


@dataclass(frozen=True)
class DeliveredShipment:
    carrier: str
    estimated_on: date
    delivered_on: date | None  # None: not delivered (yet, or RTO): left out of the report


@dataclass(frozen=True)
class CarrierAccuracy:
    carrier: str
    delivered: int
    within_one_day: int
    early: int  # more than a day early
    late: int  # more than a day late

    @property
    def share(self) -> Decimal:
        return Decimal(self.within_one_day) / self.delivered if self.delivered else Decimal(0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "carrier": self.carrier,
            "delivered": self.delivered,
            "within_one_day": self.within_one_day,
            "early": self.early,
            "late": self.late,
            "share": str(self.share.quantize(Decimal("0.001"))),
        }


def accuracy_report(shipments: Iterable[DeliveredShipment]) -> list[CarrierAccuracy]:
    """By carrier (sorted): delivered shipments, how many within ±1 day of the estimate, early, late."""
    counts: dict[str, list[int]] = {}
    for s in shipments:
        if s.delivered_on is None:
            continue
        c = counts.setdefault(s.carrier, [0, 0, 0, 0])
        off = (s.delivered_on - s.estimated_on).days
        c[0] += 1
        c[1] += abs(off) <= 1
        c[2] += off < -1
        c[3] += off > 1
    return [CarrierAccuracy(carrier, *c) for carrier, c in sorted(counts.items())]

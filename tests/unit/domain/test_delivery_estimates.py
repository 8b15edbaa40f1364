"""Transit-day estimates per lane, delivery dates that skip Sundays and holidays, and accuracy."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordermesh.domain.delivery_estimates import (
    DeliveredShipment,
    Estimate,
    TransitRecord,
    accuracy_report,
    add_working_days,
    estimate_days,
    estimated_delivery,
    is_working_day,
    next_working_day,
)
from ordermesh.domain.zones import Zone


def rows(carrier: str, days: list[int], origin: str = "BLR", prefix: str = "226") -> list[TransitRecord]:
    return [TransitRecord(carrier, origin, prefix, d) for d in days]


def test_median_of_the_last_n_on_the_lane() -> None:
    history = rows("d", [9, 9, 9, 3, 4, 4, 5, 4]) + rows("d", [1] * 20, prefix="560") + rows("x", [1] * 20)
    est = estimate_days(history, "d", "BLR", "226010", zone=Zone.NATIONAL, last_n=5, min_count=5)
    assert est == Estimate(4, "history", 5)  # last five: 3 4 4 5 4
    assert "median of the last 5" in est.explain()
    everything = estimate_days(history, "d", "BLR", "226010", zone=Zone.NATIONAL, last_n=50, min_count=5)
    assert everything.days == 5 and everything.count == 8  # median of 3 4 4 4 5 9 9 9 = 4.5, up to 5


def test_too_little_history_falls_back_to_stated_then_zone_default() -> None:
    history = rows("d", [2, 2, 2])
    stated = estimate_days(history, "d", "BLR", "226010", zone=Zone.NATIONAL, stated_days=4, min_count=4)
    assert stated == Estimate(4, "carrier") and "stated" in stated.explain()
    default = estimate_days(history, "d", "BLR", "226010", zone=Zone.SPECIAL, min_count=4)
    assert default == Estimate(7, "zone_default") and "default" in default.explain()
    custom = estimate_days([], "d", "BLR", "226010", zone=Zone.LOCAL, zone_defaults={Zone.LOCAL: 2})
    assert custom.days == 2
    other_origin = estimate_days(rows("d", [1] * 20, origin="DEL"), "d", "BLR", "226010", zone=Zone.METRO)
    assert other_origin.basis == "zone_default"
    with pytest.raises(ValueError):
        estimate_days([], "d", "BLR", "226010", zone=Zone.LOCAL, last_n=0)


SAT = date(2026, 5, 2)
SUN = date(2026, 5, 3)
MON = date(2026, 5, 4)


def test_delivery_dates_skip_sundays_and_holidays() -> None:
    assert SUN.weekday() == 6
    assert next_working_day(SAT) == MON
    assert add_working_days(SAT, 2) == date(2026, 5, 5)  # Mon, Tue
    assert add_working_days(SAT, 2, {MON}) == date(2026, 5, 6)
    assert add_working_days(SUN, 0) == MON and add_working_days(SAT, 0) == SAT
    assert estimated_delivery(SAT, Estimate(1, "history", 10)) == MON
    assert estimated_delivery(MON, 1) == date(2026, 5, 5)
    with pytest.raises(ValueError):
        add_working_days(SAT, -1)


@given(
    st.dates(date(2025, 1, 1), date(2027, 12, 31)),
    st.integers(0, 20),
    st.sets(st.dates(date(2025, 1, 1), date(2028, 2, 1)), max_size=15),
)
def test_arrival_is_a_working_day_with_exactly_n_working_days_between(
    start: date, days: int, holidays: set[date]
) -> None:
    end = add_working_days(start, days, holidays)
    assert is_working_day(end, holidays) and end >= start
    between = sum(is_working_day(start + timedelta(i), holidays) for i in range(1, (end - start).days + 1))
    assert between == days or (days == 0 and between <= 1)


def test_accuracy_report_within_one_day_by_carrier() -> None:
    est = date(2026, 5, 10)
    report = accuracy_report(
        [
            DeliveredShipment("b", est, est),
            DeliveredShipment("b", est, est + timedelta(1)),
            DeliveredShipment("b", est, est - timedelta(1)),
            DeliveredShipment("b", est, est + timedelta(2)),
            DeliveredShipment("b", est, est - timedelta(3)),
            DeliveredShipment("b", est, None),  # RTO: not in the report
            DeliveredShipment("a", est, est),
        ]
    )
    assert [r.carrier for r in report] == ["a", "b"]
    b = report[1]
    assert (b.delivered, b.within_one_day, b.early, b.late) == (5, 3, 1, 1)
    assert b.share == Decimal("0.6") and b.as_dict()["share"] == "0.600"
    assert report[0].share == 1 and accuracy_report([]) == []

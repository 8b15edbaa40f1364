"""Dispatch-by deadlines without a clock: time always comes in as an argument."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordermesh.domain.errors import Collector, ValidationFailed
from ordermesh.domain.sla import (
    DEFAULT_BUSINESS_DAYS,
    IST,
    DispatchSla,
    SlaState,
    add_business_days,
    default_at_risk_within,
    dispatch_by,
    format_offset,
    parse_offset,
    sla_state,
    start_day,
)

# 30 November 2026 is a Monday.
MON, TUE, WED, THU, FRI, SAT, SUN = (date(2026, 11, 30) + timedelta(days=i) for i in range(7))
NEXT_MON = MON + timedelta(days=7)


def ist(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), tzinfo=IST)


def end_of(day: date) -> datetime:
    return ist(day, 23, 59, 59)


# --- defaults and business days -----------------------------------------------------------------


def test_the_default_sla_is_two_business_days_cut_off_at_two_closed_on_sunday_in_ist() -> None:
    # when
    sla = DispatchSla()
    # then
    assert (sla.hours, sla.business_days) == (None, DEFAULT_BUSINESS_DAYS) == (None, 2)
    assert sla.cutoff == time(14, 0)
    assert sla.weekend == frozenset({6})
    assert sla.holidays == frozenset()
    assert sla.timezone.utcoffset(None) == timedelta(hours=5, minutes=30)


def test_giving_hours_leaves_business_days_unset() -> None:
    assert DispatchSla(hours=24).business_days is None


def test_weekend_days_and_holidays_are_not_business_days() -> None:
    # given
    sla = DispatchSla(holidays=frozenset({TUE}))
    # then
    assert [sla.is_business_day(d) for d in (MON, TUE, WED, SAT, SUN)] == [True, False, True, True, False]
    assert sla.next_business_day(SUN) == NEXT_MON
    assert sla.next_business_day(MON) == MON


@pytest.mark.parametrize(
    ("placed", "expected"),
    [
        (ist(MON, 10), MON),
        (ist(MON, 14, 0), MON),  # exactly at the cut-off still counts that day
        (ist(MON, 14, 0, 1), TUE),
        (ist(SAT, 15), NEXT_MON),  # after Saturday's cut-off: Sunday is closed
        (ist(SUN, 9), NEXT_MON),
        (datetime(2026, 11, 30, 8, 29, tzinfo=UTC), MON),  # 13:59 IST
        (datetime(2026, 11, 30, 8, 31, tzinfo=UTC), TUE),  # 14:01 IST
        (datetime(2026, 11, 30, 20, 0, tzinfo=UTC), TUE),  # already Tuesday 01:30 IST
    ],
)
def test_the_start_day_follows_the_local_cut_off(placed: datetime, expected: date) -> None:
    assert start_day(placed, DispatchSla()) == expected


def test_adding_business_days_skips_closed_days() -> None:
    # given
    sla = DispatchSla(holidays=frozenset({WED}))
    # then
    assert add_business_days(MON, 0, sla) == MON
    assert add_business_days(MON, 1, sla) == TUE
    assert add_business_days(MON, 2, sla) == THU
    assert add_business_days(FRI, 2, sla) == NEXT_MON


@pytest.mark.parametrize(
    ("placed", "sla", "deadline"),
    [
        (ist(MON, 10), DispatchSla(business_days=1), end_of(TUE)),
        (ist(MON, 14), DispatchSla(business_days=1), end_of(TUE)),
        (ist(MON, 15), DispatchSla(business_days=1), end_of(WED)),
        (ist(MON, 10), DispatchSla(business_days=0), end_of(MON)),  # same-day dispatch
        (ist(MON, 15), DispatchSla(business_days=0), end_of(TUE)),
        (ist(SAT, 10), DispatchSla(business_days=1), end_of(NEXT_MON)),
        (ist(SAT, 15), DispatchSla(), end_of(WED + timedelta(days=7))),  # start Mon, +2
        (ist(SUN, 10), DispatchSla(business_days=0), end_of(NEXT_MON)),
        (ist(MON, 10), DispatchSla(business_days=1, holidays=frozenset({TUE})), end_of(WED)),
        (ist(FRI, 10), DispatchSla(business_days=1, weekend=frozenset({5, 6})), end_of(NEXT_MON)),
        (ist(MON, 10), DispatchSla(business_days=1, cutoff=time(9, 30)), end_of(WED)),
        # Diwali week: Tuesday to Thursday closed
        (ist(MON, 16), DispatchSla(business_days=1, holidays=frozenset({TUE, WED, THU})), end_of(SAT)),
    ],
)
def test_a_business_day_sla_ends_at_the_last_second_of_the_due_day(
    placed: datetime, sla: DispatchSla, deadline: datetime
) -> None:
    # when
    due = dispatch_by(placed, sla)
    # then
    assert due == deadline
    assert due.tzinfo is UTC


def test_business_days_are_counted_in_the_slas_own_time_zone() -> None:
    # given: a warehouse on UTC-05:00; 20:00 UTC on Monday is 15:00 there, after its cut-off
    sla = DispatchSla(business_days=0, timezone=timezone(timedelta(hours=-5)))
    # when
    due = dispatch_by(datetime(2026, 11, 30, 20, 0, tzinfo=UTC), sla)
    # then
    assert due == datetime(2026, 12, 1, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5)))


# --- hours --------------------------------------------------------------------------------------


def test_an_hours_sla_counts_wall_clock_hours_through_sundays_and_holidays() -> None:
    # given
    sla = DispatchSla(hours=24, holidays=frozenset({SUN}))
    # when / then: the cut-off plays no part either
    assert dispatch_by(ist(SAT, 18), sla) == ist(SUN, 18)
    assert dispatch_by(ist(MON, 23, 30), sla) == ist(TUE, 23, 30)


def test_an_hours_sla_can_stop_the_clock_on_closed_days() -> None:
    # given
    sla = DispatchSla(hours=24, hours_skip_closed_days=True)
    # when / then: Saturday 18:00-24:00 counts 6 hours, Sunday none, Monday the other 18
    assert dispatch_by(ist(SAT, 18), sla) == ist(NEXT_MON, 18)
    # placed on a closed day: the clock starts at the next business day's midnight
    assert dispatch_by(ist(SUN, 11), sla) == ist(NEXT_MON + timedelta(days=1), 0)
    # nothing closed in between: plain hours
    assert dispatch_by(ist(MON, 9), sla) == ist(TUE, 9)


def test_a_stopped_clock_skips_holidays_too() -> None:
    # given
    sla = DispatchSla(hours=48, hours_skip_closed_days=True, holidays=frozenset({TUE, WED}))
    # when / then: Monday 12:00-24:00 is 12 hours, Thursday gives 24, Friday the last 12
    assert dispatch_by(ist(MON, 12), sla) == ist(FRI, 12)


def test_a_stopped_clock_that_runs_out_at_midnight_ends_there() -> None:
    # given
    sla = DispatchSla(hours=6, hours_skip_closed_days=True)
    # then: 18:00 Saturday + 6 open hours is the end of Saturday, the first instant of Sunday
    assert dispatch_by(ist(SAT, 18), sla) == ist(SUN, 0)


def test_a_naive_placed_at_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        dispatch_by(datetime(2026, 11, 30, 10, 0), DispatchSla())


# --- state --------------------------------------------------------------------------------------

DUE = datetime(2026, 12, 1, 18, 29, 59, tzinfo=UTC)
WINDOW = timedelta(hours=4)


@pytest.mark.parametrize(
    ("now", "state"),
    [
        (DUE - timedelta(hours=5), SlaState.OK),
        (DUE - WINDOW - timedelta(seconds=1), SlaState.OK),
        (DUE - WINDOW, SlaState.AT_RISK),
        (DUE, SlaState.AT_RISK),  # the deadline itself is still in time
        (DUE + timedelta(seconds=1), SlaState.BREACHED),
    ],
)
def test_an_undispatched_order_is_ok_then_at_risk_then_breached(now: datetime, state: SlaState) -> None:
    assert sla_state(DUE, now, False, WINDOW) is state


def test_a_dispatched_order_has_met_its_sla_unless_it_left_late() -> None:
    late = DUE + timedelta(minutes=1)
    assert sla_state(DUE, late + timedelta(days=3), True, WINDOW) is SlaState.MET
    assert sla_state(DUE, late, True, WINDOW, dispatched_at=DUE) is SlaState.MET
    assert sla_state(DUE, late, True, WINDOW, dispatched_at=late) is SlaState.BREACHED


def test_with_no_at_risk_window_an_order_is_ok_until_breached() -> None:
    assert sla_state(DUE, DUE - timedelta(seconds=1), False, timedelta(0)) is SlaState.OK
    assert sla_state(DUE, DUE, False, timedelta(0)) is SlaState.AT_RISK


def test_a_negative_at_risk_window_is_refused() -> None:
    with pytest.raises(ValueError, match="at_risk_within"):
        sla_state(DUE, DUE, False, timedelta(hours=-1))


def test_sla_states_fit_the_orders_column() -> None:
    assert max(len(s.value) for s in SlaState) <= 10


def test_the_default_at_risk_window_fits_the_kind_of_sla() -> None:
    # business days: from 08:00 local on the due day (the deadline is 23:59:59)
    assert (end_of(TUE) - default_at_risk_within(DispatchSla())).time() == time(7, 59, 59)
    assert default_at_risk_within(DispatchSla(hours=24)) == timedelta(hours=6)
    assert default_at_risk_within(DispatchSla(hours=2)) == timedelta(hours=1)


# --- settings -----------------------------------------------------------------------------------


def test_settings_are_read_from_json() -> None:
    # when
    sla = DispatchSla.from_dict(
        {
            "business_days": 1,
            "cutoff": "13:30",
            "weekend": ["Saturday", "sun"],
            "holidays": ["2026-11-08", "2026-11-09"],
            "timezone": "Asia/Kolkata",
        }
    )
    # then
    assert sla == DispatchSla(
        business_days=1,
        cutoff=time(13, 30),
        weekend=frozenset({5, 6}),
        holidays=frozenset({date(2026, 11, 8), date(2026, 11, 9)}),
    )


def test_missing_settings_keep_their_defaults() -> None:
    assert DispatchSla.from_dict({}) == DispatchSla()
    assert DispatchSla.from_dict({"hours": None, "business_days": None}) == DispatchSla()
    assert DispatchSla.from_dict({"hours": 48, "hours_skip_closed_days": True}) == DispatchSla(
        hours=48, hours_skip_closed_days=True
    )


def test_settings_are_written_as_json() -> None:
    # given
    sla = DispatchSla(hours=36, holidays=frozenset({date(2026, 11, 9), date(2026, 1, 26)}))
    # when
    data = sla.to_dict()
    # then
    assert data == {
        "hours": 36,
        "business_days": None,
        "cutoff": "14:00",
        "weekend": ["sunday"],
        "holidays": ["2026-01-26", "2026-11-09"],
        "timezone": "+05:30",
        "hours_skip_closed_days": False,
    }
    assert DispatchSla.from_dict(data) == sla


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"hours": 0}, "hours", "from 1 to 720"),
        ({"hours": 721}, "hours", "from 1 to 720"),
        ({"hours": "24"}, "hours", "whole number"),
        ({"hours": True}, "hours", "whole number"),
        ({"business_days": -1}, "business_days", "from 0 (same day) to 30"),
        ({"business_days": 31}, "business_days", "from 0 (same day) to 30"),
        ({"business_days": 1.5}, "business_days", "whole number"),
        ({"hours": 24, "business_days": 1}, "hours", "either hours or business_days"),
        ({"cutoff": "2pm"}, "cutoff", "HH:MM"),
        ({"cutoff": "24:00"}, "cutoff", "HH:MM"),
        ({"cutoff": "14:00:30"}, "cutoff", "HH:MM"),
        ({"cutoff": 14}, "cutoff", "HH:MM"),
        ({"weekend": "sunday"}, "weekend", "list of weekday names"),
        ({"weekend": [6]}, "weekend.0", "weekday name"),
        ({"weekend": ["sunday", "funday"]}, "weekend.1", "weekday name"),
        ({"weekend": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}, "weekend", "at least one day"),
        ({"holidays": "2026-11-08"}, "holidays", "list of dates"),
        ({"holidays": ["2026-13-01"]}, "holidays.0", "YYYY-MM-DD"),
        ({"holidays": ["2026-11-08", "20261109"]}, "holidays.1", "YYYY-MM-DD"),
        ({"holidays": [20261108]}, "holidays.0", "YYYY-MM-DD"),
        ({"holidays": ["2026-01-01"] * 1001}, "holidays", "at most 1000"),
        ({"timezone": "Europe/London"}, "timezone", "UTC offset"),
        ({"timezone": "+25:00"}, "timezone", "UTC offset"),
        ({"timezone": 5.5}, "timezone", "UTC offset"),
        ({"hours": 24, "hours_skip_closed_days": "yes"}, "hours_skip_closed_days", "true or false"),
        ({"business_days": 1, "hours_skip_closed_days": True}, "hours_skip_closed_days", "only applies"),
        ({"cut_off": "14:00"}, "cut_off", "is not an SLA setting"),
    ],
)
def test_each_bad_setting_is_reported_with_its_field(raw: dict[str, Any], field: str, message: str) -> None:
    # given
    errors = Collector()
    # when
    sla = DispatchSla.from_dict(raw, errors)
    # then
    assert sla is None
    assert [(e.field, message in e.message) for e in errors.errors] == [(field, True)], errors.errors


def test_all_bad_settings_are_reported_together_under_the_path() -> None:
    # given
    errors = Collector()
    errors.add("name", "is required")
    # when
    DispatchSla.from_dict({"hours": -1, "cutoff": "late", "weekend": ["someday"]}, errors, "sla")
    # then
    assert [e.field for e in errors.errors] == ["name", "sla.hours", "sla.cutoff", "sla.weekend.0"]


def test_settings_that_are_not_an_object_are_refused() -> None:
    errors = Collector()
    assert DispatchSla.from_dict("2 days", errors, "sla") is None
    assert [(e.field, e.message) for e in errors.errors] == [("sla", "must be an object")]


def test_without_a_collector_bad_settings_raise_validation_failed() -> None:
    with pytest.raises(ValidationFailed) as caught:
        DispatchSla.from_dict({"hours": 0, "cutoff": "noon"})
    assert [e.field for e in caught.value.errors] == ["hours", "cutoff"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hours": 24, "business_days": 1},
        {"hours": 0},
        {"business_days": 31},
        {"business_days": 1, "hours_skip_closed_days": True},
        {"cutoff": time(14, 0, 30)},
        {"cutoff": time(14, 0, tzinfo=UTC)},
        {"weekend": frozenset(range(7))},
        {"weekend": frozenset({7})},
        {"holidays": frozenset(date(2026, 1, 1) + timedelta(days=i) for i in range(1001))},
    ],
)
def test_an_sla_built_in_code_is_checked_too(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        DispatchSla(**kwargs)


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("+05:30", timedelta(hours=5, minutes=30)),
        ("IST", timedelta(hours=5, minutes=30)),
        ("asia/calcutta", timedelta(hours=5, minutes=30)),
        ("+05:45", timedelta(hours=5, minutes=45)),
        ("-03:30", timedelta(hours=-3, minutes=-30)),
        ("UTC", timedelta(0)),
        ("Z", timedelta(0)),
    ],
)
def test_time_zones_are_read_as_fixed_offsets(text: str, offset: timedelta) -> None:
    # when
    tz = parse_offset(text)
    # then
    assert tz is not None and tz.utcoffset(None) == offset


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (timedelta(hours=5, minutes=30), "+05:30"),
        (timedelta(0), "+00:00"),
        (timedelta(hours=-3, minutes=-30), "-03:30"),
    ],
)
def test_time_zones_are_written_as_offsets(offset: timedelta, text: str) -> None:
    assert format_offset(timezone(offset)) == text


# --- properties ---------------------------------------------------------------------------------

OFFSETS = [
    IST,
    UTC,
    timezone(timedelta(hours=-5)),
    timezone(timedelta(hours=5, minutes=45)),
    timezone(timedelta(hours=14)),
]
DAYS = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31))


@st.composite
def slas(draw: st.DrawFn, kind: str | None = None) -> DispatchSla:
    kind = kind or draw(st.sampled_from(["hours", "business_days"]))
    common: dict[str, Any] = {
        "cutoff": time(draw(st.integers(0, 23)), draw(st.integers(0, 59))),
        "weekend": frozenset(draw(st.sets(st.integers(0, 6), max_size=6))),
        "holidays": frozenset(draw(st.sets(DAYS, max_size=60))),
        "timezone": draw(st.sampled_from(OFFSETS)),
    }
    if kind == "hours":
        return DispatchSla(hours=draw(st.integers(1, 200)), hours_skip_closed_days=draw(st.booleans()), **common)
    return DispatchSla(business_days=draw(st.integers(0, 10)), **common)


placed_times = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.sampled_from(OFFSETS)
)


@given(placed_times, slas())
def test_the_deadline_is_never_before_the_order_and_always_in_utc(placed: datetime, sla: DispatchSla) -> None:
    # when
    due = dispatch_by(placed, sla)
    # then
    assert due >= placed
    assert due.tzinfo is UTC


@given(placed_times, slas("business_days"))
def test_a_business_day_deadline_is_the_end_of_a_business_day(placed: datetime, sla: DispatchSla) -> None:
    # when
    local = dispatch_by(placed, sla).astimezone(sla.timezone)
    # then
    assert sla.is_business_day(local.date())
    assert local.time() == time(23, 59, 59)


@given(placed_times, placed_times, slas())
def test_a_later_order_never_has_an_earlier_deadline(a: datetime, b: datetime, sla: DispatchSla) -> None:
    first, second = sorted((a, b))
    assert dispatch_by(first, sla) <= dispatch_by(second, sla)


@given(placed_times, st.integers(1, 200))
def test_a_wall_clock_hours_sla_is_exactly_that_many_hours(placed: datetime, hours: int) -> None:
    assert dispatch_by(placed, DispatchSla(hours=hours)) - placed == timedelta(hours=hours)


@given(placed_times, slas("hours"))
def test_a_stopped_clock_never_ends_sooner_than_wall_clock_hours(placed: datetime, sla: DispatchSla) -> None:
    # then: pausing on closed days can only push the deadline out
    assert sla.hours is not None
    assert dispatch_by(placed, sla) - placed >= timedelta(hours=sla.hours)


@given(slas())
def test_any_valid_sla_round_trips_through_json(sla: DispatchSla) -> None:
    assert DispatchSla.from_dict(sla.to_dict()) == sla

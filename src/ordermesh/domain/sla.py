"""Dispatch-by deadlines: when an order must leave the warehouse, by the channel's SLA.

Two kinds of SLA, one per channel:

* **Business days** (``business_days=N``). The order's *start day* is the local date it was placed,
  or the next day when it was placed after the daily cut-off (an order at exactly the cut-off still
  counts that day); a start day that is a weekend day or a holiday moves on to the next business day.
  The deadline is the end of the N-th business day after the start day, i.e. 23:59:59 local time on
  that day (N=0: same-day dispatch, the end of the start day itself). It is therefore never on a weekend
  day or a holiday. This matches how marketplaces show "ship by" dates: a day, not an hour.
* **Hours** (``hours=H``). H wall-clock hours from the moment the order was placed; the cut-off plays
  no part. Weekends and holidays count like any other hours, unless ``hours_skip_closed_days`` is set:
  then the clock stops on them (from local midnight to midnight), and an order placed on one starts
  counting at the next business day's midnight.

All local times are in the SLA's ``timezone`` (IST by default; India has no daylight saving, so a
fixed offset is exact). Results are aware datetimes in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from enum import StrEnum
from typing import Any, overload

from ordermesh.domain.errors import Collector

IST = timezone(timedelta(hours=5, minutes=30), "IST")
END_OF_DAY = time(23, 59, 59)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")  # date.weekday()
SUNDAY = 6
DEFAULT_BUSINESS_DAYS = 2
DEFAULT_CUTOFF = time(14, 0)
MAX_HOURS = 720
MAX_BUSINESS_DAYS = 30
MAX_HOLIDAYS = 1000
# Names a JSON setting may use for IST besides "+05:30"; anything else needs an explicit offset,
# because a domain module cannot read the time zone database.
_IST_NAMES = frozenset({"ist", "asia/kolkata", "asia/calcutta"})
_UTC_NAMES = frozenset({"utc", "z", "gmt"})
_OFFSET_RE = re.compile(r"^([+-])([01][0-9]|2[0-3]):([0-5][0-9])\Z")
_CUTOFF_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])\Z")
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_KEYS = ("hours", "business_days", "cutoff", "weekend", "holidays", "timezone", "hours_skip_closed_days")


class SlaState(StrEnum):
    OK = "ok"
    AT_RISK = "at_risk"  # not dispatched, deadline within the at-risk window
    BREACHED = "breached"  # not dispatched by the deadline, or dispatched after it
    MET = "met"  # dispatched by the deadline


@dataclass(frozen=True)
class DispatchSla:
    """A channel's dispatch SLA. Give ``hours`` or ``business_days``; with neither, it is
    ``DEFAULT_BUSINESS_DAYS`` business days.

    ``weekend`` holds weekday numbers as ``date.weekday()`` counts them (Monday 0 ... Sunday 6);
    ``holidays`` are local dates; ``cutoff`` is a local time of day in whole minutes.
    """

    hours: int | None = None
    business_days: int | None = None
    cutoff: time = DEFAULT_CUTOFF
    weekend: frozenset[int] = frozenset({SUNDAY})
    holidays: frozenset[date] = frozenset()
    timezone: tzinfo = IST
    hours_skip_closed_days: bool = False

    def __post_init__(self) -> None:
        if self.hours is None and self.business_days is None:
            object.__setattr__(self, "business_days", DEFAULT_BUSINESS_DAYS)
        problems = _problems(self)
        if problems:
            raise ValueError("; ".join(f"{name}: {message}" for name, message in problems))

    def is_business_day(self, day: date) -> bool:
        return day.weekday() not in self.weekend and day not in self.holidays

    def next_business_day(self, day: date) -> date:
        """``day`` itself if it is a business day, else the first one after it."""
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return day

    @overload
    @classmethod
    def from_dict(cls, raw: object) -> DispatchSla: ...

    @overload
    @classmethod
    def from_dict(cls, raw: object, errors: Collector, path: str = "") -> DispatchSla | None: ...

    @classmethod
    def from_dict(cls, raw: object, errors: Collector | None = None, path: str = "") -> DispatchSla | None:
        """An SLA from JSON such as ``{"business_days": 1, "cutoff": "13:00", "weekend": ["sunday"],
        "holidays": ["2026-11-08"], "timezone": "+05:30"}``; missing keys keep their defaults.

        With a ``Collector``, problems are added to it (field paths under ``path``) and the result is
        None; without one, they are raised together as ``ValidationFailed``.
        """
        own = Collector()
        sla = _parse(raw, own, path)
        if errors is None:
            own.raise_if_any("The dispatch SLA has invalid fields")
            return sla
        errors.errors.extend(own.errors)
        return sla

    def to_dict(self) -> dict[str, Any]:
        return {
            "hours": self.hours,
            "business_days": self.business_days,
            "cutoff": self.cutoff.strftime("%H:%M"),
            "weekend": [WEEKDAYS[d] for d in sorted(self.weekend)],
            "holidays": [d.isoformat() for d in sorted(self.holidays)],
            "timezone": format_offset(self.timezone),
            "hours_skip_closed_days": self.hours_skip_closed_days,
        }


def _problems(sla: DispatchSla) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if sla.hours is not None and sla.business_days is not None:
        found.append(("hours", "give either hours or business_days, not both"))
    if sla.hours is not None and not 1 <= sla.hours <= MAX_HOURS:
        found.append(("hours", f"must be a whole number from 1 to {MAX_HOURS}"))
    if sla.business_days is not None and not 0 <= sla.business_days <= MAX_BUSINESS_DAYS:
        found.append(("business_days", f"must be a whole number from 0 (same day) to {MAX_BUSINESS_DAYS}"))
    if sla.hours_skip_closed_days and sla.hours is None:
        found.append(("hours_skip_closed_days", "only applies to an SLA in hours"))
    if sla.cutoff.tzinfo is not None or sla.cutoff.second or sla.cutoff.microsecond:
        found.append(("cutoff", "must be a local time of day in whole minutes, HH:MM"))
    if not all(isinstance(d, int) and 0 <= d <= 6 for d in sla.weekend):
        found.append(("weekend", "weekdays are numbered 0 (Monday) to 6 (Sunday)"))
    elif len(sla.weekend) > 6:
        found.append(("weekend", "at least one day of the week must be a business day"))
    if len(sla.holidays) > MAX_HOLIDAYS:
        found.append(("holidays", f"at most {MAX_HOLIDAYS} holidays"))
    return found


def format_offset(tz: tzinfo) -> str:
    """``+05:30`` for a fixed offset; a named zone (such as a ``zoneinfo.ZoneInfo``) by its name."""
    offset = tz.utcoffset(None)
    if offset is None:
        return str(getattr(tz, "key", tz))
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def parse_offset(text: str) -> tzinfo | None:
    """``"+05:30"``, ``"-04:00"``, ``"UTC"``, ``"IST"`` or ``"Asia/Kolkata"`` -> a fixed-offset tzinfo."""
    key = text.strip().lower()
    if key in _IST_NAMES:
        return IST
    if key in _UTC_NAMES:
        return UTC
    match = _OFFSET_RE.match(key)
    if not match:
        return None
    sign, hh, mm = match.groups()
    offset = timedelta(hours=int(hh), minutes=int(mm))
    if offset == timedelta(hours=5, minutes=30) and sign == "+":
        return IST
    return timezone(-offset if sign == "-" else offset)


def _parse(raw: object, errors: Collector, path: str) -> DispatchSla | None:
    def at(name: str) -> str:
        return f"{path}.{name}" if path else name

    if not isinstance(raw, Mapping):
        errors.add(path or "sla", "must be an object")
        return None
    for key in raw:
        if key not in _KEYS:
            errors.add(at(str(key)), f"is not an SLA setting (use {', '.join(_KEYS)})")
    values: dict[str, Any] = {}

    for name, lo, hi, rule in (
        ("hours", 1, MAX_HOURS, f"must be a whole number from 1 to {MAX_HOURS}, or null"),
        (
            "business_days",
            0,
            MAX_BUSINESS_DAYS,
            f"must be a whole number from 0 (same day) to {MAX_BUSINESS_DAYS}, or null",
        ),
    ):
        value = raw.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            errors.add(at(name), rule)
        else:
            values[name] = value
    if raw.get("hours") is not None and raw.get("business_days") is not None:
        errors.add(at("hours"), "give either hours or business_days, not both")

    if "cutoff" in raw:
        value = raw["cutoff"]
        match = _CUTOFF_RE.match(value.strip()) if isinstance(value, str) else None
        if match is None:
            errors.add(at("cutoff"), "must be a local time of day as HH:MM, e.g. 14:00")
        else:
            values["cutoff"] = time(int(match.group(1)), int(match.group(2)))

    if "weekend" in raw:
        weekend = _parse_weekend(raw["weekend"], errors, at("weekend"))
        if weekend is not None:
            values["weekend"] = weekend

    if "holidays" in raw:
        holidays = _parse_holidays(raw["holidays"], errors, at("holidays"))
        if holidays is not None:
            values["holidays"] = holidays

    if "timezone" in raw:
        value = raw["timezone"]
        tz = parse_offset(value) if isinstance(value, str) else None
        if tz is None:
            errors.add(at("timezone"), "must be a UTC offset such as +05:30 (or IST, Asia/Kolkata, UTC)")
        else:
            values["timezone"] = tz

    if "hours_skip_closed_days" in raw:
        value = raw["hours_skip_closed_days"]
        if not isinstance(value, bool):
            errors.add(at("hours_skip_closed_days"), "must be true or false")
        elif value and raw.get("hours") is None:
            errors.add(at("hours_skip_closed_days"), "only applies to an SLA in hours")
        else:
            values["hours_skip_closed_days"] = value

    if errors.errors:
        return None
    return DispatchSla(**values)


def _parse_weekend(value: object, errors: Collector, path: str) -> frozenset[int] | None:
    if not isinstance(value, list):
        errors.add(path, 'must be a list of weekday names, e.g. ["sunday"]')
        return None
    days: set[int] = set()
    ok = True
    for i, item in enumerate(value):
        day = _weekday(item)
        if day is None:
            # numbers are refused: JavaScript counts Sunday as 0, ISO 8601 as 7, Python as 6
            errors.add(f"{path}.{i}", "must be a weekday name: monday ... sunday (or mon ... sun)")
            ok = False
        else:
            days.add(day)
    if ok and len(days) > 6:
        errors.add(path, "at least one day of the week must be a business day")
        ok = False
    return frozenset(days) if ok else None


def _weekday(item: object) -> int | None:
    if not isinstance(item, str):
        return None
    name = item.strip().lower()
    for number, full in enumerate(WEEKDAYS):
        if name in (full, full[:3]):
            return number
    return None


def _parse_holidays(value: object, errors: Collector, path: str) -> frozenset[date] | None:
    if not isinstance(value, list):
        errors.add(path, "must be a list of dates as YYYY-MM-DD")
        return None
    if len(value) > MAX_HOLIDAYS:
        errors.add(path, f"at most {MAX_HOLIDAYS} holidays")
        return None
    days: set[date] = set()
    ok = True
    for i, item in enumerate(value):
        day: date | None = None
        if isinstance(item, str) and _DATE_RE.match(item.strip()):
            try:
                day = date.fromisoformat(item.strip())
            except ValueError:
                day = None
        if day is None:
            errors.add(f"{path}.{i}", "must be a date as YYYY-MM-DD")
            ok = False
        else:
            days.add(day)
    return frozenset(days) if ok else None


# --- deadlines ----------------------------------------------------------------------------------


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def start_day(placed_at: datetime, sla: DispatchSla) -> date:
    """The business day an order counts from: its local date, or the next day if it was placed after
    the cut-off, moved on past weekend days and holidays."""
    _require_aware("placed_at", placed_at)
    local = placed_at.astimezone(sla.timezone)
    day = local.date()
    if local.time() > sla.cutoff:
        day += timedelta(days=1)
    return sla.next_business_day(day)


def add_business_days(day: date, count: int, sla: DispatchSla) -> date:
    for _ in range(count):
        day = sla.next_business_day(day + timedelta(days=1))
    return day


def dispatch_by(placed_at: datetime, sla: DispatchSla) -> datetime:
    """The moment the order must be dispatched by (aware, UTC). See the module docstring for the rules."""
    _require_aware("placed_at", placed_at)
    if sla.hours is not None:
        if sla.hours_skip_closed_days:
            return _open_hours_after(placed_at.astimezone(UTC), timedelta(hours=sla.hours), sla)
        return placed_at.astimezone(UTC) + timedelta(hours=sla.hours)
    assert sla.business_days is not None  # __post_init__ sets one of the two
    due = add_business_days(start_day(placed_at, sla), sla.business_days, sla)
    return datetime.combine(due, END_OF_DAY, tzinfo=sla.timezone).astimezone(UTC)


def _open_hours_after(cursor: datetime, remaining: timedelta, sla: DispatchSla) -> datetime:
    """Walk local days from ``cursor`` (UTC), spending ``remaining`` only on business days."""
    while True:
        day = cursor.astimezone(sla.timezone).date()
        next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=sla.timezone).astimezone(UTC)
        if sla.is_business_day(day):
            room = next_midnight - cursor
            if remaining <= room:
                return cursor + remaining
            remaining -= room
        cursor = next_midnight


def default_at_risk_within(sla: DispatchSla) -> timedelta:
    """A sensible at-risk window when a tenant has not chosen one: for business-day SLAs the due day
    from 08:00 local (the deadline is 23:59:59), for hour SLAs the last quarter of the hours (at
    least one hour)."""
    if sla.hours is not None:
        return max(timedelta(hours=1), timedelta(hours=sla.hours) / 4)
    return timedelta(hours=16)


def sla_state(
    dispatch_by: datetime,
    now: datetime,
    dispatched: bool,
    at_risk_within: timedelta,
    *,
    dispatched_at: datetime | None = None,
) -> SlaState:
    """Where an order stands against its deadline.

    Not dispatched: ``breached`` after the deadline, ``at_risk`` from ``at_risk_within`` before it
    (the deadline instant itself is still in time), else ``ok``. Dispatched: ``met``, unless
    ``dispatched_at`` is given and later than the deadline, then ``breached`` (for breach reports).
    """
    if at_risk_within < timedelta(0):
        raise ValueError("at_risk_within must not be negative")
    if dispatched:
        if dispatched_at is not None and dispatched_at > dispatch_by:
            return SlaState.BREACHED
        return SlaState.MET
    if now > dispatch_by:
        return SlaState.BREACHED
    if now >= dispatch_by - at_risk_within:
        return SlaState.AT_RISK
    return SlaState.OK

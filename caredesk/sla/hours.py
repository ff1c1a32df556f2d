"""Business-time arithmetic: adding business minutes to an instant and counting business minutes
between two instants, in the hours' own time zone (so DST changes are handled by zoneinfo),
skipping weekends, public holidays and custom dates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

MAX_DAYS = 3660  # never loop forever on an empty schedule: ten years


@dataclass(frozen=True)
class Hours:
    time_zone: str = "UTC"
    # weekday (0 = Monday) -> list of (start, end) "HH:MM"; an empty dict means around the clock
    schedule: tuple[tuple[int, tuple[tuple[str, str], ...]], ...] = ()
    country: str = ""
    subdivision: str = ""
    custom_holidays: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, business_hours: object | None) -> Hours:
        if business_hours is None:
            return cls()
        schedule = tuple(
            sorted(
                (int(day), tuple((a, b) for a, b in spans))
                for day, spans in (getattr(business_hours, "schedule", None) or {}).items()
            )
        )
        return cls(
            time_zone=getattr(business_hours, "time_zone", "UTC") or "UTC",
            schedule=schedule,
            country=getattr(business_hours, "country", "") or "",
            subdivision=getattr(business_hours, "subdivision", "") or "",
            custom_holidays=frozenset(getattr(business_hours, "custom_holidays", None) or []),
        )

    @property
    def always_open(self) -> bool:
        return not self.schedule


@lru_cache(maxsize=256)
def _public_holidays(country: str, subdivision: str, year: int) -> frozenset[date]:
    if not country:
        return frozenset()
    import holidays

    try:
        return frozenset(
            holidays.country_holidays(country, subdiv=subdivision or None, years=year).keys()
        )
    except (NotImplementedError, KeyError):
        return frozenset()


def _is_holiday(hours: Hours, day: date) -> bool:
    return day.isoformat() in hours.custom_holidays or day in _public_holidays(
        hours.country, hours.subdivision, day.year
    )


def _parse(value: str) -> time:
    hour, minute = value.split(":")
    if hour == "24":
        return time(23, 59, 59, 999999)
    return time(int(hour), int(minute))


def _windows(hours: Hours, day: date) -> list[tuple[datetime, datetime]]:
    """Open intervals of one local calendar day, as aware UTC datetimes."""
    if _is_holiday(hours, day):
        return []
    zone = ZoneInfo(hours.time_zone)
    spans = dict(hours.schedule).get(day.weekday(), ())
    result = []
    for start, end in spans:
        a = datetime.combine(day, _parse(start), zone).astimezone(UTC)
        if end in ("24:00", "00:00"):  # until midnight: the start of the next local day
            b = datetime.combine(day + timedelta(days=1), time(0, 0), zone).astimezone(UTC)
        else:
            b = datetime.combine(day, _parse(end), zone).astimezone(UTC)
        if b > a:
            result.append((a, b))
    return sorted(result)


def add_business_minutes(start: datetime, minutes: float, hours: Hours) -> datetime:
    """The instant `minutes` of open time after `start`."""
    if hours.always_open:
        return start + timedelta(minutes=minutes)
    remaining = timedelta(minutes=minutes)
    zone = ZoneInfo(hours.time_zone)
    day = start.astimezone(zone).date()
    for _ in range(MAX_DAYS):
        for a, b in _windows(hours, day):
            if b <= start:
                continue
            begin = max(a, start)
            available = b - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        day += timedelta(days=1)
    raise ValueError("The business hours have no open time in the next ten years.")


def business_minutes_between(start: datetime, end: datetime, hours: Hours) -> float:
    """Open minutes in [start, end)."""
    if end <= start:
        return 0.0
    if hours.always_open:
        return (end - start).total_seconds() / 60
    zone = ZoneInfo(hours.time_zone)
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    total = timedelta()
    while day <= last:
        for a, b in _windows(hours, day):
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total.total_seconds() / 60

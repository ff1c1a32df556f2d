"""Business-hour arithmetic across DST changes, midnight, holidays and multi-day pauses."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from caredesk.sla.hours import Hours, add_business_minutes, business_minutes_between

WEEKDAYS_9_TO_5 = {str(d): [["09:00", "17:00"]] for d in range(5)}


@dataclass
class Config:
    time_zone: str = "UTC"
    schedule: dict = field(default_factory=lambda: dict(WEEKDAYS_9_TO_5))
    country: str = ""
    subdivision: str = ""
    custom_holidays: list = field(default_factory=list)


def hours(**kwargs):
    return Hours.of(Config(**kwargs))


def test_friday_afternoon_plus_two_hours_is_monday_morning():
    friday_4pm = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
    assert add_business_minutes(friday_4pm, 120, hours()) == datetime(
        2026, 11, 23, 10, 0, tzinfo=UTC
    )


def test_public_and_custom_holidays_are_skipped():
    july_3_4pm = datetime(
        2026, 7, 3, 16, 0, tzinfo=UTC
    )  # July 4th 2026 is a Saturday, observed on Friday 3rd
    us = hours(country="US")
    assert add_business_minutes(datetime(2026, 7, 2, 16, 0, tzinfo=UTC), 120, us) == datetime(
        2026, 7, 6, 10, 0, tzinfo=UTC
    )
    custom = hours(custom_holidays=["2026-11-23"])
    friday_4pm = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
    assert add_business_minutes(friday_4pm, 120, custom) == datetime(
        2026, 11, 24, 10, 0, tzinfo=UTC
    )
    assert july_3_4pm.weekday() == 4


def test_dst_change_keeps_local_opening_hours():
    berlin = hours(time_zone="Europe/Berlin")
    # Friday 27 March 2026 16:00 CET (15:00 UTC); clocks go forward on Sunday 29 March.
    start = datetime(2026, 3, 27, 15, 0, tzinfo=UTC)
    due = add_business_minutes(start, 120, berlin)
    # Monday 30 March 10:00 CEST = 08:00 UTC (not 09:00 UTC as before the change).
    assert due == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    # Friday 23 October 16:00 CEST (14:00 UTC); clocks go back on Sunday 25 October.
    autumn = add_business_minutes(datetime(2026, 10, 23, 14, 0, tzinfo=UTC), 120, berlin)
    assert autumn == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)  # Monday 10:00 CET


def test_shifts_across_midnight():
    night = hours(schedule={str(d): [["22:00", "24:00"], ["00:00", "06:00"]] for d in range(7)})
    start = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    assert add_business_minutes(start, 120, night) == datetime(2026, 11, 21, 1, 0, tzinfo=UTC)
    counted = business_minutes_between(
        datetime(2026, 11, 20, 21, 0, tzinfo=UTC), datetime(2026, 11, 21, 7, 0, tzinfo=UTC), night
    )
    assert abs(counted - 8 * 60) < 0.01


def test_around_the_clock_without_a_schedule():
    start = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    assert add_business_minutes(start, 90, hours(schedule={})) == start + timedelta(minutes=90)


def test_a_multi_day_pause_counts_only_open_time():
    # Paused from Thursday 15:00 to Tuesday 11:00: Thu 2h + Fri 8h + Mon 8h + Tue 2h = 20 hours.
    assert (
        business_minutes_between(
            datetime(2026, 11, 19, 15, 0, tzinfo=UTC),
            datetime(2026, 11, 24, 11, 0, tzinfo=UTC),
            hours(),
        )
        == 20 * 60
    )


ZONES = st.sampled_from(
    ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney"]
)
INSTANTS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)


@settings(max_examples=150, deadline=None)
@given(
    start=INSTANTS,
    minutes=st.integers(min_value=0, max_value=60 * 24 * 20),
    zone=ZONES,
    country=st.sampled_from(["", "US", "DE"]),
)
def test_adding_then_counting_gives_back_the_minutes(start, minutes, zone, country):
    h = hours(time_zone=zone, country=country)
    due = add_business_minutes(start, minutes, h)
    assert due >= start
    assert abs(business_minutes_between(start, due, h) - minutes) < 1e-6


@settings(max_examples=100, deadline=None)
@given(start=INSTANTS, a=st.integers(0, 5000), b=st.integers(0, 5000), zone=ZONES)
def test_adding_is_monotonic_and_additive(start, a, b, zone):
    h = hours(time_zone=zone)
    low, high = sorted((a, b))
    assert add_business_minutes(start, low, h) <= add_business_minutes(start, high, h)
    step = add_business_minutes(add_business_minutes(start, a, h), b, h)
    assert (
        step == add_business_minutes(start, a + b, h)
        or business_minutes_between(start, step, h) == a + b
    )

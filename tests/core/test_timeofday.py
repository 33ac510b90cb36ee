"""shipahead.timeofday: the one rule for times of day (24:00–47:59 = the next day)."""

import datetime as dt
import re

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipahead.timeofday import (
    CLOCK_END_S,
    CLOCK_RULE,
    DAY_S,
    format_clock,
    format_clock_down,
    hour_of_day,
    parse_clock,
    parse_time_value,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:00", 0),
        ("8:05", 8 * 3600 + 300),
        ("08:30", 8 * 3600 + 1800),
        (" 23:59 ", 23 * 3600 + 59 * 60),
        ("24:00", DAY_S),
        ("24:41", DAY_S + 41 * 60),
        ("47:59", CLOCK_END_S - 60),
        ("47:59:59", CLOCK_END_S - 1),
        ("08:30:15", 8 * 3600 + 1800 + 15),
    ],
)
def test_parse_clock(text: str, seconds: int) -> None:
    assert parse_clock(text) == seconds


@pytest.mark.parametrize("blank", ["", "  ", "nan", "NaN"])
def test_blank_is_not_set(blank: str) -> None:
    assert parse_clock(blank) is None


@pytest.mark.parametrize("bad", ["48:00", "99:00", "8", "08:60", "8h30", "08:30:60", "-1:00"])
def test_bad_times_name_the_rule(bad: str) -> None:
    with pytest.raises(ValueError, match=re.escape(CLOCK_RULE)):
        parse_clock(bad)


def test_seconds_can_be_refused() -> None:
    assert parse_clock("08:30", seconds=False) == 8 * 3600 + 1800
    with pytest.raises(ValueError, match="is not a time of day"):
        parse_clock("08:30:00", seconds=False)


@pytest.mark.parametrize(
    ("t", "text"),
    [
        (None, ""),
        (float("nan"), ""),
        (0, "00:00"),
        (29.9, "00:00"),
        (30, "00:01"),  # nearest minute, halves up
        (8 * 3600 + 1800, "08:30"),
        (DAY_S + 14 * 60, "24:14"),
        (CLOCK_END_S, "47:59"),  # past 48:00 is clamped so it can be read back
        (-100, "00:00"),
    ],
)
def test_format_clock(t: float | None, text: str) -> None:
    assert format_clock(t) == text


@given(st.integers(min_value=0, max_value=CLOCK_END_S // 60 - 1))
def test_whole_minutes_round_trip(minutes: int) -> None:
    assert parse_clock(format_clock(minutes * 60)) == minutes * 60


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_what_is_written_can_be_read_back(t: float) -> None:
    back = parse_clock(format_clock(t))
    assert back is not None and 0 <= back < CLOCK_END_S


def test_format_clock_down_cuts_and_never_clamps() -> None:
    assert format_clock_down(8 * 3600 + 59 * 60 + 59) == "08:59"
    assert format_clock_down(49 * 3600 + 5 * 60) == "49:05"
    assert format_clock_down(61.9) == "00:01"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        (float("nan"), None),
        ("", None),
        ("  ", None),
        ("08:30", 8 * 3600 + 1800),
        ("510", 510 * 60),  # minutes from midnight, as text
        (510.0, 510 * 60),  # ... or as a number (how read_table gives HH:MM columns)
        (0.5, 30),
        (pd.Timedelta(hours=8, minutes=30), 8 * 3600 + 1800),
        (dt.timedelta(hours=25), 25 * 3600),
    ],
)
def test_parse_time_value(value: object, seconds: int | None) -> None:
    assert parse_time_value(value) == seconds


@pytest.mark.parametrize("bad", ["8h30", "48:00", "soon"])
def test_parse_time_value_refuses_bad_text(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_time_value(bad)


@pytest.mark.parametrize(
    ("t", "hour"), [(0, 0), (3599.9, 0), (8 * 3600, 8), (DAY_S + 1800, 0), (47 * 3600, 23)]
)
def test_hour_of_day(t: float, hour: int) -> None:
    assert hour_of_day(t) == hour


def test_routing_reexports_the_rule() -> None:
    import shipahead.routing as routing

    assert routing.parse_clock is parse_clock
    assert routing.format_clock is format_clock
    assert routing.CLOCK_RULE == CLOCK_RULE
    assert routing.hhmm is format_clock

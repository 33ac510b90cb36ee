"""Times of day: seconds from the plan day's midnight, and the one rule for writing them.

The rule: ``HH:MM`` where 24:00–47:59 is the next day. A plan covers the delivery day and
the night after it: a shift that ends at 24:00 may bring a vehicle back at ``24:41`` (00:41
the next morning). Every time of day that shipahead reads (stops, fleet, events, routes,
scenario files, ``--depart``/``--at``) or writes (routes, driver sheets, unassigned stops)
follows this rule: hours 00–47, minutes 00–59 (input may add ``:SS``); a blank cell means
"not set" (an open window end, no break). Inside, a time of day is a number of seconds from
the plan day's midnight. Stdlib only, so the file contracts can use it without loading the
routing stack.
"""

from __future__ import annotations

import datetime as dt
import math
import re

__all__ = [
    "CLOCK_END_S",
    "CLOCK_RULE",
    "DAY_S",
    "format_clock",
    "format_clock_down",
    "hour_of_day",
    "parse_clock",
    "parse_time_value",
]

#: seconds in a day
DAY_S = 86_400
#: first second that is no longer a valid time of day (48:00)
CLOCK_END_S = 2 * DAY_S
#: the rule in words (messages and docs)
CLOCK_RULE = "HH:MM, 00:00–47:59 (24:00–47:59 = the next day)"

_CLOCK = re.compile(r"^(\d{1,2}):([0-5]\d)(?::([0-5]\d))?$")


def parse_clock(text: str, *, seconds: bool = True) -> int | None:
    """``HH:MM[:SS]`` -> seconds from the plan day's midnight; blank -> None.

    ``seconds=False`` refuses the ``:SS`` part. Raises ``ValueError`` for anything else,
    including hours past 47.
    """
    v = str(text).strip()
    if not v or v.lower() == "nan":
        return None
    m = _CLOCK.match(v)
    if m is None or (m[3] is not None and not seconds):
        raise ValueError(f"{text!r} is not a time of day ({CLOCK_RULE})")
    h, mi, s = int(m[1]), int(m[2]), int(m[3] or 0)
    t = h * 3600 + mi * 60 + s
    if t >= CLOCK_END_S:
        raise ValueError(f"{text!r} is past 47:59 ({CLOCK_RULE})")
    return t


def parse_time_value(value: object) -> int | None:
    """A table cell's time of day -> seconds from midnight; blank/NaN -> None.

    Text is ``HH:MM[:SS]`` (:func:`parse_clock`) or a number of minutes from midnight; a
    number is minutes from midnight (how ``cli.io.read_table`` reads ``HH:MM`` columns); a
    ``timedelta`` (also ``pandas.Timedelta``) is the time since midnight, whole seconds.
    Text that is neither raises ``ValueError``.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        v = value.strip()
        if not v:
            return None
        if ":" in v:
            return parse_clock(v)
        return round(float(v) * 60)
    if isinstance(value, dt.timedelta):
        return int(value.total_seconds())
    return round(float(value) * 60)  # type: ignore[arg-type]


def format_clock(t: float | None) -> str:
    """Seconds from the plan day's midnight -> ``HH:MM`` (nearest minute); None/NaN -> ``""``.

    Times from 24:00 on are the next day (``24:14`` = 00:14 the next morning); a time at or
    past 48:00 is written as ``47:59`` so that what is written can always be read back.
    """
    if t is None or (isinstance(t, float) and math.isnan(t)):
        return ""
    m = math.floor(float(t) / 60.0 + 0.5)
    m = min(max(m, 0), CLOCK_END_S // 60 - 1)
    return f"{m // 60:02d}:{m % 60:02d}"


def format_clock_down(t: float) -> str:
    """Seconds from midnight -> ``HH:MM`` with the seconds cut off, never clamped (messages).

    Unlike :func:`format_clock` this does not round and writes any hour (``49:05``), so a
    message shows the time the way it was computed, not the way a file may hold it.
    """
    t = int(t)
    return f"{t // 3600:02d}:{(t % 3600) // 60:02d}"


def hour_of_day(t: float) -> int:
    """Seconds from midnight -> hour of the day, 0–23 (24:30 is hour 0 of the next day)."""
    return int(t // 3600) % 24

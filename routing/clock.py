"""The one rule for times of day in files: ``HH:MM`` where 24:00–47:59 is the next day.

A plan covers the delivery day and the night after it: a shift that ends at 24:00 may
bring a vehicle back at ``24:41`` (00:41 the next morning). Every time of day that
shipahead reads (stops, fleet, events, routes) or writes (routes, driver sheets,
unassigned stops) follows this rule: hours 00–47, minutes 00–59 (input may add ``:SS``);
a blank cell means "not set" (an open window end, no break). Stdlib only, so the file
contracts can use it without loading the routing stack.
"""

from __future__ import annotations

import math
import re

__all__ = ["CLOCK_END_S", "CLOCK_RULE", "format_clock", "parse_clock"]

#: first second that is no longer a valid time of day (48:00)
CLOCK_END_S = 2 * 86_400
#: the rule in words (messages and docs)
CLOCK_RULE = "HH:MM, 00:00–47:59 (24:00–47:59 = the next day)"

_CLOCK = re.compile(r"^(\d{1,2}):([0-5]\d)(?::([0-5]\d))?$")


def parse_clock(text: str) -> int | None:
    """``HH:MM[:SS]`` -> seconds from the plan day's midnight; blank -> None.

    Raises ``ValueError`` for anything else, including hours past 47.
    """
    v = str(text).strip()
    if not v or v.lower() == "nan":
        return None
    m = _CLOCK.match(v)
    if m is None:
        raise ValueError(f"{text!r} is not a time of day ({CLOCK_RULE})")
    h, mi, s = int(m[1]), int(m[2]), int(m[3] or 0)
    t = h * 3600 + mi * 60 + s
    if t >= CLOCK_END_S:
        raise ValueError(f"{text!r} is past 47:59 ({CLOCK_RULE})")
    return t


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

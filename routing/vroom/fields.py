"""Readers of JSON values that name their path in every error (``jobs[3].service: ...``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..errors import InputError
from .model import MAX_INT


def _err(path: str, msg: str, fix: str | None = None) -> InputError:
    return InputError(f"{path}: {msg}", column=path, fix=fix)


_UNSUPPORTED_HINTS = {
    "setup_per_type": "per-vehicle-type setup times are not supported",
    "service_per_type": "per-vehicle-type service times are not supported",
    "max_tasks": "a task limit per vehicle is not supported",
    "max_travel_time": "a travel-time limit per vehicle is not supported",
    "max_distance": "a distance limit per vehicle is not supported",
}


def _check_keys(obj: Mapping[str, Any], allowed: set[str], path: str) -> None:
    for k in obj:
        if k not in allowed:
            why = _UNSUPPORTED_HINTS.get(str(k), "not supported")
            raise _err(
                f"{path}.{k}" if path else str(k),
                why,
                fix=f"remove it (supported: {', '.join(sorted(allowed))})",
            )


def _obj(x: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(x, Mapping):
        raise _err(path, f"must be an object, not {type(x).__name__}")
    return x


def _list(x: Any, path: str) -> list:
    if not isinstance(x, list):
        raise _err(path, f"must be an array, not {type(x).__name__}")
    return x


def _int(x: Any, path: str, *, lo: int = 0, hi: int = MAX_INT) -> int:
    """A JSON integer (a float with an integral value is accepted) in [lo, hi]."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise _err(path, f"must be an integer, not {_show(x)}")
    if isinstance(x, float):
        if not math.isfinite(x) or x != int(x):
            raise _err(path, f"must be an integer, not {_show(x)}")
        x = int(x)
    if not lo <= x <= hi:
        raise _err(path, f"{x} is outside {lo}–{hi}")
    return int(x)


def _number(x: Any, path: str, *, lo: float, hi: float, open_lo: bool = False) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(float(x)):
        raise _err(path, f"must be a finite number, not {_show(x)}")
    v = float(x)
    if v < lo or v > hi or (open_lo and v == lo):
        raise _err(path, f"{v:g} is outside {'(' if open_lo else '['}{lo:g}, {hi:g}]")
    return v


def _show(x: Any) -> str:
    s = repr(x)
    return s if len(s) <= 40 else s[:37] + "..."


def _text(x: Any, path: str) -> str:
    if not isinstance(x, str):
        raise _err(path, f"must be a string, not {_show(x)}")
    if len(x) > 1000:
        raise _err(path, "is longer than 1000 characters")
    return x


def _coords(x: Any, path: str) -> tuple[float, float]:
    xs = _list(x, path)
    if len(xs) != 2:
        raise _err(path, f"must be [lon, lat], got {len(xs)} numbers")
    lon = _number(xs[0], f"{path}[0]", lo=-180.0, hi=180.0)
    lat = _number(xs[1], f"{path}[1]", lo=-90.0, hi=90.0)
    return (lon, lat)


def _amount(x: Any, path: str) -> tuple[int, ...]:
    return tuple(_int(v, f"{path}[{k}]") for k, v in enumerate(_list(x, path)))


def _window(x: Any, path: str) -> tuple[int, int]:
    xs = _list(x, path)
    if len(xs) != 2:
        raise _err(path, "must be [start, end]")
    a, b = _int(xs[0], f"{path}[0]"), _int(xs[1], f"{path}[1]")
    if b < a:
        raise _err(path, f"end {b} is before start {a}", fix="make end >= start")
    return (a, b)


def _skills(x: Any, path: str) -> frozenset[int]:
    return frozenset(_int(v, f"{path}[{k}]") for k, v in enumerate(_list(x, path)))

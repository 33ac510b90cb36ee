"""VROOM's JSON problem and solution format over shipahead's planner (dispatch).

:func:`parse_vroom` validates a problem written for VROOM (https://github.com/VROOM-Project/vroom,
docs/API.md) and :func:`solve_vroom` solves it with shipahead's engines and answers in VROOM's
output format; :func:`replan_vroom` applies dispatch events (:func:`parse_events`) during the day.

Two ways to get travel times:

- ``matrices`` given: the ``durations`` (and ``distances``) of each vehicle's ``profile`` are
  the travel times (s) and distances (m) between ``location_index`` rows, used as they are
  (scaled by a vehicle's ``speed_factor``); ETAs follow the matrices.
- no ``matrices``: every ``location``/``start``/``end`` ``[lon, lat]`` is snapped to the road
  network and the plan is made and simulated as ``shipahead route`` does (hourly traffic
  buckets, weather, the plan/simulate loop): ``arrival`` is the time-dependent simulated ETA.

Supported VROOM fields (a field outside this list, or a value we cannot honour, is an
:class:`InputError` naming its JSON path — never silently ignored):

- ``jobs[]``: ``id``, ``description``, ``location``, ``location_index``, ``service``,
  ``setup`` (0 only), ``delivery``, ``pickup``, ``amount`` (deprecated; read as
  ``delivery``), ``time_windows`` (at most one window), ``skills``, ``priority``.
- ``vehicles[]``: ``id``, ``profile``, ``description``, ``type``, ``start``, ``start_index``,
  ``end``, ``end_index``, ``capacity``, ``time_window``, ``breaks`` (at most one, with at
  most one window, no ``max_load``), ``skills``, ``costs`` (``fixed``, ``per_hour``,
  ``per_km``; ``per_task_hour`` 0 only), ``speed_factor`` (matrices only), ``steps``
  (solving mode: the route's jobs are the warm start, as in VROOM).
- ``matrices``: per profile ``durations`` and ``distances`` (``costs`` is not supported).
- ``shipments``: an empty list only.
- ``options`` (shipahead's own knobs): ``time_limit_s``, ``engine`` (auto, ortools, pyvrp),
  ``seed``, ``deterministic``, ``date`` (YYYY-MM-DD: weekday of the traffic profile, weather
  day), ``depart`` (HH:MM or seconds: earliest departure replacing shift starts),
  ``max_snap_m``.

Without matrices the road planner also needs: one load dimension, routes that end where
they start, equal job priorities, skills every vehicle can serve, ``speed_factor`` 1.

How VROOM's rules map: job amounts are ``delivery`` (loaded at the start) and ``pickup``
(brought back); the solver sees ``delivery + pickup`` per job, which is exact when a route
carries only one of the two and safe (never over capacity) when it mixes them; the reported
``load`` follows VROOM's rule. Costs (output and objective) are VROOM's: ``costs.fixed +
per_hour * travel_s / 3600 + per_km * metres / 1000`` per used vehicle, ``per_hour``
defaulting to 3600 (so without costs a route costs its travel time in seconds). Every job
that can be served is served before cost is looked at (``priority`` weighs which to keep);
unserved jobs are ``unassigned`` with a ``reason``.

Times: seconds. Windows given as absolute timestamps (any time value from two days on)
are read relative to the UTC midnight of the earliest one and written back absolute; the
time of day for traffic is then UTC, and the plan date (``options.date`` unset) that day.

Size bounds (checked before any work, :class:`VroomLimits`; callers may pass their own):
:data:`MAX_JOBS` jobs, :data:`MAX_VEHICLES` vehicles, :data:`MAX_MATRIX_SIZE` matrix rows,
:data:`MAX_AMOUNT_DIMS` load dimensions, :data:`MAX_TIME_LIMIT_S` s of solver time,
:data:`MAX_EVENTS` events per batch, :data:`MAX_PROBLEM_BYTES` bytes of JSON (checked by the
caller that reads it).

Pure: dicts in, dicts and dataclasses out; no file I/O.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .errors import InputError

__all__ = [
    "MAX_AMOUNT_DIMS",
    "MAX_EVENTS",
    "MAX_JOBS",
    "MAX_MATRIX_SIZE",
    "MAX_PROBLEM_BYTES",
    "MAX_TIME_LIMIT_S",
    "MAX_VEHICLES",
    "DispatchResult",
    "VroomLimits",
    "VroomProblem",
    "parse_events",
    "parse_vroom",
    "replan_vroom",
    "solve_vroom",
    "solve_vroom_plan",
]

#: default bounds (the CLI's ``SHIPAHEAD_MAX_STOPS`` / ``..._VEHICLES`` style; see VroomLimits)
MAX_JOBS = 10_000
MAX_VEHICLES = 1_000
MAX_MATRIX_SIZE = 4_000
MAX_AMOUNT_DIMS = 16
MAX_TIME_LIMIT_S = 3600.0
MAX_EVENTS = 10_000
#: largest problem document a caller should read (bytes of JSON), 64 MiB
MAX_PROBLEM_BYTES = 64 * 1024 * 1024
#: vehicles x nodes x nodes when vehicles need their own travel-time matrix (1.6 GB)
MAX_PER_VEHICLE_ENTRIES = 200_000_000
#: largest integer accepted for times, amounts and matrix entries (2**40)
MAX_INT = 2**40
DAY_S = 86_400
DEFAULT_PER_HOUR = 3600


@dataclass(frozen=True)
class VroomLimits:
    """Size bounds of one problem / event batch (counts; seconds for ``time_limit_s``)."""

    jobs: int = MAX_JOBS
    vehicles: int = MAX_VEHICLES
    matrix_size: int = MAX_MATRIX_SIZE
    amount_dims: int = MAX_AMOUNT_DIMS
    time_limit_s: float = MAX_TIME_LIMIT_S
    events: int = MAX_EVENTS
    #: checked by callers before decoding the JSON (parse_vroom sees the decoded object)
    problem_bytes: int = MAX_PROBLEM_BYTES


# --------------------------------------------------------------------------------------
# the validated problem


@dataclass(frozen=True)
class Job:
    """One VROOM job (times in the problem's own frame, seconds)."""

    id: int
    location: tuple[float, float] | None
    location_index: int | None
    service: int
    delivery: tuple[int, ...]
    pickup: tuple[int, ...]
    time_window: tuple[int, int] | None
    skills: frozenset[int]
    priority: int
    description: str | None = None


@dataclass(frozen=True)
class VroomBreak:
    """A vehicle break: ``service`` seconds starting within ``time_window`` (None: any time)."""

    id: int
    time_window: tuple[int, int] | None
    service: int
    description: str | None = None


@dataclass(frozen=True)
class VroomVehicle:
    """One VROOM vehicle (costs in currency; ``per_hour`` of travel time, ``per_km``)."""

    id: int
    profile: str
    start: tuple[float, float] | None
    start_index: int | None
    end: tuple[float, float] | None
    end_index: int | None
    capacity: tuple[int, ...]
    time_window: tuple[int, int] | None
    breaks: tuple[VroomBreak, ...]
    skills: frozenset[int]
    fixed: int = 0
    per_hour: int = DEFAULT_PER_HOUR
    per_km: int = 0
    speed_factor: float = 1.0
    steps: tuple[int, ...] = ()  # job ids of `steps` (warm start)
    description: str | None = None


@dataclass(frozen=True)
class VroomOptions:
    """shipahead's knobs (``options``): solver, limits, the day."""

    time_limit_s: float = 10.0
    engine: str = "auto"
    seed: int = 0
    deterministic: bool = False
    date: str | None = None
    depart_s: int | None = None
    max_snap_m: float = 500.0


@dataclass(frozen=True, eq=False)
class VroomProblem:
    """A validated VROOM problem: jobs, vehicles, matrices per profile, options.

    ``matrices`` maps a profile to ``{"durations": (m, m) int64 s, "distances": (m, m)
    int64 m}`` (``distances`` optional). ``dims`` is the number of load dimensions (0: no
    amounts anywhere). ``t0`` is the offset (s) subtracted from every time inside.
    """

    jobs: tuple[Job, ...]
    vehicles: tuple[VroomVehicle, ...]
    matrices: dict[str, dict[str, np.ndarray]]
    options: VroomOptions
    dims: int
    t0: int = 0

    @property
    def uses_matrices(self) -> bool:
        """Whether travel times come from ``matrices`` (else from a road network)."""
        return bool(self.matrices)

    def job_index(self) -> dict[int, int]:
        """Job id -> position in ``jobs``."""
        return {j.id: k for k, j in enumerate(self.jobs)}


def _err(path: str, msg: str, fix: str | None = None) -> InputError:
    return InputError(f"{path}: {msg}", column=path, fix=fix)


_JOB_KEYS = {
    "id",
    "description",
    "location",
    "location_index",
    "setup",
    "service",
    "amount",
    "delivery",
    "pickup",
    "skills",
    "priority",
    "time_windows",
}
_VEHICLE_KEYS = {
    "id",
    "profile",
    "description",
    "type",
    "start",
    "start_index",
    "end",
    "end_index",
    "capacity",
    "costs",
    "skills",
    "time_window",
    "breaks",
    "speed_factor",
    "steps",
}
_UNSUPPORTED_HINTS = {
    "setup_per_type": "per-vehicle-type setup times are not supported",
    "service_per_type": "per-vehicle-type service times are not supported",
    "max_tasks": "a task limit per vehicle is not supported",
    "max_travel_time": "a travel-time limit per vehicle is not supported",
    "max_distance": "a distance limit per vehicle is not supported",
}
_OPTION_KEYS = {
    "time_limit_s",
    "engine",
    "seed",
    "deterministic",
    "date",
    "depart",
    "max_snap_m",
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


def parse_vroom(doc: Mapping[str, Any], *, limits: VroomLimits | None = None) -> VroomProblem:
    """Validate a VROOM problem (the decoded JSON object).

    Parameters
    ----------
    doc
        The problem: ``jobs``, ``vehicles``, optional ``matrices``, ``options``.
    limits
        Size bounds (default :class:`VroomLimits`), checked before anything else is read.

    Raises
    ------
    routing.InputError
        Naming the JSON path (``message`` starts with it, ``column`` is it), e.g.
        ``jobs[3].time_windows[0]: end 3600 is before start 7200``; an unsupported field
        is named with ``not supported``.
    """
    lim = limits or VroomLimits()
    doc = _obj(doc, "problem")
    _check_keys(doc, {"jobs", "vehicles", "matrices", "options", "shipments"}, "")
    shipments = doc.get("shipments")
    if shipments is not None and _list(shipments, "shipments"):
        raise _err(
            "shipments",
            "not supported (pickup-and-delivery pairs)",
            fix="give jobs only (a job may have both delivery and pickup amounts)",
        )
    jobs_raw = _list(doc.get("jobs", []), "jobs")
    veh_raw = _list(doc.get("vehicles"), "vehicles") if "vehicles" in doc else []
    if len(jobs_raw) > lim.jobs:
        raise _err("jobs", f"{len(jobs_raw)} jobs exceed the limit of {lim.jobs}")
    if not veh_raw:
        raise _err("vehicles", "no vehicles", fix="give at least one vehicle")
    if len(veh_raw) > lim.vehicles:
        raise _err("vehicles", f"{len(veh_raw)} vehicles exceed the limit of {lim.vehicles}")
    matrices = _parse_matrices(doc.get("matrices"), lim)
    jobs = tuple(_parse_job(j, f"jobs[{k}]", lim) for k, j in enumerate(jobs_raw))
    vehicles = tuple(_parse_vehicle(v, f"vehicles[{k}]", lim) for k, v in enumerate(veh_raw))
    options = _parse_options(doc.get("options"), lim)
    _check_ids(jobs, vehicles)
    dims = _check_dims(jobs, vehicles, lim)
    _check_locations(jobs, vehicles, matrices)
    t0 = _time_offset(jobs, vehicles)
    if options.depart_s is not None and isinstance((doc.get("options") or {}).get("depart"), str):
        # HH:MM is a time of the plan day: in the problem's frame it is t0 + that
        options = replace(options, depart_s=t0 + options.depart_s)
    p = VroomProblem(jobs, vehicles, matrices, options, dims, t0)
    if not p.uses_matrices:
        _check_network_fit(p)
    return p


def _parse_matrices(x: Any, lim: VroomLimits) -> dict[str, dict[str, np.ndarray]]:
    if x is None:
        return {}
    out: dict[str, dict[str, np.ndarray]] = {}
    for prof, m in _obj(x, "matrices").items():
        path = f"matrices.{prof}"
        m = _obj(m, path)
        _check_keys(m, {"durations", "distances"}, path)
        if "durations" not in m:
            raise _err(f"{path}.durations", "missing", fix="give a durations matrix (s)")
        mats = {}
        for key in ("durations", "distances"):
            if key not in m:
                continue
            rows = _list(m[key], f"{path}.{key}")
            size = len(rows)
            if size == 0:
                raise _err(f"{path}.{key}", "is empty")
            if size > lim.matrix_size:
                raise _err(f"{path}.{key}", f"{size} rows exceed the limit of {lim.matrix_size}")
            for i, r in enumerate(rows):
                if not isinstance(r, list) or len(r) != size:
                    raise _err(f"{path}.{key}[{i}]", f"must be an array of {size} integers")
            try:
                arr = np.asarray(rows, dtype=np.float64)
            except (TypeError, ValueError):
                arr = None
            if arr is None or arr.shape != (size, size):
                raise _err(f"{path}.{key}", "must hold integers only")
            bad = ~np.isfinite(arr) | (arr < 0) | (arr > MAX_INT) | (arr != np.floor(arr))
            if bad.any():
                i, j = (int(v) for v in np.argwhere(bad)[0])
                raise _err(
                    f"{path}.{key}[{i}][{j}]",
                    f"{_show(rows[i][j])} is not an integer in 0–{MAX_INT}",
                )
            mats[key] = arr.astype(np.int64)
        if "distances" in mats and mats["distances"].shape != mats["durations"].shape:
            raise _err(f"{path}.distances", "must have the size of durations")
        out[str(prof)] = mats
    if not out:
        raise _err("matrices", "is empty", fix="give matrices per profile or leave it out")
    return out


def _parse_job(x: Any, path: str, lim: VroomLimits) -> Job:
    j = _obj(x, path)
    _check_keys(j, _JOB_KEYS, path)
    if "id" not in j:
        raise _err(f"{path}.id", "missing", fix="give every job an integer id")
    if "setup" in j and _int(j["setup"], f"{path}.setup") != 0:
        raise _err(f"{path}.setup", "setup times are not supported", fix="add it to service")
    if "amount" in j and "delivery" in j:
        raise _err(f"{path}.amount", "give delivery or the deprecated amount, not both")
    tws = _list(j["time_windows"], f"{path}.time_windows") if "time_windows" in j else []
    if len(tws) > 1:
        raise _err(
            f"{path}.time_windows",
            f"{len(tws)} windows: more than one time window per job is not supported",
            fix="give one window",
        )
    tw = _window(tws[0], f"{path}.time_windows[0]") if tws else None
    deliv = j.get("delivery", j.get("amount"))
    dkey = "delivery" if "delivery" in j else "amount"
    return Job(
        id=_int(j["id"], f"{path}.id"),
        location=_coords(j["location"], f"{path}.location") if "location" in j else None,
        location_index=(
            _int(j["location_index"], f"{path}.location_index", hi=lim.matrix_size - 1)
            if "location_index" in j
            else None
        ),
        service=_int(j.get("service", 0), f"{path}.service", hi=10 * DAY_S),
        delivery=_amount(deliv, f"{path}.{dkey}") if deliv is not None else (),
        pickup=_amount(j["pickup"], f"{path}.pickup") if "pickup" in j else (),
        time_window=tw,
        skills=_skills(j["skills"], f"{path}.skills") if "skills" in j else frozenset(),
        priority=_int(j.get("priority", 0), f"{path}.priority", hi=100),
        description=_text(j["description"], f"{path}.description") if "description" in j else None,
    )


def _parse_vehicle(x: Any, path: str, lim: VroomLimits) -> VroomVehicle:
    v = _obj(x, path)
    _check_keys(v, _VEHICLE_KEYS, path)
    if "id" not in v:
        raise _err(f"{path}.id", "missing", fix="give every vehicle an integer id")
    costs = _obj(v.get("costs", {}), f"{path}.costs")
    _check_keys(costs, {"fixed", "per_hour", "per_km", "per_task_hour"}, f"{path}.costs")
    if _int(costs.get("per_task_hour", 0), f"{path}.costs.per_task_hour") != 0:
        raise _err(f"{path}.costs.per_task_hour", "a cost of task time is not supported")
    brs = _list(v.get("breaks", []), f"{path}.breaks")
    if len(brs) > 1:
        raise _err(f"{path}.breaks", "more than one break per vehicle is not supported")
    breaks = tuple(_parse_break(b, f"{path}.breaks[{k}]") for k, b in enumerate(brs))
    steps: list[int] = []
    for k, s in enumerate(_list(v.get("steps", []), f"{path}.steps")):
        sp = f"{path}.steps[{k}]"
        s = _obj(s, sp)
        _check_keys(
            s, {"type", "id", "service_at", "service_after", "service_before"}, sp
        )  # service_* are not used in solving mode (VROOM's rule)
        t = s.get("type")
        if t not in ("start", "job", "break", "end"):
            raise _err(
                f"{sp}.type",
                f"{_show(t)} is not supported",
                fix="use start, job, break or end (no shipments)",
            )
        if t == "job":
            if "id" not in s:
                raise _err(f"{sp}.id", "missing")
            steps.append(_int(s["id"], f"{sp}.id"))
    return VroomVehicle(
        id=_int(v["id"], f"{path}.id"),
        profile=_text(v.get("profile", "car"), f"{path}.profile"),
        start=_coords(v["start"], f"{path}.start") if "start" in v else None,
        start_index=(
            _int(v["start_index"], f"{path}.start_index", hi=lim.matrix_size - 1)
            if "start_index" in v
            else None
        ),
        end=_coords(v["end"], f"{path}.end") if "end" in v else None,
        end_index=(
            _int(v["end_index"], f"{path}.end_index", hi=lim.matrix_size - 1)
            if "end_index" in v
            else None
        ),
        capacity=_amount(v["capacity"], f"{path}.capacity") if "capacity" in v else (),
        time_window=(
            _window(v["time_window"], f"{path}.time_window") if "time_window" in v else None
        ),
        breaks=breaks,
        skills=_skills(v["skills"], f"{path}.skills") if "skills" in v else frozenset(),
        fixed=_int(costs.get("fixed", 0), f"{path}.costs.fixed"),
        per_hour=_int(costs.get("per_hour", DEFAULT_PER_HOUR), f"{path}.costs.per_hour"),
        per_km=_int(costs.get("per_km", 0), f"{path}.costs.per_km"),
        speed_factor=(
            _number(v["speed_factor"], f"{path}.speed_factor", lo=0.0, hi=5.0, open_lo=True)
            if "speed_factor" in v
            else 1.0
        ),
        steps=tuple(steps),
        description=_text(v["description"], f"{path}.description") if "description" in v else None,
    )


def _parse_break(x: Any, path: str) -> VroomBreak:
    b = _obj(x, path)
    _check_keys(b, {"id", "time_windows", "service", "description", "max_load"}, path)
    if "max_load" in b:
        raise _err(f"{path}.max_load", "a load limit for breaks is not supported")
    if "id" not in b:
        raise _err(f"{path}.id", "missing")
    tws = _list(b.get("time_windows", []), f"{path}.time_windows")
    if len(tws) > 1:
        raise _err(f"{path}.time_windows", "more than one break window is not supported")
    return VroomBreak(
        id=_int(b["id"], f"{path}.id"),
        time_window=_window(tws[0], f"{path}.time_windows[0]") if tws else None,
        service=_int(b.get("service", 0), f"{path}.service", hi=10 * DAY_S),
        description=_text(b["description"], f"{path}.description") if "description" in b else None,
    )


def _parse_options(x: Any, lim: VroomLimits) -> VroomOptions:
    if x is None:
        return VroomOptions()
    o = _obj(x, "options")
    _check_keys(o, _OPTION_KEYS, "options")
    kw: dict[str, Any] = {}
    if "time_limit_s" in o:
        kw["time_limit_s"] = _number(
            o["time_limit_s"], "options.time_limit_s", lo=0.0, hi=lim.time_limit_s, open_lo=True
        )
    if "engine" in o:
        e = o["engine"]
        if e not in ("auto", "ortools", "pyvrp"):
            raise _err("options.engine", f"{_show(e)} is unknown", fix="use auto, ortools or pyvrp")
        kw["engine"] = e
    if "seed" in o:
        kw["seed"] = _int(o["seed"], "options.seed", hi=2**31 - 1)
    if "deterministic" in o:
        if not isinstance(o["deterministic"], bool):
            raise _err("options.deterministic", "must be true or false")
        kw["deterministic"] = o["deterministic"]
    if "date" in o and o["date"] is not None:
        d = _text(o["date"], "options.date")
        try:
            kw["date"] = dt.date.fromisoformat(d).isoformat()
        except ValueError:
            raise _err(
                "options.date", f"{_show(d)} is not a date", fix="write YYYY-MM-DD"
            ) from None
    if "depart" in o and o["depart"] is not None:
        d = o["depart"]
        if isinstance(d, str):
            from shipahead.timeofday import parse_clock

            try:
                kw["depart_s"] = parse_clock(d)
            except ValueError:
                raise _err(
                    "options.depart", f"{_show(d)} is not a time", fix="write HH:MM"
                ) from None
        else:
            kw["depart_s"] = _int(d, "options.depart")
    if "max_snap_m" in o:
        kw["max_snap_m"] = _number(o["max_snap_m"], "options.max_snap_m", lo=0.0, hi=50_000.0)
    return VroomOptions(**kw)


def _check_ids(jobs: Sequence[Job], vehicles: Sequence[VroomVehicle]) -> None:
    seen: dict[int, int] = {}
    for k, j in enumerate(jobs):
        if j.id in seen:
            raise _err(f"jobs[{k}].id", f"{j.id} repeats jobs[{seen[j.id]}]", fix="make ids unique")
        seen[j.id] = k
    vseen: dict[int, int] = {}
    for k, v in enumerate(vehicles):
        if v.id in vseen:
            raise _err(
                f"vehicles[{k}].id",
                f"{v.id} repeats vehicles[{vseen[v.id]}]",
                fix="make ids unique",
            )
        vseen[v.id] = k
        for jid in v.steps:
            if jid not in seen:
                raise _err(f"vehicles[{k}].steps", f"job {jid} is not in jobs")
        if len(set(v.steps)) != len(v.steps):
            raise _err(f"vehicles[{k}].steps", "names a job twice")
    used: dict[int, int] = {}
    for k, v in enumerate(vehicles):
        for jid in v.steps:
            if jid in used:
                raise _err(
                    f"vehicles[{k}].steps", f"job {jid} is also in vehicles[{used[jid]}].steps"
                )
            used[jid] = k


def _check_dims(jobs: Sequence[Job], vehicles: Sequence[VroomVehicle], lim: VroomLimits) -> int:
    lens = {len(x) for j in jobs for x in (j.delivery, j.pickup) if x}
    lens |= {len(v.capacity) for v in vehicles if v.capacity}
    if not lens:
        return 0
    dims = max(lens)
    if dims > lim.amount_dims:
        raise _err("vehicles", f"{dims} load dimensions exceed the limit of {lim.amount_dims}")
    for k, v in enumerate(vehicles):
        if len(v.capacity) != dims:
            raise _err(
                f"vehicles[{k}].capacity",
                f"has {len(v.capacity)} values, the problem's amounts have {dims}",
                fix=f"give {dims} capacities",
            )
    for k, j in enumerate(jobs):
        for name, a in (("delivery", j.delivery), ("pickup", j.pickup)):
            if a and len(a) != dims:
                raise _err(f"jobs[{k}].{name}", f"has {len(a)} values, capacities have {dims}")
    return dims


def _check_locations(
    jobs: Sequence[Job], vehicles: Sequence[VroomVehicle], matrices: Mapping[str, Any]
) -> None:
    if matrices:
        for k, v in enumerate(vehicles):
            if v.profile not in matrices:
                raise _err(
                    f"vehicles[{k}].profile",
                    f"no matrices for profile {v.profile!r}",
                    fix="give matrices for every vehicle profile",
                )
        profiles = {v.profile for v in vehicles}
        size = min(len(matrices[p]["durations"]) for p in profiles)

        def need(idx: int | None, path: str, optional: bool = False) -> None:
            if idx is None:
                if not optional:
                    raise _err(path, "missing (required with matrices)")
                return
            if idx >= size:
                raise _err(path, f"{idx} is outside the matrices (size {size})")

        for k, j in enumerate(jobs):
            need(j.location_index, f"jobs[{k}].location_index")
        for k, v in enumerate(vehicles):
            need(v.start_index, f"vehicles[{k}].start_index", optional=True)
            need(v.end_index, f"vehicles[{k}].end_index", optional=True)
            if v.start_index is None and v.end_index is None:
                raise _err(f"vehicles[{k}]", "has neither start_index nor end_index")
    else:
        for k, j in enumerate(jobs):
            if j.location is None:
                raise _err(
                    f"jobs[{k}].location", "missing (required without matrices)", fix="[lon, lat]"
                )
        for k, v in enumerate(vehicles):
            if v.start is None and v.end is None:
                raise _err(f"vehicles[{k}]", "has neither start nor end")


def _all_times(jobs: Sequence[Job], vehicles: Sequence[VroomVehicle]) -> list[int]:
    ts = [t for j in jobs if j.time_window for t in j.time_window]
    for v in vehicles:
        if v.time_window:
            ts.extend(v.time_window)
        for b in v.breaks:
            if b.time_window:
                ts.extend(b.time_window)
    return ts


def _time_offset(jobs: Sequence[Job], vehicles: Sequence[VroomVehicle]) -> int:
    """0 for relative times; the UTC midnight of the earliest time for absolute ones."""
    ts = _all_times(jobs, vehicles)
    lo = min(ts, default=0)
    return (lo // DAY_S) * DAY_S if lo >= 2 * DAY_S else 0


def _check_network_fit(p: VroomProblem) -> None:
    """What the road planner (stops/fleet tables) cannot express is named here."""
    if p.dims > 1:
        raise _err(
            "vehicles[0].capacity",
            f"{p.dims} load dimensions need matrices (the road planner has one)",
            fix="give one amount per job and vehicle, or pass matrices",
        )
    for k, v in enumerate(p.vehicles):
        path = f"vehicles[{k}]"
        if v.start is None:
            raise _err(f"{path}.start", "missing: on a road network a route starts at a depot")
        if v.end is None or v.end != v.start:
            raise _err(
                f"{path}.end",
                "on a road network a route ends where it starts",
                fix="give end = start, or pass matrices",
            )
        if v.speed_factor != 1.0:
            raise _err(f"{path}.speed_factor", "needs matrices (road speeds come from traffic)")
        if v.capacity and v.capacity[0] == 0:
            raise _err(f"{path}.capacity", "must be above 0 on a road network")
    pri = {j.priority for j in p.jobs}
    if len(pri) > 1:
        k = next(i for i, j in enumerate(p.jobs) if j.priority != p.jobs[0].priority)
        raise _err(f"jobs[{k}].priority", "different job priorities need matrices")
    for k, j in enumerate(p.jobs):
        for v in p.vehicles:
            if not j.skills <= v.skills:
                raise _err(
                    f"jobs[{k}].skills",
                    f"vehicle {v.id} lacks skills {sorted(j.skills - v.skills)}: skills that "
                    "not every vehicle has need matrices",
                )
    hi = max(_all_times(p.jobs, p.vehicles), default=0) - p.t0
    if hi >= 2 * DAY_S:
        raise _err(
            "jobs",
            "on a road network every time must fall within two days",
            fix="give times relative to the plan day's midnight",
        )


# --------------------------------------------------------------------------------------
# solving


@dataclass
class DispatchResult:
    """A solution in VROOM's output format plus what the dispatch service needs.

    ``output``: VROOM output (code, summary, unassigned, routes[].steps[]). ``state``: JSON-
    serialisable day state for :func:`replan_vroom`. ``geometry``: vehicle id (text) -> (lon,
    lat) polyline. ``changes``: after a re-plan, one row per job whose plan changed:
    ``{job_id, change, from_vehicle, to_vehicle}``.
    """

    output: dict[str, Any]
    state: dict[str, Any]
    geometry: dict[str, list[tuple[float, float]]]
    changes: list[dict[str, Any]] = field(default_factory=list)


#: state format written by :func:`solve_vroom` / :func:`replan_vroom`
STATE_KIND = "shipahead-vroom-state"


@dataclass
class _Nodes:
    """The RoutingProblem nodes of a matrices problem: matrix row (-1: the open node)."""

    ids: list[str]
    loc: list[int]
    stops: list[int]  # job node per job position (-1: not in this problem)


def _horizon(p: VroomProblem, jobs: Sequence[Job], max_dur: int) -> int:
    """A time (s, internal frame) beyond which nothing can happen."""
    hi = max((t - p.t0 for t in _all_times(jobs, p.vehicles)), default=0)
    busy = sum(j.service for j in jobs) + sum(b.service for v in p.vehicles for b in v.breaks)
    return int(min(hi + busy + (len(jobs) + 2) * max_dur + DAY_S, 2**50))


def _rel(tw: tuple[int, int] | None, t0: int, default: tuple[int, int]) -> tuple[int, int]:
    return default if tw is None else (tw[0] - t0, tw[1] - t0)


def _demand(p: VroomProblem, j: Job) -> tuple[int, ...]:
    d = max(p.dims, 1)
    out = [0] * d
    for a in (j.delivery, j.pickup):
        for k, x in enumerate(a):
            out[k] += x
    return tuple(out)


def _capacity(p: VroomProblem, v: VroomVehicle) -> tuple[int, ...]:
    return v.capacity if p.dims else (2**40,)


def _depart_s(p: VroomProblem, shift: tuple[int, int]) -> int:
    d = p.options.depart_s
    return shift[0] if d is None else min(max(d - p.t0, shift[0]), shift[1])


def _cost_model(p: VroomProblem, veh: Sequence[VroomVehicle], dur0: np.ndarray, dist0):
    """(internal distance matrix, per-vehicle (cost_per_km, cost_per_hour), exact?).

    VROOM's objective is per arc: ``per_hour * s / 3600 + per_km * m / 1000``. When every
    vehicle's arc costs are one shared matrix times a factor it is optimised exactly (the
    matrix goes in as the 'distance'); otherwise per_km applies to metres and per_hour to
    the route's span (an approximation, reported costs stay VROOM's)."""
    groups = {(v.profile, v.speed_factor) for v in veh}
    rates = {(v.per_hour, v.per_km) for v in veh}
    if len(groups) == 1:
        if len(rates) == 1:
            ph, pk = next(iter(rates))
            c = ph * dur0 / 3600.0 + (pk * dist0 / 1000.0 if dist0 is not None else 0.0)
            return np.rint(c * 1000.0).astype(np.int64), [(1.0, 0.0)] * len(veh), True
        if all(v.per_km == 0 for v in veh) or dist0 is None:
            return dur0, [(v.per_hour / 3.6, 0.0) for v in veh], all(v.per_km == 0 for v in veh)
        if all(v.per_hour == 0 for v in veh):
            return dist0, [(float(v.per_km), 0.0) for v in veh], True
    base = dist0 if dist0 is not None else dur0
    per_km = [(float(v.per_km) if dist0 is not None else v.per_hour / 3.6) for v in veh]
    return (
        base,
        [
            (k, float(v.per_hour) if dist0 is not None else 0.0)
            for k, v in zip(per_km, veh, strict=True)
        ],
        False,
    )


def _matrix_problem(
    p: VroomProblem,
    jobs: Sequence[Job],
    *,
    starts: Mapping[int, tuple[int, int]] | None = None,
    capacity_left: Mapping[int, tuple[int, ...]] | None = None,
    pinned: Mapping[int, int] | None = None,
    initial: Mapping[int, Sequence[int]] | None = None,
    reassign_penalty: float = 0.0,
    vehicles: Sequence[VroomVehicle] | None = None,
    no_break: set[int] | None = None,
):
    """The RoutingProblem of a matrices problem for ``jobs`` (job positions in ``jobs``).

    Re-planning: ``starts`` vehicle id -> (matrix row, ready time internal s) of a vehicle
    out on the road; ``pinned`` vehicle id -> job position kept first; ``initial`` vehicle
    id -> job positions (warm start). Returns (problem, nodes, real durations (V, n, n),
    real distances (V, n, n) or None, exact-objective flag).
    """
    from .problem import Break, RoutingProblem, Vehicle

    veh = list(vehicles if vehicles is not None else p.vehicles)
    starts = starts or {}
    ids: list[str] = []
    loc: list[int] = []
    where: dict[str, int] = {}

    def node(key: str, row: int) -> int:
        if key not in where:
            where[key] = len(ids)
            ids.append(key)
            loc.append(row)
        return where[key]

    vstart, vend = [], []
    for v in veh:
        if v.id in starts and starts[v.id][0] is not None:
            vstart.append(node(f"@{v.id}", starts[v.id][0]))
        else:
            vstart.append(
                node("open", -1)
                if v.start_index is None
                else node(f"loc:{v.start_index}", v.start_index)
            )
        vend.append(
            node("open", -1) if v.end_index is None else node(f"loc:{v.end_index}", v.end_index)
        )
    stop_nodes = [node(f"job:{j.id}", int(j.location_index)) for j in jobs]  # type: ignore[arg-type]
    n = len(ids)
    rows = np.asarray(loc)
    opened = rows < 0
    r = np.where(opened, 0, rows)
    # one (n, n) matrix per profile and speed factor, shared by the vehicles that use it
    by_group: dict[tuple[str, float], tuple[np.ndarray, np.ndarray | None]] = {}
    has_dist = all("distances" in p.matrices[v.profile] for v in veh)
    for v in veh:
        key = (v.profile, v.speed_factor)
        if key in by_group:
            continue
        m = p.matrices[v.profile]
        d = m["durations"][np.ix_(r, r)].astype(np.float64)
        if v.speed_factor != 1.0:
            d = np.rint(d / v.speed_factor)
        d[opened, :] = 0
        d[:, opened] = 0
        dd = None
        if has_dist:
            dd = m["distances"][np.ix_(r, r)].copy()
            dd[opened, :] = 0
            dd[:, opened] = 0
        by_group[key] = (d.astype(np.int64), dd)
    real = [by_group[(v.profile, v.speed_factor)][0] for v in veh]
    dist = [by_group[(v.profile, v.speed_factor)][1] for v in veh] if has_dist else None
    max_dur = max(int(g[0].max(initial=0)) for g in by_group.values())
    H = _horizon(p, jobs, max_dur)
    big = H + 1
    # the solver's matrices: a job a vehicle lacks the skills for is out of its reach
    solver_by: dict[tuple, np.ndarray] = {}
    keys = []
    for v in veh:
        bad = tuple(s for s, j in zip(stop_nodes, jobs, strict=True) if not j.skills <= v.skills)
        key = (v.profile, v.speed_factor, bad)
        keys.append(key)
        if key not in solver_by:
            m = by_group[(v.profile, v.speed_factor)][0]
            if bad:
                m = m.copy()
                m[:, list(bad)] = big
                m[list(bad), list(bad)] = 0
            solver_by[key] = m
    if len(solver_by) == 1:
        dur = next(iter(solver_by.values()))
    else:
        if len(veh) * n * n > MAX_PER_VEHICLE_ENTRIES:
            raise _err(
                "vehicles",
                f"{len(solver_by)} different profiles / speed factors / skill sets for "
                f"{len(veh)} vehicles over {n} nodes need {len(veh) * n * n:,} matrix entries "
                f"(limit {MAX_PER_VEHICLE_ENTRIES:,})",
                fix="use fewer vehicles or give them the same profile, speed and skills",
            )
        dur = np.stack([solver_by[k] for k in keys])
    dist_mat, rates, _exact = _cost_model(p, veh, real[0], None if dist is None else dist[0])
    tw = np.zeros((n, 2), dtype=np.int64)
    tw[:, 1] = H
    svc = np.zeros(n, dtype=np.int64)
    dem = np.zeros((n, max(p.dims, 1)), dtype=np.int64)
    dp = np.zeros(n)
    # leaving a job out must cost more than serving it (VROOM serves all it can first)
    maxdist = max(
        (float(x[1].max(initial=0)) for x in by_group.values() if x[1] is not None), default=0.0
    )
    arc = max(
        (v.per_hour * max_dur / 3600.0 + v.per_km * maxdist / 1000.0 for v in veh), default=0.0
    )
    base = 10.0 * (2.0 * arc + max((v.fixed for v in veh), default=0)) + 1000.0
    base = min(base, 4e18 / 3.6e6 / max(1, len(jobs)) / 101.0)
    for s, j in zip(stop_nodes, jobs, strict=True):
        tw[s] = _rel(j.time_window, p.t0, (0, H))
        svc[s] = j.service
        dem[s] = _demand(p, j)
        dp[s] = base * (1 + j.priority)
    vehicles_out = []
    for k, v in enumerate(veh):
        shift = _rel(v.time_window, p.t0, (0, H))
        s0 = _depart_s(p, shift)
        end_s = shift[1]
        cap = capacity_left.get(v.id) if capacity_left else None
        if v.id in starts:
            s0 = max(int(starts[v.id][1]), shift[0])
            trip = int(real[k][vstart[k], vend[k]])
            if s0 + trip > end_s:
                # ready too late to serve anything: it only drives to its end
                end_s = s0 + trip + 3600
                cap = (0,) * len(_capacity(p, v))
                pinned = {x: y for x, y in (pinned or {}).items() if x != v.id}
        brk = None
        if v.breaks and v.id not in (no_break or set()):
            b = v.breaks[0]
            lo, hi = _rel(b.time_window, p.t0, shift)
            if not (v.id in starts and s0 > hi):
                brk = Break(max(lo, s0) if v.id in starts else lo, hi, b.service)
        vehicles_out.append(
            Vehicle(
                vehicle_id=str(v.id),
                start=vstart[k],
                end=vend[k],
                capacity=tuple(cap) if cap is not None else _capacity(p, v),
                shift_start_s=int(s0),
                shift_end_s=int(end_s),
                fixed_cost=float(v.fixed),
                cost_per_km=rates[k][0],
                cost_per_hour=rates[k][1],
                break_=brk,
            )
        )
    job_node = {k: s for k, s in enumerate(stop_nodes)}
    pins = {str(vid): (job_node[jp],) for vid, jp in (pinned or {}).items()}
    init = None
    if initial:
        init = tuple(tuple(job_node[x] for x in initial.get(v.id, ())) for v in veh)
    problem = RoutingProblem(
        node_ids=tuple(ids),
        stops=tuple(stop_nodes),
        distance_m=dist_mat,
        duration_s=dur,
        demand=dem,
        tw_s=tw,
        service_s=svc,
        vehicles=tuple(vehicles_out),
        drop_penalty=dp,
        pinned=pins,
        initial_routes=init,
        reassign_penalty=float(reassign_penalty),
        objective="cost",
    )
    problem.validate()
    return problem, _Nodes(ids, loc, stop_nodes), real, dist


def _matrix_sim(problem, v: int, route: tuple[int, ...], real: np.ndarray, dist):
    """Static simulation of one route on the matrices (a :class:`routing.RouteSim`).

    As VROOM: the vehicle leaves at its shift start, or later by the wait it would have at
    its first job (no service start moves)."""
    from .schedule import planned_schedule

    gap = planned_schedule(problem, v, route).break_gap
    veh = problem.vehicles[v]
    t0 = float(max(veh.shift_start_s, int(problem.tw_s[veh.start, 0])))
    sim = _matrix_drive(problem, v, route, real, dist, t0, gap)
    if sim.visits and sim.visits[0].wait_s > 0 and sim.break_start_s is None:
        sim = _matrix_drive(problem, v, route, real, dist, t0 + sim.visits[0].wait_s, gap)
    return sim


def _matrix_drive(problem, v: int, route, real, dist, depart: float, gap):
    """Drive ``route`` on the matrices leaving at ``depart`` (s), the break on leg ``gap``."""
    from .simulate import RouteSim, Visit

    veh = problem.vehicles[v]
    sch = type("S", (), {"departure_s": depart})
    b = veh.break_
    dur, dm = real[v], (dist[v] if dist is not None else None)
    dem = np.asarray(problem.demand)
    load = dem[list(route)].sum(axis=0) if route else np.zeros(dem.shape[1], dtype=np.int64)
    t = float(sch.departure_s)
    prev = veh.start
    visits: list = []
    brk_at = None
    end = (0.0, 0.0, 0.0)
    for pos, node in enumerate((*route, veh.end)):
        travel = float(dur[prev, node])
        metres = float(dm[prev, node]) if dm is not None else 0.0
        leave = t
        rest_here = 0.0
        if b is not None and gap == pos:
            rest_from = max(t, float(b.earliest_s))
            brk_at = rest_from
            if visits:
                visits[-1] = replace(
                    visits[-1], break_s=float(b.duration_s), break_start_s=rest_from
                )
            if rest_from >= t + travel:
                arrive = t + travel
                ready = max(arrive, rest_from + b.duration_s)
                rest_here = float(b.duration_s)
            else:
                arrive = t + travel + b.duration_s
                ready = arrive
        else:
            arrive = ready = t + travel
        if pos == len(route):
            end = (ready, metres, travel)
            break
        lo, hi = float(problem.tw_s[node, 0]), float(problem.tw_s[node, 1])
        start = max(ready, lo)
        load = load - dem[node]
        visits.append(
            Visit(
                node=node,
                arrival_s=arrive,
                start_s=start,
                departure_s=start + float(problem.service_s[node]),
                wait_s=start - arrive - rest_here,
                late_s=max(0.0, start - hi),
                load_after=tuple(int(x) for x in load),
                leg_m=metres,
                leg_s=travel,
            )
        )
        t = start + float(problem.service_s[node])
        prev = node
        del leave
    return RouteSim(
        vehicle=v,
        depart_s=float(sch.departure_s),
        load_start=tuple(int(x) for x in dem[list(route)].sum(axis=0)) if route else (0,),
        visits=tuple(visits),
        end_arrival_s=end[0],
        end_leg_m=end[1],
        end_leg_s=end[2],
        break_start_s=brk_at,
        break_late_s=max(0.0, brk_at - b.latest_s)
        if (b is not None and brk_at is not None)
        else 0.0,
        leave_s=float(sch.departure_s),
    )


def _settings(p: VroomProblem, time_limit_s: float | None = None):
    from .problem import SolveSettings

    o = p.options
    return SolveSettings(
        engine=o.engine,
        time_limit_s=float(time_limit_s or o.time_limit_s),
        seed=o.seed,
        deterministic=o.deterministic,
    )


@dataclass
class _Route:
    """One vehicle's steps in VROOM's output form (times internal until formatted)."""

    vehicle: VroomVehicle
    steps: list[dict[str, Any]]
    geometry: list[tuple[float, float]] = field(default_factory=list)


def _job_loc(j: Job) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if j.location is not None:
        out["location"] = [j.location[0], j.location[1]]
    if j.location_index is not None:
        out["location_index"] = j.location_index
    return out


def _end_loc(v: VroomVehicle, which: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    c = getattr(v, which)
    i = getattr(v, f"{which}_index")
    if c is not None:
        out["location"] = [c[0], c[1]]
    if i is not None:
        out["location_index"] = i
    return out


def _amounts(p: VroomProblem, j: Job) -> tuple[np.ndarray, np.ndarray]:
    d = np.zeros(p.dims, dtype=np.int64)
    q = np.zeros(p.dims, dtype=np.int64)
    if j.delivery:
        d += np.asarray(j.delivery)
    if j.pickup:
        q += np.asarray(j.pickup)
    return d, q


def _steps_from_sim(
    p: VroomProblem,
    sim,
    v: VroomVehicle,
    job_of_node: Mapping[int, Job],
    *,
    start_loc: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """VROOM steps (internal times) of one simulated route; ``load`` by VROOM's rule."""
    jobs = [job_of_node[x.node] for x in sim.visits]
    dl = np.zeros(p.dims, dtype=np.int64)
    for j in jobs:
        dl += _amounts(p, j)[0]
    load = dl.copy()
    brk = v.breaks[0] if v.breaks else None
    first = jobs[0] if jobs else None
    if start_loc is None:
        start_loc = (
            _end_loc(v, "start")
            if (v.start or v.start_index is not None)
            else (_job_loc(first) if first else {})
        )
    steps = [
        _step(
            "start",
            None,
            start_loc,
            sim.depart_s if sim.leave_s is None else sim.leave_s,
            0,
            0,
            0,
            0,
            load,
        )
    ]
    travel = 0.0
    metres = 0.0

    def add_break(at: float, loc: dict[str, Any]) -> None:
        steps.append(_step("break", brk.id, loc, at, travel, brk.service, 0, metres, load))  # type: ignore[union-attr]

    at_start_break = sim.break_start_s is not None and not any(x.break_s for x in sim.visits)
    if at_start_break and brk is not None:
        add_break(sim.break_start_s, start_loc)
    for x, j in zip(sim.visits, jobs, strict=True):
        travel += x.leg_s
        metres += x.leg_m
        d, q = _amounts(p, j)
        load = load - d + q
        s = _step("job", j.id, _job_loc(j), x.arrival_s, travel, j.service, x.wait_s, metres, load)
        if x.late_s > 0.5:
            s["violations"] = [{"cause": "delay", "duration": round(x.late_s)}]
        steps.append(s)
        if j.description is not None:
            s["description"] = j.description
        if x.break_s and brk is not None and x.break_start_s is not None:
            add_break(x.break_start_s, _job_loc(j))
    travel += sim.end_leg_s
    metres += sim.end_leg_m
    end_loc = (
        _end_loc(v, "end")
        if (v.end or v.end_index is not None)
        else (_job_loc(jobs[-1]) if jobs else start_loc)
    )
    steps.append(
        _step("end", None, end_loc, sim.end_arrival_s, travel, 0, sim.end_wait_s, metres, load)
    )
    return steps


def _step(kind, sid, loc, arrival, travel, service, wait, metres, load) -> dict[str, Any]:
    s: dict[str, Any] = {"type": kind}
    if sid is not None:
        s["id"] = int(sid)
    s.update(loc)
    s.update(
        {
            "setup": 0,
            "service": int(service),
            "waiting_time": round(float(wait)),
            "load": [int(x) for x in load],
            "arrival": float(arrival),
            "duration": round(float(travel)),
            "distance": round(float(metres)),
            "violations": [],
        }
    )
    return s


def _format(
    p: VroomProblem,
    jobs: Sequence[Job],
    routes: Sequence[_Route],
    unassigned: Mapping[int, str],
    *,
    has_distance: bool,
) -> dict[str, Any]:
    """VROOM's output: times made absolute (t0 added), rounded to whole seconds."""
    by_id = {j.id: j for j in jobs}
    out_routes = []
    tot: dict[str, Any] = {"cost": 0, "service": 0, "duration": 0, "waiting_time": 0, "distance": 0}
    tot_dl = np.zeros(p.dims, dtype=np.int64)
    tot_pu = np.zeros(p.dims, dtype=np.int64)
    prio = 0
    for r in routes:
        if not any(s["type"] == "job" for s in r.steps):
            continue
        v = r.vehicle
        dl = np.zeros(p.dims, dtype=np.int64)
        pu = np.zeros(p.dims, dtype=np.int64)
        steps = []
        for s in r.steps:
            s = dict(s)
            s["arrival"] = round(s["arrival"]) + p.t0
            if not p.dims:
                s.pop("load", None)
            if not has_distance:
                s.pop("distance", None)
            if s["type"] == "job":
                d, q = _amounts(p, by_id[s["id"]])
                dl += d
                pu += q
                prio += by_id[s["id"]].priority
            steps.append(s)
        duration = steps[-1]["duration"]
        distance = r.steps[-1]["distance"] if has_distance else 0
        service = sum(s["service"] for s in steps)
        waiting = sum(s["waiting_time"] for s in steps)
        cost = round(v.fixed + v.per_hour * duration / 3600.0 + v.per_km * distance / 1000.0)
        route: dict[str, Any] = {"vehicle": v.id, "cost": cost}
        if p.dims:
            route["delivery"] = dl.tolist()
            route["pickup"] = pu.tolist()
        route.update(
            {
                "setup": 0,
                "service": service,
                "duration": duration,
                "waiting_time": waiting,
                "priority": sum(by_id[s["id"]].priority for s in steps if s["type"] == "job"),
            }
        )
        if has_distance:
            route["distance"] = distance
        if v.description is not None:
            route["description"] = v.description
        route["violations"] = [x for s in steps for x in s["violations"]]
        route["steps"] = steps
        out_routes.append(route)
        tot_dl += dl
        tot_pu += pu
        for k in ("cost", "service", "duration", "waiting_time"):
            tot[k] += route[k]
        tot["distance"] += distance
    un = []
    for jid, why in unassigned.items():
        j = by_id[jid]
        u: dict[str, Any] = {"id": jid, "type": "job", **_job_loc(j)}
        if j.description is not None:
            u["description"] = j.description
        u["reason"] = why
        un.append(u)
    summary: dict[str, Any] = {
        "cost": tot["cost"],
        "routes": len(out_routes),
        "unassigned": len(un),
    }
    if p.dims:
        summary["delivery"] = tot_dl.tolist()
        summary["pickup"] = tot_pu.tolist()
    summary.update(
        {
            "setup": 0,
            "service": tot["service"],
            "duration": tot["duration"],
            "waiting_time": tot["waiting_time"],
            "priority": prio,
            "violations": [x for r in out_routes for x in r["violations"]],
        }
    )
    if has_distance:
        summary["distance"] = tot["distance"]
    return {"code": 0, "summary": summary, "unassigned": un, "routes": out_routes}


def _reason(p: VroomProblem, j: Job, why: str) -> str:
    if j.skills and not any(j.skills <= v.skills for v in p.vehicles):
        return f"skills: no vehicle has the skills {sorted(j.skills)}"
    return why


def _straight(steps: Sequence[Mapping[str, Any]]) -> list[tuple[float, float]]:
    pts = [tuple(s["location"]) for s in steps if "location" in s]
    out: list[tuple[float, float]] = []
    for x in pts:
        if not out or out[-1] != x:
            out.append((float(x[0]), float(x[1])))
    return out


def _solve_matrices(p: VroomProblem, jobs: Sequence[Job]) -> tuple[list[_Route], dict[int, str]]:
    from .solve import solve

    initial = None
    pos = {j.id: k for k, j in enumerate(jobs)}
    if any(v.steps for v in p.vehicles):
        initial = {v.id: [pos[x] for x in v.steps if x in pos] for v in p.vehicles}
    # a vehicle that cannot even drive from its start to its end within its time window
    # serves nothing and is left out (as VROOM: an unused vehicle has no route)
    veh = [v for v in p.vehicles if _can_drive(p, v)]
    if not veh:
        un = {
            j.id: "shift: no vehicle can drive from its start to its end in its time window"
            for j in jobs
        }
        return [], un
    problem, nodes, real, dist = _matrix_problem(p, jobs, initial=initial, vehicles=veh)
    sol = solve(problem, _settings(p))
    return _matrix_routes(p, jobs, problem, nodes, real, dist, sol, vehicles=veh)


def _can_drive(p: VroomProblem, v: VroomVehicle) -> bool:
    """Whether the bare trip start -> end fits the vehicle's time window (matrices)."""
    if v.time_window is None or v.start_index is None or v.end_index is None:
        return True
    shift = _rel(v.time_window, p.t0, (0, 0))
    d = float(p.matrices[v.profile]["durations"][v.start_index, v.end_index])
    return _depart_s(p, shift) + round(d / v.speed_factor) <= shift[1]


def _matrix_routes(p, jobs, problem, nodes: _Nodes, real, dist, sol, vehicles=None):
    veh = list(vehicles if vehicles is not None else p.vehicles)
    job_of_node = {nodes.stops[k]: j for k, j in enumerate(jobs)}
    routes = []
    for vi, r in enumerate(sol.routes):
        sim = _matrix_sim(problem, vi, tuple(int(x) for x in r), real, dist)
        steps = _steps_from_sim(p, sim, veh[vi], job_of_node)
        routes.append(_Route(veh[vi], steps, _straight(steps)))
    un = {
        job_of_node[s].id: _reason(p, job_of_node[s], sol.reasons.get(s, "not served"))
        for s in sol.unassigned
    }
    return routes, un


# ---- road network ----------------------------------------------------------------------


def _minutes(t: int | None) -> float | None:
    return None if t is None else t / 60.0


def _stops_frame(p: VroomProblem, jobs: Sequence[Job]):
    import pandas as pd

    rows = []
    for j in jobs:
        tw = _rel(j.time_window, p.t0, (0, 0)) if j.time_window else None
        rows.append(
            {
                "stop_id": str(j.id),
                "lat": j.location[1],  # type: ignore[index]
                "lon": j.location[0],  # type: ignore[index]
                "demand_units": sum(_demand(p, j)) if p.dims else 0,
                "tw_start": _minutes(tw[0]) if tw else None,
                "tw_end": _minutes(tw[1]) if tw else None,
                "service_min": j.service / 60.0,
            }
        )
    cols = ["stop_id", "lat", "lon", "demand_units", "tw_start", "tw_end", "service_min"]
    return pd.DataFrame(rows, columns=cols)


def _fleet_frame(p: VroomProblem, vehicles: Sequence[VroomVehicle]):
    import pandas as pd

    depots: dict[tuple[float, float], str] = {}
    rows = []
    for v in vehicles:
        dep = depots.setdefault(v.start, f"depot-{len(depots) + 1}")  # type: ignore[arg-type]
        shift = _rel(v.time_window, p.t0, (0, 2 * DAY_S - 60))
        row = {
            "vehicle_id": str(v.id),
            "depot_id": dep,
            "depot_lat": v.start[1],  # type: ignore[index]
            "depot_lon": v.start[0],  # type: ignore[index]
            "capacity_units": v.capacity[0] if p.dims else 10**9,
            "shift_start": _minutes(shift[0]),
            "shift_end": _minutes(shift[1]),
            "cost_per_km": float(v.per_km),
            "cost_per_hour": float(v.per_hour),
            "fixed_cost": float(v.fixed),
            "break_start": None,
            "break_end": None,
            "break_min": None,
        }
        if v.breaks:
            b = v.breaks[0]
            lo, hi = _rel(b.time_window, p.t0, shift)
            row.update(break_start=_minutes(lo), break_end=_minutes(hi), break_min=b.service / 60.0)
        rows.append(row)
    return pd.DataFrame(rows)


def _plan_settings(p: VroomProblem, time_limit_s: float | None = None):
    from .settings import PlanSettings

    o = p.options
    return PlanSettings(
        depart_s=None if o.depart_s is None else o.depart_s - p.t0,
        max_snap_m=o.max_snap_m,
        engine=o.engine,
        time_limit_s=float(time_limit_s or o.time_limit_s),
        seed=o.seed,
        deterministic=o.deterministic,
    )


def plan_date(p: VroomProblem) -> str | None:
    """The plan date (YYYY-MM-DD) for traffic weekday and weather: ``options.date``, else
    the UTC day of absolute timestamps, else None."""
    if p.options.date:
        return p.options.date
    if p.t0:
        return dt.datetime.fromtimestamp(p.t0, tz=dt.UTC).date().isoformat()
    return None


def _network_routes(p: VroomProblem, jobs: Sequence[Job], plan, vehicles=None):
    """Routes (steps + road geometry) and unassigned reasons of a RoutePlan."""
    from .outputs import route_coordinates

    veh = {str(v.id): v for v in (vehicles if vehicles is not None else p.vehicles)}
    by_id = {str(j.id): j for j in jobs}
    job_of_node = {i: by_id[sid] for i, sid in enumerate(plan.problem.node_ids) if sid in by_id}
    routes = []
    for k, sim in enumerate(plan.sims):
        v = veh[plan.problem.vehicles[sim.vehicle].vehicle_id]
        start_loc = None
        vn = plan.problem.node_ids[plan.problem.vehicles[sim.vehicle].start]
        if vn.startswith("@"):
            x, y = plan.node_lonlat[plan.problem.vehicles[sim.vehicle].start]
            start_loc = {"location": [round(float(x), 6), round(float(y), 6)]}
        steps = _steps_from_sim(p, sim, v, job_of_node, start_loc=start_loc)
        geo = [(float(a), float(b)) for a, b in route_coordinates(plan, k)]
        routes.append(_Route(v, steps, geo))
    un = {}
    for sid, why in zip(plan.unassigned["stop_id"], plan.unassigned["reason"], strict=True):
        j = by_id[str(sid)]
        un[j.id] = _reason(p, j, str(why))
    return routes, un


def _solve_network(p: VroomProblem, jobs: Sequence[Job], network, speed):
    if network is None:
        raise InputError(
            "no road network: a problem without matrices needs one",
            column="matrices",
            fix="give matrices (durations per profile) or serve/run with --roads",
        )
    stops = _stops_frame(p, jobs)
    fleet = _fleet_frame(p, p.vehicles)
    settings = _plan_settings(p)
    try:
        return _plan_network(p, stops, fleet, network, speed, settings)
    except InputError as exc:
        raise _located(exc, jobs, p.vehicles) from None


def _located(exc: InputError, jobs: Sequence[Job], vehicles: Sequence[VroomVehicle]) -> InputError:
    """A snapping error of the stops/fleet tables, named by its JSON path."""
    if exc.table not in ("stops", "fleet") or exc.row is None:
        return exc
    detail = exc.message.split(" is ", 1)[-1] if " is " in exc.message else exc.message
    if exc.table == "stops" and exc.row < len(jobs):
        path = f"jobs[{exc.row}].location"
        what = f"job {jobs[exc.row].id}"
    elif exc.table == "fleet" and exc.row < len(vehicles):
        path = f"vehicles[{exc.row}].start"
        what = f"vehicle {vehicles[exc.row].id}'s start"
    else:
        return exc
    return InputError(f"{path}: {what} is {detail}", column=path, fix=exc.fix)


def _plan_network(p: VroomProblem, stops, fleet, network, speed, settings):
    from .plan import plan_routes

    if any(v.steps for v in p.vehicles):
        from .context import build_context
        from .iterate import iterate_plan
        from .plan import assemble
        from .traffic import SpeedModel

        ctx = build_context(stops, fleet, network, speed or SpeedModel.free_flow(), settings)
        index = {sid: i for i, sid in enumerate(ctx.node_ids)}
        init = tuple(
            tuple(
                index[str(x)]
                for x in v.steps
                if str(x) in index and index[str(x)] in ctx.stop_nodes
            )
            for v in p.vehicles
        )
        plan = assemble(ctx, iterate_plan(ctx, settings, initial_routes=init), date=plan_date(p))
    else:
        plan = plan_routes(stops, fleet, network, speed=speed, settings=settings, date=plan_date(p))
    return plan


def _records(df) -> list[dict[str, Any]]:
    import pandas as pd

    out = df.astype(object).where(pd.notna(df), None)
    recs = out.to_dict("records")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in recs]


def solve_vroom(
    problem: VroomProblem,
    *,
    network: Any | None = None,
    speed: Any | None = None,
) -> DispatchResult:
    """Solve a parsed VROOM problem; answer in VROOM's output format.

    Parameters
    ----------
    problem
        From :func:`parse_vroom`.
    network
        A :class:`routing.RoadNetwork`; required when the problem has no ``matrices``
        (ignored otherwise).
    speed
        A :class:`routing.SpeedModel` (traffic × weather for :func:`plan_date`); default
        free flow.

    Returns
    -------
    DispatchResult
        ``output`` (VROOM format; ``arrival`` = simulated ETA, absolute when the input
        was), ``state`` (for :func:`replan_vroom`), ``geometry`` per vehicle id.

    Raises
    ------
    routing.InputError
        No road network for a problem without matrices, a location off the network, ...
    routing.SolverError
        The engine found no plan.
    """
    return solve_vroom_plan(problem, network=network, speed=speed)[0]


def solve_vroom_plan(
    problem: VroomProblem,
    *,
    network: Any | None = None,
    speed: Any | None = None,
) -> tuple[DispatchResult, Any]:
    """:func:`solve_vroom` plus the :class:`routing.RoutePlan` behind a road-network
    solution (None with matrices), for writing ``shipahead route``'s usual outputs."""
    jobs = list(problem.jobs)
    plan = None
    state: dict[str, Any] = {
        "kind": STATE_KIND,
        "version": 1,
        "mode": "matrices" if problem.uses_matrices else "network",
        "t0": problem.t0,
        "at": None,
        "done": [],
        "cancelled": [],
        "down": [],
        "added": [],
        "incidents": [],
        "actual": {},
    }
    if problem.uses_matrices:
        routes, un = _solve_matrices(problem, jobs)
        has_distance = all("distances" in problem.matrices[v.profile] for v in problem.vehicles)
    else:
        plan = _solve_network(problem, jobs, network, speed)
        routes, un = _network_routes(problem, jobs, plan)
        has_distance = True
        state["routes"] = _records(plan.routes)
    output = _format(problem, jobs, routes, un, has_distance=has_distance)
    state["output"] = output
    geometry = {
        str(r.vehicle.id): r.geometry for r in routes if any(s["type"] == "job" for s in r.steps)
    }
    return DispatchResult(output=output, state=state, geometry=geometry), plan


# --------------------------------------------------------------------------------------
# events and re-planning

#: dispatch event types (issue vocabulary) and the fields each one takes besides
#: ``event_id``, ``type``, ``at``
EVENT_FIELDS: dict[str, set[str]] = {
    "stop_arrived": {"job_id", "vehicle_id", "arrival"},
    "stop_done": {"job_id", "vehicle_id", "arrival", "departure"},
    "stop_added": {"job_id"} | (_JOB_KEYS - {"id"}),
    "stop_cancelled": {"job_id"},
    "vehicle_position": {"vehicle_id", "location", "location_index"},
    "vehicle_delay": {"vehicle_id", "delay"},
    "vehicle_down": {"vehicle_id"},
    "incident": {"factor", "road_class", "location", "radius_m", "start", "end"},
}
#: largest vehicle delay (s): two days
MAX_DELAY_S = 2 * DAY_S


@dataclass(frozen=True)
class DispatchEvent:
    """One validated event; times (s) in the problem's frame, ``job`` for ``stop_added``."""

    event_id: str
    type: str
    at: int
    job_id: int | None = None
    vehicle_id: int | None = None
    arrival: int | None = None
    departure: int | None = None
    job: Job | None = None
    location: tuple[float, float] | None = None
    location_index: int | None = None
    delay: int = 0
    factor: float = 1.0
    road_class: str | None = None
    radius_m: float | None = None
    start: int | None = None
    end: int | None = None


def _state_check(state: Mapping[str, Any]) -> None:
    if not isinstance(state, Mapping) or state.get("kind") != STATE_KIND:
        raise InputError("state: not a dispatch state written by solve_vroom", column="state")


def _all_jobs(problem: VroomProblem, state: Mapping[str, Any], lim: VroomLimits) -> list[Job]:
    """The problem's jobs plus the jobs added by earlier events."""
    added = [_parse_job(j, f"state.added[{k}]", lim) for k, j in enumerate(state.get("added", []))]
    return [*problem.jobs, *added]


def _ev_job(e: Mapping[str, Any], path: str, known: bool, ids: set[int]) -> int:
    """An event's ``job_id``; ``known``: it must name a job of the plan (``ids``)."""
    if "job_id" not in e:
        raise _err(f"{path}.job_id", "missing")
    jid = _int(e["job_id"], f"{path}.job_id")
    if known and jid not in ids:
        raise _err(f"{path}.job_id", f"job {jid} is not in the plan")
    return jid


def _ev_vehicle(
    e: Mapping[str, Any], path: str, ids: set[int], *, required: bool = True
) -> int | None:
    """An event's ``vehicle_id`` (a vehicle of the plan)."""
    if "vehicle_id" not in e:
        if required:
            raise _err(f"{path}.vehicle_id", "missing")
        return None
    vid = _int(e["vehicle_id"], f"{path}.vehicle_id")
    if vid not in ids:
        raise _err(f"{path}.vehicle_id", f"vehicle {vid} is not in the plan")
    return vid


def parse_events(
    problem: VroomProblem,
    state: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    *,
    limits: VroomLimits | None = None,
) -> list[DispatchEvent]:
    """Validate a batch of dispatch events against a plan's problem and state.

    Every event is an object with ``event_id`` (text or integer), ``type``, ``at`` (s, the
    frame of the problem's time windows) and its fields:

    ====================  ===================================================================
    type                  fields
    ====================  ===================================================================
    stop_arrived          ``job_id`` [``vehicle_id``, ``arrival`` (default ``at``)]
    stop_done             ``job_id`` [``vehicle_id``, ``arrival``, ``departure`` (default
                          ``at``)]: actual times
    stop_added            ``job_id`` (new) and VROOM job fields (``location`` or
                          ``location_index``, ``service``, ``delivery``, ``pickup``,
                          ``time_windows``, ``skills``, ``priority``, ``description``)
    stop_cancelled        ``job_id``
    vehicle_position      ``vehicle_id``, ``location`` [lon, lat] (road network) or
                          ``location_index`` (matrices): where it is at ``at``
    vehicle_delay         ``vehicle_id``, ``delay`` (s, 0 – 172800)
    vehicle_down          ``vehicle_id``: out of service from ``at``; its open jobs move
    incident              ``factor`` (speed multiplier in (0, 1]) on ``road_class`` and/or
                          the area ``location`` + ``radius_m``; ``start``/``end`` (s;
                          default ``at`` … two days on). Road network only.
    ====================  ===================================================================

    Raises
    ------
    routing.InputError
        Naming ``events[i].field``: unknown type or field, unknown job or vehicle, a job
        id added twice, a non-finite or out-of-range number.
    """
    _state_check(state)
    lim = limits or VroomLimits()
    if not isinstance(events, Sequence) or isinstance(events, str | bytes):
        raise _err("events", "must be an array of event objects")
    if len(events) > lim.events:
        raise _err("events", f"{len(events)} events exceed the limit of {lim.events}")
    jobs = _all_jobs(problem, state, lim)
    job_ids = {j.id for j in jobs}
    veh_ids = {v.id for v in problem.vehicles}
    cancelled = set(state.get("cancelled", []))
    out: list[DispatchEvent] = []
    new_ids: set[int] = set()
    for i, e in enumerate(events):
        path = f"events[{i}]"
        e = _obj(e, path)
        t = e.get("type")
        if t not in EVENT_FIELDS:
            raise _err(
                f"{path}.type",
                f"{_show(t)} is unknown",
                fix=f"use one of {', '.join(EVENT_FIELDS)}",
            )
        _check_keys(e, {"event_id", "type", "at"} | EVENT_FIELDS[t], path)
        eid = e.get("event_id")
        if isinstance(eid, bool) or not isinstance(eid, str | int) or str(eid).strip() == "":
            raise _err(f"{path}.event_id", "missing or not a text/integer id")
        if isinstance(eid, str) and len(eid) > 200:
            raise _err(f"{path}.event_id", "is longer than 200 characters")
        if "at" not in e:
            raise _err(f"{path}.at", "missing", fix="give the time of the event in seconds")
        at = _int(e["at"], f"{path}.at")
        kw: dict[str, Any] = {"event_id": str(eid), "type": t, "at": at}

        if t in ("stop_arrived", "stop_done"):
            kw["job_id"] = _ev_job(e, path, True, job_ids | new_ids)
            if kw["job_id"] in cancelled:
                raise _err(f"{path}.job_id", f"job {kw['job_id']} was cancelled")
            kw["vehicle_id"] = _ev_vehicle(e, path, veh_ids, required=False)
            kw["arrival"] = (
                _int(e["arrival"], f"{path}.arrival")
                if "arrival" in e
                else (at if t == "stop_arrived" else None)
            )
            if t == "stop_done":
                kw["departure"] = (
                    _int(e["departure"], f"{path}.departure") if "departure" in e else at
                )
                if kw["arrival"] is not None and kw["departure"] < kw["arrival"]:
                    raise _err(f"{path}.departure", "is before arrival")
        elif t == "stop_cancelled":
            kw["job_id"] = _ev_job(e, path, True, job_ids | new_ids)
        elif t == "stop_added":
            jid = _ev_job(e, path, False, job_ids | new_ids)
            if jid in job_ids or jid in new_ids:
                raise _err(
                    f"{path}.job_id", f"job {jid} already exists", fix="give the new job a new id"
                )
            body = {k: v for k, v in e.items() if k in _JOB_KEYS}
            job = _parse_job({**body, "id": jid}, path, lim)
            if problem.uses_matrices:
                if job.location_index is None:
                    raise _err(f"{path}.location_index", "missing (required with matrices)")
                size = min(len(problem.matrices[v.profile]["durations"]) for v in problem.vehicles)
                if job.location_index >= size:
                    raise _err(
                        f"{path}.location_index",
                        f"{job.location_index} is outside the matrices (size {size})",
                    )
            elif job.location is None:
                raise _err(f"{path}.location", "missing (required without matrices)")
            if p_dims := problem.dims:
                for name, a in (("delivery", job.delivery), ("pickup", job.pickup)):
                    if a and len(a) != p_dims:
                        raise _err(
                            f"{path}.{name}", f"has {len(a)} values, capacities have {p_dims}"
                        )
            elif job.delivery or job.pickup:
                raise _err(f"{path}.delivery", "the plan has no capacities")
            if not problem.uses_matrices:
                if problem.dims > 1:
                    raise _err(f"{path}.delivery", "one load dimension on a road network")
                if job.priority != (problem.jobs[0].priority if problem.jobs else 0):
                    raise _err(f"{path}.priority", "different job priorities need matrices")
                if any(not job.skills <= v.skills for v in problem.vehicles):
                    raise _err(f"{path}.skills", "skills that not every vehicle has need matrices")
            if job.time_window is not None and problem.t0 and job.time_window[0] < problem.t0:
                raise _err(f"{path}.time_windows", "is before the plan's day (absolute times)")
            new_ids.add(jid)
            kw["job_id"] = jid
            kw["job"] = job
        elif t == "vehicle_position":
            kw["vehicle_id"] = _ev_vehicle(e, path, veh_ids)
            if problem.uses_matrices:
                if "location_index" not in e:
                    raise _err(f"{path}.location_index", "missing (required with matrices)")
                size = min(len(problem.matrices[v.profile]["durations"]) for v in problem.vehicles)
                kw["location_index"] = _int(
                    e["location_index"], f"{path}.location_index", hi=size - 1
                )
            else:
                if "location" not in e:
                    raise _err(f"{path}.location", "missing", fix="[lon, lat]")
                kw["location"] = _coords(e["location"], f"{path}.location")
        elif t == "vehicle_delay":
            kw["vehicle_id"] = _ev_vehicle(e, path, veh_ids)
            if "delay" not in e:
                raise _err(f"{path}.delay", "missing", fix="seconds")
            kw["delay"] = _int(e["delay"], f"{path}.delay", hi=MAX_DELAY_S)
        elif t == "vehicle_down":
            kw["vehicle_id"] = _ev_vehicle(e, path, veh_ids)
        else:  # incident
            if problem.uses_matrices:
                raise _err(
                    f"{path}.type",
                    "incidents need a road network (matrices carry no roads)",
                    fix="send the slower travel times as a new problem",
                )
            if "factor" not in e:
                raise _err(f"{path}.factor", "missing", fix="0.5 = half speed")
            kw["factor"] = _number(e["factor"], f"{path}.factor", lo=0.0, hi=1.0, open_lo=True)
            if "road_class" in e:
                from .network import ROAD_CLASSES

                rc = _text(e["road_class"], f"{path}.road_class")
                if rc not in ROAD_CLASSES:
                    raise _err(
                        f"{path}.road_class",
                        f"{_show(rc)} is unknown",
                        fix=f"use one of {', '.join(ROAD_CLASSES)}",
                    )
                kw["road_class"] = rc
            if "location" in e or "radius_m" in e:
                if "location" not in e or "radius_m" not in e:
                    raise _err(f"{path}.location", "an area needs location and radius_m")
                kw["location"] = _coords(e["location"], f"{path}.location")
                kw["radius_m"] = _number(
                    e["radius_m"], f"{path}.radius_m", lo=0.0, hi=1e6, open_lo=True
                )
            if "road_class" not in kw and "location" not in kw:
                raise _err(
                    f"{path}.road_class", "an incident needs road_class and/or location + radius_m"
                )
            kw["start"] = _int(e["start"], f"{path}.start") if "start" in e else at
            kw["end"] = _int(e["end"], f"{path}.end") if "end" in e else None
            if kw["end"] is not None and kw["end"] < kw["start"]:
                raise _err(f"{path}.end", "is before start")
        out.append(DispatchEvent(**kw))
    if not out:
        raise _err("events", "is empty", fix="send at least one event")
    return out


@dataclass
class _Batch:
    """A coalesced batch of events (ids as integers, times internal seconds)."""

    at: int
    done: dict[int, DispatchEvent] = field(default_factory=dict)  # job -> last done/arrived
    cancel: list[int] = field(default_factory=list)
    added: list[Job] = field(default_factory=list)
    positions: dict[int, DispatchEvent] = field(default_factory=dict)
    delays: dict[int, int] = field(default_factory=dict)
    down: list[int] = field(default_factory=list)
    incidents: list[DispatchEvent] = field(default_factory=list)
    where: dict[tuple[str, int], int] = field(default_factory=dict)  # (kind, id) -> event index


def _batch(p: VroomProblem, state: Mapping[str, Any], evs: Sequence[DispatchEvent]) -> _Batch:
    prev_at = state.get("at")
    at = max([e.at for e in evs] + ([int(prev_at)] if prev_at is not None else []))
    b = _Batch(at=at - p.t0)
    for i, e in enumerate(evs):
        if e.type == "stop_added":
            b.where[("job", e.job_id)] = i  # type: ignore[index]
        elif e.type == "vehicle_position":
            b.where[("vehicle", e.vehicle_id)] = i  # type: ignore[index]
        if e.type in ("stop_arrived", "stop_done"):
            b.done[e.job_id] = e  # type: ignore[index]
        elif e.type == "stop_cancelled":
            b.cancel.append(e.job_id)  # type: ignore[arg-type]
        elif e.type == "stop_added":
            b.added.append(e.job)  # type: ignore[arg-type]
        elif e.type == "vehicle_position":
            b.positions[e.vehicle_id] = e  # type: ignore[index]
        elif e.type == "vehicle_delay":
            b.delays[e.vehicle_id] = b.delays.get(e.vehicle_id, 0) + e.delay  # type: ignore[arg-type]
        elif e.type == "vehicle_down":
            b.down.append(e.vehicle_id)  # type: ignore[arg-type]
        else:
            b.incidents.append(e)
    return b


def _job_json(j: Job) -> dict[str, Any]:
    """A job as VROOM JSON (for the state)."""
    d: dict[str, Any] = {"id": j.id, "service": j.service, "priority": j.priority}
    if j.location is not None:
        d["location"] = list(j.location)
    if j.location_index is not None:
        d["location_index"] = j.location_index
    if j.delivery:
        d["delivery"] = list(j.delivery)
    if j.pickup:
        d["pickup"] = list(j.pickup)
    if j.time_window is not None:
        d["time_windows"] = [list(j.time_window)]
    if j.skills:
        d["skills"] = sorted(j.skills)
    if j.description is not None:
        d["description"] = j.description
    return d


def _prev_routes(state: Mapping[str, Any]) -> dict[int, list[dict[str, Any]]]:
    return {int(r["vehicle"]): list(r["steps"]) for r in state["output"].get("routes", [])}


def _done_now(
    p: VroomProblem, state: Mapping[str, Any], b: _Batch, down: set[int]
) -> tuple[set[int], set[int]]:
    """(jobs done by ``at``, vehicles a done event speaks for) — route replan's rule: named
    by an event, done before, or (vehicles without a done event) planned to be reached by
    ``at``."""
    done = {int(x) for x in state.get("done", [])} | set(b.done)
    prev = _prev_routes(state)
    speaks: set[int] = set()
    for jid, e in b.done.items():
        if e.vehicle_id is not None:
            speaks.add(e.vehicle_id)
        else:
            speaks |= {
                vid
                for vid, st in prev.items()
                if any(s.get("id") == jid and s["type"] == "job" for s in st)
            }
    at_abs = b.at + p.t0
    for vid, steps in prev.items():
        if vid in speaks and vid not in down:
            continue
        for s in steps:
            if s["type"] == "job" and s["arrival"] <= at_abs:
                done.add(int(s["id"]))
    return done, speaks


def _kept_steps(
    steps: Sequence[Mapping[str, Any]],
    done: set[int],
    actual: Mapping[str, Any],
    at_abs: int,
    t0: int,
) -> list[dict[str, Any]]:
    """The part of a previous route that is history: its start (if left), done jobs (with
    actual times) and the breaks before the last of them."""
    if not steps or (
        steps[0]["arrival"] > at_abs
        and not any(s["type"] == "job" and s["id"] in done for s in steps)
    ):
        return []
    last = max(
        (k for k, s in enumerate(steps) if s["type"] == "job" and s["id"] in done), default=0
    )
    out = []
    for s in steps[: last + 1]:
        if s["type"] == "job" and s["id"] not in done:
            continue
        if s["type"] == "end":
            continue
        s = dict(s)
        if s["type"] == "job":
            a = actual.get(str(s["id"]))
            if a and a.get("arrival") is not None:
                s["arrival"] = int(a["arrival"])
        s["arrival"] = s["arrival"] - t0  # internal frame, as the new steps
        out.append(s)
    return out


def _merge(kept: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """History then the new plan (its start step dropped when history exists); new steps'
    cumulative travel time and distance continue from the history."""
    if not kept:
        return new
    d0 = kept[-1]["duration"]
    m0 = kept[-1].get("distance", 0)
    out = list(kept)
    for s in new[1:]:
        s = dict(s)
        s["duration"] = s["duration"] + d0
        if "distance" in s:
            s["distance"] = s["distance"] + m0
        out.append(s)
    return out


def _changes(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    newly_done: set[int],
    cancelled: set[int],
    added: set[int],
) -> list[dict[str, Any]]:
    def where(out: Mapping[str, Any]) -> tuple[dict[int, int], dict[int, list[int]]]:
        veh: dict[int, int] = {}
        order: dict[int, list[int]] = {}
        for r in out.get("routes", []):
            ids = [s["id"] for s in r["steps"] if s["type"] == "job"]
            order[r["vehicle"]] = ids
            for j in ids:
                veh[j] = r["vehicle"]
        return veh, order

    ov, oo = where(old)
    nv, no = where(new)
    rows = []
    for j in sorted(
        set(ov)
        | set(nv)
        | newly_done
        | cancelled
        | added
        | {u["id"] for u in new.get("unassigned", [])}
    ):
        a, b = ov.get(j), nv.get(j)
        if j in newly_done:
            change = "done"
        elif j in cancelled:
            change = "cancelled"
        elif j in added:
            change = "added" if b is not None else "added_unassigned"
        elif a is not None and b is None:
            change = "dropped"
        elif a is None and b is not None:
            change = "assigned"
        elif a != b:
            change = "moved"
        elif a is not None:
            keep = set(oo[a]) & set(no[b])
            if [x for x in oo[a] if x in keep] != [x for x in no[b] if x in keep]:
                change = "resequenced"
            else:
                continue
        else:
            continue
        rows.append({"job_id": j, "change": change, "from_vehicle": a, "to_vehicle": b})
    return rows


def replan_vroom(
    problem: VroomProblem,
    state: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    *,
    network: Any | None = None,
    speed: Any | None = None,
    reassign_penalty: float = 50.0,
    time_limit_s: float | None = None,
    limits: VroomLimits | None = None,
) -> DispatchResult:
    """Apply a batch of events (coalesced into one re-plan at the latest ``at``).

    Done stops stay done (with their actual times), a vehicle that has left for its next
    stop keeps it first, stops move to another vehicle only when that saves more than
    ``reassign_penalty`` (currency per moved job, as ``shipahead route replan``), a
    cancelled job leaves the routes (``unassigned`` with reason ``cancelled``), a vehicle
    that is down keeps its history and its open jobs are planned on the others.

    Returns the new :class:`DispatchResult` with ``changes`` filled; raises
    :class:`InputError` as :func:`parse_events`.
    """
    evs = parse_events(problem, state, events, limits=limits)
    lim = limits or VroomLimits()
    b = _batch(problem, state, evs)
    jobs = _all_jobs(problem, state, lim) + b.added
    by_id = {j.id: j for j in jobs}
    down = {int(x) for x in state.get("down", [])} | set(b.down)
    done, speaks = _done_now(problem, state, b, down)
    cancelled_before = {int(x) for x in state.get("cancelled", [])}
    late_cancel = [j for j in b.cancel if j in done]
    cancelled = cancelled_before | {j for j in b.cancel if j not in done}
    actual = dict(state.get("actual", {}))
    for jid, e in b.done.items():
        actual[str(jid)] = {"arrival": e.arrival, "departure": e.departure}
    warnings = [f"cancel of job {j} ignored: it was already done" for j in late_cancel]
    if problem.uses_matrices:
        routes, un = _replan_matrices(
            problem,
            state,
            b,
            jobs,
            done,
            speaks,
            cancelled,
            down,
            actual,
            reassign_penalty,
            time_limit_s,
        )
        has_distance = all("distances" in problem.matrices[v.profile] for v in problem.vehicles)
        extra: dict[str, Any] = {}
    else:
        routes, un, extra = _replan_network(
            problem,
            state,
            b,
            jobs,
            done,
            cancelled,
            down,
            actual,
            network,
            speed,
            reassign_penalty,
            time_limit_s,
        )
        done |= set(extra.pop("done", set()))
        has_distance = True
    for j in sorted(cancelled):
        if j in by_id:
            un[j] = "cancelled"
    output = _format(problem, jobs, routes, un, has_distance=has_distance)
    new_state = {
        **{k: v for k, v in state.items()},
        "at": b.at + problem.t0,
        "done": sorted(done),
        "cancelled": sorted(cancelled),
        "down": sorted(down),
        "added": list(state.get("added", [])) + [_job_json(j) for j in b.added],
        "actual": actual,
        "output": output,
        "warnings": warnings + extra.pop("warnings", []),
        **extra,
    }
    prev_done = {int(x) for x in state.get("done", [])}
    changes = _changes(
        state["output"],
        output,
        done - prev_done,
        cancelled - cancelled_before,
        {j.id for j in b.added},
    )
    geometry = {
        str(r.vehicle.id): r.geometry for r in routes if any(s["type"] == "job" for s in r.steps)
    }
    return DispatchResult(output=output, state=new_state, geometry=geometry, changes=changes)


def _close_down(kept: list[dict[str, Any]], at: int) -> list[dict[str, Any]]:
    """A vehicle that went down: its history, ended where it last was."""
    last = kept[-1]
    end = {k: v for k, v in last.items() if k not in ("id", "description")}
    end.update(type="end", arrival=max(at, last["arrival"]), service=0, waiting_time=0)
    end["violations"] = []
    return [*kept, end]


def _assemble(
    p: VroomProblem,
    state: Mapping[str, Any],
    new_routes: Mapping[int, _Route],
    done: set[int],
    down: set[int],
    actual: Mapping[str, Any],
    at_abs: int,
    geometry_of=None,
) -> list[_Route]:
    """History (kept steps) + new plan per vehicle, in fleet order."""
    prev = _prev_routes(state)
    out = []
    for v in p.vehicles:
        kept = _kept_steps(prev.get(v.id, []), done, actual, at_abs, p.t0)
        if v.id in down:
            if any(s["type"] == "job" for s in kept):
                steps = _close_down(kept, at_abs - p.t0)
                out.append(_Route(v, steps, _straight(steps)))
            continue
        r = new_routes.get(v.id)
        new = r.steps if r is not None else []
        has_new_jobs = any(s["type"] == "job" for s in new)
        if not has_new_jobs and not any(s["type"] == "job" for s in kept):
            continue
        if not new:
            steps = _close_down(kept, at_abs - p.t0) if kept else []
        else:
            steps = _merge(kept, [dict(s) for s in new])
        geo = _straight(steps)
        if r is not None and r.geometry and geometry_of is not None:
            geo = geometry_of(kept, r.geometry)
        out.append(_Route(v, steps, geo))
    return out


def _replan_matrices(
    p: VroomProblem,
    state: Mapping[str, Any],
    b: _Batch,
    jobs: Sequence[Job],
    done: set[int],
    speaks: set[int],
    cancelled: set[int],
    down: set[int],
    actual: Mapping[str, Any],
    reassign_penalty: float,
    time_limit_s: float | None,
) -> tuple[list[_Route], dict[int, str]]:
    from .errors import InfeasibleError
    from .solve import solve

    del speaks
    prev = _prev_routes(state)
    at, t0 = b.at, p.t0
    at_abs = at + t0
    by_id = {j.id: j for j in jobs}
    active = [v for v in p.vehicles if v.id not in down]
    remaining = [j for j in jobs if j.id not in done and j.id not in cancelled]
    rem_pos = {j.id: k for k, j in enumerate(remaining)}
    starts: dict[int, tuple[int | None, int]] = {}
    cap_left: dict[int, tuple[int, ...]] = {}
    pinned: dict[int, int] = {}
    initial: dict[int, list[int]] = {}
    no_break: set[int] = set()
    for v in active:
        steps = prev.get(v.id, [])
        order = [int(s["id"]) for s in steps if s["type"] == "job"]
        nxt = [j for j in order if j in rem_pos]
        initial[v.id] = [rem_pos[j] for j in nxt]
        delay = b.delays.get(v.id, 0)
        s0 = _depart_s(p, _rel(v.time_window, t0, (0, 0)))
        if any(s["type"] == "break" and s["arrival"] <= at_abs for s in steps):
            no_break.add(v.id)
        started = bool(steps) and steps[0]["arrival"] <= at_abs
        mine_done = [j for j in order if j in done]
        if v.id in b.positions:
            starts[v.id] = (b.positions[v.id].location_index, at + delay)
        elif not started:
            starts[v.id] = (None, max(at, s0) + delay)
        elif steps[-1]["arrival"] <= at_abs and not nxt:
            row = v.end_index if v.end_index is not None else by_id[order[-1]].location_index
            starts[v.id] = (row, max(at, steps[-1]["arrival"] - t0) + delay)
            mine_done = []  # back at its end: unloaded
        else:
            dep = steps[0]["arrival"]
            row = v.start_index
            for s in steps:
                if s["type"] == "job" and s["id"] in done:
                    a = actual.get(str(s["id"])) or {}
                    dep = a.get("departure") or (s["arrival"] + s["waiting_time"] + s["service"])
                    row = by_id[int(s["id"])].location_index
            if row is None:  # open start, nothing done yet: treat as not started
                starts[v.id] = (None, max(at, s0) + delay)
            else:
                starts[v.id] = (row, int(dep) - t0 + delay)
                if nxt and int(dep) <= at_abs:
                    pinned[v.id] = rem_pos[nxt[0]]
        if p.dims and mine_done:
            used = np.sum([_demand(p, by_id[j]) for j in mine_done], axis=0)
            cap_left[v.id] = tuple(int(x) for x in np.maximum(np.asarray(v.capacity) - used, 0))
    while True:
        problem, nodes, real, dist = _matrix_problem(
            p,
            remaining,
            starts=starts,
            capacity_left=cap_left,
            pinned=pinned,
            initial=initial,
            reassign_penalty=reassign_penalty,
            vehicles=active,
            no_break=no_break,
        )
        try:
            sol = solve(problem, _settings(p, time_limit_s))
            break
        except InfeasibleError as exc:
            vid = next(
                (v for v in pinned if exc.message.startswith(f"vehicle {str(v)!r} cannot serve")),
                None,
            )
            if vid is None:
                raise
            del pinned[vid]
            row, t = starts[vid]
            starts[vid] = (row, max(t, at))
    routes, un = _matrix_routes(p, remaining, problem, nodes, real, dist, sol, vehicles=active)
    new = {r.vehicle.id: r for r in routes}
    return _assemble(p, state, new, done, down, actual, at_abs), un


def _event_located(exc: InputError, b: _Batch) -> InputError:
    """A snapping error of an added job or a vehicle position, named by its event."""
    m = exc.message
    for (kind, ident), i in b.where.items():
        hit = (kind == "job" and m.startswith(f"{ident} at lat")) or (
            kind == "vehicle" and m.startswith(f"the position of vehicle {str(ident)!r}")
        )
        if hit:
            path = f"events[{i}].location"
            detail = m.split(" is ", 1)[-1]
            return InputError(f"{path}: is {detail}", column=path, fix=exc.fix)
    return exc


def _replan_network(
    p: VroomProblem,
    state: Mapping[str, Any],
    b: _Batch,
    jobs: Sequence[Job],
    done: set[int],
    cancelled: set[int],
    down: set[int],
    actual: Mapping[str, Any],
    network: Any,
    speed: Any,
    reassign_penalty: float,
    time_limit_s: float | None,
) -> tuple[list[_Route], dict[int, str], dict[str, Any]]:
    import pandas as pd

    from .replan import replan_routes as _replan_routes
    from .tables import hhmm

    if network is None:
        raise InputError(
            "no road network: a plan without matrices needs one to re-plan",
            column="matrices",
            fix="serve/run with the plan's --roads",
        )
    t0 = p.t0
    added_ids = {j.id for j in b.added}
    known = [
        j for j in jobs if j.id not in added_ids and (j.id not in cancelled or j.id in b.cancel)
    ]
    stops = _stops_frame(p, known)
    active = [v for v in p.vehicles if v.id not in down]
    fleet = _fleet_frame(p, active)
    routes = pd.DataFrame(state["routes"])
    for jid, e in b.done.items():
        m = (routes["stop_id"].astype(str) == str(jid)) & (routes["kind"] == "stop")
        if e.arrival is not None:
            routes.loc[m, "arrival"] = hhmm(e.arrival - t0)
        if e.departure is not None:
            routes.loc[m, "departure"] = hhmm(e.departure - t0)
    act = {v.id for v in active}
    rows: list[dict[str, Any]] = []
    for jid, e in b.done.items():
        rows.append(
            {
                "type": "done",
                "stop_id": str(jid),
                "vehicle_id": str(e.vehicle_id) if e.vehicle_id in act else None,
            }
        )
    for jid in b.cancel:
        rows.append({"type": "cancel", "stop_id": str(jid)})
    add = _stops_frame(p, b.added)
    for r in _records(add):
        rows.append({"type": "add", **r})
    for vid, e in b.positions.items():
        if vid in act:
            rows.append(
                {
                    "type": "position",
                    "vehicle_id": str(vid),
                    "lon": e.location[0],
                    "lat": e.location[1],
                }
            )  # type: ignore[index]
    for vid, d in b.delays.items():
        if vid in act:
            rows.append({"type": "delay", "vehicle_id": str(vid), "delay_min": d / 60.0})
    incidents = list(state.get("incidents", []))
    for e in b.incidents:
        row: dict[str, Any] = {
            "type": "incident",
            "factor": e.factor,
            "start": _minutes(e.start - t0),
        }  # type: ignore[operator]
        if e.end is not None:
            row["end"] = _minutes(e.end - t0)
        if e.road_class is not None:
            row["road_class"] = e.road_class
        if e.location is not None:
            row.update(area_lon=e.location[0], area_lat=e.location[1], area_radius_m=e.radius_m)
        incidents.append(row)
    ev = pd.DataFrame(rows + incidents)
    try:
        res = _replan_routes(
            stops,
            fleet,
            routes,
            ev,
            network,
            at_s=int(b.at),
            speed=speed,
            settings=_plan_settings(p, time_limit_s),
            reassign_penalty=float(reassign_penalty),
            done_before=tuple(sorted(str(x) for x in done)),
            date=plan_date(p),
        )
    except InputError as exc:
        raise _event_located(exc, b) from None
    routes_new, un = _network_routes(p, jobs, res.plan, vehicles=active)
    new = {r.vehicle.id: r for r in routes_new}
    new_done = {int(x) for x in res.done}

    def geometry_of(kept, road):
        return [*(tuple(s["location"]) for s in kept if "location" in s), *road]

    out = _assemble(p, state, new, done | new_done, down, actual, b.at + t0, geometry_of)
    extra = {
        "routes": _records(res.plan.routes),
        "incidents": incidents,
        "done": new_done,
        "warnings": list(res.warnings),
    }
    return out, un, extra

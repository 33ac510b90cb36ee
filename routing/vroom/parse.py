"""Validation of a VROOM problem document (:func:`parse_vroom`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from .fields import (
    _amount,
    _check_keys,
    _coords,
    _err,
    _int,
    _list,
    _number,
    _obj,
    _show,
    _skills,
    _text,
    _window,
)
from .model import (
    DAY_S,
    DEFAULT_PER_HOUR,
    MAX_INT,
    Job,
    VroomBreak,
    VroomLimits,
    VroomOptions,
    VroomProblem,
    VroomVehicle,
    _all_times,
)

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


_OPTION_KEYS = {
    "time_limit_s",
    "engine",
    "seed",
    "deterministic",
    "date",
    "depart",
    "max_snap_m",
    "reassign_penalty",
}


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
    if "reassign_penalty" in o and o["reassign_penalty"] is not None:
        kw["reassign_penalty"] = _number(
            o["reassign_penalty"], "options.reassign_penalty", lo=0.0, hi=float(MAX_INT)
        )
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

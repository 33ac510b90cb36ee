"""Dispatch events: validation (:func:`parse_events`) and coalescing into one batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from .fields import _check_keys, _coords, _err, _int, _number, _obj, _show, _text
from .model import DAY_S, STATE_KIND, Job, VroomLimits, VroomProblem
from .parse import _JOB_KEYS, _parse_job

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
    known = _Known(
        job_ids={j.id for j in jobs},
        veh_ids={v.id for v in problem.vehicles},
        cancelled=set(state.get("cancelled", [])),
    )
    out = [_event(problem, e, f"events[{i}]", known, lim) for i, e in enumerate(events)]
    if not out:
        raise _err("events", "is empty", fix="send at least one event")
    return out


@dataclass
class _Known:
    """Ids an event may name: the plan's jobs and vehicles, and the jobs added so far."""

    job_ids: set[int]
    veh_ids: set[int]
    cancelled: set[int]
    new_ids: set[int] = field(default_factory=set)

    @property
    def jobs(self) -> set[int]:
        return self.job_ids | self.new_ids


def _event(
    problem: VroomProblem, e: Any, path: str, known: _Known, lim: VroomLimits
) -> DispatchEvent:
    """One event object: the common fields, then those of its type."""
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
        kw.update(_ev_done(e, path, t, at, known))
    elif t == "stop_cancelled":
        kw["job_id"] = _ev_job(e, path, True, known.jobs)
    elif t == "stop_added":
        job = _ev_added(problem, e, path, known, lim)
        kw.update(job_id=job.id, job=job)
    elif t == "vehicle_position":
        kw.update(_ev_position(problem, e, path, known))
    elif t == "vehicle_delay":
        kw["vehicle_id"] = _ev_vehicle(e, path, known.veh_ids)
        if "delay" not in e:
            raise _err(f"{path}.delay", "missing", fix="seconds")
        kw["delay"] = _int(e["delay"], f"{path}.delay", hi=MAX_DELAY_S)
    elif t == "vehicle_down":
        kw["vehicle_id"] = _ev_vehicle(e, path, known.veh_ids)
    else:
        kw.update(_ev_incident(problem, e, path, at))
    return DispatchEvent(**kw)


def _ev_done(e: Mapping[str, Any], path: str, t: str, at: int, known: _Known) -> dict[str, Any]:
    """The fields of ``stop_arrived`` / ``stop_done`` (actual times default to ``at``)."""
    kw: dict[str, Any] = {"job_id": _ev_job(e, path, True, known.jobs)}
    if kw["job_id"] in known.cancelled:
        raise _err(f"{path}.job_id", f"job {kw['job_id']} was cancelled")
    kw["vehicle_id"] = _ev_vehicle(e, path, known.veh_ids, required=False)
    kw["arrival"] = (
        _int(e["arrival"], f"{path}.arrival")
        if "arrival" in e
        else (at if t == "stop_arrived" else None)
    )
    if t == "stop_done":
        kw["departure"] = _int(e["departure"], f"{path}.departure") if "departure" in e else at
        if kw["arrival"] is not None and kw["departure"] < kw["arrival"]:
            raise _err(f"{path}.departure", "is before arrival")
    return kw


def _ev_added(
    problem: VroomProblem, e: Mapping[str, Any], path: str, known: _Known, lim: VroomLimits
) -> Job:
    """The new job of ``stop_added``, checked against what the plan can express."""
    jid = _ev_job(e, path, False, known.jobs)
    if jid in known.jobs:
        raise _err(f"{path}.job_id", f"job {jid} already exists", fix="give the new job a new id")
    body = {k: v for k, v in e.items() if k in _JOB_KEYS}
    job = _parse_job({**body, "id": jid}, path, lim)
    if problem.uses_matrices:
        if job.location_index is None:
            raise _err(f"{path}.location_index", "missing (required with matrices)")
        size = _matrix_rows(problem)
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
                raise _err(f"{path}.{name}", f"has {len(a)} values, capacities have {p_dims}")
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
    known.new_ids.add(jid)
    return job


def _matrix_rows(problem: VroomProblem) -> int:
    """Rows every vehicle's matrices have."""
    return min(len(problem.matrices[v.profile]["durations"]) for v in problem.vehicles)


def _ev_position(
    problem: VroomProblem, e: Mapping[str, Any], path: str, known: _Known
) -> dict[str, Any]:
    """The fields of ``vehicle_position``: a matrix row, or [lon, lat] on a road network."""
    kw: dict[str, Any] = {"vehicle_id": _ev_vehicle(e, path, known.veh_ids)}
    if problem.uses_matrices:
        if "location_index" not in e:
            raise _err(f"{path}.location_index", "missing (required with matrices)")
        hi = _matrix_rows(problem) - 1
        kw["location_index"] = _int(e["location_index"], f"{path}.location_index", hi=hi)
    else:
        if "location" not in e:
            raise _err(f"{path}.location", "missing", fix="[lon, lat]")
        kw["location"] = _coords(e["location"], f"{path}.location")
    return kw


def _ev_incident(problem: VroomProblem, e: Mapping[str, Any], path: str, at: int) -> dict[str, Any]:
    """The fields of ``incident``: a speed factor on a road class and/or an area."""
    if problem.uses_matrices:
        raise _err(
            f"{path}.type",
            "incidents need a road network (matrices carry no roads)",
            fix="send the slower travel times as a new problem",
        )
    if "factor" not in e:
        raise _err(f"{path}.factor", "missing", fix="0.5 = half speed")
    kw: dict[str, Any] = {
        "factor": _number(e["factor"], f"{path}.factor", lo=0.0, hi=1.0, open_lo=True)
    }
    if "road_class" in e:
        from ..network import ROAD_CLASSES

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
        kw["radius_m"] = _number(e["radius_m"], f"{path}.radius_m", lo=0.0, hi=1e6, open_lo=True)
    if "road_class" not in kw and "location" not in kw:
        raise _err(f"{path}.road_class", "an incident needs road_class and/or location + radius_m")
    kw["start"] = _int(e["start"], f"{path}.start") if "start" in e else at
    kw["end"] = _int(e["end"], f"{path}.end") if "end" in e else None
    if kw["end"] is not None and kw["end"] < kw["start"]:
        raise _err(f"{path}.end", "is before start")
    return kw


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

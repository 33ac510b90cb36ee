"""The validated VROOM problem and its bounds: limits, jobs, vehicles, options, results.

Times are seconds in the problem's own frame; ``t0`` (s) is subtracted inside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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
#: a re-plan moves a job to another vehicle only when that saves more than an hour of
#: urban driving (REASSIGN_DRIVE_S at REASSIGN_KMH) at the fleet's mean costs
REASSIGN_DRIVE_S = 3600
REASSIGN_KMH = 30.0


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
    #: cost (the problem's cost units) per job moved to another vehicle by a re-plan;
    #: None: :func:`reassign_penalty_of`
    reassign_penalty: float | None = None


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


def _all_times(jobs: Sequence[Job], vehicles: Sequence[VroomVehicle]) -> list[int]:
    ts = [t for j in jobs if j.time_window for t in j.time_window]
    for v in vehicles:
        if v.time_window:
            ts.extend(v.time_window)
        for b in v.breaks:
            if b.time_window:
                ts.extend(b.time_window)
    return ts


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


def reassign_penalty_of(p: VroomProblem) -> float:
    """Cost (the problem's cost units) per job a re-plan moves to another vehicle.

    ``options.reassign_penalty`` when given; else the cost of an hour of urban driving at
    the fleet's mean rates: ``per_hour * 1 h + per_km * 30 km`` (3600 without ``costs``,
    where a route costs its travel seconds). VROOM's cost units are the problem's own
    (``per_hour`` 3600 = 1 per second), so a fixed amount would mean nothing across problems.
    """
    if p.options.reassign_penalty is not None:
        return float(p.options.reassign_penalty)
    hours = REASSIGN_DRIVE_S / 3600.0
    km = REASSIGN_KMH * hours
    rates = [v.per_hour * hours + v.per_km * km for v in p.vehicles]
    return float(sum(rates) / len(rates)) if rates else float(REASSIGN_DRIVE_S)

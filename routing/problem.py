"""The one internal vehicle-routing problem description shared by every engine.

Units inside: distances are integer metres, times integer seconds (a time of day is
seconds from midnight), loads integer units. The CLI converts from the file units
(HH:MM, minutes). Benchmark instances (VRPLIB / Solomon) are mapped onto the same
integers with a documented scale (see `routing.instances`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError

OBJECTIVES = ("cost", "distance", "hierarchical")
ENGINES = ("ortools", "pyvrp", "auto")


@dataclass(frozen=True)
class Break:
    """An optional driver break: `duration_s` seconds starting in [earliest_s, latest_s]."""

    earliest_s: int
    latest_s: int
    duration_s: int


@dataclass(frozen=True)
class Vehicle:
    """One vehicle: where it starts/ends (node indices), capacities, shift and costs.

    `cost_per_km` is currency per km driven, `cost_per_hour` currency per hour of route
    duration (from leaving `start` to arriving at `end`, waiting and service included),
    `fixed_cost` currency per used vehicle.
    """

    vehicle_id: str
    start: int
    end: int
    capacity: tuple[int, ...]
    shift_start_s: int
    shift_end_s: int
    fixed_cost: float = 0.0
    cost_per_km: float = 0.0
    cost_per_hour: float = 0.0
    max_duration_s: int | None = None
    break_: Break | None = None


@dataclass(frozen=True)
class RoutingProblem:
    """A capacitated VRP with time windows, several depots, shifts, breaks and drops.

    Parameters
    ----------
    node_ids
        n node ids (depots / vehicle starts and stops), used for output.
    stops
        Indices of the nodes that are stops to visit; the other nodes are depots / starts.
    distance_m
        (n, n) int64 metres.
    duration_s
        (n, n) int64 seconds, or (V, n, n): one matrix per vehicle (e.g. the time bucket
        of its departure).
    demand
        (n, d) int64 units per load dimension (zero rows for depots).
    tw_s
        (n, 2) int64 [earliest, latest] start of service, seconds from midnight.
    service_s
        (n,) int64 service time at each node, seconds.
    vehicles
        The fleet, in output order.
    drop_penalty
        (n,) cost of leaving a stop unserved, in objective units (currency for
        ``objective="cost"``, metres for ``"distance"``); None = every stop must be served.
    pinned
        vehicle_id -> stops that must stay first on that route, in this order (re-planning).
    initial_routes
        Warm start, one tuple of stop indices per vehicle.
    reassign_penalty
        Re-planning: cost per stop served by another vehicle than in `initial_routes`.
    objective
        ``"cost"`` (fixed + per km + per hour + drop penalties), ``"distance"`` (metres,
        plus drop penalties) or ``"hierarchical"`` (fewest vehicles, then distance).
    distance_scale
        Integer distance units per reported unit: 1 for metres; benchmark instances use
        e.g. 10 (one-decimal truncation) or 1000 (exact Euclidean, rounded to 1e-3).
    exact_distance
        Optional (n, n) float distances in reported units; when given, reported costs
        (`routing.instances.solution_text`) use it instead of ``distance_m / distance_scale``.
    """

    node_ids: tuple[str, ...]
    stops: tuple[int, ...]
    distance_m: np.ndarray
    duration_s: np.ndarray
    demand: np.ndarray
    tw_s: np.ndarray
    service_s: np.ndarray
    vehicles: tuple[Vehicle, ...]
    drop_penalty: np.ndarray | None = None
    pinned: dict[str, tuple[int, ...]] = field(default_factory=dict)
    initial_routes: tuple[tuple[int, ...], ...] | None = None
    reassign_penalty: float = 0.0
    objective: str = "cost"
    distance_scale: int = 1
    exact_distance: np.ndarray | None = None

    @property
    def n_nodes(self) -> int:
        """Number of nodes n."""
        return len(self.node_ids)

    def duration_of(self, v: int) -> np.ndarray:
        """The (n, n) duration matrix (seconds) used by vehicle number `v`."""
        d = self.duration_s
        return d[v] if d.ndim == 3 else d

    def validate(self) -> None:
        """Check shapes, references and ranges.

        Raises
        ------
        routing.InputError
            With one sentence naming the field / row and the fix.
        """
        n = self._check_nodes()
        self._check_matrices(n)
        dem = self._check_node_values(n)
        stop_set = self._check_stops(n)
        ids = self._check_vehicles(n, dem.shape[1], stop_set)
        self._check_plan_hints(n, stop_set, ids)

    def _check_nodes(self) -> int:
        """Nodes, fleet and objective are there; returns the number of nodes."""
        n = len(self.node_ids)
        if n == 0:
            raise InputError("the problem has no nodes", fix="give at least one depot")
        if len(set(self.node_ids)) != n:
            dup = sorted({x for x in self.node_ids if self.node_ids.count(x) > 1})[0]
            raise InputError(f"node id {dup!r} appears twice", fix="make node ids unique")
        if not self.vehicles:
            raise InputError("the fleet is empty", fix="give at least one vehicle")
        if self.objective not in OBJECTIVES:
            raise InputError(
                f"objective {self.objective!r} is unknown", fix=f"use one of {OBJECTIVES}"
            )
        return n

    def _check_matrices(self, n: int) -> None:
        """Distance and duration matrices: shapes, integers, non-negative."""
        for name, arr in (("distance_m", self.distance_m), ("duration_s", self.duration_s)):
            a = np.asarray(arr)
            ok = a.shape == (n, n) or (
                name == "duration_s" and a.shape == (len(self.vehicles), n, n)
            )
            if not ok:
                raise InputError(
                    f"{name} has shape {a.shape}, expected ({n}, {n})"
                    + (f" or ({len(self.vehicles)}, {n}, {n})" if name == "duration_s" else ""),
                    fix="build one matrix row/column per node",
                )
            if not np.issubdtype(a.dtype, np.integer):
                raise InputError(f"{name} must be integers", fix="round to whole m / s")
            if (a < 0).any():
                raise InputError(f"{name} has negative entries", fix="use non-negative values")

    def _check_node_values(self, n: int) -> np.ndarray:
        """Demands, time windows and service times per node; returns the demand array."""
        dem = np.asarray(self.demand)
        if dem.ndim != 2 or dem.shape[0] != n or dem.shape[1] < 1:
            raise InputError(
                f"demand has shape {dem.shape}, expected ({n}, d)", fix="one row per node"
            )
        if (dem < 0).any():
            row = int(np.nonzero((dem < 0).any(axis=1))[0][0])
            raise InputError(
                f"node {self.node_ids[row]!r} has a negative demand",
                row=row,
                column="demand_units",
                fix="use demands >= 0",
            )
        for name, arr in (("demand", dem), ("tw_s", self.tw_s), ("service_s", self.service_s)):
            values = np.asarray(arr, dtype=float)
            if values.size % n == 0 and not np.isfinite(values).all():
                row = int(np.nonzero(~np.isfinite(values.reshape(n, -1)).all(axis=1))[0][0])
                raise InputError(
                    f"node {self.node_ids[row]!r} has a non-finite {name}",
                    row=row,
                    fix="use finite numbers (inf/NaN are not demands, windows or times)",
                )
        tw = np.asarray(self.tw_s)
        if tw.shape != (n, 2):
            raise InputError(f"tw_s has shape {tw.shape}, expected ({n}, 2)", fix="[start, end]")
        bad = np.nonzero(tw[:, 1] < tw[:, 0])[0]
        if len(bad):
            r = int(bad[0])
            raise InputError(
                f"node {self.node_ids[r]!r} has a time window that ends before it starts",
                row=r,
                column="tw_end",
                fix="make tw_end >= tw_start",
            )
        if np.asarray(self.service_s).shape != (n,) or (np.asarray(self.service_s) < 0).any():
            raise InputError("service_s must be (n,) non-negative seconds", fix="fix service_min")
        return dem

    def _check_stops(self, n: int) -> set[int]:
        """Stop indices: unique and in range; returns them as a set."""
        stops = list(self.stops)
        if len(set(stops)) != len(stops):
            raise InputError("a stop index appears twice in stops", fix="list each stop once")
        for s in stops:
            if not 0 <= s < n:
                raise InputError(f"stop index {s} out of range 0..{n - 1}", fix="fix stops")
        return set(stops)

    def _check_vehicles(self, n: int, dims: int, stop_set: set[int]) -> list[str]:
        """Vehicle ids unique, each vehicle valid; returns the vehicle ids."""
        ids = [v.vehicle_id for v in self.vehicles]
        if len(set(ids)) != len(ids):
            dup = sorted({x for x in ids if ids.count(x) > 1})[0]
            raise InputError(f"vehicle id {dup!r} appears twice", fix="make vehicle ids unique")
        for i, v in enumerate(self.vehicles):
            _check_vehicle(i, v, n, dims, stop_set, self.node_ids)
        return ids

    def _check_plan_hints(self, n: int, stop_set: set[int], ids: list[str]) -> None:
        """Drop penalties, pinned stops, initial routes and the distance scale."""
        if self.drop_penalty is not None:
            dp = np.asarray(self.drop_penalty)
            if dp.shape != (n,) or (dp < 0).any():
                raise InputError("drop_penalty must be (n,) non-negative", fix="fix penalties")
        for vid, seq in self.pinned.items():
            if vid not in ids:
                raise InputError(f"pinned stops name unknown vehicle {vid!r}", fix="fix vehicle_id")
            for s in seq:
                if s not in stop_set:
                    raise InputError(f"pinned node {s} of vehicle {vid!r} is not a stop")
        pinned_all = [s for seq in self.pinned.values() for s in seq]
        if len(set(pinned_all)) != len(pinned_all):
            raise InputError("a stop is pinned twice", fix="pin each stop to one vehicle once")
        if self.initial_routes is not None:
            if len(self.initial_routes) != len(self.vehicles):
                raise InputError(
                    "initial_routes must have one route per vehicle", fix="pad with empty routes"
                )
            seen: set[int] = set()
            for r in self.initial_routes:
                for s in r:
                    if s not in stop_set or s in seen:
                        raise InputError(
                            f"initial route visits node {s} that is not a stop or twice",
                            fix="list each stop at most once",
                        )
                    seen.add(s)
        if self.distance_scale < 1:
            raise InputError("distance_scale must be >= 1")


def _check_vehicle(
    i: int, v: Vehicle, n: int, dims: int, stop_set: set[int], node_ids: Sequence[str]
) -> None:
    """One vehicle (row ``i`` of the fleet): nodes, capacities, costs, shift and break."""
    for what in ("start", "end"):
        x = getattr(v, what)
        if not 0 <= x < n:
            raise InputError(f"vehicle {v.vehicle_id!r} {what} node {x} out of range", row=i)
        if x in stop_set:
            raise InputError(
                f"vehicle {v.vehicle_id!r} {what} node {node_ids[x]!r} is also a stop",
                row=i,
                fix="give depots and vehicle positions their own node",
            )
    if len(v.capacity) != dims:
        raise InputError(
            f"vehicle {v.vehicle_id!r} has {len(v.capacity)} capacities for {dims} load dimensions",
            row=i,
            column="capacity_units",
            fix="give one capacity per load dimension",
        )
    numbers = (*v.capacity, v.fixed_cost, v.cost_per_km, v.cost_per_hour)
    if not np.isfinite(np.asarray(numbers, dtype=float)).all():
        raise InputError(
            f"vehicle {v.vehicle_id!r} has a non-finite capacity or cost",
            row=i,
            fix="use finite numbers for capacity_units and costs",
        )
    if any(c < 0 for c in v.capacity):
        raise InputError(
            f"vehicle {v.vehicle_id!r} has a negative capacity",
            row=i,
            column="capacity_units",
        )
    if v.shift_end_s < v.shift_start_s:
        raise InputError(
            f"vehicle {v.vehicle_id!r} shift ends before it starts",
            row=i,
            column="shift_end",
            fix="make shift_end >= shift_start",
        )
    if min(v.fixed_cost, v.cost_per_km, v.cost_per_hour) < 0:
        raise InputError(f"vehicle {v.vehicle_id!r} has a negative cost", row=i)
    if v.max_duration_s is not None and v.max_duration_s < 0:
        raise InputError(f"vehicle {v.vehicle_id!r} has a negative max duration", row=i)
    b = v.break_
    if b is not None and (b.latest_s < b.earliest_s or b.duration_s < 0):
        raise InputError(
            f"vehicle {v.vehicle_id!r} break window ends before it starts",
            row=i,
            fix="make break latest >= earliest and duration >= 0",
        )


@dataclass(frozen=True)
class SolveSettings:
    """How to solve.

    `engine`: ``"ortools"``, ``"pyvrp"`` or ``"auto"``. `time_limit_s`: wall-clock budget
    (seconds). `deterministic`: limit by solution / iteration counts instead of time so that
    reruns are byte-identical (`solution_limit` sets OR-Tools' solution count, else a default
    derived from the problem size; PyVRP runs a size-derived iteration count).
    `workers`: processes the ``auto`` engine may use (None = min(2, CPU cores)).
    """

    engine: str = "auto"
    time_limit_s: float = 10.0
    seed: int = 0
    deterministic: bool = False
    solution_limit: int | None = None
    workers: int | None = None


@dataclass(frozen=True)
class Solution:
    """A plan: one route (stop indices, start/end excluded) per vehicle, plus drops."""

    routes: tuple[tuple[int, ...], ...]
    unassigned: tuple[int, ...]
    reasons: dict[int, str]
    objective: float
    distance_m: int
    engine: str
    status: str
    stats: dict = field(default_factory=dict)

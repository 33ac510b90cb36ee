"""From the tables to a :class:`RoutingProblem`: validate, snap, matrices, estimated departures.

:func:`build_context` is shared by the plan and the re-plan; :func:`build_problem` makes
the RoutingProblem for a set of estimated departure times (each row of a vehicle's duration
matrix is the bucket it is expected to leave that node in).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .buckets import BucketMatrices
from .errors import InputError
from .network import FAR_SNAP_M, RoadNetwork, snap_points
from .problem import Break, RoutingProblem, Vehicle
from .settings import PlanSettings
from .tables import DAY_S, normalize_fleet, normalize_stops
from .traffic import SpeedModel

log = logging.getLogger(__name__)


def _auto_drop_penalty(fleet: pd.DataFrame, dist_m: np.ndarray) -> float:
    km = float(dist_m.max(initial=0.0)) / 1000.0 * 2.0
    hours = float((fleet["shift_end_s"] - fleet["shift_start_s"]).max()) / 3600.0
    per_route = float(
        (fleet["fixed_cost"] + fleet["cost_per_km"] * km + fleet["cost_per_hour"] * hours).max()
    )
    return round(10.0 * per_route + 1000.0, 2)


@dataclass
class PlanContext:
    net: RoadNetwork
    speed: SpeedModel
    stops: pd.DataFrame
    fleet: pd.DataFrame
    node_ids: tuple[str, ...]
    node_lonlat: np.ndarray
    node_graph: np.ndarray
    stop_nodes: tuple[int, ...]
    depot_node: dict[str, int]
    pre_unassigned: dict[str, str]
    mats: BucketMatrices
    snap_m: np.ndarray
    snap_far: dict[str, str] = field(default_factory=dict)


@dataclass
class RestartProblem:
    """How each vehicle enters a re-plan (node indices of the `PlanContext`; seconds)."""

    vehicle_start: dict[str, tuple[int, int]]  # vehicle -> (start node, ready time)
    capacity: dict[str, int]  # each vehicle's full capacity
    capacity_left: dict[str, int]
    pinned: dict[str, tuple[int, ...]]  # vehicle -> stop kept first
    initial: tuple[tuple[int, ...], ...]  # warm start: the previous order, pins first
    spent: list[str]  # vehicles that can only drive back to their depot


def build_context(
    stops: pd.DataFrame,
    fleet: pd.DataFrame,
    net: RoadNetwork,
    speed: SpeedModel,
    settings: PlanSettings,
    *,
    depots: pd.DataFrame | None = None,
    default_depot: str | None = None,
    starts: dict[str, tuple[float, float]] | None = None,
) -> PlanContext:
    """Validate, snap, and compute the free-flow matrices (shared by plan and replan).

    ``starts``: vehicle_id -> (lon, lat) of a current position (re-planning); such a
    vehicle gets its own start node ``@<vehicle_id>``.
    """
    st = normalize_stops(stops)
    fl = normalize_fleet(fleet, depots, depart_s=settings.depart_s, default_depot=default_depot)
    cap_max = int(fl["capacity"].max())
    pre: dict[str, str] = {}
    for _, r in st.iterrows():
        if r["demand"] > cap_max:
            pre[r["stop_id"]] = (
                f"capacity: demand {r['demand']} units exceeds the largest vehicle "
                f"({cap_max} units)"
            )
    depot_ids = list(dict.fromkeys(fl["depot_id"]))
    clash = sorted(set(depot_ids) & set(st["stop_id"]))
    if clash:
        raise InputError(
            f"stop_id {clash[0]!r} is also a depot_id",
            column="stop_id",
            fix="give stops and depots different ids",
            table="stops",
        )
    ids: list[str] = []
    lonlat: list[tuple[float, float]] = []
    depot_node: dict[str, int] = {}
    for d in depot_ids:
        r = fl[fl["depot_id"] == d].iloc[0]
        depot_node[d] = len(ids)
        ids.append(d)
        lonlat.append((float(r["depot_lon"]), float(r["depot_lat"])))
    for vid, (x, y) in (starts or {}).items():
        depot_node["@" + vid] = len(ids)
        ids.append("@" + vid)
        lonlat.append((float(x), float(y)))
    n_fixed = len(ids)
    sn_st = snap_points(
        net,
        st["lon"].to_numpy(float),
        st["lat"].to_numpy(float),
        list(st["stop_id"]),
        max_snap_m=settings.max_snap_m,
        table="stops",
        trapped_ok=True,
    )
    snap_far = _snap_notes(st, sn_st, settings.max_snap_m, pre)
    keep = st[~st["stop_id"].isin(pre)]
    stop_nodes = tuple(range(n_fixed, n_fixed + len(keep)))
    ids.extend(keep["stop_id"])
    lonlat.extend(zip(keep["lon"].astype(float), keep["lat"].astype(float), strict=True))
    lonlat_arr = np.asarray(lonlat, dtype=float)
    # snap (stops named with their own table/row for the error)
    try:
        sn_dep = snap_points(
            net,
            lonlat_arr[:n_fixed, 0],
            lonlat_arr[:n_fixed, 1],
            ids[:n_fixed],
            max_snap_m=settings.max_snap_m,
            table="fleet",
        )
    except InputError as exc:
        bad = ids[exc.row] if exc.row is not None else ""
        detail = exc.message.split(" is ", 1)[-1]  # "<d> m from the nearest road (limit …)"
        if bad.startswith("@"):  # a vehicle position (re-planning)
            exc.table, exc.row, exc.column = "events", None, "lat"
            exc.message = f"the position of vehicle {bad[1:]!r} is {detail}"
        else:
            exc.row = int(np.flatnonzero((fl["depot_id"] == bad).to_numpy())[0])
            exc.column = "depot_lat"
            exc.message = f"depot {bad!r} (fleet row {exc.row}) is {detail}"
        exc.args = (exc.message,)
        raise
    kept_rows = np.flatnonzero(~st["stop_id"].isin(pre).to_numpy())
    node_graph = np.concatenate([sn_dep.node, sn_st.node[kept_rows]])
    snap_m = np.concatenate([sn_dep.distance_m, sn_st.distance_m[kept_rows]])
    mats = BucketMatrices(net, speed, node_graph, settings.workers)
    return PlanContext(
        net,
        speed,
        st,
        fl,
        tuple(ids),
        lonlat_arr,
        node_graph,
        stop_nodes,
        depot_node,
        pre,
        mats,
        snap_m,
        snap_far,
    )


def _snap_notes(st: pd.DataFrame, sn, max_snap_m: float, pre: dict[str, str]) -> dict[str, str]:
    """Stops on a road that cannot be driven to and back from the network beyond
    ``max_snap_m`` go to ``pre`` (unassigned, with the reason); every other stop moved more
    than :data:`FAR_SNAP_M` m or off such a road gets a note (returned, also logged)."""
    notes: dict[str, str] = {}
    for i, sid in enumerate(st["stop_id"]):
        if sid in pre:
            continue
        d, cut = float(sn.distance_m[i]), float(sn.cut_m[i])
        trapped = sn.trapped(i)
        why = (
            f"its road ({cut:,.0f} m away) cannot be driven to and back from the depot "
            "(one-way or cut off); "
            if trapped
            else ""
        )
        if d > max_snap_m:
            pre[sid] = (
                f"unreachable: {why}the nearest road that can is {d:,.0f} m away, "
                f"beyond --max-snap-m {max_snap_m:,.0f} m"
            )
        elif d > FAR_SNAP_M or trapped:
            notes[sid] = f"{why}moved {d:,.0f} m to the nearest road reachable both ways"
            if trapped:
                log.warning("stop %r: %s", sid, notes[sid])
    far = [sid for sid, why in notes.items() if not why.startswith("its road")]
    if far:
        log.warning(
            "%d stop(s) are more than %.0f m from the nearest road (e.g. %r); they are served "
            "from that road (each such stop's snap note gives the distance)",
            len(far),
            FAR_SNAP_M,
            far[0],
        )
    return notes


def build_problem(
    ctx: PlanContext,
    est_depart: np.ndarray,
    *,
    drop_penalty: float | None,
    restart: RestartProblem | None = None,
    initial_routes: tuple[tuple[int, ...], ...] | None = None,
    reassign_penalty: float = 0.0,
    late_margin_s: int = 0,
) -> RoutingProblem:
    """The RoutingProblem for estimated departure times ``est_depart`` (V, n) seconds.

    ``restart`` (re-planning): each vehicle's start node and ready time, the capacity it has
    left and the stop it is pinned to.
    """
    vehicle_start = None if restart is None else restart.vehicle_start
    capacity_left = None if restart is None else restart.capacity_left
    n = len(ctx.node_ids)
    fl = ctx.fleet
    vehicles = []
    dur = np.empty((len(fl), n, n), dtype=np.int64)
    for v, r in enumerate(fl.to_dict("records")):
        vid = r["vehicle_id"]
        start = ctx.depot_node[r["depot_id"]]
        s0 = int(r["shift_start_s"])
        brk = r["break"]
        if vehicle_start and vid in vehicle_start:
            start, s0 = vehicle_start[vid]
            brk = _remaining_break(brk, s0)
        cap = (
            int(r["capacity"])
            if not capacity_left or vid not in capacity_left
            else int(capacity_left[vid])
        )
        md = r["max_duration_s"]
        vehicles.append(
            Vehicle(
                vehicle_id=vid,
                start=int(start),
                end=ctx.depot_node[r["depot_id"]],
                capacity=(max(cap, 0),),
                shift_start_s=int(min(s0, int(r["shift_end_s"]))),
                shift_end_s=int(r["shift_end_s"]),
                fixed_cost=float(r["fixed_cost"]),
                cost_per_km=float(r["cost_per_km"]),
                cost_per_hour=float(r["cost_per_hour"]),
                max_duration_s=None if md is None or pd.isna(md) else int(md),
                break_=brk,
            )
        )
        dur[v] = ctx.mats.problem_rows(est_depart[v])
    if len(dur) > 1 and all(np.array_equal(dur[0], d) for d in dur[1:]):
        dur = dur[0]  # one matrix for the whole fleet
    demand = np.zeros((n, 1), dtype=np.int64)
    tw = np.zeros((n, 2), dtype=np.int64)
    tw[:, 1] = 2 * DAY_S
    svc = np.zeros(n, dtype=np.int64)
    st = ctx.stops.set_index("stop_id")
    for i in ctx.stop_nodes:
        r = st.loc[ctx.node_ids[i]]
        demand[i, 0] = int(r["demand"])
        a, b = int(r["tw_start_s"]), int(r["tw_end_s"])
        tw[i] = (a, max(a, b - int(late_margin_s)))
        svc[i] = int(r["service_s"])
    dist = np.rint(ctx.mats.free_dist[ctx.mats.pos][:, ctx.mats.pos]).astype(np.int64)
    np.fill_diagonal(dist, 0)
    dp = None
    if ctx.stop_nodes:
        pen = drop_penalty if drop_penalty is not None else _auto_drop_penalty(fl, dist)
        dp = np.zeros(n)
        dp[list(ctx.stop_nodes)] = pen
    p = RoutingProblem(
        node_ids=ctx.node_ids,
        stops=ctx.stop_nodes,
        distance_m=dist,
        duration_s=dur,
        demand=demand,
        tw_s=tw,
        service_s=svc,
        vehicles=tuple(vehicles),
        drop_penalty=dp,
        pinned={} if restart is None else dict(restart.pinned),
        initial_routes=initial_routes,
        reassign_penalty=reassign_penalty,
        objective="cost",
    )
    p.validate()
    return p


def _remaining_break(b: Break | None, ready_s: int) -> Break | None:
    # in a re-plan the break is still owed unless its window has passed entirely
    if b is None or ready_s > b.latest_s:
        return None
    return Break(max(b.earliest_s, ready_s), b.latest_s, b.duration_s)


def initial_estimates(
    ctx: PlanContext, vehicle_start: dict[str, tuple[int, int]] | None = None
) -> np.ndarray:
    """First guess of when each vehicle leaves each node (s): (V, n)."""
    fl = ctx.fleet
    n = len(ctx.node_ids)
    est = np.zeros((len(fl), n))
    st = ctx.stops.set_index("stop_id")
    tw0 = np.zeros(n)
    svc = np.zeros(n)
    for i in ctx.stop_nodes:
        tw0[i] = st.at[ctx.node_ids[i], "tw_start_s"]
        svc[i] = st.at[ctx.node_ids[i], "service_s"]
    for v, r in enumerate(fl.to_dict("records")):
        start = ctx.depot_node[r["depot_id"]]
        s0 = float(r["shift_start_s"])
        if vehicle_start and r["vehicle_id"] in vehicle_start:
            start, s0 = vehicle_start[r["vehicle_id"]]
            s0 = float(s0)
        tt = ctx.mats.time_for(s0)[ctx.mats.pos[start]][ctx.mats.pos]
        est[v] = np.maximum(tw0, s0 + tt) + svc
        est[v, list(ctx.depot_node.values())] = s0
    return est

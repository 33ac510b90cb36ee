"""Stops + fleet + road network (+ traffic, weather) -> a simulated route plan.

Flow: validate the tables -> snap depots and stops to the network -> free-flow and
hourly-bucket travel-time matrices (compiled Dijkstra) -> one :class:`routing.Problem`
with a duration matrix per vehicle whose row ``i`` is the bucket in which the vehicle is
expected to leave node ``i`` -> :func:`routing.solve` -> exact time-dependent simulation
of every route (:mod:`routing.simulate`) -> re-plan with the buckets the simulation
actually drove in, until the planned arrival times match the simulated ones within a
tolerance or an iteration cap. The ETAs reported are always the simulated ones; the plan
kept is the best simulated one (fewest unserved, then fewest late stops, then cost).

Units inside: seconds from midnight, metres, integer units. Tables use HH:MM (or minutes
from midnight as numbers, which is how ``cli.io.read_table`` parses HH:MM columns).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .clock import CLOCK_RULE, format_clock, parse_clock
from .errors import InputError, SolverError
from .matrix import shortest_path_matrices
from .network import FAR_SNAP_M, RoadNetwork, snap_points
from .problem import Break, Problem, Solution, SolveSettings, Vehicle
from .simulate import RouteSim, Simulator
from .traffic import SpeedModel

log = logging.getLogger(__name__)

DAY_S = 86_400
#: window end of a stop whose tw_end is blank (47:59; written back as blank)
OPEN_TW_END_S = 2 * DAY_S - 1
STOP_COLUMNS = ("stop_id", "lat", "lon", "demand_units", "tw_start", "tw_end", "service_min")
FLEET_COLUMNS = (
    "vehicle_id",
    "depot_id",
    "capacity_units",
    "shift_start",
    "shift_end",
    "cost_per_km",
    "cost_per_hour",
)
ROUTE_COLUMNS = (
    "vehicle_id",
    "seq",
    "stop_id",
    "arrival",
    "departure",
    "load_units",
    "leg_km",
    "leg_min",
    "kind",
    "lat",
    "lon",
    "tw_start",
    "tw_end",
    "service_min",
    "wait_min",
    "break_min",
    "break_start",
    "late_min",
    "on_time",
)


@dataclass(frozen=True)
class PlanSettings:
    """How to plan.

    Parameters
    ----------
    engine, time_limit_s, seed, deterministic
        Passed to :func:`routing.solve` (the first solve gets ``time_limit_s``; each
        re-plan round a third of it, warm-started from the previous plan).
    max_snap_m
        Largest distance (m) from a stop or depot to the road network.
    depart_s
        Departure time of every vehicle (s from midnight); ``None`` = its shift start.
    max_iterations
        Plan/simulate rounds at most.
    eta_tolerance_s
        Stop iterating when every planned arrival is within this of the simulated one.
    late_margin_s
        The solver sees every window end this much earlier (never before its start), so
        that bucket-model errors within the tolerance do not make simulated arrivals late;
        lateness is always judged against the real window.
    drop_penalty
        Currency per stop left unserved; ``None`` = more than any route can cost.
    workers
        Processes for the matrices (``None`` = all usable CPUs).
    """

    engine: str = "auto"
    time_limit_s: float = 10.0
    seed: int = 0
    deterministic: bool = False
    max_snap_m: float = 500.0
    depart_s: int | None = None
    max_iterations: int = 3
    eta_tolerance_s: float = 120.0
    late_margin_s: int = 120
    drop_penalty: float | None = None
    workers: int | None = None


@dataclass(frozen=True, eq=False)
class RoutePlan:
    """A solved, simulated plan and everything needed to write or re-plan it."""

    routes: pd.DataFrame
    unassigned: pd.DataFrame
    summary: dict
    sims: tuple[RouteSim, ...]
    problem: Problem
    solution: Solution
    stops: pd.DataFrame
    fleet: pd.DataFrame
    node_graph: np.ndarray  # graph node index of every problem node
    node_lonlat: np.ndarray  # (n, 2) input coordinates of every problem node
    net: RoadNetwork = field(repr=False)
    speed: SpeedModel = field(repr=False)
    simulator: Simulator = field(repr=False)
    iterations: tuple[dict, ...] = ()


# ---- table validation ----------------------------------------------------------------


def to_seconds(value: object, *, what: str, row: int, column: str, table: str) -> int | None:
    """HH:MM[:SS] text (:mod:`routing.clock` rule: 24:00–47:59 is the next day) or
    minutes-from-midnight number -> seconds; blank -> None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        v = value.strip()
        if not v:
            return None
        try:
            if ":" in v:
                return parse_clock(v)
            return round(float(v) * 60)
        except ValueError:
            raise InputError(
                f"{table} row {row}: {what} {value!r} is not a time of day",
                row=row,
                column=column,
                fix=f"write times as {CLOCK_RULE}",
                table=table,
            ) from None
    if isinstance(value, pd.Timedelta):
        return int(value.total_seconds())
    return round(float(value) * 60)


def hhmm(t: float | None) -> str:
    """Seconds from midnight -> ``HH:MM`` (:func:`routing.clock.format_clock`)."""
    return format_clock(t)


def _tw_end_text(t: float) -> str:
    # an open window end (blank in the input) stays blank in the outputs
    return "" if t >= OPEN_TW_END_S - 59 else hhmm(t)


def _require(df: pd.DataFrame, cols: Sequence[str], table: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(
            f"{table} table has no column {missing[0]!r}",
            column=missing[0],
            fix=f"{table} needs columns {', '.join(cols)}",
            table=table,
        )


def _num(
    df: pd.DataFrame,
    col: str,
    table: str,
    *,
    ge: float | None = None,
    gt: float | None = None,
    required: bool = True,
) -> np.ndarray:
    vals = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
    for i, x in enumerate(vals):
        if math.isnan(x):
            if not required:
                continue
            raise InputError(
                f"{table} row {i} ({df.iloc[i, 0]}): {col} is missing or not a number",
                row=i,
                column=col,
                table=table,
            )
        if (ge is not None and x < ge) or (gt is not None and x <= gt):
            bound = f">= {ge:g}" if ge is not None else f"> {gt:g}"
            raise InputError(
                f"{table} row {i} ({df.iloc[i, 0]}): {col} = {x:g} must be {bound}",
                row=i,
                column=col,
                fix=f"use {col} {bound}",
                table=table,
            )
    return vals


def _unique_ids(s: pd.Series, col: str, table: str) -> list[str]:
    ids = [str(x).strip() for x in s]
    seen: dict[str, int] = {}
    for i, x in enumerate(ids):
        if not x or x == "nan":
            raise InputError(f"{table} row {i}: {col} is empty", row=i, column=col, table=table)
        if x in seen:
            raise InputError(
                f"{table} row {i}: {col} {x!r} repeats row {seen[x]}",
                row=i,
                column=col,
                fix=f"make every {col} unique",
                table=table,
            )
        seen[x] = i
    return ids


def normalize_stops(stops: pd.DataFrame) -> pd.DataFrame:
    """Validate the stops table; return it with ``tw_start_s, tw_end_s, service_s, demand``.

    Missing windows mean the whole day. Raises :class:`InputError` naming the row.
    """
    _require(stops, ("stop_id", "lat", "lon", "demand_units"), "stops")
    df = stops.reset_index(drop=True).copy()
    df["stop_id"] = _unique_ids(df["stop_id"], "stop_id", "stops")
    df["lat"] = _num(df, "lat", "stops", ge=-90.0)
    df["lon"] = _num(df, "lon", "stops", ge=-180.0)
    bad = (df["lat"] > 90) | (df["lon"] > 180)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"stops row {i}: lat/lon out of range", row=i, column="lat", table="stops")
    dem = _num(df, "demand_units", "stops", ge=0.0)
    df["demand"] = np.ceil(dem - 1e-9).astype(np.int64)
    svc = _num(df, "service_min", "stops", ge=0.0) if "service_min" in df else np.zeros(len(df))
    df["service_s"] = np.rint(np.nan_to_num(svc) * 60).astype(np.int64)
    starts, ends = [], []
    for i in range(len(df)):
        a = (
            to_seconds(
                df.at[i, "tw_start"], what="tw_start", row=i, column="tw_start", table="stops"
            )
            if "tw_start" in df
            else None
        )
        b = (
            to_seconds(df.at[i, "tw_end"], what="tw_end", row=i, column="tw_end", table="stops")
            if "tw_end" in df
            else None
        )
        a = 0 if a is None else a
        b = OPEN_TW_END_S if b is None else b
        if b < a:
            raise InputError(
                f"stops row {i} ({df.at[i, 'stop_id']}): time window ends ({hhmm(b)}) "
                f"before it starts ({hhmm(a)})",
                row=i,
                column="tw_end",
                fix="make tw_end later than tw_start",
                table="stops",
            )
        starts.append(a)
        ends.append(b)
    df["tw_start_s"] = np.asarray(starts, dtype=np.int64)
    df["tw_end_s"] = np.asarray(ends, dtype=np.int64)
    return df


def normalize_fleet(
    fleet: pd.DataFrame,
    depots: pd.DataFrame | None = None,
    *,
    depart_s: int | None = None,
    default_depot: str | None = None,
) -> pd.DataFrame:
    """Validate the fleet; resolve depot coordinates; add ``*_s`` columns.

    Depot coordinates come from the fleet's ``depot_lat``/``depot_lon`` or else from
    ``depots`` (``depot_id, lat, lon``, e.g. the fulfilment centres). ``default_depot``
    fills empty ``depot_id`` cells; ``depart_s`` replaces every shift start.
    """
    _require(fleet, FLEET_COLUMNS[:5], "fleet")
    df = fleet.reset_index(drop=True).copy()
    df["vehicle_id"] = _unique_ids(df["vehicle_id"], "vehicle_id", "fleet")
    dep = df["depot_id"].astype(object).where(df["depot_id"].notna(), None)
    dep = [
        str(x).strip() if x is not None and str(x).strip() and str(x) != "nan" else default_depot
        for x in dep
    ]
    for i, d in enumerate(dep):
        if not d:
            raise InputError(
                f"fleet row {i}: depot_id is empty", row=i, column="depot_id", table="fleet"
            )
    df["depot_id"] = dep
    df["capacity"] = np.floor(_num(df, "capacity_units", "fleet", gt=0.0) + 1e-9).astype(np.int64)
    for col in ("cost_per_km", "cost_per_hour", "fixed_cost"):
        df[col] = np.nan_to_num(_num(df, col, "fleet", ge=0.0)) if col in df else 0.0
    ss, se = [], []
    for i in range(len(df)):
        a = to_seconds(
            df.at[i, "shift_start"], what="shift_start", row=i, column="shift_start", table="fleet"
        )
        b = to_seconds(
            df.at[i, "shift_end"], what="shift_end", row=i, column="shift_end", table="fleet"
        )
        if a is None or b is None:
            raise InputError(
                f"fleet row {i}: shift_start/shift_end missing",
                row=i,
                column="shift_start",
                table="fleet",
            )
        if depart_s is not None:
            a = int(depart_s)
        if b < a:
            raise InputError(
                f"fleet row {i} ({df.at[i, 'vehicle_id']}): shift ends ({hhmm(b)}) "
                f"before the vehicle leaves ({hhmm(a)})",
                row=i,
                column="shift_end",
                fix="make shift_end later than shift_start (and --depart)",
                table="fleet",
            )
        ss.append(a)
        se.append(b)
    df["shift_start_s"] = np.asarray(ss, dtype=np.int64)
    df["shift_end_s"] = np.asarray(se, dtype=np.int64)
    if "max_duration_min" in df:
        md = _num(df, "max_duration_min", "fleet", gt=0.0, required=False)
        df["max_duration_s"] = [None if math.isnan(x) else round(x * 60) for x in md]
    else:
        df["max_duration_s"] = None
    brks = []
    for i in range(len(df)):
        bs = (
            to_seconds(
                df.at[i, "break_start"],
                what="break_start",
                row=i,
                column="break_start",
                table="fleet",
            )
            if "break_start" in df
            else None
        )
        be = (
            to_seconds(
                df.at[i, "break_end"], what="break_end", row=i, column="break_end", table="fleet"
            )
            if "break_end" in df
            else None
        )
        bm = df.at[i, "break_min"] if "break_min" in df else None
        bm = None if bm is None or pd.isna(bm) or str(bm).strip() == "" else float(bm)
        if bs is None and be is None and not bm:
            brks.append(None)
            continue
        if bs is None or be is None or bm is None or bm < 0:
            raise InputError(
                f"fleet row {i}: a break needs break_start, break_end and break_min >= 0",
                row=i,
                column="break_start",
                table="fleet",
            )
        if be < bs:
            raise InputError(
                f"fleet row {i}: break_end {hhmm(be)} is before break_start {hhmm(bs)}",
                row=i,
                column="break_end",
                fix="break_end is the latest break start; make it >= break_start",
                table="fleet",
            )
        brks.append(Break(int(bs), int(be), round(bm * 60)))
    df["break"] = brks
    # depot coordinates
    lat = (
        pd.to_numeric(df["depot_lat"], errors="coerce")
        if "depot_lat" in df
        else pd.Series(np.nan, index=df.index)
    )
    lon = (
        pd.to_numeric(df["depot_lon"], errors="coerce")
        if "depot_lon" in df
        else pd.Series(np.nan, index=df.index)
    )
    lookup: dict[str, tuple[float, float]] = {}
    if depots is not None and len(depots):
        idc = (
            "depot_id"
            if "depot_id" in depots
            else ("fc_id" if "fc_id" in depots else depots.columns[0])
        )
        for _, r in depots.iterrows():
            lookup[str(r[idc]).strip()] = (float(r["lat"]), float(r["lon"]))
    for i in range(len(df)):
        if math.isnan(lat[i]) or math.isnan(lon[i]):
            d = df.at[i, "depot_id"]
            if d not in lookup:
                raise InputError(
                    f"fleet row {i} ({df.at[i, 'vehicle_id']}): depot {d!r} has no coordinates",
                    row=i,
                    column="depot_id",
                    fix="add depot_lat/depot_lon to the fleet or pass a depot table "
                    "(--depots / fcs) that lists it",
                    table="fleet",
                )
            lat[i], lon[i] = lookup[d]
    df["depot_lat"] = lat.astype(float)
    df["depot_lon"] = lon.astype(float)
    for d, g in df.groupby("depot_id", sort=False):
        if g["depot_lat"].nunique() > 1 or g["depot_lon"].nunique() > 1:
            i = int(g.index[1])
            raise InputError(
                f"fleet row {i}: depot {d!r} has different coordinates on different rows",
                row=i,
                column="depot_lat",
                table="fleet",
            )
    return df


# ---- matrices per time bucket --------------------------------------------------------


class BucketMatrices:
    """Travel-time matrices between a fixed set of graph nodes, one per speed bucket."""

    def __init__(
        self, net: RoadNetwork, speed: SpeedModel, graph_nodes: np.ndarray, workers: int | None
    ) -> None:
        self.net = net
        self.speed = speed
        self.nodes, self.pos = np.unique(graph_nodes, return_inverse=True)
        self.workers = workers
        t0 = time.perf_counter()
        self.free_time, self.free_dist = shortest_path_matrices(net, self.nodes, workers=workers)
        self.seconds = time.perf_counter() - t0
        self._by_key: dict[tuple, np.ndarray] = {}
        self.dijkstra_runs = 1

    def key(self, t: float) -> tuple:
        h0 = math.floor(t / 3600.0) * 3600.0
        return self.speed.bucket_key(h0, h0 + 3600.0)

    def time_for(self, t: float) -> np.ndarray:
        """(u, u) travel times (s) for departures in the bucket of time ``t``."""
        key = self.key(t)
        if key not in self._by_key:
            h, inc = key
            f = self.speed.hourly[h]
            present = np.unique(self.net.arc_class)
            if not inc and np.allclose(f[present], f[present][0]):
                self._by_key[key] = self.free_time / float(f[present][0])
            else:
                t0 = time.perf_counter()
                arc_t = self.net.arc_time_s / self.speed.arc_factors_for_key(key, self.net)
                self._by_key[key], _ = shortest_path_matrices(
                    self.net, self.nodes, arc_time_s=arc_t, workers=self.workers
                )
                self.seconds += time.perf_counter() - t0
                self.dijkstra_runs += 1
        return self._by_key[key]

    def problem_rows(self, t_rows: np.ndarray) -> np.ndarray:
        """(n, n) int seconds between problem nodes; row i uses the bucket of ``t_rows[i]``."""
        n = len(self.pos)
        out = np.empty((n, n), dtype=np.int64)
        keys = [self.key(t) for t in t_rows]
        code = {k: i for i, k in enumerate(dict.fromkeys(keys))}
        key_of = np.fromiter((code[k] for k in keys), dtype=np.int64, count=len(keys))
        for i in range(len(code)):
            rows = np.flatnonzero(key_of == i)
            m = self.time_for(float(t_rows[rows[0]]))
            out[rows] = np.rint(m[self.pos[rows]][:, self.pos]).astype(np.int64)
        np.fill_diagonal(out, 0)
        return out


# ---- the plan -------------------------------------------------------------------------


def _auto_drop_penalty(fleet: pd.DataFrame, dist_m: np.ndarray) -> float:
    km = float(dist_m.max(initial=0.0)) / 1000.0 * 2.0
    hours = float((fleet["shift_end_s"] - fleet["shift_start_s"]).max()) / 3600.0
    per_route = float(
        (fleet["fixed_cost"] + fleet["cost_per_km"] * km + fleet["cost_per_hour"] * hours).max()
    )
    return round(10.0 * per_route + 1000.0, 2)


@dataclass
class _Context:
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
) -> _Context:
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
    return _Context(
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
            "from that road — see summary.json snap_far",
            len(far),
            FAR_SNAP_M,
            far[0],
        )
    return notes


def build_problem(
    ctx: _Context,
    est_depart: np.ndarray,
    *,
    drop_penalty: float | None,
    vehicle_start: dict[str, tuple[int, int]] | None = None,
    capacity_left: dict[str, int] | None = None,
    pinned: dict[str, tuple[int, ...]] | None = None,
    initial_routes: tuple[tuple[int, ...], ...] | None = None,
    reassign_penalty: float = 0.0,
    late_margin_s: int = 0,
) -> Problem:
    """The routing Problem for estimated departure times ``est_depart`` (V, n) seconds.

    ``vehicle_start``: vehicle_id -> (start node, ready time s) overrides (re-planning).
    """
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
    p = Problem(
        node_ids=ctx.node_ids,
        stops=ctx.stop_nodes,
        distance_m=dist,
        duration_s=dur,
        demand=demand,
        tw_s=tw,
        service_s=svc,
        vehicles=tuple(vehicles),
        drop_penalty=dp,
        pinned=dict(pinned or {}),
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
    ctx: _Context, vehicle_start: dict[str, tuple[int, int]] | None = None
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


def simulate_solution(
    problem: Problem,
    solution_routes: Sequence[Sequence[int]],
    sim: Simulator,
    *,
    keep_legs: bool = False,
    sim_problem: Problem | None = None,
) -> tuple[list[RouteSim], list[list[float]]]:
    """Simulate every non-empty route from its planned (static) departure and break slot.

    ``sim_problem`` (default ``problem``) holds the windows lateness is judged against
    (the real ones when the solver saw tightened windows). Returns the simulations and,
    per route, the planned (static) arrival times.
    """
    from .check import _forward, route_schedule

    sims, planned = [], []
    for v, route in enumerate(solution_routes):
        route = tuple(int(s) for s in route)
        if not route:
            continue
        sch = route_schedule(problem, v, route)
        # the leg the plan puts the break on (-1: the route needs none)
        gap = -1 if sch.break_gap is None else int(sch.break_gap)
        veh = problem.vehicles[v]
        if problem.node_ids[veh.start].startswith("@"):
            # a vehicle already out on the road (re-plan) carries on at once (after its
            # break when the plan has it rest before moving on)
            depart = math.ceil(veh.shift_start_s / 60.0) * 60.0
            b = veh.break_
            if gap == -1 and b is not None and sch.departure_s >= b.earliest_s + b.duration_s:
                depart = max(depart, math.ceil((b.earliest_s + b.duration_s) / 60.0) * 60.0)
            arrivals = _forward(
                problem, veh, problem.duration_of(v), route, int(depart), None if gap < 0 else gap
            )[0]
        else:
            # latest feasible departure in whole minutes (floored: never later anywhere,
            # FIFO), so routes.csv replays exactly
            depart = math.floor(sch.departure_s / 60.0) * 60.0
            b = veh.break_
            if (
                gap == -1
                and b is not None
                and depart < b.earliest_s + b.duration_s <= sch.departure_s
            ):
                # the plan leaves after the break: so does the simulation
                depart = math.ceil(sch.departure_s / 60.0) * 60.0
            arrivals = list(sch.arrival_s)
        sims.append(
            sim.route(
                sim_problem or problem,
                v,
                route,
                depart_s=depart,
                keep_legs=keep_legs,
                break_gap=gap,
            )
        )
        planned.append([float(a) for a in arrivals])
    return sims, planned


def _sim_cost(problem: Problem, sims: Sequence[RouteSim]) -> float:
    c = 0.0
    for s in sims:
        v = problem.vehicles[s.vehicle]
        c += (
            v.fixed_cost
            + v.cost_per_km * s.distance_m / 1000.0
            + v.cost_per_hour * s.duration_s / 3600.0
        )
    return c


def _score(problem: Problem, sol: Solution, sims: Sequence[RouteSim]) -> tuple:
    late = sum(s.late_stops for s in sims)
    over = sum(1 for s in sims if s.end_arrival_s > problem.vehicles[s.vehicle].shift_end_s + 0.5)
    return (len(sol.unassigned), late + over, round(_sim_cost(problem, sims), 6))


def iterate_plan(
    ctx: _Context,
    settings: PlanSettings,
    *,
    vehicle_start: dict[str, tuple[int, int]] | None = None,
    capacity_left: dict[str, int] | None = None,
    pinned: dict[str, tuple[int, ...]] | None = None,
    initial_routes: tuple[tuple[int, ...], ...] | None = None,
    reassign_penalty: float = 0.0,
) -> tuple[Problem, Solution, list[RouteSim], Simulator, list[dict]]:
    """Plan with bucket matrices, simulate, re-plan with the simulated buckets; keep the best."""
    from .solve import solve

    sim = Simulator(ctx.net, ctx.speed, ctx.node_graph)
    est = initial_estimates(ctx, vehicle_start)
    best = None
    log_rows: list[dict] = []
    warm = initial_routes
    time_dependent = not ctx.speed.is_free_flow
    for it in range(max(1, settings.max_iterations)):
        problem = build_problem(
            ctx,
            est,
            drop_penalty=settings.drop_penalty,
            vehicle_start=vehicle_start,
            capacity_left=capacity_left,
            pinned=pinned,
            initial_routes=warm,
            reassign_penalty=reassign_penalty,
            late_margin_s=settings.late_margin_s if time_dependent else 0,
        )
        limit = settings.time_limit_s if it == 0 else max(1.0, settings.time_limit_s / 3.0)
        engine = settings.engine
        if it > 0 and engine == "auto" and settings.deterministic:
            # deterministic PyVRP runs an iteration count, not the clock: re-plan rounds
            # refine the warm start with OR-Tools, whose solution count follows the limit
            engine = "ortools"
        t0 = time.perf_counter()
        sol = solve(
            problem,
            SolveSettings(
                engine=engine,
                time_limit_s=limit,
                seed=settings.seed,
                deterministic=settings.deterministic,
            ),
        )
        solve_s = time.perf_counter() - t0
        if not any(sol.routes) and not sol.unassigned and problem.stops:
            raise SolverError(f"the solver returned no routes ({sol.status})")
        real = replace(problem, tw_s=_real_windows(ctx, problem))
        sims, planned = simulate_solution(problem, sol.routes, sim, sim_problem=real)
        errs = [
            abs(a - v.arrival_s)
            for s, p in zip(sims, planned, strict=True)
            for a, v in zip(p, s.visits, strict=True)
        ]
        max_err = max(errs, default=0.0)
        score = _score(problem, sol, sims)
        log_rows.append(
            {
                "iteration": it + 1,
                "engine": sol.engine,
                "status": sol.status,
                "solve_s": round(solve_s, 2),
                "unassigned": len(sol.unassigned),
                "late_stops": score[1],
                "cost": score[2],
                "eta_max_abs_error_min": round(max_err / 60.0, 2),
                "eta_mean_abs_error_min": round(float(np.mean(errs)) / 60.0 if errs else 0.0, 2),
            }
        )
        log.info("plan round %d: %s", it + 1, log_rows[-1])
        if best is None or score < best[0]:
            best = (score, problem, sol, sims, it, real)
        if not time_dependent or (max_err <= settings.eta_tolerance_s and score[1] == 0):
            break
        # re-plan with the bucket each node is actually left in
        new_est = est.copy()
        first_departure: dict[int, float] = {}
        for s in sims:
            start = problem.vehicles[s.vehicle].start
            first_departure[start] = min(first_departure.get(start, np.inf), s.depart_s)
            for vis in s.visits:
                new_est[:, vis.node] = vis.departure_s
        # one estimate per start node keeps identical vehicles' matrices identical
        for start, t in first_departure.items():
            new_est[:, start] = t
        est = new_est
        warm = tuple(tuple(int(x) for x in r) for r in sol.routes)
    assert best is not None
    _, problem, sol, sims, it, real = best
    for row in log_rows:
        row["kept"] = row["iteration"] == it + 1
    # legs for maps and replanning
    sims, _ = simulate_solution(problem, sol.routes, sim, keep_legs=True, sim_problem=real)
    # outputs and re-simulation judge lateness against the real windows
    return real, sol, sims, sim, log_rows


def _real_windows(ctx: _Context, problem: Problem) -> np.ndarray:
    tw = np.array(problem.tw_s, copy=True)
    st = ctx.stops.set_index("stop_id")
    for i in ctx.stop_nodes:
        tw[i, 1] = int(st.at[ctx.node_ids[i], "tw_end_s"])
    return tw


def plan_routes(
    stops: pd.DataFrame,
    fleet: pd.DataFrame,
    network: RoadNetwork,
    *,
    speed: SpeedModel | None = None,
    settings: PlanSettings | None = None,
    depots: pd.DataFrame | None = None,
    default_depot: str | None = None,
    date: str | None = None,
) -> RoutePlan:
    """Plan delivery routes over a road network with time-dependent travel times.

    Parameters
    ----------
    stops
        ``stop_id, lat, lon, demand_units, tw_start, tw_end, service_min`` (times HH:MM
        or minutes from midnight; blank window = all day).
    fleet
        ``vehicle_id, depot_id, capacity_units, shift_start, shift_end, cost_per_km,
        cost_per_hour`` + optional ``fixed_cost, depot_lat, depot_lon, max_duration_min,
        break_start, break_end, break_min``.
    network
        From :func:`routing.prepare_graph`.
    speed
        Traffic × weather factors (:meth:`routing.SpeedModel.from_tables`); default free flow.
    settings
        :class:`PlanSettings`.
    depots
        ``depot_id`` (or ``fc_id``), ``lat``, ``lon`` for fleets without depot coordinates.
    default_depot
        Depot for fleet rows with an empty ``depot_id``.
    date
        Plan date (only echoed in the summary; the speed model already holds the day).

    Returns
    -------
    RoutePlan
        Routes (simulated ETAs), unassigned stops with reasons, summary KPIs.
    """
    settings = settings or PlanSettings()
    speed = speed or SpeedModel.free_flow()
    t0 = time.perf_counter()
    ctx = build_context(
        stops, fleet, network, speed, settings, depots=depots, default_depot=default_depot
    )
    t_ctx = time.perf_counter() - t0
    problem, sol, sims, sim, log_rows = iterate_plan(ctx, settings)
    timings = {
        "matrices_s": round(ctx.mats.seconds, 2),
        "prepare_s": round(t_ctx, 2),
        "total_s": round(time.perf_counter() - t0, 2),
    }
    return assemble(ctx, problem, sol, sims, sim, log_rows, timings=timings, date=date)


def assemble(
    ctx: _Context,
    problem: Problem,
    sol: Solution,
    sims: Sequence[RouteSim],
    sim: Simulator,
    log_rows: list[dict],
    *,
    timings: dict | None = None,
    date: str | None = None,
    extra_unassigned: dict[str, str] | None = None,
) -> RoutePlan:
    """Build the tables and the summary of a simulated plan."""
    routes = routes_table(problem, sims, ctx.node_lonlat, ctx.stops)
    reasons = dict(ctx.pre_unassigned)
    st_tw = ctx.stops.set_index("stop_id")["tw_end_s"]
    for s in sol.unassigned:
        sid = problem.node_ids[s]
        why = sol.reasons.get(s, "penalty cheaper")
        if why.startswith("window unreachable") and sid in st_tw.index:
            # the solver saw the window shortened by late_margin_s: quote the user's window
            why = (
                f"window unreachable: no vehicle can arrive at {sid!r} before its window "
                f"closes at {hhmm(st_tw[sid])}"
            )
        reasons[sid] = why
    reasons.update(extra_unassigned or {})
    st = ctx.stops.set_index("stop_id")
    un_rows = []
    for sid, why in reasons.items():
        if sid in st.index:
            r = st.loc[sid]
            un_rows.append(
                {
                    "stop_id": sid,
                    "reason": why,
                    "lat": float(r["lat"]),
                    "lon": float(r["lon"]),
                    "demand_units": int(r["demand"]),
                    "tw_start": hhmm(r["tw_start_s"]),
                    "tw_end": _tw_end_text(r["tw_end_s"]),
                }
            )
        else:
            un_rows.append(
                {
                    "stop_id": sid,
                    "reason": why,
                    "lat": np.nan,
                    "lon": np.nan,
                    "demand_units": 0,
                    "tw_start": "",
                    "tw_end": "",
                }
            )
    unassigned = pd.DataFrame(
        un_rows, columns=["stop_id", "reason", "lat", "lon", "demand_units", "tw_start", "tw_end"]
    )
    unassigned = unassigned.sort_values("stop_id", kind="stable").reset_index(drop=True)
    summary = summarize(problem, sol, sims, ctx, log_rows, n_unassigned=len(unassigned))
    summary["timings"] = timings or {}
    if date is not None:
        summary["date"] = str(date)
    return RoutePlan(
        routes=routes,
        unassigned=unassigned,
        summary=summary,
        sims=tuple(sims),
        problem=problem,
        solution=sol,
        stops=ctx.stops,
        fleet=ctx.fleet,
        node_graph=ctx.node_graph,
        node_lonlat=ctx.node_lonlat,
        net=ctx.net,
        speed=ctx.speed,
        simulator=sim,
        iterations=tuple(log_rows),
    )


def routes_table(
    problem: Problem, sims: Sequence[RouteSim], node_lonlat: np.ndarray, stops: pd.DataFrame
) -> pd.DataFrame:
    """One row per vehicle start, stop and end, with simulated times (DESIGN contract first)."""
    st = stops.set_index("stop_id")
    rows = []
    for s in sims:
        v = problem.vehicles[s.vehicle]
        start_break = 0.0
        start_break_at = None
        if s.break_start_s is not None and not any(x.break_s for x in s.visits):
            start_break = v.break_.duration_s / 60.0 if v.break_ else 0.0
            start_break_at = s.break_start_s
        leave = s.depart_s if s.leave_s is None else s.leave_s
        rows.append(
            _row(
                v.vehicle_id,
                0,
                problem.node_ids[v.start],
                s.depart_s,
                leave,
                sum(s.load_start),
                0.0,
                0.0,
                "start",
                node_lonlat[v.start],
                break_min=start_break,
                break_start=start_break_at,
            )
        )
        for k, x in enumerate(s.visits, start=1):
            sid = problem.node_ids[x.node]
            r = st.loc[sid]
            rows.append(
                _row(
                    v.vehicle_id,
                    k,
                    sid,
                    x.arrival_s,
                    x.departure_s,
                    sum(x.load_after),
                    x.leg_m,
                    x.leg_s,
                    "stop",
                    node_lonlat[x.node],
                    tw=(r["tw_start_s"], r["tw_end_s"]),
                    service_min=r["service_s"] / 60.0,
                    wait_min=x.wait_s / 60.0,
                    break_min=x.break_s / 60.0,
                    break_start=x.break_start_s,
                    late_min=x.late_s / 60.0,
                )
            )
        rows.append(
            _row(
                v.vehicle_id,
                len(s.visits) + 1,
                problem.node_ids[v.end],
                s.end_arrival_s,
                s.end_arrival_s,
                0,
                s.end_leg_m,
                s.end_leg_s,
                "end",
                node_lonlat[v.end],
                late_min=max(0.0, s.end_arrival_s - v.shift_end_s) / 60.0,
            )
        )
    return pd.DataFrame(rows, columns=list(ROUTE_COLUMNS))


def _row(
    vid,
    seq,
    sid,
    arr,
    dep,
    load,
    leg_m,
    leg_s,
    kind,
    lonlat,
    *,
    tw=None,
    service_min=0.0,
    wait_min=0.0,
    break_min=0.0,
    break_start=None,
    late_min=0.0,
) -> dict:
    return {
        "vehicle_id": vid,
        "seq": int(seq),
        "stop_id": sid,
        "arrival": hhmm(arr),
        "departure": hhmm(dep),
        "load_units": int(load),
        "leg_km": round(leg_m / 1000.0, 3),
        "leg_min": round(leg_s / 60.0, 2),
        "kind": kind,
        "lat": round(float(lonlat[1]), 6),
        "lon": round(float(lonlat[0]), 6),
        "tw_start": "" if tw is None else hhmm(tw[0]),
        "tw_end": "" if tw is None else _tw_end_text(tw[1]),
        "service_min": round(float(service_min), 2),
        "wait_min": round(float(wait_min), 2),
        "break_min": round(float(break_min), 2),
        "break_start": "" if break_start is None else hhmm(break_start),
        "late_min": round(float(late_min), 2),
        "on_time": bool(late_min <= 0.0083),
    }


def summarize(
    problem: Problem,
    sol: Solution,
    sims: Sequence[RouteSim],
    ctx: _Context,
    log_rows: list[dict],
    *,
    n_unassigned: int,
) -> dict:
    """KPIs of a simulated plan."""
    served = sum(len(s.visits) for s in sims)
    late = sum(s.late_stops for s in sims)
    km = sum(s.distance_m for s in sims) / 1000.0
    fixed = sum(problem.vehicles[s.vehicle].fixed_cost for s in sims)
    dist_cost = sum(problem.vehicles[s.vehicle].cost_per_km * s.distance_m / 1000.0 for s in sims)
    time_cost = sum(problem.vehicles[s.vehicle].cost_per_hour * s.duration_s / 3600.0 for s in sims)
    load_used = sum(sum(s.load_start) for s in sims)
    cap_used = sum(problem.vehicles[s.vehicle].capacity[0] for s in sims)
    shift = sum(
        problem.vehicles[s.vehicle].shift_end_s - problem.vehicles[s.vehicle].shift_start_s
        for s in sims
    )
    kept = next((r for r in log_rows if r.get("kept")), log_rows[-1] if log_rows else {})
    return {
        "stops": len(ctx.stops),
        "served": served,
        "unassigned": n_unassigned,
        "vehicles_available": len(problem.vehicles),
        "vehicles_used": len(sims),
        "km": round(km, 3),
        "driving_h": round(sum(s.driving_s for s in sims) / 3600.0, 3),
        "service_h": round(sum(s.service_s for s in sims) / 3600.0, 3),
        "wait_h": round(sum(s.wait_s for s in sims) / 3600.0, 3),
        "break_h": round(
            sum(
                (
                    problem.vehicles[s.vehicle].break_.duration_s
                    if s.break_start_s is not None and problem.vehicles[s.vehicle].break_
                    else 0
                )
                for s in sims
            )
            / 3600.0,
            3,
        ),
        "cost": {
            "fixed": round(fixed, 2),
            "distance": round(dist_cost, 2),
            "time": round(time_cost, 2),
            "total": round(fixed + dist_cost + time_cost, 2),
        },
        "late_stops": late,
        "on_time_share": round(1.0 - late / served, 4) if served else None,
        "shift_overruns": sum(
            1 for s in sims if s.end_arrival_s > problem.vehicles[s.vehicle].shift_end_s + 0.5
        ),
        "breaks_late": sum(1 for s in sims if s.break_late_s > 0.5),
        "utilisation": {
            "load": round(load_used / cap_used, 4) if cap_used else None,
            "time": round(sum(s.duration_s for s in sims) / shift, 4) if shift else None,
        },
        "eta_planned_vs_simulated_max_abs_min": kept.get("eta_max_abs_error_min"),
        "engine": sol.engine,
        "solver_status": sol.status,
        "iterations": log_rows,
        "network": ctx.net.report.as_dict(),
        "snap_m": {
            "max": round(float(np.max(ctx.snap_m)), 1),
            "mean": round(float(np.mean(ctx.snap_m)), 1),
        },
        "snap_far": dict(sorted(ctx.snap_far.items())),
        "matrix_dijkstra_runs": ctx.mats.dijkstra_runs,
    }


def resimulate(plan: RoutePlan, routes: pd.DataFrame) -> pd.DataFrame:
    """Re-simulate a routes table (e.g. re-read from ``routes.csv``) with the plan's network.

    Uses each vehicle's stop order, its departure time (row ``kind == "start"``) and where
    the break was taken (``break_min > 0``). Returns a fresh routes table.
    """
    problem = plan.problem
    index = {sid: i for i, sid in enumerate(problem.node_ids)}
    vidx = {v.vehicle_id: i for i, v in enumerate(problem.vehicles)}
    sims = []
    offset: dict[str, int] = {}
    for vid, g in routes.groupby("vehicle_id", sort=False):
        g = g.sort_values("seq")
        if str(vid) not in vidx:
            raise InputError(
                f"routes: unknown vehicle_id {vid!r}", column="vehicle_id", table="routes"
            )
        stops_ = [index[str(s)] for s in g.loc[g["kind"] == "stop", "stop_id"]]
        start = g[g["kind"] == "start"].iloc[0]
        dep = to_seconds(start["arrival"], what="arrival", row=0, column="arrival", table="routes")
        brk = pd.to_numeric(g["break_min"], errors="coerce").fillna(0.0).to_numpy()
        gap = int(np.flatnonzero(brk > 0)[0]) if (brk > 0).any() else -1
        sims.append(
            plan.simulator.route(problem, vidx[str(vid)], stops_, depart_s=dep, break_gap=gap)
        )
        offset[str(vid)] = int(pd.to_numeric(start["seq"]))
    out = routes_table(problem, sims, plan.node_lonlat, plan.stops)
    # a re-plan numbers on from the day's sequence: keep the table's numbering
    out["seq"] = out["seq"] + out["vehicle_id"].astype(str).map(offset).fillna(0).astype(int)
    return out

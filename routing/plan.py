"""Stops + fleet + road network (+ traffic, weather) -> a simulated route plan.

Flow: validate the tables (:mod:`routing.tables`) -> snap depots and stops to the network
-> free-flow and hourly-bucket travel-time matrices (:mod:`routing.buckets`,
:mod:`routing.context`) -> one :class:`routing.RoutingProblem` with a duration matrix per vehicle
whose row ``i`` is the bucket in which the vehicle is expected to leave node ``i`` ->
:func:`routing.solve` -> exact time-dependent simulation of every route
(:mod:`routing.simulate`) -> re-plan with the buckets the simulation actually drove in,
until the planned arrival times match the simulated ones within a tolerance or an
iteration cap (:mod:`routing.iterate`) -> tables and KPIs (:mod:`routing.report`). The
ETAs reported are always the simulated ones; the plan kept is the best simulated one
(fewest unserved, then fewest late stops, then cost).

Units inside: seconds from midnight, metres, integer units. Tables use HH:MM (or minutes
from midnight as numbers, which is how ``cli.io.read_table`` parses HH:MM columns).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shipahead.fields import shared_fields

from .context import PlanContext, build_context
from .errors import InputError
from .iterate import PlanRounds, iterate_plan
from .iterate import simulate_solution as simulate_solution  # importable from here too
from .network import RoadNetwork
from .problem import RoutingProblem, Solution
from .report import routes_table, summarize, unassigned_table
from .settings import PlanSettings
from .simulate import RouteSim, Simulator
from .tables import hhmm as hhmm  # importable from here too
from .tables import to_seconds
from .traffic import SpeedModel

__all__ = ["PlanSettings", "RoutePlan", "assemble", "plan_routes", "resimulate"]


@dataclass(frozen=True, eq=False)
class RoutePlan:
    """A solved, simulated plan and everything needed to write or re-plan it."""

    routes: pd.DataFrame
    unassigned: pd.DataFrame
    summary: dict
    sims: tuple[RouteSim, ...]
    problem: RoutingProblem
    solution: Solution
    stops: pd.DataFrame
    fleet: pd.DataFrame
    node_graph: np.ndarray  # graph node index of every problem node
    node_lonlat: np.ndarray  # (n, 2) input coordinates of every problem node
    net: RoadNetwork = field(repr=False)
    speed: SpeedModel = field(repr=False)
    simulator: Simulator = field(repr=False)
    iterations: tuple[dict, ...] = ()


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
    rounds = iterate_plan(ctx, settings)
    timings = {
        "matrices_s": round(ctx.mats.seconds, 2),
        "prepare_s": round(t_ctx, 2),
        "total_s": round(time.perf_counter() - t0, 2),
    }
    return assemble(ctx, rounds, timings=timings, date=date)


def assemble(
    ctx: PlanContext,
    rounds: PlanRounds,
    *,
    timings: dict | None = None,
    date: str | None = None,
    extra_unassigned: dict[str, str] | None = None,
) -> RoutePlan:
    """Build the tables and the summary of a simulated plan."""
    problem, sol, sims = rounds.problem, rounds.solution, rounds.sims
    routes = routes_table(problem, sims, ctx.node_lonlat, ctx.stops)
    unassigned = unassigned_table(problem, sol, ctx, extra_unassigned)
    summary = summarize(problem, sol, sims, ctx, rounds.iterations, n_unassigned=len(unassigned))
    summary["timings"] = timings or {}
    if date is not None:
        summary["date"] = str(date)
    # the network and the inputs from the context, the kept round's solution and simulation
    parts = {**shared_fields(ctx, RoutePlan), **shared_fields(rounds, RoutePlan)}
    parts.update(sims=tuple(sims), iterations=tuple(rounds.iterations))
    return RoutePlan(routes=routes, unassigned=unassigned, summary=summary, **parts)


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

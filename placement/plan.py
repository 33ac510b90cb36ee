"""Placement entry point: tables in → stock targets, placement orders and a summary out."""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .check import check_plan
from .decomposition import (
    BlockWorker,
    DecompositionResult,
    SampleCorrection,
    WorkerPool,
    block_ranges,
    price_decomposition,
    sampled_prices,
)
from .errors import InputError, SolverError
from .inputs import PlacementProblem, PlacementTables, build_problem
from .model import q_index, sku_q_start
from .policy import home_fc, inventory_policy
from .rounding import round_placements
from .settings import PlacementSettings
from .solvers import solve_ortools

log = logging.getLogger(__name__)

TARGET_COLUMNS = ["fc_id", "sku_id", "target_units", "on_hand_units", "expected_fill_rate"]
ORDER_COLUMNS = ["order_id", "sku_id", "from_node", "to_fc_id", "qty_units", "ship_by"]


@dataclass(frozen=True)
class PlacementResult:
    """Outputs of `plan`.

    Attributes
    ----------
    stock_targets
        ``fc_id, sku_id, target_units, on_hand_units, expected_fill_rate`` (units; fill rate of
        the demand of the regions whose cheapest lane is from that FC, NaN if none).
    placement_orders
        ``order_id, sku_id, from_node, to_fc_id, qty_units, ship_by`` (whole units; ship_by ISO
        date = plan_date − lead days, empty without a plan date).
    summary
        JSON-ready dict (see docs/placement.md): cost terms, bounds and gaps, fill rates,
        utilisation, capacity shadow prices. Deterministic (no timings).
    timings
        Seconds per phase (kept out of the summary so outputs are byte-identical across runs).
    inventory_policy
        Per SKU × FC: safety stock, reorder point, target and achieved service level, days of
        cover (:func:`placement.policy.inventory_policy`).
    """

    stock_targets: pd.DataFrame
    placement_orders: pd.DataFrame
    summary: dict
    timings: dict = field(default_factory=dict)
    inventory_policy: pd.DataFrame | None = None


def plan(tables: PlacementTables, settings: PlacementSettings, *, client=None) -> PlacementResult:
    """Decide stock positions and placement orders for a coverage window.

    Parameters
    ----------
    tables
        The contract tables (`PlacementTables`); ``scenarios`` are ``sku_id, region_id,
        scenario, prob, qty_units`` — demand totals over the window (units).
    settings
        Model and method parameters (`PlacementSettings`).
    client
        Optional ``dask.distributed.Client`` for ``backend="dask"``.

    Raises
    ------
    InputError, InfeasibleError
        Bad or contradictory input (one line naming the column/row or FC/SKU/region).
    SolverError
        No usable solver result, or the independent check failed.
    """
    t0 = time.perf_counter()
    pb = build_problem(tables, settings)
    t_in = time.perf_counter() - t0
    res = solve_problem(pb, settings, client=client)
    res.timings["inputs_s"] = t_in
    res.timings["total_s"] = time.perf_counter() - t0
    return res


def choose_method(pb: PlacementProblem, settings: PlacementSettings) -> str:
    """``"mip"``, ``"monolithic"`` or ``"decomposition"`` for these settings and this size."""
    if settings.exact_integer:
        return "mip"
    if settings.method != "auto":
        return settings.method
    # the method depends on the size only, never on the engine: `--engine dask` must give the
    # same plan as local (the engine only decides where decomposition blocks run)
    return (
        "decomposition"
        if pb.n_columns_estimate() > settings.auto_decompose_columns
        else "monolithic"
    )


def _check_engine(settings: PlacementSettings) -> None:
    """Engine ``ray`` needs the ray package: checked up front, whatever the method."""
    if settings.backend == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:  # checked up front, whatever the method
            raise InputError(
                "engine 'ray' needs the ray package, which is not installed",
                fix="pip install ray, or use `backend` local|dask",
            )


@dataclass
class _Solved:
    """The integer plan of a method, before the output tables."""

    q_int: np.ndarray  # whole-unit placements (global placement columns)
    recourse: list[dict]  # per-block recourse results (`BlockWorker.recourse`)
    prices: np.ndarray  # capacity shadow prices λ_f (currency per capacity unit)


@dataclass
class _FirstPrices:
    """Where the decomposition loop starts (see `_first_prices`)."""

    prices: np.ndarray | None  # sampled first prices (None: start from zero prices)
    warmup: SampleCorrection | None  # warm-up corrections of those prices
    sample_iterations: int | None = None  # rounds the sampled sub-problem took


def solve_problem(
    pb: PlacementProblem, settings: PlacementSettings, *, client=None
) -> PlacementResult:
    """Solve an already validated `PlacementProblem` (see `plan`)."""
    _check_engine(settings)
    timings: dict[str, float] = {}
    method = choose_method(pb, settings)
    q_m, q_a = q_index(pb)
    info: dict = {"method": method}
    if method in ("monolithic", "mip"):
        solved = _solve_monolithic(pb, settings, method, q_m, q_a, info, timings)
    else:
        solved = _solve_decomposed(pb, settings, q_m, q_a, info, timings, client)
    t = time.perf_counter()
    result = _assemble(pb, settings, q_m, q_a, solved.q_int, solved.recourse, solved.prices, info)
    check_plan(pb, result.stock_targets, result.placement_orders, result.summary)
    policy = inventory_policy(pb, result.stock_targets, settings.window_days)
    timings["outputs_and_check_s"] = time.perf_counter() - t
    return PlacementResult(
        result.stock_targets, result.placement_orders, result.summary, timings, policy
    )


def _solve_monolithic(
    pb: PlacementProblem,
    settings: PlacementSettings,
    method: str,
    q_m: np.ndarray,
    q_a: np.ndarray,
    info: dict,
    timings: dict[str, float],
) -> _Solved:
    """The whole model in one LP (and, for ``"mip"``, the exact MIP); fills ``info``."""
    t = time.perf_counter()
    worker = BlockWorker(pb, [(0, pb.n_skus)], capacity_rows=True)
    timings["build_s"] = time.perf_counter() - t
    t = time.perf_counter()
    blk = worker.blocks[0]
    if settings.lp_solver == "highs" or method == "mip":
        r = worker.solve_monolithic()
        lp_obj, q_lp, cap_dual = r["objective"], r["q"], r["cap_dual"]
    else:
        sol = solve_ortools(blk, settings.lp_solver, time_limit_s=settings.time_limit_s)
        lp_obj, q_lp = sol.objective, sol.x[: blk.n_q]
        # OR-Tools' HiGHS wrapper exposes no duals: shadow prices are then reported as null
        cap_dual = (
            sol.row_dual[blk.cap_rows] if sol.row_dual is not None else np.full(pb.n_fcs, np.nan)
        )
    info.update(lp_lower_bound=lp_obj, lp_plan_cost=lp_obj, iterations=1)
    prices = np.maximum(0.0, -np.asarray(cap_dual))
    timings["solve_s"] = time.perf_counter() - t
    t = time.perf_counter()
    if method == "mip":
        mip = solve_ortools(
            blk,
            settings.mip_solver,
            integer_cols=np.arange(blk.n_q),
            time_limit_s=settings.time_limit_s or 120.0,
        )
        q_int = np.round(mip.x[: blk.n_q])
        if np.abs(q_int - mip.x[: blk.n_q]).max(initial=0) > 1e-6:
            raise SolverError("SCIP returned non-integer placements")
        info["mip_bound"] = mip.bound
        info["lp_lower_bound"] = max(lp_obj, mip.bound if mip.bound is not None else lp_obj)
        timings["mip_s"] = time.perf_counter() - t
    else:
        q_int = round_placements(pb, q_m, q_a, q_lp)
        timings["rounding_s"] = time.perf_counter() - t
    t = time.perf_counter()
    rec = worker.recourse([q_int])
    timings["recourse_s"] = time.perf_counter() - t
    return _Solved(q_int, rec, prices)


def _first_prices(
    pb: PlacementProblem,
    settings: PlacementSettings,
    pool: WorkerPool,
    ranges: list[tuple[int, int]],
    timings: dict[str, float],
) -> _FirstPrices:
    """Sampled first prices and their warm-up corrections, if the settings ask for them."""
    t = time.perf_counter()
    n_sample = settings.sample_size(pb.n_skus)
    if n_sample <= 0:
        return _FirstPrices(None, None)
    lam0, samp = sampled_prices(
        pb,
        pool,
        ranges,
        n_sample,
        gap_tolerance=min(settings.gap_tolerance, 1e-4),
        time_limit_s=(None if settings.time_limit_s is None else 0.3 * settings.time_limit_s),
        smoothing=settings.smoothing,
    )
    timings["sample_prices_s"] = time.perf_counter() - t
    warm = None
    if settings.sample_corrections > 0:
        warm = SampleCorrection(
            pb,
            pool,
            ranges,
            n_sample,
            samp,
            max_rounds=settings.sample_corrections,
            gap_tolerance=min(settings.gap_tolerance, 1e-4),
            time_limit_s=(None if settings.time_limit_s is None else 0.1 * settings.time_limit_s),
            smoothing=settings.smoothing,
        )
    return _FirstPrices(lam0, warm, samp.iterations)


def _decompose(
    pb: PlacementProblem,
    settings: PlacementSettings,
    pool: WorkerPool,
    ranges: list[tuple[int, int]],
    start: _FirstPrices,
    timings: dict[str, float],
) -> DecompositionResult:
    """The decomposition loop from ``start``, within what is left of the time limit."""
    t = time.perf_counter()
    lam0, warm = start.prices, start.warmup
    left = (
        None
        if settings.time_limit_s is None
        else max(0.0, settings.time_limit_s - timings.get("sample_prices_s", 0.0))
    )
    dec = price_decomposition(
        pb,
        pool,
        ranges,
        initial_prices=lam0,
        smoothing=settings.smoothing,
        gap_tolerance=settings.gap_tolerance,
        max_iterations=settings.max_iterations,
        time_limit_s=left,
        spread=settings.price_spread if lam0 is not None and warm is None else (),
        warmup=warm,
        perturb=settings.price_perturb if lam0 is not None else None,
        perturb_rounds=settings.perturb_rounds,
        perturb_by_block=settings.perturb_by_block,
        box=settings.price_box if lam0 is not None else None,
        drop_columns=settings.drop_columns,
    )
    timings["solve_s"] = time.perf_counter() - t
    timings["pricing_s"] = dec.seconds_pricing
    timings["master_s"] = dec.seconds_master
    if dec.block_seconds:  # summed over workers: the first round includes cold starts
        timings["first_round_block_s"] = dec.block_seconds[0]
        rest = dec.block_seconds[1:]
        timings["warm_round_block_s"] = float(np.mean(rest)) if rest else float("nan")
        timings["pricing_rounds"] = float(len(dec.block_seconds))
        timings["warmup_rounds"] = float(dec.warmup_rounds)
    return dec


def _solve_decomposed(
    pb: PlacementProblem,
    settings: PlacementSettings,
    q_m: np.ndarray,
    q_a: np.ndarray,
    info: dict,
    timings: dict[str, float],
    client,
) -> _Solved:
    """Price decomposition over SKU blocks fanned out to workers; fills ``info``."""
    t = time.perf_counter()
    ranges = block_ranges(pb, settings.block_size)
    keep = settings.keep_models
    if keep is None:
        # a kept, solved block model takes ≈ 360 bytes per LP column in HiGHS
        keep = pb.n_columns_estimate() <= 6_000_000
    pool = WorkerPool(
        pb, ranges, settings.backend, settings.n_workers, client=client, keep_models=keep
    )
    timings["build_s"] = time.perf_counter() - t
    try:
        start = _first_prices(pb, settings, pool, ranges, timings)
        if start.sample_iterations is not None:
            info["sample_iterations"] = start.sample_iterations
        dec = _decompose(pb, settings, pool, ranges, start, timings)
        t = time.perf_counter()
        q_int = round_placements(pb, q_m, q_a, dec.q)
        timings["rounding_s"] = time.perf_counter() - t
        t = time.perf_counter()
        qs = sku_q_start(pb)
        q_blocks = [q_int[qs[s0] : qs[s1]] for s0, s1 in ranges]
        rec = pool.call("recourse", pool.split(q_blocks))
        timings["recourse_s"] = time.perf_counter() - t
    finally:
        pool.close()
    info.update(
        lp_lower_bound=dec.lower_bound,
        lp_plan_cost=dec.upper_bound,
        iterations=dec.iterations,
        blocks=len(ranges),
        engine=settings.backend,  # the summary key stays "engine"
    )
    return _Solved(q_int, rec, dec.prices)


def _gap(num: float, den: float) -> float:
    """Relative gap; float noise below 1e-9 is reported as 0."""
    g = num / max(abs(den), 1e-12)
    return 0.0 if -1e-9 < g < 0 else g


def _f(v: float | None) -> float | None:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    return float(v)


def _assemble(
    pb: PlacementProblem,
    settings: PlacementSettings,
    q_m: np.ndarray,
    q_a: np.ndarray,
    q_int: np.ndarray,
    rec: list[dict],
    prices: np.ndarray,
    info: dict,
) -> PlacementResult:
    S, F = pb.n_skus, pb.n_fcs
    terms = {k: float(sum(r["terms"][k] for r in rec)) for k in rec[0]["terms"]}
    total = float(sum(terms.values()))
    served = np.concatenate([r["served"] for r in rec])
    on_time = np.concatenate([r["on_time"] for r in rec])
    exp_dem = pb.demand @ pb.prob
    # positions from the integer placements
    s_of, f_of = pb.sup_s[q_m], pb.arc_f[q_a]
    x = pb.on_hand.copy()
    np.add.at(x, (s_of, f_of), q_int)
    # catchment fill rate: regions whose cheapest lane (cost + late) is from FC f
    h = home_fc(pb)[pb.dem_r]
    dem_sf = np.zeros((S, F))
    srv_sf = np.zeros((S, F))
    np.add.at(dem_sf, (pb.dem_s, h), exp_dem)
    np.add.at(srv_sf, (pb.dem_s, h), served)
    with np.errstate(invalid="ignore", divide="ignore"):
        fill_sf = np.where(dem_sf > 0, srv_sf / np.where(dem_sf > 0, dem_sf, 1.0), np.nan)
    ss, ff = np.nonzero((x > 0) | (pb.on_hand > 0))
    integral = np.all(np.abs(x - np.round(x)) < 1e-9)
    targets = pd.DataFrame(
        {
            "fc_id": pb.fc_ids[ff],
            "sku_id": pb.sku_ids[ss],
            "target_units": np.round(x[ss, ff]).astype(np.int64) if integral else x[ss, ff],
            "on_hand_units": (
                np.round(pb.on_hand[ss, ff]).astype(np.int64) if integral else pb.on_hand[ss, ff]
            ),
            "expected_fill_rate": np.round(fill_sf[ss, ff], 6),
        }
    ).sort_values(["fc_id", "sku_id"], kind="stable", ignore_index=True)
    # orders
    pos = np.flatnonzero(q_int > 0.5)
    orders = pd.DataFrame(
        {
            "sku_id": pb.sku_ids[s_of[pos]],
            "from_node": pb.node_ids[pb.sup_n[q_m[pos]]],
            "to_fc_id": pb.fc_ids[f_of[pos]],
            "qty_units": np.round(q_int[pos]).astype(np.int64),
            "lead": pb.arc_lead[q_a[pos]],
        }
    ).sort_values(["sku_id", "from_node", "to_fc_id"], kind="stable", ignore_index=True)
    if settings.plan_date is not None:
        pdate = settings.plan_date
        orders["ship_by"] = [
            (pdate - dt.timedelta(days=math.ceil(v))).isoformat() for v in orders["lead"]
        ]
    else:
        orders["ship_by"] = None
    orders.insert(0, "order_id", [f"PO-{i + 1:06d}" for i in range(len(orders))])
    orders = orders[ORDER_COLUMNS]
    # summary
    lb = float(info["lp_lower_bound"])
    ub = float(info["lp_plan_cost"])
    unit = "m3" if pb.cap_unit == "m3" else "units"
    used = pb.vol @ x
    reg_dem = np.bincount(pb.dem_r, weights=exp_dem, minlength=len(pb.region_ids))
    reg_srv = np.bincount(pb.dem_r, weights=served, minlength=len(pb.region_ids))
    reg_ot = np.bincount(pb.dem_r, weights=on_time, minlength=len(pb.region_ids))
    regions = {}
    for r, rid in enumerate(pb.region_ids):
        if reg_dem[r] <= 0:
            continue
        regions[str(rid)] = {
            "expected_demand_units": _f(reg_dem[r]),
            "expected_fill_rate": _f(reg_srv[r] / reg_dem[r]),
            "share_within_promise": _f(reg_ot[r] / reg_dem[r]),
        }
    summary = {
        "method": info["method"],
        "lp_solver": settings.mip_solver if info["method"] == "mip" else settings.lp_solver,
        "engine": info.get("engine", "local"),
        "window_days": float(settings.window_days),
        "promise_days": _f(settings.promise_days),
        "strict_promise": bool(settings.strict_promise),
        "capacity_unit": unit,
        "n_skus": S,
        "n_fcs": F,
        "n_regions": len(pb.region_ids),
        "n_scenarios": pb.n_scenarios,
        "expected_cost": {**{k: _f(v) for k, v in terms.items()}, "total": _f(total)},
        "lp_lower_bound": _f(lb),
        "lp_plan_cost": _f(ub),
        "lp_gap": _f(_gap(ub - lb, ub)),
        "integer_plan_cost": _f(total),
        "rounding_cost": _f(total - ub),
        "gap": _f(_gap(total - lb, total)),
        "iterations": int(info.get("iterations", 1)),
        "expected_fill_rate": _f(served.sum() / exp_dem.sum()) if exp_dem.sum() > 0 else None,
        "share_within_promise": _f(on_time.sum() / exp_dem.sum()) if exp_dem.sum() > 0 else None,
        "regions": regions,
        "fc_utilisation": {
            str(fid): {
                f"used_{unit}": _f(used[f]),
                f"capacity_{unit}": _f(pb.cap[f]),
                "utilisation": _f(used[f] / pb.cap[f]) if pb.cap[f] > 0 else None,
            }
            for f, fid in enumerate(pb.fc_ids)
        },
        "capacity_shadow_price": {str(fid): _f(prices[f]) for f, fid in enumerate(pb.fc_ids)},
        "capacity_shadow_price_unit": f"currency per {unit} over the window",
        "n_orders": len(orders),
        "units_placed": int(orders["qty_units"].sum()) if len(orders) else 0,
    }
    if pb.inbound:
        summary["inbound"] = pb.inbound
    if "mip_bound" in info:
        summary["mip_bound"] = _f(info["mip_bound"])
    if "blocks" in info:
        summary["blocks"] = int(info["blocks"])
    return PlacementResult(targets, orders, summary)

"""Price decomposition on FC capacity (Dantzig–Wolfe / Lagrangian), SKU blocks fanned out.

Only the FC capacity rows couple SKUs. With capacity prices λ_f ≥ 0 (currency per m³) the model
separates by SKU:

    L(λ) = Σ_s min_{z_s ∈ P_s} [ cost_s(z_s) + Σ_f λ_f v_s x_sf ]  −  Σ_f λ_f Cap_f

is a lower bound on the LP optimum for every λ ≥ 0 (weak duality). A restricted master LP over
convex combinations of per-SKU proposals (one convexity row per SKU, F capacity rows) gives a
feasible plan (upper bound) and the next prices (its capacity duals). Every SKU starts with the
"no placement" proposal (q = 0), which is capacity-feasible because the on-hand check passed, so
the master is feasible from the first iteration. Prices are smoothed (Wentges) towards the best
bound found. The loop stops at ``gap = (UB − LB) / UB ≤ gap_tolerance``.

Blocks of consecutive SKUs live in workers that keep their HiGHS model between iterations (only
the x costs change, so re-solves are warm). Workers: in-process, one process per worker through
``concurrent.futures`` (engine "local"), Dask actors (engine "dask") or Ray actors (engine
"ray").
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .check import check_block_recourse
from .errors import InputError, SolverError
from .inputs import Problem
from .model import build_block, sku_q_start
from .solvers import HighsBlock, new_highs

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- worker
class BlockWorker:
    """Holds (or rebuilds) the HiGHS models of some SKU blocks; prices and evaluates them.

    With ``keep_models`` every block keeps its HiGHS instance between calls (warm re-solves,
    about 1 kB per LP column); without, each call builds, solves and drops one block at a time
    so memory stays bounded by one block.
    """

    def __init__(
        self,
        pb: Problem,
        ranges: list[tuple[int, int]],
        capacity_rows: bool = False,
        keep_models: bool = True,
    ):
        self.pb = pb
        self.ranges = ranges
        self.capacity_rows = capacity_rows
        self.keep = keep_models
        self.blocks = []
        self.solvers = []
        if keep_models:
            self.blocks = [
                build_block(pb, s0, s1, capacity_rows=capacity_rows) for s0, s1 in ranges
            ]
            self.solvers = [HighsBlock(b) for b in self.blocks]

    def _get(self, i: int):
        if self.keep:
            return self.blocks[i], self.solvers[i]
        s0, s1 = self.ranges[i]
        b = build_block(self.pb, s0, s1, capacity_rows=self.capacity_rows)
        return b, HighsBlock(b)

    def _per_sku(self, b, sol_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Sb = b.s1 - b.s0
        # b.cost holds the base (price-free) costs: prices only live in HiGHS
        cost_s = np.bincount(b.col_sku, weights=b.cost * sol_x, minlength=Sb)
        use = (sol_x[b.x_cols] * self.pb.vol[b.x_s]).reshape(Sb, self.pb.n_fcs)
        return cost_s, use

    def price(self, lam: np.ndarray | None) -> list[dict]:
        """Solve every block at capacity prices ``lam`` (None: base costs, q free)."""
        out = []
        for i in range(len(self.ranges)):
            b, h = self._get(i)
            base = b.cost[b.x_cols]
            if lam is not None:
                extra = np.asarray(lam)[np.tile(np.arange(b.n_fcs), b.s1 - b.s0)]
                h.set_x_cost(base + extra * self.pb.vol[b.x_s])
            sol = h.solve()
            cost_s, use = self._per_sku(b, sol.x)
            out.append({"cost": cost_s, "use": use, "q": sol.x[: b.n_q].copy()})
        return out

    def recourse(self, q_blocks: list[np.ndarray]) -> list[dict]:
        """Fix placements, re-optimise shipments, check independently, aggregate results."""
        pb = self.pb
        out = []
        for i in range(len(self.ranges)):
            b, h = self._get(i)
            h.set_x_cost(b.cost[b.x_cols])
            h.fix_q(q_blocks[i])
            sol = h.solve()
            y = sol.x[b.y_cols]
            u = sol.x[b.u_cols]
            terms = check_block_recourse(
                pb,
                b.s0,
                b.s1,
                b.q_m,
                b.q_a,
                q_blocks[i],
                b.y_p,
                b.y_l,
                b.y_k,
                y,
                b.u_p,
                b.u_k,
                u,
                sol.objective,
            )
            p0, p1 = int(pb.sku_dem_start[b.s0]), int(pb.sku_dem_start[b.s1])
            wy = pb.prob[b.y_k] * y
            served = np.bincount(b.y_p - p0, weights=wy, minlength=p1 - p0)
            on_time = np.bincount(
                b.y_p - p0, weights=wy * pb.lane_on_time[b.y_l], minlength=p1 - p0
            )
            out.append(
                {
                    "terms": terms,
                    "served": served,
                    "on_time": on_time,
                    "objective": sol.objective,
                }
            )
        return out

    def ping(self) -> list:
        """No-op used to make sure a worker process has built its blocks."""
        return []

    def solve_monolithic(self) -> dict:
        """Solve the (single) block with its capacity rows: objective, q, capacity duals."""
        b, h = self.blocks[0], self.solvers[0]
        sol = h.solve()
        return {
            "objective": sol.objective,
            "q": sol.x[: b.n_q].copy(),
            "cap_dual": sol.row_dual[b.cap_rows].copy(),
        }


# --------------------------------------------------------------------------- engines
_WORKER: BlockWorker | None = None  # one per worker *process* (set by the initializer)


def _init_process(pb: Problem, ranges: list[tuple[int, int]], keep_models: bool) -> None:
    global _WORKER
    _WORKER = BlockWorker(pb, ranges, keep_models=keep_models)


def _call_process(method: str, arg):
    assert _WORKER is not None
    return getattr(_WORKER, method)(*arg)


class WorkerPool:
    """Uniform front over in-process, process, Dask-actor and Ray-actor workers."""

    def __init__(
        self,
        pb: Problem,
        ranges: list[tuple[int, int]],
        engine: str,
        n_workers: int | None,
        client=None,
        keep_models: bool = True,
    ):
        self.engine = engine
        n = n_workers or (os.cpu_count() or 1)
        n = max(1, min(n, len(ranges)))
        # contiguous groups of blocks per worker keep the results in SKU order
        bounds = np.linspace(0, len(ranges), n + 1).round().astype(int)
        self.groups = [ranges[bounds[i] : bounds[i + 1]] for i in range(n)]
        self.groups = [g for g in self.groups if g]
        self._executors: list[ProcessPoolExecutor] = []
        self._local: list[BlockWorker] = []
        self._actors: list = []
        self._cluster = None
        self._client = None
        if engine == "local" and len(self.groups) == 1:
            self._local = [BlockWorker(pb, self.groups[0], keep_models=keep_models)]
        elif engine == "local":
            futs = []
            for g in self.groups:
                ex = ProcessPoolExecutor(
                    max_workers=1, initializer=_init_process, initargs=(pb, g, keep_models)
                )
                self._executors.append(ex)
                futs.append(ex.submit(_call_process, "ping", ()))  # start and build now
            for f in futs:
                f.result()
        elif engine == "dask":
            try:
                from distributed import Client, LocalCluster, get_client
            except ImportError as e:  # pragma: no cover - dask is a dependency
                raise InputError("engine 'dask' needs dask[distributed] installed") from e
            if client is None:
                try:
                    client = get_client()
                except ValueError:
                    self._cluster = LocalCluster(
                        n_workers=len(self.groups),
                        threads_per_worker=1,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address=None,
                    )
                    client = Client(self._cluster)
                    self._client = client
            futs = [
                client.submit(BlockWorker, pb, g, False, keep_models, actor=True)
                for g in self.groups
            ]
            self._actors = [f.result() for f in futs]
        elif engine == "ray":
            try:
                import ray
            except ImportError as e:
                raise InputError(
                    "engine 'ray' needs the ray package, which is not installed",
                    fix="pip install ray, or use --engine local|dask",
                ) from e
            if not ray.is_initialized():
                ray.init(include_dashboard=False, log_to_driver=False)
            actor_cls = ray.remote(BlockWorker)
            self._ray = ray
            self._actors = [actor_cls.remote(pb, g, False, keep_models) for g in self.groups]
        else:
            raise InputError(f"unknown engine {engine!r}", fix="use local, dask or ray")

    def call(self, method: str, args_per_worker: list[tuple] | None = None) -> list[dict]:
        """Call ``method`` on every worker; returns the per-block results in SKU order."""
        n = len(self.groups)
        args = args_per_worker or [()] * n
        if self._local:
            parts = [getattr(self._local[0], method)(*args[0])]
        elif self._executors:
            futs = [
                ex.submit(_call_process, method, a)
                for ex, a in zip(self._executors, args, strict=True)
            ]
            parts = [f.result() for f in futs]
        elif self.engine == "dask":
            futs = [getattr(a, method)(*arg) for a, arg in zip(self._actors, args, strict=True)]
            parts = [f.result() for f in futs]
        else:
            futs = [
                getattr(a, method).remote(*arg) for a, arg in zip(self._actors, args, strict=True)
            ]
            parts = self._ray.get(futs)
        return [r for part in parts for r in part]

    def split(self, per_block: list) -> list[tuple]:
        """Group a per-block list into per-worker argument tuples."""
        out, i = [], 0
        for g in self.groups:
            out.append((per_block[i : i + len(g)],))
            i += len(g)
        return out

    def close(self) -> None:
        for ex in self._executors:
            ex.shutdown(wait=True, cancel_futures=True)
        self._executors = []
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()


# --------------------------------------------------------------------------- master
@dataclass
class DecompositionResult:
    """Outcome of the price decomposition."""

    q: np.ndarray  # fractional LP plan (global placement columns)
    upper_bound: float  # master objective: cost of that feasible plan
    lower_bound: float  # best Lagrangian bound
    prices: np.ndarray  # capacity prices λ_f (currency per capacity unit)
    iterations: int
    history: list[tuple[float, float]] = field(default_factory=list)
    seconds_pricing: float = 0.0
    seconds_master: float = 0.0

    @property
    def gap(self) -> float:
        return (self.upper_bound - self.lower_bound) / max(abs(self.upper_bound), 1e-12)


def subset_problem(pb: Problem, skus: np.ndarray, cap_scale: float) -> Problem:
    """The model restricted to SKUs ``skus`` (sorted indices) with capacity × ``cap_scale``."""
    import dataclasses

    skus = np.asarray(skus, dtype=np.int64)
    new = -np.ones(pb.n_skus, dtype=np.int64)
    new[skus] = np.arange(len(skus))
    ms = new[pb.sup_s] >= 0
    ps = new[pb.dem_s] >= 0

    def starts(keys: np.ndarray) -> np.ndarray:
        st = np.zeros(len(skus) + 1, dtype=np.int64)
        np.cumsum(np.bincount(keys, minlength=len(skus)), out=st[1:])
        return st

    on_hand = pb.on_hand[skus]
    cap = np.maximum(pb.cap * cap_scale, pb.vol[skus] @ on_hand)
    return dataclasses.replace(
        pb,
        sku_ids=pb.sku_ids[skus],
        vol=pb.vol[skus],
        hold=pb.hold[skus],
        pen=pb.pen[skus],
        cap=cap,
        on_hand=on_hand,
        sup_s=new[pb.sup_s[ms]],
        sup_n=pb.sup_n[ms],
        sup_avail=pb.sup_avail[ms],
        sku_sup_start=starts(new[pb.sup_s[ms]]),
        dem_s=new[pb.dem_s[ps]],
        dem_r=pb.dem_r[ps],
        demand=pb.demand[ps],
        sku_dem_start=starts(new[pb.dem_s[ps]]),
    )


def sampled_prices(pb: Problem, n_sample: int) -> np.ndarray:
    """Capacity prices from the LP of an evenly spaced SKU sample with proportional capacity.

    Used only as the first trial prices of the decomposition (any λ ≥ 0 gives a valid bound).
    """
    S = pb.n_skus
    idx = np.unique(np.linspace(0, S - 1, min(S, n_sample)).round().astype(np.int64))
    vol_dem = np.bincount(pb.dem_s, weights=pb.demand @ pb.prob, minlength=S) * pb.vol
    share = vol_dem[idx].sum() / max(vol_dem.sum(), 1e-12)
    sub = subset_problem(pb, idx, share)
    w = BlockWorker(sub, [(0, sub.n_skus)], capacity_rows=True)
    r = w.solve_monolithic()
    return np.maximum(0.0, -np.asarray(r["cap_dual"]))


def no_placement_columns(pb: Problem) -> tuple[np.ndarray, np.ndarray]:
    """A feasible "no placement" plan per SKU (q = 0) and its cost, without any LP.

    Positions stay at on hand (within capacity: checked on input). Each scenario's demand is
    served greedily from on hand over the lanes in increasing cost (a lane is used only when it
    is cheaper than not serving); the rest is unserved. The plan is feasible, so its cost is a
    valid master column (its optimality does not matter: later columns improve on it).

    Returns
    -------
    cost, use
        (S,) expected cost of each SKU's plan (currency); (S, F) capacity used.
    """
    S, K = pb.n_skus, pb.n_scenarios
    stock = np.repeat(pb.on_hand[:, :, None], K, axis=2)
    rem = pb.demand.copy()
    cost = pb.hold * pb.on_hand.sum(axis=1)
    by_region = np.argsort(pb.dem_r, kind="stable")
    r_start = np.zeros(len(pb.region_ids) + 1, dtype=np.int64)
    np.cumsum(np.bincount(pb.dem_r, minlength=len(pb.region_ids)), out=r_start[1:])
    unit = pb.lane_cost + pb.lane_late
    for lane in np.argsort(unit, kind="stable").tolist():
        r, f = pb.lane_r[lane], pb.lane_f[lane]
        ps = by_region[r_start[r] : r_start[r + 1]]
        if not len(ps):
            continue
        s = pb.dem_s[ps]
        worth = (unit[lane] < pb.pen[s])[:, None]
        ship = np.where(worth, np.minimum(stock[s, f, :], rem[ps, :]), 0.0)
        stock[s, f, :] -= ship
        rem[ps, :] -= ship
        cost += np.bincount(s, weights=(ship @ pb.prob) * unit[lane], minlength=S)
    cost += np.bincount(pb.dem_s, weights=(rem @ pb.prob) * pb.pen[pb.dem_s], minlength=S)
    return cost, pb.on_hand * pb.vol[:, None]


def block_ranges(pb: Problem, block_size: int) -> list[tuple[int, int]]:
    """Consecutive SKU ranges of at most ``block_size`` SKUs."""
    S = pb.n_skus
    return [(s, min(S, s + block_size)) for s in range(0, S, block_size)]


def price_decomposition(
    pb: Problem,
    pool: WorkerPool,
    ranges: list[tuple[int, int]],
    *,
    gap_tolerance: float = 1e-4,
    max_iterations: int = 200,
    time_limit_s: float | None = None,
    smoothing: float = 0.5,
    initial_prices: np.ndarray | None = None,
    all_columns: bool = False,
) -> DecompositionResult:
    """Run the Dantzig–Wolfe / Lagrangian loop (see the module docstring)."""
    import highspy

    t_start = time.perf_counter()
    S, F = pb.n_skus, pb.n_fcs
    qs = sku_q_start(pb)
    # master: rows 0..S-1 convexity (= 1), rows S..S+F-1 capacity (≤ Cap)
    h = new_highs()
    inf = highspy.kHighsInf
    h.addRows(
        S, np.ones(S), np.ones(S), 0, np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0)
    )
    h.addRows(
        F,
        np.full(F, -inf),
        pb.cap.astype(float),
        0,
        np.zeros(0, np.int32),
        np.zeros(0, np.int32),
        np.zeros(0),
    )
    store: list[tuple[int, np.ndarray]] = []  # (iteration id, global q of that pricing)
    col_iter: list[np.ndarray] = []
    col_sku: list[np.ndarray] = []

    def add_columns(res: list[dict], mask: np.ndarray, it: int) -> int:
        cost = np.concatenate([r["cost"] for r in res])
        use = np.vstack([r["use"] for r in res])
        q = np.concatenate([r["q"] for r in res])
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            return 0
        u = use[idx]
        nzr, nzc = np.nonzero(u)  # row-major: grouped by column
        counts = 1 + np.bincount(nzr, minlength=len(idx))
        starts = np.zeros(len(idx), dtype=np.int32)
        starts[1:] = np.cumsum(counts)[:-1]
        index = np.empty(int(counts.sum()), dtype=np.int32)
        value = np.empty(int(counts.sum()))
        index[starts] = idx
        value[starts] = 1.0
        pos_in = np.arange(len(nzr)) - np.repeat(np.cumsum(counts - 1) - (counts - 1), counts - 1)
        tgt = np.repeat(starts + 1, counts - 1) + pos_in
        index[tgt] = S + nzc
        value[tgt] = u[nzr, nzc]
        h.addCols(
            len(idx),
            cost[idx],
            np.zeros(len(idx)),
            np.full(len(idx), inf),
            len(index),
            starts,
            index,
            value,
        )
        store.append((it, q))
        col_iter.append(np.full(len(idx), len(store) - 1))
        col_sku.append(idx)
        return len(idx)

    t0 = time.perf_counter()
    z_cost, z_use = no_placement_columns(pb)
    t_price = time.perf_counter() - t0
    add_columns(
        [{"cost": z_cost, "use": z_use, "q": np.zeros(int(qs[-1]))}], np.ones(S, dtype=bool), -1
    )
    best_lb, best_lam = -np.inf, np.zeros(F)
    history: list[tuple[float, float]] = []
    t_master = 0.0
    ub = np.inf
    lam_m = np.zeros(F)
    it = 0
    for it in range(1, max_iterations + 1):
        t0 = time.perf_counter()
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise SolverError(
                f"decomposition master LP failed: {h.modelStatusToString(h.getModelStatus())}"
            )
        ub = float(h.getInfo().objective_function_value)
        sol = h.getSolution()
        duals = np.asarray(sol.row_dual)
        mu = duals[:S]
        lam_m = np.maximum(0.0, -duals[S:])
        t_master += time.perf_counter() - t0
        if best_lb > -np.inf and (ub - best_lb) <= gap_tolerance * max(abs(ub), 1e-12):
            break
        if time_limit_s is not None and time.perf_counter() - t_start > time_limit_s:
            break
        alpha = smoothing if best_lb > -np.inf else 0.0
        first = it == 1 and initial_prices is not None
        added = 0
        for attempt in range(2):
            lam = alpha * best_lam + (1 - alpha) * lam_m if attempt == 0 else lam_m
            if first and attempt == 0:
                lam = np.maximum(0.0, np.asarray(initial_prices, dtype=float))
                alpha = 1.0
            t0 = time.perf_counter()
            res = pool.call("price", [(lam,)] * len(pool.groups))
            t_price += time.perf_counter() - t0
            cost = np.concatenate([r["cost"] for r in res])
            use = np.vstack([r["use"] for r in res])
            lag = cost + use @ lam
            lb = float(lag.sum() - lam @ pb.cap)
            if lb > best_lb:
                best_lb, best_lam = lb, lam.copy()
            rc = cost + use @ lam_m - mu
            mask = rc < -1e-9 * (1.0 + np.abs(cost))
            improving = int(mask.sum())
            if all_columns and improving:
                mask = np.ones(S, dtype=bool)
            added = add_columns(res, mask, it) and improving
            log.debug("iter %d: UB %.6f LB %.6f added %d", it, ub, best_lb, added)
            if added or attempt == 1 or alpha == 0.0:
                break
            alpha = 0.0
        history.append((ub, best_lb))
        if added == 0:  # no improving column at the master's own prices: LP optimal
            break
    # recover the fractional plan
    h.run()
    ub = float(h.getInfo().objective_function_value)
    w = np.asarray(h.getSolution().col_value)
    ci = np.concatenate(col_iter)
    cs = np.concatenate(col_sku)
    q = np.zeros(int(qs[-1]))
    counts = np.diff(qs)
    for j, (_, qj) in enumerate(store):
        sel = ci == j
        if not sel.any():
            continue
        wv = np.zeros(S)
        wv[cs[sel]] = w[sel]
        q += np.repeat(wv, counts) * qj
    lb = min(best_lb, ub)
    return DecompositionResult(
        q=q,
        upper_bound=ub,
        lower_bound=lb,
        prices=lam_m,
        iterations=it,
        history=history,
        seconds_pricing=t_price,
        seconds_master=t_master,
    )

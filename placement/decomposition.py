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
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from shipahead import backends

from .check import check_block_recourse
from .errors import InputError, SolverError
from .inputs import PlacementProblem
from .model import build_block, q_index, ragged, sku_q_start
from .solvers import HighsBlock, make_basis, new_highs

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- worker
def _slim(b) -> None:
    """Drop a kept block's matrix and bounds once HiGHS has its copy (about half the memory)."""
    b.matrix = None
    b.col_lower = b.col_upper = b.row_lower = b.row_upper = None


class BlockWorker:
    """Holds (or rebuilds) the HiGHS models of some SKU blocks; prices and evaluates them.

    With ``keep_models`` every block keeps its HiGHS instance between calls, so a new round of
    prices only changes the x costs and HiGHS re-solves from the previous optimal basis (a few
    dozen simplex iterations instead of ~1,300 per SKU). The first solve of a block is done SKU by
    SKU (a single-SKU LP solves about twice as fast per SKU as a block, the simplex work grows
    faster than linearly with the rows) and the block starts from the assembled optimal basis.
    A kept, solved block of 10 SKUs takes ≈ 9 MB in HiGHS (≈ 0.9 MB per SKU: the LP, its scaled
    copy, a row-wise copy, the factorisation). Without ``keep_models`` each call rebuilds one
    block at a time (memory bounded by one block) but restarts it from the block's last optimal
    basis, kept as 1 byte per column and row (≈ 3 kB per SKU), with Devex dual pricing (whose
    weights, unlike steepest edge, cost nothing to initialise): a re-solve then costs about
    twice a kept model's, instead of a cold solve.
    """

    def __init__(
        self,
        pb: PlacementProblem,
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
        self.warm = [False] * len(ranges)
        # rebuilt blocks' last optimal bases, kept as HiGHS' own objects (1 byte per column and
        # row): converting a block's basis to Python lists and back cost ≈ 40 ms per block of
        # 10 SKUs, more than a warm re-solve (they cannot be pickled: they stay in the worker)
        self.bases: list = [None] * len(ranges)
        self.snap: list = []  # bases of the last `snapshot`
        self.iterations = 0  # simplex iterations of the block being priced
        if keep_models:
            for s0, s1 in ranges:
                b = build_block(pb, s0, s1, capacity_rows=capacity_rows)
                h = HighsBlock(b, presolve=capacity_rows)
                if not capacity_rows:
                    _slim(b)  # HiGHS holds its own copy of the matrix and bounds
                self.blocks.append(b)
                self.solvers.append(h)

    def _get(self, i: int):
        if self.keep:
            return self.blocks[i], self.solvers[i]
        s0, s1 = self.ranges[i]
        b = build_block(self.pb, s0, s1, capacity_rows=self.capacity_rows)
        h = HighsBlock(b, presolve=self.capacity_rows)
        h.h.setOptionValue("simplex_dual_edge_weight_strategy", 1)  # Devex
        return b, h

    def _has_basis(self, i: int) -> bool:
        return self.warm[i] if self.keep else self.bases[i] is not None

    def _restore(self, i: int, h) -> None:
        """Give a rebuilt block its stored basis (a kept model has its own)."""
        if not self.keep and self.bases[i] is not None:
            h.load_basis(self.bases[i])

    def _store(self, i: int, h) -> None:
        if self.keep:
            self.warm[i] = True
        else:
            self.bases[i] = h.save_basis()

    def _x_cost(self, b, lam: np.ndarray | None) -> np.ndarray:
        base = b.cost[b.x_cols]
        if lam is None:
            return base
        return base + np.asarray(lam)[np.tile(np.arange(b.n_fcs), b.s1 - b.s0)] * self.pb.vol[b.x_s]

    def _cold_start(self, i: int, lam: np.ndarray | None) -> np.ndarray:
        """Solve block ``i``'s SKUs one by one: the block's optimal solution, assembled.

        The block's model is not solved (nor, when rebuilt per call, even built): it gets the
        assembled optimal basis of its SKUs and starts the next round's re-solve from it.
        """
        s0, s1 = self.ranges[i]
        cols: list[list] = [[], [], [], []]
        rows: list[list] = [[], [], [], []]
        vals: list[list] = [[], [], [], []]
        pb, F, K = self.pb, self.pb.n_fcs, self.pb.n_scenarios
        for s in range(s0, s1):
            bs = build_block(pb, s, s + 1, capacity_rows=False)
            hs = HighsBlock(bs, presolve=False)
            # measured on the generated instances: Devex dual pricing solves a single SKU from
            # scratch ≈ 20 % faster than HiGHS' default (fewer iterations, cheaper ones)
            hs.h.setOptionValue("simplex_dual_edge_weight_strategy", 1)
            hs.set_x_cost(self._x_cost(bs, lam))
            sol = hs.solve()
            self.iterations += hs.iterations()
            cs, rs = hs.get_basis()
            n_sup = int(pb.sku_sup_start[s + 1] - pb.sku_sup_start[s])
            n_pair = int(pb.sku_dem_start[s + 1] - pb.sku_dem_start[s])
            col_sizes = (bs.n_q, bs.n_x, len(bs.y_p), len(bs.u_p))
            for parts, sizes, st in (
                (cols, col_sizes, cs),
                (rows, (n_sup, F, F * K, n_pair * K), rs),
                (vals, col_sizes, sol.x),
            ):
                o = 0
                for t, n in enumerate(sizes):
                    parts[t].append(st[o : o + n])
                    o += n
        basis = make_basis(
            [v for part in cols for chunk in part for v in chunk],
            [v for part in rows for chunk in part for v in chunk],
        )
        if self.keep:
            self.solvers[i].load_basis(basis)
            self.warm[i] = True
        else:
            self.bases[i] = basis
        return np.concatenate([np.asarray(c, dtype=float) for part in vals for c in part])

    def _per_sku(self, b, sol_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Sb = b.s1 - b.s0
        # b.cost holds the base (price-free) costs: prices only live in HiGHS
        cost_s = np.bincount(b.col_sku, weights=b.cost * sol_x, minlength=Sb)
        use = (sol_x[b.x_cols] * self.pb.vol[b.x_s]).reshape(Sb, self.pb.n_fcs)
        return cost_s, use

    def _proposal(self, b, x: np.ndarray, drops: bool) -> dict:
        """One pricing's result for the block's SKUs (see `price`)."""
        cost, use = self._per_sku(b, x)
        d_cost, d_units = self._drops(b, x) if drops else (None, None)
        return {
            "cost": cost,
            "use": use,
            "q": x[: b.n_q].copy(),
            "drop_cost": d_cost,
            "drop_units": d_units,
        }

    def _drops(self, b, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cost change and units removed if one FC's placement of a SKU is undone.

        For every SKU of the block and FC f: set ``x_f`` back to on-hand (q into f = 0) and, in
        each scenario, cut the shipments out of f that the on-hand cannot cover, the ones whose
        loss costs least first (cost of a unit unserved minus the shipment's cost). The result
        is a feasible plan of that SKU, so its cost is an upper bound of the SKU's optimum with
        that FC's placement undone. Returns ``(delta_cost, removed_units)``, both (S_b, F).
        """
        pb, F, K = self.pb, self.pb.n_fcs, self.pb.n_scenarios
        Sb = b.s1 - b.s0
        q = x[: b.n_q]
        q_cell = (pb.sup_s[b.q_m] - b.s0) * F + pb.arc_f[b.q_a]
        save = np.bincount(q_cell, weights=b.cost[: b.n_q] * q, minlength=Sb * F)
        oh = pb.on_hand[b.s0 : b.s1].ravel()
        removed = np.maximum(x[b.x_cols] - oh, 0.0)
        save += b.cost[b.x_cols] * removed
        y = x[b.y_cols]
        y_s = pb.dem_s[b.y_p] - b.s0
        grp = (y_s * F + pb.lane_f[b.y_l]) * K + b.y_k
        shipped = np.bincount(grp, weights=y, minlength=Sb * F * K)
        excess = np.maximum(shipped - np.repeat(oh, K), 0.0)
        loss = pb.prob[b.y_k] * pb.pen[pb.dem_s[b.y_p]] - b.cost[b.y_cols]
        order = np.lexsort((loss, grp))
        g, ys = grp[order], y[order]
        before = np.cumsum(ys) - ys
        first = np.searchsorted(g, np.arange(Sb * F * K))
        before -= before[np.minimum(first, len(g) - 1)][g] if len(g) else 0.0
        cut = np.clip(excess[g] - before, 0.0, ys)
        inc = np.bincount(g, weights=cut * loss[order], minlength=Sb * F * K)
        delta = inc.reshape(Sb * F, K).sum(axis=1) - save
        return delta.reshape(Sb, F), removed.reshape(Sb, F)

    def price(
        self,
        lam: np.ndarray | None,
        which: list[int] | None = None,
        extra: list[np.ndarray] | None = None,
        drops: bool = False,
    ) -> list[dict]:
        """Solve blocks ``which`` (default: all) at capacity prices ``lam`` (None: base costs).

        Returns one dict per block: per-SKU base cost (without the price term), capacity use
        per SKU and FC, and the placement columns of the solution; with ``extra`` price
        vectors, the block is re-solved (warm) at each and their results are listed under
        ``"extra"``. With ``drops``, each result also carries the drop proposals
        (``drop_cost``, ``drop_units``: `_drops`). ``lam`` may also be one price vector per
        block priced, shape (blocks, F).
        """
        out = []
        lam_all = None if lam is None else np.asarray(lam, dtype=float)
        for n, i in enumerate(range(len(self.ranges)) if which is None else which):
            lam = lam_all if lam_all is None or lam_all.ndim == 1 else lam_all[n]
            t0 = time.perf_counter()
            self.iterations = 0
            if not self._has_basis(i):
                x = self._cold_start(i, lam)
                if self.keep or extra:  # the block's model: kept, or needed for the extras
                    b, h = self._get(i)
                    self._restore(i, h)
                else:  # its arrays only (costs and maps for the proposal); no HiGHS model
                    s0, s1 = self.ranges[i]
                    b = build_block(self.pb, s0, s1, capacity_rows=self.capacity_rows)
                    h = None
            else:
                b, h = self._get(i)
                h.set_x_cost(self._x_cost(b, lam))
                self._restore(i, h)
                x = h.solve().x
                self.iterations += h.iterations()
            base = self._proposal(b, x, drops)
            more = []
            for lam_e in extra or []:
                h.set_x_cost(self._x_cost(b, lam_e))
                sol_e = h.solve()
                self.iterations += h.iterations()
                more.append(self._proposal(b, sol_e.x, drops))
            if h is not None:
                self._store(i, h)
            out.append(
                {
                    **base,
                    "iterations": self.iterations,
                    "seconds": time.perf_counter() - t0,
                    "extra": more,
                }
            )
        return out

    def recourse(self, q_blocks: list[np.ndarray]) -> list[dict]:
        """Fix placements, re-optimise shipments, check independently, aggregate results."""
        pb = self.pb
        out = []
        for i in range(len(self.ranges)):
            b, h = self._get(i)
            h.set_x_cost(b.cost[b.x_cols])
            h.fix_q(q_blocks[i])
            self._restore(i, h)
            sol = h.solve()
            if self.keep:  # a kept model must price freely again afterwards
                h.fix_q(None)
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

    def snapshot(self) -> list:
        """Remember every block's current basis (`restore`: later re-solves start from it)."""
        if self.keep:
            self.snap = [
                h.save_basis() if w else None for h, w in zip(self.solvers, self.warm, strict=True)
            ]
        else:
            self.snap = list(self.bases)
        return []

    def restore(self) -> list:
        """Start the next re-solves from the bases of the last `snapshot`."""
        for i, basis in enumerate(self.snap):
            if basis is None:
                continue
            if self.keep:
                self.solvers[i].load_basis(basis)
            else:
                self.bases[i] = basis
        return []

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


def _init_process(pb: PlacementProblem, ranges: list[tuple[int, int]], keep_models: bool) -> None:
    global _WORKER
    _WORKER = BlockWorker(pb, ranges, keep_models=keep_models)


def _call_process(method: str, arg):
    assert _WORKER is not None
    return getattr(_WORKER, method)(*arg)


class WorkerPool:
    """Uniform front over in-process, process, Dask-actor and Ray-actor workers."""

    def __init__(
        self,
        pb: PlacementProblem,
        ranges: list[tuple[int, int]],
        engine: str,
        n_workers: int | None,
        client=None,
        keep_models: bool = True,
    ):
        self.engine = engine
        self.ranges_all = ranges
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
                from distributed import Client
            except ImportError as e:  # pragma: no cover - dask is a dependency
                raise InputError("engine 'dask' needs dask[distributed] installed") from e
            if client is None:
                client = backends.current_dask_client()
                if client is None:
                    self._cluster = backends.local_dask_cluster(
                        len(self.groups), quiet_workers=False
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
                ray = backends.start_ray()
            except ImportError as e:
                raise InputError(
                    "engine 'ray' needs the ray package, which is not installed",
                    fix="pip install ray, or use `backend` local|dask",
                ) from e
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

    def price_args(
        self,
        lam: np.ndarray,
        blocks: np.ndarray | None,
        extra: list[np.ndarray] | None = None,
        drops: bool = False,
    ) -> list[tuple]:
        """Per-worker arguments of ``price`` for the global block ids ``blocks`` (None: all).

        ``lam``: one price vector (F,), or one per block priced (blocks, F), in block order.
        """
        out, o = [], 0
        per_block = lam is not None and np.ndim(lam) == 2
        ids = np.arange(len(self.ranges_all)) if blocks is None else np.asarray(blocks)
        for g in self.groups:
            mine = (ids >= o) & (ids < o + len(g))
            local = None if blocks is None else [int(b) - o for b in ids[mine]]
            out.append((np.asarray(lam)[mine] if per_block else lam, local, extra, drops))
            o += len(g)
        return out

    def close(self) -> None:
        """Shut the workers down. Called while an interrupt (Ctrl-C, SIGTERM) unwinds, it
        stops the worker processes at once instead of waiting for their current block."""
        interrupted = isinstance(sys.exc_info()[1], KeyboardInterrupt | SystemExit)
        for ex in self._executors:
            if interrupted:
                for proc in list((getattr(ex, "_processes", None) or {}).values()):
                    proc.terminate()
            ex.shutdown(wait=not interrupted, cancel_futures=True)
        self._executors = []
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()


# --------------------------------------------------------------------------- master
class Proposals(NamedTuple):
    """One pricing's proposals in the master (see `price_decomposition(seed_columns=...)`)."""

    cost: np.ndarray  # (n,) base cost of each proposal (currency)
    use: np.ndarray  # (n, F) capacity use of each proposal
    skus: np.ndarray  # (n,) local SKU ids of the proposals
    q: np.ndarray  # placement columns of the whole pricing (all SKUs of the loop)


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
    best_prices: np.ndarray | None = None  # prices of the best Lagrangian bound
    block_seconds: list[float] = field(default_factory=list)  # per pricing call, summed
    # every proposal in the master, see `price_decomposition(seed_columns=...)`
    columns: list[Proposals] = field(default_factory=list)
    warmup_rounds: int = 0

    @property
    def gap(self) -> float:
        return (self.upper_bound - self.lower_bound) / max(abs(self.upper_bound), 1e-12)


def subset_problem(pb: PlacementProblem, skus: np.ndarray, cap_scale: float) -> PlacementProblem:
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


def block_skus(ranges: list[tuple[int, int]], blocks: np.ndarray) -> np.ndarray:
    """The SKU indices of the blocks ``blocks`` (global block ids, in that order)."""
    return np.concatenate([np.arange(*ranges[int(i)], dtype=np.int64) for i in blocks])


def sample_blocks(ranges: list[tuple[int, int]], n_sample: int) -> np.ndarray:
    """Evenly spaced block ids holding about ``n_sample`` SKUs (sorted)."""
    size = max(1, max(s1 - s0 for s0, s1 in ranges))
    n_b = min(len(ranges), max(1, -(-n_sample // size)))
    return np.unique(np.linspace(0, len(ranges) - 1, n_b).round().astype(np.int64))


def sampled_prices(
    pb: PlacementProblem,
    pool: WorkerPool,
    ranges: list[tuple[int, int]],
    n_sample: int,
    *,
    gap_tolerance: float = 1e-4,
    time_limit_s: float | None = None,
    smoothing: float = 0.5,
    blocks: np.ndarray | None = None,
    nested: int = 8,
) -> tuple[np.ndarray, DecompositionResult]:
    """First trial prices: the decomposition run on an evenly spaced sample of SKU blocks.

    The sample keeps the capacity share of its expected demand volume (at least its on-hand
    volume). Its optimal capacity prices estimate the full problem's, so the full loop starts
    close to them, and the sample's blocks are already warm in their workers. Only a starting
    point: any λ ≥ 0 gives a valid bound for the full problem.

    With at least ``2 · nested`` blocks (``nested`` > 1), the sample's own first prices come the
    same way from every ``nested``-th of its blocks (solved to 1e-3), and the sample's loop
    starts there with a box step (± 5 %) instead of from zero prices with smoothing: measured
    at S = 10,000 (300-SKU sample), 42 s → ≈ 15 s. ``blocks``: the sample's block ids
    (default: `sample_blocks`).
    """
    if blocks is None:
        blocks = sample_blocks(ranges, n_sample)
    skus = block_skus(ranges, blocks)
    share, on_hand = _sample_share(pb, skus)
    cap = np.maximum(pb.cap * share, on_hand)
    lam0, box = None, None
    if nested > 1 and len(blocks) >= 2 * nested:
        t0 = time.perf_counter()
        pick = np.linspace(0, len(blocks) - 1, len(blocks) // nested).round().astype(np.int64)
        sub = blocks[np.unique(pick)]
        lam0, _ = sampled_prices(
            pb,
            pool,
            ranges,
            0,
            gap_tolerance=max(gap_tolerance, 1e-3),
            time_limit_s=None if time_limit_s is None else 0.5 * time_limit_s,
            smoothing=smoothing,
            blocks=sub,
            nested=0,
        )
        box = 0.05
        if time_limit_s is not None:
            time_limit_s = max(0.0, time_limit_s - (time.perf_counter() - t0))
    res = price_decomposition(
        pb,
        pool,
        ranges,
        gap_tolerance=gap_tolerance,
        time_limit_s=time_limit_s,
        smoothing=smoothing,
        blocks=blocks,
        capacity=cap,
        initial_prices=lam0,
        box=box,
    )
    lam = res.best_prices if res.best_prices is not None else res.prices
    return np.maximum(0.0, lam), res


class SampleCorrection:
    """Warm-up prices (`price_decomposition(warmup=...)`): the sampled sub-problem, corrected.

    The sample's optimal prices (`sampled_prices`) are biased: its SKUs are not the whole
    population. After each full pricing at prices λ the whole population's capacity use U(λ) is
    known exactly, so the sample is re-solved with its capacity moved by its share of the
    imbalance, ``cap_s = U_s(λ) + share · (Cap − U(λ))`` (a control variate: the sample only has
    to predict how use *responds* to prices, not its level). Its optimal prices are the next
    trial prices. The sample's proposals are kept between re-solves, so each takes a few
    rounds of the sample's (warm) blocks. Stops (returns None) after ``max_rounds`` or when the
    prices move less than ``tolerance`` (relative to the largest).
    """

    def __init__(
        self,
        pb: PlacementProblem,
        pool: WorkerPool,
        ranges: list[tuple[int, int]],
        n_sample: int,
        first: DecompositionResult,
        *,
        max_rounds: int = 3,
        tolerance: float = 0.005,
        gap_tolerance: float = 1e-4,
        time_limit_s: float | None = None,
        smoothing: float = 0.5,
    ) -> None:
        self.pb, self.pool, self.ranges = pb, pool, ranges
        self.blocks = sample_blocks(ranges, n_sample)
        self.skus = block_skus(ranges, self.blocks)
        self.share, self.on_hand = _sample_share(pb, self.skus)
        self.columns = first.columns
        self.max_rounds, self.tolerance = max_rounds, tolerance
        self.gap_tolerance, self.time_limit_s, self.smoothing = (
            gap_tolerance,
            time_limit_s,
            smoothing,
        )
        self.rounds = 0

    def __call__(self, lam: np.ndarray, use: np.ndarray) -> np.ndarray | None:
        if self.rounds >= self.max_rounds:
            return None
        self.rounds += 1
        cap_s = np.maximum(
            use[self.skus].sum(axis=0) + self.share * (self.pb.cap - use.sum(axis=0)), self.on_hand
        )
        res = price_decomposition(
            self.pb,
            self.pool,
            self.ranges,
            gap_tolerance=self.gap_tolerance,
            time_limit_s=self.time_limit_s,
            smoothing=self.smoothing,
            blocks=self.blocks,
            capacity=cap_s,
            initial_prices=lam,
            box=0.05,
            seed_columns=self.columns,
        )
        self.columns = res.columns
        new = np.maximum(0.0, res.best_prices if res.best_prices is not None else res.prices)
        log.debug("sample correction %d: %d rounds, prices %s", self.rounds, res.iterations, new)
        if np.abs(new - lam).max() <= self.tolerance * max(float(np.abs(lam).max()), 1e-12):
            return None
        return new


def _sample_share(pb: PlacementProblem, skus: np.ndarray) -> tuple[float, np.ndarray]:
    """The sample's share of the expected demand volume, and its on-hand volume per FC (m³,
    or units without volumes): its capacity is never set below that."""
    vol_dem = np.bincount(pb.dem_s, weights=pb.demand @ pb.prob, minlength=pb.n_skus) * pb.vol
    share = float(vol_dem[skus].sum() / max(vol_dem.sum(), 1e-12))
    return share, pb.vol[skus] @ pb.on_hand[skus]


def no_placement_columns(pb: PlacementProblem) -> tuple[np.ndarray, np.ndarray]:
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


def block_ranges(pb: PlacementProblem, block_size: int) -> list[tuple[int, int]]:
    """Consecutive SKU ranges of at most ``block_size`` SKUs."""
    S = pb.n_skus
    return [(s, min(S, s + block_size)) for s in range(0, S, block_size)]


class _DropPool:
    """Drop proposals (`BlockWorker._drops`) waiting outside the master LP.

    Every pricing offers, per SKU and FC it places stock into, the proposal with that FC's
    placement undone: up to S × F candidates per pricing. Only those with a negative reduced
    cost at the master's duals enter the LP (each SKU's most negative per pass), so the master
    stays small; the LP optimum over the pool is the same as with every candidate added.
    """

    def __init__(self, S: int, vol: np.ndarray, put) -> None:
        self.S, self.vol, self.put = S, vol, put
        self.use: dict[int, np.ndarray] = {}  # pricing → (S, F) capacity use of its proposals
        self.parts: list[tuple[np.ndarray, ...]] = []

    def extend(
        self,
        j: int,
        cost: np.ndarray,
        use: np.ndarray,
        d_cost: np.ndarray,
        d_units: np.ndarray,
    ) -> None:
        ss, ff = np.nonzero(d_units > 1e-9)
        if not len(ss):
            return
        self.use[j] = use
        freed = np.minimum(self.vol[ss] * d_units[ss, ff], use[ss, ff])
        self.parts.append(
            (ss, np.full(len(ss), j), ff, cost[ss] + d_cost[ss, ff], freed, np.zeros(len(ss), bool))
        )

    def add_best(self, mu: np.ndarray, lam: np.ndarray) -> int:
        """Add each SKU's most negative reduced-cost candidate; returns the number added."""
        if not self.parts:
            return 0
        ss, jj, ff, cost, freed, used = (np.concatenate(c) for c in zip(*self.parts, strict=True))
        base = np.empty(len(ss))
        for j, u in self.use.items():
            sel = jj == j
            base[sel] = u[ss[sel]] @ lam
        rc = cost + base - lam[ff] * freed - mu[ss]
        cand = np.flatnonzero(~used & (rc < -1e-9 * (1.0 + np.abs(cost))))
        if not len(cand):
            return 0
        cand = cand[np.lexsort((rc[cand], ss[cand]))]  # by SKU, most negative first
        cand = cand[np.r_[True, ss[cand][1:] != ss[cand][:-1]]]
        used[cand] = True
        self.parts = [(ss, jj, ff, cost, freed, used)]
        for j in np.unique(jj[cand]):
            c = cand[jj[cand] == j]
            u = self.use[int(j)][ss[c]].copy()
            u[np.arange(len(c)), ff[c]] -= freed[c]
            self.put(cost[c], np.maximum(u, 0.0), ss[c], int(j), ff[c])
        return len(cand)


@dataclass
class MasterSolution:
    """One solve of the restricted master LP."""

    objective: float  # master objective (currency)
    weights: np.ndarray  # column values: the 2F box-step columns, then the proposals' weights
    duals: np.ndarray  # row duals: S convexity rows, then F capacity rows


@dataclass
class Lagrangian:
    """One pricing, aggregated over its blocks."""

    cost: np.ndarray  # (S,) base cost of each SKU's proposal (without the price term)
    use: np.ndarray  # (S, F) capacity use of each SKU's proposal
    bound: float  # Lagrangian bound L(λ) at the prices of the pricing


class RestrictedMaster:
    """The restricted master LP: convex combinations of per-SKU proposals under FC capacity.

    Rows 0..S-1 are the convexity rows (= 1), rows S..S+F-1 the capacity rows (≤ Cap). The
    first 2F columns are the box-step stabilisation columns (closed unless a box is given);
    every later column is one SKU's proposal from a pricing (`add_columns`), or one of its drop
    proposals from the pool (`_DropPool`). `plan` recovers the fractional placement plan from
    the weights of a solve.
    """

    def __init__(
        self, pb: PlacementProblem, skus: np.ndarray, cap: np.ndarray, drop_columns: bool
    ) -> None:
        import highspy

        F = pb.n_fcs
        S = len(skus)
        self.pb, self.skus, self.cap, self.S, self.F = pb, skus, cap, S, F
        self.drop_columns = drop_columns
        self.qs_all = sku_q_start(pb)
        self.q_counts = np.diff(self.qs_all)[skus]
        # master: rows 0..S-1 convexity (= 1), rows S..S+F-1 capacity (≤ Cap)
        h = new_highs()
        self.h = h
        self.inf = inf = highspy.kHighsInf
        h.addRows(
            S, np.ones(S), np.ones(S), 0, np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0)
        )
        h.addRows(
            F,
            np.full(F, -inf),
            cap,
            0,
            np.zeros(0, np.int32),
            np.zeros(0, np.int32),
            np.zeros(0),
        )
        # stabilisation columns: s+ (−1 on capacity row f, cost hi_f), s− (+1, cost −lo_f)
        n_stab = 2 * F
        self.n_stab = n_stab
        self.stab_idx = np.arange(n_stab, dtype=np.int32)
        h.addCols(
            n_stab,
            np.zeros(n_stab),
            np.zeros(n_stab),
            np.zeros(n_stab),
            n_stab,
            np.arange(n_stab, dtype=np.int32),
            (S + np.tile(np.arange(F), 2)).astype(np.int32),
            np.concatenate([-np.ones(F), np.ones(F)]),
        )
        self.boxed = False  # are the stabilisation columns open (box-step) in the current basis?
        self.store: list[np.ndarray] = []  # q of each pricing (placement columns of `skus`)
        self.col_iter: list[np.ndarray] = []
        self.col_sku: list[np.ndarray] = []
        self.col_fc: list[np.ndarray] = []  # -1, or the FC whose placement a "drop" column undoes
        self.drop_pool = _DropPool(S, pb.vol[skus], self.put_columns)
        self.columns: list[Proposals] = []  # every proposal, see `DecompositionResult.columns`

    def _solve_lp(self, lo: np.ndarray | None, hi: np.ndarray | None) -> MasterSolution:
        import highspy

        h, n_stab, stab_idx = self.h, self.n_stab, self.stab_idx
        # Closing the box (penalty columns' bounds to 0) leaves the last basis dual feasible,
        # anything else here (columns added, box moved) leaves it primal feasible: measured on
        # these masters, each simplex then needs a fraction of the other's time.
        h.setOptionValue("simplex_strategy", 1 if lo is None and self.boxed else 4)
        self.boxed = lo is not None
        if lo is None:
            h.changeColsBounds(n_stab, stab_idx, np.zeros(n_stab), np.zeros(n_stab))
        else:
            h.changeColsCost(n_stab, stab_idx, np.concatenate([hi, -lo]))
            h.changeColsBounds(n_stab, stab_idx, np.zeros(n_stab), np.full(n_stab, self.inf))
        t = time.perf_counter()
        h.run()
        log.debug(
            "master LP %.2f s, %d simplex iterations, %d columns",
            time.perf_counter() - t,
            h.getInfo().simplex_iteration_count,
            h.getNumCol(),
        )
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise SolverError(
                f"decomposition master LP failed: {h.modelStatusToString(h.getModelStatus())}"
            )
        sol = h.getSolution()
        return MasterSolution(
            float(h.getInfo().objective_function_value),
            np.asarray(sol.col_value),
            np.asarray(sol.row_dual),
        )

    def solve(self, lo: np.ndarray | None = None, hi: np.ndarray | None = None) -> MasterSolution:
        """Solve the master (with the box ``lo``..``hi`` on the capacity duals, if given).

        With drop proposals, price the pool at its duals and re-solve with each SKU's most
        negative reduced-cost drop proposal until none is left.
        """
        S = self.S
        while True:
            sol = self._solve_lp(lo, hi)
            if not self.drop_pool.add_best(sol.duals[:S], np.maximum(0.0, -sol.duals[S:])):
                return sol

    def add_columns(self, res: list[dict], mask: np.ndarray) -> int:
        """Add the pricing's proposals of the SKUs in ``mask`` (with ``drop_columns``, its drop
        proposals go to the pool, `_DropPool`); returns the columns added."""
        cost = np.concatenate([r["cost"] for r in res])
        use = np.vstack([r["use"] for r in res])
        self.store.append(np.concatenate([r["q"] for r in res]))
        j = len(self.store) - 1
        idx = np.flatnonzero(mask)
        n = self.put_columns(cost[idx], use[idx], idx, j, -1)
        self.columns.append(Proposals(cost[idx], use[idx], idx, self.store[-1]))
        if self.drop_columns and res[0].get("drop_cost") is not None:
            d_cost = np.vstack([r["drop_cost"] for r in res])
            d_units = np.vstack([r["drop_units"] for r in res])
            self.drop_pool.extend(j, cost, use, d_cost, d_units)
        return n

    def add_seed(self, seed_columns: list[Proposals]) -> None:
        """Add the proposals of an earlier run on the same SKUs (its ``columns``)."""
        for c_cost, c_use, c_idx, c_q in seed_columns:
            self.store.append(c_q)
            self.put_columns(c_cost, c_use, c_idx, len(self.store) - 1, -1)
            self.columns.append(Proposals(c_cost, c_use, c_idx, c_q))

    def put_columns(self, cost: np.ndarray, u: np.ndarray, idx: np.ndarray, j: int, fc) -> int:
        """Add one column per SKU ``idx`` (cost, capacity use ``u``) of pricing ``j``; ``fc``:
        -1, or the FC whose placement each (drop) column undoes."""
        if len(idx) == 0:
            return 0
        S = self.S
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
        self.h.addCols(
            len(idx),
            cost,
            np.zeros(len(idx)),
            np.full(len(idx), self.inf),
            len(index),
            starts,
            index,
            value,
        )
        self.col_iter.append(np.broadcast_to(np.asarray(j, dtype=np.int64), len(idx)))
        self.col_sku.append(idx)
        self.col_fc.append(np.broadcast_to(np.asarray(fc, dtype=np.int64), len(idx)))
        return len(idx)

    def plan(self, sol: MasterSolution) -> np.ndarray:
        """The fractional plan (placement columns of `skus`) of an unstabilised solve."""
        pb, S, F, q_counts = self.pb, self.S, self.F, self.q_counts
        w = sol.weights[self.n_stab :]
        ci = np.concatenate(self.col_iter)
        cs = np.concatenate(self.col_sku)
        cf = np.concatenate(self.col_fc)
        q = np.zeros(int(q_counts.sum()))
        q_owner = np.repeat(np.arange(S), q_counts)
        q_fc = (
            pb.arc_f[q_index(pb)[1][ragged(self.qs_all[self.skus], q_counts)[1]]]
            if self.drop_columns
            else None
        )
        for j, qj in enumerate(self.store):
            sel = ci == j
            if not sel.any():
                continue
            own = sel & (cf < 0)
            wv = np.zeros(S)
            wv[cs[own]] = w[own]
            weight = wv[q_owner]
            dropped = sel & (cf >= 0)
            if dropped.any():  # a drop column is its pricing's q without the placements into its FC
                wd = np.zeros((S, F))
                np.add.at(wd, (cs[dropped], cf[dropped]), w[dropped])
                weight = weight + wd.sum(axis=1)[q_owner] - wd[q_owner, q_fc]
            q += weight * qj
        return q


@dataclass
class _Options:
    """The loop's options (see `price_decomposition`)."""

    gap_tolerance: float
    max_iterations: int
    time_limit_s: float | None
    smoothing: float
    all_columns: bool
    box: float | None
    drop_columns: bool
    warmup: object
    perturb: float | None
    perturb_rounds: int
    perturb_by_block: bool
    seed: int


class _Rounds:
    """The pricing rounds of `price_decomposition` around one `RestrictedMaster`.

    Holds the loop's state (best bound and its prices, history, timings) across the pre-master
    rounds (warm-up prices, then perturbed ones) and the main loop (master solve, then pricing
    at its duals).
    """

    def __init__(
        self,
        pb: PlacementProblem,
        pool: WorkerPool,
        blocks: np.ndarray | None,
        n_blocks: int,
        master: RestrictedMaster,
        opts: _Options,
        initial_prices: np.ndarray | None,
        spread: tuple[float, ...],
        t_start: float,
    ) -> None:
        self.pb, self.pool, self.blocks, self.n_blocks = pb, pool, blocks, n_blocks
        self.master, self.o, self.t_start = master, opts, t_start
        self.initial_prices, self.spread = initial_prices, spread
        F = pb.n_fcs
        self.best_lb, self.best_lam = -np.inf, np.zeros(F)
        self.history: list[tuple[float, float]] = []
        self.t_price = 0.0
        self.t_master = 0.0
        self.rho = opts.box
        self.block_seconds: list[float] = []
        self.last_round = 0.0
        self.it = 0
        self.n_warm = 0

    def start(self, seed_columns: list[Proposals] | None) -> None:
        """First columns: every SKU's "no placement" plan, then the seed columns."""
        m = self.master
        t0 = time.perf_counter()
        z_cost, z_use = no_placement_columns(self.pb)
        self.t_price = time.perf_counter() - t0
        m.add_columns(
            [
                {
                    "cost": z_cost[m.skus],
                    "use": z_use[m.skus],
                    "q": np.zeros(int(m.q_counts.sum())),
                }
            ],
            np.ones(m.S, dtype=bool),
        )
        m.add_seed(seed_columns or [])

    def _price(self, lam: np.ndarray, extra: list[np.ndarray] | None, drops: bool) -> list[dict]:
        t0 = time.perf_counter()
        res = self.pool.call("price", self.pool.price_args(lam, self.blocks, extra, drops))
        self.t_price += time.perf_counter() - t0
        self.block_seconds.append(float(sum(r["seconds"] for r in res)))
        return res

    def _lagrangian(self, res: list[dict], lam: np.ndarray) -> Lagrangian:
        """Per-SKU base cost, capacity use, and the Lagrangian bound L(lam) of a pricing."""
        cost = np.concatenate([r["cost"] for r in res])
        use = np.vstack([r["use"] for r in res])
        return Lagrangian(cost, use, float((cost + use @ lam).sum() - lam @ self.master.cap))

    def _improve(self, bound: float, lam: np.ndarray) -> bool:
        if bound > self.best_lb:
            self.best_lb, self.best_lam = bound, lam.copy()
            return True
        return False

    def _use_range(self, use: np.ndarray) -> tuple[float, float]:
        ratio = use.sum(0) / self.master.cap
        return float(ratio.min()), float(ratio.max())

    # ------------------------------------------------------------------ pre-master rounds
    def _pre_master_round(
        self, lam: np.ndarray, last: Lagrangian | None, snapshot: bool
    ) -> tuple[Lagrangian, int]:
        """Price at ``lam``; add the proposals that differ from the SKU's last one."""
        S = self.master.S
        res = self._price(lam, None, False)
        if lam.ndim == 1:
            lag = self._lagrangian(res, lam)
        else:  # one price vector per block: proposals, but no Lagrangian bound
            lag = self._lagrangian(res, np.zeros(self.pb.n_fcs))
            lag.bound = -np.inf
        if self._improve(lag.bound, lam) and snapshot:
            # the perturbed rounds re-solve from the best-bound prices' bases
            self.pool.call("snapshot")
        mask = np.ones(S, dtype=bool)
        if last is not None:  # the same proposal again adds nothing to the master
            mask = ~(
                np.isclose(lag.cost, last.cost, rtol=1e-9, atol=1e-9)
                & np.isclose(lag.use, last.use, rtol=1e-9, atol=1e-12).all(axis=1)
            )
        self.master.add_columns(res, mask)
        self.n_warm += 1
        self.history.append((np.inf, self.best_lb))
        return lag, int(mask.sum())

    def pre_master_rounds(self) -> None:
        """Rounds before the first master solve: the warm-up prices, then the perturbed ones.

        No master solve (the prices do not depend on it) and no drop proposals: measured at
        S = 10,000, with them in these rounds the rounds took ≈ 10 % longer and the plan ended
        further from the bound (the perturbed proposals do their job).
        """
        o, F = self.o, self.pb.n_fcs
        signs = np.random.default_rng(o.seed).choice(
            [-1.0, 1.0], size=(o.perturb_rounds, self.n_blocks if o.perturb_by_block else 1, F)
        )
        n_shake = o.perturb_rounds if o.perturb is not None else 0
        reserve = 0.1 * o.time_limit_s if o.time_limit_s is not None else 0.0  # for the master
        lam = np.maximum(0.0, np.asarray(self.initial_prices, dtype=float))
        last = None
        k_shake = 0
        while lam is not None:
            t0 = time.perf_counter()
            last, n_new = self._pre_master_round(lam, last, snapshot=bool(n_shake))
            took = time.perf_counter() - t0
            if k_shake == 0 and self.n_warm > 1:
                # a warm re-solve (the first round also paid the cold starts)
                self.last_round = took
            log.debug(
                "pre-master round %d (%s): L %.6f (best %.6f), %d new proposals, pricing "
                "%.2f s; use/cap %.3f-%.3f",
                self.n_warm,
                "perturbed" if k_shake else "warm-up",
                last.bound,
                self.best_lb,
                n_new,
                took,
                *self._use_range(last.use),
            )
            spent = time.perf_counter() - self.t_start
            # a perturbed round, re-solved from the best-bound round's bases, takes about 1.5×
            # a warm-up one (measured at S = 10,000: 28–31 s against 19–23 s)
            shake_s = took if k_shake else 1.5 * self.last_round
            priced, lam = lam, None
            # go on with the warm-up while one more round and a perturbed pair still fit
            after = spent + self.last_round + min(n_shake, 2) * shake_s + reserve
            if k_shake == 0 and (o.time_limit_s is None or after <= o.time_limit_s):
                lam = o.warmup(priced, last.use)
            if (
                lam is None
                and k_shake < n_shake
                and (o.time_limit_s is None or spent + shake_s + reserve <= o.time_limit_s)
            ):
                sign = 1.0 if k_shake % 2 == 0 else -1.0
                lam = self.best_lam * np.exp(sign * o.perturb * signs[k_shake // 2])
                if not o.perturb_by_block:
                    lam = lam[0]
                k_shake += 1
                self.pool.call("restore")
        self.initial_prices, self.spread = None, ()
        self.last_round = shake_s if k_shake else self.last_round

    # ------------------------------------------------------------------ main loop
    def _price_at_duals(self, it: int, ub: float, duals: np.ndarray) -> int:
        """One round's pricing at the master's duals (smoothed first, if so set); adds the
        improving proposals. Returns the number of improving columns added (0: none)."""
        o, S = self.o, self.master.S
        mu = duals[:S]
        lam_m = np.maximum(0.0, -duals[S:])
        alpha = o.smoothing if (self.best_lb > -np.inf and o.box is None) else 0.0
        first = it == 1 and self.initial_prices is not None
        added = 0
        for attempt in range(2):
            lam = alpha * self.best_lam + (1 - alpha) * lam_m if attempt == 0 else lam_m
            if first and attempt == 0:
                lam = np.maximum(0.0, np.asarray(self.initial_prices, dtype=float))
                alpha = 1.0
            t0 = time.perf_counter()
            extra = [lam * f for f in self.spread] if first and attempt == 0 else []
            res = self._price(lam, extra, o.drop_columns)
            for j, lam_e in enumerate(extra):
                res_e = [r["extra"][j] for r in res]
                lb_e = self._lagrangian(res_e, lam_e).bound
                log.debug("spread price x %.2f: bound %.6f", self.spread[j], lb_e)
                self._improve(lb_e, lam_e)
                self.master.add_columns(res_e, np.ones(S, dtype=bool))
            lag = self._lagrangian(res, lam)
            self._improve(lag.bound, lam)
            rc = lag.cost + lag.use @ lam_m - mu
            mask = rc < -1e-9 * (1.0 + np.abs(lag.cost))
            improving = int(mask.sum())
            if o.all_columns and improving:
                mask = np.ones(S, dtype=bool)
            added = self.master.add_columns(res, mask) and improving
            log.debug(
                "iter %d: UB %.6f LB %.6f added %d; pricing %.2f s wall, %.2f s in blocks, "
                "%d simplex iterations; master %.2f s; use/cap %.3f-%.3f",
                it,
                ub,
                self.best_lb,
                added,
                time.perf_counter() - t0,
                sum(r["seconds"] for r in res),
                sum(r["iterations"] for r in res),
                self.t_master,
                *self._use_range(lag.use),
            )
            if added or attempt == 1 or alpha == 0.0:
                break
            alpha = 0.0
        return added

    def main_loop(self) -> MasterSolution | None:
        """Master solve, then pricing at its duals, until the gap, the limit or no new column.

        Returns the last unstabilised master solve if still current (None: columns were added
        since).
        """
        o = self.o
        plain = None  # the unstabilised master's solve, if still current
        for it in range(1, o.max_iterations + 1):
            self.it = it
            t0 = time.perf_counter()
            plain = self.master.solve()  # the plan: upper bound (columns only ever get added)
            ub, sol = plain.objective, plain
            plain_s = time.perf_counter() - t0
            self.t_master += plain_s
            if self.best_lb > -np.inf and (ub - self.best_lb) <= o.gap_tolerance * max(
                abs(ub), 1e-12
            ):
                break
            if (  # at least one full round, so that the bound is finite; no round that would end
                # past the limit: judged by the last round's pricing plus two master solves (the
                # next round's stabilised one and its unstabilised one)
                o.time_limit_s is not None
                and self.best_lb > -np.inf
                and time.perf_counter() - self.t_start + self.last_round + 2.0 * plain_s
                > o.time_limit_s
            ):
                break
            stab = o.box is not None and self.best_lb > -np.inf
            if stab:  # the next prices: the box-step master's duals
                t0 = time.perf_counter()
                width = self.rho * self.best_lam + 0.01 * max(float(self.best_lam.mean()), 1e-9)
                lo, hi = np.maximum(0.0, self.best_lam - width), self.best_lam + width
                sol = self.master.solve(lo, hi)
                plain = None
                self.t_master += time.perf_counter() - t0
            t_round = time.perf_counter()
            lb_before = self.best_lb
            added = self._price_at_duals(it, ub, sol.duals)
            self.history.append((ub, self.best_lb))
            plain = None  # the pricing's proposals (and drop candidates) are not in it yet
            # next round's expected duration: the first round also paid for the cold starts
            self.last_round = (time.perf_counter() - t_round) * (
                0.3 if it == 1 and not self.n_warm else 1.0
            )
            if stab and not added and self.best_lb <= lb_before:
                self.rho = 2.0 * self.rho  # nothing new inside the box: widen it
            elif added == 0 and not stab:  # no improving column at the master's own prices
                break
        return plain

    def result(self, plain: MasterSolution | None) -> DecompositionResult:
        """Recover the fractional plan from the unstabilised master."""
        if plain is None:
            t0 = time.perf_counter()
            plain = self.master.solve()
            self.t_master += time.perf_counter() - t0
        ub = plain.objective
        lam_m = np.maximum(0.0, -plain.duals[self.master.S :])
        q = self.master.plan(plain)
        return DecompositionResult(
            q=q,
            upper_bound=ub,
            lower_bound=min(self.best_lb, ub),
            prices=lam_m,
            iterations=self.it,
            history=self.history,
            seconds_pricing=self.t_price,
            seconds_master=self.t_master,
            best_prices=self.best_lam,
            block_seconds=self.block_seconds,
            columns=self.master.columns,
            warmup_rounds=self.n_warm,
        )


def price_decomposition(
    pb: PlacementProblem,
    pool: WorkerPool,
    ranges: list[tuple[int, int]],
    *,
    gap_tolerance: float = 1e-4,
    max_iterations: int = 200,
    time_limit_s: float | None = None,
    smoothing: float = 0.5,
    initial_prices: np.ndarray | None = None,
    all_columns: bool = False,
    blocks: np.ndarray | None = None,
    capacity: np.ndarray | None = None,
    spread: tuple[float, ...] = (),
    box: float | None = None,
    drop_columns: bool = False,
    seed_columns: list[Proposals] | None = None,
    warmup=None,
    perturb: float | None = None,
    perturb_rounds: int = 2,
    perturb_by_block: bool = True,
    seed: int = 0,
) -> DecompositionResult:
    """Run the Dantzig–Wolfe / Lagrangian loop (see the module docstring).

    ``blocks`` (global block ids, sorted) restricts the loop to those blocks' SKUs and
    ``capacity`` replaces the FC capacities: used for the sampled sub-problem that gives the
    first prices. The bounds are then those of the sub-problem, not of ``pb``.

    ``spread``: with ``initial_prices``, the first round also prices every block at the initial
    prices times each of these factors (warm re-solves of the same models), so the master
    starts with a few proposals per SKU that bracket the capacity use around those prices.

    ``box``: box-step stabilisation. Once a bound exists, the master's capacity duals are
    confined to ``best-bound prices × (1 ± box)`` (plus 1 % of their mean) by two penalty
    columns per FC row; the centre moves whenever the bound improves, and the box doubles when
    a round adds nothing. The feasible plan (upper bound) is always that of the
    unstabilised master. ``None``: Wentges smoothing with ``smoothing`` instead.

    ``drop_columns``: besides each pricing's proposal, offer the master, for every SKU and FC
    it places stock into, the proposal with that FC's placement undone (priced without a
    solve, as an upper bound: `BlockWorker._drops`). The master can then free one FC's space
    SKU by SKU without waiting for a price round that moves that FC's price. The candidates
    wait in a pool (`_DropPool`); each master solve adds every SKU's most negative
    reduced-cost candidate and re-solves until none is left, so the LP stays small.

    ``seed_columns``: proposals of an earlier run on the same SKUs (its ``columns``) that start
    the master, e.g. to re-solve the sampled sub-problem with other capacities.

    ``warmup``: with ``initial_prices``, price rounds *before* the master is first solved: every
    SKU is priced at ``initial_prices``, then at ``warmup(prices, use)`` (``use``: (S, F)
    capacity use of the proposals) until it returns None or 60 % of the time limit is spent;
    each round's proposals that differ from the SKU's last one go to the master (see
    `SampleCorrection`). ``perturb``: the next ``perturb_rounds`` rounds price at the best-bound
    prices times ``exp(±perturb · ξ)`` (ξ a seeded random sign per FC; the rounds come in
    antithetic pairs) and add every new proposal: capacity use is very sensitive to *relative*
    FC prices, and these proposals give the master, per SKU, the alternatives it mixes to meet
    every FC's capacity. With ``perturb_by_block`` every block draws its own signs, so the
    master gets as many directions of change as there are blocks instead of one per pair
    (these rounds then give no bound: the SKUs are priced at different prices). Later rounds
    follow the (box-step) master as usual.
    """
    t_start = time.perf_counter()
    cap = pb.cap.astype(float) if capacity is None else np.asarray(capacity, dtype=float)
    skus = np.arange(pb.n_skus, dtype=np.int64) if blocks is None else block_skus(ranges, blocks)
    master = RestrictedMaster(pb, skus, cap, drop_columns)
    opts = _Options(
        gap_tolerance=gap_tolerance,
        max_iterations=max_iterations,
        time_limit_s=time_limit_s,
        smoothing=smoothing,
        all_columns=all_columns,
        box=box,
        drop_columns=drop_columns,
        warmup=warmup,
        perturb=perturb,
        perturb_rounds=perturb_rounds,
        perturb_by_block=perturb_by_block,
        seed=seed,
    )
    n_blocks = len(ranges) if blocks is None else len(blocks)
    rounds = _Rounds(pb, pool, blocks, n_blocks, master, opts, initial_prices, spread, t_start)
    rounds.start(seed_columns)
    if warmup is not None and initial_prices is not None:
        rounds.pre_master_rounds()
    return rounds.result(rounds.main_loop())

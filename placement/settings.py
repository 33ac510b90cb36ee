"""Settings of a placement run (one frozen dataclass, no global state)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Literal

from shipahead.backends import BACKENDS

from .errors import InputError

#: LP engines for the array-built model: HiGHS through `highspy` (default, fastest path),
#: or OR-Tools' GLOP / PDLP / HiGHS through `model_builder` from the same sparse arrays.
LP_SOLVERS = ("highs", "glop", "pdlp", "ortools-highs")


@dataclass(frozen=True)
class PlacementSettings:
    """Parameters of the placement model and of its solution method.

    Grouped as PyVRP's ``SolveParams`` groups them: the business (window, promise, costs,
    plan date) first, then the solution method and solver tuning, then the compute backend.

    Parameters
    ----------
    window_days
        Coverage window W (days); holding cost is ``holding_cost_per_unit_day * W`` per unit.
    promise_days
        Delivery promise (days). Lanes slower than this pay ``late_cost_per_unit_day`` per unit
        per day late, or are removed when ``strict_promise``. ``None``: no promise.
    strict_promise
        Forbid lanes whose transit days exceed ``promise_days``.
    late_cost_per_unit_day
        Late penalty (currency per unit per day beyond the promise).
    outbound_cost_per_unit_km, outbound_km_per_day
        Constants used to derive FC → region lanes from geography when no lanes table is given:
        cost = great-circle km × rate; transit days = max(1, ceil(km / km_per_day)).
    inbound_cost_per_unit_km, inbound_km_per_day
        Same for supply node → FC lanes when no inbound-lanes table is given
        (lead days = max(1, ceil(km / km_per_day))).
    exact_integer
        Solve the MIP (integer placements) with OR-Tools SCIP instead of LP + rounding.
    method
        ``"monolithic"`` (one LP), ``"decomposition"`` (price decomposition on FC capacity by SKU
        blocks) or ``"auto"`` (decomposition above ``auto_decompose_columns`` LP columns).
    backend, n_workers
        How SKU blocks are fanned out: ``"local"`` (processes via concurrent.futures;
        ``n_workers=1`` runs in-process), ``"dask"`` (a ``dask.distributed`` client), ``"ray"``.
    lp_solver
        ``"highs"`` (highspy, default), ``"glop"``, ``"pdlp"`` or ``"ortools-highs"`` (OR-Tools
        model_builder) for the monolithic LP; blocks of the decomposition always use highspy
        (warm-started re-solves).
    mip_solver
        MIP engine for ``exact_integer`` through OR-Tools ``model_builder``: ``"ortools-highs"``
        (default) or ``"scip"``. Relative gap 1e-6; time limit ``time_limit_s`` (default 120 s).
    gap_tolerance
        Relative gap between the Lagrangian lower bound and the feasible LP plan at which the
        decomposition stops.
    max_iterations, time_limit_s
        Limits of the decomposition (and of the MIP for ``exact_integer``).
    block_size
        SKUs per block of the decomposition (HiGHS time grows faster than linearly with the
        block, so small blocks are faster; each block keeps its HiGHS model for warm starts).
    sample_skus
        The decomposition's first trial prices come from the decomposition of an evenly spaced
        sample of about this many SKUs (whole blocks) with proportionally scaled capacity.
        ``None``: 5 % of the SKUs, at least 100 and at most 300, and only when the problem has at
        least 4× as many SKUs; 0: start from zero prices.
    price_spread
        With sampled first prices and ``sample_corrections=0``, the first full round also
        prices every SKU at those prices times each factor (warm re-solves), so the master
        starts with proposals that bracket each FC's capacity use.
    sample_corrections
        With sampled first prices, up to this many warm-up rounds before the master is first
        solved: after each full pricing the sample is re-solved with its capacity corrected by
        the whole population's measured capacity use, and its prices are the next round's
        (`SampleCorrection`); replaces ``price_spread``. 0: off.
    price_perturb, perturb_rounds
        After the warm-up, this many rounds price at the best-bound prices times
        ``exp(± price_perturb)`` per FC (seeded random signs, antithetic pairs): proposals that
        let the master meet every FC's capacity. ``None``: off. With ``perturb_by_block``,
        every block of SKUs draws its own signs (the master gets one direction of change per
        block instead of one per pair).
    price_box
        With sampled first prices, box-step stabilisation of the full loop: the master's
        capacity duals stay within ± this share of the best-bound prices (``None``: Wentges).
    drop_columns
        After each pricing, also offer the decomposition's master every SKU's proposal with
        its placement into one FC undone (costed without a solve, as an upper bound), so the
        master can free one FC's space SKU by SKU; they wait in a pool and enter the master LP
        only with a negative reduced cost. Fewer rounds to a given gap (S = 500: 1.2 % instead
        of 3.9 % after the first round; docs/benchmarks/placement.md).
    smoothing
        Wentges smoothing of the decomposition's prices towards the best-bound prices (0-1).
    keep_models
        Keep each block's HiGHS model in its worker between iterations (warm re-solves, about
        360 bytes per LP column once solved) or rebuild it per call from its stored optimal
        basis (1 byte per column; memory bounded by one block; re-solves about twice as
        slow). ``None``: keep when the whole model has at most 6 million columns.
    plan_date
        Date by which stock must be in position; ``ship_by = plan_date - lead_days``.
    """

    # -- the business: service promise and costs ------------------------------------------
    window_days: float
    promise_days: float | None = None
    strict_promise: bool = False
    late_cost_per_unit_day: float = 1.0
    outbound_cost_per_unit_km: float = 0.002
    outbound_km_per_day: float = 500.0
    inbound_cost_per_unit_km: float = 0.0005
    inbound_km_per_day: float = 600.0
    plan_date: dt.date | None = None
    # -- solution method and solver tuning (the decomposition's knobs) -----------------------
    exact_integer: bool = False
    method: Literal["auto", "monolithic", "decomposition"] = "auto"
    lp_solver: str = "highs"
    mip_solver: str = "ortools-highs"
    gap_tolerance: float = 1e-4
    max_iterations: int = 200
    time_limit_s: float | None = None
    block_size: int = 10
    sample_skus: int | None = None
    smoothing: float = 0.5
    price_spread: tuple[float, ...] = (0.85, 1.2)
    sample_corrections: int = 2
    price_perturb: float | None = 0.02
    perturb_rounds: int = 4
    perturb_by_block: bool = True
    price_box: float | None = 0.05
    drop_columns: bool = True
    keep_models: bool | None = None
    auto_decompose_columns: int = 400_000
    # -- compute backend (local processes, Dask, Ray) ---------------------------------------
    backend: Literal["local", "dask", "ray"] = "local"
    n_workers: int | None = None

    def __post_init__(self) -> None:
        for name in ("window_days", "promise_days", "time_limit_s", "late_cost_per_unit_day"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise InputError(f"{name} must be a finite number, got {value}")
        if not self.window_days > 0:
            raise InputError(
                f"window_days must be > 0, got {self.window_days}",
                fix="pass `window_days` with a positive number of days",
            )
        if self.promise_days is not None and self.promise_days < 0:
            raise InputError(f"promise_days must be >= 0, got {self.promise_days}")
        if self.strict_promise and self.promise_days is None:
            raise InputError(
                "strict_promise needs a promise: pass `promise_days` with `strict_promise`",
                fix="add `promise_days` P",
            )
        if self.backend not in BACKENDS:
            raise InputError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.lp_solver not in LP_SOLVERS:
            raise InputError(f"lp_solver must be one of {LP_SOLVERS}, got {self.lp_solver!r}")
        if self.mip_solver not in ("ortools-highs", "scip"):
            raise InputError(f"mip_solver must be ortools-highs or scip, got {self.mip_solver!r}")
        if self.method not in ("auto", "monolithic", "decomposition"):
            raise InputError(f"method must be auto|monolithic|decomposition, got {self.method!r}")
        if self.sample_skus is not None and self.sample_skus < 0:
            raise InputError(f"sample_skus must be >= 0, got {self.sample_skus}")
        if self.sample_corrections < 0 or self.perturb_rounds < 0:
            raise InputError("sample_corrections and perturb_rounds must be >= 0")
        if self.price_perturb is not None and not 0 < self.price_perturb < 1:
            raise InputError(f"price_perturb must be in (0, 1), got {self.price_perturb}")
        if self.block_size < 1:
            raise InputError(f"block_size must be >= 1, got {self.block_size}")

    def sample_size(self, n_skus: int) -> int:
        """SKUs in the sampled sub-problem that gives the first prices (0: no sample)."""
        if self.sample_skus is None:
            n = max(100, min(300, n_skus // 20))
            return n if n_skus >= 4 * n else 0
        return self.sample_skus if 0 < self.sample_skus < n_skus else 0

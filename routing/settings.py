"""How to plan: :class:`PlanSettings`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlanSettings:
    """How to plan.

    Grouped as PyVRP's ``SolveParams`` groups them: the day and the service first, then the
    solver and its tuning, then compute.

    Parameters
    ----------
    depart_s
        Departure time of every vehicle (s from midnight); ``None`` = its shift start.
    max_snap_m
        Largest distance (m) from a stop or depot to the road network.
    late_margin_s
        The solver sees every window end this much earlier (never before its start), so
        that bucket-model errors within the tolerance do not make simulated arrivals late;
        lateness is always judged against the real window.
    drop_penalty
        Currency per stop left unserved; ``None`` = more than any route can cost.
    engine, time_limit_s, seed, deterministic
        The solver (``auto``, ``ortools``, ``pyvrp``) and its limits, passed to
        :func:`routing.solve` (the first solve gets ``time_limit_s``; each re-plan round a
        third of it, warm-started from the previous plan).
    max_iterations
        Plan/simulate rounds at most.
    eta_tolerance_s
        Stop iterating when every planned arrival is within this of the simulated one.
    workers
        Processes for the matrices (``None`` = all usable CPUs).
    """

    # -- the day and the service -----------------------------------------------------------
    depart_s: int | None = None
    max_snap_m: float = 500.0
    late_margin_s: int = 120
    drop_penalty: float | None = None
    # -- the solver and its tuning ---------------------------------------------------------
    engine: str = "auto"
    time_limit_s: float = 10.0
    seed: int = 0
    deterministic: bool = False
    max_iterations: int = 3
    eta_tolerance_s: float = 120.0
    # -- compute ---------------------------------------------------------------------------
    workers: int | None = None

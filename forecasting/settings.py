"""Settings and result types of the forecasting pipeline (frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from shipahead.backends import BACKENDS

from .errors import InputError

if TYPE_CHECKING:
    from .stages import StageTimings

__all__ = [
    "BACKENDS",
    "BACKTEST_MODES",
    "LEVELS",
    "METRICS",
    "QUANTILE_COLUMNS",
    "ForecastResult",
    "ForecastSettings",
]

#: Interval levels (%) computed for every series; they give the contract quantiles.
LEVELS: tuple[int, ...] = (50, 80, 90)
#: Quantile columns of the forecast contract, in order.
QUANTILE_COLUMNS: tuple[str, ...] = ("q05", "q10", "q25", "q50", "q75", "q90", "q95")
#: Selection metrics: scaled errors (MASE, RMSSE) or plain MAE.
METRICS: tuple[str, ...] = ("mase", "rmsse", "mae")
_FILL = (None, "zero")
#: Default bounds of ``horizon`` (periods) and ``windows`` (see ``max_horizon``).
MAX_HORIZON = 1000
MAX_WINDOWS = 52
_SELECTION = ("series", "class", "hybrid")
#: ``backtest`` modes: a stratified sample of each demand class, or every series.
BACKTEST_MODES: tuple[str, ...] = ("sample", "all")


@dataclass(frozen=True)
class ForecastSettings:
    """What to forecast and how.

    Parameters
    ----------
    horizon
        Number of future periods to forecast (periods of ``freq``).
    freq
        Pandas frequency of the history (``"D"``, ``"W-MON"``, ``"MS"`` …); ``None`` infers it.
    models
        ``"auto"`` (backtest the candidate set and select per series) or a tuple/comma list of
        model names from :func:`forecasting.available_models` (selection among those).
    windows
        Rolling-origin backtest windows (step = ``horizon``).
    metric
        Selection metric: ``"mase"`` (default), ``"rmsse"`` or ``"mae"``.
    season_length
        Periods per season; ``None`` = 7 for daily, 52 for weekly, 12 for monthly data.
    country
        ISO country code for the ``holidays`` package (e.g. ``"US"``); adds a holiday regressor.
    reconcile
        Forecast SKU totals, region totals and the network total too and reconcile them
        (hierarchicalforecast; method chosen by backtest).
    fill_gaps
        ``None``: missing periods inside a series are an error; ``"zero"``: fill them with 0.
    backend
        ``"local"`` (processes, ``jobs``), ``"dask"`` (the current Dask client, else Dask's
        default scheduler; chunks of whole series per task) or ``"ray"`` (statsforecast's
        fugue backend).
    jobs
        Worker processes for the local backend (``-1`` = all cores).
    ensemble
        Also consider an ensemble as a candidate: the mean (or median) of the class's five
        best models, one per family, less those whose removal lowers the class's backtest
        error by at least 0.5 % (backward elimination, per class).
    calibrate
        Widen/narrow intervals so they cover at their nominal rate in the backtest (conformal,
        scaled residuals pooled per demand class).
    selection
        ``"class"`` (default): one candidate per demand class (smooth / intermittent), the one
        with the lowest mean backtest error; ``"series"``: each series picks its own best
        (overfits 3 windows: +5 % MASE on the Walmart benchmark); ``"hybrid"``: the class's
        candidate unless a series' own best is ≥ 10 % better on it.
    exogenous
        ``"auto"``: regressor models are candidates and kept only where they backtest better;
        ``"off"``: ignore weather/events/holidays.
    top_down
        Smooth series of SKUs with several regions also get the ``TopDown`` candidate (their
        share of the SKU total × the forecast of that total), which pools the seasonal shape
        over regions; used only where the backtest selects it.
    refit
        Refit the models in every backtest window (``None``: only where a model cannot be
        rolled forward; the others are fitted at the first cutoff and updated).
    backtest
        ``"sample"`` (default): the rolling-origin backtest that selects the candidate and
        calibrates the intervals of each demand class runs on a stratified sample of the class
        (``forecasting.BACKTEST_SAMPLE`` series, spread over the class's sales volume and,
        within volume bands, its variability; every series when the class is that small);
        every series then gets only the final fits of the chosen candidate. ``"all"``: backtest
        every series.
    global_model
        ``auto`` also backtests ``GlobalLGBM``: one LightGBM model trained across all series of
        a class (mlforecast; lags, rolling means, calendar, holiday and regressor features,
        per-series standardisation, conformal intervals); it is used only where the backtest
        chooses it, alone or in the ensemble.
    as_of
        Today's date for the future-dated-history check (``None`` = no check).
    seed
        Seed for anything random (ties are broken deterministically anyway).
    max_horizon, max_windows
        Upper bounds of ``horizon`` and ``windows`` (size guards: a horizon of 10**6 periods
        would overflow pandas' dates). The CLI passes its documented, overridable limits.
    """

    horizon: int
    freq: str | None = None
    models: str | tuple[str, ...] = "auto"
    windows: int = 3
    metric: str = "mase"
    season_length: int | None = None
    country: str | None = None
    reconcile: bool = False
    fill_gaps: str | None = None
    backend: str = "local"
    jobs: int = 1
    ensemble: bool = True
    calibrate: bool = True
    selection: str = "class"
    exogenous: str = "auto"
    as_of: pd.Timestamp | None = None
    refit: bool | None = None
    seed: int = 0
    top_down: bool = True
    backtest: str = "sample"
    global_model: bool = True
    max_horizon: int = MAX_HORIZON
    max_windows: int = MAX_WINDOWS

    def __post_init__(self) -> None:
        def bad(msg: str, fix: str) -> InputError:
            return InputError(msg, fix=fix, table="settings")

        if not isinstance(self.horizon, int) or self.horizon < 1:
            raise bad(f"horizon must be a positive integer, got {self.horizon!r}", "use e.g. 8")
        if not isinstance(self.windows, int) or self.windows < 1:
            raise bad(f"windows must be a positive integer, got {self.windows!r}", "use e.g. 3")
        if self.horizon > self.max_horizon:
            raise bad(
                f"horizon {self.horizon} is above the limit of {self.max_horizon} periods",
                f"forecast at most {self.max_horizon} periods",
            )
        if self.windows > self.max_windows:
            raise bad(
                f"windows {self.windows} is above the limit of {self.max_windows}",
                f"use at most {self.max_windows} backtest windows",
            )
        if self.metric not in METRICS:
            raise bad(f"unknown metric {self.metric!r}", f"use one of {', '.join(METRICS)}")
        if self.fill_gaps not in _FILL:
            raise bad(f"unknown fill_gaps {self.fill_gaps!r}", "use 'zero' or leave it unset")
        if self.backend not in BACKENDS:
            raise bad(f"unknown backend {self.backend!r}", f"use one of {', '.join(BACKENDS)}")
        if self.selection not in _SELECTION:
            raise bad(f"unknown selection {self.selection!r}", "use series, class or hybrid")
        if self.backtest not in BACKTEST_MODES:
            raise bad(f"unknown backtest {self.backtest!r}", "use `backtest` sample or all")
        if self.exogenous not in ("auto", "off"):
            raise bad(f"unknown exogenous {self.exogenous!r}", "use 'auto' or 'off'")
        if self.season_length is not None and self.season_length < 1:
            raise bad("season_length must be ≥ 1", "use e.g. 52 for weekly data")
        if isinstance(self.models, str) and self.models != "auto":
            names = tuple(m.strip() for m in self.models.split(",") if m.strip())
            object.__setattr__(self, "models", names)


@dataclass(frozen=True)
class ForecastResult:
    """Output of :func:`forecasting.forecast`.

    Attributes
    ----------
    forecast
        The forecast contract: ``region_id, sku_id, ds, model, mean, q05 … q95`` (units of the
        history's ``y``), one row per key and future period, quantiles non-decreasing, ≥ 0.
    backtest
        Per series, model and window: ``region_id, sku_id, model, window, cutoff, <metric>,
        mae, coverage_80, coverage_90, chosen`` (bool: the candidate the series uses).
    leaderboard
        Per candidate: mean metric over series, coverage, series count, and the ``auto`` row.
    warnings
        Human-readable warnings (cold-start series, filled gaps, dropped regressors …).
    freq, season_length
        The frequency and season used.
    hierarchy
        With ``reconcile``: reconciled forecasts of every level (``level, region_id, sku_id,
        ds, mean, q05 … q95``; ``"*"`` marks an aggregated key), else ``None``.
    residuals
        Backtest paths of the chosen candidate (``region_id, sku_id, cutoff, step, y, mean,
        scale, demand_class``) used for window-total scenarios.
    history
        The validated (gap-filled) history that was forecast.
    timings
        Wall time, series, throughput and peak memory per stage (:class:`StageTimings`:
        backtest, ensembles, calibration, fits; ``window_total_scenarios`` adds scenarios).
    series_class
        ``region_id, sku_id, demand_class`` (smooth / intermittent) of every series that went
        through a backtested class, backtested itself or not (window-total scenarios pool the
        backtest errors per class).
    """

    forecast: pd.DataFrame
    backtest: pd.DataFrame
    leaderboard: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    freq: str = "D"
    season_length: int = 1
    hierarchy: pd.DataFrame | None = None
    residuals: pd.DataFrame | None = None
    history: pd.DataFrame | None = None
    timings: StageTimings | None = None
    series_class: pd.DataFrame | None = None

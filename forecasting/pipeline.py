"""The forecasting pipeline: validate → classify → backtest → select → calibrate → forecast.

Method (documented in docs/forecasting.md):

1. The history is validated (:mod:`forecasting.validate`) and each series classified by
   ADI / CV² (:func:`forecasting.models.classify_demand`).
2. Series shorter than ``max(2 × season, windows × horizon + season + 1)`` periods are *cold
   start*: they get ``share × forecast of their SKU total`` (share = the key's part of its
   SKU's demand over the periods it was observed), with a warning naming them.
   All-zero series get a zero forecast (model ``ZeroDemand``).
3. The other series run a rolling-origin backtest (``windows`` windows, step = horizon) of the
   candidate models of their class (statsforecast ``cross_validation``, refit every window,
   ``fallback_model=Naive``); models without intervals get conformal intervals.
4. Candidates are every model plus ``Ensemble`` (the mean or median combination of 2–4 of the
   class's 6 best models with the lowest backtest error; means and bounds combined alike) and,
   for smooth series of SKUs with several regions, ``TopDown`` (share × SKU-total forecast).
   Errors are scaled by the in-sample seasonal-naive error at each cutoff (MASE / RMSSE).
   Each demand class uses the candidate with the lowest mean error (or, with
   ``selection="series"``, each series its own best).
5. Calibration (split-conformal, scaled): per class and level, the conformity scores
   ``max(lo − y, y − hi) / scale`` of the chosen candidates in the backtest give the amount by
   which the final intervals are widened (or narrowed). The backtest reports the coverage of the
   calibrated intervals by leaving each window out of its own calibration.
6. The final models are fitted on the whole history; quantiles come from the 50/80/90%
   intervals (q25/q75, q10/q90, q05/q95), q50 = mean clipped into [q25, q75]; all are clipped
   at 0 and made non-decreasing.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import InputError
from .models import (
    AUTO_EXOG_MODELS,
    EXOG_MODELS,
    EXOG_SCREEN_SERIES,
    INTERMITTENT_MODELS,
    SMOOTH_MODELS,
    TOP_DOWN,
    TOP_DOWN_BASE,
    available_models,
    classify_demand,
    make_models,
)
from .settings import LEVELS, QUANTILE_COLUMNS, ForecastResult, ForecastSettings
from .validate import period_days, season_length_for, validate_history

__all__ = ["forecast"]

log = logging.getLogger(__name__)

ENSEMBLE = "Ensemble"
#: Ensemble search: combinations of 2 … ENSEMBLE_MAX_SIZE of the ENSEMBLE_POOL best models of a
#: class (by mean backtest error), combined by their mean or median.
ENSEMBLE_POOL = 6
ENSEMBLE_MAX_SIZE = 4
# quantile column -> (level, side)
_QMAP = {
    "q05": (90, "lo"),
    "q10": (80, "lo"),
    "q25": (50, "lo"),
    "q75": (50, "hi"),
    "q90": (80, "hi"),
    "q95": (90, "hi"),
}
_BOUNDS = [f"{side}-{lv}" for lv in LEVELS for side in ("lo", "hi")]


def forecast(
    history: pd.DataFrame,
    settings: ForecastSettings,
    weather: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ForecastResult:
    """Backtest, select and forecast every ``region_id × sku_id`` series of a history.

    Parameters
    ----------
    history
        Demand history ``region_id, sku_id, ds, y`` (y in units ≥ 0, one row per key/period).
    settings
        :class:`ForecastSettings` (horizon in periods, frequency, models, windows …).
    weather
        Optional ``region_id, ds, precip_mm, snow_cm, temp_c`` (daily or per period; mm, cm,
        °C); must cover the forecast horizon.
    events
        Optional ``ds, [region_id], [sku_id], <numeric flags such as promo, holiday>``; a blank
        region/SKU applies to all. Periods without a row count as 0.
    progress
        Optional ``progress(done, total)``, called as the work advances with ``total`` the
        number of ``region_id × sku_id`` series and ``done`` the series-equivalents of work
        finished (a backtested series weighs its windows + 1 fits). It must not raise.

    Returns
    -------
    ForecastResult
        Forecast contract rows, backtest errors, leaderboard and warnings.

    Raises
    ------
    InputError
        Bad history, settings or regressors (message names row/column and the fix).
    """
    hist, freq, warns = validate_history(
        history, freq=settings.freq, fill_gaps=settings.fill_gaps, as_of=settings.as_of
    )
    season = settings.season_length or season_length_for(freq)
    h = settings.horizon
    pdays = period_days(freq)
    if settings.models != "auto":
        unknown = [m for m in settings.models if m not in (*available_models(), ENSEMBLE)]
        if unknown:
            raise InputError(
                f"unknown model(s) {', '.join(unknown)}",
                fix=f"use 'auto' or names from: {', '.join(available_models())}",
                table="settings",
            )
    keys = (
        hist[["region_id", "sku_id"]]
        .drop_duplicates()
        .sort_values(["region_id", "sku_id"], kind="stable")
        .reset_index(drop=True)
    )
    keys["unique_id"] = [f"k{i:07d}" for i in range(len(keys))]
    df = hist.merge(keys, on=["region_id", "sku_id"], how="left")[["unique_id", "ds", "y"]]
    info = classify_demand(df)
    cold_len = max(2 * season, settings.windows * h + season + 1)
    info["cold"] = (info["n_obs"] < cold_len) & (info["demand_class"] != "zero")
    end = hist["ds"].max()
    future = pd.date_range(end, periods=h + 1, freq=freq)[1:]

    # series to run through the models: warm bottom series, SKU totals of cold keys and, with
    # reconcile, every aggregate of the hierarchy.
    from .hierarchy import aggregate_levels

    run_keys = keys.set_index("unique_id")
    warm = info.index[(~info["cold"]) & (info["demand_class"] != "zero")]
    parts = [df[df["unique_id"].isin(warm)]]
    agg_keys = pd.DataFrame(columns=["region_id", "sku_id", "unique_id", "level"])
    cold_ids = info.index[info["cold"]]
    cold_skus = sorted(run_keys.loc[cold_ids, "sku_id"].unique())
    if settings.reconcile or len(cold_skus):
        agg_df, agg_keys = aggregate_levels(hist, full=settings.reconcile, skus=cold_skus)
        parts.append(agg_df)
    run_df = pd.concat(parts, ignore_index=True)

    exo = None
    if settings.exogenous == "auto" and (
        weather is not None or events is not None or settings.country
    ):
        from .exogenous import build_exogenous

        all_keys = pd.concat(
            [keys, agg_keys[["region_id", "sku_id", "unique_id"]]], ignore_index=True
        )
        exo = build_exogenous(
            all_keys, hist["ds"].min(), end, future, freq, weather, events, settings.country
        )
        warns.extend(exo.warnings)

    core = _Core(settings, freq, season, pdays, progress=_Ticker(progress, len(keys)))
    core.sku_of = keys.set_index("unique_id")["sku_id"]
    out = core.run(run_df, exo, report_ids=set(keys["unique_id"]))
    warns.extend(out.warnings)

    # assemble bottom-level forecasts
    fc = out.forecast
    bottom = fc[fc["unique_id"].isin(warm)]
    pieces = [bottom] if len(bottom) else []
    zero_ids = info.index[info["demand_class"] == "zero"]
    if len(zero_ids):
        pieces.append(_zero_forecast(zero_ids, future))
    if len(cold_ids):
        cold_fc, cold_warn = _cold_start(df, cold_ids, run_keys, agg_keys, fc, season)
        pieces.append(cold_fc)
        warns.append(cold_warn)
    bottom = pd.concat(pieces, ignore_index=True)

    hier = None
    if settings.reconcile:
        from .hierarchy import reconcile_forecasts

        base = pd.concat([bottom, fc[fc["unique_id"].isin(agg_keys["unique_id"])]])
        hier, bottom, rec_warn = reconcile_forecasts(
            base, keys, agg_keys, out.cv_chosen, df, season
        )
        warns.extend(rec_warn)

    res_fc = bottom.merge(keys, on="unique_id", how="left")
    res_fc = res_fc[["region_id", "sku_id", "ds", "model", "mean", *QUANTILE_COLUMNS]]
    res_fc = res_fc.sort_values(["region_id", "sku_id", "ds"], kind="stable").reset_index(drop=True)
    name_keys = pd.concat([keys, agg_keys[["region_id", "sku_id", "unique_id"]]])
    backtest = out.backtest.merge(name_keys, on="unique_id", how="left")
    backtest = backtest[backtest["unique_id"].isin(keys["unique_id"])]
    backtest = backtest[
        ["region_id", "sku_id"] + [c for c in backtest.columns if c not in ("region_id", "sku_id")]
    ].drop(columns="unique_id")
    resid = out.residuals.merge(name_keys, on="unique_id", how="left")
    resid = resid[resid["unique_id"].isin(keys["unique_id"])].drop(columns="unique_id")
    leaderboard = out.leaderboard
    core.progress.finish()
    return ForecastResult(
        forecast=res_fc,
        backtest=backtest.reset_index(drop=True),
        leaderboard=leaderboard,
        warnings=warns,
        freq=freq,
        season_length=season,
        hierarchy=hier,
        residuals=resid.reset_index(drop=True),
        history=hist,
    )


# --------------------------------------------------------------------------------------------


@dataclass
class _CoreOut:
    forecast: pd.DataFrame  # unique_id, ds, model, mean, q05..q95
    backtest: pd.DataFrame  # unique_id, demand_class, model, window, cutoff, metric, ...
    leaderboard: pd.DataFrame
    residuals: pd.DataFrame  # unique_id, cutoff, step, y, mean, scale, demand_class
    cv_chosen: pd.DataFrame  # unique_id, ds, cutoff, y, mean (chosen candidate)
    warnings: list[str]


def _sf_call(kind: str, df, X_df, models, freq: str, kw: dict, n_jobs: int = 1):
    """One statsforecast call: ``kind`` "cv" (cross_validation) or "forecast".

    With ``n_jobs=1`` it is one Dask task over a chunk of whole series.
    """
    from statsforecast import StatsForecast
    from statsforecast.models import Naive

    sf = StatsForecast(models=models, freq=freq, n_jobs=n_jobs, fallback_model=Naive())
    if kind == "cv":
        return sf.cross_validation(df=df, **kw)
    return sf.forecast(df=df, X_df=X_df, **kw)


#: with a progress callback, a statsforecast call over more series than this runs in chunks of
#: at least this many series (one report per chunk; ~20 chunks for large runs)
PROGRESS_CHUNK_MIN = 500
PROGRESS_CHUNKS = 20


class _Ticker:
    """Counts work units (one model fit of one series) and reports series-equivalents."""

    def __init__(self, callback: Callable[[int, int], None] | None, n_series: int):
        self.callback = callback
        self.n_series = n_series
        self.units_total = 0.0
        self.units_done = 0.0

    def start(self, units_total: float) -> None:
        self.units_total = float(units_total)
        self.units_done = 0.0
        self._report()

    def add(self, units: float) -> None:
        self.units_done = min(self.units_total, self.units_done + units)
        self._report()

    def finish(self) -> None:
        self.units_done = self.units_total
        self._report()

    def _report(self) -> None:
        if self.callback is None:
            return
        share = self.units_done / self.units_total if self.units_total > 0 else 1.0
        self.callback(int(self.n_series * share), self.n_series)


class _Core:
    """Backtest/selection/calibration/final fit over a long frame ``unique_id, ds, y``."""

    def __init__(
        self,
        settings: ForecastSettings,
        freq: str,
        season: int,
        pdays: float,
        progress: _Ticker | None = None,
    ):
        self.s = settings
        self.freq = freq
        self.season = season
        self.pdays = pdays
        self.progress = progress or _Ticker(None, 0)
        #: unique_id -> sku_id of the bottom series (TopDown); aggregates are not in it
        self.sku_of: pd.Series | None = None

    # -- statsforecast calls (engine aware) ---------------------------------------------------
    def _jobs(self) -> int:
        j = self.s.jobs
        if j is None or j < 1:
            return os.cpu_count() or 1
        return j

    def _to_engine(self, df: pd.DataFrame | None):
        """The frame as the engine's statsforecast input (local: itself; ray: a ray Dataset)."""
        if df is None or self.s.engine == "local":
            return df
        try:
            import ray
        except ModuleNotFoundError:
            raise InputError(
                "engine 'ray' needs the ray package, which is not installed",
                fix="pip install 'fugue[ray]', or use engine dask or local",
                table="settings",
            ) from None
        import ray.data

        return ray.data.from_pandas(df)

    def _from_engine(self, res) -> pd.DataFrame:
        if isinstance(res, pd.DataFrame):
            out = res
        elif hasattr(res, "to_pandas"):
            out = res.to_pandas()
        else:
            out = pd.DataFrame(res)
        out = out.reset_index(drop=True)
        out["unique_id"] = out["unique_id"].astype(str)
        out["ds"] = pd.to_datetime(out["ds"])
        if "cutoff" in out:
            out["cutoff"] = pd.to_datetime(out["cutoff"])
        sort = ["unique_id", "cutoff", "ds"] if "cutoff" in out else ["unique_id", "ds"]
        return out.sort_values(sort, kind="stable").reset_index(drop=True)

    def _dask_chunks(
        self, kind: str, df: pd.DataFrame, X_df: pd.DataFrame | None, models, kw: dict
    ) -> pd.DataFrame:
        """Run one statsforecast call on Dask as a few tasks of whole series each.

        statsforecast's fugue backend calls the models once *per series* (partition by id),
        which costs more than the models on short weekly series; here every task fits a
        contiguous chunk of series with one local ``StatsForecast`` (same numbers, per series).
        """
        import dask

        client = None
        try:
            from distributed import default_client

            client = default_client()
            workers = len(client.scheduler_info()["workers"])
        except (ImportError, ValueError):
            workers = self._jobs()
        codes, uniq = pd.factorize(df["unique_id"], sort=True)
        n_chunks = int(max(1, min(len(uniq), 4 * max(1, workers))))
        bounds = np.linspace(0, len(uniq), n_chunks + 1).round().astype(int)
        xcodes = None
        if X_df is not None:
            xcodes = pd.Index(uniq).get_indexer(X_df["unique_id"])
        chunks = []
        for lo, hi in itertools.pairwise(bounds):
            if hi > lo:
                part = df[(codes >= lo) & (codes < hi)]
                xpart = None if X_df is None else X_df[(xcodes >= lo) & (xcodes < hi)]
                chunks.append((part, xpart))
        if client is not None:
            # data go to the workers as scattered futures, not inside the task graph
            def put(obj: pd.DataFrame | None):
                return None if obj is None else client.scatter(obj, hash=False)

            data = [(put(p), put(x)) for p, x in chunks]
            futures = [
                client.submit(_sf_call, kind, p, x, models, self.freq, kw, pure=False)
                for p, x in data
            ]
            parts = client.gather(futures)
            client.cancel([f for pair in data for f in pair if f is not None])
        else:
            tasks = [dask.delayed(_sf_call)(kind, p, x, models, self.freq, kw) for p, x in chunks]
            parts = dask.compute(*tasks)
        return pd.concat(parts, ignore_index=True)

    def _call(
        self, kind: str, df, X_df, models, kw: dict, jobs: int | None = None, count: float = 0
    ):
        """One statsforecast call on the configured engine, as a sorted pandas frame.

        ``count``: work units per series to report as progress (0: none). With a progress
        callback a large call runs in chunks of whole series (same numbers: every series is
        fitted on its own), so progress moves while it runs.
        """
        if count:
            ids = pd.unique(df["unique_id"])
            size = max(PROGRESS_CHUNK_MIN, -(-len(ids) // PROGRESS_CHUNKS))
            if self.progress.callback is None or len(ids) <= size:
                res = self._call(kind, df, X_df, models, kw, jobs)
                self.progress.add(count * len(ids))
                return res
            parts = []
            for lo in range(0, len(ids), size):
                chunk = ids[lo : lo + size]
                part_x = None if X_df is None else X_df[X_df["unique_id"].isin(chunk)]
                part = df[df["unique_id"].isin(chunk)]
                parts.append(self._call(kind, part, part_x, models, kw, jobs))
                self.progress.add(count * len(chunk))
            res = pd.concat(parts, ignore_index=True)
            sort = ["unique_id", "cutoff", "ds"] if "cutoff" in res else ["unique_id", "ds"]
            return res.sort_values(sort, kind="stable").reset_index(drop=True)
        if self.s.engine == "dask":
            res = self._dask_chunks(kind, df, X_df, models, kw)
        else:
            res = _sf_call(
                kind,
                self._to_engine(df),
                self._to_engine(X_df),
                models,
                self.freq,
                kw,
                n_jobs=jobs or self._jobs(),
            )
        return self._from_engine(res)

    def cross_validation(
        self, df: pd.DataFrame, models, n_min: int, count: bool = False
    ) -> pd.DataFrame:
        kw = dict(
            h=self.s.horizon,
            n_windows=self.s.windows,
            step_size=self.s.horizon,
            level=list(LEVELS),
            refit=self._refit(models),
        )
        return self._call("cv", df, None, models, kw, count=self.s.windows if count else 0)

    def _refit(self, models) -> bool:
        """Refit every window only where needed: models with ``forward`` are fitted at the first
        cutoff and rolled forward (same forecasts to ~1 %, ~40 % less time)."""
        if self.s.refit is not None:
            return bool(self.s.refit)
        return not all(hasattr(m, "forward") for m in models)

    def final(
        self,
        df: pd.DataFrame,
        models,
        X_df: pd.DataFrame | None = None,
        jobs: int | None = None,
        count: bool = False,
    ) -> pd.DataFrame:
        kw = dict(h=self.s.horizon, level=list(LEVELS))
        return self._call("forecast", df, X_df, models, kw, jobs, count=1 if count else 0)

    # -- main ---------------------------------------------------------------------------------
    def candidates(self, cls: str, has_exog: bool) -> list[str]:
        if self.s.models != "auto":
            names = [m for m in self.s.models if m != ENSEMBLE]
            if TOP_DOWN in names and TOP_DOWN_BASE not in names:
                names.append(TOP_DOWN_BASE)  # TopDown forecasts SKU totals with it
            if not has_exog:  # regression models need regressors (weather/events/country)
                names = [m for m in names if m not in EXOG_MODELS] or ["SeasonalNaive"]
            return names
        base = SMOOTH_MODELS if cls == "smooth" else INTERMITTENT_MODELS
        names = [m for m in base if not (m == "AutoARIMA" and self.season > 12)]
        if self.season <= 1 or not self.s.top_down:
            names = [m for m in names if m != TOP_DOWN]
        if has_exog and cls == "smooth":
            names += list(AUTO_EXOG_MODELS)
        return names

    def run(self, df: pd.DataFrame, exo, report_ids: set | None = None) -> _CoreOut:
        self.report_ids = report_ids
        h, w = self.s.horizon, self.s.windows
        warnings: list[str] = []
        info = classify_demand(df)
        min_len = w * h + self.season + 1
        short = info.index[(info["n_obs"] < min_len) | (info["demand_class"] == "zero")]
        info["group"] = np.where(info["demand_class"] == "intermittent", "intermittent", "smooth")
        info.loc[short, "group"] = "short"
        # work units: a backtested series is fitted once per window and once more at the end
        n_short = int((info["group"] == "short").sum())
        self.progress.start((len(info) - n_short) * (w + 1) + n_short)
        fcs: list[pd.DataFrame] = []
        bts, resids, cvs, boards = [], [], [], []
        for group in ("smooth", "intermittent"):
            ids = info.index[info["group"] == group]
            if not len(ids):
                continue
            sub = df[df["unique_id"].isin(ids)]
            res = self._run_group(group, sub, info.loc[ids], exo)
            fcs.append(res[0])
            bts.append(res[1])
            resids.append(res[2])
            cvs.append(res[3])
            boards.append(res[4])
            warnings.extend(res[5])
        short_ids = info.index[info["group"] == "short"]
        if len(short_ids):
            fcs.append(self._short(df[df["unique_id"].isin(short_ids)]))
        cols_bt = ["unique_id", "demand_class", "model", "window", "cutoff"]
        return _CoreOut(
            forecast=pd.concat(fcs, ignore_index=True)
            if fcs
            else pd.DataFrame(columns=["unique_id", "ds", "model", "mean", *QUANTILE_COLUMNS]),
            backtest=pd.concat(bts, ignore_index=True) if bts else pd.DataFrame(columns=cols_bt),
            leaderboard=_merge_boards(boards, self.s.metric),
            residuals=pd.concat(resids, ignore_index=True)
            if resids
            else pd.DataFrame(
                columns=["unique_id", "cutoff", "step", "y", "mean", "scale", "demand_class"]
            ),
            cv_chosen=pd.concat(cvs, ignore_index=True)
            if cvs
            else pd.DataFrame(columns=["unique_id", "ds", "cutoff", "y", "mean"]),
            warnings=warnings,
        )

    def _short(self, df: pd.DataFrame) -> pd.DataFrame:
        """Series too short to backtest (e.g. a new SKU's total): non-seasonal ETS."""
        from statsforecast.models import AutoETS

        fc = self.final(df, [AutoETS(season_length=1, model="ZZN", alias="ShortETS")], count=True)
        return _finish(
            fc, "ShortETS", pd.Series("ShortETS", index=fc["unique_id"].unique()), None, None
        )

    def _run_group(self, group: str, sub: pd.DataFrame, info: pd.DataFrame, exo):
        h, w, metric = self.s.horizon, self.s.windows, self.s.metric
        has_exog = exo is not None and len(exo.columns) > 0
        names = self.candidates(group, has_exog)
        td = _TopDown.make(self, sub, names)
        if td is None:
            names = [m for m in names if m != TOP_DOWN]
        plain = [m for m in names if m not in EXOG_MODELS and m != TOP_DOWN]
        exog_names = [m for m in names if m in EXOG_MODELS]
        n_min = int(info["n_obs"].min()) - w * h
        kw = {"season_length": self.season, "freq_days": self.pdays, "horizon": h}
        cv = self.cross_validation(
            sub, make_models(tuple(plain), n_min=n_min, **kw), n_min, count=True
        )
        if td is not None:
            cv = td.backtest(cv, n_min, kw)
        warns: list[str] = []
        if exog_names and self.s.models == "auto":
            exog_names = self._screen_exog(sub, info, cv, plain, exog_names, exo, n_min, warns)
            names = plain + exog_names
        if exog_names:
            sub_x = exo.attach(sub)
            cvx = self.cross_validation(
                sub_x, make_models(tuple(exog_names), n_min=n_min, **kw), n_min
            )
            cv = cv.merge(cvx.drop(columns="y"), on=["unique_id", "ds", "cutoff"], how="left")
        cv = _clip_and_fill(cv, names)
        scale = _scales(sub, cv["cutoff"].unique(), self.season, metric)
        err = _errors(cv, names, scale, metric)
        # ensemble: the best mean/median combination of the class's best models (by backtest)
        board0 = err.groupby("model")[metric].mean().sort_values(kind="stable")
        # naive baselines are backtested (leaderboard) but not selectable for intermittent
        # series: MAE-type metrics reward their frequent all-zero forecasts, useless for stock.
        baseline_only = {"Naive", "SeasonalNaive"} if group == "intermittent" else set()
        if set(names) <= baseline_only:
            baseline_only = set()
        pool = [m for m in board0.index if m not in ("Naive", *baseline_only)]
        pool = [m for m in pool if np.isfinite(board0[m])][:ENSEMBLE_POOL]
        cand = [m for m in names if m not in baseline_only]
        members: list[str] = []
        how = "mean"
        if (
            self.s.ensemble
            and len(pool) >= 2
            and (self.s.models == "auto" or ENSEMBLE in self.s.models)
        ):
            members, how = _search_ensemble(cv, pool, scale, metric)
            cv = _add_ensemble(cv, members, how)
            err = pd.concat([err, _errors(cv, [ENSEMBLE], scale, metric)], ignore_index=True)
            cand.append(ENSEMBLE)
        # selection
        per = err.groupby(["unique_id", "model"], sort=False)[metric].mean().unstack("model")
        per = per.reindex(columns=cand)
        chosen = _select(per, cand, self.s.selection)
        err["chosen"] = err["model"].to_numpy() == chosen.reindex(err["unique_id"]).to_numpy()
        err["demand_class"] = info["demand_class"].reindex(err["unique_id"]).to_numpy()
        # calibration on the chosen candidates' backtest paths
        ch = _chosen_paths(cv, chosen, scale)
        ch["demand_class"] = group
        offsets = _calibrate(ch) if self.s.calibrate else dict.fromkeys(LEVELS, 0.0)
        rep = getattr(self, "report_ids", None)
        in_rep = (lambda f: f) if rep is None else (lambda f: f[f["unique_id"].isin(rep)])
        cov = _lowo_coverage(ch, self.s.calibrate, in_rep)
        # leaderboard
        board = _board(
            in_rep(err), metric, chosen[chosen.index.isin(in_rep(err)["unique_id"])], cov, group
        )
        # final fit: each group of series fits only the models its chosen candidate needs
        final_scale = _scales(sub, [None], self.season, metric).set_index("unique_id")["scale"]
        groups: dict[tuple[str, ...], list[str]] = {}
        for uid, c in chosen.items():
            nd = tuple(sorted(set(members) if c == ENSEMBLE else {c}))
            groups.setdefault(nd, []).append(uid)
        td_fc = None
        if td is not None and any(TOP_DOWN in nd for nd in groups):
            td_fc = td.final_totals(kw)
        outs = []
        for nd, uids in sorted(groups.items()):
            part = sub[sub["unique_id"].isin(uids)]
            n_all = int(info.loc[uids, "n_obs"].min())
            jobs = 1 if len(uids) < 20 and self.s.engine == "local" else None
            need = set(nd) | ({TOP_DOWN_BASE} if TOP_DOWN in nd else set())
            pl = [m for m in plain if m in need]
            ex = [m for m in exog_names if m in nd]
            parts = []
            if pl:
                parts.append(
                    self.final(
                        part, make_models(tuple(pl), n_min=n_all, **kw), jobs=jobs, count=True
                    )
                )
            if ex:
                parts.append(
                    self.final(
                        exo.attach(part),
                        make_models(tuple(ex), n_min=n_all, **kw),
                        X_df=exo.future_for(uids),
                        jobs=jobs,
                        count=not pl,
                    )
                )
            fc = parts[0]
            for p in parts[1:]:
                fc = fc.merge(p, on=["unique_id", "ds"], how="left")
            if TOP_DOWN in nd:
                fc = td.apply(fc, td_fc, None)
            fc = _clip_and_fill(fc, list(need))
            chg = chosen.reindex(uids)
            if ENSEMBLE in set(chg):
                fc = _add_ensemble(fc, members, how)
            outs.append(_finish(fc, cand, chg, offsets, final_scale))
        out = pd.concat(outs, ignore_index=True)
        out = out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
        if ENSEMBLE in set(chosen):
            label = f"{ENSEMBLE}({'median:' if how == 'median' else ''}{'+'.join(members)})"
            out.loc[out["model"] == ENSEMBLE, "model"] = label
        resid = ch[["unique_id", "cutoff", "step", "y", "mean", "scale", "demand_class"]]
        cvc = ch[["unique_id", "ds", "cutoff", "y", "mean"]]
        return out, err, resid, cvc, board, warns

    def _screen_exog(self, sub, info, cv, plain, exog_names, exo, n_min, warns) -> list[str]:
        """Backtest the regression models on the largest series first; keep them only if one
        beats the best plain model there (bounded cost: ``EXOG_SCREEN_SERIES`` series)."""
        metric = self.s.metric
        kw = {"season_length": self.season, "freq_days": self.pdays, "horizon": self.s.horizon}
        top = info.sort_values("total", ascending=False, kind="stable").index
        ids = sorted(top[:EXOG_SCREEN_SERIES])
        if len(ids) == len(info):
            return exog_names  # small run: backtest them on every series directly
        part = sub[sub["unique_id"].isin(ids)]
        cvx = self.cross_validation(
            exo.attach(part), make_models(tuple(exog_names), n_min=n_min, **kw), n_min
        )
        both = cv[cv["unique_id"].isin(ids)].merge(
            cvx.drop(columns="y"), on=["unique_id", "ds", "cutoff"], how="left"
        )
        both = _clip_and_fill(both, plain + exog_names)
        scale = _scales(part, both["cutoff"].unique(), self.season, metric)
        e = _errors(both, plain + exog_names, scale, metric).groupby("model")[metric].mean()
        best_plain = float(e.reindex(plain).min())
        keep = [m for m in exog_names if float(e.get(m, np.inf)) < best_plain]
        for m in exog_names:
            verdict = "kept" if m in keep else "not used"
            warns.append(
                f"regressors: {m} {metric.upper()} {float(e.get(m, np.nan)):.3f} vs best plain "
                f"model {best_plain:.3f} on the {len(ids)} largest series → {verdict}"
            )
        return keep


# -- helpers ----------------------------------------------------------------------------------


SWITCH_MARGIN = 0.10


def _select(per: pd.DataFrame, cand: list[str], selection: str) -> pd.Series:
    """Chosen candidate per series from its mean backtest error per candidate (``per``).

    ``series``: each series' best; ``class``: the candidate with the lowest mean over the
    class; ``hybrid``: the class's best unless the series' own best is at least
    ``SWITCH_MARGIN`` (10 %) better on that series (per-series choices on few windows are
    noisy, so they must earn the switch).
    """
    filled = per.fillna(np.inf)
    own = pd.Series(np.asarray(cand)[np.argmin(filled.to_numpy(), axis=1)], index=per.index)
    if selection == "series":
        return own
    best = per.mean().idxmin()
    if selection == "class":
        return pd.Series(best, index=per.index)
    own_err = filled.min(axis=1)
    best_err = filled[best]
    switch = own_err < (1 - SWITCH_MARGIN) * best_err
    return pd.Series(np.where(switch, own, best), index=per.index)


def _clip_and_fill(df: pd.DataFrame, names) -> pd.DataFrame:
    """Means and bounds ≥ 0; missing intervals → the mean (then conformal calibration)."""
    df = df.copy()
    for m in names:
        if m not in df:
            continue
        mean = df[m].to_numpy(dtype=float)
        bad = ~np.isfinite(mean)
        if bad.any():
            mean = np.where(bad, 0.0, mean)
        mean = np.maximum(mean, 0.0)
        df[m] = mean
        for b in _BOUNDS:
            col = f"{m}-{b}"
            v = df[col].to_numpy(dtype=float) if col in df else np.full(len(df), np.nan)
            v = np.where(np.isfinite(v), v, mean)
            df[col] = v
    return df


def _add_ensemble(df: pd.DataFrame, members: list[str], how: str = "mean") -> pd.DataFrame:
    """``Ensemble`` columns: the mean or median of the members' means and of their bounds."""
    f = np.median if how == "median" else np.mean
    df = df.copy()
    df[ENSEMBLE] = f(df[members].to_numpy(dtype=float), axis=1)
    for b in _BOUNDS:
        df[f"{ENSEMBLE}-{b}"] = f(df[[f"{m}-{b}" for m in members]].to_numpy(dtype=float), axis=1)
    return df


def _search_ensemble(
    cv: pd.DataFrame, pool: list[str], scale: pd.DataFrame, metric: str
) -> tuple[list[str], str]:
    """The combination of 2 … ``ENSEMBLE_MAX_SIZE`` models of ``pool`` (mean, or median for 3
    or more) with the lowest mean backtest error over the class (series × windows).

    Only backtest forecasts are used: the search is part of the model selection, and a class's
    choice rests on every series and window of the class (no per-series choice).
    """
    from itertools import combinations

    sc = cv[["unique_id", "cutoff"]].merge(scale, on=["unique_id", "cutoff"], how="left")
    s_row = sc["scale"].to_numpy(dtype=float)
    key = pd.MultiIndex.from_frame(cv[["unique_id", "cutoff"]])
    codes, uniq = pd.factorize(key)
    n_keys = len(uniq)
    cnt = np.bincount(codes, minlength=n_keys).astype(float)
    s_key = np.bincount(codes, weights=s_row, minlength=n_keys) / cnt
    y = cv["y"].to_numpy(dtype=float)
    X = np.column_stack([cv[m].to_numpy(dtype=float) for m in pool])

    def score(f: np.ndarray) -> float:
        d = f - y
        if metric == "rmsse":
            v = np.sqrt(np.bincount(codes, weights=d * d, minlength=n_keys) / cnt) / s_key
        else:
            v = np.bincount(codes, weights=np.abs(d), minlength=n_keys) / cnt
            if metric == "mase":
                v = v / s_key
        return float(np.nanmean(v))

    best = (np.inf, [pool[0], pool[1]], "mean")
    for k in range(2, min(ENSEMBLE_MAX_SIZE, len(pool)) + 1):
        for combo in combinations(range(len(pool)), k):
            sub = X[:, combo]
            for how in ("mean", "median") if k >= 3 else ("mean",):
                f = np.median(sub, axis=1) if how == "median" else sub.mean(axis=1)
                e = score(f)
                if e < best[0] - 1e-12:
                    best = (e, [pool[i] for i in combo], how)
    return best[1], best[2]


class _TopDown:
    """The ``TopDown`` candidate of one class group: each bottom series' share of its SKU
    total (over the last year before the forecast origin) × the ``TOP_DOWN_BASE`` forecast of
    that SKU total (summed over the group's series of the SKU). Series whose SKU has no other
    series in the group, and aggregate series, get their own ``TOP_DOWN_BASE`` forecast.
    """

    def __init__(self, core: _Core, sub: pd.DataFrame, sku: pd.Series):
        self.core = core
        self.sub = sub
        self.sku = sku  # unique_id -> total id (only series of SKUs with ≥ 2 series)
        d = sub[sub["unique_id"].isin(sku.index)]
        d = d.assign(tot=sku.reindex(d["unique_id"]).to_numpy())
        self.members = d
        self.totals = (
            d.groupby(["tot", "ds"], as_index=False, sort=True)["y"]
            .sum()
            .rename(columns={"tot": "unique_id"})
        )
        self.year = max(core.season, round(365.0 / max(core.pdays, 1e-9)))

    @classmethod
    def make(cls, core: _Core, sub: pd.DataFrame, names: list[str]) -> _TopDown | None:
        if TOP_DOWN not in names or TOP_DOWN_BASE not in names or core.sku_of is None:
            return None
        ids = pd.Index(sub["unique_id"].unique())
        sku = core.sku_of.reindex(ids).dropna()
        n = sku.map(sku.value_counts())
        sku = sku[n >= 2]
        if sku.empty:
            return None
        return cls(core, sub, "T:" + sku.astype(str))

    def shares(self, cutoffs) -> pd.DataFrame:
        """``unique_id, cutoff, share`` over the last year up to each cutoff (None = end)."""
        rows = []
        d = self.members
        ds = d["ds"].to_numpy()
        for cut in cutoffs:
            end = ds.max() if cut is None else np.datetime64(cut)
            start = end - np.timedelta64(round(self.year * self.core.pdays), "D")
            w = d[(ds > start) & (ds <= end)]
            own = w.groupby("unique_id")["y"].sum()
            tot = w.groupby("tot")["y"].sum()
            den = tot.reindex(self.sku.reindex(own.index)).to_numpy()
            sh = np.where(den > 0, own.to_numpy() / np.where(den > 0, den, 1.0), 0.0)
            rows.append(pd.DataFrame({"unique_id": own.index, "cutoff": cut, "share": sh}))
        return pd.concat(rows, ignore_index=True)

    def _models(self, kw: dict, n_min: int):
        return make_models((TOP_DOWN_BASE,), n_min=n_min, **kw)

    def apply(self, fc: pd.DataFrame, tot_fc: pd.DataFrame, cutoffs) -> pd.DataFrame:
        """Add ``TopDown`` columns to ``fc`` (backtest rows with ``cutoff``, or final rows)."""
        on = ["ds", "cutoff"] if "cutoff" in fc else ["ds"]
        cols = [TOP_DOWN_BASE] + [f"{TOP_DOWN_BASE}-{b}" for b in _BOUNDS]
        t = tot_fc[["unique_id", *on, *[c for c in cols if c in tot_fc]]].rename(
            columns={"unique_id": "tot"}
        )
        base = fc[["unique_id", *on]].assign(tot=self.sku.reindex(fc["unique_id"]).to_numpy())
        sh = self.shares(sorted(fc["cutoff"].unique()) if "cutoff" in fc else [None])
        if "cutoff" in fc:
            base = base.merge(sh, on=["unique_id", "cutoff"], how="left")
        else:
            base = base.merge(sh.drop(columns="cutoff"), on="unique_id", how="left")
        base = base.merge(t, on=["tot", *on], how="left")
        fc = fc.copy()
        has = base["tot"].notna().to_numpy()
        share = base["share"].fillna(0.0).to_numpy()
        for c in cols:
            suffix = c[len(TOP_DOWN_BASE) :]
            own = fc[c].to_numpy(dtype=float) if c in fc else np.full(len(fc), np.nan)
            tv = base[c].to_numpy(dtype=float) if c in base else np.full(len(fc), np.nan)
            fc[f"{TOP_DOWN}{suffix}"] = np.where(has, share * tv, own)
        return fc

    def backtest(self, cv: pd.DataFrame, n_min: int, kw: dict) -> pd.DataFrame:
        n_tot = int(self.totals.groupby("unique_id").size().min()) - self.core.s.windows * (
            self.core.s.horizon
        )
        cvt = self.core.cross_validation(self.totals, self._models(kw, max(n_tot, 1)), n_min)
        return self.apply(cv, cvt, None)

    def final_totals(self, kw: dict) -> pd.DataFrame:
        n_all = int(self.totals.groupby("unique_id").size().min())
        return self.core.final(self.totals, self._models(kw, n_all))


def _scales(train: pd.DataFrame, cutoffs, season: int, metric: str) -> pd.DataFrame:
    """In-sample seasonal-naive error per series and cutoff (the MASE/RMSSE denominator).

    Seasonal lag = ``season`` when the training part is longer than one season, else 1. A zero
    scale (constant series) falls back to the mean |y|, then to 1.
    """
    rows = []
    ids = train["unique_id"].to_numpy()
    ds = train["ds"].to_numpy()
    y = train["y"].to_numpy(dtype=float)
    starts = np.r_[0, np.flatnonzero(ids[1:] != ids[:-1]) + 1]
    ends = np.r_[starts[1:], len(ids)]
    for cut in cutoffs:
        for a, b in zip(starts, ends, strict=True):
            v = y[a:b] if cut is None else y[a:b][ds[a:b] <= np.datetime64(cut)]
            lag = season if len(v) > season else 1
            d = v[lag:] - v[:-lag] if len(v) > lag else np.zeros(1)
            sc = np.sqrt(np.mean(d**2)) if metric == "rmsse" else np.mean(np.abs(d))
            if not sc > 0:
                sc = np.mean(np.abs(v)) if len(v) and np.mean(np.abs(v)) > 0 else 1.0
            rows.append((ids[a], cut, float(sc)))
    return pd.DataFrame(rows, columns=["unique_id", "cutoff", "scale"])


def _errors(cv: pd.DataFrame, names, scale: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per series, model and window: metric, mae, coverage_80, coverage_90 (utilsforecast)."""
    from utilsforecast.losses import coverage, mae, rmse

    cvk = cv.assign(key=cv["unique_id"] + "|" + cv["cutoff"].astype(str))
    names = [m for m in names if m in cv]
    e_mae = mae(cvk, models=names, id_col="key").set_index("key")
    out = []
    cov = {
        lv: coverage(cvk, models=names, level=lv, id_col="key").set_index("key") for lv in (80, 90)
    }
    e_rmse = rmse(cvk, models=names, id_col="key").set_index("key") if metric == "rmsse" else None
    keymap = cvk.drop_duplicates("key").set_index("key")[["unique_id", "cutoff"]]
    sc = scale.set_index(["unique_id", "cutoff"])["scale"]
    s = sc.reindex(pd.MultiIndex.from_frame(keymap.reset_index(drop=True))).to_numpy()
    windows = keymap.groupby("unique_id")["cutoff"].rank(method="dense").astype(int) - 1
    for m in names:
        a = e_mae[m].reindex(keymap.index).to_numpy()
        if metric == "mase":
            v = a / s
        elif metric == "rmsse":
            v = e_rmse[m].reindex(keymap.index).to_numpy() / s
        else:
            v = a
        out.append(
            pd.DataFrame(
                {
                    "unique_id": keymap["unique_id"].to_numpy(),
                    "model": m,
                    "window": windows.to_numpy(),
                    "cutoff": keymap["cutoff"].to_numpy(),
                    metric: v,
                    "mae": a,
                    "coverage_80": cov[80][m].reindex(keymap.index).to_numpy(),
                    "coverage_90": cov[90][m].reindex(keymap.index).to_numpy(),
                }
            )
        )
    res = pd.concat(out, ignore_index=True)
    if metric == "mae":
        res = res.loc[:, ~res.columns.duplicated()]
    return res


def _chosen_paths(cv: pd.DataFrame, chosen: pd.Series, scale: pd.DataFrame) -> pd.DataFrame:
    m = chosen.reindex(cv["unique_id"]).to_numpy()
    out = cv[["unique_id", "ds", "cutoff", "y"]].copy()
    out["model"] = m
    idx = np.arange(len(cv))
    for col, src in [("mean", "")] + [(b, f"-{b}") for b in _BOUNDS]:
        vals = np.full(len(cv), np.nan)
        for name in np.unique(m):
            sel = m == name
            vals[sel] = cv[f"{name}{src}"].to_numpy(dtype=float)[idx[sel]]
        out[col] = vals
    out["step"] = out.groupby(["unique_id", "cutoff"]).cumcount() + 1
    return out.merge(scale, on=["unique_id", "cutoff"], how="left")


def _conformal_q(scores: np.ndarray, level: int) -> float:
    n = len(scores)
    if n == 0:
        return 0.0
    k = min(1.0, math.ceil((n + 1) * level / 100) / n)
    return float(np.quantile(scores, k, method="higher"))


def _calibrate(ch: pd.DataFrame) -> dict[int, float]:
    """Scaled conformal offset per level: widen lo/hi by ``q × scale`` (q may be < 0)."""
    out = {}
    for lv in LEVELS:
        sc = np.maximum(ch[f"lo-{lv}"] - ch["y"], ch["y"] - ch[f"hi-{lv}"]) / ch["scale"]
        out[lv] = _conformal_q(sc.to_numpy(dtype=float), lv)
    return out


def _apply(lo, hi, mean, q, scale):
    lo2 = lo - q * scale
    hi2 = hi + q * scale
    cross = lo2 > hi2
    mid = np.clip(mean, np.minimum(lo, hi), np.maximum(lo, hi))
    lo2 = np.where(cross, mid, lo2)
    hi2 = np.where(cross, mid, hi2)
    return np.maximum(lo2, 0.0), np.maximum(hi2, 0.0)


def _lowo_coverage(ch: pd.DataFrame, calibrate: bool, select=None) -> dict[str, float]:
    """Coverage of the calibrated intervals, each window calibrated on the other windows
    (reported on the rows ``select`` keeps, e.g. the bottom-level series)."""
    res: dict[str, list[float]] = {"coverage_80": [], "coverage_90": []}
    cuts = sorted(ch["cutoff"].unique())
    for c in cuts:
        test = ch[ch["cutoff"] == c]
        if select is not None:
            test = select(test)
        if test.empty:
            continue
        train = ch[ch["cutoff"] != c]
        offs = _calibrate(train) if calibrate and len(train) else dict.fromkeys(LEVELS, 0.0)
        for lv in (80, 90):
            lo, hi = _apply(
                test[f"lo-{lv}"].to_numpy(),
                test[f"hi-{lv}"].to_numpy(),
                test["mean"].to_numpy(),
                offs[lv],
                test["scale"].to_numpy(),
            )
            y = test["y"].to_numpy()
            res[f"coverage_{lv}"].append(float(np.mean((y >= lo) & (y <= hi))))
    return {k: float(np.mean(v)) if v else float("nan") for k, v in res.items()}


def _finish(fc, cand, chosen: pd.Series, offsets, scale) -> pd.DataFrame:
    """Pick each series' chosen candidate and turn its intervals into contract quantiles."""
    m = chosen.reindex(fc["unique_id"]).to_numpy()
    idx = np.arange(len(fc))
    cols = {}
    for col, src in [("mean", "")] + [(b, f"-{b}") for b in _BOUNDS]:
        vals = np.full(len(fc), np.nan)
        for name in np.unique(m):
            sel = m == name
            vals[sel] = fc[f"{name}{src}"].to_numpy(dtype=float)[idx[sel]]
        cols[col] = vals
    mean = np.maximum(np.nan_to_num(cols["mean"]), 0.0)
    out = pd.DataFrame({"unique_id": fc["unique_id"].to_numpy(), "ds": fc["ds"].to_numpy()})
    out["model"] = m
    out["mean"] = mean
    sc = np.ones(len(fc)) if scale is None else scale.reindex(fc["unique_id"]).to_numpy()
    bounds = {}
    for lv in LEVELS:
        lo = np.where(np.isfinite(cols[f"lo-{lv}"]), cols[f"lo-{lv}"], mean)
        hi = np.where(np.isfinite(cols[f"hi-{lv}"]), cols[f"hi-{lv}"], mean)
        q = 0.0 if offsets is None else offsets[lv]
        bounds[lv] = _apply(lo, hi, mean, q, sc)
    qs = np.column_stack(
        [
            bounds[90][0],
            bounds[80][0],
            bounds[50][0],
            np.clip(mean, bounds[50][0], bounds[50][1]),
            bounds[50][1],
            bounds[80][1],
            bounds[90][1],
        ]
    )
    qs = np.maximum.accumulate(np.maximum(qs, 0.0), axis=1)
    for i, c in enumerate(QUANTILE_COLUMNS):
        out[c] = qs[:, i]
    return out


def _board(err: pd.DataFrame, metric: str, chosen: pd.Series, cov: dict, group: str):
    g = err.groupby("model", sort=False)
    b = pd.DataFrame(
        {
            metric: g[metric].mean(),
            "coverage_80": g["coverage_80"].mean(),
            "coverage_90": g["coverage_90"].mean(),
            "n_series": g["unique_id"].nunique(),
        }
    )
    b["n_chosen"] = chosen.value_counts().reindex(b.index).fillna(0).astype(int)
    sel = err[err["chosen"]]
    auto = pd.DataFrame(
        {
            metric: [sel[metric].mean()],
            "coverage_80": [cov["coverage_80"]],
            "coverage_90": [cov["coverage_90"]],
            "n_series": [sel["unique_id"].nunique()],
            "n_chosen": [sel["unique_id"].nunique()],
        },
        index=["auto"],
    )
    b = pd.concat([b, auto])
    b.index.name = "model"
    b = b.reset_index()
    b.insert(1, "demand_class", group)
    return b


def _merge_boards(boards: list[pd.DataFrame], metric: str) -> pd.DataFrame:
    cols = ["model", "demand_class", metric, "coverage_80", "coverage_90", "n_series", "n_chosen"]
    if not boards:
        return pd.DataFrame(columns=cols)
    b = pd.concat(boards, ignore_index=True)
    b = b[b["n_series"] > 0]
    if b["demand_class"].nunique() > 1:
        # overall rows, weighted by series count
        def wavg(x: pd.DataFrame) -> pd.Series:
            wt = x["n_series"].to_numpy(dtype=float)
            r = {
                c: float(np.average(x[c], weights=wt))
                for c in (metric, "coverage_80", "coverage_90")
            }
            r["n_series"] = int(wt.sum())
            r["n_chosen"] = int(x["n_chosen"].sum())
            return pd.Series(r)

        tot = b[b["model"] == "auto"]
        allrow = wavg(tot).to_frame().T
        allrow.insert(0, "model", "auto")
        allrow.insert(1, "demand_class", "all")
        b = pd.concat([b, allrow], ignore_index=True)
    b["n_series"] = b["n_series"].astype(int)
    b["n_chosen"] = b["n_chosen"].astype(int)
    return b.sort_values(["demand_class", metric], kind="stable").reset_index(drop=True)[cols]


def _zero_forecast(ids, future) -> pd.DataFrame:
    n = len(future)
    out = pd.DataFrame(
        {
            "unique_id": np.repeat(np.asarray(ids), n),
            "ds": np.tile(future.to_numpy(), len(ids)),
            "model": "ZeroDemand",
            "mean": 0.0,
        }
    )
    for c in QUANTILE_COLUMNS:
        out[c] = 0.0
    return out


def _cold_start(df, cold_ids, keys, agg_keys, fc, season):
    """Cold-start keys: share × forecast of their SKU total (all regions)."""
    sku_total = agg_keys[agg_keys["level"] == "sku"].set_index("sku_id")["unique_id"]
    pieces = []
    names = []
    for uid in cold_ids:
        region, sku = keys.loc[uid, "region_id"], keys.loc[uid, "sku_id"]
        names.append(f"{region}/{sku}")
        own = df[df["unique_id"] == uid]
        tot_uid = sku_total[sku]
        tot_hist = (
            own[["ds"]].merge(_total_history(df, keys, sku), on="ds", how="left")["y"].to_numpy()
        )
        denom = float(np.nansum(tot_hist))
        share = float(own["y"].sum()) / denom if denom > 0 else 0.0
        t = fc[fc["unique_id"] == tot_uid].copy()
        t["unique_id"] = uid
        for c in ("mean", *QUANTILE_COLUMNS):
            t[c] = t[c] * share
        t["model"] = "ColdStart(share×" + t["model"].astype(str) + ")"
        pieces.append(t)
    shown = ", ".join(names[:10]) + (f" … ({len(names)} in all)" if len(names) > 10 else "")
    warn = (
        f"cold start: {len(names)} series shorter than two seasons ({2 * season} periods) "
        f"forecast as their share of the SKU total: {shown}"
    )
    return pd.concat(pieces, ignore_index=True), warn


def _total_history(df, keys, sku):
    ids = keys.index[keys["sku_id"] == sku]
    return df[df["unique_id"].isin(ids)].groupby("ds", as_index=False)["y"].sum()

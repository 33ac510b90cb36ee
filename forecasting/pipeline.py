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
   ``fallback_model=Naive``); models without intervals get conformal intervals. With
   ``backtest="sample"`` (default) only a stratified sample of each class is backtested
   (:func:`backtest_sample`: ``BACKTEST_SAMPLE`` series spread over the class's sales volume
   and, within volume bands, its variability; every series when the class is smaller);
   selection and calibration are per class, so the other series take the class's choice and get
   only the final fits it needs.
   ``auto`` also backtests ``GlobalLGBM``, one LightGBM model across the class's series
   (:mod:`forecasting.global_model`).
4. Candidates are every model plus ``Ensemble`` (backward elimination from the mean of the
   class's 5 best models, one per family: a member goes only if that lowers the class's
   backtest error by ≥ 0.5 %; :func:`forecasting.candidates.search_ensemble`) and,
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

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .candidates import (
    ENSEMBLE,
    TopDownCandidate,
    _clip_and_fill,
    add_ensemble,
    ensemble_pool,
    search_ensemble,
    select_candidates,
)
from .errors import InputError
from .fit import StatsFit, Ticker
from .global_model import GLOBAL, GLOBAL_CONFORMAL, GLOBAL_MIN_SERIES, GlobalModel
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
from .scoring import (
    _board,
    _calibrate,
    _chosen_paths,
    _errors,
    _finish,
    _lowo_coverage,
    _merge_boards,
    seasonal_scales,
)
from .settings import LEVELS, QUANTILE_COLUMNS, ForecastResult, ForecastSettings
from .stages import StageClock, StageProgress
from .validate import period_days, season_length_for, validate_history

__all__ = ["BACKTEST_SAMPLE", "CoreOutput", "ForecastCore", "backtest_sample", "forecast"]

#: ``backtest="sample"``: series backtested per demand class group (smooth, intermittent);
#: a class with at most this many series is backtested whole.
BACKTEST_SAMPLE = 300

log = logging.getLogger(__name__)


def forecast(
    history: pd.DataFrame,
    settings: ForecastSettings,
    weather: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    progress: Callable[[int, int], None] | None = None,
    stage_progress: StageProgress | None = None,
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
    stage_progress
        Optional ``stage_progress(stage, done, total)`` per stage (``backtest``,
        ``ensembles``, ``calibration``, ``fits``): series done of the stage's total. It must
        not raise.

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
    _check_models(settings)
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

    clock = StageClock(stage_progress)
    core = ForecastCore(
        settings, freq, season, pdays, progress=Ticker(progress, len(keys)), clock=clock
    )
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
        timings=clock.timings,
        series_class=_series_class(out.series_class, keys),
    )


def _check_models(settings: ForecastSettings) -> None:
    """Every model named in ``settings.models`` exists (``auto`` always does)."""
    if settings.models == "auto":
        return
    unknown = [m for m in settings.models if m not in (*available_models(), ENSEMBLE)]
    if unknown:
        raise InputError(
            f"unknown model(s) {', '.join(unknown)}",
            fix=f"use 'auto' or names from: {', '.join(available_models())}",
            table="settings",
        )


def _series_class(series_class: pd.Series, keys: pd.DataFrame) -> pd.DataFrame:
    """``region_id, sku_id, demand_class`` of every bottom series (from ids to names)."""
    return (
        series_class.rename("demand_class")
        .rename_axis("unique_id")
        .reset_index()
        .merge(keys, on="unique_id", how="inner")[["region_id", "sku_id", "demand_class"]]
        .sort_values(["region_id", "sku_id"], kind="stable")
        .reset_index(drop=True)
    )


# --------------------------------------------------------------------------------------------


@dataclass
class CoreOutput:
    """What the core returns for one demand class (``ForecastCore._run_group``) or for all."""

    forecast: pd.DataFrame  # unique_id, ds, model, mean, q05..q95
    backtest: pd.DataFrame  # unique_id, demand_class, model, window, cutoff, metric, ...
    leaderboard: pd.DataFrame
    residuals: pd.DataFrame  # unique_id, cutoff, step, y, mean, scale, demand_class
    cv_chosen: pd.DataFrame  # unique_id, ds, cutoff, y, mean (chosen candidate)
    warnings: list[str]
    #: unique_id -> class group (smooth / intermittent) of every backtested-class series
    series_class: pd.Series | None = None


class ForecastCore:
    """Backtest/selection/calibration/final fit over a long frame ``unique_id, ds, y``."""

    def __init__(
        self,
        settings: ForecastSettings,
        freq: str,
        season: int,
        pdays: float,
        progress: Ticker | None = None,
        clock: StageClock | None = None,
    ):
        self.s = settings
        self.freq = freq
        self.season = season
        self.pdays = pdays
        self.progress = progress or Ticker(None, 0)
        self.fit = StatsFit(settings, freq, self.progress)
        self.clock = clock or StageClock()
        self.global_model = GlobalModel(settings, freq, season, pdays)
        #: unique_id -> sku_id of the bottom series (TopDown); aggregates are not in it
        self.sku_of: pd.Series | None = None

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
        if self.s.global_model:
            names.append(GLOBAL)
        return names

    def run(self, df: pd.DataFrame, exo, report_ids: set | None = None) -> CoreOutput:
        self.report_ids = report_ids
        h, w = self.s.horizon, self.s.windows
        warnings: list[str] = []
        info = classify_demand(df)
        min_len = w * h + self.season + 1
        short = info.index[(info["n_obs"] < min_len) | (info["demand_class"] == "zero")]
        info["group"] = np.where(info["demand_class"] == "intermittent", "intermittent", "smooth")
        info.loc[short, "group"] = "short"
        # the series each class group backtests (all, or a stratified sample)
        self.bt_ids = {}
        for group in ("smooth", "intermittent"):
            gi = info[info["group"] == group]
            full = self.s.backtest == "all" or self.s.reconcile
            self.bt_ids[group] = gi.index if full else backtest_sample(gi, BACKTEST_SAMPLE)
        n_bt = sum(len(v) for v in self.bt_ids.values())
        n_short = int((info["group"] == "short").sum())
        n_warm = len(info) - n_short
        # work units: a backtested series is fitted once per window; every series once at the end
        self.progress.start(n_bt * w + n_warm + n_short)
        self.clock.plan("backtest", n_bt)
        self.clock.plan("ensembles", n_bt if self.s.ensemble else 0)
        self.clock.plan("calibration", n_bt)
        self.clock.plan("fits", len(info))
        groups_of = []
        fcs: list[pd.DataFrame] = []
        bts, resids, cvs, boards = [], [], [], []
        for group in ("smooth", "intermittent"):
            ids = info.index[info["group"] == group]
            if not len(ids):
                continue
            sub = df[df["unique_id"].isin(ids)]
            res = self._run_group(group, sub, info.loc[ids], exo)
            fcs.append(res.forecast)
            bts.append(res.backtest)
            resids.append(res.residuals)
            cvs.append(res.cv_chosen)
            boards.append(res.leaderboard)
            warnings.extend(res.warnings)
            groups_of.append(pd.Series(group, index=ids))
        short_ids = info.index[info["group"] == "short"]
        if len(short_ids):
            with self.clock.stage("fits"):
                fcs.append(self._short(df[df["unique_id"].isin(short_ids)]))
            self.clock.advance("fits", len(short_ids))
        cols_bt = ["unique_id", "demand_class", "model", "window", "cutoff"]
        return CoreOutput(
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
            series_class=pd.concat(groups_of) if groups_of else pd.Series(dtype=object),
        )

    def _short(self, df: pd.DataFrame) -> pd.DataFrame:
        """Series too short to backtest (e.g. a new SKU's total): non-seasonal ETS."""
        from statsforecast.models import AutoETS

        fc = self.fit.final(
            df, [AutoETS(season_length=1, model="ZZN", alias="ShortETS")], count=True
        )
        return _finish(
            fc, "ShortETS", pd.Series("ShortETS", index=fc["unique_id"].unique()), None, None
        )

    def _run_group(self, group: str, sub: pd.DataFrame, info: pd.DataFrame, exo) -> CoreOutput:
        h, w, metric = self.s.horizon, self.s.windows, self.s.metric
        has_exog = exo is not None and len(exo.columns) > 0
        clock = self.clock
        names = self.candidates(group, has_exog)
        # the backtest runs on the class's sample (all series with backtest="all")
        bt_ids = self.bt_ids.get(group, info.index) if hasattr(self, "bt_ids") else info.index
        bsub = sub[sub["unique_id"].isin(bt_ids)]
        binfo = info.loc[bt_ids]
        warns: list[str] = []
        if GLOBAL in names:
            names = self._without_unfit_global(names, group, binfo, warns)
        # TopDown totals are over every series of the SKU in the class, not only the sample's
        td = TopDownCandidate.make(self, sub, names)
        if td is None:
            names = [m for m in names if m != TOP_DOWN]
        plain = [m for m in names if m not in EXOG_MODELS and m not in (TOP_DOWN, GLOBAL)]
        exog_names = [m for m in names if m in EXOG_MODELS]
        n_min = int(binfo["n_obs"].min()) - w * h
        kw = {"season_length": self.season, "freq_days": self.pdays, "horizon": h}
        # the backtest reports its progress as the statsforecast calls finish their chunks
        self.progress.hook = lambda units: clock.partial("backtest", units / max(w, 1))
        with clock.block("backtest", len(bt_ids)):
            cv = self.fit.cross_validation(
                bsub, make_models(tuple(plain), n_min=n_min, **kw), n_min, count=True
            )
            if td is not None:
                cv = td.backtest(cv, n_min, kw)
            if exog_names and self.s.models == "auto":
                exog_names = self._screen_exog(
                    bsub, binfo, cv, plain, exog_names, exo, n_min, warns
                )
                names = [m for m in names if m not in EXOG_MODELS] + exog_names
            if exog_names:
                sub_x = exo.attach(bsub)
                cvx = self.fit.cross_validation(
                    sub_x, make_models(tuple(exog_names), n_min=n_min, **kw), n_min
                )
                cv = cv.merge(cvx.drop(columns="y"), on=["unique_id", "ds", "cutoff"], how="left")
            if GLOBAL in names:
                cvg = self.global_model.cross_validation(bsub, n_min, exo if has_exog else None)
                cv = cv.merge(cvg.drop(columns="y"), on=["unique_id", "ds", "cutoff"], how="left")
            cv = _clip_and_fill(cv, names)
            scale = seasonal_scales(bsub, cv["cutoff"].unique(), self.season, metric)
            err = _errors(cv, names, scale, metric)
            self.progress.hook = None
        # ensemble: backward elimination over the class's best models (by backtest)
        board0 = err.groupby("model")[metric].mean().sort_values(kind="stable")
        # naive baselines are backtested (leaderboard) but not selectable for intermittent
        # series: MAE-type metrics reward their frequent all-zero forecasts, useless for stock.
        baseline_only = {"Naive", "SeasonalNaive"} if group == "intermittent" else set()
        if set(names) <= baseline_only:
            baseline_only = set()
        pool = ensemble_pool(board0, {"Naive", *baseline_only})
        cand = [m for m in names if m not in baseline_only]
        members: list[str] = []
        how = "mean"
        if (
            self.s.ensemble
            and len(pool) >= 2
            and (self.s.models == "auto" or ENSEMBLE in self.s.models)
        ):
            with clock.stage("ensembles"):
                members, how = search_ensemble(cv, pool, scale, metric)
                # one label for one set of members, whatever the pool's order this run
                members = [m for m in names if m in members]
                cv = add_ensemble(cv, members, how)
                err = pd.concat([err, _errors(cv, [ENSEMBLE], scale, metric)], ignore_index=True)
                cand.append(ENSEMBLE)
            clock.advance("ensembles", len(bt_ids))
        # selection (on the backtested series; the others take the class's choice)
        per = err.groupby(["unique_id", "model"], sort=False)[metric].mean().unstack("model")
        per = per.reindex(columns=cand)
        chosen_bt = select_candidates(per, cand, self.s.selection)
        class_best = per.mean().idxmin()
        chosen = pd.Series(class_best, index=info.index, dtype=object)
        chosen.loc[chosen_bt.index] = chosen_bt.to_numpy()
        err["chosen"] = err["model"].to_numpy() == chosen.reindex(err["unique_id"]).to_numpy()
        err["demand_class"] = info["demand_class"].reindex(err["unique_id"]).to_numpy()
        # calibration on the chosen candidates' backtest paths
        with clock.stage("calibration"):
            ch = _chosen_paths(cv, chosen_bt, scale)
            ch["demand_class"] = group
            offsets = _calibrate(ch) if self.s.calibrate else dict.fromkeys(LEVELS, 0.0)
            rep = getattr(self, "report_ids", None)
            in_rep = (lambda f: f) if rep is None else (lambda f: f[f["unique_id"].isin(rep)])
            cov = _lowo_coverage(ch, self.s.calibrate, in_rep)
        clock.advance("calibration", len(bt_ids))
        # leaderboard
        board = _board(
            in_rep(err),
            metric,
            chosen_bt[chosen_bt.index.isin(in_rep(err)["unique_id"])],
            cov,
            group,
        )
        # final fit: each group of series fits only the models its chosen candidate needs
        self.progress.hook = lambda units: clock.partial("fits", units)
        with clock.block("fits", len(info)):
            out = self._final(
                sub, info, exo, chosen, (members, how), cand, plain, exog_names, td, kw, offsets
            )
        self.progress.hook = None
        resid = ch[["unique_id", "cutoff", "step", "y", "mean", "scale", "demand_class"]]
        cvc = ch[["unique_id", "ds", "cutoff", "y", "mean"]]
        return CoreOutput(
            forecast=out,
            backtest=err,
            leaderboard=board,
            residuals=resid,
            cv_chosen=cvc,
            warnings=warns,
        )

    def _without_unfit_global(
        self, names: list[str], group: str, binfo: pd.DataFrame, warns: list[str]
    ) -> list[str]:
        """``names`` without ``GlobalLGBM`` where it cannot be trained: with ``auto``, when the
        class backtests fewer than ``GLOBAL_MIN_SERIES`` series (``binfo``); and when the
        shortest backtested series cannot train it in the first of its ``windows +
        GLOBAL_CONFORMAL`` backtest windows (its conformal intervals come from the extra
        windows) — with ``auto`` a warning says so, a named ``GlobalLGBM`` is an error."""
        auto = self.s.models == "auto"
        if auto and len(binfo) < GLOBAL_MIN_SERIES:
            return [m for m in names if m != GLOBAL]
        need = (self.s.windows + GLOBAL_CONFORMAL) * self.s.horizon + 1
        n_obs = int(binfo["n_obs"].min())
        if n_obs >= need:
            return names
        why = (
            f"GlobalLGBM needs {need} periods per series ((windows + {GLOBAL_CONFORMAL}) × "
            f"horizon + 1) and the shortest {group} series has {n_obs}"
        )
        if not auto:
            raise InputError(why, fix="lower --windows or --horizon, or leave GlobalLGBM out")
        warns.append(f"{why}: left out of the {group} class's candidates")
        return [m for m in names if m != GLOBAL]

    def _final(
        self, sub, info, exo, chosen, ens, cand, plain, exog_names, td, kw, offsets
    ) -> pd.DataFrame:
        """Final fits on the whole history of the models each series' chosen candidate needs
        (``ens`` = ensemble members and combination), calibrated into contract quantiles."""
        metric = self.s.metric
        members, how = ens
        final_scale = seasonal_scales(sub, [None], self.season, metric).set_index("unique_id")[
            "scale"
        ]
        groups: dict[tuple[str, ...], list[str]] = {}
        for uid, c in chosen.items():
            nd = tuple(sorted(set(members) if c == ENSEMBLE else {c}))
            groups.setdefault(nd, []).append(uid)
        td_fc = None
        if td is not None and any(TOP_DOWN in nd for nd in groups):
            td_fc = td.final_totals(kw)
        glob_fc = None
        if any(GLOBAL in nd for nd in groups):
            # one model trained on every series of the class, forecasts kept where chosen
            has_exog = exo is not None and len(exo.columns) > 0
            need_g = [u for nd, uids in groups.items() if GLOBAL in nd for u in uids]
            glob_fc = self.global_model.forecast(
                sub, int(info["n_obs"].min()), exo if has_exog else None, ids=need_g
            )
        outs = []
        for nd, uids in sorted(groups.items()):
            part = sub[sub["unique_id"].isin(uids)]
            n_all = int(info.loc[uids, "n_obs"].min())
            jobs = 1 if len(uids) < 20 and self.s.backend == "local" else None
            need = set(nd) | ({TOP_DOWN_BASE} if TOP_DOWN in nd else set())
            pl = [m for m in plain if m in need]
            ex = [m for m in exog_names if m in nd]
            parts = []
            if pl:
                parts.append(
                    self.fit.final(
                        part, make_models(tuple(pl), n_min=n_all, **kw), jobs=jobs, count=True
                    )
                )
            if ex:
                parts.append(
                    self.fit.final(
                        exo.attach(part),
                        make_models(tuple(ex), n_min=n_all, **kw),
                        X_df=exo.future_for(uids),
                        jobs=jobs,
                        count=not pl,
                    )
                )
            if GLOBAL in nd:
                parts.append(glob_fc[glob_fc["unique_id"].isin(set(uids))])
                if not pl and not ex:
                    self.progress.add(len(uids))
            fc = parts[0]
            for p in parts[1:]:
                fc = fc.merge(p, on=["unique_id", "ds"], how="left")
            if TOP_DOWN in nd:
                fc = td.apply(fc, td_fc, None)
            fc = _clip_and_fill(fc, list(need))
            chg = chosen.reindex(uids)
            if ENSEMBLE in set(chg):
                fc = add_ensemble(fc, members, how)
            outs.append(_finish(fc, cand, chg, offsets, final_scale))
        out = pd.concat(outs, ignore_index=True)
        out = out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
        if ENSEMBLE in set(chosen):
            label = f"{ENSEMBLE}({'median:' if how == 'median' else ''}{'+'.join(members)})"
            out.loc[out["model"] == ENSEMBLE, "model"] = label
        return out

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
        cvx = self.fit.cross_validation(
            exo.attach(part), make_models(tuple(exog_names), n_min=n_min, **kw), n_min
        )
        both = cv[cv["unique_id"].isin(ids)].merge(
            cvx.drop(columns="y"), on=["unique_id", "ds", "cutoff"], how="left"
        )
        both = _clip_and_fill(both, plain + exog_names)
        scale = seasonal_scales(part, both["cutoff"].unique(), self.season, metric)
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


#: Sales-volume bands of :func:`backtest_sample` per demand class.
SAMPLE_BANDS = 10


def backtest_sample(info: pd.DataFrame, size: int) -> pd.Index:
    """A stratified sample of about ``size`` series of one class group (all when it has ≤
    ``size``; each demand class's share is rounded, so the total can differ by one or two).

    Strata are the demand classes in the group (e.g. smooth and constant), each getting its
    share of ``size`` (at least one series). Within a class the series are cut into
    ``SAMPLE_BANDS`` (or, for fewer picks, as many as picks) equal-count bands of sales
    volume (``total``), each band gets its share, and within a band the series are ranked by
    variability (``cv2``) and picked at evenly
    spaced ranks (the middle of equal slices). So the sample spans small to large and calm to
    volatile series, the two things a class's model choice and interval calibration depend
    on. Deterministic (no random draw); returned in ``unique_id`` order.
    """
    if len(info) <= size:
        return info.index
    picks: list = []
    classes = info["demand_class"].value_counts().sort_index()
    for cls, n_c in classes.items():
        part = info[info["demand_class"] == cls].reset_index()
        k = int(min(n_c, max(1, round(size * n_c / len(info)))))
        part = part.sort_values(["total", "unique_id"], kind="stable")
        n_bands = max(1, min(SAMPLE_BANDS, k))
        part["band"] = np.arange(n_c) * n_bands // n_c
        # each band's share of k, largest remainders first, so the class gets exactly k
        share = part["band"].value_counts().sort_index() * k / n_c
        take = np.floor(share).astype(int)
        rest = (share - take).sort_values(ascending=False, kind="stable")
        take[rest.index[: k - int(take.sum())]] += 1
        for band, g in part.groupby("band", sort=True):
            order = g.sort_values(["cv2", "unique_id"], kind="stable")["unique_id"].to_numpy()
            m = int(take[band])
            idx = ((np.arange(m) + 0.5) * len(order) / max(m, 1)).astype(int)
            picks.extend(order[np.unique(idx)])
    return pd.Index(sorted(picks), name=info.index.name)


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


#: the name forecasting/scenarios.py imports
_scales = seasonal_scales

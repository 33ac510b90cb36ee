"""The global model candidate ``GlobalLGBM``: one LightGBM model across all series (mlforecast).

Features: lags ``1 … min(season, 13)`` and the seasonal lag, rolling means of the last 4 and
13 periods, calendar features of the period (month, week of year, day of week for daily data),
and — when given — the holiday, weather and promotion regressors of :mod:`forecasting.exogenous`
(dynamic features, their future values come from the same tables). The target is standardised
per series (mlforecast ``LocalStandardScaler``), so one model serves series of any size.
Intervals are conformal: the final forecast uses mlforecast's ``PredictionIntervals``
(``GLOBAL_CONFORMAL`` windows of the horizon); the backtest runs ``GLOBAL_CONFORMAL`` extra
windows and gives each scored window the quantiles of the errors of the windows before it, per
series and horizon step (the same method, one model per window). The model is
deterministic: fixed seed, ``num_threads`` fixed at ``GLOBAL_THREADS`` and LightGBM's
``deterministic`` mode.

On ``backend="dask"`` the model is trained with mlforecast's Dask path
(``DistributedMLForecast`` + ``DaskLGBMForecast``, i.e. ``lightgbm.dask``) across the workers
of the current client; that path has no conformal intervals, so its intervals are the
split-conformal quantiles of its own backtest errors per series and horizon step (the method
mlforecast's ``PredictionIntervals`` uses).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .settings import LEVELS, ForecastSettings

__all__ = ["GLOBAL", "GLOBAL_CONFORMAL", "GLOBAL_MIN_SERIES", "GLOBAL_THREADS", "GlobalModel"]

#: Candidate name of the global model.
GLOBAL = "GlobalLGBM"
#: Conformal windows (of the horizon) for the intervals.
GLOBAL_CONFORMAL = 2
#: LightGBM threads: fixed (not one per core), so the model is the same on any machine; two,
#: the cores of the machine the figures are measured on. On a heavily oversubscribed machine
#: OpenMP threads wait on each other (measured 30× slower with 2 threads than with 1 at load
#: 15 on 2 cores): set ``shipahead.forecasting.global_model.GLOBAL_THREADS = 1`` there.
GLOBAL_THREADS = 2
#: ``auto`` backtests the global model in a class only with at least this many series.
GLOBAL_MIN_SERIES = 8
#: LightGBM parameters (small trees, few rounds: a robust default for weekly/daily demand).
LGBM_PARAMS: dict = {
    "n_estimators": 300,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 20,
    "subsample": 1.0,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "verbosity": -1,
    "deterministic": True,
    # column-wise histograms: with ~20 features ~25 % faster than row-wise on 2 threads, and
    # the same model (deterministic mode fixes the layout; measured identical forecasts)
    "force_col_wise": True,
}


def week_of_year(dates: pd.DatetimeIndex) -> np.ndarray:
    """ISO week number (1–53) of each date (a calendar feature)."""
    return pd.DatetimeIndex(dates).isocalendar().week.to_numpy(dtype=np.int32)


class GlobalModel:
    """``GlobalLGBM`` backtests and forecasts for a long frame ``unique_id, ds, y``.

    Parameters
    ----------
    settings
        The run's settings (horizon in periods, windows, seed, backend).
    freq
        Pandas frequency of the history.
    season
        Season length (periods).
    pdays
        Period length (days).
    """

    def __init__(self, settings: ForecastSettings, freq: str, season: int, pdays: float):
        self.s = settings
        self.freq = freq
        self.season = season
        self.pdays = pdays

    # -- configuration --------------------------------------------------------------------
    def lags(self, n_min: int) -> list[int]:
        """Lags (periods): 1 … min(season, 13), the season (and twice a short season), each
        only when the shortest training series is longer than it."""
        s = self.season
        lags = set(range(1, min(s, 13) + 1)) | {s}
        if s <= 13:
            lags.add(2 * s)
        return sorted(lag for lag in lags if lag < max(n_min - 1, 2)) or [1]

    def _date_features(self) -> list:
        if self.pdays <= 1:
            return ["dayofweek", "month", week_of_year]
        if self.pdays <= 7:
            return ["month", week_of_year]
        return ["month"]

    def _features(self, n_min: int) -> dict:
        """The features and target transform, the same for the local and the Dask model:
        lags, rolling means of the last 4 and 13 periods, calendar, per-series scaling."""
        from mlforecast.lag_transforms import RollingMean
        from mlforecast.target_transforms import LocalStandardScaler

        return {
            "freq": self.freq,
            "lags": self.lags(n_min),
            "lag_transforms": {1: [RollingMean(window_size=4), RollingMean(window_size=13)]},
            "date_features": self._date_features(),
            "target_transforms": [LocalStandardScaler()],
            "num_threads": 1,
        }

    def _lgbm(self):
        from lightgbm import LGBMRegressor

        return LGBMRegressor(**LGBM_PARAMS, random_state=int(self.s.seed), n_jobs=GLOBAL_THREADS)

    def _mlf(self, n_min: int):
        from mlforecast import MLForecast

        return MLForecast(models={GLOBAL: self._lgbm()}, **self._features(n_min))

    def _intervals(self):
        from mlforecast.utils import PredictionIntervals

        return PredictionIntervals(n_windows=GLOBAL_CONFORMAL, h=self.s.horizon)

    # -- calls ----------------------------------------------------------------------------
    def cross_validation(self, df: pd.DataFrame, n_min: int, exo=None) -> pd.DataFrame:
        """The rolling-origin backtest (``windows`` windows, step = horizon) with 50/80/90 %
        conformal intervals: ``unique_id, ds, cutoff, y, GlobalLGBM, GlobalLGBM-lo-80 …``."""
        data = exo.attach(df) if exo is not None else df
        if self.s.backend == "dask":
            return self._dask_cv(data, n_min)
        h, w = self.s.horizon, self.s.windows
        res = self._mlf(n_min).cross_validation(
            df=data,
            n_windows=w + GLOBAL_CONFORMAL,
            h=h,
            step_size=h,
            static_features=[],
            dropna=False,
        )
        return _conformal_windows(_tidy(res))

    def forecast(self, df: pd.DataFrame, n_min: int, exo=None, ids=None) -> pd.DataFrame:
        """Train on every series of ``df`` and forecast the horizon of ``ids`` (all when
        ``None``): ``unique_id, ds, GlobalLGBM, GlobalLGBM-lo-80 …``."""
        data = exo.attach(df) if exo is not None else df
        X_df = exo.future_for(df["unique_id"].unique()) if exo is not None else None
        if self.s.backend == "dask":
            out = self._dask_forecast(data, n_min, X_df)
        else:
            mlf = self._mlf(n_min)
            mlf.fit(data, static_features=[], dropna=False, prediction_intervals=self._intervals())
            out = _tidy(mlf.predict(h=self.s.horizon, X_df=X_df, level=list(LEVELS)))
        if ids is not None:
            out = out[out["unique_id"].isin(set(ids))].reset_index(drop=True)
        return out

    # -- Dask -----------------------------------------------------------------------------
    def _dask_mlf(self, n_min: int):
        from mlforecast.distributed import DistributedMLForecast
        from mlforecast.distributed.models.dask.lgb import DaskLGBMForecast

        model = DaskLGBMForecast(**LGBM_PARAMS, random_state=int(self.s.seed))
        return DistributedMLForecast(models={GLOBAL: model}, **self._features(n_min))

    def _partitions(self, data: pd.DataFrame):
        import dask.dataframe as dd

        from shipahead import backends

        client = backends.current_dask_client()
        workers = 2 if client is None else backends.dask_worker_count(client)
        n = int(max(1, min(data["unique_id"].nunique(), workers)))
        # whole series per partition (mlforecast's Dask path needs that)
        codes, _ = pd.factorize(data["unique_id"], sort=True)
        part = (codes * n) // max(codes.max() + 1, 1)
        pieces = [data[part == i].reset_index(drop=True) for i in range(n)]
        return dd.from_delayed([_delayed(p) for p in pieces], meta=data.iloc[:0])

    def _dask_cv(self, data: pd.DataFrame, n_min: int) -> pd.DataFrame:
        h, w = self.s.horizon, self.s.windows
        # extra windows before the scored ones give the conformal errors of each scored window
        extra = GLOBAL_CONFORMAL
        res = self._dask_mlf(n_min).cross_validation(
            self._partitions(data),
            n_windows=w + extra,
            h=h,
            step_size=h,
            static_features=[],
            dropna=False,
        )
        return _conformal_windows(_tidy(res.compute() if hasattr(res, "compute") else res))

    def _dask_forecast(self, data: pd.DataFrame, n_min: int, X_df) -> pd.DataFrame:
        h = self.s.horizon
        mlf = self._dask_mlf(n_min)
        cv = mlf.cross_validation(
            self._partitions(data),
            n_windows=GLOBAL_CONFORMAL,
            h=h,
            step_size=h,
            static_features=[],
            dropna=False,
        )
        cv = _tidy(cv.compute() if hasattr(cv, "compute") else cv)
        mlf = self._dask_mlf(n_min)
        mlf.fit(self._partitions(data), static_features=[], dropna=False)
        pred = mlf.predict(h=h, X_df=X_df)
        pred = _tidy(pred.compute() if hasattr(pred, "compute") else pred)
        return _add_conformal(pred, cv)


def _conformal_windows(res: pd.DataFrame) -> pd.DataFrame:
    """The scored windows of a backtest run with ``GLOBAL_CONFORMAL`` extra windows before
    them, each given the conformal bounds of the errors of the windows just before it (one
    model per window instead of one per window and conformal window)."""
    cuts = sorted(res["cutoff"].unique())
    out = []
    for i, cut in enumerate(cuts[GLOBAL_CONFORMAL:], start=GLOBAL_CONFORMAL):
        past = res[res["cutoff"].isin(cuts[i - GLOBAL_CONFORMAL : i])]
        out.append(_add_conformal(res[res["cutoff"] == cut], past))
    return pd.concat(out, ignore_index=True).sort_values(
        ["unique_id", "cutoff", "ds"], kind="stable"
    )


def _delayed(df: pd.DataFrame):
    import dask

    return dask.delayed(lambda x: x)(df)


def _add_conformal(pred: pd.DataFrame, past: pd.DataFrame) -> pd.DataFrame:
    """Split-conformal bounds per horizon step from ``past`` backtest errors (per series):
    ``mean ± quantile_level(|y − mean|)`` over the past windows' errors at that step."""
    pred = pred.copy()
    past = past.copy()
    past["step"] = past.groupby(["unique_id", "cutoff"]).cumcount()
    past["err"] = (past["y"] - past[GLOBAL]).abs()
    pred["step"] = pred.groupby(["unique_id"] + (["cutoff"] if "cutoff" in pred else [])).cumcount()
    errs = past.pivot_table(index=["unique_id", "step"], columns="cutoff", values="err")
    e = errs.reindex(pd.MultiIndex.from_frame(pred[["unique_id", "step"]])).to_numpy(dtype=float)
    mean = pred[GLOBAL].to_numpy(dtype=float)
    for lv in LEVELS:
        q = np.nanquantile(e, lv / 100, axis=1, method="higher") if e.size else 0.0
        q = np.nan_to_num(q, nan=0.0)
        pred[f"{GLOBAL}-lo-{lv}"] = mean - q
        pred[f"{GLOBAL}-hi-{lv}"] = mean + q
    return pred.drop(columns="step")


def _tidy(res: pd.DataFrame) -> pd.DataFrame:
    out = res.reset_index(drop=True)
    out["unique_id"] = out["unique_id"].astype(str)
    out["ds"] = pd.to_datetime(out["ds"])
    keep = ["unique_id", "ds"] + [c for c in ("cutoff", "y") if c in out]
    keep += [c for c in out.columns if c == GLOBAL or c.startswith(f"{GLOBAL}-")]
    out = out[keep]
    if "cutoff" in out:
        out["cutoff"] = pd.to_datetime(out["cutoff"])
    sort = ["unique_id", "cutoff", "ds"] if "cutoff" in out else ["unique_id", "ds"]
    return out.sort_values(sort, kind="stable").reset_index(drop=True)

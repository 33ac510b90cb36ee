"""Candidate models (statsforecast) and demand classification (ADI / CV²)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = [
    "INTERMITTENT_MODELS",
    "SMOOTH_MODELS",
    "TOP_DOWN",
    "TOP_DOWN_BASE",
    "Log1p",
    "available_models",
    "classify_demand",
    "make_models",
]

#: Candidates for smooth/erratic series (``auto``). AutoARIMA is left out of ``auto`` when the
#: season is longer than 12 periods (weekly data): a seasonal ARIMA search at season 52 costs
#: ~1 s per series per fit on this machine — name it explicitly to include it.
SMOOTH_MODELS: tuple[str, ...] = (
    "Naive",
    "SeasonalNaive",
    "AutoETS",
    "AutoTheta",
    "MSTL",
    "MSTL_SES",
    "MSTL_SES_log",
    "AutoARIMA",
    "TopDown",
)
#: ``TopDown``: the series' share (over the last year) × the forecast of its SKU total (the SKU
#: summed over the regions in the same demand class) by ``TOP_DOWN_BASE``. Pools the seasonal
#: shape over regions, which a series with two years of history estimates poorly on its own.
TOP_DOWN = "TopDown"
TOP_DOWN_BASE = "MSTL_SES_log"
#: Candidates for intermittent/lumpy series (ADI ≥ 1.32), plus the two naive baselines.
INTERMITTENT_MODELS: tuple[str, ...] = (
    "Naive",
    "SeasonalNaive",
    "CrostonOptimized",
    "ADIDA",
    "IMAPA",
    "TSB",
)
#: Regression models that use the exogenous columns (weather, holidays, events).
EXOG_MODELS: tuple[str, ...] = ("AutoARIMA_X", "MSTL_X")
#: Regression models tried by ``auto`` (MSTL seasonality + ARIMA(1,1,1) trend with regressors);
#: AutoARIMA_X (a full order search, ~0.3 s per series and fit) only when named.
AUTO_EXOG_MODELS: tuple[str, ...] = ("MSTL_X",)
#: ``auto`` screens the regression models on this many of the largest series first.
EXOG_SCREEN_SERIES = 12
#: Models without their own prediction intervals (given conformal intervals).
NO_INTERVALS: frozenset[str] = frozenset({"CrostonOptimized", "ADIDA", "IMAPA", "TSB"})

ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49


def available_models() -> tuple[str, ...]:
    """Names accepted in ``ForecastSettings.models``."""
    from .global_model import GLOBAL

    return tuple(dict.fromkeys((*SMOOTH_MODELS, *INTERMITTENT_MODELS, *EXOG_MODELS, GLOBAL)))


class Log1p:
    """A statsforecast model fitted on ``log1p(y)``; forecasts, bounds and fitted values are
    mapped back with ``expm1``.

    Back-transformed, the model's mean is the *median* of the demand distribution (the point
    forecast that minimises absolute error, hence MASE); interval bounds map exactly (a
    monotone transform). Suits multiplicative demand (seasonal swings proportional to level).

    Parameters
    ----------
    model
        A statsforecast model (e.g. ``MSTL``).
    alias
        Column name of its forecasts.
    """

    uses_exog = False
    #: back-transformed values are capped here (log scale) so a wild fit cannot overflow
    _CAP = 50.0

    def __init__(self, model, alias: str):
        self.model = model
        self.alias = alias
        self.prediction_intervals = None

    def __repr__(self) -> str:
        return self.alias

    def new(self) -> Log1p:
        b = type(self).__new__(type(self))
        b.__dict__.update(self.__dict__)
        return b

    @classmethod
    def _back(cls, res: dict) -> dict:
        return {
            k: np.expm1(np.minimum(np.asarray(v, dtype=float), cls._CAP)) for k, v in res.items()
        }

    @staticmethod
    def _log(y: np.ndarray) -> np.ndarray:
        return np.log1p(np.maximum(np.asarray(y, dtype=float), 0.0))

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Log1p:
        self.model_ = self.model.new().fit(y=self._log(y), X=X)
        return self

    def predict(self, h: int, X: np.ndarray | None = None, level: list[int] | None = None):
        kw = {"level": level} if level else {}
        return self._back(self.model_.predict(h=h, X=X, **kw))

    def predict_in_sample(self, level: list[int] | None = None):
        kw = {"level": level} if level else {}
        return self._back(self.model_.predict_in_sample(**kw))

    # `level` stays in the signatures: statsforecast looks for it there to ask for intervals
    def forecast(self, y: np.ndarray, h: int, level: list[int] | None = None, **kwargs):
        """statsforecast's ``forecast`` (same keywords) of a fresh copy, on ``log1p(y)``."""
        kw = {"level": level} if level else {}
        return self._back(self.model.new().forecast(y=self._log(y), h=h, **kwargs, **kw))

    def forward(self, y: np.ndarray, h: int, level: list[int] | None = None, **kwargs):
        """statsforecast's ``forward`` (same keywords) of the fitted model, on ``log1p(y)``."""
        kw = {"level": level} if level else {}
        return self._back(self.model_.forward(y=self._log(y), h=h, **kwargs, **kw))


def _seasons(season_length: int, freq_days: float, n_min: int) -> list[int]:
    """Seasonal periods for MSTL: daily data gets weekly (7) and, with ≥ 2 years, yearly (365)."""
    if freq_days <= 1 and season_length == 7:
        return [7, 365] if n_min >= 2 * 365 + 1 else [7]
    return [season_length]


def make_models(
    names: tuple[str, ...],
    *,
    season_length: int,
    freq_days: float,
    n_min: int,
    horizon: int,
) -> list:
    """Build statsforecast model objects for ``names`` (aliases = the names).

    Parameters
    ----------
    names
        Model names (see :func:`available_models`).
    season_length
        Main season (periods).
    freq_days
        Period length in days (decides MSTL's seasons).
    n_min
        Shortest training length (periods) the models will see.
    horizon
        Forecast horizon (periods); used for the conformal intervals of intermittent models.
    """
    from statsforecast.models import (
        ADIDA,
        ARIMA,
        IMAPA,
        MSTL,
        TSB,
        AutoARIMA,
        AutoETS,
        AutoTheta,
        CrostonOptimized,
        Naive,
        SeasonalNaive,
    )
    from statsforecast.utils import ConformalIntervals

    if TOP_DOWN in names:  # built by the pipeline from TOP_DOWN_BASE forecasts of SKU totals
        names = tuple(n for n in names if n != TOP_DOWN)

    s = season_length
    # conformal intervals need n_windows * h + 1 points; use as many windows as fit (2..5).
    cw = int(max(2, min(5, (n_min - 1) // max(horizon, 1))))
    conformal = ConformalIntervals(h=horizon, n_windows=cw) if n_min > 2 * horizon else None
    out = []
    for name in names:
        if name == "Naive":
            m = Naive()
        elif name == "SeasonalNaive":
            m = SeasonalNaive(season_length=s)
        elif name == "AutoETS":
            # ETS supports seasons up to 24 periods; longer seasons fit a non-seasonal ETS.
            m = AutoETS(season_length=s if s <= 24 else 1)
        elif name == "AutoTheta":
            m = AutoTheta(season_length=s)
        elif name == "MSTL":
            m = MSTL(season_length=_seasons(s, freq_days, n_min))
        elif name == "MSTL_SES":
            # MSTL whose seasonally adjusted series is forecast by simple exponential smoothing
            # (ETS(A,N,N)) instead of MSTL's default ETS(Z,Z,N) search (which extrapolates
            # trends over the horizon).
            m = MSTL(
                season_length=_seasons(s, freq_days, n_min),
                trend_forecaster=AutoETS(model="ANN"),
                alias="MSTL_SES",
            )
        elif name == "MSTL_SES_log":
            m = Log1p(
                MSTL(
                    season_length=_seasons(s, freq_days, n_min),
                    trend_forecaster=AutoETS(model="ANN"),
                ),
                alias="MSTL_SES_log",
            )
        elif name == "AutoARIMA":
            m = AutoARIMA(season_length=s)
        elif name == "AutoARIMA_X":
            m = AutoARIMA(season_length=1, alias="AutoARIMA_X")
        elif name == "MSTL_X":
            m = MSTL(
                season_length=_seasons(s, freq_days, n_min),
                trend_forecaster=ARIMA(order=(1, 1, 1)),
                alias="MSTL_X",
            )
        elif name == "CrostonOptimized":
            m = CrostonOptimized(prediction_intervals=conformal)
        elif name == "ADIDA":
            m = ADIDA(prediction_intervals=conformal)
        elif name == "IMAPA":
            m = IMAPA(prediction_intervals=conformal)
        elif name == "TSB":
            m = TSB(alpha_d=0.1, alpha_p=0.1, prediction_intervals=conformal)
        else:
            raise InputError(
                f"unknown model {name!r}",
                fix=f"use 'auto' or names from: {', '.join(available_models())}",
                table="settings",
            )
        out.append(m)
    return out


def classify_demand(df: pd.DataFrame) -> pd.DataFrame:
    """Classify each series by Syntetos–Boylan ADI / CV².

    Parameters
    ----------
    df
        ``unique_id, ds, y`` sorted by ``unique_id, ds``.

    Returns
    -------
    DataFrame
        Index ``unique_id``; columns ``n_obs`` (periods), ``adi`` (mean periods between
        non-zero demands), ``cv2`` (squared coefficient of variation of non-zero sizes),
        ``total`` (units) and ``demand_class``: ``zero`` (no demand), ``constant`` (one
        value), ``intermittent`` (ADI ≥ 1.32, incl. lumpy) or ``smooth`` (incl. erratic).
    """
    cols = ["unique_id", "n_obs", "adi", "cv2", "total", "demand_class"]
    if df.empty:
        return pd.DataFrame(columns=cols).set_index("unique_id")
    y = df["y"].to_numpy(dtype=float)
    ids = df["unique_id"].to_numpy()
    starts = np.r_[0, np.flatnonzero(ids[1:] != ids[:-1]) + 1]
    ends = np.r_[starts[1:], len(ids)]
    rows = []
    for a, b in zip(starts, ends, strict=True):
        v = y[a:b]
        nz = v[v > 0]
        n = b - a
        adi = n / len(nz) if len(nz) else np.inf
        cv2 = float(np.var(nz) / np.mean(nz) ** 2) if len(nz) > 1 else 0.0
        if len(nz) == 0:
            cls = "zero"
        elif np.all(v == v[0]):
            cls = "constant"
        elif adi >= ADI_CUTOFF:
            cls = "intermittent"
        else:
            cls = "smooth"
        rows.append((ids[a], n, adi, cv2, float(v.sum()), cls))
    out = pd.DataFrame(rows, columns=cols)
    return out.set_index("unique_id")

"""Demand forecasting: backtested, probabilistic per region × SKU forecasts on statsforecast.

``forecast(history, ForecastSettings(horizon=8))`` validates the history (``region_id, sku_id,
ds, y``), backtests candidate models (rolling origin), picks per series the model or ensemble
with the lowest scaled error, calibrates its intervals and returns the forecast contract
(``region_id, sku_id, ds, model, mean, q05 … q95``, units) with backtest errors, a leaderboard
and warnings. ``window_total_scenarios`` / ``scenarios_from_forecast`` turn forecasts into
weighted scenarios of demand totals over a coverage window (for placement).
"""

from .candidates import ENSEMBLE as ENSEMBLE
from .candidates import TopDownCandidate as TopDownCandidate
from .candidates import add_ensemble as add_ensemble
from .candidates import search_ensemble as search_ensemble
from .candidates import select_candidates as select_candidates
from .errors import InfeasibleError as InfeasibleError
from .errors import InputError as InputError
from .errors import SolverError as SolverError
from .models import available_models as available_models
from .models import classify_demand as classify_demand
from .overrides import apply_overrides as apply_overrides
from .overrides import check_overrides as check_overrides
from .pipeline import BACKTEST_SAMPLE as BACKTEST_SAMPLE
from .pipeline import ForecastCore as ForecastCore
from .pipeline import forecast as forecast
from .plots import fan_chart as fan_chart
from .plots import fan_charts as fan_charts
from .scenarios import scenario_grid as scenario_grid
from .scenarios import scenarios_from_forecast as scenarios_from_forecast
from .scenarios import window_quantiles_from_forecast as window_quantiles_from_forecast
from .scenarios import window_total_quantiles as window_total_quantiles
from .scenarios import window_total_scenarios as window_total_scenarios
from .scoring import seasonal_scales as seasonal_scales
from .settings import QUANTILE_COLUMNS as QUANTILE_COLUMNS
from .settings import ForecastResult as ForecastResult
from .settings import ForecastSettings as ForecastSettings
from .validate import validate_history as validate_history

__all__ = [
    "BACKTEST_SAMPLE",
    "ENSEMBLE",
    "QUANTILE_COLUMNS",
    "ForecastCore",
    "ForecastResult",
    "ForecastSettings",
    "InfeasibleError",
    "InputError",
    "SolverError",
    "TopDownCandidate",
    "add_ensemble",
    "apply_overrides",
    "available_models",
    "check_overrides",
    "classify_demand",
    "fan_chart",
    "fan_charts",
    "forecast",
    "scenario_grid",
    "scenarios_from_forecast",
    "search_ensemble",
    "seasonal_scales",
    "select_candidates",
    "validate_history",
    "window_quantiles_from_forecast",
    "window_total_quantiles",
    "window_total_scenarios",
]

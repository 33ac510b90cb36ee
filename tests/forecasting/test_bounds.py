"""Size guards of the forecasting settings and mixed frequencies in a history."""

from __future__ import annotations

import pandas as pd
import pytest
from shipahead.forecasting import ForecastSettings
from shipahead.forecasting.errors import InputError
from shipahead.forecasting.validate import validate_history


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"horizon": 10**6}, "horizon 1000000 is above the limit of 1000"),
        ({"horizon": 10**9}, "horizon 1000000000 is above the limit"),
        ({"horizon": 8, "windows": 500}, "windows 500 is above the limit of 52"),
        ({"horizon": 2000, "max_horizon": 1000}, "above the limit of 1000"),
    ],
)
def test_settings_bound_size_like_parameters(kwargs: dict, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        ForecastSettings(**kwargs)


def test_a_raised_limit_is_honoured() -> None:
    assert ForecastSettings(horizon=2000, max_horizon=5000).horizon == 2000


def _series(region: str, start: str, periods: int, freq: str) -> pd.DataFrame:
    ds = pd.date_range(start, periods=periods, freq=freq)
    return pd.DataFrame({"region_id": region, "sku_id": "A", "ds": ds, "y": 1.0})


def _mixed() -> pd.DataFrame:
    return pd.concat(
        [
            _series("D1", "2022-01-03", 60, "D"),
            _series("W1", "2022-01-03", 20, "W-MON"),
            _series("W2", "2022-01-03", 20, "W-MON"),
        ],
        ignore_index=True,
    )


def test_mixed_frequencies_are_named_not_counted_as_gaps() -> None:
    with pytest.raises(InputError, match="mixes frequencies") as exc:
        validate_history(_mixed())
    msg = exc.value.message
    assert "2 series step by 7 days" in msg and "1 by 1 days" in msg
    assert "missing periods" not in msg


def test_mixed_frequencies_with_fill_gaps_are_a_warning() -> None:
    _, freq, warnings = validate_history(_mixed(), fill_gaps="zero")
    assert freq == "D"
    assert any("mixes frequencies" in w for w in warnings)


def test_sparse_daily_series_are_not_mixed_frequencies() -> None:
    dense = _series("D1", "2022-01-03", 60, "D")
    sparse = _series("D2", "2022-01-03", 60, "D").iloc[[0, 3, 4, 9, 17, 30, 59]]
    _, _, warnings = validate_history(pd.concat([dense, sparse]), fill_gaps="zero")
    assert not any("mixes" in w for w in warnings)


def test_one_frequency_with_a_real_gap_is_still_a_gap() -> None:
    hist = _series("W1", "2022-01-03", 20, "W-MON").drop(index=[5]).reset_index(drop=True)
    with pytest.raises(InputError, match="missing periods"):
        validate_history(hist)

"""Placement inputs and settings reject non-finite and implausibly large numbers."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from shipahead.placement import PlacementSettings
from shipahead.placement.errors import InputError
from shipahead.placement.inputs import MAX_MAGNITUDE, _num


@pytest.mark.parametrize("value", [math.inf, -math.inf, 1e308, MAX_MAGNITUDE * 10])
def test_numbers_above_the_magnitude_bound_are_input_errors(value: float) -> None:
    df = pd.DataFrame({"stockout_cost_per_unit": [1.0, value]})
    with pytest.raises(InputError, match="not finite or above") as exc:
        _num(df, "skus", "stockout_cost_per_unit", min_value=None)
    assert exc.value.row == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window_days": math.inf},
        {"window_days": 14, "promise_days": math.inf},
        {"window_days": 14, "time_limit_s": math.nan},
    ],
)
def test_settings_must_be_finite(kwargs: dict) -> None:
    with pytest.raises(InputError, match="finite"):
        PlacementSettings(**kwargs)

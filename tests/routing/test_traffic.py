"""Traffic profile and weather speed factors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from shipahead.routing.traffic import (
    ROAD_CLASSES,
    SpeedModel,
    classify_weather,
    condition_factors,
    traffic_factors,
    weather_factors,
)

from shipahead import routing


def test_traffic_profile_weekday_and_class():
    prof = pd.DataFrame(
        {
            "hour": [8, 8, 8, 9],
            "weekday": [1, 1, 2, 1],
            "road_class": ["all", "motorway", "all", ""],
            "speed_factor": [0.5, 0.8, 0.9, 0.6],
        }
    )
    f = traffic_factors(prof, weekday=1)
    assert f.shape == (24, len(ROAD_CLASSES))
    assert f[8, ROAD_CLASSES.index("motorway")] == 0.8
    assert f[8, ROAD_CLASSES.index("residential")] == 0.5
    assert f[9, 0] == 0.6 and f[10, 0] == 1.0
    f2 = traffic_factors(prof, weekday=2)
    assert f2[8, 3] == 0.9 and f2[9, 3] == 1.0


@pytest.mark.parametrize(
    "row, col",
    [
        ({"hour": 25, "speed_factor": 1.0}, "hour"),
        ({"hour": 3, "speed_factor": 0.0}, "speed_factor"),
    ],
)
def test_traffic_profile_bad_rows(row, col):
    with pytest.raises(routing.InputError) as ei:
        traffic_factors(pd.DataFrame([row]), None)
    assert ei.value.column == col and ei.value.row == 0


def test_unknown_road_class():
    with pytest.raises(routing.InputError, match="road_class"):
        traffic_factors(
            pd.DataFrame({"hour": [1], "road_class": ["highway"], "speed_factor": [1.0]}), 0
        )


def test_weather_classification_and_table():
    assert classify_weather(0.0, 0.0) == "dry"
    assert classify_weather(3.0, 0.0) == "light_rain"
    assert classify_weather(12.0, 0.0) == "heavy_rain"
    assert classify_weather(12.0, 1.0) == "light_snow"
    assert classify_weather(0.0, 8.0) == "heavy_snow"
    hr = condition_factors("heavy_rain")
    assert (
        hr[ROAD_CLASSES.index("motorway")] == 0.905
        and hr[ROAD_CLASSES.index("residential")] == 0.75
    )
    w = pd.DataFrame(
        {
            "region_id": ["a", "b", "a"],
            "ds": ["2022-11-01", "2022-11-01", "2022-11-02"],
            "precip_mm": [2.0, 15.0, 0.0],
            "snow_cm": [0.0, 0.0, 0.0],
        }
    )
    f, conds = weather_factors(w, "2022-11-01")
    assert conds == ["heavy_rain"] * 24  # the most severe region of that day
    assert np.all(f <= 1.0)
    with pytest.raises(routing.InputError, match="no row for 2022-12-01"):
        weather_factors(w, "2022-12-01")
    with pytest.raises(routing.InputError, match="plan date"):
        weather_factors(w, None)


def test_speed_model_combines_traffic_and_weather():
    prof = pd.DataFrame({"hour": [8], "speed_factor": [0.5]})
    w = pd.DataFrame({"ds": ["2022-11-01"], "condition": ["light_snow"]})
    sm = SpeedModel.from_tables(prof, w, "2022-11-01")
    r = ROAD_CLASSES.index("residential")
    assert sm.hourly[8, r] == pytest.approx(0.5 * 0.70)
    assert sm.hourly[9, r] == pytest.approx(0.70)
    assert not sm.is_free_flow and SpeedModel.free_flow().is_free_flow

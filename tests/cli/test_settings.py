"""Settings built once: defaults written once, scenario keys for every option, messages."""

from __future__ import annotations

import dataclasses

import pytest
from shipahead.cli.scenario import (
    INPUT_KINDS,
    ForecastParams,
    Inputs,
    PlacementParams,
    RoutingParams,
)
from shipahead.cli.settings import (
    DEFAULTS,
    PARAMETERS,
    ForecastInputs,
    PlaceInputs,
    RouteInputs,
    to_cli,
)
from shipahead.forecasting import ForecastSettings
from shipahead.placement import PlacementSettings
from shipahead.routing import PlanSettings


def _defaults(cls: type) -> dict:
    return {f.name: f.default for f in dataclasses.fields(cls)}


@pytest.mark.parametrize(
    ("cls", "keys"),
    [
        (ForecastSettings, ("models", "windows", "metric", "selection", "reconcile", "seed")),
        (ForecastSettings, ("top_down",)),
        (PlacementSettings, ("strict_promise", "exact_integer")),
        (PlanSettings, ("engine", "time_limit_s", "max_snap_m", "max_iterations")),
    ],
)
def test_cli_defaults_equal_the_domain_defaults(cls: type, keys: tuple[str, ...]) -> None:
    d = _defaults(cls)
    for key in keys:
        assert DEFAULTS[key] == d[key], key
    assert DEFAULTS["backend"] == _defaults(ForecastSettings)["backend"]
    assert DEFAULTS["backend"] == _defaults(PlacementSettings)["backend"]


def test_scenario_sections_are_settings_fields() -> None:
    """Every key of a scenario section is a field of its settings class (or CLI-only)."""
    cli_only = {"plot_top", "window_days", "n_scenarios", "horizon", "delivery_date", "depart"}
    cli_only |= {"challenger"}  # a second ForecastSettings, not a field of the first
    for model, cls in (
        (ForecastParams, ForecastSettings),
        (PlacementParams, PlacementSettings),
        (RoutingParams, PlanSettings),
    ):
        fields = {f.name for f in dataclasses.fields(cls)} | cli_only | {"depot_fc"}
        assert set(model.model_fields) <= fields, model
    assert ForecastParams().windows == DEFAULTS["windows"]
    assert "jobs" in ForecastParams.model_fields and "top_down" in ForecastParams.model_fields
    assert "depots" in Inputs.model_fields


def test_scenario_inputs_are_the_commands_files() -> None:
    """[inputs] takes every file of the three commands but those the plan makes itself (the
    placement's demand; the inbound orders from the run store), required where the forecast or
    the place command requires it."""
    files = {
        f.name: f.default is dataclasses.MISSING
        for cls in (RouteInputs, PlaceInputs, ForecastInputs)
        for f in dataclasses.fields(cls)
    }
    assert set(INPUT_KINDS) == set(files) - {"scenarios", "forecast", "inbound_orders"}
    required = {k for k, v in Inputs.model_fields.items() if v.is_required()}
    assert required == {"history", "fcs", "skus", "inventory", "supply"}
    assert all(files[k] for k in required)


def test_keys_added_later_are_recorded_only_when_set() -> None:
    assert "jobs" not in ForecastParams().record()
    assert ForecastParams(jobs=2).record()["jobs"] == 2
    assert ForecastParams().record() == {
        k: v
        for k, v in ForecastParams().model_dump(mode="json").items()
        if k not in ("jobs", "top_down", "backtest", "challenger")
    }


def test_parameters_are_named_as_the_command_takes_them() -> None:
    text = "add the missing periods with y=0, or pass `fill_gaps` zero"
    assert to_cli(text, "forecast") == "add the missing periods with y=0, or pass --fill-gaps zero"
    assert to_cli(text, "plan").endswith("pass forecast.fill_gaps zero")
    assert to_cli("raise `max_snap_m`", "route") == "raise --max-snap-m"
    assert to_cli("use `backend` local|dask", "place") == "use --engine local|dask"
    assert to_cli("`unknown_name` stays", "route") == "unknown_name stays"
    assert all(flag.startswith("--") for flag, _ in PARAMETERS.values())

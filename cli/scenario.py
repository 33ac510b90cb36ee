"""The scenario file (`scenario.toml`) that `shipahead plan` runs: schema and checks.

Unknown keys, missing files and files that break their contract are reported before any step
starts (one line each; the first one is the command's error line).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cli.errors import CliInputError

__all__ = ["INPUT_KINDS", "Scenario", "load_scenario"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScenarioMeta(_Strict):
    name: str = "scenario"
    seed: int = 0


class Inputs(_Strict):
    """Input files, relative to the TOML file."""

    history: str
    weather: str | None = None
    events: str | None = None
    regions: str | None = None
    fcs: str
    skus: str
    inventory: str
    supply: str
    inbound_lanes: str | None = None
    lanes: str | None = None
    stops: str | None = None
    fleet: str | None = None
    traffic: str | None = None
    roads: str | None = None


class ForecastParams(_Strict):
    horizon: int = Field(8, gt=0, description="periods to forecast")
    freq: str | None = None
    models: str = "auto"
    windows: int = Field(3, ge=1)
    metric: str = "mase"
    selection: Literal["class", "series", "hybrid"] = "class"
    country: str | None = None
    reconcile: bool = False
    fill_gaps: Literal["zero"] | None = None
    plot_top: int = Field(6, ge=0)


class PlacementParams(_Strict):
    window_days: int = Field(14, gt=0)
    promise_days: float | None = Field(None, ge=0)
    strict_promise: bool = False
    n_scenarios: int = Field(5, ge=1)
    exact_integer: bool = False
    plan_date: dt.date | None = None


class RoutingParams(_Strict):
    delivery_date: dt.date
    depot_fc: str | None = None
    depart: str = "08:00"
    time_limit_s: float = Field(10.0, gt=0)
    engine: Literal["auto", "ortools", "pyvrp"] = "auto"
    deterministic: bool = True
    max_snap_m: float = Field(500.0, gt=0)


class Scenario(_Strict):
    scenario: ScenarioMeta = ScenarioMeta()
    inputs: Inputs
    forecast: ForecastParams = ForecastParams()
    placement: PlacementParams = PlacementParams()
    routing: RoutingParams | None = None


#: contract name of each input (None: not a table, e.g. the road network)
INPUT_KINDS: dict[str, str | None] = {
    "history": "history",
    "weather": "weather",
    "events": "events",
    "regions": "regions",
    "fcs": "fcs",
    "skus": "skus",
    "inventory": "inventory",
    "supply": "supply",
    "inbound_lanes": "inbound_lanes",
    "lanes": "lanes",
    "stops": "stops",
    "fleet": "fleet",
    "traffic": "traffic",
    "roads": None,
}


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def load_scenario(path: Path) -> tuple[Scenario, dict[str, Path]]:
    """Parse and check ``path``; return the scenario and its input files resolved to paths."""
    if not path.exists():
        raise CliInputError("file not found", file=path, fix="check the path to the scenario")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CliInputError(
            f"is not valid TOML: {exc}", file=path, fix="fix the TOML syntax"
        ) from None
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _loc(err["loc"])
        if err["type"] == "extra_forbidden":
            section = err["loc"][:-1]
            model: Any = Scenario
            for part in section:
                model = model.model_fields[str(part)].annotation
                model = next(
                    (
                        a
                        for a in getattr(model, "__args__", (model,))
                        if isinstance(a, type) and issubclass(a, BaseModel)
                    ),
                    model,
                )
            known = ", ".join(getattr(model, "model_fields", {}))
            raise CliInputError(
                f"unknown key '{where}'", file=path, fix=f"remove it or use one of: {known}"
            ) from None
        if err["type"] == "missing":
            raise CliInputError(
                f"missing key '{where}'", file=path, fix="add it (see sample_data/scenario.toml)"
            ) from None
        raise CliInputError(
            f"key '{where}': {err['msg']}", file=path, fix="correct the value"
        ) from None
    files: dict[str, Path] = {}
    for key, value in scenario.inputs.model_dump().items():
        if value is None:
            continue
        p = (path.parent / value).resolve()
        if not p.is_file():
            raise CliInputError(
                f"inputs.{key} = '{value}': file not found",
                file=path,
                fix=f"check the path (relative to {path.parent})",
            )
        files[key] = p
    if scenario.routing is not None:
        missing = [k for k in ("stops", "fleet", "roads") if k not in files]
        if missing:
            raise CliInputError(
                f"[routing] needs inputs {', '.join(missing)}",
                file=path,
                fix="add them under [inputs] or remove [routing]",
            )
    return scenario, files

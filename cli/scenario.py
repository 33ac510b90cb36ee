"""The scenario file (`scenario.toml`) that `shipahead plan` runs: schema and checks.

Unknown keys, values out of range or above their documented limit (`cli.limits`), missing
files, files that break their contract and values that do not fit the input files (a
`depot_fc` that is not an FC, more backtest windows than the history holds) are reported before
any step starts, one line naming the key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator
from shipahead.cli.errors import CliInputError
from shipahead.cli.limits import check_forecast_size, check_limit
from shipahead.cli.settings import DEFAULTS, ForecastInputs, PlaceInputs

from shipahead.timeofday import DAY_S, parse_clock

if TYPE_CHECKING:
    from shipahead.cli.dbsource import DbSource

__all__ = [
    "INPUT_KINDS",
    "DbInput",
    "Scenario",
    "check_scenario_inputs",
    "load_scenario",
    "scenario_sources",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: keys added after runs were first fingerprinted: left out of the recorded parameters
    #: while they hold their default, so an unchanged scenario keeps its fingerprints
    _later: ClassVar[tuple[str, ...]] = ()

    def record(self) -> dict[str, Any]:
        """The section as ``manifest.json`` and the step fingerprints record it."""
        d = self.model_dump(mode="json")
        for key in self._later:
            if getattr(self, key) == type(self).model_fields[key].default:
                d.pop(key)
        return d


class ScenarioMeta(_Strict):
    name: str = "scenario"
    seed: int = Field(DEFAULTS["seed"], ge=0)


class DbInput(_Strict):
    """A table in a database: ``{ url = "…", table = "sales" }`` or ``{ url = "…", query =
    "select …" }`` (SQLAlchemy URL; ``${VAR}`` from the environment)."""

    url: str = Field(min_length=1)
    table: str | None = Field(None, min_length=1)
    query: str | None = Field(None, min_length=1)

    @field_validator("query")
    @classmethod
    def _one_of(cls, v: str | None, info: Any) -> str | None:
        if (v is None) == (info.data.get("table") is None):
            raise ValueError("give exactly one of table and query")
        return v

    def record(self) -> dict[str, Any]:
        from shipahead.store import redact_url

        d = super().record()
        d["url"] = redact_url(self.url)
        return {k: v for k, v in d.items() if v is not None}


_Src = str | DbInput
#: inputs that must be files (GeoJSON regions, the OSM road network)
_FILE_ONLY = frozenset({"regions", "roads"})


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
    "depots": None,
    "overrides": "overrides",
}


def _input_fields() -> dict[str, Any]:
    """The ``[inputs]`` keys (`INPUT_KINDS`), each a path relative to the TOML file or (but
    `_FILE_ONLY`) a database table: required where the forecast or the place command requires
    the file (the routes are optional)."""
    required = {
        f.name
        for cls in (ForecastInputs, PlaceInputs)
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING
    }

    def kind(name: str) -> Any:
        return str if name in _FILE_ONLY else _Src

    return {
        name: (kind(name), ...) if name in required else (kind(name) | None, None)
        for name in INPUT_KINDS
    }


class Inputs(create_model("_InputFiles", __base__=_Strict, **_input_fields())):  # type: ignore[misc]
    """Input files, relative to the TOML file, or database tables (:class:`DbInput`)."""

    def record(self) -> dict[str, Any]:
        d = super().record()
        for key in type(self).model_fields:
            value = getattr(self, key)
            if isinstance(value, DbInput):
                d[key] = value.record()
        return d

    _later = ("depots", "overrides")


class ChallengerParams(_Strict):
    """A challenger forecast run beside the champion: the ``[forecast]`` keys it changes
    (unset keys are the champion's). Stored and scored, never used downstream."""

    models: str | None = None
    windows: int | None = Field(None, ge=1)
    metric: str | None = None
    selection: Literal["class", "series", "hybrid"] | None = None
    country: str | None = None
    top_down: bool | None = None

    def changes(self) -> dict[str, Any]:
        """The keys set, as ``ForecastSettings`` fields."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class ForecastParams(_Strict):
    """``ForecastSettings`` fields (and ``plot_top``); ``plan --engine`` is the backend."""

    horizon: int = Field(DEFAULTS["horizon"], gt=0, description="periods to forecast")
    freq: str | None = None
    models: str = DEFAULTS["models"]
    windows: int = Field(DEFAULTS["windows"], ge=1)
    metric: str = DEFAULTS["metric"]
    selection: Literal["class", "series", "hybrid"] = DEFAULTS["selection"]
    country: str | None = None
    reconcile: bool = DEFAULTS["reconcile"]
    fill_gaps: Literal["zero"] | None = None
    plot_top: int = Field(DEFAULTS["plot_top"], ge=0)
    jobs: int = DEFAULTS["jobs"]
    top_down: bool = DEFAULTS["top_down"]
    backtest: Literal["sample", "all"] = DEFAULTS["backtest"]
    challenger: ChallengerParams | None = None

    _later = ("jobs", "top_down", "backtest", "challenger")


class PlacementParams(_Strict):
    """``PlacementSettings`` fields (and ``n_scenarios`` of the forecast's scenarios)."""

    window_days: int = Field(DEFAULTS["window_days"], gt=0)
    promise_days: float | None = Field(None, ge=0)
    strict_promise: bool = DEFAULTS["strict_promise"]
    n_scenarios: int = Field(DEFAULTS["n_scenarios"], ge=1)
    exact_integer: bool = DEFAULTS["exact_integer"]
    plan_date: dt.date | None = None


class RoutingParams(_Strict):
    """``PlanSettings`` fields and the day (``delivery_date``, ``depart``, ``depot_fc``)."""

    delivery_date: dt.date
    depot_fc: str | None = None
    depart: str = DEFAULTS["depart"]
    time_limit_s: float = Field(DEFAULTS["time_limit_s"], gt=0)
    engine: Literal["auto", "ortools", "pyvrp"] = DEFAULTS["engine"]
    deterministic: bool = DEFAULTS["deterministic"]
    max_snap_m: float = Field(DEFAULTS["max_snap_m"], gt=0)

    @field_validator("depart")
    @classmethod
    def _depart_is_time_of_day(cls, v: str) -> str:
        try:
            t = parse_clock(v, seconds=False)
        except ValueError:
            t = None
        if t is None or t > DAY_S:  # the start of the day: 00:00–24:00
            raise ValueError(f"{v!r} is not a time of day HH:MM between 00:00 and 24:00")
        return v.strip()


class Scenario(_Strict):
    scenario: ScenarioMeta = ScenarioMeta()
    inputs: Inputs
    forecast: ForecastParams = ForecastParams()
    placement: PlacementParams = PlacementParams()
    routing: RoutingParams | None = None

    def record(self) -> dict[str, Any]:
        """Every section as ``manifest.json`` records the parameters."""
        return {
            name: None if (sec := getattr(self, name)) is None else sec.record()
            for name in type(self).model_fields
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
        errors = exc.errors()
        # a table input ({ url, … }) fails as a path too: report what is wrong with the table
        tagged = [e for e in errors if "DbInput" in e["loc"]]
        err = tagged[0] if tagged else errors[0]
        err = {**err, "loc": tuple(p for p in err["loc"] if p not in ("str", "DbInput"))}
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
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise CliInputError(f"key '{where}': {msg}", file=path, fix="correct the value") from None
    _check_limits(scenario, path)
    files: dict[str, Path] = {}
    for key in type(scenario.inputs).model_fields:
        value = getattr(scenario.inputs, key)
        if value is None or isinstance(value, DbInput):  # tables: see scenario_sources
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
        given = set(files) | set(scenario_sources(scenario, path))
        missing = [k for k in ("stops", "fleet", "roads") if k not in given]
        if missing:
            raise CliInputError(
                f"[routing] needs inputs {', '.join(missing)}",
                file=path,
                fix="add them under [inputs] or remove [routing]",
            )
    return scenario, files


def scenario_sources(scenario: Scenario, path: Path) -> dict[str, DbSource]:
    """The scenario's inputs that are database tables (relative SQLite/DuckDB files are
    relative to the scenario file)."""
    from shipahead.cli.dbsource import DbSource

    out: dict[str, DbSource] = {}
    for key in type(scenario.inputs).model_fields:
        value = getattr(scenario.inputs, key)
        if isinstance(value, DbInput):
            out[key] = DbSource(
                url=value.url, table=value.table, query=value.query, base=path.resolve().parent
            )
    return out


#: (section, key, limit name) of every size-like scenario value
_LIMITED: tuple[tuple[str, str, str], ...] = (
    ("forecast", "horizon", "horizon"),
    ("forecast", "windows", "windows"),
    ("forecast", "plot_top", "plot_top"),
    ("placement", "n_scenarios", "n_scenarios"),
    ("placement", "window_days", "window_days"),
    ("placement", "promise_days", "promise_days"),
    ("routing", "time_limit_s", "time_limit_s"),
    ("routing", "max_snap_m", "max_snap_m"),
)


def _check_limits(scenario: Scenario, path: Path) -> None:
    """Every size-like value finite and within its documented limit (exit 2 naming the key)."""
    for section, key, name in _LIMITED:
        params = getattr(scenario, section)
        value = None if params is None else getattr(params, key)
        if value is None:
            continue
        if not math.isfinite(value):
            raise CliInputError(
                f"key '{section}.{key}' = {value} is not a finite number",
                file=path,
                fix="give a number",
            )
        try:
            check_limit(name, value, f"key '{section}.{key}'")
        except CliInputError as exc:
            exc.file = str(path)
            raise


def _check_challenger(scenario: Scenario, path: Path) -> None:
    """``forecast.challenger`` names known models and metric (before the champion runs)."""
    ch = scenario.forecast.challenger
    if ch is None:
        return
    from shipahead.forecasting import available_models
    from shipahead.forecasting.candidates import ENSEMBLE
    from shipahead.forecasting.settings import METRICS

    if ch.models is not None and ch.models.strip() != "auto":
        known = (*available_models(), ENSEMBLE)
        unknown = [m.strip() for m in ch.models.split(",") if m.strip() not in known]
        if unknown or not ch.models.strip():
            raise CliInputError(
                f"key 'forecast.challenger.models': unknown model(s) {', '.join(unknown)}",
                file=path,
                fix=f"use 'auto' or names from: {', '.join(available_models())}",
            )
    if ch.metric is not None and ch.metric not in METRICS:
        raise CliInputError(
            f"key 'forecast.challenger.metric': unknown metric {ch.metric!r}",
            file=path,
            fix=f"use one of {', '.join(METRICS)}",
        )
    if ch.windows is not None:
        check_limit("windows", ch.windows, "key 'forecast.challenger.windows'")


def check_scenario_inputs(scenario: Scenario, files: dict[str, Path], path: Path) -> None:
    """Check scenario values against the input files (after each file passed its contract).

    * ``routing.depot_fc`` must be an ``fc_id`` of the FC file;
    * every ``sku_id`` of the history must be in the SKU file (placement needs its costs);
    * ``horizon`` × period length must stay within the ``horizon_days`` limit and the backtest
      (``windows`` × ``horizon`` periods) must leave at least one period of the longest series
      to fit on, or every series would be a cold start (`cli.limits.check_forecast_size`).
    """
    from shipahead.cli.io import read_table

    r = scenario.routing
    if r is not None and r.depot_fc is not None and "fcs" in files:
        ids = read_table(files["fcs"], "fcs")["fc_id"].astype(str)
        if r.depot_fc not in set(ids):
            known = ", ".join(ids.head(10)) + (", …" if len(ids) > 10 else "")
            raise CliInputError(
                f"key 'routing.depot_fc' = '{r.depot_fc}' is not an fc_id of {files['fcs'].name}",
                file=path,
                fix=f"use one of: {known}",
            )
    _check_challenger(scenario, path)
    if "history" not in files:
        return
    history = read_table(files["history"], "history")
    if "skus" in files:
        # placement needs every forecast SKU's costs: say so before forecasting, not after
        known_skus = set(read_table(files["skus"], "skus")["sku_id"].astype(str))
        unknown = ~history["sku_id"].astype(str).isin(known_skus)
        if unknown.any():
            row = int(unknown.to_numpy().argmax())
            raise CliInputError(
                f"sku_id '{history['sku_id'].iloc[row]}' is not in {files['skus'].name} "
                f"({int(unknown.sum())} history rows, "
                f"{history.loc[unknown, 'sku_id'].nunique()} SKUs)",
                file=files["history"],
                row=row,
                column="sku_id",
                fix=f"add the SKU to {files['skus'].name} or remove its rows from the history",
            )
    f = scenario.forecast
    windows = [(f.windows, "key 'forecast.windows'")]
    if f.challenger is not None and f.challenger.windows is not None:
        windows.append((f.challenger.windows, "key 'forecast.challenger.windows'"))
    try:
        for n, name in windows:
            check_forecast_size(
                history,
                horizon=f.horizon,
                windows=n,
                freq=f.freq,
                horizon_name="key 'forecast.horizon'",
                windows_name=name,
            )
    except CliInputError as exc:
        exc.file = str(path)
        raise

"""What each command runs with, built once and passed down; the parameter → flag table.

A command (typer) or a `plan` step (scenario.toml) builds one ``*Run`` object — the domain
settings (``ForecastSettings``, ``PlacementSettings``, ``PlanSettings``) plus the few options
only the CLI has (output extras, the Dask scheduler) — and one ``*Inputs`` object of file
paths, and calls ``execute(run, inputs, out)``. Every default is read from the domain settings
classes' values written once here (``DEFAULTS``; the domain packages are imported only when a
command runs, so ``shipahead --help`` stays fast, and a test holds both equal); the typer
options and the scenario sections read them.

Domain errors name parameters in backticks (e.g. ``pass `freq` (e.g. D or W-MON)``);
:func:`to_cli` rewrites them to the flag of the command that runs (``--freq``) or, in
``plan``/``demo``, to the scenario key (``forecast.freq``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

if TYPE_CHECKING:  # the domain packages load only when a command runs
    from shipahead.forecasting import ForecastSettings
    from shipahead.placement import PlacementSettings
    from shipahead.routing import PlanSettings

__all__ = [
    "DEFAULTS",
    "PARAMETERS",
    "ForecastInputs",
    "ForecastRun",
    "PlaceInputs",
    "PlaceRun",
    "ReplanRun",
    "RouteInputs",
    "RouteRun",
    "default",
    "to_cli",
]


def default(cls: type, name: str) -> Any:
    """The default of field ``name`` of the settings dataclass ``cls``."""
    return cls.__dataclass_fields__[name].default  # type: ignore[attr-defined]


#: Defaults of the commands' options and of the scenario keys, written once. The first block
#: equals the domain settings' defaults (``tests/cli/test_settings.py`` holds them equal); the
#: second has no domain default or one of the command's own.
DEFAULTS: dict[str, Any] = {
    # ForecastSettings
    "models": "auto",
    "windows": 3,
    "metric": "mase",
    "selection": "class",
    "reconcile": False,
    "top_down": True,
    "backtest": "sample",
    "seed": 0,
    "backend": "local",
    # PlacementSettings
    "strict_promise": False,
    "exact_integer": False,
    # PlanSettings
    "engine": "auto",
    "time_limit_s": 10.0,
    "max_snap_m": 500.0,
    "max_iterations": 3,
    # the CLI's own
    "horizon": 8,  # scenario.toml only; `forecast --horizon` is required
    "jobs": -1,  # the command uses every core; the library default is 1
    "window_days": 14,  # coverage window of the scenarios and of the placement
    "n_scenarios": 5,
    "plot_top": 6,
    "depart": "08:00",  # scenario.toml only; `route --depart` defaults to the shift start
    "deterministic": True,  # scenario.toml only; `route --deterministic` is off by default
}

# -- forecast ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastInputs:
    """Files of a forecast: the history and the optional regressor tables."""

    history: Path
    weather: Path | None = None
    events: Path | None = None
    overrides: Path | None = None


@dataclass(frozen=True)
class ForecastRun:
    """A forecast: the domain settings and the outputs only the CLI writes.

    ``window_days`` (days) is the window of the window-total scenarios (``None``: none are
    made); ``plot_top`` fan charts (0: none); ``scheduler`` is the Dask address.
    """

    settings: ForecastSettings
    window_days: float | None = DEFAULTS["window_days"]
    n_scenarios: int = DEFAULTS["n_scenarios"]
    plot_top: int = DEFAULTS["plot_top"]
    scheduler: str | None = None


# -- place ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceInputs:
    """Files of a placement: demand (scenarios or a forecast) and the network tables."""

    fcs: Path
    skus: Path
    inventory: Path
    supply: Path
    scenarios: Path | None = None
    forecast: Path | None = None
    inbound_lanes: Path | None = None
    lanes: Path | None = None
    regions: Path | None = None
    #: confirmed, not yet received orders (order_id, to_fc_id, sku_id, qty_units, status):
    #: counted as stock on hand at their FC
    inbound_orders: Path | None = None


@dataclass(frozen=True)
class PlaceRun:
    """A placement: the domain settings (``plan_date`` ``None`` = forecast start, else today)
    and ``n_scenarios`` per key when a forecast is turned into scenarios."""

    settings: PlacementSettings
    n_scenarios: int = DEFAULTS["n_scenarios"]
    scheduler: str | None = None


# -- route ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteInputs:
    """Files of a route plan."""

    stops: Path
    fleet: Path
    roads: Path
    traffic: Path | None = None
    weather: Path | None = None
    fcs: Path | None = None
    depots: Path | None = None


@dataclass(frozen=True)
class RouteRun:
    """A route plan: the domain settings and the day as the user wrote it.

    ``date`` (YYYY-MM-DD) picks the traffic weekday and the weather row; ``depart`` (HH:MM,
    kept as written for ``plan.json``) gives ``settings.depart_s``; ``depot_fc`` is the depot
    of vehicles without one.
    """

    settings: PlanSettings
    date: dt.date | str | None = None
    depart: str | None = None
    depot_fc: str | None = None

    def parameters(self, date: str | None) -> dict[str, Any]:
        """The run's parameters as ``plan.json`` records them (what ``route replan`` reuses);
        ``date`` is the delivery date as YYYY-MM-DD."""
        s = self.settings
        return {
            "date": date,
            "depart": self.depart,
            "depot_fc": self.depot_fc,
            "engine": s.engine,
            "time_limit_s": float(s.time_limit_s),
            "seed": int(s.seed),
            "deterministic": bool(s.deterministic),
            "max_snap_m": float(s.max_snap_m),
            "max_iterations": int(s.max_iterations),
        }


@dataclass(frozen=True)
class ReplanRun:
    """A re-plan of the route plan folder ``plan`` at ``at`` (HH:MM, as written) with the
    ``events`` table, the road network file ``roads`` if it moved since the plan, the cost of
    moving a stop to another vehicle and ``time_limit_s`` (``None``: the plan's)."""

    plan: Path
    at: str
    events: Path | None
    roads: Path | None
    reassign_penalty: float
    time_limit_s: float | None


def with_settings(run: Any, **changes: Any) -> Any:
    """``run`` with some of its domain settings replaced."""
    return dataclasses.replace(run, settings=dataclasses.replace(run.settings, **changes))


# -- parameter → flag / scenario key -------------------------------------------------------

#: parameter name → (command flag, scenario key); the one table messages are mapped with
PARAMETERS: dict[str, tuple[str, str]] = {
    "horizon": ("--horizon", "forecast.horizon"),
    "freq": ("--freq", "forecast.freq"),
    "models": ("--models", "forecast.models"),
    "windows": ("--windows", "forecast.windows"),
    "metric": ("--metric", "forecast.metric"),
    "selection": ("--selection", "forecast.selection"),
    "country": ("--country", "forecast.country"),
    "reconcile": ("--reconcile", "forecast.reconcile"),
    "fill_gaps": ("--fill-gaps", "forecast.fill_gaps"),
    "jobs": ("--jobs", "forecast.jobs"),
    "top_down": ("--top-down", "forecast.top_down"),
    "backtest": ("--backtest", "forecast.backtest"),
    "plot_top": ("--plot-top", "forecast.plot_top"),
    "window_days": ("--window-days", "placement.window_days"),
    "n_scenarios": ("--n-scenarios", "placement.n_scenarios"),
    "promise_days": ("--promise-days", "placement.promise_days"),
    "strict_promise": ("--strict-promise", "placement.strict_promise"),
    "exact_integer": ("--exact-integer", "placement.exact_integer"),
    "plan_date": ("--plan-date", "placement.plan_date"),
    "backend": ("--engine", "plan --engine"),
    "date": ("--date", "routing.delivery_date"),
    "depart": ("--depart", "routing.depart"),
    "engine": ("--engine", "routing.engine"),
    "time_limit_s": ("--time-limit", "routing.time_limit_s"),
    "max_snap_m": ("--max-snap-m", "routing.max_snap_m"),
    # input tables
    "weather": ("--weather", "inputs.weather"),
    "lanes": ("--lanes", "inputs.lanes"),
    "regions": ("--regions", "inputs.regions"),
    "inbound_lanes": ("--inbound-lanes", "inputs.inbound_lanes"),
    "depots": ("--depots", "inputs.depots"),
    "overrides": ("--overrides", "inputs.overrides"),
}

_PARAM = re.compile(r"`([a-z_]+)`")


def to_cli(text: str | None, command: str | None) -> str | None:
    """``text`` with every backticked parameter named as the user gave it: the flag of a
    single command, the scenario key in ``plan``/``demo`` (unknown names lose the ticks)."""
    if not text:
        return text
    col = 1 if command in ("plan", "demo") else 0

    def name(m: re.Match[str]) -> str:
        p = PARAMETERS.get(m.group(1))
        return m.group(1) if p is None else p[col]

    return _PARAM.sub(name, text)


def map_error(exc: BaseException, command: str | None) -> None:
    """Rewrite a domain error's message and fix in place with :func:`to_cli`."""
    for attr in ("message", "fix"):
        value = getattr(exc, attr, None)
        if isinstance(value, str) and "`" in value:
            setattr(exc, attr, to_cli(value, command))
    if getattr(exc, "args", None) and isinstance(exc.args[0], str) and "`" in exc.args[0]:
        exc.args = (to_cli(exc.args[0], command), *exc.args[1:])


# -- typer options shared by the commands ---------------------------------------------------


def option(kind: Any, flag: str, help: str) -> Any:
    """A typer option ``flag`` of type ``kind`` (for a parameter's annotation)."""
    import typer

    return Annotated[kind, typer.Option(flag, help=help)]


def file_option(flag: str, help: str) -> Any:
    """An optional file or folder option (``Path | None``) named ``flag``."""
    return option(Path | None, flag, help)


def backend_option() -> Any:
    """``--engine local|dask|ray``: the compute backend of forecast and place."""
    import typer

    return Annotated[str, typer.Option("--engine", help="local, dask or ray.")]


def scheduler_option() -> Any:
    """``--scheduler``: the Dask scheduler address of forecast and place."""
    import typer

    return Annotated[str | None, typer.Option(help="Dask scheduler address (with --engine dask).")]

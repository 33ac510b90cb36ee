"""Documented limits of size-like inputs, overridable by environment variable.

Every size-like setting (forecast horizon, backtest windows, scenarios per key, rows of a
stops or fleet file, solver time limits …) has a default upper bound listed in `LIMITS` and in
docs/data-formats.md ("Limits"). A run that needs more sets ``SHIPAHEAD_MAX_<NAME>`` (e.g.
``SHIPAHEAD_MAX_HORIZON=2000``). The bounds are checked before any work starts and a breach is
one line naming the setting (exit 2).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from shipahead.cli.errors import CliInputError

__all__ = [
    "LIMITS",
    "Limit",
    "check_forecast_size",
    "check_limit",
    "check_option",
    "env_name",
    "limit",
    "limits_markdown",
]


@dataclass(frozen=True)
class Limit:
    """One documented bound: default value, unit and what it bounds."""

    default: float
    unit: str
    what: str


LIMITS: dict[str, Limit] = {
    "horizon": Limit(1000, "periods", "forecast horizon (`--horizon`, `forecast.horizon`)"),
    "horizon_days": Limit(
        3660, "days", "forecast horizon in days (horizon × period length, about 10 years)"
    ),
    "windows": Limit(52, "windows", "backtest windows (`--windows`, `forecast.windows`)"),
    "n_scenarios": Limit(
        1000, "scenarios", "scenarios per key (`--n-scenarios`, `placement.n_scenarios`)"
    ),
    "plot_top": Limit(100, "charts", "fan charts written (`--plot-top`, `forecast.plot_top`)"),
    "window_days": Limit(
        366, "days", "placement coverage window (`--window-days`, `placement.window_days`)"
    ),
    "promise_days": Limit(365, "days", "delivery promise (`--promise-days`)"),
    "time_limit_s": Limit(3600, "s", "routing solver time limit (`routing.time_limit_s`)"),
    "max_snap_m": Limit(50_000, "m", "largest snap distance (`routing.max_snap_m`)"),
    "stops": Limit(10_000, "rows", "rows of a stops file"),
    "vehicles": Limit(1_000, "rows", "rows of a fleet file"),
    "request_mb": Limit(16, "MB", "request body sent to `shipahead serve` (larger: 413)"),
    "plan_jobs": Limit(2_000, "jobs", "jobs of one problem posted to `shipahead serve`"),
    "plan_vehicles": Limit(200, "vehicles", "vehicles of one problem posted to `shipahead serve`"),
    "request_events": Limit(1_000, "events", "events in one `POST /v1/plans/{id}/events`"),
    "plan_events": Limit(20_000, "events", "events accepted for one plan over its life"),
    "queued_plans": Limit(
        1_000, "plans", "plans waiting for or in a solve in `shipahead serve` (more: 429)"
    ),
    "solve_attempts": Limit(
        3, "attempts", "times `shipahead serve` starts a solve its solver process died in"
    ),
    "override_rows": Limit(1_000_000, "rows", "rows of a forecast overrides file"),
    "accuracy_runs": Limit(10_000, "runs", "stored runs `shipahead accuracy` scores (`--last`)"),
    "db_rows": Limit(50_000_000, "rows", "rows read from one database table or query input"),
    "order_status_rows": Limit(1_000_000, "rows", "rows of an order status file (`orders import`)"),
}


def env_name(name: str) -> str:
    """The environment variable that overrides limit ``name``."""
    return f"SHIPAHEAD_MAX_{name.upper()}"


def limit(name: str) -> float:
    """The limit ``name``: ``SHIPAHEAD_MAX_<NAME>`` if set (a positive number), else default."""
    raw = os.environ.get(env_name(name))
    if raw is None or not raw.strip():
        return LIMITS[name].default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise CliInputError(
            f"environment variable {env_name(name)}={raw!r} is not a positive number",
            fix=f"unset it or give a number (default {LIMITS[name].default:g})",
        )
    return value


def check_option(
    value: float,
    setting: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    limit_name: str | None = None,
    example: str = "",
    what: str = "",
) -> None:
    """One-line input error unless ``value`` of ``setting`` is a finite number within bounds.

    ``gt``/``ge`` are the lower bound (exclusive/inclusive); ``limit_name`` names the upper bound
    in :data:`LIMITS` (overridable through its environment variable).
    """
    import math

    fix = f"e.g. {setting} {example}" if example else f"give {setting} a finite number"
    name = f"{setting} ({what})" if what else setting
    if not math.isfinite(value):
        raise CliInputError(f"{name} = {value} is not a finite number", fix=fix)
    if gt is not None and not value > gt:
        raise CliInputError(f"{name} = {_fmt(value)} must be > {_fmt(gt)}", fix=fix)
    if ge is not None and not value >= ge:
        raise CliInputError(f"{name} = {_fmt(value)} must be >= {_fmt(ge)}", fix=fix)
    if limit_name is not None:
        check_limit(limit_name, value, setting)


def check_limit(name: str, value: float, setting: str) -> None:
    """Raise a one-line input error when ``value`` of ``setting`` exceeds limit ``name``."""
    bound = limit(name)
    if value > bound:
        lim = LIMITS[name]
        raise CliInputError(
            f"{setting} = {_fmt(value)} is above the limit of {_fmt(bound)} {lim.unit}",
            fix=f"use at most {_fmt(bound)} (or raise the limit with {env_name(name)}=N)",
        )


def _fmt(value: float) -> str:
    """``100000000`` for whole numbers, ``2.5`` otherwise."""
    if float(value).is_integer() and abs(value) < 1e18:
        return str(int(value))
    return f"{value:g}"


def check_forecast_size(
    history: Any,
    *,
    horizon: int,
    windows: int,
    freq: str | None,
    horizon_name: str,
    windows_name: str,
) -> None:
    """Check horizon and backtest windows against a (contract-checked) history, before work.

    * ``horizon`` × period length ≤ the ``horizon_days`` limit (e.g. 1,000 weekly periods are
      19 years);
    * ``windows`` × ``horizon`` < the longest series (periods), else every series would be a
      cold start and the backtest would choose nothing.

    ``history`` has ``region_id, sku_id, ds``; a frequency that cannot be inferred is left to
    the forecasting package's own checks.
    """
    from shipahead.forecasting.errors import InputError
    from shipahead.forecasting.validate import infer_freq, period_days

    try:
        f = freq or infer_freq(history["ds"])
        days = horizon * period_days(f)
    except (InputError, ValueError):
        return
    most = limit("horizon_days")
    if days > most:
        raise CliInputError(
            f"{horizon_name} = {horizon}: {horizon} periods of {f} are {days:,.0f} days, above "
            f"the limit of {most:,.0f} days",
            fix=f"forecast fewer periods (or raise the limit with {env_name('horizon_days')}=N)",
        )
    if len(history) == 0:
        return
    longest = int(history.groupby(["region_id", "sku_id"]).size().max())
    need = windows * horizon
    if need >= longest:
        fit = (longest - 1) // horizon
        raise CliInputError(
            f"{windows_name} = {windows}: {windows} backtest windows × horizon {horizon} = {need} "
            f"periods, but the longest series has {longest} (every series would be a cold start)",
            fix=f"set {windows_name} to {fit} or fewer" if fit else "forecast a shorter horizon",
        )


def limits_markdown() -> str:
    """The "Limits" table of docs/data-formats.md, rendered from `LIMITS`."""
    lines = [
        "| limit | default | unit | bounds | override |",
        "|---|---|---|---|---|",
    ]
    for name, lim in LIMITS.items():
        lines.append(
            f"| `{name}` | {lim.default:,.0f} | {lim.unit} | {lim.what} | `{env_name(name)}` |"
        )
    return "\n".join(lines)

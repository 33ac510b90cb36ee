"""`shipahead place`: stock targets and placement orders for a coverage window.

Reads the demand scenarios (or converts a forecast to window-total scenarios with the
forecasting package), the network tables, calls :func:`placement.plan`, and writes
``stock_targets.csv``, ``placement_orders.csv`` and ``summary.json`` all at once (OutputDir).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from shipahead.cli.errors import CliInputError, command, register_file, require_file

TARGETS_FILE = "stock_targets.csv"
ORDERS_FILE = "placement_orders.csv"
SUMMARY_FILE = "summary.json"


def _scenarios_from_forecast(path: Path, window_days: float, n_scenarios: int):
    """Forecast contract → window-total scenarios (forecasting package); also the window start."""
    from shipahead.cli.io import read_table

    fc = read_table(path, "forecast")
    try:
        from shipahead import forecasting
    except ModuleNotFoundError:  # pragma: no cover - the forecasting package is part of shipahead
        raise CliInputError(
            "--forecast needs the forecasting package", fix="pass --scenarios S.csv instead"
        ) from None
    conv = getattr(forecasting, "scenarios_from_forecast", None)
    if conv is None:
        raise CliInputError(
            "this build of the forecasting package cannot turn a forecast into scenarios yet",
            fix="pass --scenarios S.csv (from `shipahead forecast --scenarios-out`)",
        )
    import pandas as pd

    start = pd.to_datetime(fc["ds"]).min() if len(fc) else None
    scen = conv(fc, float(window_days), int(n_scenarios))
    return scen, (start.date() if start is not None and not pd.isna(start) else None)


def _compute(
    *,
    scenarios: Path | None,
    forecast: Path | None,
    window_days: float,
    fcs: Path,
    skus: Path,
    inventory: Path,
    supply: Path,
    inbound_lanes: Path | None,
    lanes: Path | None,
    regions: Path | None,
    promise_days: float | None,
    strict_promise: bool,
    exact_integer: bool,
    engine: str,
    plan_date: dt.date | str | None,
    n_scenarios: int,
):
    from shipahead.cli.io import read_geo, read_table
    from shipahead.cli.progress import step

    from shipahead import placement

    if (scenarios is None) == (forecast is None):
        raise CliInputError(
            "give exactly one of --scenarios and --forecast",
            fix="pass --scenarios S.csv or --forecast F.parquet",
        )
    if isinstance(plan_date, str):
        try:
            plan_date = dt.date.fromisoformat(plan_date)
        except ValueError:
            raise CliInputError(
                f"--plan-date {plan_date!r} is not a date", fix="write it as YYYY-MM-DD"
            ) from None
    if scenarios is not None:
        p = require_file(Path(scenarios), "scenarios")
        scen = read_table(p, "scenarios")
        start = None
    else:
        p = require_file(Path(forecast), "forecast")  # type: ignore[arg-type]
        register_file("forecast", p)
        scen, start = _scenarios_from_forecast(p, window_days, n_scenarios)
    tables: dict[str, Any] = {}
    for name, path in (("fcs", fcs), ("skus", skus), ("inventory", inventory), ("supply", supply)):
        tables[name] = read_table(require_file(Path(path), name), name)
    for name, path in (("inbound_lanes", inbound_lanes), ("lanes", lanes)):
        tables[name] = read_table(require_file(Path(path), name), name) if path else None
    geo = read_geo(require_file(Path(regions), "regions"), "regions") if regions else None
    if plan_date is None:
        plan_date = start or dt.datetime.now(dt.UTC).date()
    settings = placement.PlacementSettings(
        window_days=float(window_days),
        promise_days=None if promise_days is None else float(promise_days),
        strict_promise=bool(strict_promise),
        exact_integer=bool(exact_integer),
        engine=engine,  # type: ignore[arg-type]
        plan_date=plan_date,
    )
    with step("Placing inventory (stochastic LP)…"):
        return placement.plan(
            scen,
            tables["fcs"],
            tables["skus"],
            tables["inventory"],
            tables["supply"],
            settings,
            inbound_lanes=tables["inbound_lanes"],
            lanes=tables["lanes"],
            regions=geo,
        )


def _kpis(res) -> dict[str, Any]:
    s = res.summary
    return {
        "method": s["method"],
        "expected_cost": round(s["expected_cost"]["total"], 4),
        "lp_lower_bound": round(s["lp_lower_bound"], 4),
        "gap": round(s["gap"], 6),
        "expected_fill_rate": None
        if s["expected_fill_rate"] is None
        else round(s["expected_fill_rate"], 6),
        "orders": s["n_orders"],
        "units_placed": s["units_placed"],
        "wall_s": round(res.timings.get("total_s", 0.0), 2),
    }


def execute(
    *,
    scenarios: Path | None = None,
    forecast: Path | None = None,
    window_days: float,
    fcs: Path,
    skus: Path,
    inventory: Path,
    supply: Path,
    inbound_lanes: Path | None = None,
    lanes: Path | None = None,
    regions: Path | None = None,
    promise_days: float | None = None,
    strict_promise: bool = False,
    exact_integer: bool = False,
    engine: str = "local",
    scheduler: str | None = None,
    plan_date: dt.date | str | None = None,
    n_scenarios: int = 5,
    out: Any,
) -> dict:
    """Place inventory from files; write the three outputs through ``out`` (an OutputDir).

    The engine session (Dask client) is opened by the caller; ``scheduler`` is accepted for
    symmetry with the other commands. Returns KPIs for the run manifest.
    """
    res = _compute(
        scenarios=scenarios,
        forecast=forecast,
        window_days=window_days,
        fcs=fcs,
        skus=skus,
        inventory=inventory,
        supply=supply,
        inbound_lanes=inbound_lanes,
        lanes=lanes,
        regions=regions,
        promise_days=promise_days,
        strict_promise=strict_promise,
        exact_integer=exact_integer,
        engine=engine,
        plan_date=plan_date,
        n_scenarios=n_scenarios,
    )
    out.write_table(res.stock_targets, TARGETS_FILE)
    out.write_table(res.placement_orders, ORDERS_FILE)
    out.write_json(res.summary, SUMMARY_FILE)
    return _kpis(res)


def _show(kpis: dict, out_dir: Path) -> None:
    from shipahead.cli.errors import STATE
    from shipahead.cli.progress import console

    if STATE.quiet:
        return
    fill = kpis["expected_fill_rate"]
    console().print(
        f"[green]placed[/] {kpis['units_placed']} units in {kpis['orders']} orders · expected "
        f"cost {kpis['expected_cost']:,.2f} (LP bound {kpis['lp_lower_bound']:,.2f}, gap "
        f"{kpis['gap']:.3%}) · fill rate {'n/a' if fill is None else f'{fill:.1%}'} → {out_dir}"
    )


def _check_option_limits(window_days: float, promise_days: float | None) -> None:
    """Finite, positive and within the documented limits (`cli.limits`), before any work."""
    from shipahead.cli.limits import check_limit

    for flag, value, name in (
        ("--window-days", window_days, "window_days"),
        ("--promise-days", promise_days, "promise_days"),
    ):
        if value is None:
            continue
        if not (value >= 0 and value != float("inf")) or (flag == "--window-days" and value == 0):
            raise CliInputError(
                f"{flag} {value} must be a finite number of days > 0", fix="use e.g. 14"
            )
        check_limit(name, value, flag)


@command
def command(
    window_days: Annotated[float, typer.Option("--window-days", help="Coverage window W (days).")],
    fcs: Annotated[Path, typer.Option("--fcs", help="FCs: fc_id, name, lat, lon, capacity_m3.")],
    skus: Annotated[Path, typer.Option("--skus", help="SKUs: volume, holding, stock-out cost.")],
    inventory: Annotated[
        Path, typer.Option("--inventory", help="On hand: fc_id, sku_id, on_hand_units.")
    ],
    supply: Annotated[
        Path, typer.Option("--supply", help="Supply: node_id, sku_id, available_units.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    scenarios: Annotated[
        Path | None,
        typer.Option(
            "--scenarios", help="Demand scenarios: sku_id, region_id, scenario, prob, qty_units."
        ),
    ] = None,
    forecast: Annotated[
        Path | None,
        typer.Option("--forecast", help="Forecast (contract); converted to window scenarios."),
    ] = None,
    inbound_lanes: Annotated[
        Path | None,
        typer.Option("--inbound-lanes", help="node_id, fc_id, cost_per_unit, lead_days."),
    ] = None,
    lanes: Annotated[
        Path | None,
        typer.Option("--lanes", help="fc_id, region_id, cost_per_unit, transit_days."),
    ] = None,
    regions: Annotated[
        Path | None,
        typer.Option("--regions", help="Region polygons (GeoJSON); lanes from geography."),
    ] = None,
    promise_days: Annotated[
        float | None, typer.Option("--promise-days", help="Delivery promise (days).")
    ] = None,
    strict_promise: Annotated[
        bool, typer.Option("--strict-promise", help="Forbid lanes slower than the promise.")
    ] = False,
    exact_integer: Annotated[
        bool, typer.Option("--exact-integer", help="Solve the MIP (small cases).")
    ] = False,
    engine: Annotated[str, typer.Option("--engine", help="local, dask or ray.")] = "local",
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (with --engine dask).")
    ] = None,
    plan_date: Annotated[
        str | None,
        typer.Option(
            "--plan-date",
            help="Date stock must be in place (YYYY-MM-DD); ship_by = "
            "plan date - lead days. Default: forecast start, else today.",
        ),
    ] = None,
) -> None:
    """Decide stock targets per FC and the placement orders that move the stock."""
    from shipahead.cli.engine import engine_session
    from shipahead.cli.io import OutputDir, claim_output

    if engine not in ("local", "dask", "ray"):
        raise CliInputError(f"unknown engine '{engine}'", fix="use local, dask or ray")
    _check_option_limits(window_days, promise_days)
    with claim_output(out), engine_session(engine, scheduler), OutputDir(out) as od:
        kpis = execute(
            scenarios=scenarios,
            forecast=forecast,
            window_days=window_days,
            fcs=fcs,
            skus=skus,
            inventory=inventory,
            supply=supply,
            inbound_lanes=inbound_lanes,
            lanes=lanes,
            regions=regions,
            promise_days=promise_days,
            strict_promise=strict_promise,
            exact_integer=exact_integer,
            engine=engine,
            scheduler=scheduler,
            plan_date=plan_date,
            out=od,
        )
    _show(kpis, out)

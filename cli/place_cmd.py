"""`shipahead place`: stock targets and placement orders for a coverage window.

Reads the demand scenarios (or converts a forecast to window-total scenarios with the
forecasting package), the network tables, calls :func:`placement.plan`, and writes
``stock_targets.csv``, ``placement_orders.csv`` and ``summary.json`` all at once (OutputDir).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from shipahead.cli.errors import CliInputError, command, register_file, require_file
from shipahead.cli.settings import (
    DEFAULTS,
    PlaceInputs,
    PlaceRun,
    backend_option,
    file_option,
    option,
    scheduler_option,
)

TARGETS_FILE = "stock_targets.csv"
ORDERS_FILE = "placement_orders.csv"
SUMMARY_FILE = "summary.json"
POLICY_FILE = "inventory_policy.csv"


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


def place_run(
    options: dict[str, Any], *, backend: str = DEFAULTS["backend"], scheduler: str | None = None
) -> PlaceRun:
    """Build the run once from option values named like ``PlacementSettings`` fields plus
    ``n_scenarios`` (CLI flags or the scenario's ``[placement]``); ``plan_date`` may be text.

    ``backend`` is ``--engine`` (local, dask or ray); ``scheduler`` the Dask address.
    """
    from shipahead import placement

    opts = dict(options)
    extra = {k: opts.pop(k) for k in ("n_scenarios",) if k in opts}
    plan_date = opts.get("plan_date")
    if isinstance(plan_date, str):
        try:
            opts["plan_date"] = dt.date.fromisoformat(plan_date)
        except ValueError:
            raise CliInputError(
                f"--plan-date {plan_date!r} is not a date", fix="write it as YYYY-MM-DD"
            ) from None
    if opts.get("promise_days") is not None:
        opts["promise_days"] = float(opts["promise_days"])
    settings = placement.PlacementSettings(
        **{**opts, "window_days": float(opts["window_days"])}, backend=backend
    )
    return PlaceRun(settings, **extra, scheduler=scheduler)


def _compute(run: PlaceRun, inputs: PlaceInputs):
    from shipahead.cli.io import read_geo, read_table
    from shipahead.cli.progress import step

    from shipahead import placement

    if (inputs.scenarios is None) == (inputs.forecast is None):
        raise CliInputError(
            "give exactly one of --scenarios and --forecast",
            fix="pass --scenarios S.csv or --forecast F.parquet",
        )
    settings = run.settings
    if inputs.scenarios is not None:
        p = require_file(Path(inputs.scenarios), "scenarios")
        scen = read_table(p, "scenarios")
        start = None
    else:
        p = require_file(Path(inputs.forecast), "forecast")  # type: ignore[arg-type]
        register_file("forecast", p)
        scen, start = _scenarios_from_forecast(p, settings.window_days, run.n_scenarios)
    tables: dict[str, Any] = {}
    for name in ("fcs", "skus", "inventory", "supply"):
        tables[name] = read_table(require_file(Path(getattr(inputs, name)), name), name)
    for name in ("inbound_lanes", "lanes"):
        path = getattr(inputs, name)
        tables[name] = read_table(require_file(Path(path), name), name) if path else None
    if inputs.inbound_orders is not None:
        from shipahead.store.planner import add_inbound, inbound_from_orders

        orders = read_table(require_file(Path(inputs.inbound_orders), "inbound orders"))
        orders["qty_units"] = orders["qty_units"].astype(float)
        tables["inventory"] = add_inbound(tables["inventory"], inbound_from_orders(orders))
    regions = inputs.regions
    geo = read_geo(require_file(Path(regions), "regions"), "regions") if regions else None
    if settings.plan_date is None:
        plan_date = start or dt.datetime.now(dt.UTC).date()
        settings = dataclasses.replace(settings, plan_date=plan_date)
    with step("Placing inventory (stochastic LP)…"):
        return placement.plan(
            placement.PlacementTables(scenarios=scen, regions=geo, **tables), settings
        )


def _kpis(res) -> dict[str, Any]:
    s = res.summary
    kpis = {
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
    late = (s.get("inbound") or {}).get("not_counted_units", 0.0)
    if late:
        kpis["inbound_not_counted_units"] = late
    return kpis


def execute(run: PlaceRun, inputs: PlaceInputs, out: Any) -> dict:
    """Place inventory from files; write the three outputs through ``out`` (an OutputDir).

    The backend session (Dask client) is opened by the caller. Returns KPIs for the run
    manifest.
    """
    res = _compute(run, inputs)
    out.write_table(res.stock_targets, TARGETS_FILE)
    out.write_table(res.placement_orders, ORDERS_FILE)
    out.write_json(res.summary, SUMMARY_FILE)
    if res.inventory_policy is not None:
        out.write_table(res.inventory_policy, POLICY_FILE)
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
    if kpis.get("inbound_not_counted_units"):
        console().print(
            f"[yellow]note[/] {kpis['inbound_not_counted_units']:,.0f} inbound units arrive after "
            "the plan date and are not counted as stock (summary.json: inbound)"
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
    scenarios: file_option(
        "--scenarios", "Demand scenarios: sku_id, region_id, scenario, prob, qty_units."
    ) = None,
    forecast: file_option(
        "--forecast", "Forecast (contract); converted to window scenarios."
    ) = None,
    inbound_lanes: file_option(
        "--inbound-lanes", "node_id, fc_id, cost_per_unit, lead_days."
    ) = None,
    lanes: file_option("--lanes", "fc_id, region_id, cost_per_unit, transit_days.") = None,
    regions: file_option("--regions", "Region polygons (GeoJSON); lanes from geography.") = None,
    inbound_orders: file_option(
        "--inbound-orders",
        "Confirmed orders on their way (order_id, to_fc_id, sku_id, qty_units, status): "
        "counted as stock at their FC.",
    ) = None,
    promise_days: option(float | None, "--promise-days", "Delivery promise (days).") = None,
    strict_promise: option(
        bool, "--strict-promise", "Forbid lanes slower than the promise."
    ) = DEFAULTS["strict_promise"],
    exact_integer: option(bool, "--exact-integer", "Solve the MIP (small cases).") = DEFAULTS[
        "exact_integer"
    ],
    engine: backend_option() = DEFAULTS["backend"],
    scheduler: scheduler_option() = None,
    plan_date: option(
        str | None,
        "--plan-date",
        "Date stock must be in place (YYYY-MM-DD); ship_by = "
        "plan date - lead days. Default: forecast start, else today.",
    ) = None,
) -> None:
    """Decide stock targets per FC and the placement orders that move the stock."""
    from shipahead.cli.engine import engine_session
    from shipahead.cli.io import OutputDir, claim_output

    if engine not in ("local", "dask", "ray"):
        raise CliInputError(f"unknown engine '{engine}'", fix="use local, dask or ray")
    _check_option_limits(window_days, promise_days)
    with claim_output(out), engine_session(engine, scheduler), OutputDir(out) as od:
        run = place_run(
            {
                "window_days": window_days,
                "promise_days": promise_days,
                "strict_promise": strict_promise,
                "exact_integer": exact_integer,
                "plan_date": plan_date,
            },
            backend=engine,
            scheduler=scheduler,
        )
        inputs = PlaceInputs(
            fcs,
            skus,
            inventory,
            supply,
            scenarios,
            forecast,
            inbound_lanes,
            lanes,
            regions,
            inbound_orders,
        )
        kpis = execute(run, inputs, od)
    _show(kpis, out)

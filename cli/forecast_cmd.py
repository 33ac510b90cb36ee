"""`shipahead forecast HISTORY --horizon H --out forecast.parquet`: backtested forecasts.

Reads the history (and optional weather/events), calls :func:`forecasting.forecast`, writes the
forecast contract and, on request, the backtest errors, window-total scenarios and fan charts.
Everything is computed before anything is written; each file is written atomically.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from shipahead.cli.errors import CliInputError, command, register_file, require_file
from shipahead.cli.limits import check_option
from shipahead.cli.settings import (
    DEFAULTS,
    ForecastInputs,
    ForecastRun,
    backend_option,
    file_option,
    option,
    scheduler_option,
)

# names of the files `execute` writes into an OutputDir (the `plan` run folder layout)
FORECAST_FILE = "forecast.parquet"
CHALLENGER_FILE = "challenger.parquet"
BACKTEST_FILE = "backtest.parquet"
LEADERBOARD_FILE = "leaderboard.csv"
SCENARIOS_FILE = "scenarios.csv"
PLOTS_DIR = "plots"


def forecast_run(
    options: dict[str, Any], *, scheduler: str | None = None, backend: str = DEFAULTS["backend"]
) -> ForecastRun:
    """Build the run once from option values named like ``ForecastSettings`` fields plus
    ``window_days``, ``n_scenarios`` and ``plot_top`` (CLI flags or a scenario section).

    ``backend`` is ``--engine`` (local, dask or ray); ``scheduler`` the Dask address.
    """
    import pandas as pd
    from shipahead.cli.limits import limit

    from shipahead import forecasting

    opts = dict(options)
    extra = {k: opts.pop(k) for k in ("window_days", "n_scenarios", "plot_top") if k in opts}
    if opts.get("fill_gaps") not in (None, "zero"):
        raise CliInputError(
            f"unknown --fill-gaps {opts['fill_gaps']!r}", fix="use --fill-gaps zero"
        )
    settings = forecasting.ForecastSettings(
        **opts,
        backend=backend,
        max_horizon=int(limit("horizon")),
        max_windows=int(limit("windows")),
        # history dated after today (UTC) is an error; only the check depends on the date
        as_of=pd.Timestamp.now(tz="UTC").tz_localize(None).normalize(),
    )
    return ForecastRun(settings, **extra, scheduler=scheduler)


def _compute(
    run: ForecastRun,
    inputs: ForecastInputs,
    *,
    horizon_name: str = "--horizon",
    windows_name: str = "--windows",
):
    from shipahead.cli.io import read_table
    from shipahead.cli.limits import check_forecast_size
    from shipahead.cli.progress import forecast_progress, step

    from shipahead import forecasting

    s = run.settings
    history = require_file(Path(inputs.history), "history")
    register_file("history", history)
    hist = read_table(history, "history")
    wdf = edf = None
    if inputs.weather is not None:
        wdf = read_table(require_file(Path(inputs.weather), "weather"), "weather")
    if inputs.events is not None:
        events = require_file(Path(inputs.events), "events")
        register_file("events", events)
        edf = read_table(events)
    check_forecast_size(
        hist,
        horizon=s.horizon,
        windows=s.windows,
        freq=s.freq,
        horizon_name=horizon_name,
        windows_name=windows_name,
    )
    t0 = time.perf_counter()
    ov = None
    if inputs.overrides is not None:
        ov = read_table(require_file(Path(inputs.overrides), "overrides"), "overrides")
        ov = forecasting.check_overrides(ov, hist[["region_id", "sku_id"]])
    with forecast_progress(f"Backtesting and forecasting {s.horizon} periods") as (
        report,
        stages,
    ):
        res = forecasting.forecast(
            hist, s, weather=wdf, events=edf, progress=report, stage_progress=stages
        )
    if ov is not None:
        # final = override where present, else the statistical forecast (kept as `baseline`)
        final, warns = forecasting.apply_overrides(res.forecast, ov)
        res = dataclasses.replace(res, forecast=final, warnings=[*res.warnings, *warns])
    wall = time.perf_counter() - t0
    scen = None
    if run.window_days is not None:
        with step("Window-total scenarios…"):
            scen = forecasting.window_total_scenarios(
                res, float(run.window_days), int(run.n_scenarios)
            )
    top = run.plot_top
    figs = forecasting.fan_charts(res.history, res.forecast, top) if top > 0 else []
    return res, scen, figs, wall


def check_option_limits(
    *, horizon: int, windows: int, n_scenarios: int, plot_top: int, window_days: float
) -> None:
    """Bounds of the size-like options (documented limits, `cli.limits`), before any work."""
    from shipahead.cli.limits import check_limit

    for flag, value, low in (
        ("--horizon", horizon, 1),
        ("--windows", windows, 1),
        ("--n-scenarios", n_scenarios, 1),
        ("--plot-top", plot_top, 0),
    ):
        if value < low:
            raise CliInputError(f"{flag} {value} must be ≥ {low}", fix=f"use e.g. {max(low, 3)}")
    if not (window_days > 0 and window_days != float("inf")):
        raise CliInputError(
            f"--window-days {window_days} must be a positive number of days", fix="use e.g. 14"
        )
    for name, flag, value in (
        ("horizon", "--horizon", horizon),
        ("windows", "--windows", windows),
        ("n_scenarios", "--n-scenarios", n_scenarios),
        ("plot_top", "--plot-top", plot_top),
        ("window_days", "--window-days", window_days),
    ):
        check_limit(name, value, flag)


def _kpis(res, wall: float, metric: str) -> dict[str, Any]:
    lb = res.leaderboard
    auto = lb[(lb["model"] == "auto")]
    row = auto[auto["demand_class"] == "all"] if (auto["demand_class"] == "all").any() else auto
    n_keys = int(res.forecast[["region_id", "sku_id"]].drop_duplicates().shape[0])
    k: dict[str, Any] = {
        "series": n_keys,
        "rows": len(res.forecast),
        "freq": res.freq,
        "season_length": int(res.season_length),
        "wall_s": round(wall, 2),
        "warnings": len(res.warnings),
    }
    if len(row):
        k[f"backtest_{metric}"] = round(float(row[metric].iloc[0]), 4)
        k["backtest_coverage_80"] = round(float(row["coverage_80"].iloc[0]), 4)
        k["backtest_coverage_90"] = round(float(row["coverage_90"].iloc[0]), 4)
    if res.timings is not None:
        k["time_stages"] = res.timings.rows()  # clock readings: manifest timing only
    return k


def _show(res, metric: str) -> None:
    from rich.table import Table
    from shipahead.cli.errors import STATE
    from shipahead.cli.progress import console

    if STATE.quiet:
        return
    lb = res.leaderboard
    t = Table(title=f"Backtest leaderboard (mean {metric.upper()}; coverage of 80/90% intervals)")
    for c in ("model", "class", metric.upper(), "cov 80%", "cov 90%", "series", "chosen by"):
        if c in ("model", "class"):
            t.add_column(c, justify="left", no_wrap=True, min_width=12 if c == "class" else 16)
        else:
            t.add_column(c, justify="right")
    for _, r in lb.iterrows():
        t.add_row(
            str(r["model"]),
            str(r["demand_class"]),
            f"{r[metric]:.3f}",
            f"{r['coverage_80']:.1%}",
            f"{r['coverage_90']:.1%}",
            str(int(r["n_series"])),
            str(int(r["n_chosen"])),
        )
    con = console()
    con.print(t)
    for w in res.warnings:
        con.print(f"[yellow]warning:[/] {w}")


def execute(run: ForecastRun, inputs: ForecastInputs, out: Any) -> dict:
    """Forecast from files and write every output through ``out`` (an ``OutputDir``).

    Writes ``forecast.parquet``, ``backtest.parquet``, ``leaderboard.csv``, ``scenarios.csv``
    (when ``run.window_days`` is set) and ``plots/fan_<region>_<sku>.png``; returns KPIs. The
    backend session (Dask client) is opened by the caller.
    """
    res, scen, figs, wall = _compute(run, inputs)
    out.write_table(res.forecast, FORECAST_FILE)
    out.write_table(res.backtest, BACKTEST_FILE)
    out.write_table(res.leaderboard, LEADERBOARD_FILE)
    if scen is not None:
        out.write_table(scen, SCENARIOS_FILE)
    if res.hierarchy is not None:
        out.write_table(res.hierarchy, "hierarchy.parquet")
    for (r, s), fig in figs:
        out.write_with(f"{PLOTS_DIR}/{_png_name(r, s)}", lambda p, f=fig: f.savefig(p, dpi=100))
    _show(res, run.settings.metric)
    return _kpis(res, wall, run.settings.metric)


def execute_challenger(
    run: ForecastRun, changes: dict[str, Any], inputs: ForecastInputs, out: Any
) -> dict[str, Any]:
    """Forecast again with the champion's settings changed by ``changes`` (the challenger).

    Statistical only (overrides are the champion's): writes ``challenger.parquet`` (the
    forecast contract) and ``challenger_leaderboard.csv``; returns ``challenger_*`` KPIs.
    """
    settings = dataclasses.replace(run.settings, **changes)
    crun = dataclasses.replace(run, settings=settings, window_days=None, plot_top=0)
    res, _, _, wall = _compute(crun, dataclasses.replace(inputs, overrides=None))
    out.write_table(res.forecast, CHALLENGER_FILE)
    out.write_table(res.leaderboard, "challenger_leaderboard.csv")
    k = _kpis(res, wall, settings.metric)
    return {f"challenger_{n}": v for n, v in k.items() if n.startswith(("backtest_", "wall_s"))}


def _png_name(region: str, sku: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in f"{region}_{sku}")
    return f"fan_{safe}.png"


@command
def command(
    history: Annotated[Path, typer.Argument(help="Demand history: region_id, sku_id, ds, y.")],
    horizon: Annotated[int, typer.Option("--horizon", help="Periods to forecast.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Forecast file (.parquet or .csv).")],
    freq: Annotated[
        str | None, typer.Option(help="Frequency (D, W-MON, MS …); inferred if omitted.")
    ] = None,
    models: Annotated[
        str, typer.Option(help="'auto' or a comma list, e.g. SeasonalNaive,AutoTheta,MSTL.")
    ] = DEFAULTS["models"],
    windows: Annotated[int, typer.Option(help="Rolling-origin backtest windows.")] = DEFAULTS[
        "windows"
    ],
    metric: Annotated[str, typer.Option(help="Selection metric: mase, rmsse or mae.")] = DEFAULTS[
        "metric"
    ],
    selection: Annotated[
        str,
        typer.Option(
            help="How the backtest picks: 'class' (best candidate per demand class, default: "
            "3 windows are too few to pick per series — see docs/forecasting.md), 'series' "
            "(best per series), 'hybrid' (per series only when ≥10% better)."
        ),
    ] = DEFAULTS["selection"],
    weather: Annotated[
        Path | None, typer.Option(help="Weather: region_id, ds, precip_mm, snow_cm, temp_c.")
    ] = None,
    country: Annotated[
        str | None, typer.Option(help="Country code for holidays (e.g. US).")
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option(help="Events/promotions: ds, optional region_id / sku_id, promo (0–1)."),
    ] = None,
    reconcile: option(bool, "--reconcile", "Reconcile SKU/region/network totals.") = DEFAULTS[
        "reconcile"
    ],
    fill_gaps: option(str | None, "--fill-gaps", "'zero': fill missing periods with 0.") = None,
    engine: backend_option() = DEFAULTS["backend"],
    scheduler: scheduler_option() = None,
    jobs: Annotated[
        int, typer.Option(help="Processes for the local engine (-1 = all).")
    ] = DEFAULTS["jobs"],
    backtest_out: file_option("--backtest-out", "Per-series/model/window errors.") = None,
    scenarios_out: file_option("--scenarios-out", "Window-total demand scenarios.") = None,
    window_days: option(
        float, "--window-days", "Coverage window for --scenarios-out (days)."
    ) = DEFAULTS["window_days"],
    n_scenarios: option(int, "--n-scenarios", "Scenarios per key.") = DEFAULTS["n_scenarios"],
    leaderboard_out: file_option(
        "--leaderboard-out", "Backtest leaderboard CSV (default: leaderboard.csv beside --out)."
    ) = None,
    plot: file_option("--plot", "Folder for fan charts (PNG).") = None,
    plot_top: option(int, "--plot-top", "Fan charts for the top N.") = DEFAULTS["plot_top"],
    overrides: file_option(
        "--overrides",
        "Planners' overrides (region_id, sku_id, ds, value or percent, user, comment): "
        "final = override where present, else the statistical forecast (kept as `baseline`).",
    ) = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = DEFAULTS["seed"],
    top_down: Annotated[
        bool,
        typer.Option(
            "--top-down/--no-top-down",
            help="Backtest the TopDown candidate too (share × SKU-total forecast; pools the "
            "seasonal shape over regions).",
        ),
    ] = DEFAULTS["top_down"],
    backtest: Annotated[
        str,
        typer.Option(
            "--backtest",
            help="'sample' (default): backtest a stratified sample of each demand class "
            "(forecasting.BACKTEST_SAMPLE series; all when the class is smaller) and give the "
            "others the class's choice; 'all': backtest every series.",
        ),
    ] = DEFAULTS["backtest"],
) -> None:
    """Backtest candidates, pick the best (per demand class or series), forecast HORIZON periods."""
    from shipahead.cli.engine import engine_session
    from shipahead.cli.io import OutputDir, claim_outputs, write_table
    from shipahead.cli.progress import console

    for p in (out, backtest_out, scenarios_out, leaderboard_out):
        if p is not None and p.suffix.lower() not in (".csv", ".parquet", ".gz"):
            raise CliInputError("unknown output type", file=p, fix="name the file .csv or .parquet")
    check_option_limits(
        horizon=horizon,
        windows=windows,
        n_scenarios=n_scenarios,
        plot_top=plot_top,
        window_days=window_days,
    )
    check_option(seed, "--seed", ge=0, example="0")
    leaderboard_out = leaderboard_out or out.parent / LEADERBOARD_FILE
    claims = (
        (out, False),
        (backtest_out, False),
        (scenarios_out, False),
        (leaderboard_out, False),
        (plot, True),
    )
    inputs = ForecastInputs(history, weather, events, overrides)
    with claim_outputs(*claims):
        with engine_session(engine, scheduler):
            run = forecast_run(
                {
                    "horizon": horizon,
                    "freq": freq,
                    "models": models,
                    "windows": windows,
                    "metric": metric,
                    "selection": selection,
                    "country": country,
                    "reconcile": reconcile,
                    "fill_gaps": fill_gaps,
                    "jobs": jobs,
                    "seed": seed,
                    "top_down": top_down,
                    "backtest": backtest,
                    "window_days": window_days if scenarios_out is not None else None,
                    "n_scenarios": n_scenarios,
                    "plot_top": plot_top if plot is not None else 0,
                },
                backend=engine,
                scheduler=scheduler,
            )
            res, scen, figs, wall = _compute(run, inputs)
        if plot is not None:
            with OutputDir(plot) as od:
                for (r, s), fig in figs:
                    od.write_with(_png_name(r, s), lambda p, f=fig: f.savefig(p, dpi=100))
        if backtest_out is not None:
            write_table(res.backtest, backtest_out)
        if scen is not None:
            write_table(scen, scenarios_out)
        write_table(res.leaderboard, leaderboard_out)
        write_table(res.forecast, out)
    _show(res, metric)
    k = _kpis(res, wall, metric)
    console().print(
        f"[green]forecast:[/] {k['series']} series × {horizon} periods ({res.freq}) → {out}"
        f" in {wall:.1f}s"
    )

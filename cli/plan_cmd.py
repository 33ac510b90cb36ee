"""`shipahead plan SCENARIO.toml --out RUN_DIR`: forecast → placement → routes as one batch job.

Everything is checked before any step starts: the TOML (unknown keys, missing files) and every
input file against its contract. Each step writes its folder all-or-nothing, then a
``.done.json`` marker holding the fingerprint of its inputs and parameters; a step whose
fingerprint is unchanged is skipped (``--force`` reruns). The marker is removed before a step
starts, so a killed run never leaves a step looking finished. ``manifest.json`` is written last.
"""

from __future__ import annotations

import hashlib
import json
import platform
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any

import typer
from shipahead.cli.engine import engine_session
from shipahead.cli.errors import STATE, CliInputError, command, register_file
from shipahead.cli.scenario import INPUT_KINDS, Scenario, check_scenario_inputs, load_scenario

from shipahead.hashing import file_sha256

STEPS = ("forecast", "placement", "routes")
_MARKER = ".done.json"
_VERSIONED = (
    "shipahead",
    "statsforecast",
    "utilsforecast",
    "hierarchicalforecast",
    "pandas",
    "numpy",
    "scipy",
    "ortools",
    "highspy",
    "pyvrp",
    "networkx",
    "osmnx",
    "geopandas",
    "shapely",
    "dask",
    "distributed",
)


class _PeakMemory:
    """Sample the RSS of this process and its children; keep the peak (bytes)."""

    def __init__(self, interval_s: float = 0.1) -> None:
        import psutil

        self._proc = psutil.Process()
        self._interval = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        total = self._proc.memory_info().rss
        for child in self._proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except Exception:  # child exited between listing and reading
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            self._stop.wait(self._interval)

    def __enter__(self) -> _PeakMemory:
        self.peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


@dataclass(frozen=True)
class StepContext:
    """What a step needs: the scenario, resolved input files, the run folder and the engine."""

    scenario: Scenario
    files: dict[str, Path]
    run_dir: Path
    engine: str
    scheduler: str | None

    def step_dir(self, step: str) -> Path:
        return self.run_dir / step


# -- steps -----------------------------------------------------------------------------------
# Each step reads its inputs (files of the scenario, outputs of earlier steps), writes its
# outputs through an OutputDir and returns KPIs. They reuse the single commands' `execute`.


def _forecast_step(ctx: StepContext, out: Any) -> dict[str, Any]:
    from shipahead.cli import forecast_cmd
    from shipahead.cli.settings import ForecastInputs

    sc = ctx.scenario
    options = {
        **sc.forecast.model_dump(exclude={"challenger"}),
        "seed": sc.scenario.seed,
        "window_days": sc.placement.window_days,
        "n_scenarios": sc.placement.n_scenarios,
    }
    run = forecast_cmd.forecast_run(options, backend=ctx.engine, scheduler=ctx.scheduler)
    inputs = ForecastInputs(*(ctx.files.get(k) for k in _STEP_INPUTS["forecast"]))
    kpis = forecast_cmd.execute(run, inputs, out)
    if sc.forecast.challenger is not None:  # beside the champion; placement never reads it
        kpis |= forecast_cmd.execute_challenger(run, sc.forecast.challenger.changes(), inputs, out)
    return kpis


def _placement_step(ctx: StepContext, out: Any) -> dict[str, Any]:
    from shipahead.cli import place_cmd
    from shipahead.cli.settings import PlaceInputs

    options = ctx.scenario.placement.model_dump()
    if options["plan_date"] is None:
        # stock must be in position when the forecast window starts (deterministic: not "today")
        import pandas as pd

        fc = pd.read_parquet(ctx.step_dir("forecast") / "forecast.parquet", columns=["ds"])
        options["plan_date"] = pd.Timestamp(fc["ds"].min()).date()
    run = place_cmd.place_run(options, backend=ctx.engine, scheduler=ctx.scheduler)
    files = {k: ctx.files.get(k) for k in _STEP_INPUTS["placement"]}
    inputs = PlaceInputs(**files, scenarios=ctx.step_dir("forecast") / "scenarios.csv")  # type: ignore[arg-type]
    return place_cmd.execute(run, inputs, out)


def _routes_step(ctx: StepContext, out: Any) -> dict[str, Any]:
    from shipahead.cli import route_cmd
    from shipahead.cli.settings import RouteInputs

    r = ctx.scenario.routing
    assert r is not None
    options = r.model_dump(exclude={"delivery_date", "depart", "depot_fc"})
    run = route_cmd.route_run(
        {**options, "seed": ctx.scenario.scenario.seed},
        date=r.delivery_date,
        depart=r.depart,
        depot_fc=r.depot_fc,
    )
    inputs = RouteInputs(**{k: ctx.files.get(k) for k in _STEP_INPUTS["routes"]})  # type: ignore[arg-type]
    return route_cmd.execute(run, inputs, out)


_STEP_FUNCS: dict[str, Callable[[StepContext, Any], dict[str, Any]]] = {
    "forecast": _forecast_step,
    "placement": _placement_step,
    "routes": _routes_step,
}
_STEP_INPUTS: dict[str, tuple[str, ...]] = {
    "forecast": ("history", "weather", "events", "overrides"),
    "placement": ("fcs", "skus", "inventory", "supply", "inbound_lanes", "lanes", "regions"),
    "routes": ("stops", "fleet", "roads", "traffic", "weather", "fcs", "depots"),
}
_STEP_PARAMS: dict[str, Callable[[Scenario], Any]] = {
    "forecast": lambda s: [
        s.forecast.record(),
        s.placement.window_days,
        s.placement.n_scenarios,
        s.scenario.seed,
    ],
    "placement": lambda s: s.placement.record(),
    "routes": lambda s: [
        None if s.routing is None else s.routing.record(),
        s.scenario.seed,
    ],
}
_UPSTREAM = {"forecast": (), "placement": ("forecast",), "routes": ()}


def _is_timing(key: str) -> bool:
    """KPI keys that are clock readings (they vary run to run; they go to manifest timing)."""
    return (
        key == "wall_s"
        or key.startswith("time_")
        or key.endswith(("_wall_s", "solve_s", "build_s", "_time_s"))
    )


def _split_timing(kpis: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a step's KPIs into (deterministic KPIs, timing readings)."""
    kpis = kpis or {}
    return (
        {k: v for k, v in kpis.items() if not _is_timing(k)},
        {k: v for k, v in kpis.items() if _is_timing(k)},
    )


def _rel(path: Path, scenario_path: Path) -> str:
    """``path`` relative to the scenario file's folder when it lies below it."""
    try:
        return str(path.relative_to(scenario_path.resolve().parent))
    except ValueError:
        return str(path)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def _check_inputs(files: dict[str, Path]) -> None:
    """Check every input file against its contract before any step starts."""
    from shipahead.cli.io import read_geo, read_table

    for key, path in files.items():
        kind = INPUT_KINDS.get(key)
        if key == "roads":
            suffix = path.name.lower()
            if not suffix.endswith((".osm", ".osm.bz2", ".osm.pbf", ".pbf", ".graphml")):
                raise CliInputError(
                    "road network must be .osm, .osm.bz2, .osm.pbf or .graphml",
                    file=path,
                    fix="point inputs.roads at an OSM extract",
                )
            register_file("roads", path)
            continue
        if kind == "regions":
            read_geo(path, "regions")
        elif kind is None:  # a table without a contract (depots)
            read_table(path)
        else:
            read_table(path, kind)


def run_plan(
    scenario_path: Path,
    run_dir: Path,
    *,
    engine: str = "local",
    scheduler: str | None = None,
    from_step: str | None = None,
    only: str | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Run the pipeline; returns the manifest (also written to ``run_dir/manifest.json``)."""
    from shipahead.cli.io import OutputDir, write_json
    from shipahead.cli.progress import console, step

    for opt, value in (("--from", from_step), ("--only", only)):
        if value is not None and value not in STEPS:
            raise CliInputError(
                f"unknown step '{value}' for {opt}", fix=f"use one of {', '.join(STEPS)}"
            )
    if engine not in ("local", "dask", "ray"):
        raise CliInputError(f"unknown engine '{engine}'", fix="use local, dask or ray")

    scenario, files = load_scenario(scenario_path)
    _check_inputs(files)
    check_scenario_inputs(scenario, files, scenario_path)

    wanted = list(STEPS)
    if scenario.routing is None:
        wanted.remove("routes")
    if from_step:
        wanted = wanted[wanted.index(from_step) :] if from_step in wanted else []
    if only:
        wanted = [only]

    ctx = StepContext(scenario, files, run_dir, engine, scheduler)
    hashes = {k: file_sha256(p) for k, p in sorted(files.items())}
    fingerprints: dict[str, str] = {}
    status: dict[str, dict[str, Any]] = {}
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "manifest.json").unlink(missing_ok=True)
    STATE.pending = list(wanted)

    with ExitStack() as stack:
        session_started = False
        for name in STEPS:
            payload = {
                "step": name,
                "inputs": {k: hashes[k] for k in _STEP_INPUTS[name] if k in hashes},
                "params": _STEP_PARAMS[name](scenario),
                "upstream": {u: fingerprints.get(u) for u in _UPSTREAM[name]},
            }
            fp = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())
            fingerprints[name] = fp.hexdigest()
            marker = ctx.step_dir(name) / _MARKER
            done = json.loads(marker.read_text()) if marker.exists() else None
            if name == "routes" and scenario.routing is None:
                status[name] = {"status": "not configured ([routing] missing in the scenario)"}
                continue
            if name not in wanted:
                stale = done is None or done.get("fingerprint") != fingerprints[name]
                if stale and any(name in _UPSTREAM[w] for w in wanted):
                    raise CliInputError(
                        f"step '{name}' has not finished with these inputs in {run_dir}",
                        fix=f"run it first (drop --from/--only or use --from {name})",
                    )
                status[name] = {"status": "not requested", "kpis": (done or {}).get("kpis", {})}
                continue
            if done and done.get("fingerprint") == fingerprints[name] and not force:
                # a skipped step took no time in this run: no timing of the run that made it
                status[name] = {"status": "skipped (unchanged)", "kpis": done.get("kpis", {})}
                STATE.kept.append(name)
                if not STATE.quiet:  # progress lines; --quiet keeps stderr to results/errors
                    console().print(
                        f"step {name}: unchanged since the last run — skipped (--force reruns)"
                    )
                continue
            if not session_started:
                # before the marker goes: an engine that cannot start must not undo a step
                stack.enter_context(engine_session(engine, scheduler))
                session_started = True
            marker.unlink(missing_ok=True)
            t0 = time.perf_counter()
            with _PeakMemory() as mem, step(f"{name}…"), OutputDir(ctx.step_dir(name)) as out:
                kpis = _STEP_FUNCS[name](ctx, out)
            wall = time.perf_counter() - t0
            kpis, step_timing = _split_timing(kpis)
            # the marker holds only what is deterministic; timings go to manifest.json
            write_json({"fingerprint": fingerprints[name], "kpis": kpis}, marker)
            STATE.kept.append(name)
            status[name] = {
                "status": "ran",
                "kpis": kpis,
                "wall_s": round(wall, 3),
                "peak_mem_mb": round(mem.peak / 2**20, 1),
                "detail": step_timing,
            }
            if not STATE.quiet:
                console().print(f"step {name}: done in {wall:.1f} s")

    from shipahead.cli.report import build_report

    with step("report.html…"):
        report_kpis = build_report(run_dir, scenario, files)

    manifest = {
        "scenario": {
            "file": scenario_path.name,
            "name": scenario.scenario.name,
            "sha256": file_sha256(scenario_path),
        },
        "inputs": {
            k: {
                "path": _rel(files[k], scenario_path),
                "size_bytes": files[k].stat().st_size,
                "sha256": hashes[k],
            }
            for k in sorted(files)
        },
        "parameters": scenario.record(),
        "engine": engine,
        "versions": _versions(),
        "steps": {
            k: {kk: vv for kk, vv in v.items() if kk not in ("wall_s", "peak_mem_mb", "detail")}
            for k, v in status.items()
        },
        "report": report_kpis,
        "timing": {
            k: {
                "wall_s": v.get("wall_s"),
                "peak_mem_mb": v.get("peak_mem_mb"),
                "detail": v.get("detail", {}),
            }
            for k, v in status.items()
        },
    }
    write_json(manifest, run_dir / "manifest.json")
    return manifest


def summary_lines(manifest: dict[str, Any], run_dir: Path) -> list[str]:
    """A few lines telling what was produced and where to look."""
    lines = []
    for name, st in manifest["steps"].items():
        wall = manifest["timing"].get(name, {}).get("wall_s")
        t = f" in {wall:.1f} s" if isinstance(wall, int | float) else ""
        kpis = st.get("kpis") or {}
        shown = ", ".join(f"{k}={v}" for k, v in list(kpis.items())[:4])
        lines.append(f"  {name:<10} {st['status']}{t}" + (f" — {shown}" if shown else ""))
    lines.append(f"  report     {run_dir / 'report.html'}")
    lines.append(f"  manifest   {run_dir / 'manifest.json'}")
    return lines


@command
def command(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML (paths relative to it).")],
    out: Annotated[Path, typer.Option("--out", help="Run folder.")] = Path("runs/plan"),
    engine: Annotated[str, typer.Option(help="local | dask | ray")] = "local",
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (default: a local cluster).")
    ] = None,
    from_step: Annotated[
        str | None, typer.Option("--from", help="Start at this step: forecast|placement|routes.")
    ] = None,
    only: Annotated[str | None, typer.Option(help="Run only this step.")] = None,
    force: Annotated[bool, typer.Option(help="Rerun steps even if unchanged.")] = False,
) -> None:
    """Run forecast → placement → routes for SCENARIO into one run folder (resumable)."""
    from shipahead.cli.io import claim_output
    from shipahead.cli.progress import console

    with claim_output(out):
        manifest = run_plan(
            scenario,
            out,
            engine=engine,
            scheduler=scheduler,
            from_step=from_step,
            only=only,
            force=force,
        )
    con = console()
    con.print(f"[bold]shipahead plan[/] {scenario} → {out}")
    for line in summary_lines(manifest, out):
        con.print(line)

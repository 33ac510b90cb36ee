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
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, fields
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any

import typer
from shipahead.cli.engine import engine_session
from shipahead.cli.errors import STATE, CliInputError, command, register_file
from shipahead.cli.scenario import (
    INPUT_KINDS,
    Scenario,
    check_scenario_inputs,
    load_scenario,
    scenario_sources,
)
from shipahead.cli.settings import ForecastInputs, PlaceInputs, RouteInputs

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
#: the input files each step reads: its command's files, except those an earlier step makes
_FROM_STEPS = frozenset({"scenarios", "forecast"})
_STEP_INPUTS: dict[str, tuple[str, ...]] = {
    step: tuple(f.name for f in fields(files) if f.name not in _FROM_STEPS)
    for step, files in (
        ("forecast", ForecastInputs),
        ("placement", PlaceInputs),
        ("routes", RouteInputs),
    )
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


#: folder of a run that holds the snapshots of its database inputs
SNAPSHOTS = "inputs"
#: confirmed, not yet received orders the placement counted as stock (written with a store)
INBOUND_FILE = "inbound_orders.csv"


def _read_sources(
    scenario: Scenario, scenario_path: Path, run_dir: Path
) -> tuple[dict[str, Path], dict[str, dict[str, Any]]]:
    """Read every database input, check it against its contract (one line naming the table
    and the row's key on a problem) and stage a Parquet snapshot of each in ``run_dir``.

    Returns (input key → staged snapshot, input key → source as the manifest records it).
    Nothing is staged unless every source was read and passed its contract.
    """
    import tempfile

    from shipahead.cli.dbsource import read_checked
    from shipahead.cli.io import SOURCE_LABELS, STAGING_PREFIX, write_table

    sources = scenario_sources(scenario, scenario_path)
    if not sources:
        return {}, {}
    frames = {
        key: read_checked(src, INPUT_KINDS.get(key), f"inputs.{key}")
        for key, src in sorted(sources.items())
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=run_dir))
    STATE.staging.add(str(stage))
    files = {}
    for key, df in frames.items():
        path = write_table(df, stage / f"{key}.parquet")
        SOURCE_LABELS[str(path)] = f"inputs.{key} = {sources[key].describe()}"
        files[key] = path
    return files, {key: {**src.record(), "rows": len(frames[key])} for key, src in sources.items()}


def _settle_sources(files: dict[str, Path], staged: dict[str, Path], run_dir: Path) -> None:
    """Move the checked snapshots into ``run_dir/inputs`` (and point ``files`` at them)."""
    import os
    import shutil

    from shipahead.cli.io import SOURCE_LABELS

    if not staged:
        return
    target = run_dir / SNAPSHOTS
    target.mkdir(parents=True, exist_ok=True)
    stage = next(iter(staged.values())).parent
    for key, path in staged.items():
        dst = target / path.name
        os.replace(path, dst)
        SOURCE_LABELS[str(dst)] = SOURCE_LABELS.pop(str(path))
        files[key] = dst
    shutil.rmtree(stage, ignore_errors=True)
    STATE.staging.discard(str(stage))


def _drop_staged(staged: dict[str, Path]) -> None:
    import shutil

    if staged:
        stage = next(iter(staged.values())).parent
        shutil.rmtree(stage, ignore_errors=True)
        STATE.staging.discard(str(stage))


def history_as_of(path: Path) -> Any:
    """The history's last date (``ds``), read from the file's ``ds`` column alone."""
    import pandas as pd

    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        ds = pd.read_parquet(path, columns=["ds"])["ds"]
    else:
        ds = pd.read_csv(path, usecols=["ds"], dtype=str)["ds"]
    return pd.to_datetime(ds).max().date()


def _write_inbound(store: Any, run_dir: Path, files: dict[str, Path]) -> Any:
    """Write the store's confirmed, not yet received orders to ``run_dir/inbound_orders.csv``
    (the placement counts them as stock); returns their units per FC × SKU."""
    from shipahead.cli.io import write_table
    from shipahead.store.planner import confirmed_inbound

    with store.session() as session:
        orders, inbound = confirmed_inbound(session)
    path = run_dir / INBOUND_FILE
    if orders.empty:
        path.unlink(missing_ok=True)
        return inbound
    run_dir.mkdir(parents=True, exist_ok=True)
    files["inbound_orders"] = write_table(orders, path)
    return inbound


@contextmanager
def _store_errors(store: Any, what: str) -> Iterator[None]:
    """A database error while using ``store`` as one line (exit 2), password hidden; the
    transaction has rolled back, so the store is as it was."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        from shipahead.cli.dbsource import _scrub

        raise CliInputError(
            f"{what} {store.shown_url}: {_scrub(exc, store.engine.url)}",
            fix="check the store (disk space, permissions, the server); it is unchanged — "
            "rerun plan",
        ) from None


def _read_output(path: Path, kind: str | None) -> Any:
    from shipahead.cli.io import read_table

    if not path.is_file():
        return None
    return read_table(path, kind, check=False) if kind else read_table(path)


def _store_run(
    store: Any,
    run_id: str,
    as_of: Any,
    scenario: Scenario,
    run_dir: Path,
    manifest: dict[str, Any],
    inbound: Any,
    files: dict[str, Path],
) -> float:
    """Write the run into the store and ``report.html`` (which reads the store after the
    write: past runs' accuracy, the orders' states) in one transaction: a failure or a kill
    leaves the store as it was. Sets ``manifest["report"]`` and ``manifest["store"]["orders"]``
    (the order changes); returns the seconds the report took (reading and drawing)."""
    import pandas as pd
    from shipahead.cli.progress import step
    from shipahead.cli.report import build_report, read_store_view
    from shipahead.store.accuracy import write_forecast_extras
    from shipahead.store.planner import RunRecord, set_kpis, set_manifest, write_run

    lb = run_dir / "forecast" / "leaderboard.csv"
    kpis = {k: v.get("kpis") or {} for k, v in manifest["steps"].items()}
    freq = kpis.get("forecast", {}).get("freq")
    rec = RunRecord(
        run_id=run_id,
        as_of=as_of,
        scenario=scenario.scenario.name,
        scenario_sha256=manifest["scenario"]["sha256"],
        manifest=manifest,
        kpis=kpis,
        freq=freq if isinstance(freq, str) else None,
        forecast=_read_output(run_dir / "forecast" / "forecast.parquet", "forecast"),
        backtest=pd.read_csv(lb) if lb.is_file() else None,
        stock_targets=_read_output(run_dir / "placement" / "stock_targets.csv", "stock_targets"),
        orders=_read_output(run_dir / "placement" / "placement_orders.csv", "placement_orders"),
        routes=_read_output(run_dir / "routes" / "routes.csv", "routes"),
        inbound=inbound,
    )
    with store.session() as session:
        with step("store…"):
            changes = write_run(session, rec).summary()
            write_forecast_extras(session, run_id, as_of, run_dir / "forecast")
        t0 = time.perf_counter()
        with step("report.html…"):
            view = read_store_view(session, run_id, scenario.scenario.name, files["history"])
            manifest["report"] = build_report(run_dir, scenario, files, view)
        report_s = time.perf_counter() - t0
        set_kpis(session, run_id, "report", manifest["report"])
        manifest["store"]["orders"] = changes
        set_manifest(session, run_id, manifest)
    return report_s


def _manifest(
    scenario_path: Path,
    scenario: Scenario,
    files: dict[str, Path],
    hashes: dict[str, str],
    db_inputs: dict[str, dict[str, Any]],
    engine: str,
    status: dict[str, dict[str, Any]],
    report_kpis: dict[str, Any],
) -> dict[str, Any]:
    """The run's ``manifest.json``: inputs (path or redacted database source, sha256),
    parameters, versions, each step's status and KPIs, and the timings (seconds, MB) apart."""
    return {
        "scenario": {
            "file": scenario_path.name,
            "name": scenario.scenario.name,
            "sha256": file_sha256(scenario_path),
        },
        "inputs": {
            k: {
                **(
                    {**db_inputs[k], "snapshot": f"{SNAPSHOTS}/{files[k].name}"}
                    if k in db_inputs
                    else {"path": _rel(files[k], scenario_path)}
                ),
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


def run_plan(
    scenario_path: Path,
    run_dir: Path,
    *,
    engine: str = "local",
    scheduler: str | None = None,
    from_step: str | None = None,
    only: str | None = None,
    force: bool = False,
    store_url: str | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Run the pipeline; returns the manifest (also written to ``run_dir/manifest.json``).

    With ``store_url`` the run is also written to that store (keyed by ``run_id``, default
    ``<scenario name>@<as_of>``, and ``as_of``, the history's last date), and the store's
    confirmed, not yet received orders are counted as stock by the placement.
    """
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
    staged, db_inputs = _read_sources(scenario, scenario_path, run_dir)
    try:
        files.update(staged)
        _check_inputs(files)
        check_scenario_inputs(scenario, files, scenario_path)
        store = None
        if store_url is not None:
            from shipahead.cli.runs_cmd import open_cli_store

            store = open_cli_store(store_url)
    except BaseException as exc:
        from shipahead.cli.io import SOURCE_LABELS

        if isinstance(exc, CliInputError) and exc.file in SOURCE_LABELS:
            exc.file = SOURCE_LABELS[exc.file]  # a database input, not its staged snapshot
        _drop_staged(staged)
        raise
    _settle_sources(files, staged, run_dir)
    as_of = history_as_of(files["history"])
    run_id = run_id or f"{scenario.scenario.name}@{as_of.isoformat()}"
    inbound = None
    if store is not None:
        with _store_errors(store, "cannot read the confirmed orders of"):
            inbound = _write_inbound(store, run_dir, files)

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

    manifest = _manifest(scenario_path, scenario, files, hashes, db_inputs, engine, status, {})
    if store is None:
        from shipahead.cli.report import build_report

        with step("report.html…"):
            manifest["report"] = build_report(run_dir, scenario, files)
    else:
        manifest["store"] = {"url": store.shown_url, "run_id": run_id, "as_of": as_of.isoformat()}
        t0 = time.perf_counter()
        try:
            with _store_errors(store, f"cannot write run {run_id} to"):
                report_s = _store_run(
                    store, run_id, as_of, scenario, run_dir, manifest, inbound, files
                )
        finally:
            store.close()
        # the store's own time (seconds; not under "timing", which holds the steps): writing
        # the run, without the report (which reads the store back and scores past runs)
        manifest["store"]["wall_s"] = round(time.perf_counter() - t0 - report_s, 3)
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
    st = manifest.get("store")
    if st:
        changes = ", ".join(f"{n} {k}" for k, n in (st.get("orders") or {}).items() if n)
        lines.append(
            f"  store      run {st['run_id']} (as of {st['as_of']}) → {st['url']}"
            + (f" — orders: {changes}" if changes else "")
        )
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
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Run store (SQLAlchemy URL; ${VAR} from the environment). Default: "
            "sqlite:///<folder of --out>/shipahead.db.",
        ),
    ] = None,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Write no run store (files only).")
    ] = False,
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", help="Run id in the store. Default: <scenario name>@<as_of>."),
    ] = None,
) -> None:
    """Run forecast → placement → routes for SCENARIO into one run folder (resumable)."""
    from shipahead.cli.io import claim_output
    from shipahead.cli.progress import console
    from shipahead.cli.runs_cmd import default_store_url

    if no_store and store is not None:
        raise CliInputError("--store and --no-store exclude each other", fix="drop one")
    if run_id is not None and not (0 < len(run_id) <= 200):
        raise CliInputError("--run-id must be 1 to 200 characters", fix="use a shorter id")
    with claim_output(out):
        store_url = None if no_store else (store or default_store_url(out))
        manifest = run_plan(
            scenario,
            out,
            engine=engine,
            scheduler=scheduler,
            from_step=from_step,
            only=only,
            force=force,
            store_url=store_url,
            run_id=run_id,
        )
    con = console()
    con.print(f"[bold]shipahead plan[/] {scenario} → {out}")
    for line in summary_lines(manifest, out):
        con.print(line)

"""`shipahead route`: delivery routes over a road network; benchmark mode; `route replan`.

* ``shipahead route --stops S --fleet F --roads R [--traffic T] [--weather W --date D]
  [--depart HH:MM] [--engine auto|ortools|pyvrp] [--time-limit S] [--seed N]
  [--deterministic] [--max-snap-m M] --out DIR``
* ``shipahead route --instance FILE.vrp|.txt --time-limit S --sol-out FILE.sol``
* ``shipahead route --json problem.json [--roads R --traffic T --weather W --date D] --out DIR``
  (VROOM's problem format; ``solution.json`` is VROOM's output format)
* ``shipahead route replan --plan DIR --at HH:MM --events events.csv [--out DIR]``

Outputs (all-or-nothing): ``routes.csv``, ``unassigned.csv``, ``routes.geojson``,
``routes.html``, ``drivers/<vehicle_id>.md``, ``summary.json``, ``plan.json`` (what
``replan`` needs) and, for ``replan``, ``changes.csv``. ``--json`` writes ``solution.json``
(VROOM output), ``unassigned.csv``, ``summary.json`` and ``plan.json`` (the dispatch state),
plus, when the problem is planned on ``--roads`` (no matrices), every road output above.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from shipahead.cli.errors import CliInputError, register_file, require_file
from shipahead.cli.errors import command as _handled
from shipahead.cli.io import OutputDir, claim_output, read_table
from shipahead.cli.limits import check_option
from shipahead.cli.settings import (
    DEFAULTS,
    ReplanRun,
    RouteInputs,
    RouteRun,
    file_option,
    option,
)

from shipahead.hashing import file_sha256

app = typer.Typer(
    name="route",
    help="Delivery routes with ETAs over a real road network (and re-planning).",
    add_completion=False,
    pretty_exceptions_enable=False,
    invoke_without_command=True,
)

PLAN_FILE = "plan.json"


def _hhmm_to_s(value: str | None, option: str) -> int | None:
    """An option's HH:MM (the :mod:`shipahead.timeofday` rule) -> seconds; blank -> None."""
    from shipahead.timeofday import CLOCK_RULE, parse_clock

    if value is None or str(value).strip() == "":
        return None
    try:
        return parse_clock(str(value))
    except ValueError:
        raise CliInputError(
            f"{option} {value!r} is not a time", fix=f"write {CLOCK_RULE}, e.g. 08:30"
        ) from None


def _check_time_limit(time_limit: float) -> None:
    """``--time-limit`` (seconds): finite, > 0 and within the documented limit."""
    check_option(
        time_limit,
        "--time-limit",
        gt=0,
        limit_name="time_limit_s",
        example="10",
        what="time limit, s",
    )


def _plan_day(state: dict, routes) -> tuple[int, int]:
    """(first shift start or --depart, last shift end or return) of a plan, seconds."""
    import pandas as pd
    from shipahead.routing import to_seconds

    def secs(values, what: str) -> list[int]:
        out = []
        for k, x in enumerate(values):
            t = to_seconds(x, what=what, row=k, column=what, table="fleet")
            if t is not None:
                out.append(t)
        return out

    fleet = pd.DataFrame(state["fleet"])
    starts = secs(fleet.get("shift_start", []), "shift_start")
    depart = _hhmm_to_s(state.get("parameters", {}).get("depart"), "--depart")
    if depart is not None:
        starts = [depart]
    ends = secs(fleet.get("shift_end", []), "shift_end")
    if "kind" in routes.columns and "arrival" in routes.columns:
        ends += secs(routes.loc[routes["kind"] == "end", "arrival"], "arrival")
    return min(starts, default=0), max(ends, default=0)


def _records(df) -> list[dict]:
    import pandas as pd

    out = df.astype(object).where(pd.notna(df), None)
    return out.to_dict("records")


def _speed(traffic: Path | None, weather: Path | None, date: Any):
    import logging

    from shipahead.routing.traffic import SpeedModel

    from shipahead import routing

    traffic_df = read_table(traffic, "traffic") if traffic else None
    weather_df = None
    if weather:
        if date is None:
            raise CliInputError("--weather needs --date", fix="pass --date YYYY-MM-DD")
        weather_df = read_table(weather, "weather")
    try:
        speed = SpeedModel.from_tables(traffic_df, weather_df, date)
    except routing.InputError as exc:
        if weather_df is not None and "has no row for" in exc.message:
            logging.getLogger("shipahead.cli.route").warning(
                "%s; weather ignored (dry)", exc.message
            )
            speed = SpeedModel.from_tables(traffic_df, None, date)
        else:
            raise
    return speed, traffic_df, weather_df


def _write_plan(plan, out: OutputDir, extra_state: dict, changes=None) -> None:
    from shipahead.routing.outputs import (
        driver_sheets,
        routes_geojson,
        routes_map_html,
        summary_dict,
    )

    out.write_table(plan.routes, "routes.csv")
    out.write_table(plan.unassigned, "unassigned.csv")
    out.write_json(routes_geojson(plan), "routes.geojson")
    # depot names (the fcs/depots table's `name` column) for the map and the sheets
    depot_names = {
        str(r["depot_id"]): str(r["name"])
        for r in extra_state.get("depots") or ()
        if r.get("name") is not None
    }
    out.write_text(routes_map_html(plan, depot_names), "routes.html")
    for vid, text in driver_sheets(plan, depot_names).items():
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in vid)
        if safe != vid:  # keep ids that differ only in replaced characters apart
            safe += "-" + hashlib.sha256(vid.encode()).hexdigest()[:8]
        out.write_text(text, f"drivers/{safe}.md")
    if changes is not None:
        out.write_table(changes, "changes.csv")
    out.write_json(summary_dict(plan), "summary.json")
    out.write_json(extra_state, PLAN_FILE)


def _kpis(plan, timings: dict) -> dict:
    s = plan.summary
    return {
        "stops": s["stops"],
        "served": s["served"],
        "unassigned": s["unassigned"],
        "vehicles_used": s["vehicles_used"],
        "km": s["km"],
        "cost_total": s["cost"]["total"],
        "on_time_share": s["on_time_share"],
        "late_stops": s["late_stops"],
        "engine": s["engine"],
        **{f"time_{k}": v for k, v in timings.items()},
    }


def route_run(
    options: dict[str, Any],
    *,
    date: dt.date | str | None = None,
    depart: str | None = None,
    depot_fc: str | None = None,
) -> RouteRun:
    """Build the run once from option values named like ``PlanSettings`` fields (CLI flags or
    the scenario's ``[routing]``) and the day: ``date``, ``depart`` (HH:MM), ``depot_fc``."""
    from shipahead import routing

    settings = routing.PlanSettings(
        **{k: v for k, v in options.items() if v is not None},
        depart_s=_hhmm_to_s(depart, "--depart"),
    )
    return RouteRun(settings, date=date, depart=depart, depot_fc=depot_fc)


def execute(run: RouteRun, inputs: RouteInputs, out: OutputDir) -> dict:
    """Plan routes from files and write every output through ``out``; returns KPIs."""
    import pandas as pd
    from shipahead.cli._roads import load_network
    from shipahead.cli.progress import step

    from shipahead import routing

    t_all = time.perf_counter()
    stops, fleet, roads = (
        require_file(Path(getattr(inputs, w)), w) for w in ("stops", "fleet", "roads")
    )
    register_file("roads", roads)
    traffic, weather = inputs.traffic, inputs.weather
    date_s = None if run.date is None else str(pd.Timestamp(run.date).date())
    stops_df = read_table(stops, "stops")
    fleet_df = read_table(fleet, "fleet")
    depots_df = None
    for p, idc in ((inputs.depots, "depot_id"), (inputs.fcs, "fc_id")):
        if p is not None:
            d = read_table(Path(p), "fcs" if idc == "fc_id" else None)
            if idc not in d.columns:
                raise CliInputError(f"has no {idc!r} column", file=p, column=idc)
            keep = ["depot_id", "lat", "lon", *(["name"] if "name" in d.columns else [])]
            d = d.rename(columns={idc: "depot_id"})[keep]
            depots_df = d if depots_df is None else pd.concat([depots_df, d], ignore_index=True)
    speed, traffic_df, weather_df = _speed(traffic, weather, date_s)
    t0 = time.perf_counter()
    with step("Loading road network…"):
        net, road_info = load_network(roads)
    t_roads = time.perf_counter() - t0
    with step("Planning routes (matrices, solve, time-dependent simulation)…"):
        plan = routing.plan_routes(
            stops_df,
            fleet_df,
            net,
            speed=speed,
            settings=run.settings,
            depots=depots_df,
            default_depot=run.depot_fc,
            date=date_s,
        )
    plan.summary["timings"]["roads_s"] = round(t_roads, 2)
    plan.summary["roads_cache_hit"] = road_info["cache_hit"]
    state = {
        "kind": "shipahead-route-plan",
        "version": 1,
        "inputs": {
            name: None if p is None else _input_ref(Path(p), out.path)
            for name, p in (
                ("stops", stops),
                ("fleet", fleet),
                ("roads", roads),
                ("traffic", traffic),
                ("weather", weather),
            )
        },
        "parameters": run.parameters(date_s),
        "stops": _records(read_table(stops)),
        "fleet": _records(read_table(fleet)),
        "depots": None if depots_df is None else _records(depots_df),
        "traffic": None if traffic_df is None else _records(read_table(traffic)),
        "weather": None
        if weather_df is None
        else _records(read_table(weather).loc[lambda d: d["ds"].astype(str).str[:10] == date_s])
        if date_s
        else None,
        "done": [],
        "at": None,
    }
    _write_plan(plan, out, state)
    timings = {
        **plan.summary["timings"],
        "solve_s": round(sum(r["solve_s"] for r in plan.iterations), 2),
        "roads_cache_hit": bool(road_info["cache_hit"]),
        "total_s": round(time.perf_counter() - t_all, 2),
    }
    return _kpis(plan, timings)


def execute_instance(
    instance: Path, sol_out: Path, options: dict[str, Any], *, objective: str | None = None
) -> dict:
    """Benchmark mode: solve a VRPLIB/Solomon instance and write a VRPLIB .sol file.

    ``options`` are named like the ``SolveSettings`` fields (engine, time limit, seed, ...)."""
    import vrplib
    from shipahead.cli.io import write_text
    from shipahead.routing.instances import problem_from_vrplib, reported_cost, solution_text

    from shipahead import routing

    p = require_file(Path(instance), "instance")
    name = p.name.lower()
    try:
        if name.endswith(".vrp"):
            inst, kind = vrplib.read_instance(str(p)), "vrplib"
        elif name.endswith(".txt"):
            inst, kind = vrplib.read_instance(str(p), instance_format="solomon"), "solomon"
        else:
            raise CliInputError(
                f"unknown instance file type '{p.suffix or p.name}'",
                file=p,
                fix="use a VRPLIB .vrp or a Solomon .txt file",
            )
    except CliInputError:
        raise
    except Exception as exc:
        raise CliInputError(
            f"cannot be read as a {'VRPLIB' if name.endswith('.vrp') else 'Solomon'} "
            f"instance: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            file=p,
            fix="check the file is a complete instance",
        ) from None
    problem = problem_from_vrplib(
        inst, kind, **({"objective": objective} if objective and kind == "solomon" else {})
    )
    t0 = time.perf_counter()
    sol = routing.solve(problem, routing.SolveSettings(**options))
    wall = time.perf_counter() - t0
    problems = routing.check_solution(problem, sol)
    if problems:
        raise routing.SolverError(f"the plan failed the independent check: {problems[0]}")
    write_text(solution_text(problem, sol), sol_out)
    return {
        "instance": p.name,
        "cost": reported_cost(problem, sol.routes),
        "vehicles": sum(1 for r in sol.routes if r),
        "engine": sol.engine,
        "wall_s": round(wall, 2),
    }


def _vroom_limits():
    """Bounds of a VROOM problem: the documented stops/vehicles/time-limit limits."""
    from shipahead.cli.limits import limit
    from shipahead.routing.vroom import VroomLimits

    return VroomLimits(
        jobs=int(limit("stops")),
        vehicles=int(limit("vehicles")),
        time_limit_s=float(limit("time_limit_s")),
    )


def read_vroom_problem(path: Path):
    """Read and validate a VROOM problem file; bad JSON or a bad field is one line naming
    the file and the field (exit 2)."""
    from shipahead.routing.vroom import parse_vroom

    from shipahead import routing

    p = require_file(Path(path), "problem")
    lim = _vroom_limits()
    size = p.stat().st_size
    if size > lim.problem_bytes:
        raise CliInputError(
            f"is {size} bytes, above the limit of {lim.problem_bytes} bytes",
            file=p,
            fix="send a smaller problem",
        )
    try:
        doc = json.loads(p.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise CliInputError("is not UTF-8 text", file=p, fix="save it as UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise CliInputError(
            f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            file=p,
            fix="check the JSON syntax",
        ) from None
    except RecursionError:
        raise CliInputError("is nested too deeply", file=p) from None
    try:
        return parse_vroom(doc, limits=lim)
    except routing.InputError as exc:
        raise CliInputError(exc.message, file=p, fix=exc.fix) from None


def execute_json(
    *,
    problem: Path,
    roads: Path | None,
    traffic: Path | None,
    weather: Path | None,
    date: str | None,
    out: OutputDir,
) -> dict:
    """Solve a VROOM problem file and write solution.json (+ the road outputs)."""
    import pandas as pd
    from shipahead.cli._roads import load_network
    from shipahead.cli.progress import step
    from shipahead.routing.vroom import plan_date, solve_vroom_plan

    vp = read_vroom_problem(problem)
    net = None
    speed = None
    if not vp.uses_matrices:
        if roads is None:
            raise CliInputError(
                "the problem has no matrices: pass --roads to plan on a road network",
                file=problem,
                fix="add --roads FILE, or give matrices in the problem",
            )
        roads = require_file(Path(roads), "roads")
        register_file("roads", roads)
        day = date or plan_date(vp)
        speed, _, _ = _speed(traffic, weather, day)
        with step("Loading road network…"):
            net, _ = load_network(roads)
    elif roads is not None or traffic is not None or weather is not None:
        raise CliInputError(
            "the problem carries matrices: --roads, --traffic and --weather do not apply",
            file=problem,
            fix="leave them out, or remove matrices from the problem",
        )
    with step("Solving (VROOM problem)…"):
        res, plan = solve_vroom_plan(vp, network=net, speed=speed)
    if plan is not None:  # the road outputs of `shipahead route` (stop_id = job id)
        _write_plan(plan, out, res.state)
    else:
        out.write_json(res.state, PLAN_FILE)
        out.write_json({"summary": res.output["summary"]}, "summary.json")
        out.write_table(
            pd.DataFrame(
                [(u["id"], u.get("reason", "")) for u in res.output["unassigned"]],
                columns=["job_id", "reason"],
            ),
            "unassigned.csv",
        )
    out.write_json(res.output, "solution.json")
    s = res.output["summary"]
    return {
        "jobs": len(vp.jobs),
        "served": len(vp.jobs) - s["unassigned"],
        "routes": s["routes"],
        "cost": s["cost"],
        "unassigned": s["unassigned"],
    }


def _input_ref(path: Path, plan_dir: Path) -> dict:
    """How plan.json names an input: its path relative to the plan folder, name and sha256.

    Relative, so the same inputs give the same plan.json in any checkout or folder.
    """
    rel = os.path.relpath(path.resolve(), plan_dir.resolve())
    return {"path": Path(rel).as_posix(), "name": path.name, "sha256": file_sha256(path)}


def _input_path(state: dict, name: str, plan_dir: Path) -> Path:
    """The input file ``name`` of a plan state, resolved against the plan folder."""
    return plan_dir / state["inputs"][name]["path"]


def _rebase(path: Path, plan_dir: Path) -> str:
    """``path`` relative to ``plan_dir`` (POSIX separators)."""
    return Path(os.path.relpath(path.resolve(), plan_dir.resolve())).as_posix()


def _load_plan_state(plan_dir: Path) -> dict:
    f = plan_dir / PLAN_FILE
    if not plan_dir.is_dir():
        raise CliInputError(
            "plan folder not found", file=plan_dir, fix="pass the --out folder of `shipahead route`"
        )
    if not f.exists():
        raise CliInputError(
            f"no {PLAN_FILE} in the plan folder",
            file=plan_dir,
            fix="pass a folder written by `shipahead route`",
        )
    try:
        state = json.loads(f.read_text())
    except json.JSONDecodeError as exc:
        raise CliInputError(f"is not valid JSON: {exc.msg}", file=f) from None
    if state.get("kind") != "shipahead-route-plan":
        raise CliInputError("is not a shipahead route plan", file=f)
    return state


def execute_replan(run: ReplanRun, out: OutputDir) -> dict:
    """Re-plan a plan folder at ``run.at`` with events; writes the new plan and ``changes.csv``."""
    import pandas as pd
    from shipahead.cli._roads import load_network
    from shipahead.cli.progress import step
    from shipahead.routing.replan import replan_routes
    from shipahead.routing.traffic import SpeedModel

    from shipahead import routing

    plan_dir, at, events, roads = Path(run.plan), run.at, run.events, run.roads
    state = _load_plan_state(plan_dir)
    from shipahead.routing import EVENT_COLUMNS, hhmm

    at_s = _hhmm_to_s(at, "--at")
    if at_s is None:
        raise CliInputError("--at is required", fix="pass the time of the re-plan as HH:MM")
    routes_path = plan_dir / "routes.csv"
    register_file("routes", routes_path)
    routes = read_table(routes_path)
    first, last = _plan_day(state, routes)
    if not first <= at_s <= last:
        raise CliInputError(
            f"--at {at} is outside the plan's day ({hhmm(first)}–{hhmm(last)}, from the first "
            "shift start to the last shift end or return)",
            fix=f"re-plan at a time between {hhmm(first)} and {hhmm(last)} (24:00–47:59 = "
            "the next day)",
        )
    before = _hhmm_to_s(state.get("at"), "--at")
    if before is not None and at_s < before:
        raise CliInputError(
            f"--at {at} is before the re-plan this folder holds ({state['at']})",
            file=plan_dir,
            fix=f"re-plan at {state['at']} or later, or from an earlier plan folder",
        )
    ev = pd.DataFrame(columns=["type"])
    if events is not None:
        events = require_file(Path(events), "events")
        register_file("events", events)
        ev = read_table(events)
    # columns no event uses may be left out of the file
    ev = ev.reindex(columns=[*ev.columns, *(c for c in EVENT_COLUMNS if c not in ev.columns)])
    # incidents of earlier re-plans of this folder still hold (until their own end)
    kept = [dict(r) for r in state.get("incidents") or []]
    n_new = len(ev)
    if kept:
        ev = pd.concat([ev, pd.DataFrame(kept).reindex(columns=ev.columns)], ignore_index=True)
    road_path = Path(roads) if roads else _input_path(state, "roads", plan_dir)
    if not road_path.exists():
        raise CliInputError(
            "the plan's road network file is gone", file=road_path, fix="pass --roads FILE"
        )
    register_file("roads", road_path)
    params = state["parameters"]
    stops_df = pd.DataFrame(state["stops"])
    fleet_df = pd.DataFrame(state["fleet"])
    depots_df = pd.DataFrame(state["depots"]) if state.get("depots") else None
    traffic_df = pd.DataFrame(state["traffic"]) if state.get("traffic") else None
    weather_df = pd.DataFrame(state["weather"]) if state.get("weather") else None
    speed = SpeedModel.from_tables(traffic_df, weather_df, params.get("date"))
    with step("Loading road network…"):
        net, _ = load_network(road_path)
    settings = routing.PlanSettings(
        engine=params["engine"],
        time_limit_s=float(run.time_limit_s or params["time_limit_s"]),
        seed=int(params["seed"]),
        deterministic=bool(params["deterministic"]),
        max_snap_m=float(params["max_snap_m"]),
        max_iterations=int(params.get("max_iterations", DEFAULTS["max_iterations"])),
    )
    with step("Re-planning…"):
        res = replan_routes(
            stops_df,
            fleet_df,
            routes,
            ev,
            net,
            at_s=at_s,
            speed=speed,
            settings=settings,
            depots=depots_df,
            default_depot=params.get("depot_fc"),
            reassign_penalty=float(run.reassign_penalty),
            done_before=tuple(state.get("done") or ()),
            date=params.get("date"),
        )
    import logging

    for w in res.warnings:
        logging.getLogger("shipahead.cli.route").warning("%s", w)
    new_state = dict(state)
    # keep every incident (its start fixed: blank = this re-plan's --at) for later re-plans
    inc = ev[ev["type"].astype(str).str.strip().str.lower() == "incident"].copy()
    if len(inc):
        fresh = inc.index < n_new
        blank = inc["start"].isna() | (inc["start"].astype(str).str.strip() == "")
        inc["start"] = inc["start"].astype(object)
        inc.loc[fresh & blank, "start"] = hhmm(at_s)
        inc = inc.dropna(axis=1, how="all")
    new_state["incidents"] = _records(inc) if len(inc) else []
    ev = ev.iloc[:n_new]
    added = ev[ev["type"].astype(str).str.lower() == "add"] if len(ev) else ev
    if len(added):
        cols = [
            c
            for c in ("stop_id", "lat", "lon", "demand_units", "tw_start", "tw_end", "service_min")
            if c in added.columns
        ]
        new_state["stops"] = state["stops"] + _records(added[cols])
    cancelled = set(res.changes.loc[res.changes["change"] == "cancelled", "stop_id"].astype(str))
    new_state["stops"] = [r for r in new_state["stops"] if str(r["stop_id"]) not in cancelled]
    new_state["done"] = list(res.done)
    new_state["at"] = at
    new_state["inputs"] = {
        k: None if v is None else {**v, "path": _rebase(_input_path(state, k, plan_dir), out.path)}
        for k, v in state["inputs"].items()
    }
    if roads:
        new_state["inputs"]["roads"] = _input_ref(road_path, out.path)
    new_state["replanned_from"] = _rebase(plan_dir, out.path)
    _write_plan(res.plan, out, new_state, changes=res.changes)
    counts = res.changes["change"].value_counts().to_dict()
    rp = res.plan.summary["replan"]
    return {
        **_kpis(res.plan, {}),
        "changes": {str(k): int(v) for k, v in sorted(counts.items())},
        "dispatched": rp["dispatched"],
        "returning_empty": rp["returning_empty"],
        "idle": rp["idle"],
    }


@app.callback(invoke_without_command=True)
@_handled
def route(
    ctx: typer.Context,
    stops: file_option("--stops", "Stops table (CSV/Parquet).") = None,
    fleet: file_option("--fleet", "Fleet table (CSV/Parquet).") = None,
    roads: file_option("--roads", "Road network: .osm.pbf, .osm, .osm.bz2 or .graphml.") = None,
    traffic: file_option(
        "--traffic", "Traffic profile: hour, opt. weekday and road_class, speed_factor."
    ) = None,
    weather: file_option(
        "--weather", "Weather table: ds, precip_mm, snow_cm (or condition)."
    ) = None,
    date: option(
        str | None,
        "--date",
        "Delivery date YYYY-MM-DD (weekday of the traffic profile, weather row).",
    ) = None,
    depart: option(
        str | None,
        "--depart",
        "Earliest departure HH:MM for every vehicle, replacing the shift start; "
        "each vehicle leaves at the latest time its route allows from then on.",
    ) = None,
    depots: file_option(
        "--depots", "Depot table depot_id, lat, lon (if the fleet has no depot_lat/depot_lon)."
    ) = None,
    engine: option(str, "--engine", "auto | ortools | pyvrp.") = DEFAULTS["engine"],
    time_limit: option(float, "--time-limit", "Solver time limit, seconds.") = DEFAULTS[
        "time_limit_s"
    ],
    seed: option(int, "--seed", "Random seed.") = 0,
    deterministic: option(
        bool, "--deterministic", "Solution-limit based search: byte-identical reruns."
    ) = False,
    max_snap_m: option(
        float, "--max-snap-m", "Largest distance from a stop to a road, metres."
    ) = DEFAULTS["max_snap_m"],
    out: file_option("--out", "Output folder.") = None,
    instance: file_option(
        "--instance", "Benchmark mode: VRPLIB .vrp or Solomon .txt instance."
    ) = None,
    sol_out: file_option("--sol-out", "Benchmark mode: write the VRPLIB .sol here.") = None,
    json_problem: file_option(
        "--json",
        "VROOM problem (JSON): solved with its `options` (time_limit_s, engine, seed, date, "
        "depart); writes solution.json in VROOM's output format.",
    ) = None,
) -> None:
    """Plan delivery routes with simulated ETAs (or solve a benchmark instance)."""
    from shipahead.cli.progress import console

    if ctx.invoked_subcommand is not None:
        return
    _check_time_limit(time_limit)
    check_option(seed, "--seed", ge=0, example="0")
    if json_problem is not None:
        _json_mode(
            json_problem,
            stops=stops,
            fleet=fleet,
            instance=instance,
            depots=depots,
            roads=roads,
            traffic=traffic,
            weather=weather,
            date=date,
            out=out,
            flags={
                "--engine": engine != DEFAULTS["engine"],
                "--time-limit": time_limit != DEFAULTS["time_limit_s"],
                "--seed": seed != 0,
                "--deterministic": bool(deterministic),
                "--depart": depart is not None,
                "--max-snap-m": max_snap_m != DEFAULTS["max_snap_m"],
            },
        )
        return
    solve = {  # the solver options of both modes, named like the settings' fields
        "engine": engine,
        "time_limit_s": float(time_limit),
        "seed": int(seed),
        "deterministic": bool(deterministic),
    }
    if instance is not None:
        if sol_out is None:
            raise CliInputError("--instance needs --sol-out", fix="pass --sol-out FILE.sol")
        mixed = [
            n
            for n, v in (("--stops", stops), ("--fleet", fleet), ("--roads", roads), ("--out", out))
            if v is not None
        ]
        if mixed:
            raise CliInputError(
                f"--instance (benchmark mode) cannot be combined with {', '.join(mixed)}",
                fix="either --instance FILE --sol-out FILE.sol, or --stops/--fleet/--roads/--out",
            )
        with claim_output(sol_out, folder=False):
            k = execute_instance(instance, sol_out, solve)
        console().print(
            f"{k['instance']}: cost {k['cost']} with {k['vehicles']} routes "
            f"({k['engine']}, {k['wall_s']} s) → {sol_out}"
        )
        return
    missing = [
        n
        for n, v in (("--stops", stops), ("--fleet", fleet), ("--roads", roads), ("--out", out))
        if v is None
    ]
    if missing:
        raise CliInputError(
            f"missing {', '.join(missing)}",
            fix="shipahead route --stops S --fleet F --roads R --out DIR "
            "(or --instance FILE --sol-out FILE.sol)",
        )
    if engine not in ("auto", "ortools", "pyvrp"):
        raise CliInputError(f"--engine {engine!r} is unknown", fix="use auto, ortools or pyvrp")
    check_option(max_snap_m, "--max-snap-m", ge=0, limit_name="max_snap_m", example="500")
    if date is not None:
        try:
            dt.date.fromisoformat(date)
        except ValueError:
            raise CliInputError(f"--date {date!r} is not a date", fix="write YYYY-MM-DD") from None
    with claim_output(out), OutputDir(out) as od:
        run = route_run({**solve, "max_snap_m": float(max_snap_m)}, date=date, depart=depart)
        inputs = RouteInputs(stops, fleet, roads, traffic, weather, depots=depots)  # type: ignore[arg-type]
        k = execute(run, inputs, od)
    console().print(
        f"{k['served']}/{k['stops']} stops on {k['vehicles_used']} vehicles, {k['km']:.1f} km, "
        f"cost {k['cost_total']:.2f}, on time "
        + ("n/a" if k["on_time_share"] is None else f"{100 * k['on_time_share']:.1f}%")
        + f" (simulated), {k['unassigned']} unassigned → {out}"
    )


def _json_mode(problem: Path, *, flags: dict[str, bool], out: Path | None, date, **files) -> None:
    """``route --json``: checks of the flags, then :func:`execute_json`."""
    from shipahead.cli.progress import console

    mixed = [f"--{k}" for k in ("stops", "fleet", "instance", "depots") if files[k] is not None]
    if mixed:
        raise CliInputError(
            f"--json cannot be combined with {', '.join(mixed)}",
            fix="the problem file holds the jobs and the vehicles",
        )
    set_flags = [k for k, v in flags.items() if v]
    if set_flags:
        raise CliInputError(
            f"--json takes {', '.join(set_flags)} from the problem's options",
            fix="set options.engine / time_limit_s / seed / deterministic / depart / "
            "max_snap_m in the JSON",
        )
    if out is None:
        raise CliInputError("--json needs --out", fix="pass --out DIR")
    if date is not None:
        try:
            dt.date.fromisoformat(date)
        except ValueError:
            raise CliInputError(f"--date {date!r} is not a date", fix="write YYYY-MM-DD") from None
    register_file("problem", problem)
    with claim_output(out), OutputDir(out) as od:
        k = execute_json(
            problem=problem,
            roads=files["roads"],
            traffic=files["traffic"],
            weather=files["weather"],
            date=date,
            out=od,
        )
    console().print(
        f"{k['served']}/{k['jobs']} jobs on {k['routes']} routes, cost {k['cost']}, "
        f"{k['unassigned']} unassigned → {out}"
    )


@app.command("replan")
@_handled
def replan_command(
    plan: Annotated[Path, typer.Option("--plan", help="Folder written by `shipahead route`.")],
    at: Annotated[
        str,
        typer.Option(
            "--at",
            help="Time of the re-plan, HH:MM, within the plan's day (first shift start to "
            "last shift end or return; 24:00-47:59 = the next day).",
        ),
    ],
    events: file_option("--events", "Events table (see docs/routing.md).") = None,
    out: file_option("--out", "Output folder (default: PLAN/replan-HHMM).") = None,
    roads: file_option("--roads", "Road network file if it moved since the plan.") = None,
    reassign_penalty: option(
        float, "--reassign-penalty", "Cost per stop moved to another vehicle."
    ) = 50.0,
    time_limit: option(
        float | None, "--time-limit", "Solver time limit, seconds (default: the plan's)."
    ) = None,
) -> None:
    """Re-plan during the day: stops done/added/cancelled, positions, delays, incidents."""
    from shipahead.cli.progress import console

    if time_limit is not None:
        _check_time_limit(time_limit)
    check_option(reassign_penalty, "--reassign-penalty", ge=0, example="50")
    at_s = _hhmm_to_s(at, "--at")
    target = out or Path(plan) / f"replan-{at_s // 3600:02d}{(at_s % 3600) // 60:02d}"
    with claim_output(target), OutputDir(target) as od:
        k = execute_replan(ReplanRun(plan, at, events, roads, reassign_penalty, time_limit), od)
    ch = ", ".join(f"{n} {c}" for c, n in k["changes"].items())
    extra = [f"vehicle {v} newly dispatched with {n} stops" for v, n in k["dispatched"].items()]
    extra += [
        f"vehicle {v} has no stops left: drives back to its depot" for v in k["returning_empty"]
    ]
    extra += [f"vehicle {v} has no stops left (at its depot)" for v in k["idle"]]
    console().print(f"re-planned at {at}: {ch}" + "".join(f"; {x}" for x in extra) + f" → {target}")

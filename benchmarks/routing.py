"""Routing solver quality and scale vs best-known values (issue 5, "Figures").

Runs `routing.solve` with each engine (``ortools``: our OR-Tools adapter with its default
search = parallel cheapest insertion + guided local search; ``pyvrp``: plain PyVRP;
``auto``: PyVRP then OR-Tools from PyVRP's plan) on the same data in the same run:

- Solomon, all 56 instances, hierarchical objective (vehicles, then exact Euclidean
  distance) and distance-only objective (one-decimal truncation);
- CVRPLIB A/B/P/X sets in ``../shared/benchmarks/routing/cvrplib`` (TSPLIB rounding);
- scale points X-n1001-k43 (CVRP) and RC1_10_1 (VRPTW, 1000 customers).

Every plan passes the independent checker (`routing.check_solution`) before it counts.
Results are appended one JSON line per run (so a long sweep can be resumed); ``report``
prints one side-by-side table and writes markdown.

Usage::

    python benchmarks/routing.py run --limits 5 --sets solomon-h solomon-d cvrp \
        --out /tmp/routing_5s.jsonl
    python benchmarks/routing.py run --limits 60 --sets scale --out /tmp/routing_scale.jsonl
    python benchmarks/routing.py report /tmp/routing_*.jsonl --md docs/benchmarks/routing_solvers.md
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import time
from pathlib import Path

# this script is named like the package: drop its own folder from the path, add the repo root
import vrplib
from shipahead.routing.check import check_solution
from shipahead.routing.instances import problem_from_vrplib, reported_cost
from shipahead.routing.problem import SolveSettings
from shipahead.routing.solve import solve

DATA = Path(os.environ.get("SHIPAHEAD_BENCH", "/work/shared/benchmarks/routing"))
ENGINES = ("ortools", "pyvrp", "auto", "auto1")  # auto1: auto restricted to one process


def load_bks() -> dict[tuple[str, str], dict]:
    out = {}
    with open(DATA / "bks.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            out[(row["instance"], row["objective"])] = row
    return out


def cases(sets: list[str], only: list[str] | None) -> list[tuple[str, str, str, Path]]:
    """(set label, instance, objective, path)."""
    out = []
    for s in sets:
        if s in ("solomon-h", "solomon-d"):
            obj = "hierarchical" if s == "solomon-h" else "distance"
            for p in sorted((DATA / "solomon").glob("*.txt")):
                out.append((s, p.stem, obj, p))
        elif s == "cvrp":
            for p in sorted((DATA / "cvrplib").glob("*.vrp")):
                if p.stem != "X-n1001-k43":
                    out.append((s, p.stem, "distance", p))
        elif s == "scale":
            out.append((s, "X-n1001-k43", "distance", DATA / "cvrplib" / "X-n1001-k43.vrp"))
            out.append((s, "RC1_10_1", "distance", DATA / "gehring_homberger" / "RC1_10_1.vrp"))
        else:
            raise SystemExit(f"unknown set {s!r}")
    if only:
        out = [c for c in out if c[1] in only]
    return out


def run_one(
    label: str,
    name: str,
    objective: str,
    path: Path,
    engine: str,
    limit: float,
    seed: int,
    bks: dict,
) -> dict:
    t0 = time.perf_counter()
    if path.suffix == ".txt":
        inst = vrplib.read_instance(path, instance_format="solomon")
        problem = problem_from_vrplib(inst, "solomon", objective=objective)
    else:
        inst = vrplib.read_instance(path)
        problem = problem_from_vrplib(inst, "vrplib")
    read_s = time.perf_counter() - t0
    row = {
        "set": label,
        "instance": name,
        "objective": objective,
        "engine": engine,
        "limit_s": limit,
        "seed": seed,
        "read_s": round(read_s, 3),
    }
    b = bks.get((name, objective))
    if b:
        row["bks"] = float(b["bks_distance"])
        row["bks_vehicles"] = int(b["bks_vehicles"])
    row["load_avg_1min"] = round(os.getloadavg()[0], 2)
    ru0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    t1 = time.perf_counter()
    try:
        workers = 1 if engine == "auto1" else None
        eng = "auto" if engine == "auto1" else engine
        sol = solve(
            problem, SolveSettings(engine=eng, time_limit_s=limit, seed=seed, workers=workers)
        )
    except Exception as e:  # record and go on: a benchmark row, not a crash
        row.update({"error": f"{type(e).__name__}: {e}", "wall_s": time.perf_counter() - t1})
        return row
    row["wall_s"] = round(time.perf_counter() - t1, 3)
    ru1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    row["cpu_s"] = round(
        sum(
            b.ru_utime + b.ru_stime - a.ru_utime - a.ru_stime for a, b in zip(ru0, ru1, strict=True)
        ),
        2,
    )  # this process + reaped workers
    errs = check_solution(problem, sol)
    row["check_errors"] = len(errs)
    row["cost"] = round(reported_cost(problem, sol.routes), 4)
    row["vehicles"] = sum(1 for r in sol.routes if r)
    row["unassigned"] = len(sol.unassigned)
    row["winner"] = sol.engine
    for k in ("build_s", "first_solution_s", "solve_s"):
        row[k] = sol.stats.get(k)
    if b:
        row["gap_pct"] = round(100.0 * (row["cost"] / row["bks"] - 1.0), 3)
    return row


def cmd_run(a: argparse.Namespace) -> None:
    bks = load_bks()
    done = set()
    out = Path(a.out)
    if out.exists():
        for line in out.read_text().splitlines():
            r = json.loads(line)
            done.add((r["set"], r["instance"], r["engine"], r["limit_s"]))
    for limit in a.limits:
        for label, name, obj, path in cases(a.sets, a.only):
            for eng in a.engines:
                if (label, name, eng, limit) in done:
                    continue
                row = run_one(label, name, obj, path, eng, limit, a.seed, bks)
                with out.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
                print(
                    f"{label:10s} {name:14s} {eng:8s} {limit:5g}s cost={row.get('cost')} "
                    f"veh={row.get('vehicles')} gap={row.get('gap_pct')} "
                    f"err={row.get('error', row.get('check_errors'))}",
                    flush=True,
                )


def _fmt(x, nd=2) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def _key(r: dict) -> tuple:
    """Comparable quality of one row: hierarchical = (vehicles, distance)."""
    if r["objective"] == "hierarchical":
        return (r["vehicles"], r["cost"])
    return (r["cost"],)


def _valid(r: dict) -> bool:
    return "error" not in r and r.get("check_errors") == 0 and r.get("unassigned", 0) == 0


def summarize(rows: list[dict]) -> list[dict]:
    """One line per (set, limit, engine).

    Distance gaps of hierarchical rows only count where the plan has the best-known vehicle
    count (a plan with more vehicles is worse whatever its distance); the number of such
    instances is the "BKS vehicle count" column.
    """
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["set"] == "scale":
            continue
        groups.setdefault((r["set"], r["limit_s"], r["engine"]), []).append(r)
    by_inst: dict[tuple, dict] = {}
    for r in rows:
        by_inst.setdefault((r["set"], r["instance"], r["limit_s"]), {})[r["engine"]] = r
    out = []
    order = sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], ENGINES.index(kv[0][2])))
    for (s, lim, eng), rs in order:
        ok = [r for r in rs if _valid(r)]
        hier = s == "solomon-h"
        veh_ok = [r for r in ok if "bks_vehicles" in r and r["vehicles"] <= r["bks_vehicles"]]
        gap_rows = veh_ok if hier else ok
        gaps = [r["gap_pct"] for r in gap_rows if "gap_pct" in r]
        worse = better = 0
        if eng.startswith("auto"):
            for r in ok:
                other = by_inst[(s, r["instance"], lim)]
                singles = [
                    other[e] for e in ("ortools", "pyvrp") if e in other and _valid(other[e])
                ]
                if not singles:
                    continue
                best = min(singles, key=_key)
                kb, ka = _key(best), _key(r)
                tol = 0.001 * kb[-1]  # 0.1 %: noise between runs of one engine is larger
                if ka[:-1] > kb[:-1] or (ka[:-1] == kb[:-1] and ka[-1] > kb[-1] + tol):
                    worse += 1
                elif ka[:-1] < kb[:-1] or ka[-1] < kb[-1] - tol:
                    better += 1
        out.append(
            {
                "set": s,
                "limit_s": lim,
                "engine": eng,
                "n": len(rs),
                "ok": len(ok),
                "median_gap": statistics.median(gaps) if gaps else None,
                "mean_gap": statistics.fmean(gaps) if gaps else None,
                "max_gap": max(gaps) if gaps else None,
                "within_1pct": sum(g <= 1.0 for g in gaps),
                "bks_vehicles": len(veh_ok) if hier else None,
                "auto_vs_best_single": f"{better} better / {worse} worse"
                if eng.startswith("auto")
                else None,
            }
        )
    return out


def cmd_report(a: argparse.Namespace) -> None:
    rows = []
    for p in a.inputs:
        rows += [json.loads(x) for x in Path(p).read_text().splitlines() if x.strip()]
    summ = summarize(rows)
    head = (
        "| set | limit s | engine | instances | valid | median gap % | mean gap % | max gap % "
        "| gap ≤ 1 % | BKS vehicle count | auto vs the better single engine (±0.1 %) |"
    )
    lines = [head, "|" + "---|" * 11]
    for s in summ:
        lines.append(
            f"| {s['set']} | {s['limit_s']:g} | {s['engine']} | {s['n']} | {s['ok']} | "
            f"{_fmt(s['median_gap'])} | {_fmt(s['mean_gap'])} | {_fmt(s['max_gap'])} | "
            f"{s['within_1pct']} | {_fmt(s['bks_vehicles'])} | "
            f"{_fmt(s['auto_vs_best_single'])} |"
        )
    scale = [r for r in rows if r["set"] == "scale"]
    if scale:
        lines += [
            "",
            "| instance | engine | limit s | cost | BKS | gap % | vehicles | "
            "first feasible s | build s | valid |",
            "|" + "---|" * 10,
        ]
        for r in sorted(scale, key=lambda r: (r["instance"], ENGINES.index(r["engine"]))):
            lines.append(
                f"| {r['instance']} | {r['engine']} | {r['limit_s']:g} | {_fmt(r.get('cost'))} | "
                f"{_fmt(r.get('bks'))} | {_fmt(r.get('gap_pct'))} | {_fmt(r.get('vehicles'))} | "
                f"{_fmt(r.get('first_solution_s'))} | {_fmt(r.get('build_s'))} | "
                f"{'error: ' + r['error'] if 'error' in r else r.get('check_errors') == 0} |"
            )
    if a.per_instance:
        by: dict[tuple, dict] = {}
        for r in rows:
            if r["set"] != "scale":
                by.setdefault((r["set"], r["limit_s"], r["instance"]), {})[r["engine"]] = r
        engs = [e for e in ENGINES if any(e in v for v in by.values())]
        lines += [
            "",
            "Per instance: cost (vehicles) and gap % vs BKS; `!` = invalid or no plan.",
            "",
            "| set | limit s | instance | BKS (veh) | " + " | ".join(engs) + " |",
            "|" + "---|" * (4 + len(engs)),
        ]
        for (s_, lim, inst), v in sorted(by.items()):
            any_r = next(iter(v.values()))
            cells = []
            for e in engs:
                r = v.get(e)
                if r is None:
                    cells.append("")
                elif not _valid(r):
                    cells.append("!")
                else:
                    cells.append(f"{r['cost']:.1f} ({r['vehicles']}) {_fmt(r.get('gap_pct'))}")
            lines.append(
                f"| {s_} | {lim:g} | {inst} | {_fmt(any_r.get('bks'))} "
                f"({_fmt(any_r.get('bks_vehicles'))}) | " + " | ".join(cells) + " |"
            )
    table = "\n".join(lines)
    print(table)
    if a.md:
        md = Path(a.md)
        md.parent.mkdir(parents=True, exist_ok=True)
        intro = md.read_text() if md.exists() and a.keep_intro else ""
        marker = "<!-- table -->"
        if intro and marker in intro:
            intro = intro[: intro.index(marker)]
        body = (
            f"{intro}{marker}\n\nMachine: {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}; inputs: {', '.join(map(str, a.inputs))}\n\n"
            f"{table}\n"
        )
        md.write_text(body)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--limits", type=float, nargs="+", default=[5.0])
    r.add_argument("--sets", nargs="+", default=["solomon-h", "solomon-d", "cvrp"])
    r.add_argument("--engines", nargs="+", default=["ortools", "pyvrp", "auto"])
    r.add_argument("--only", nargs="*", help="instance names to keep")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", required=True)
    p = sub.add_parser("report")
    p.add_argument("inputs", nargs="+")
    p.add_argument("--md")
    p.add_argument("--per-instance", action="store_true", help="add a per-instance table")
    p.add_argument(
        "--keep-intro",
        action="store_true",
        help="keep the markdown text above the '<!-- table -->' marker",
    )
    a = ap.parse_args(argv)
    cmd_run(a) if a.cmd == "run" else cmd_report(a)


if __name__ == "__main__":
    main()

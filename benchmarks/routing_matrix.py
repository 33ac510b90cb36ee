# ruff: noqa: E501  (markdown table rows are long f-strings)
"""Routing network figures: matrix speed on Porto, and the traffic replay on Columbus.

1. Matrix: 1,000 x 1,000 travel times (and distances) on the Porto road graph
   (``/work/shared/sample-sources/roads/porto_pt.osm.pbf``): networkx single-source
   Dijkstra (20 sources, extrapolated), plain ``scipy.sparse.csgraph.dijkstra`` on one core,
   and ``routing.shortest_path_matrices`` (packed time+length weights, worker processes).
2. Traffic replay (sample scenario, Columbus OH): a plan made with free-flow travel times,
   replayed in the exact time-dependent simulation under the traffic profile and weather,
   vs the time-dependent plan: share of stops late and ETA error of each plan's own ETAs
   against the simulation.

Run: ``python benchmarks/routing_matrix.py [--skip-matrix] [--skip-replay]``; prints a
table and writes ``docs/benchmarks/routing_network.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

PORTO = Path("/work/shared/sample-sources/roads/porto_pt.osm.pbf")
SAMPLE = ROOT / "sample_data"
OUT = ROOT / "docs" / "benchmarks" / "routing_network.md"


def _clock():
    import resource

    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter(), time.process_time(), ch.ru_utime + ch.ru_stime


def _since(c0):
    w, s, ch = _clock()
    return w - c0[0], s - c0[1], ch - c0[2]


def matrix_figures(n: int = 1000, nx_sources: int = 20, workers: int = 2) -> tuple[list[str], dict]:
    import tempfile

    import networkx as nx
    from scipy.sparse import csgraph
    from shipahead.cli._roads import load_network

    from shipahead import routing

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SHIPAHEAD_CACHE_DIR"] = tmp
        t0 = time.perf_counter()
        load_network(PORTO)  # cold: parse + prepare + write the cache
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        net, info = load_network(PORTO)  # from the cache
        t_load = time.perf_counter() - t0
        del os.environ["SHIPAHEAD_CACHE_DIR"]
    rng = np.random.default_rng(0)
    src = np.sort(rng.choice(net.n_nodes, n, replace=False))

    # networkx single-source Dijkstra, extrapolated
    G = nx.DiGraph()
    G.add_weighted_edges_from(
        zip(net.arc_tail.tolist(), net.arc_head.tolist(), net.arc_time_s.tolist(), strict=True)
    )
    c0 = _clock()
    nx_rows = []
    for s in src[:nx_sources]:
        d = nx.single_source_dijkstra_path_length(G, int(s), weight="weight")
        nx_rows.append([d[int(t)] for t in src])
    w, cpu, _ = _since(c0)
    t_nx, c_nx = w * n / nx_sources, cpu * n / nx_sources

    # plain scipy, one process, times only
    csr = net.csr(net.arc_time_s)
    c0 = _clock()
    T_sp = np.vstack(
        [csgraph.dijkstra(csr, indices=src[i : i + 100])[:, src] for i in range(0, n, 100)]
    )
    t_sp, c_sp, _ = _since(c0)

    # ours: times + distances, worker processes
    c0 = _clock()
    T, D = routing.shortest_path_matrices(net, src, workers=workers)
    t_ours, c_self, c_child = _since(c0)
    c0 = _clock()
    T1, _ = routing.shortest_path_matrices(net, src, workers=1)
    t_ours1, c_ours1, _ = _since(c0)
    idle = c_self + c_child / workers

    err_sp = float(np.abs(T - T_sp).max())
    err_nx = float(np.abs(T[: len(nx_rows)] - np.asarray(nx_rows)).max())
    rows = [
        "| method | what | wall (s) | CPU (s) | wall on idle cores (s) | max abs diff vs networkx (s) |",
        "|---|---|---|---|---|---|",
        f"| networkx `single_source_dijkstra_path_length` | times, 1 core, {nx_sources} sources × {n // nx_sources} (extrapolated) | {t_nx:.1f} | {c_nx:.1f} | {c_nx:.1f} | 0 |",
        f"| scipy `csgraph.dijkstra` (plain) | times, 1 process | {t_sp:.1f} | {c_sp:.1f} | {c_sp:.1f} | {float(np.abs(T_sp[: len(nx_rows)] - np.asarray(nx_rows)).max()):.4f} |",
        f"| `routing.shortest_path_matrices`, 1 process | times + distances (contracted graph) | {t_ours1:.1f} | {c_ours1:.1f} | {c_ours1:.1f} | — |",
        f"| `routing.shortest_path_matrices`, {workers} processes | times + distances (contracted graph) | {t_ours:.1f} | {c_self + c_child:.1f} | **{idle:.1f}** | {err_nx:.4f} |",
    ]
    figs = {
        "nodes": net.n_nodes,
        "arcs": net.n_arcs,
        "load_s": round(t_load, 1),
        "cold_s": round(t_cold, 1),
        "cache_hit": info["cache_hit"],
        "networkx_s": round(t_nx, 1),
        "scipy_s": round(t_sp, 1),
        "ours_1p_s": round(t_ours1, 1),
        "ours_s": round(t_ours, 1),
        "ours_cpu_s": round(c_self + c_child, 2),
        "ours_idle_wall_s": round(idle, 2),
        "max_diff_vs_scipy_s": err_sp,
        "mean_distance_km": round(float(D[D > 0].mean()) / 1000, 2),
        "equal_1p": bool(np.array_equal(T, T1)),
    }
    return rows, figs


def replay_figures(time_limit: float = 10.0) -> tuple[list[str], dict]:
    from shipahead.cli._roads import load_network
    from shipahead.routing import PlanSettings, simulate_solution
    from shipahead.routing.traffic import SpeedModel

    from shipahead import routing

    net, _ = load_network(SAMPLE / "roads" / "columbus_oh.osm.pbf")
    stops = pd.read_csv(SAMPLE / "stops.csv")
    fleet = pd.read_csv(SAMPLE / "fleet.csv")
    traffic = pd.read_csv(SAMPLE / "traffic.csv")
    weather = pd.read_csv(SAMPLE / "weather.csv")
    date = "2022-11-01"
    settings = PlanSettings(time_limit_s=time_limit, seed=0)
    td_speed = SpeedModel.from_tables(traffic, weather, date)

    free = routing.plan_routes(stops, fleet, net, speed=SpeedModel.free_flow(), settings=settings)
    # replay the free-flow plan (same routes, same departures) under traffic + weather
    replay_sim = routing.Simulator(net, td_speed, free.node_graph)
    sims, _ = simulate_solution(free.problem, free.solution.routes, replay_sim)
    ff_sims, _ = simulate_solution(free.problem, free.solution.routes, free.simulator)
    served = sum(len(s.visits) for s in sims)
    late_ff = sum(s.late_stops for s in sims)
    err_ff = [
        abs(a.arrival_s - b.arrival_s) / 60
        for s, f in zip(sims, ff_sims, strict=True)
        for a, b in zip(s.visits, f.visits, strict=True)
    ]

    td = routing.plan_routes(stops, fleet, net, speed=td_speed, settings=settings)
    kept = next(r for r in td.iterations if r["kept"])
    rows = [
        "| plan | stops served | late under traffic (share) | its ETAs vs simulation: mean / max abs error (min) | km | cost |",
        "|---|---|---|---|---|---|",
        f"| free-flow plan, replayed under traffic + weather | {served} | {late_ff} ({late_ff / served:.1%}) | {np.mean(err_ff):.1f} / {np.max(err_ff):.1f} | {free.summary['km']:.1f} | {free.summary['cost']['total']:.0f} (free-flow) |",
        f"| time-dependent plan ({len(td.iterations)} plan/simulate rounds) | {td.summary['served']} | {td.summary['late_stops']} ({1 - (td.summary['on_time_share'] or 0):.1%}) | {kept['eta_mean_abs_error_min']:.1f} / {kept['eta_max_abs_error_min']:.1f} | {td.summary['km']:.1f} | {td.summary['cost']['total']:.0f} |",
    ]
    figs = {
        "free_late": late_ff,
        "free_served": served,
        "free_eta_mean_err_min": round(float(np.mean(err_ff)), 2),
        "free_eta_max_err_min": round(float(np.max(err_ff)), 2),
        "td_late": td.summary["late_stops"],
        "td_served": td.summary["served"],
        "td_iterations": td.iterations,
        "weather": "2022-11-01 Franklin County rows: heavy rain (≥ 10 mm) → residential ×0.75, motorway ×0.905",
    }
    return rows, figs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-matrix", action="store_true")
    ap.add_argument("--skip-replay", action="store_true")
    ap.add_argument("--time-limit", type=float, default=10.0)
    args = ap.parse_args()
    cpus = len(os.sched_getaffinity(0))
    lines = [
        "# Routing network figures",
        "",
        f"Machine: {cpus} cores ({platform.processor() or platform.machine()}), Python {platform.python_version()}; "
        "other jobs were sharing the machine, so wall times are upper bounds.",
        f"Command: `python benchmarks/routing_matrix.py` (run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).",
        "",
    ]
    if not args.skip_matrix:
        rows, figs = matrix_figures()
        lines += [
            "## Travel-time matrix, 1,000 × 1,000, Porto",
            "",
            f"Graph after preparation: {figs['nodes']:,} nodes, {figs['arcs']:,} arcs (one per node pair); "
            f"read + prepare {figs['cold_s']} s cold, {figs['load_s']} s from the cache. "
            "1,000 random nodes (seed 0) as sources and targets.",
            "",
            *rows,
            "",
            '"Wall on idle cores" = CPU time of the parent + the workers\' CPU time divided by the '
            "number of workers (what the wall time is when nothing else runs); the wall column is "
            "what this run got on the shared machine.",
            "",
            f"Max |difference| ours vs plain scipy: {figs['max_diff_vs_scipy_s']:.4f} s (arc times rounded to the ms "
            "inside the packed weight). Mean distance along the fastest path: "
            f"{figs['mean_distance_km']} km. 1-process and 2-process results identical: {figs['equal_1p']}.",
            "",
        ]
        print("\n".join(rows))
    if not args.skip_replay:
        rows, figs = replay_figures(args.time_limit)
        lines += [
            "## Traffic replay, sample scenario (Columbus OH, 75 stops, 8 vans, 2022-11-01, Tuesday)",
            "",
            f"Both plans: `--engine auto`, {args.time_limit:g} s per solve, seed 0. Traffic: `sample_data/traffic.csv` "
            "(hour × weekday × road class speed factors), weather: `sample_data/weather.csv` "
            f"({figs['weather']}).",
            "",
            *rows,
            "",
            '"Its ETAs": for the free-flow plan, the free-flow ETAs a user would have been given; for the '
            "time-dependent plan, the ETAs of the bucketed static model the solver used (users get the "
            "simulated ones).",
            "",
        ]
        print("\n".join(rows))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # keep the sections of a previous run that were skipped this time
    text = "\n".join(lines) + "\n"
    if OUT.exists() and (args.skip_matrix or args.skip_replay):
        old = OUT.read_text().split("\n## ")
        keep = [
            sec
            for sec in old[1:]
            if (args.skip_matrix and sec.startswith("Travel-time matrix"))
            or (args.skip_replay and sec.startswith("Traffic replay"))
        ]
        text = text.rstrip("\n") + "\n\n" + "\n## ".join(["", *keep]).lstrip("\n") + "\n"
    OUT.write_text(text)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

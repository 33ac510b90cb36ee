"""Placement benchmark: optimality vs an independent reference, rounding cost, scale ladder.

Sections (each can be run alone with ``--only``):

* ``optimality`` — generated instances: the package's LP optimum (monolithic HiGHS, GLOP, and
  the decomposition's bounds) vs an independent reference written here with highspy's modelling
  API, variable by variable from the *tables* (not the package's arrays); rounding cost of the
  integer plan. Also the sample scenario (sample_data/, scenarios = empirical 2-week totals of
  the last 20 weeks of history) for the rounding cost.
* ``ladder`` — S SKUs × F FCs × R regions × K scenarios, each region served by its 4 nearest
  FCs, FC capacity binding (60 % of the volume of the demand nearest to it): build seconds,
  solve seconds, peak memory (RSS of the process tree), bound and gap of the decomposition;
  the monolithic HiGHS LP (same arrays) at the sizes given by ``--mono``; a projection to
  S = 1,000,000 from the measured per-SKU pricing time.

Usage::

    nice python benchmarks/placement.py [--only optimality,ladder] [--ladder 100,1000,10000]
        [--mono 100,1000] [--workers 2] [--out docs/benchmarks/placement.md]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from shipahead import placement as P

ROOT = Path(__file__).resolve().parents[1]

W = 14.0


# --------------------------------------------------------------------------- helpers
class PeakRSS:
    """Sample the RSS of this process and its children every 0.2 s; keep the peak (bytes)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                rss = me.memory_info().rss
                for c in me.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        rss += c.memory_info().rss
                self.peak = max(self.peak, rss)
            except psutil.Error:
                pass
            self._stop.wait(0.2)

    def __enter__(self) -> PeakRSS:
        self._t.start()
        return self

    def __exit__(self, *a) -> None:
        self._stop.set()
        self._t.join()


def reference_lp(t: dict[str, pd.DataFrame], window_days: float) -> float:
    """The model of issue 4, written out with highspy's modelling API from the tables."""
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    skus = t["skus"].set_index("sku_id")
    fcs = list(t["fcs"]["fc_id"])
    cap = t["fcs"].set_index("fc_id")["capacity_m3"]
    inv = t["inventory"].set_index(["fc_id", "sku_id"])["on_hand_units"].to_dict()
    il = t["inbound_lanes"]
    lanes = t["lanes"].groupby("region_id")
    sc = t["scenarios"]
    prob = sc.groupby("scenario")["prob"].first()
    x = {
        (s, f): h.addVariable(lb=0, obj=skus.at[s, "holding_cost_per_unit_day"] * window_days)
        for s in skus.index
        for f in fcs
    }
    inflow = {k: [] for k in x}
    for r in t["supply"].itertuples(index=False):
        qs = []
        for a in il[il["node_id"] == r.node_id].itertuples(index=False):
            q = h.addVariable(lb=0, obj=a.cost_per_unit)
            qs.append(q)
            inflow[(r.sku_id, a.fc_id)].append(q)
        h.addConstr(sum(qs) <= r.available_units)
    for (s, f), v in x.items():
        h.addConstr(v - sum(inflow[(s, f)]) == inv.get((f, s), 0))
    for f in fcs:
        h.addConstr(sum(skus.at[s, "unit_volume_m3"] * x[(s, f)] for s in skus.index) <= cap[f])
    out = {}
    for r in sc.itertuples(index=False):
        p = prob[r.scenario]
        terms = []
        for ln in lanes.get_group(r.region_id).itertuples(index=False):
            y = h.addVariable(lb=0, obj=p * ln.cost_per_unit)
            terms.append(y)
            out.setdefault((r.sku_id, ln.fc_id, r.scenario), []).append(y)
        u = h.addVariable(lb=0, obj=p * skus.at[r.sku_id, "stockout_cost_per_unit"])
        h.addConstr(sum(terms) + u == r.qty_units)
    for (s, f, _), ys in out.items():
        h.addConstr(sum(ys) <= x[(s, f)])
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return float(h.getInfo().objective_function_value)


def sample_scenarios(root: Path) -> pd.DataFrame:
    """Empirical 2-week-total scenarios (10/30/50/70/90 % quantiles of the last 20 weeks)."""
    h = pd.read_csv(root / "history.csv", dtype={"region_id": str})
    h["ds"] = pd.to_datetime(h["ds"])
    last = h[h["ds"] > h["ds"].max() - pd.Timedelta(weeks=20)].sort_values("ds")
    rows = []
    for (s, r), y in last.groupby(["sku_id", "region_id"])["y"]:
        v = y.to_numpy(float)
        tot = v[:-1] + v[1:]
        for k, q in enumerate(np.quantile(tot, [0.1, 0.3, 0.5, 0.7, 0.9])):
            rows.append((s, r, f"q{k}", 0.2, round(q)))
    return pd.DataFrame(rows, columns=["sku_id", "region_id", "scenario", "prob", "qty_units"])


# --------------------------------------------------------------------------- sections
def optimality(lines: list[str], results: dict) -> None:
    lines += [
        "## Optimality vs an independent reference LP",
        "",
        "Reference: the model written out with highspy's modelling API, variable by variable "
        "from the tables (benchmarks/placement.py `reference_lp`), not the package's array "
        "builder. Decomposition run with gap tolerance 1e-7, blocks of 3 SKUs.",
        "",
        "| instance (S,F,R,K) | reference LP | package HiGHS LP | rel. diff | GLOP rel. diff "
        "| decomposition LB / UB rel. diff | integer plan | rounding cost vs bound |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = []
    for S, F, R, K, seed in [(20, 5, 10, 3, 0), (40, 6, 15, 4, 1), (30, 8, 12, 5, 2)]:
        inst = P.generate_instance(S, F, R, K, seed=seed)
        t = inst.tables()
        ref = reference_lp(t, W)
        tables = P.PlacementTables(**t)
        mono = P.plan(tables, P.PlacementSettings(window_days=W, method="monolithic"))
        glop = P.plan(
            tables, P.PlacementSettings(window_days=W, method="monolithic", lp_solver="glop")
        ).summary["lp_lower_bound"]
        dec = P.plan(
            tables,
            P.PlacementSettings(
                window_days=W,
                method="decomposition",
                block_size=3,
                n_workers=1,
                gap_tolerance=1e-7,
                sample_skus=0,
            ),
        ).summary
        s = mono.summary
        rel = (s["lp_lower_bound"] - ref) / ref
        rows.append(
            {
                "instance": [S, F, R, K],
                "reference": ref,
                "lp": s["lp_lower_bound"],
                "rel": rel,
                "glop_rel": (glop - ref) / ref,
                "dec_lb_rel": (dec["lp_lower_bound"] - ref) / ref,
                "dec_ub_rel": (dec["lp_plan_cost"] - ref) / ref,
                "integer": s["integer_plan_cost"],
                "rounding": s["gap"],
            }
        )
        r = rows[-1]
        lines.append(
            f"| ({S},{F},{R},{K}) | {ref:,.4f} | {r['lp']:,.4f} | {rel:+.1e} | "
            f"{r['glop_rel']:+.1e} | {r['dec_lb_rel']:+.1e} / {r['dec_ub_rel']:+.1e} | "
            f"{r['integer']:,.2f} | {r['rounding']:.3%} |"
        )
        print(lines[-1], flush=True)
    results["optimality"] = rows
    root = ROOT / "sample_data"
    if (root / "history.csv").exists():
        scen = sample_scenarios(root)
        tabs = {
            n: pd.read_csv(root / f"{n}.csv")
            for n in ("fcs", "skus", "inventory", "supply", "inbound_lanes")
        }
        import geopandas as gpd

        regions = gpd.read_file(root / "regions.geojson")
        tabs["regions"] = regions.assign(region_id=regions["region_id"].astype(str))
        t0 = time.perf_counter()
        res = P.plan(
            P.PlacementTables(scenarios=scen, **tabs),
            P.PlacementSettings(window_days=W, promise_days=2),
        )
        secs = time.perf_counter() - t0
        s = res.summary
        results["sample"] = {k: s[k] for k in ("lp_lower_bound", "integer_plan_cost", "gap")}
        lines += [
            "",
            f"Sample scenario (sample_data/: {s['n_skus']} SKUs, {s['n_fcs']} FCs, "
            f"{s['n_regions']} regions, {s['n_scenarios']} scenarios, promise 2 days, lanes from "
            f"geography): LP bound {s['lp_lower_bound']:,.2f}, integer plan "
            f"{s['integer_plan_cost']:,.2f}, **rounding cost {s['gap']:.4%}** of the bound "
            f"(target ≤ 0.5 %); fill rate {s['expected_fill_rate']:.2%}; {secs:.1f} s.",
        ]
        print(lines[-1], flush=True)
    lines.append("")


def monolithic_lp(pb, time_limit: float) -> dict:
    """One monolithic HiGHS LP of the same arrays (default HiGHS options), with a time limit.

    Returns build/solve seconds, objective (None if stopped by the limit) and HiGHS' status.
    """
    from shipahead.placement.model import build_block
    from shipahead.placement.solvers import HighsBlock

    t0 = time.perf_counter()
    blk = build_block(pb, 0, pb.n_skus, capacity_rows=True)
    hb = HighsBlock(blk, time_limit_s=time_limit)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    hb.h.run()
    t_solve = time.perf_counter() - t0
    st = hb.h.modelStatusToString(hb.h.getModelStatus())
    obj = float(hb.h.getInfo().objective_function_value) if st == "Optimal" else None
    return {"build_s": t_build, "solve_s": t_solve, "lp": obj, "status": st}


def ladder(
    lines: list[str],
    results: dict,
    sizes: list[int],
    mono: list[int],
    workers: int,
    time_limit: float,
    budget: float,
    mono_limit: float,
    drop_columns: bool = True,
) -> None:
    lines += [
        f"## Scale ladder (decomposition, engine local, {workers} worker processes)",
        "",
        "Generated by `placement.generate_instance(S, F, R, K, seed=0)`; every region is served "
        "by its 4 nearest FCs; capacity binds at every FC. Gap tolerance 1e-3 (0.1 %) for "
        f"S ≤ 1000 (loop time limit {time_limit:g} s) and 5e-3 (0.5 %) above, where the loop's "
        f"time limit is set so that build + solve fit in {budget:g} s. 'build' = tables → "
        "arrays plus worker start (blocks built, HiGHS models passed); 'solve' = sampled prices "
        "+ decomposition loop; 'finish' = rounding, recourse re-solve, checks and tables. Peak "
        "memory = RSS of the process tree.",
        "",
        "| S,F,R,K | LP columns | build s | solve s | build+solve s | finish s | rounds "
        "| lower bound | LP plan (upper) | LP gap | integer plan | gap vs bound | peak GB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    out = []
    for S in sizes:
        F, R, K = (10, 50, 5) if S <= 100 else (20, 100, 5)
        inst = P.generate_instance(S, F, R, K, seed=0)
        tol = 1e-3 if S <= 1000 else 5e-3
        with PeakRSS() as pk:
            t0 = time.perf_counter()
            pb = P.build_problem(
                P.PlacementTables(**inst.tables()), P.PlacementSettings(window_days=W)
            )
            t_arr = time.perf_counter() - t0
            tl = time_limit if S <= 1000 else max(30.0, budget - t_arr - 15.0)
            st = P.PlacementSettings(
                window_days=W,
                method="decomposition",
                n_workers=workers,
                block_size=10,
                gap_tolerance=tol,
                time_limit_s=tl,
                drop_columns=drop_columns,
            )
            res = P.solve_problem(pb, st)
        tm = res.timings
        s = res.summary
        build = t_arr + tm.get("build_s", 0)
        solve = tm.get("sample_prices_s", 0) + tm.get("solve_s", 0)
        finish = (
            tm.get("rounding_s", 0) + tm.get("recourse_s", 0) + tm.get("outputs_and_check_s", 0)
        )
        row = {
            "S": S,
            "F": F,
            "R": R,
            "K": K,
            "columns": pb.n_columns_estimate(),
            "build_s": build,
            "solve_s": solve,
            "finish_s": finish,
            "sample_s": tm.get("sample_prices_s"),
            "pricing_s": tm.get("pricing_s"),
            "master_s": tm.get("master_s"),
            "first_round_block_s": tm.get("first_round_block_s"),
            "warm_round_block_s": tm.get("warm_round_block_s"),
            "rounds": tm.get("pricing_rounds"),
            "iterations": s["iterations"],
            "lb": s["lp_lower_bound"],
            "ub": s["lp_plan_cost"],
            "lp_gap": s["lp_gap"],
            "integer": s["integer_plan_cost"],
            "gap": s["gap"],
            "peak_gb": pk.peak / 1e9,
            "blocks": s.get("blocks"),
        }
        out.append(row)
        lines.append(
            f"| {S},{F},{R},{K} | {row['columns']:,} | {build:.1f} | {solve:.1f} | "
            f"{build + solve:.1f} | {finish:.1f} | {s['iterations']} | {row['lb']:,.1f} | "
            f"{row['ub']:,.1f} | {row['lp_gap']:.3%} | {row['integer']:,.1f} | {row['gap']:.3%} | "
            f"{row['peak_gb']:.2f} |"
        )
        print(lines[-1], json.dumps({k: v for k, v in row.items() if k != "S"}), flush=True)
        if S in mono:
            with PeakRSS() as pk:
                m = monolithic_lp(pb, mono_limit)
            m["peak_gb"] = pk.peak / 1e9
            row["mono"] = m
            print("mono", m, flush=True)
    lines.append("")
    for row in out:
        if "mono" not in row:
            continue
        m = row["mono"]
        dec_t = row["build_s"] + row["solve_s"]
        mono_t = m["build_s"] + m["solve_s"]
        if m["lp"] is not None:
            rel_lb = (row["lb"] - m["lp"]) / m["lp"]
            rel_ub = (row["ub"] - m["lp"]) / m["lp"]
            lines.append(
                f"Monolithic HiGHS LP (same arrays, one `passModel`, default HiGHS options) at "
                f"S={row['S']}: build {m['build_s']:.1f} s, solve {m['solve_s']:.1f} s, peak "
                f"{m['peak_gb']:.2f} GB, optimum {m['lp']:,.2f}. The decomposition's bound is "
                f"{rel_lb:+.2e} relative to it (must be ≤ 0) and its LP plan {rel_ub:+.2e} (≥ 0). "
                f"**Speed-up** (monolithic build+solve) / (decomposition build+solve) = "
                f"{mono_t:.1f} / {dec_t:.1f} = **{mono_t / dec_t:.1f}×**."
            )
        else:
            lines.append(
                f"Monolithic HiGHS LP at S={row['S']}: **not finished** after its {mono_limit:g} s "
                f"limit (status {m['status']}; build {m['build_s']:.1f} s, peak "
                f"{m['peak_gb']:.2f} GB), so the **speed-up is at least** {mono_t:.1f} / "
                f"{dec_t:.1f} = **{mono_t / dec_t:.1f}×** (censored)."
            )
    big = out[-1]
    if big.get("first_round_block_s") and big.get("warm_round_block_s"):
        cold = big["first_round_block_s"] / big["S"]
        warm = big["warm_round_block_s"] / big["S"]
        rounds = int(big["rounds"] or 1)
        master_per_sku_round = (big["master_s"] or 0.0) / big["S"] / max(1, rounds)
        lines.append("")
        lines.append(
            f"Per-block times measured at S={big['S']} (blocks of 10 SKUs, summed over the "
            f"workers): first round {cold * 1000:.1f} ms per SKU (single-SKU cold solves), later "
            f"rounds {warm * 1000:.1f} ms per SKU (warm re-solves); {rounds} pricing rounds; "
            f"master {big['master_s']:.1f} s in all."
        )
        for n_w in (64, 256):
            price = 1_000_000 * (cold + (rounds - 1) * warm) / n_w
            master = master_per_sku_round * 1_000_000 * rounds
            lines.append(
                f"Projection to S = 1,000,000 on {n_w} single-core Dask workers with the same "
                f"number of rounds: pricing ≈ {price / 60:.0f} min; the master LP (in the driver, "
                f"one convexity row per SKU) scaled linearly ≈ {master / 60:.0f} min (optimistic: "
                "simplex time grows faster than linearly); plus one recourse round ≈ "
                f"{1_000_000 * warm / n_w / 60:.1f} min."
            )
    lines.append("")
    results["ladder"] = out


def drops(lines: list[str], results: dict, S: int = 500, rounds: tuple = (1, 2, 4)) -> None:
    """Gap after a fixed number of pricing rounds, with and without drop proposals."""
    inst = P.generate_instance(S, 20, 100, 5, seed=0)
    lines += [
        f"## Drop proposals: gap after n pricing rounds (S = {S}, 20 FCs, 100 regions, "
        "5 scenarios, sampled prices, one worker process)",
        "",
        "| rounds | drop proposals | lower bound | LP plan (upper) | LP gap | integer plan | s |",
        "|---|---|---|---|---|---|---|",
    ]
    out = []
    for n in rounds:
        for drop in (False, True):
            st = P.PlacementSettings(
                window_days=W,
                method="decomposition",
                n_workers=1,
                max_iterations=n,
                gap_tolerance=1e-4,
                drop_columns=drop,
            )
            t0 = time.perf_counter()
            s = P.plan(P.PlacementTables(**inst.tables()), st).summary
            sec = time.perf_counter() - t0
            out.append(
                {
                    "rounds": n,
                    "drop": drop,
                    "seconds": sec,
                    **{
                        k: s[k]
                        for k in ("lp_lower_bound", "lp_plan_cost", "lp_gap", "integer_plan_cost")
                    },
                }
            )
            lines.append(
                f"| {n} | {'yes' if drop else 'no'} | {s['lp_lower_bound']:,.1f} | "
                f"{s['lp_plan_cost']:,.1f} | {100 * s['lp_gap']:.3f}% | "
                f"{s['integer_plan_cost']:,.1f} | {sec:.1f} |"
            )
    lines.append("")
    results["drops"] = out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="optimality,ladder")
    ap.add_argument("--ladder", default="100,1000,10000")
    ap.add_argument("--mono", default="100,1000")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=1800.0)
    ap.add_argument("--budget", type=float, default=300.0, help="S > 1000: build+solve (s)")
    ap.add_argument("--mono-limit", type=float, default=900.0)
    ap.add_argument(
        "--drop-columns",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="PlacementSettings.drop_columns (default on)",
    )
    ap.add_argument("--out", default="docs/benchmarks/placement.md")
    a = ap.parse_args()
    sections = a.only.split(",")
    drop_flag = "" if a.drop_columns else " --no-drop-columns"
    lines = [
        "# Placement benchmarks",
        "",
        f"Command: `nice python benchmarks/placement.py --only {a.only} --ladder {a.ladder} "
        f"--mono {a.mono} --workers {a.workers} --time-limit {a.time_limit:g} --budget "
        f"{a.budget:g} --mono-limit {a.mono_limit:g}{drop_flag}` "
        "(under `flock /work/bench.lock`) · machine: "
        f"{platform.machine()}, {os.cpu_count()} cores, 24 GB, run while holding the shared lock "
        f"(load average {os.getloadavg()[0]:.1f} at the start) · "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
    ]
    results: dict = {}
    if "optimality" in sections:
        optimality(lines, results)
    if "ladder" in sections:
        ladder(
            lines,
            results,
            [int(x) for x in a.ladder.split(",") if x],
            [int(x) for x in a.mono.split(",") if x],
            a.workers,
            a.time_limit,
            a.budget,
            a.mono_limit,
            a.drop_columns,
        )
    if "drops" in sections:
        drops(lines, results)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text("\n".join(lines) + "\n")
    Path(a.out).with_suffix(".json").write_text(json.dumps(results, indent=1, default=float))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Network design benchmark: OR-Library capacitated warehouse location (Beasley 1988).

Solves every instance of /work/shared/benchmarks/placement/orlib-cap (cap41–cap134 and the
capa/capb/capc capacity variants) with `placement.design.solve_cflp` (OR-Tools SCIP) and compares
with the published optima in optima.csv. File format (OR-Library "capopt" family):
``m n``; m lines ``capacity fixed_cost`` (the word "capacity" for capa/b/c, whose capacity is
given in optima.csv); then per customer ``demand`` followed by m allocation costs, where the
cost is for serving the customer's *whole* demand from that warehouse (so per-unit cost is
cost / demand; demand may be split between warehouses).

Usage::

    nice python benchmarks/network_design.py [--only cap41,cap42] [--time-limit 1800]
        [--out docs/benchmarks/network_design.md]
"""

from __future__ import annotations

import argparse
import csv
import platform
import time
from pathlib import Path

import numpy as np
from shipahead.placement.design import solve_cflp

DATA = Path("/work/shared/benchmarks/placement/orlib-cap")


def read_cap(path: Path, capacity: float | None = None):
    """Parse an OR-Library cap file → (fixed, capacity, demand, unit_cost (m, n))."""
    tok = path.read_text().split()
    m, n = int(tok[0]), int(tok[1])
    i = 2
    cap = np.empty(m)
    fixed = np.empty(m)
    for w in range(m):
        c = tok[i]
        cap[w] = capacity if c == "capacity" else float(c)
        fixed[w] = float(tok[i + 1])
        i += 2
    demand = np.empty(n)
    cost = np.empty((m, n))
    for j in range(n):
        demand[j] = float(tok[i])
        cost[:, j] = [float(t) for t in tok[i + 1 : i + 1 + m]]
        i += 1 + m
    if i != len(tok):
        raise ValueError(f"{path.name}: {len(tok) - i} unread tokens")
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = np.where(demand[None, :] > 0, cost / np.where(demand > 0, demand, 1)[None, :], 0)
    return fixed, cap, demand, unit


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--time-limit", type=float, default=1800.0)
    ap.add_argument("--solver", default="scip")
    ap.add_argument("--out", default="docs/benchmarks/network_design.md")
    a = ap.parse_args()
    with open(DATA / "optima.csv") as fh:
        rows = list(csv.DictReader(fh))
    only = set(filter(None, a.only.split(",")))
    out_rows = []
    for r in rows:
        name = r["instance"]
        if only and name not in only and name.split("-")[0] not in only:
            continue
        cap = float(r["capacity"]) if r["capacity"] else None
        fixed, capv, demand, unit = read_cap(DATA / r["file"], cap)
        t = time.perf_counter()
        try:
            is_open, _, obj, bound, status = solve_cflp(
                fixed, capv, demand, unit, solver=a.solver, time_limit_s=a.time_limit
            )
            secs = time.perf_counter() - t
        except Exception as e:  # report, keep going
            secs = time.perf_counter() - t
            print(f"{name}: FAILED {e}", flush=True)
            out_rows.append(
                (
                    name,
                    len(fixed),
                    len(demand),
                    float(r["optimal_cost"]),
                    None,
                    None,
                    "failed",
                    secs,
                    None,
                )
            )
            continue
        opt = float(r["optimal_cost"])
        rel = (obj - opt) / opt
        out_rows.append((name, len(fixed), len(demand), opt, obj, bound, status, secs, rel))
        print(
            f"{name:12s} opt {opt:15.3f} got {obj:15.3f} rel {rel:+.2e} bound {bound:15.3f} "
            f"{status} {secs:8.1f}s open={int(is_open.sum())}",
            flush=True,
        )
    lines = [
        "# Network design: OR-Library capacitated warehouse location",
        "",
        f"Command: `nice python benchmarks/network_design.py --time-limit {a.time_limit:g}"
        f"{' --only ' + a.only if a.only else ''}` · solver: OR-Tools {a.solver} (1 thread) "
        f"via `placement.design.solve_cflp` · machine: {platform.machine()}, 2 cores shared with "
        "other jobs (times are wall-clock).",
        "",
        "| instance | sites | customers | published optimum | ours | rel. diff | proven bound "
        "| status | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m, n, opt, obj, bound, status, secs, rel in out_rows:
        lines.append(
            f"| {name} | {m} | {n} | {opt:,.3f} | "
            + (f"{obj:,.3f} | {rel:+.1e} | {bound:,.3f}" if obj is not None else "— | — | —")
            + f" | {status} | {secs:.1f} |"
        )
    ok = [x for x in out_rows if x[8] is not None and abs(x[8]) <= 1e-6 and x[6] == "optimal"]
    lines += [
        "",
        f"At the published optimum (|rel. diff| ≤ 1e-6, proven optimal): "
        f"{len(ok)} of {len(out_rows)}.",
    ]
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""What the run store adds to `shipahead plan`: wall time with and without `--store`.

Usage::

    python benchmarks/run_store.py --tiny                     # the tests' tiny scenario
    python benchmarks/run_store.py --scenario sample_data/scenario.toml --pairs 3

Each measurement is a separate ``shipahead plan --force`` process (every step runs), the two
modes alternating (no store, store, no store, …) so machine load hits both alike. The store is
the default SQLite file beside the run folder, created by the first run of the store mode
(that run also creates the schema) and re-written by the later ones (an upsert of the same
run). Reports the median process wall time of each mode, the store step's own time from
``manifest.json`` (``store.wall_s``) and the overhead in percent; prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tiny(dst: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.cli.test_plan_tiny import _scenario

    return _scenario(dst)


def _run(toml: Path, out: Path, store: bool) -> tuple[float, float | None]:
    cmd = ["shipahead", "--quiet", "plan", str(toml), "--out", str(out), "--force"]
    if not store:
        cmd.append("--no-store")
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    st = json.loads((out / "manifest.json").read_text()).get("store")
    return wall, None if st is None else float(st["wall_s"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", type=Path, default=None, help="scenario.toml to plan")
    ap.add_argument("--tiny", action="store_true", help="build and plan the tests' tiny scenario")
    ap.add_argument("--pairs", type=int, default=3, help="runs per mode")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        toml = (
            _tiny(work / "scn")
            if args.tiny
            else (args.scenario or ROOT / "sample_data" / "scenario.toml")
        )
        walls: dict[str, list[float]] = {"no store": [], "store": []}
        store_s: list[float] = []
        for _ in range(args.pairs):
            for mode in walls:
                wall, st = _run(toml, work / mode.replace(" ", "-") / "plan", mode == "store")
                walls[mode].append(wall)
                if st is not None:
                    store_s.append(st)
        load = os.getloadavg()[0]
    base, with_store = statistics.median(walls["no store"]), statistics.median(walls["store"])
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    print(f"scenario: {'tiny (tests/cli/test_plan_tiny.py)' if args.tiny else toml}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC · commit {commit}")
    print(f"load average (1 min) at the end: {load:.1f} on {os.cpu_count()} cores\n")
    print("| mode | runs (s) | median (s) |")
    print("|---|---|---|")
    for mode, ws in walls.items():
        print(f"| {mode} | {', '.join(f'{w:.1f}' for w in ws)} | {statistics.median(ws):.1f} |")
    print(
        f"\nstore step (manifest store.wall_s): {', '.join(f'{s:.2f}' for s in store_s)} s "
        f"(median {statistics.median(store_s):.2f} s = "
        f"{100 * statistics.median(store_s) / base:.1f} % of the run without a store); "
        f"whole-process difference of the medians: {with_store - base:+.1f} s "
        f"({100 * (with_store - base) / base:+.1f} %)"
    )


if __name__ == "__main__":
    main()

"""Pipeline figures (issue 6): wall time and peak memory of `shipahead demo` per step, and of
`shipahead plan` on a scenario 10× the sample with `--engine local` and `--engine dask`.

Usage::

    python benchmarks/pipeline.py                  # demo + 10x local + 10x dask
    python benchmarks/pipeline.py --only demo      # just the demo
    python benchmarks/pipeline.py --scale 10 --time-limit 60

Each run is a separate `shipahead` process (cold: no step is skipped); per-step wall time and
peak RSS (process + children, sampled every 0.1 s) come from the run's manifest.json. Writes
`docs/benchmarks/pipeline.md`.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def build_scaled(scale: int, dst: Path, time_limit: float, seed: int = 7) -> Path:
    """A scenario ``scale``× the sample: series, SKUs, stops and vehicles; returns its TOML."""
    rng = np.random.default_rng(seed)
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("regions.geojson", "weather.csv", "traffic.csv", "inbound_lanes.csv"):
        shutil.copy(SAMPLE / name, dst / name)
    (dst / "roads").mkdir(exist_ok=True)
    shutil.copy(SAMPLE / "roads" / "columbus_oh.osm.pbf", dst / "roads" / "columbus_oh.osm.pbf")
    ids = {"region_id": str, "sku_id": str, "fc_id": str, "node_id": str}

    def variants(df: pd.DataFrame, col: str) -> pd.DataFrame:
        parts = []
        for k in range(scale):
            part = df.copy()
            part[col] = part[col] + (f"-V{k}" if k else "")
            parts.append(part)
        return pd.concat(parts, ignore_index=True)

    hist = pd.read_csv(SAMPLE / "history.csv", dtype=ids)
    hist = variants(hist, "sku_id")
    noise = rng.lognormal(0.0, 0.25, len(hist))
    hist["y"] = np.round(hist["y"].to_numpy() * noise).astype(int)
    hist.to_csv(dst / "history.csv", index=False)
    variants(pd.read_csv(SAMPLE / "skus.csv", dtype=ids), "sku_id").to_csv(
        dst / "skus.csv", index=False
    )
    variants(pd.read_csv(SAMPLE / "inventory.csv", dtype=ids), "sku_id").to_csv(
        dst / "inventory.csv", index=False
    )
    variants(pd.read_csv(SAMPLE / "supply.csv", dtype=ids), "sku_id").to_csv(
        dst / "supply.csv", index=False
    )
    fcs = pd.read_csv(SAMPLE / "fcs.csv", dtype=ids)
    for c in ("capacity_units", "capacity_m3"):
        if c in fcs:
            fcs[c] = fcs[c] * scale
    fcs.to_csv(dst / "fcs.csv", index=False)

    stops = pd.read_csv(SAMPLE / "stops.csv", dtype={"stop_id": str})
    rows = []
    for k in range(scale):
        part = stops.copy()
        if k:
            part["stop_id"] = part["stop_id"] + f"-V{k}"
            # move each copy up to ~1.2 km so it snaps to another place of the road network
            part["lat"] = part["lat"] + rng.uniform(-0.011, 0.011, len(part))
            part["lon"] = part["lon"] + rng.uniform(-0.014, 0.014, len(part))
        rows.append(part)
    pd.concat(rows, ignore_index=True).to_csv(dst / "stops.csv", index=False)
    fleet = pd.read_csv(SAMPLE / "fleet.csv", dtype={"vehicle_id": str, "depot_id": str})
    fleet = variants(fleet, "vehicle_id")
    fleet.to_csv(dst / "fleet.csv", index=False)

    toml = (SAMPLE / "scenario.toml").read_text()
    toml = toml.replace('name = "columbus-oh-sample"', f'name = "columbus-oh-x{scale}"')
    toml = _set(toml, "time_limit_s", str(time_limit))
    toml += "max_snap_m = 2000\n" if "max_snap_m" not in toml else ""
    (dst / "scenario.toml").write_text(toml)
    return dst / "scenario.toml"


def _set(toml: str, key: str, value: str) -> str:
    out = []
    for line in toml.splitlines():
        if line.split("=")[0].strip() == key:
            line = f"{key} = {value}"
        out.append(line)
    return "\n".join(out) + "\n"


def run_plan(toml: Path, out: Path, engine: str) -> dict:
    """Run `shipahead plan` cold in a subprocess; returns wall time and the manifest."""
    exe = [
        sys.executable,
        "-m",
        "shipahead.cli.app",
        "--quiet",
        "plan",
        str(toml),
        "--out",
        str(out),
        "--engine",
        engine,
        "--force",
    ]
    t0 = time.perf_counter()
    res = subprocess.run(exe, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"plan failed ({res.returncode}): {res.stderr.strip()[-2000:]}")
    return {"wall_s": wall, "manifest": json.loads((out / "manifest.json").read_text())}


def rows_of(label: str, run: dict) -> list[dict]:
    m = run["manifest"]
    rows = []
    for step, t in m["timing"].items():
        kpis = m["steps"][step].get("kpis") or {}
        rows.append(
            {
                "run": label,
                "step": step,
                "wall_s": t.get("wall_s"),
                "peak_mem_mb": t.get("peak_mem_mb"),
                "kpis": ", ".join(f"{k}={v}" for k, v in list(kpis.items())[:4]),
            }
        )
    rows.append(
        {
            "run": label,
            "step": "whole command",
            "wall_s": round(run["wall_s"], 1),
            "peak_mem_mb": max((t.get("peak_mem_mb") or 0) for t in m["timing"].values()),
            "kpis": "",
        }
    )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["demo", "scaled"], default=None)
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument(
        "--time-limit",
        type=float,
        default=60.0,
        help="routing time limit of the scaled scenario (s)",
    )
    ap.add_argument("--engines", nargs="+", default=["local", "dask"])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "pipeline.md")
    args = ap.parse_args()

    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        if args.only in (None, "demo"):
            run = run_plan(SAMPLE / "scenario.toml", tmpd / "demo", "local")
            rows += rows_of("demo (sample, local)", run)
            print(pd.DataFrame(rows).to_string(index=False), flush=True)
        if args.only in (None, "scaled"):
            toml = build_scaled(args.scale, tmpd / f"x{args.scale}", args.time_limit)
            for engine in args.engines:
                run = run_plan(toml, tmpd / f"run-x{args.scale}-{engine}", engine)
                rows += rows_of(f"{args.scale}x sample, {engine}", run)
                print(pd.DataFrame(rows).to_string(index=False), flush=True)

    table = pd.DataFrame(rows)
    md = [
        "# Pipeline figures (`shipahead plan` / `demo`)",
        "",
        f"Machine: {platform.machine()}, {__import__('os').cpu_count()} cores, Python "
        f"{platform.python_version()}. Command: `python benchmarks/pipeline.py "
        + " ".join(sys.argv[1:])
        + "`.",
        "Each run is a fresh `shipahead plan --force` process; wall time and peak memory "
        "(RSS of the process and its children) per step from manifest.json.",
        "",
        "| run | step | wall s | peak MB | KPIs |",
        "|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        md.append(f"| {r.run} | {r.step} | {r.wall_s} | {r.peak_mem_mb} | {r.kpis} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(md) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

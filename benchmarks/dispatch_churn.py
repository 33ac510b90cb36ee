"""Re-plan churn on the sample (issue 16): share of stops that change vehicle per event.

Solves ``sample_data/dispatch_problem.json`` on the sample road network with the sample
traffic and weather (as ``shipahead serve --roads … --traffic … --weather …`` does), then
re-plans that one plan after each single event at 09:00 (``--at``): one added stop, one
cancelled stop (job 12), a 90-minute delay of vehicle 1, vehicle 2 down. A stop "changed
vehicle" when it is on a route before and after the re-plan, on different vehicles; the share
is over the plan's served stops. A vehicle that is down must hand over all its open stops.
Solves are deterministic (``options.deterministic``) unless ``--not-deterministic``.

Usage (repository root, shipahead installed)::

    python benchmarks/dispatch_churn.py                      # the problem's default penalty
    python benchmarks/dispatch_churn.py --reassign-penalty 50

Prints one JSON object per event and appends them to ``benchmarks/results/dispatch.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

from shipahead.routing.vroom import parse_vroom, reassign_penalty_of, replan_vroom, solve_vroom
from shipahead.service.solver import resources, speed_model

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"


def events(doc: dict, at: int) -> dict[str, list[dict]]:
    """The single events, by name."""
    lon, lat = doc["jobs"][39]["location"]
    return {
        "stop_added": [
            {
                "event_id": "a",
                "type": "stop_added",
                "at": at,
                "job_id": 1000,
                "location": [lon + 0.002, lat + 0.001],
                "service": 300,
                "delivery": [50],
                "time_windows": [[at, 61200]],
            }
        ],
        "stop_cancelled": [{"event_id": "c", "type": "stop_cancelled", "at": at, "job_id": 12}],
        "vehicle_delay_90min": [
            {"event_id": "d", "type": "vehicle_delay", "at": at, "vehicle_id": 1, "delay": 5400}
        ],
        "vehicle_down": [{"event_id": "x", "type": "vehicle_down", "at": at, "vehicle_id": 2}],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reassign-penalty", type=float, default=None)
    ap.add_argument("--at", type=int, default=9 * 3600, help="event time (s from midnight)")
    ap.add_argument(
        "--not-deterministic",
        action="store_true",
        help="solve on the clock (the problem's options as given), not deterministically",
    )
    args = ap.parse_args()
    doc = json.loads((SAMPLE / "dispatch_problem.json").read_text())
    if not args.not_deterministic:
        doc["options"]["deterministic"] = True
    res = resources(
        str(SAMPLE / "roads" / "columbus_oh.osm.pbf"),
        str(SAMPLE / "traffic.csv"),
        str(SAMPLE / "weather.csv"),
    )
    speed = speed_model(res, doc["options"].get("date"))
    p = parse_vroom(doc)
    t = time.perf_counter()
    base = solve_vroom(p, network=res.network, speed=speed)
    base_s = time.perf_counter() - t
    routes = {r["vehicle"]: r["steps"] for r in base.output["routes"]}
    served = sum(s["type"] == "job" for st in routes.values() for s in st)
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    penalty = args.reassign_penalty if args.reassign_penalty is not None else reassign_penalty_of(p)
    rows = []
    for name, evs in events(doc, args.at).items():
        t = time.perf_counter()
        r = replan_vroom(
            p, base.state, evs, network=res.network, speed=speed, reassign_penalty=penalty
        )
        moved = [
            c
            for c in r.changes
            if c["from_vehicle"] is not None
            and c["to_vehicle"] is not None
            and c["from_vehicle"] != c["to_vehicle"]
        ]
        row = {
            "part": "replan_churn",
            "event": name,
            "reassign_penalty": penalty,
            "deterministic": not args.not_deterministic,
            "served": served,
            "moved": len(moved),
            "moved_share": round(len(moved) / served, 4),
            "cost_before": base.output["summary"]["cost"],
            "cost_after": r.output["summary"]["cost"],
            "unassigned_after": r.output["summary"]["unassigned"],
            "base_solve_s": round(base_s, 1),
            "replan_s": round(time.perf_counter() - t, 1),
            "commit": commit,
            "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        }
        if name == "vehicle_down":
            down = evs[0]["vehicle_id"]
            open_ = {s["id"] for s in routes.get(down, []) if s["type"] == "job"} - set(
                r.state["done"]
            )
            row["down_open_stops"] = len(open_)
            row["down_open_stops_moved"] = sum(c["job_id"] in open_ for c in moved)
        rows.append(row)
        print(json.dumps(row), flush=True)
    with (ROOT / "benchmarks" / "results" / "dispatch.jsonl").open("a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()

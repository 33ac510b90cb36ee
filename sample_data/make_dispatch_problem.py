"""Write ``dispatch_problem.json``: the sample stops and fleet as a VROOM problem.

The problem ``shipahead serve`` and ``shipahead route --json`` take (VROOM's JSON): one job per
stop (id = the number in ``S001``, description = stop id and name, ``location`` [lon, lat],
``service`` and ``time_windows`` in seconds from midnight, ``delivery`` = demand units), one
vehicle per fleet row (id = the number in ``V01``, depot as ``start`` and ``end``, shift as
``time_window``, costs in cents: ``fixed``, ``per_hour``, ``per_km``), and shipahead's
``options`` (the sample scenario's delivery date and time limit). Run from anywhere:
``python sample_data/make_dispatch_problem.py``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _seconds(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def _number(text_id: str) -> int:
    return int("".join(c for c in text_id if c.isdigit()))


def build() -> dict:
    """The sample problem as a VROOM JSON object."""
    with (HERE / "stops.csv").open(newline="", encoding="utf-8") as f:
        stops = list(csv.DictReader(f))
    with (HERE / "fleet.csv").open(newline="", encoding="utf-8") as f:
        fleet = list(csv.DictReader(f))
    jobs = [
        {
            "id": _number(s["stop_id"]),
            "description": f"{s['stop_id']} {s['name']}",
            "location": [round(float(s["lon"]), 6), round(float(s["lat"]), 6)],
            "service": round(float(s["service_min"]) * 60),
            "delivery": [int(s["demand_units"])],
            "time_windows": [[_seconds(s["tw_start"]), _seconds(s["tw_end"])]],
        }
        for s in stops
    ]
    vehicles = [
        {
            "id": _number(v["vehicle_id"]),
            "description": f"{v['vehicle_id']} ({v['depot_id']})",
            "start": [round(float(v["depot_lon"]), 6), round(float(v["depot_lat"]), 6)],
            "end": [round(float(v["depot_lon"]), 6), round(float(v["depot_lat"]), 6)],
            "capacity": [int(v["capacity_units"])],
            "time_window": [_seconds(v["shift_start"]), _seconds(v["shift_end"])],
            "costs": {
                "fixed": round(float(v["fixed_cost"]) * 100),
                "per_hour": round(float(v["cost_per_hour"]) * 100),
                "per_km": round(float(v["cost_per_km"]) * 100),
            },
        }
        for v in fleet
    ]
    return {
        "jobs": jobs,
        "vehicles": vehicles,
        "options": {"date": "2022-11-01", "time_limit_s": 10, "seed": 42},
    }


if __name__ == "__main__":
    target = HERE / "dispatch_problem.json"
    doc = build()
    # one job / vehicle per line: readable, and diffs stay small
    lines = ["{"]
    for key in ("jobs", "vehicles"):
        items = ",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in doc[key])
        lines.append(f' "{key}": [\n{items}\n ],')
    lines.append(f' "options": {json.dumps(doc["options"])}')
    lines.append("}")
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {target}")

"""report.html: ids and names from the run are escaped; the vehicle table counts stops only."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from shipahead.cli.io import write_table
from shipahead.cli.report import build_report

from .test_report import _tiny_run

PAYLOAD = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"


def test_report_escapes_ids_and_counts_only_stops(tmp_path: Path) -> None:
    run, scenario, files = _tiny_run(tmp_path)
    vid = f"</script><script>alert(1)</script>{PAYLOAD}"
    rows = [("start", "D1"), ("stop", "S1"), ("stop", PAYLOAD), ("stop", "=S3"), ("end", "D1")]
    routes = pd.DataFrame(
        {
            "vehicle_id": vid,
            "seq": range(len(rows)),
            "stop_id": [s for _, s in rows],
            "arrival": "08:00",
            "departure": "08:05",
            "load_units": 0,
            "leg_km": [0.0, 1.0, 1.0, 1.0, 1.0],
            "leg_min": 1.0,
            "kind": [k for k, _ in rows],
        }
    )
    write_table(routes, run / "routes" / "routes.csv")  # through the CSV guard, as a run does
    write_table(
        pd.DataFrame({"stop_id": [PAYLOAD + "u"], "reason": [f"capacity {PAYLOAD}"]}),
        run / "routes" / "unassigned.csv",
    )
    orders = pd.read_csv(run / "placement" / "placement_orders.csv", dtype=str)
    orders["sku_id"] = '=HYPERLINK("x")' + PAYLOAD
    write_table(orders, run / "placement" / "placement_orders.csv")
    build_report(run, scenario, files)
    page = (run / "report.html").read_text()
    assert "<img src=x" not in page and "<script>alert" not in page
    assert page.count("<script>") == 1  # the report's own
    esc_vid = "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror="
    assert esc_vid in page
    # the sku shows as written by the user (the CSV guard is removed when reading)
    assert '<td>=HYPERLINK("x")&lt;img' in page and "'=HYPERLINK" not in page
    # Vehicles table: 3 stops (the depot start/end rows are not stops), 4 km
    m = re.search(r"<h3>Vehicles</h3>(.*?)</table>", page, re.S)
    assert m is not None
    cells = re.findall(r"<td>(.*?)</td>", m.group(1), re.S)
    assert cells[1:] == ["3", "4.000"], cells

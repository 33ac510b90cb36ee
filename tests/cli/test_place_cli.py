"""`shipahead place`: success path and error paths (exit 2, one line, no output files)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from shipahead.cli.app import app
from typer.testing import CliRunner

from tests.placement.conftest import tiny_tables


def _write(tmp: Path, tables: dict[str, pd.DataFrame]) -> dict[str, Path]:
    paths = {}
    for name, df in tables.items():
        p = tmp / f"{name}.csv"
        df.to_csv(p, index=False)
        paths[name] = p
    return paths


def _args(p: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return [
        "place",
        "--scenarios",
        str(p["scenarios"]),
        "--window-days",
        "14",
        "--fcs",
        str(p["fcs"]),
        "--skus",
        str(p["skus"]),
        "--inventory",
        str(p["inventory"]),
        "--supply",
        str(p["supply"]),
        "--inbound-lanes",
        str(p["inbound_lanes"]),
        "--lanes",
        str(p["lanes"]),
        "--plan-date",
        "2026-12-01",
        "--out",
        str(out),
        *extra,
    ]


def _run(args: list[str]):
    return CliRunner().invoke(app, args)


def _fcs_with_units(tables):
    # the fcs contract may require capacity_units; keep m³ as the binding capacity
    return tables["fcs"].assign(capacity_units=100000)


def test_place_writes_three_files(tmp_path):
    tables = tiny_tables()
    tables["fcs"] = _fcs_with_units(tables)
    p = _write(tmp_path, tables)
    out = tmp_path / "out"
    r = _run(_args(p, out, "--promise-days", "2"))
    assert r.exit_code == 0, r.output
    assert sorted(x.name for x in out.iterdir()) == [
        "inventory_policy.csv",
        "placement_orders.csv",
        "stock_targets.csv",
        "summary.json",
    ]
    orders = pd.read_csv(out / "placement_orders.csv")
    assert list(orders.columns) == [
        "order_id",
        "sku_id",
        "from_node",
        "to_fc_id",
        "qty_units",
        "ship_by",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["gap"] >= 0 and "capacity_shadow_price" in summary
    # byte-identical on a second run
    out2 = tmp_path / "out2"
    assert _run(_args(p, out2, "--promise-days", "2")).exit_code == 0
    for name in ("placement_orders.csv", "stock_targets.csv", "summary.json"):
        assert (out / name).read_bytes() == (out2 / name).read_bytes()


def test_inbound_after_the_plan_date_is_reported_not_dropped(tmp_path):
    tables = tiny_tables()
    tables["fcs"] = _fcs_with_units(tables)
    tables["inventory"] = tables["inventory"].assign(qty_units=[40], eta=["2026-12-09"])
    p = _write(tmp_path, tables)
    out = tmp_path / "out"
    r = _run(_args(p, out))
    assert r.exit_code == 0, r.output
    assert "40 inbound units arrive after the plan date" in r.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["inbound"]["not_counted_units"] == 40.0
    targets = pd.read_csv(out / "stock_targets.csv").set_index(["fc_id", "sku_id"])
    assert targets.loc[("EAST", "A"), "on_hand_units"] == 10


def _expect_error(tmp_path, tables, *extra, contains: str):
    p = _write(tmp_path, tables)
    out = tmp_path / "out"
    r = _run(_args(p, out, *extra))
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, r.output
    assert contains in r.output
    assert not out.exists() or not any(out.iterdir())
    return r.output


def test_on_hand_above_capacity(tmp_path):
    t = tiny_tables()
    t["fcs"] = _fcs_with_units(t).assign(capacity_m3=[0.1, 2.0])
    _expect_error(tmp_path, t, contains="EAST")


def test_probabilities_must_sum_to_one(tmp_path):
    t = tiny_tables()
    t["fcs"] = _fcs_with_units(t)
    t["scenarios"] = t["scenarios"].assign(prob=0.4)
    _expect_error(tmp_path, t, contains="sum to")


def test_strict_promise_unreachable_region(tmp_path):
    t = tiny_tables()
    t["fcs"] = _fcs_with_units(t)
    t["lanes"] = t["lanes"][t["lanes"]["region_id"] != "LA"].pipe(
        lambda d: pd.concat(
            [
                d,
                pd.DataFrame(
                    {
                        "fc_id": ["EAST"],
                        "region_id": ["LA"],
                        "cost_per_unit": [4.0],
                        "transit_days": [5],
                    }
                ),
            ]
        )
    )
    msg = _expect_error(tmp_path, t, "--promise-days", "2", "--strict-promise", contains="LA")
    assert "promise" in msg


def test_supply_node_without_lane(tmp_path):
    t = tiny_tables()
    t["fcs"] = _fcs_with_units(t)
    t["supply"] = pd.concat(
        [t["supply"], pd.DataFrame({"node_id": ["V9"], "sku_id": ["A"], "available_units": [5]})]
    )
    _expect_error(tmp_path, t, contains="V9")


def test_missing_file(tmp_path):
    t = tiny_tables()
    t["fcs"] = _fcs_with_units(t)
    p = _write(tmp_path, t)
    p["skus"] = tmp_path / "nope.csv"
    out = tmp_path / "out"
    r = _run(_args(p, out))
    assert r.exit_code == 2
    assert "nope.csv" in r.output
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.slow
def test_sample_scenario_end_to_end(tmp_path):
    root = Path(__file__).resolve().parents[2] / "sample_data"
    h = pd.read_csv(root / "history.csv", dtype={"region_id": str})
    h["ds"] = pd.to_datetime(h["ds"])
    last = h[h["ds"] > h["ds"].max() - pd.Timedelta(weeks=20)].sort_values("ds")
    rows = []
    for (s, reg), y in last.groupby(["sku_id", "region_id"])["y"]:
        v = y.to_numpy(float)
        tot = v[:-1] + v[1:]
        for k, q in enumerate(pd.Series(tot).quantile([0.1, 0.3, 0.5, 0.7, 0.9])):
            rows.append((s, reg, f"q{k}", 0.2, round(q)))
    scen = tmp_path / "scenarios.csv"
    pd.DataFrame(rows, columns=["sku_id", "region_id", "scenario", "prob", "qty_units"]).to_csv(
        scen, index=False
    )
    out = tmp_path / "out"
    args = [
        "place",
        "--scenarios",
        str(scen),
        "--window-days",
        "14",
        "--fcs",
        str(root / "fcs.csv"),
        "--skus",
        str(root / "skus.csv"),
        "--inventory",
        str(root / "inventory.csv"),
        "--supply",
        str(root / "supply.csv"),
        "--inbound-lanes",
        str(root / "inbound_lanes.csv"),
        "--regions",
        str(root / "regions.geojson"),
        "--promise-days",
        "2",
        "--plan-date",
        "2022-11-01",
        "--out",
        str(out),
    ]
    r = _run(args)
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["gap"] <= 0.005


def test_place_from_forecast(tmp_path):
    t = tiny_tables()
    t["fcs"] = _fcs_with_units(t)
    p = _write(tmp_path, t)
    rows = []
    for sku in ("A", "B"):
        for reg in ("NY", "CHI", "LA"):
            for d in pd.date_range("2026-12-07", periods=3, freq="W-MON"):
                m = 10.0 if sku == "A" else 4.0
                rows.append(
                    {
                        "region_id": reg,
                        "sku_id": sku,
                        "ds": d,
                        "model": "test",
                        "mean": m,
                        "q05": 0.5 * m,
                        "q10": 0.6 * m,
                        "q25": 0.8 * m,
                        "q50": m,
                        "q75": 1.2 * m,
                        "q90": 1.4 * m,
                        "q95": 1.5 * m,
                    }
                )
    fpath = tmp_path / "forecast.parquet"
    pd.DataFrame(rows).to_parquet(fpath)
    args = _args(p, tmp_path / "out")
    i = args.index("--scenarios")
    args[i : i + 2] = ["--forecast", str(fpath)]
    j = args.index("--plan-date")
    del args[j : j + 2]
    r = _run(args)
    assert r.exit_code == 0, r.output
    orders = pd.read_csv(tmp_path / "out" / "placement_orders.csv")
    # default plan date = first forecast day; EAST lead 2 days
    east = orders[orders["to_fc_id"] == "EAST"]
    assert (east["ship_by"] == "2026-12-05").all()

"""`plan --store`, `runs`, `orders` and database inputs on the tiny scenario (no routing: the
store, not the router, is under test)."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from shipahead.cli.app import app
from typer.testing import CliRunner

from .test_plan_tiny import _scenario


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPAHEAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def _no_routing(root: Path) -> Path:
    toml = _scenario(root)
    text = toml.read_text()
    toml.write_text(text[: text.index("[routing]")])
    return toml


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny scenario planned once into runs/plan (store runs/shipahead.db)."""
    root = tmp_path_factory.mktemp("planned")
    toml = _no_routing(root / "scn")
    out = root / "runs" / "plan"
    res = CliRunner().invoke(app, ["--quiet", "plan", str(toml), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return toml, out


def _copy(planned: tuple[Path, Path], dst: Path) -> tuple[Path, Path, str]:
    toml, out = planned
    shutil.copytree(toml.parent, dst / "scn")
    shutil.copytree(out.parent, dst / "runs")
    return (
        dst / "scn" / "scenario.toml",
        dst / "runs" / "plan",
        f"sqlite:///{dst / 'runs' / 'shipahead.db'}",
    )


def _invoke(*args: str) -> object:
    return CliRunner().invoke(app, ["--quiet", *args])


def _counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as c:
        names = sa.inspect(c).get_table_names()
        out = {
            t: c.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
            for t in names
            if t.startswith("planner_")
        }
    engine.dispose()
    return out


def test_plan_writes_the_default_store_and_rerunning_upserts(
    planned: tuple[Path, Path], tmp_path: Path
) -> None:
    toml, out, url = _copy(planned, tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    as_of = pd.read_csv(toml.parent / "history.csv")["ds"].max()
    assert manifest["store"]["as_of"] == as_of
    assert manifest["store"]["run_id"] == f"tiny@{as_of}"
    assert manifest["store"]["url"] == url.replace(str(tmp_path), str(planned[1].parents[1]))
    first = _counts(url)
    assert first["planner_runs"] == 1 and first["planner_forecasts"] == 16
    assert first["planner_orders"] == first["planner_run_orders"] > 0
    res = _invoke("plan", str(toml), "--out", str(out), "--force")
    assert res.exit_code == 0, res.output
    assert _counts(url) == first
    res = _invoke("runs", "list", "--store", url, "--json")
    runs = json.loads(res.stdout)
    assert [r["run_id"] for r in runs] == [f"tiny@{as_of}"]
    res = _invoke("runs", "show", f"tiny@{as_of}", "--store", url, "--json")
    shown = json.loads(res.stdout)
    assert {o["status"] for o in shown["orders"]} == {"proposed"}
    assert len(shown["stock_targets"]) == 4
    res = _invoke("runs", "show", "nope", "--store", url)
    assert res.exit_code == 2 and "no run 'nope'" in res.output
    # a run against itself: nothing changed; an unknown run is one line naming it
    res = _invoke("runs", "diff", f"tiny@{as_of}", f"tiny@{as_of}", "--store", url, "--json")
    d = json.loads(res.stdout)
    assert res.exit_code == 0 and d["kpis"] == [] and d["orders"] == []
    res = _invoke("runs", "diff", f"tiny@{as_of}", "nope", "--store", url)
    assert res.exit_code == 2 and "no run 'nope'" in res.output and "Traceback" not in res.output
    res = _invoke("runs", "list", "--store", url)
    assert res.exit_code == 0 and f"tiny@{as_of}" in res.stdout


def test_confirmed_orders_are_inbound_to_the_next_run(
    planned: tuple[Path, Path], tmp_path: Path
) -> None:
    toml, out, url = _copy(planned, tmp_path)
    orders = json.loads(_invoke("orders", "list", "--store", url, "--json").stdout)
    biggest = max(orders, key=lambda o: o["qty_units"])
    oid = biggest["order_id"]
    assert re.fullmatch(r"PO-[0-9A-F]{16}", oid)
    assert _invoke("orders", "approve", "--store", url, oid).exit_code == 0
    res = _invoke("orders", "confirm", "--store", url, oid)
    assert res.exit_code == 0, res.output
    res = _invoke("orders", "approve", "--store", url, oid)  # backwards: refused
    assert res.exit_code == 2 and "cannot go back" in res.output
    # the next run counts the confirmed order as stock at its FC: placement reruns, and that
    # lane is not ordered again in full
    res = _invoke("plan", str(toml), "--out", str(out))
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["steps"]["placement"]["status"] == "ran"
    assert manifest["steps"]["forecast"]["status"].startswith("skipped")
    inbound = pd.read_csv(out / "inbound_orders.csv", dtype=str)
    assert inbound["order_id"].tolist() == [oid]
    targets = pd.read_csv(out / "placement" / "stock_targets.csv", dtype={"fc_id": str})
    row = targets[(targets.fc_id == biggest["to_fc_id"]) & (targets.sku_id == biggest["sku_id"])]
    before = pd.read_csv(planned[1] / "placement" / "stock_targets.csv")
    brow = before[(before.fc_id == biggest["to_fc_id"]) & (before.sku_id == biggest["sku_id"])]
    assert float(row["on_hand_units"].iloc[0]) == float(brow["on_hand_units"].iloc[0]) + float(
        biggest["qty_units"]
    )
    new = pd.read_csv(out / "placement" / "placement_orders.csv")
    same_lane = new[(new.to_fc_id == biggest["to_fc_id"]) & (new.sku_id == biggest["sku_id"])]
    assert same_lane["qty_units"].sum() < biggest["qty_units"]
    after = {
        o["order_id"]: o
        for o in json.loads(_invoke("orders", "list", "--store", url, "--json").stdout)
    }
    assert after[oid]["status"] == "confirmed" and after[oid]["qty_units"] == biggest["qty_units"]
    # an ERP export: received, plus a repeated row; all or nothing
    status = tmp_path / "erp.csv"
    status.write_text(f"order_id,status,quantity\n{oid},received,\n")
    res = _invoke("orders", "import", str(status), "--store", url)
    assert res.exit_code == 0, res.output
    status.write_text(f"order_id,status\n{oid},confirmed\n")
    res = _invoke("orders", "import", str(status), "--store", url)
    assert res.exit_code == 2 and "erp.csv:2" in res.output and "received" in res.output


def _db_tables(toml: Path) -> dict[str, pd.DataFrame]:
    return {
        k: pd.read_csv(toml.parent / f"{k}.csv", dtype=str)
        for k in ("fcs", "skus", "inventory", "supply")
    }


def _point_inputs_at(toml: Path, url: str, keys: tuple[str, ...]) -> None:
    text = toml.read_text()
    for key in keys:
        text = text.replace(f'{key} = "{key}.csv"', f'{key} = {{ url = "{url}", table = "{key}" }}')
    toml.write_text(text)


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgresql"])
def test_database_inputs_plan_like_files(
    backend: str,
    planned: tuple[Path, Path],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    toml, out, _url = _copy(planned, tmp_path)
    tables = _db_tables(toml)
    keys = tuple(tables)
    if backend == "sqlite":
        db_url = "sqlite:///tables.db"  # relative to the scenario file
        engine = sa.create_engine(f"sqlite:///{toml.parent / 'tables.db'}")
    elif backend == "duckdb":
        db_url = "duckdb:///tables.duckdb"
        engine = sa.create_engine(f"duckdb:///{toml.parent / 'tables.duckdb'}")
    else:
        pg = request.getfixturevalue("pg_url")  # trust auth: the password is not checked
        monkeypatch.setenv("SHIPAHEAD_TEST_PW", "not-a-real-password")
        user = pg.split("://", 1)[1].split("@", 1)[0]
        db_url = pg.replace(f"://{user}@", f"://{user}:${{SHIPAHEAD_TEST_PW}}@", 1)
        engine = sa.create_engine(pg.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as c:
        for key, df in tables.items():
            num = {
                col: pd.to_numeric(df[col])
                for col in df.columns
                if not col.endswith("_id") and col != "name"
            }
            df.assign(**num).to_sql(key, c, index=False)
    engine.dispose()
    _point_inputs_at(toml, db_url, keys)
    res = _invoke("plan", str(toml), "--out", str(out), "--no-store")
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["steps"]["forecast"]["status"].startswith("skipped")  # same history file
    for key in keys:
        entry = manifest["inputs"][key]
        assert entry["table"] == key and entry["snapshot"] == f"inputs/{key}.parquet"
        assert (out / "inputs" / f"{key}.parquet").is_file()
    assert "not-a-real-password" not in (out / "manifest.json").read_text()
    for name in ("stock_targets.csv", "placement_orders.csv"):
        pd.testing.assert_frame_equal(
            pd.read_csv(out / "placement" / name), pd.read_csv(planned[1] / "placement" / name)
        )


def test_a_history_query_from_duckdb_is_checked_like_a_file(
    planned: tuple[Path, Path], tmp_path: Path
) -> None:
    toml, _out, _ = _copy(planned, tmp_path)
    history = pd.read_csv(toml.parent / "history.csv", parse_dates=["ds"])
    history.loc[5, "y"] = -3  # breaks the contract (y >= 0)
    engine = sa.create_engine(f"duckdb:///{toml.parent / 'sales.duckdb'}")
    with engine.begin() as c:
        c.exec_driver_sql(
            "CREATE TABLE sales (region_id VARCHAR, sku_id VARCHAR, ds DATE, y DOUBLE)"
        )
        history.to_sql("sales", c, index=False, if_exists="append")
    engine.dispose()
    text = toml.read_text().replace(
        'history = "history.csv"',
        'history = { url = "duckdb:///sales.duckdb", '
        'query = "select * from sales where y is not null" }',
    )
    toml.write_text(text)
    fresh = tmp_path / "fresh"
    res = _invoke("plan", str(toml), "--out", str(fresh), "--no-store")
    assert res.exit_code == 2
    line = res.output.strip()
    assert "\n" not in line
    row = history.iloc[5]
    assert "inputs.history = query in duckdb:///sales.duckdb" in line
    assert f"region_id='{row.region_id}', sku_id='{row.sku_id}', ds='{row.ds.date()}'" in line
    assert "column 'y'" in line
    assert not fresh.exists()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('{ url = "sqlite:///missing.db", table = "fcs" }', "database file not found"),
        ('{ url = "sqlite:///tables.db", table = "nope" }', "cannot read table 'nope'"),
        (
            '{ url = "sqlite:///tables.db", query = "select nope from fcs" }',
            "cannot read the query",
        ),
        ('{ url = "not a url", table = "fcs" }', "is not a database URL"),
        ('{ url = "sqlite:///tables.db", table = "fcs", query = "select 1" }', "exactly one of"),
        (
            '{ url = "postgresql://planner:hunter2@127.0.0.1:1/db?connect_timeout=2", '
            'table = "fcs" }',
            "cannot read table 'fcs' from postgresql://planner:***@127.0.0.1:1/db",
        ),
        (
            '{ url = "sqlite:///tables.db", table = "skus" }',
            "inputs.fcs = table 'skus' in sqlite:///tables.db: needs one of the columns",
        ),
    ],
)
def test_bad_database_inputs_are_one_line_and_write_nothing(
    source: str, expected: str, tmp_path: Path
) -> None:
    toml = _no_routing(tmp_path / "scn")
    with sqlite3.connect(toml.parent / "tables.db") as c:
        pd.read_csv(toml.parent / "fcs.csv").to_sql("fcs", c, index=False)
        pd.read_csv(toml.parent / "skus.csv").to_sql("skus", c, index=False)
    toml.write_text(toml.read_text().replace('fcs = "fcs.csv"', f"fcs = {source}"))
    out = tmp_path / "runs" / "plan"
    res = _invoke("plan", str(toml), "--out", str(out))
    assert res.exit_code == 2, res.output
    assert expected in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert "hunter2" not in res.output
    assert not (tmp_path / "runs").exists()


def test_a_store_that_cannot_be_opened_stops_before_any_work(tmp_path: Path) -> None:
    toml = _no_routing(tmp_path / "scn")
    out = tmp_path / "runs" / "plan"
    res = _invoke(
        "plan",
        str(toml),
        "--out",
        str(out),
        "--store",
        "postgresql://planner:hunter2@127.0.0.1:1/db?connect_timeout=2",
    )
    assert res.exit_code == 2
    assert "cannot open database postgresql://planner:***@127.0.0.1:1/db" in res.output
    assert "hunter2" not in res.output
    assert not (tmp_path / "runs").exists()


def test_a_history_table_in_duckdb_forecasts_like_the_file(
    planned: tuple[Path, Path], tmp_path: Path
) -> None:
    toml, out, _url = _copy(planned, tmp_path)
    history = pd.read_csv(toml.parent / "history.csv", parse_dates=["ds"])
    engine = sa.create_engine(f"duckdb:///{toml.parent / 'sales.duckdb'}")
    with engine.begin() as c:
        c.exec_driver_sql(
            "CREATE TABLE sales (region_id VARCHAR, sku_id VARCHAR, ds DATE, y DOUBLE)"
        )
        history.sample(frac=1.0, random_state=0).to_sql(  # rows in no particular order
            "sales", c, index=False, if_exists="append"
        )
    engine.dispose()
    toml.write_text(
        toml.read_text().replace(
            'history = "history.csv"',
            'history = { url = "duckdb:///sales.duckdb", table = "sales" }',
        )
    )
    res = _invoke("plan", str(toml), "--out", str(out))
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["steps"]["forecast"]["status"] == "ran"
    assert manifest["inputs"]["history"]["rows"] == len(history)
    key = ["region_id", "sku_id", "ds"]
    a = pd.read_parquet(out / "forecast" / "forecast.parquet").sort_values(key)
    b = pd.read_parquet(planned[1] / "forecast" / "forecast.parquet").sort_values(key)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    # the same rows again: the same snapshot bytes, so every step is skipped
    res = _invoke("plan", str(toml), "--out", str(out))
    assert res.exit_code == 0, res.output
    steps = json.loads((out / "manifest.json").read_text())["steps"]
    assert {k: v["status"].split()[0] for k, v in steps.items()} == {
        "forecast": "skipped",
        "placement": "skipped",
        "routes": "not",  # not configured
    }
    # the store keys the run by the history's last date, as for a file
    assert manifest["store"]["as_of"] == history["ds"].max().date().isoformat()


def test_order_statuses_import_from_a_database_query(
    planned: tuple[Path, Path], tmp_path: Path
) -> None:
    _, _, url = _copy(planned, tmp_path)
    orders = json.loads(_invoke("orders", "list", "--store", url, "--json").stdout)
    erp = tmp_path / "erp.db"
    with sqlite3.connect(erp) as c:
        pd.DataFrame(
            {
                "po": [o["order_id"] for o in orders],
                "state": ["CONFIRMED"] * len(orders),
                "qty": [o["qty_units"] + 1 for o in orders],
            }
        ).to_sql("export", c, index=False)
    query = "select po as order_id, lower(state) as status, qty as quantity from export"
    res = _invoke("orders", "import", f"sqlite:///{erp}#query={query}", "--store", url)
    assert res.exit_code == 0, res.output
    after = json.loads(_invoke("orders", "list", "--store", url, "--json").stdout)
    assert {o["status"] for o in after} == {"confirmed"}
    assert sorted(o["qty_units"] for o in after) == sorted(o["qty_units"] + 1 for o in orders)
    res = _invoke("orders", "import", f"sqlite:///{erp}#table=nope", "--store", url)
    assert res.exit_code == 2 and "cannot read table 'nope'" in res.output


def test_validate_checks_a_database_table_naming_rows_by_key(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    with sqlite3.connect(db) as c:
        pd.DataFrame(
            {"region_id": ["R1", "R1"], "sku_id": ["A", "A"], "ds": ["2022-01-03", "2022-01-10"]}
            | {"y": [1, -2]}
        ).to_sql("sales", c, index=False)
    res = _invoke("validate", f"sqlite:///{db}#table=sales", "--kind", "history")
    assert res.exit_code == 2
    assert (
        f"table 'sales' in sqlite:///{db}, row region_id='R1', sku_id='A', ds='2022-01-10', "
        "column 'y': value -2 is out of range"
    ) in res.output
    res = _invoke(
        "validate", f"sqlite:///{db}#query=select * from sales where y > 0", "-k", "history"
    )
    assert res.exit_code == 0, res.output


def test_a_cross_table_problem_names_the_database_table(tmp_path: Path) -> None:
    toml = _no_routing(tmp_path / "scn")
    history = pd.read_csv(toml.parent / "history.csv", dtype=str)
    history.loc[history.index[-1], "sku_id"] = "ZZ"  # not in skus.csv
    with sqlite3.connect(toml.parent / "h.db") as c:
        history.to_sql("sales", c, index=False)
    toml.write_text(
        toml.read_text().replace(
            'history = "history.csv"', 'history = { url = "sqlite:///h.db", table = "sales" }'
        )
    )
    res = _invoke("plan", str(toml), "--out", str(tmp_path / "runs" / "plan"))
    assert res.exit_code == 2, res.output
    assert "inputs.history = table 'sales' in sqlite:///h.db" in res.output
    assert "sku_id 'ZZ' is not in skus.csv" in res.output
    assert ".staging" not in res.output and not (tmp_path / "runs").exists()


def test_a_failed_store_write_is_one_line_and_leaves_the_store_as_it_was(
    planned: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shipahead.store.planner as planner

    toml, out, url = _copy(planned, tmp_path)
    before = _counts(url)
    real = planner._bulk

    def failing(session, model, rows):  # the disk fills up half-way through the run's rows
        real(session, model, rows)
        if model is planner.PlannerStockTarget:
            raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(planner, "_bulk", failing)
    res = _invoke("plan", str(toml), "--out", str(out), "--run-id", "another")
    assert res.exit_code == 2, res.output
    assert len(res.output.strip().splitlines()) == 1
    assert f"cannot write run another to {url}" in res.output and "disk I/O error" in res.output
    assert _counts(url) == before

"""The planner's run store: upserts, order tracking, inbound, atomic writes (SQLite and a real
PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from shipahead.store import open_store
from shipahead.store.planner import (
    RunRecord,
    add_inbound,
    confirmed_inbound,
    diff_runs,
    inbound_from_orders,
    list_runs,
    order_id,
    orders_table,
    run_tables,
    set_status,
    write_run,
)

from shipahead.errors import InputError

AS_OF = dt.date(2022, 7, 11)
TABLES = (
    "planner_runs",
    "planner_kpis",
    "planner_forecasts",
    "planner_backtest",
    "planner_stock_targets",
    "planner_routes",
    "planner_orders",
    "planner_run_orders",
    "planner_order_events",
)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")


def _orders(qty: dict[tuple[str, str, str], int]) -> pd.DataFrame:
    rows = [
        {
            "order_id": f"PO-{i + 1:06d}",
            "sku_id": sku,
            "from_node": src,
            "to_fc_id": fc,
            "qty_units": q,
            "ship_by": "2022-07-17",
        }
        for i, ((src, fc, sku), q) in enumerate(sorted(qty.items()))
    ]
    return pd.DataFrame(rows)


def _record(
    run_id: str = "tiny@2022-07-11",
    as_of: dt.date = AS_OF,
    qty: dict[tuple[str, str, str], int] | None = None,
    mean: float = 10.0,
) -> RunRecord:
    qty = {("V1", "F1", "A"): 39, ("V1", "F2", "B"): 97} if qty is None else qty
    ds = pd.date_range(pd.Timestamp(as_of) + pd.Timedelta(weeks=1), periods=3, freq="W-MON")
    forecast = pd.DataFrame(
        [
            {"region_id": r, "sku_id": s, "ds": d, "model": "AutoETS", "mean": mean}
            | {q: mean for q in ("q05", "q10", "q25", "q50", "q75", "q90", "q95")}
            for r in ("R1", "R2")
            for s in ("A", "B")
            for d in ds
        ]
    )
    return RunRecord(
        run_id=run_id,
        as_of=as_of,
        scenario="tiny",
        scenario_sha256="0" * 64,
        manifest={"scenario": {"name": "tiny"}},
        kpis={"placement": {"orders": len(qty), "method": "monolithic"}, "forecast": {"rows": 12}},
        freq="W-MON",
        forecast=forecast,
        backtest=pd.DataFrame(
            {"model": ["AutoETS"], "demand_class": ["smooth"], "mase": [0.8], "n_series": [4]}
        ),
        stock_targets=pd.DataFrame(
            {
                "fc_id": ["F1", "F2"],
                "sku_id": ["A", "B"],
                "target_units": [59, 97],
                "on_hand_units": [20.0, 0.0],
                "expected_fill_rate": [1.0, None],
            }
        ),
        orders=_orders(qty),
        routes=pd.DataFrame(
            {
                "vehicle_id": ["V1", "V1"],
                "seq": [0, 1],
                "stop_id": ["F1", "S01"],
                "kind": ["start", "stop"],
                "arrival": ["08:00", "08:10"],
                "departure": ["08:00", "08:20"],
                "load_units": [10, 5],
                "leg_km": [0.0, 2.5],
                "leg_min": [0.0, 10.0],
                "late_min": [0.0, 0.0],
            }
        ),
    )


def _counts(store) -> dict[str, int]:
    with store.engine.connect() as c:
        return {t: c.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}


def test_the_same_run_twice_leaves_the_same_rows(store_url: str) -> None:
    store = open_store(store_url)
    with store.session() as s:
        changes = write_run(s, _record())
    assert changes.summary() == {"new": 2, "changed": 0, "unchanged": 0, "dropped": 0}
    first = _counts(store)
    assert first["planner_forecasts"] == 12 and first["planner_orders"] == 2
    with store.session() as s:
        write_run(s, _record())
    assert _counts(store) == first
    with store.session() as s:
        t = run_tables(s, "tiny@2022-07-11")
        runs = list_runs(s)
    assert t is not None and t["run"]["as_of"] == "2022-07-11"
    assert sorted(t["forecast"]["lag"].unique()) == [1, 2, 3]
    assert set(t["orders"]["status"]) == {"proposed"}
    assert runs["run_id"].tolist() == ["tiny@2022-07-11"] and runs["orders"].tolist() == [2]
    store.close()


def test_order_ids_are_stable_and_a_quantity_change_is_a_change(store_url: str) -> None:
    store = open_store(store_url)
    with store.session() as s:
        write_run(s, _record("a"))
    with store.session() as s:  # another run of the same date: new quantity, one lane gone
        changes = write_run(s, _record("b", qty={("V1", "F1", "A"): 45}))
    oid = order_id(AS_OF, "V1", "F1", "A")
    assert changes.changed == [oid] and changes.new == []
    assert changes.dropped == [order_id(AS_OF, "V1", "F2", "B")]
    with store.session() as s:
        orders = orders_table(s).set_index("order_id")
        d = diff_runs(s, "a", "b")
    assert orders.loc[oid, "qty_units"] == 45 and len(orders) == 2
    assert orders.loc[order_id(AS_OF, "V1", "F2", "B"), "status"] == "cancelled"
    assert {(o["sku_id"], o["a_qty"], o["b_qty"]) for o in d["orders"]} == {
        ("A", 39, 45),
        ("B", 97, None),
    }
    assert any(k["name"] == "orders" for k in d["kpis"])
    store.close()


def test_order_states_never_go_backwards(store_url: str) -> None:
    store = open_store(store_url)
    with store.session() as s:
        write_run(s, _record())
    oid = order_id(AS_OF, "V1", "F1", "A")
    with store.session() as s:
        assert set_status(s, [(oid, "confirmed", 40)], source="test") == {"confirmed": 1}
    before = _counts(store)
    for back in ("approved", "proposed"):
        with pytest.raises(InputError, match="cannot go back"), store.session() as s:
            set_status(s, [(oid, back, None)], source="test")
    # one bad row in a batch changes nothing, not even the good rows before it
    other = order_id(AS_OF, "V1", "F2", "B")
    with pytest.raises(InputError, match="no order"), store.session() as s:
        set_status(s, [(other, "approved", None), ("PO-NOPE", "approved", None)], source="t")
    assert _counts(store) == before
    with store.session() as s:
        set_status(s, [(oid, "received", None)], source="test")
    with pytest.raises(InputError, match="is received"), store.session() as s:
        set_status(s, [(oid, "cancelled", None)], source="test")
    with store.session() as s:
        orders = orders_table(s).set_index("order_id")
        assert set_status(s, [(oid, "received", None)], source="again") == {}  # repeat: no-op
    assert orders.loc[oid, "status"] == "received" and orders.loc[other, "status"] == "proposed"
    assert orders.loc[oid, "qty_units"] == 40
    store.close()


def test_confirmed_orders_are_inbound_and_never_ordered_twice(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    with store.session() as s:
        write_run(s, _record())
    oid = order_id(AS_OF, "V1", "F1", "A")
    with store.session() as s:
        set_status(s, [(oid, "confirmed", None)], source="test")
        orders, inbound = confirmed_inbound(s)
    assert orders["order_id"].tolist() == [oid]
    assert inbound.to_dict("records") == [{"fc_id": "F1", "sku_id": "A", "inbound_units": 39.0}]
    # the re-run, knowing the 39 units are on their way, asks for 5 more: a second order of
    # the same lane, not a change of the confirmed one
    with store.session() as s:
        changes = write_run(s, _record(qty={("V1", "F1", "A"): 5, ("V1", "F2", "B"): 97}))
    second = order_id(AS_OF, "V1", "F1", "A", ordinal=2)
    assert second in changes.new
    assert oid not in changes.new + changes.changed + changes.unchanged + changes.dropped
    with store.session() as s:
        o = orders_table(s).set_index("order_id")
    assert o.loc[oid, "qty_units"] == 39 and o.loc[oid, "status"] == "confirmed"
    assert o.loc[second, "qty_units"] == 5 and o.loc[second, "status"] == "proposed"
    store.close()


_order_rows = st.lists(
    st.tuples(
        st.integers(0, 7),  # order number
        st.sampled_from(["F1", "F2"]),
        st.sampled_from(["A", "B"]),
        st.integers(1, 50),
        st.sampled_from(["proposed", "approved", "confirmed", "received", "cancelled"]),
    ),
    max_size=30,
)


@given(rows=_order_rows, repeats=st.integers(1, 3))
def test_inbound_from_confirmed_orders_never_double_counts(rows, repeats) -> None:
    """However often an order is listed (by several runs, or twice by an import), its units
    are counted once, only while confirmed, and added once to the inventory."""
    latest: dict[int, tuple] = {}
    table = []
    for n, fc, sku, qty, status in rows:
        latest.setdefault(n, (fc, sku, qty, status))
        fc, sku, qty, _ = latest[n]  # an order keeps its lane and SKU
        latest[n] = (fc, sku, qty, status)
        table.append(
            {"order_id": f"PO-{n}", "to_fc_id": fc, "sku_id": sku, "qty_units": qty}
            | {"status": status}
        )
    frame = pd.DataFrame(
        table * repeats, columns=["order_id", "to_fc_id", "sku_id", "qty_units", "status"]
    )
    if repeats > 1:  # the last listing of each order is its current state
        frame = pd.concat([frame, pd.DataFrame(table)], ignore_index=True)
    inbound = inbound_from_orders(frame)
    expected = sum(q for fc, sku, q, s in latest.values() if s == "confirmed")
    assert inbound["inbound_units"].sum() == pytest.approx(expected)
    assert not inbound.duplicated(["fc_id", "sku_id"]).any()
    inventory = pd.DataFrame({"fc_id": ["F1"], "sku_id": ["A"], "on_hand_units": [7.0]})
    after = add_inbound(inventory, inbound)
    assert after["on_hand_units"].sum() == pytest.approx(7.0 + expected)
    assert not after.duplicated(["fc_id", "sku_id"]).any()


_KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import shipahead.store.planner as planner
    from tests.store.test_planner import _record

    store = planner  # noqa
    from shipahead.store import open_store

    st = open_store(sys.argv[1])
    flag = Path(sys.argv[2])
    real = planner._bulk
    calls = []

    def slow(session, model, rows):
        real(session, model, rows)
        calls.append(model)
        if len(calls) == 3:  # KPIs, forecasts and backtest written; stock targets next
            session.flush()
            flag.write_text("mid-write")
            time.sleep(600)

    planner._bulk = slow
    with st.session() as s:
        planner.write_run(s, _record(run_id="second", mean=99.0))
    """
)


def test_a_run_killed_mid_write_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(url)
    with store.session() as s:
        write_run(s, _record())
    before = _counts(store)
    store.close()
    flag = tmp_path / "flag"
    root = Path(__file__).parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, url, str(flag)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        deadline = time.monotonic() + 120
        while not flag.exists():
            assert proc.poll() is None, "the writer ended before the kill"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    again = open_store(url)
    assert _counts(again) == before
    with again.session() as s:
        assert list_runs(s)["run_id"].tolist() == ["tiny@2022-07-11"]
    again.close()


def test_forecast_variants_are_stored_beside_the_final_forecast(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    rec = _record()
    rec.forecast_variants = {"challenger": rec.forecast.assign(model="AutoTheta", mean=12.0)}
    with store.session() as s:
        write_run(s, rec)
        t = run_tables(s, rec.run_id)
    assert t is not None
    by = t["forecast"].groupby("variant")
    assert by.size().to_dict() == {"challenger": 12, "final": 12}
    assert by["mean"].first().to_dict() == {"challenger": 12.0, "final": 10.0}
    with store.session() as s:  # diff compares the final forecasts only
        assert diff_runs(s, rec.run_id, rec.run_id)["forecasts"].empty
    store.close()


def test_two_plans_writing_their_first_runs_at_once_follow_each_other(store_url: str) -> None:
    """The second writer waits for the first to commit, then takes the next run number (without
    the lock both read the same highest number and one failed on the unique sequence)."""
    import threading

    store = open_store(store_url)
    first_in = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with store.session() as s:
                write_run(s, _record("a@2022-07-11"))
                first_in.set()
                release.wait(10)
        except BaseException as exc:
            errors.append(exc)
            first_in.set()

    def second() -> None:
        try:
            with store.session() as s:
                write_run(s, _record("b@2022-07-11", qty={("V1", "F1", "A"): 5}))
        except BaseException as exc:
            errors.append(exc)

    t1 = threading.Thread(target=first)
    t1.start()
    assert first_in.wait(10)
    t2 = threading.Thread(target=second)
    t2.start()
    t2.join(0.5)
    assert t2.is_alive()  # waiting for the first write to commit
    release.set()
    t1.join(20)
    t2.join(20)
    assert not errors, errors
    with store.session() as s:
        runs = list_runs(s)
    assert runs["run_id"].tolist() == ["a@2022-07-11", "b@2022-07-11"]
    assert runs["seq"].tolist() == [1, 2]
    store.close()

"""Reading and writing the planner's tables (:mod:`shipahead.store.runs`).

* :func:`write_run` stores one plan run — KPIs, forecast, backtest summary, stock targets,
  placement orders, routes and manifest — in the caller's transaction, replacing whatever the
  same ``run_id`` stored before (an upsert: the same run twice leaves the same rows). Its
  placement orders become tracked orders (:func:`order_id`), or changes to the open order of
  the same key.
* :func:`set_status` moves orders forward (proposed → approved → confirmed → received, or
  cancelled); a step backwards is refused and nothing changes.
* :func:`confirmed_inbound` is what the next placement counts as stock: confirmed, not yet
  received orders per FC × SKU (:func:`inbound_from_orders` on a plain table).
* :func:`list_runs`, :func:`run_tables`, :func:`diff_runs` read runs back.

Functions take a SQLAlchemy ``Session`` (from ``Store.session()``) and plain DataFrames; they
never commit: the caller's unit of work does, so a failure leaves the store as it was.
Quantities in units; dates are calendar dates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from shipahead.store.runs import (
    ORDER_STATUSES,
    PlannerBacktest,
    PlannerForecast,
    PlannerKpi,
    PlannerOrder,
    PlannerOrderEvent,
    PlannerRoute,
    PlannerRun,
    PlannerRunOrder,
    PlannerStockTarget,
)
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from shipahead.errors import InputError

__all__ = [
    "OPEN_STATUSES",
    "OrderChanges",
    "RunRecord",
    "add_inbound",
    "confirmed_inbound",
    "diff_runs",
    "inbound_from_orders",
    "list_runs",
    "order_id",
    "orders_table",
    "run_tables",
    "set_kpis",
    "set_manifest",
    "set_status",
    "write_run",
]

#: statuses whose quantity a later run of the same date may still change
OPEN_STATUSES = ("proposed", "approved")
_RANK = {"proposed": 0, "approved": 1, "confirmed": 2, "received": 3}
_FINAL = ("received", "cancelled")
_QUANTILES = ("q05", "q10", "q25", "q50", "q75", "q90", "q95")


def order_id(as_of: dt.date, from_node: str, to_fc_id: str, sku_id: str, ordinal: int = 1) -> str:
    """The stable id of an order: ``PO-`` and 16 hex digits of the SHA-256 of its key.

    The key is the run's date (``as_of``), the lane (``from_node`` → ``to_fc_id``), the SKU and
    the ordinal (> 1 only for more of a transfer already confirmed). The same key gives the
    same id in every run and every store.
    """
    text = "\x1f".join((as_of.isoformat(), from_node, to_fc_id, sku_id, str(int(ordinal))))
    return "PO-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16].upper()


@dataclass
class RunRecord:
    """One plan run as stored: identity and the tables it produced (None: step not run).

    ``forecast``: region_id, sku_id, ds, model, mean, q05…q95 (the forecast contract);
    ``backtest``: the leaderboard (model, demand_class and metric columns);
    ``stock_targets``: fc_id, sku_id, target_units, on_hand_units, expected_fill_rate;
    ``orders``: order_id (the run's line id), sku_id, from_node, to_fc_id, qty_units, ship_by;
    ``routes``: the routes contract; ``inbound``: fc_id, sku_id, inbound_units counted.
    """

    run_id: str
    as_of: dt.date
    scenario: str
    scenario_sha256: str
    manifest: dict[str, Any]
    kpis: dict[str, dict[str, Any]] = field(default_factory=dict)
    freq: str | None = None
    forecast: pd.DataFrame | None = None
    backtest: pd.DataFrame | None = None
    stock_targets: pd.DataFrame | None = None
    orders: pd.DataFrame | None = None
    routes: pd.DataFrame | None = None
    inbound: pd.DataFrame | None = None
    #: more forecasts of the run stored beside ``final`` (e.g. ``baseline``, ``challenger``),
    #: each in the forecast contract
    forecast_variants: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass
class OrderChanges:
    """What a run did to the tracked orders (order ids per kind of change)."""

    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {k: len(getattr(self, k)) for k in ("new", "changed", "unchanged", "dropped")}


# -- writing a run ---------------------------------------------------------------------------


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _date(value: Any) -> dt.date | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    ts = pd.Timestamp(value)
    return None if pd.isna(ts) else ts.date()


def _records(df: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """``df``'s rows as dicts of ``columns`` (missing columns are None; NaN becomes None)."""
    present = [c for c in columns if c in df.columns]
    out = df[present].astype(object).where(df[present].notna(), None).to_dict("records")
    for row in out:
        for c in columns:
            row.setdefault(c, None)
    return out


def _bulk(session: Session, model: type, rows: list[dict[str, Any]]) -> None:
    """One multi-row INSERT (executemany) of ``rows`` into ``model``'s table."""
    if rows:
        session.execute(insert(model), rows)


def _forecast_rows(rec: RunRecord) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for variant, fc in [("final", rec.forecast), *sorted(rec.forecast_variants.items())]:
        rows.extend(_variant_rows(rec, variant, fc))
    return rows


def _variant_rows(rec: RunRecord, variant: str, fc: pd.DataFrame | None) -> list[dict[str, Any]]:
    if fc is None or fc.empty:
        return []
    fc = fc.copy()
    fc["ds"] = pd.to_datetime(fc["ds"])
    fc = fc.sort_values(["region_id", "sku_id", "ds"], kind="stable")
    fc["lag"] = fc.groupby(["region_id", "sku_id"], sort=False).cumcount() + 1
    rows = _records(fc, ["region_id", "sku_id", "ds", "model", "lag", "mean", *_QUANTILES])
    for r in rows:
        r.update(
            run_id=rec.run_id,
            variant=variant,
            as_of=rec.as_of,
            region_id=str(r["region_id"]),
            sku_id=str(r["sku_id"]),
            ds=_date(r["ds"]),
            lag=int(r["lag"]),
            model=_text(r["model"]),
            **{k: _num(r[k]) for k in ("mean", *_QUANTILES)},
        )
    return rows


def _backtest_rows(rec: RunRecord) -> list[dict[str, Any]]:
    lb = rec.backtest
    if lb is None or lb.empty:
        return []
    keys = [c for c in ("model", "demand_class") if c in lb.columns]
    metrics = [c for c in lb.columns if c not in keys and pd.api.types.is_numeric_dtype(lb[c])]
    rows = []
    for rec_row in lb.to_dict("records"):
        for m in metrics:
            rows.append(
                {
                    "run_id": rec.run_id,
                    "model": str(rec_row.get("model", "")),
                    "demand_class": _text(rec_row.get("demand_class")) or "all",
                    "metric": m,
                    "as_of": rec.as_of,
                    "value": _num(rec_row[m]),
                }
            )
    return rows


def _target_rows(rec: RunRecord) -> list[dict[str, Any]]:
    st = rec.stock_targets
    if st is None or st.empty:
        return []
    inbound: dict[tuple[str, str], float] = {}
    if rec.inbound is not None and not rec.inbound.empty:
        for r in rec.inbound.to_dict("records"):
            inbound[(str(r["fc_id"]), str(r["sku_id"]))] = float(r["inbound_units"])
    rows = _records(st, ["fc_id", "sku_id", "target_units", "on_hand_units", "expected_fill_rate"])
    for r in rows:
        key = (str(r["fc_id"]), str(r["sku_id"]))
        r.update(
            run_id=rec.run_id,
            as_of=rec.as_of,
            fc_id=key[0],
            sku_id=key[1],
            target_units=int(r["target_units"]),
            on_hand_units=_num(r["on_hand_units"]) or 0.0,
            inbound_units=inbound.get(key, 0.0),
            expected_fill_rate=_num(r["expected_fill_rate"]),
        )
    return rows


def _route_rows(rec: RunRecord) -> list[dict[str, Any]]:
    rt = rec.routes
    if rt is None or rt.empty:
        return []
    cols = ["vehicle_id", "seq", "stop_id", "kind", "arrival", "departure"]
    nums = ["load_units", "leg_km", "leg_min", "late_min"]
    rows = _records(rt, cols + nums)
    for r in rows:
        r.update(
            run_id=rec.run_id,
            as_of=rec.as_of,
            vehicle_id=str(r["vehicle_id"]),
            seq=int(r["seq"]),
            stop_id=str(r["stop_id"]),
            kind=_text(r["kind"]),
            arrival=_text(r["arrival"]),
            departure=_text(r["departure"]),
            **{k: _num(r[k]) for k in nums},
        )
    return rows


def _kpi_rows(rec: RunRecord) -> list[dict[str, Any]]:
    rows = []
    for step in sorted(rec.kpis):
        for name, value in sorted((rec.kpis[step] or {}).items()):
            number = _num(value) if not isinstance(value, str) else None
            rows.append(
                {
                    "run_id": rec.run_id,
                    "step": step,
                    "name": str(name)[:64],
                    "as_of": rec.as_of,
                    "value": number,
                    "text": None if number is not None or value is None else str(value),
                }
            )
    return rows


_PER_RUN = (
    PlannerKpi,
    PlannerForecast,
    PlannerBacktest,
    PlannerStockTarget,
    PlannerRoute,
    PlannerRunOrder,
)


#: Key of the PostgreSQL advisory lock that serialises run writes (released at commit).
RUN_WRITE_LOCK_KEY = 0x5A1B_7E55


def _one_writer(session: Session) -> None:
    """Take the store's run-write lock before anything is read, so two plans writing at once
    (two runs' sequence numbers, one order's state) follow each other instead of colliding:
    a transaction-scoped advisory lock on PostgreSQL; on SQLite a write as the transaction's
    first statement takes the database's write lock (a second writer waits up to its busy
    timeout)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RUN_WRITE_LOCK_KEY})
    elif dialect == "sqlite":
        session.execute(text("UPDATE planner_runs SET seq = seq WHERE 0 = 1"))


def write_run(session: Session, rec: RunRecord) -> OrderChanges:
    """Store ``rec`` in the caller's transaction, replacing an earlier write of its ``run_id``.

    Concurrent writers to one store follow each other (:func:`_one_writer`). Returns what
    happened to the tracked orders. Rows are inserted in bulk (one executemany per table).
    """
    _one_writer(session)
    existing = session.get(PlannerRun, rec.run_id)
    previous_drops: set[str] = set()
    if existing is not None:
        previous_drops = set(
            session.scalars(
                select(PlannerRunOrder.order_id).where(
                    PlannerRunOrder.run_id == rec.run_id, PlannerRunOrder.change == "dropped"
                )
            )
        )
        for model in _PER_RUN:
            session.execute(delete(model).where(model.run_id == rec.run_id))
        seq = existing.seq
    else:
        seq = (session.scalar(select(func.max(PlannerRun.seq))) or 0) + 1
    manifest = json.dumps(rec.manifest, sort_keys=True, default=str)
    if existing is None:
        session.add(
            PlannerRun(
                run_id=rec.run_id,
                as_of=rec.as_of,
                seq=seq,
                scenario=rec.scenario,
                scenario_sha256=rec.scenario_sha256,
                freq=rec.freq,
                manifest=manifest,
            )
        )
    else:
        existing.as_of = rec.as_of
        existing.scenario = rec.scenario
        existing.scenario_sha256 = rec.scenario_sha256
        existing.freq = rec.freq
        existing.manifest = manifest
    session.flush()
    _bulk(session, PlannerKpi, _kpi_rows(rec))
    _bulk(session, PlannerForecast, _forecast_rows(rec))
    _bulk(session, PlannerBacktest, _backtest_rows(rec))
    _bulk(session, PlannerStockTarget, _target_rows(rec))
    _bulk(session, PlannerRoute, _route_rows(rec))
    changes = OrderChanges()
    if rec.orders is not None:
        changes = _write_orders(session, rec, seq, previous_drops)
    return changes


def _previous_qty(session: Session, order_ids: Iterable[str], run_id: str) -> dict[str, int]:
    """Per order, the quantity the latest other run (highest ``seq``) proposed for it."""
    ids = list(order_ids)
    if not ids:
        return {}
    q = (
        select(PlannerRunOrder.order_id, PlannerRunOrder.qty_units, PlannerRun.seq)
        .join(PlannerRun, PlannerRun.run_id == PlannerRunOrder.run_id)
        .where(
            PlannerRunOrder.order_id.in_(ids),
            PlannerRunOrder.run_id != run_id,
            PlannerRunOrder.change != "dropped",
        )
    )
    best: dict[str, tuple[int, int]] = {}
    for oid, qty, seq in session.execute(q):
        if oid not in best or seq > best[oid][0]:
            best[oid] = (seq, int(qty))
    return {k: v[1] for k, v in best.items()}


def _write_orders(
    session: Session, rec: RunRecord, seq: int, previous_drops: set[str]
) -> OrderChanges:
    orders = rec.orders
    assert orders is not None
    proposals: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in orders.sort_values("order_id", kind="stable").to_dict("records"):
        key = (str(r["from_node"]), str(r["to_fc_id"]), str(r["sku_id"]))
        p = proposals.setdefault(
            key, {"qty": 0, "line_id": str(r["order_id"]), "ship_by": _date(r.get("ship_by"))}
        )
        p["qty"] += int(r["qty_units"])
    known: dict[tuple[str, str, str], list[PlannerOrder]] = {}
    for o in session.scalars(
        select(PlannerOrder).where(PlannerOrder.as_of == rec.as_of).order_by(PlannerOrder.ordinal)
    ):
        known.setdefault((o.from_node, o.to_fc_id, o.sku_id), []).append(o)
    changes = OrderChanges()
    run_rows: list[dict[str, Any]] = []
    touched: list[tuple[PlannerOrder, dict[str, Any]]] = []
    for key in sorted(proposals):
        p = proposals[key]
        history = known.get(key, [])
        live = [o for o in history if o.status != "cancelled"]
        latest = live[-1] if live else None
        if latest is not None and latest.status in OPEN_STATUSES:
            latest.qty_units = p["qty"]
            latest.ship_by = p["ship_by"]
            latest.last_run_id = rec.run_id
            touched.append((latest, p))
        else:
            ordinal = max((o.ordinal for o in history), default=0) + 1
            new = PlannerOrder(
                order_id=order_id(rec.as_of, *key, ordinal=ordinal),
                as_of=rec.as_of,
                from_node=key[0],
                to_fc_id=key[1],
                sku_id=key[2],
                ordinal=ordinal,
                qty_units=p["qty"],
                ship_by=p["ship_by"],
                status="proposed",
                first_run_id=rec.run_id,
                last_run_id=rec.run_id,
            )
            session.add(new)
            touched.append((new, p))
    session.flush()
    previous = _previous_qty(session, [o.order_id for o, _ in touched], rec.run_id)
    for o, p in touched:
        before = previous.get(o.order_id)
        kind = "new" if before is None else ("unchanged" if before == p["qty"] else "changed")
        getattr(changes, kind).append(o.order_id)
        run_rows.append(
            {
                "run_id": rec.run_id,
                "order_id": o.order_id,
                "as_of": rec.as_of,
                "line_id": p["line_id"],
                "qty_units": p["qty"],
                "previous_qty": before,
                "change": kind,
            }
        )
    proposed_ids = {o.order_id for o, _ in touched}
    for _key, history in sorted(known.items()):
        for o in history:
            if o.order_id in proposed_ids:
                continue
            open_now = o.status in OPEN_STATUSES
            dropped_before = o.order_id in previous_drops and o.status == "cancelled"
            if not (open_now or dropped_before):
                continue
            before = o.qty_units
            if o.status == "proposed":
                # only a proposal: the run that no longer asks for it withdraws it
                session.add(
                    PlannerOrderEvent(
                        order_id=o.order_id,
                        from_status=o.status,
                        to_status="cancelled",
                        qty_units=o.qty_units,
                        source=f"run {rec.run_id}: no longer proposed"[:300],
                        at=None,
                    )
                )
                o.status = "cancelled"
            changes.dropped.append(o.order_id)
            run_rows.append(
                {
                    "run_id": rec.run_id,
                    "order_id": o.order_id,
                    "as_of": rec.as_of,
                    "line_id": None,
                    "qty_units": 0,
                    "previous_qty": before,
                    "change": "dropped",
                }
            )
    session.flush()
    _bulk(session, PlannerRunOrder, run_rows)
    return changes


# -- order statuses --------------------------------------------------------------------------


def _check_move(order: PlannerOrder, to: str) -> str | None:
    """Why ``order`` cannot move to status ``to`` (None: it can, or it is already there)."""
    now = order.status
    if to == now:
        return None
    if now in _FINAL:
        return f"order {order.order_id} is {now}; its status cannot change to {to}"
    if to == "cancelled":
        return None
    if _RANK[to] < _RANK[now]:
        return (
            f"order {order.order_id} is {now}; it cannot go back to {to} "
            f"(statuses only move forward: {' → '.join(ORDER_STATUSES[:4])})"
        )
    return None


def set_status(
    session: Session,
    moves: Sequence[tuple[str, str, int | None]],
    *,
    source: str,
    at: dt.datetime | None = None,
    table: str = "orders",
) -> dict[str, int]:
    """Apply ``(order_id, status, quantity or None)`` moves, all or none.

    A move to the order's current status is a no-op (an import may repeat rows), except that
    a new quantity for a confirmed order is recorded (the ERP changed it). Raises
    :class:`~shipahead.errors.InputError` (``row`` = index in ``moves``) for an unknown id, an
    unknown status, a negative quantity or a step backwards; then nothing is changed (the
    caller's transaction rolls back). Returns how many orders moved to each status.
    """
    at = at or dt.datetime.now(dt.UTC)
    ids = sorted({m[0] for m in moves})
    found = {
        o.order_id: o
        for o in session.scalars(select(PlannerOrder).where(PlannerOrder.order_id.in_(ids)))
    }
    counts: dict[str, int] = {}
    for row, (oid, to, qty) in enumerate(moves):
        if to not in ORDER_STATUSES:
            raise InputError(
                f"unknown status {to!r}",
                table=table,
                row=row,
                column="status",
                fix=f"use one of {', '.join(ORDER_STATUSES[1:])}",
            )
        order = found.get(oid)
        if order is None:
            raise InputError(
                f"no order {oid!r} in the store",
                table=table,
                row=row,
                column="order_id",
                fix="check the id (`shipahead runs show RUN` lists a run's orders)",
            )
        if qty is not None and qty < 0:
            raise InputError(
                f"quantity {qty} of order {oid} is negative",
                table=table,
                row=row,
                column="quantity",
                fix="give a quantity ≥ 0",
            )
        why = _check_move(order, to)
        if why is not None:
            raise InputError(why, table=table, row=row, column="status", fix="leave it as it is")
        if to == order.status and (qty is None or qty == order.qty_units):
            continue
        session.add(
            PlannerOrderEvent(
                order_id=oid,
                from_status=order.status,
                to_status=to,
                qty_units=qty if qty is not None else order.qty_units,
                source=source[:300],
                at=at,
            )
        )
        order.status = to
        if qty is not None:
            order.qty_units = int(qty)
        counts[to] = counts.get(to, 0) + 1
    session.flush()
    return counts


# -- inbound ---------------------------------------------------------------------------------


def inbound_from_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """Confirmed, not yet received orders as stock on its way: ``fc_id, sku_id,
    inbound_units`` (units), one row per FC × SKU, sorted.

    ``orders`` has one row per order (``order_id, to_fc_id, sku_id, qty_units, status``); a
    repeated ``order_id`` counts once (its last row), so nothing is counted twice.
    """
    cols = ["fc_id", "sku_id", "inbound_units"]
    if orders.empty:
        return pd.DataFrame(columns=cols).astype({"inbound_units": float})
    last = orders.drop_duplicates("order_id", keep="last")
    conf = last[last["status"] == "confirmed"]
    out = (
        conf.groupby(["to_fc_id", "sku_id"], sort=True)["qty_units"]
        .sum()
        .astype(float)
        .reset_index()
        .rename(columns={"to_fc_id": "fc_id", "qty_units": "inbound_units"})
    )
    return out[out["inbound_units"] > 0].reset_index(drop=True)[cols]


def add_inbound(inventory: pd.DataFrame, inbound: pd.DataFrame) -> pd.DataFrame:
    """``inventory`` (fc_id, sku_id, on_hand_units, …) with ``inbound`` (fc_id, sku_id,
    inbound_units) added to ``on_hand_units``; FC × SKU pairs only inbound has are appended
    (sorted). Units."""
    if inbound.empty:
        return inventory
    inv = inventory.copy()
    add = {
        (str(r["fc_id"]), str(r["sku_id"])): float(r["inbound_units"])
        for r in inbound.to_dict("records")
    }
    keys = list(zip(inv["fc_id"].astype(str), inv["sku_id"].astype(str), strict=True))
    inv["on_hand_units"] = inv["on_hand_units"].astype(float) + [add.get(k, 0.0) for k in keys]
    missing = sorted(set(add) - set(keys))
    if missing:
        extra = pd.DataFrame(
            {
                "fc_id": [k[0] for k in missing],
                "sku_id": [k[1] for k in missing],
                "on_hand_units": [add[k] for k in missing],
            }
        )
        inv = pd.concat([inv, extra], ignore_index=True)
    return inv


def set_manifest(session: Session, run_id: str, manifest: dict[str, Any]) -> None:
    """Replace the stored manifest of run ``run_id`` (in the caller's transaction)."""
    run = session.get(PlannerRun, run_id)
    if run is not None:
        run.manifest = json.dumps(manifest, sort_keys=True, default=str)


def set_kpis(session: Session, run_id: str, step: str, kpis: dict[str, Any]) -> None:
    """Replace the KPIs of one ``step`` of run ``run_id`` (in the caller's transaction)."""
    run = session.get(PlannerRun, run_id)
    if run is None:
        return
    session.execute(delete(PlannerKpi).where(PlannerKpi.run_id == run_id, PlannerKpi.step == step))
    rec = RunRecord(run_id, run.as_of, run.scenario, run.scenario_sha256, {}, {step: kpis})
    _bulk(session, PlannerKpi, _kpi_rows(rec))


def orders_table(session: Session, statuses: Sequence[str] | None = None) -> pd.DataFrame:
    """The tracked orders (optionally only some statuses), sorted by date, lane and SKU."""
    q = select(
        PlannerOrder.order_id,
        PlannerOrder.as_of,
        PlannerOrder.from_node,
        PlannerOrder.to_fc_id,
        PlannerOrder.sku_id,
        PlannerOrder.ordinal,
        PlannerOrder.qty_units,
        PlannerOrder.ship_by,
        PlannerOrder.status,
        PlannerOrder.first_run_id,
        PlannerOrder.last_run_id,
    ).order_by(
        PlannerOrder.as_of,
        PlannerOrder.from_node,
        PlannerOrder.to_fc_id,
        PlannerOrder.sku_id,
        PlannerOrder.ordinal,
    )
    if statuses is not None:
        q = q.where(PlannerOrder.status.in_(list(statuses)))
    rows = session.execute(q).all()
    cols = [c.key for c in q.selected_columns]
    return pd.DataFrame(rows, columns=cols)


def confirmed_inbound(session: Session) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the confirmed, not yet received orders; their units per FC × SKU)."""
    orders = orders_table(session, ["confirmed"])
    return orders, inbound_from_orders(orders)


# -- reading runs back -----------------------------------------------------------------------


def list_runs(session: Session) -> pd.DataFrame:
    """Every stored run, oldest first: run_id, as_of, scenario, and its order count."""
    counts = dict(
        session.execute(
            select(PlannerRunOrder.run_id, func.count())
            .where(PlannerRunOrder.change != "dropped")
            .group_by(PlannerRunOrder.run_id)
        ).all()
    )
    rows = [
        {
            "seq": r.seq,
            "run_id": r.run_id,
            "as_of": r.as_of,
            "scenario": r.scenario,
            "orders": counts.get(r.run_id, 0),
        }
        for r in session.scalars(select(PlannerRun).order_by(PlannerRun.seq))
    ]
    return pd.DataFrame(rows, columns=["seq", "run_id", "as_of", "scenario", "orders"])


def _frame(session: Session, model: type, run_id: str, drop: Sequence[str] = ()) -> pd.DataFrame:
    names = [c.key for c in model.__table__.columns]
    cols = [c for c in names if c not in ("run_id", "as_of", *drop)]
    q = select(*(getattr(model, c) for c in cols)).where(model.run_id == run_id)
    pk = [c.key for c in model.__table__.primary_key.columns if c.key in cols]
    q = q.order_by(*(getattr(model, c) for c in pk))
    return pd.DataFrame(session.execute(q).all(), columns=cols)


def run_tables(session: Session, run_id: str) -> dict[str, Any] | None:
    """A stored run's tables (None when there is no such run)."""
    run = session.get(PlannerRun, run_id)
    if run is None:
        return None
    orders = _frame(session, PlannerRunOrder, run_id)
    if not orders.empty:
        tracked = orders_table(session).set_index("order_id")
        orders = orders.join(tracked[["from_node", "to_fc_id", "sku_id", "status"]], on="order_id")[
            [
                "order_id",
                "line_id",
                "from_node",
                "to_fc_id",
                "sku_id",
                "qty_units",
                "previous_qty",
                "change",
                "status",
            ]
        ]
    return {
        "run": {
            "run_id": run.run_id,
            "as_of": run.as_of.isoformat(),
            "seq": run.seq,
            "scenario": run.scenario,
            "scenario_sha256": run.scenario_sha256,
            "freq": run.freq,
        },
        "manifest": json.loads(run.manifest),
        "kpis": _frame(session, PlannerKpi, run_id),
        "forecast": _frame(session, PlannerForecast, run_id),
        "backtest": _frame(session, PlannerBacktest, run_id),
        "stock_targets": _frame(session, PlannerStockTarget, run_id),
        "orders": orders,
        "routes": _frame(session, PlannerRoute, run_id),
    }


def diff_runs(session: Session, run_a: str, run_b: str, *, tol: float = 1e-9) -> dict[str, Any]:
    """What changed from run ``run_a`` to ``run_b``: KPIs, orders (by lane and SKU) and
    forecasts (by region, SKU and period, where both runs forecast it); None values mean the
    row is missing in that run. Raises KeyError naming a run that is not stored."""
    a, b = run_tables(session, run_a), run_tables(session, run_b)
    for rid, t in ((run_a, a), (run_b, b)):
        if t is None:
            raise KeyError(rid)
    assert a is not None and b is not None

    def kpi_map(t: dict[str, Any]) -> dict[tuple[str, str], Any]:
        out = {}
        for r in t["kpis"].to_dict("records"):
            value = r["value"]
            out[(r["step"], r["name"])] = r["text"] if value is None or pd.isna(value) else value
        return out

    ka, kb = kpi_map(a), kpi_map(b)
    kpis = []
    for key in sorted(set(ka) | set(kb)):
        va, vb = ka.get(key), kb.get(key)
        same = va == vb or (isinstance(va, float) and isinstance(vb, float) and abs(va - vb) <= tol)
        if not same:
            kpis.append({"step": key[0], "name": key[1], "a": va, "b": vb})

    def order_map(t: dict[str, Any]) -> dict[tuple[str, str, str], tuple[int, str]]:
        o = t["orders"]
        if o.empty:
            return {}
        o = o[o["change"] != "dropped"]
        return {
            (r["from_node"], r["to_fc_id"], r["sku_id"]): (int(r["qty_units"]), r["order_id"])
            for r in o.to_dict("records")
        }

    oa, ob = order_map(a), order_map(b)
    orders = []
    for key in sorted(set(oa) | set(ob)):
        qa, qb = oa.get(key, (None, None)), ob.get(key, (None, None))
        if qa[0] != qb[0]:
            orders.append(
                {
                    "from_node": key[0],
                    "to_fc_id": key[1],
                    "sku_id": key[2],
                    "a_qty": qa[0],
                    "b_qty": qb[0],
                    "a_order_id": qa[1],
                    "b_order_id": qb[1],
                }
            )
    fa, fb = a["forecast"], b["forecast"]
    forecasts = pd.DataFrame(columns=["region_id", "sku_id", "ds", "a_mean", "b_mean", "change"])
    if not fa.empty and not fb.empty:
        key = ["region_id", "sku_id", "ds"]
        m = fa[fa["variant"] == "final"][[*key, "mean"]].merge(
            fb[fb["variant"] == "final"][[*key, "mean"]], on=key, suffixes=("_a", "_b")
        )
        m["change"] = m["mean_b"] - m["mean_a"]
        m = m[m["change"].abs() > tol].rename(columns={"mean_a": "a_mean", "mean_b": "b_mean"})
        forecasts = m.reset_index(drop=True)
    return {
        "a": a["run"],
        "b": b["run"],
        "kpis": kpis,
        "orders": orders,
        "forecasts": forecasts,
    }

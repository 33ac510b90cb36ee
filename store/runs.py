"""The planner's tables: one row set per `shipahead plan` run, and placement orders tracked
until they arrive.

Every per-run table is keyed by ``run_id`` (and the run's ``as_of``, the history's last date —
never the wall clock); re-writing a run replaces its rows in one transaction, so re-running the
same scenario leaves the same rows. Orders outlive runs: ``planner_orders`` holds one row per
order with a stable ``order_id`` and its status (proposed → approved → confirmed → received, or
cancelled; never backwards), ``planner_run_orders`` what each run proposed for it, and
``planner_order_events`` every status change a user or an ERP import made.

Units: quantities in units, dates as calendar dates (no time zone), ``at`` in UTC.
"""

from __future__ import annotations

import datetime as dt

from shipahead.store.schema import Base
from sqlalchemy import (
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

__all__ = [
    "ORDER_STATUSES",
    "PlannerBacktest",
    "PlannerForecast",
    "PlannerKpi",
    "PlannerOrder",
    "PlannerOrderEvent",
    "PlannerRoute",
    "PlannerRun",
    "PlannerRunOrder",
    "PlannerStockTarget",
]

#: Order statuses in their only allowed direction; ``cancelled`` ends any open order.
ORDER_STATUSES: tuple[str, ...] = ("proposed", "approved", "confirmed", "received", "cancelled")

_ID = 128  # longest id (region, SKU, FC, vehicle, stop) the store keeps


class PlannerRun(Base):
    """One plan run: its identity, the scenario it ran and its manifest (JSON text)."""

    __tablename__ = "planner_runs"

    run_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date, index=True)
    #: 1, 2, … in the order runs were first written (kept when a run is re-written)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    scenario: Mapped[str] = mapped_column(String(200))
    scenario_sha256: Mapped[str] = mapped_column(String(64))
    #: the frequency of the forecast periods (e.g. ``W-MON``), for lags
    freq: Mapped[str | None] = mapped_column(String(32))
    manifest: Mapped[str] = mapped_column(Text)


class PlannerKpi(Base):
    """A run's KPIs, one row per (step, name): a number in ``value`` or text in ``text``."""

    __tablename__ = "planner_kpis"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("planner_runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    value: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(Text)


class PlannerForecast(Base):
    """A run's forecast per (variant, region, SKU, period).

    ``variant`` is ``final`` for the forecast placement used; other variants (``baseline``
    before overrides, ``challenger``) may sit beside it. ``lag`` counts periods ahead of
    ``as_of`` (1 = the first forecast period). Quantiles in units.
    """

    __tablename__ = "planner_forecasts"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("planner_runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    variant: Mapped[str] = mapped_column(String(32), primary_key=True)
    region_id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    sku_id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    ds: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    lag: Mapped[int] = mapped_column(Integer)
    model: Mapped[str | None] = mapped_column(String(64))
    mean: Mapped[float | None] = mapped_column(Float)
    q05: Mapped[float | None] = mapped_column(Float)
    q10: Mapped[float | None] = mapped_column(Float)
    q25: Mapped[float | None] = mapped_column(Float)
    q50: Mapped[float | None] = mapped_column(Float)
    q75: Mapped[float | None] = mapped_column(Float)
    q90: Mapped[float | None] = mapped_column(Float)
    q95: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_planner_forecasts_key", "region_id", "sku_id", "ds"),)


class PlannerBacktest(Base):
    """A run's backtest summary (the leaderboard) in long form: one metric per row."""

    __tablename__ = "planner_backtest"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("planner_runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    demand_class: Mapped[str] = mapped_column(String(32), primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    value: Mapped[float | None] = mapped_column(Float)


class PlannerStockTarget(Base):
    """A run's stock target per FC × SKU (units; fill rate a share 0–1)."""

    __tablename__ = "planner_stock_targets"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("planner_runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    fc_id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    sku_id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    target_units: Mapped[int] = mapped_column(Integer)
    on_hand_units: Mapped[float] = mapped_column(Float)
    #: confirmed, not yet received orders counted as stock on hand by this run (units)
    inbound_units: Mapped[float] = mapped_column(Float, default=0.0)
    expected_fill_rate: Mapped[float | None] = mapped_column(Float)


class PlannerRoute(Base):
    """A run's route plan: one row per vehicle stop (times ``HH:MM``, km, minutes)."""

    __tablename__ = "planner_routes"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("planner_runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    vehicle_id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    stop_id: Mapped[str] = mapped_column(String(_ID))
    kind: Mapped[str | None] = mapped_column(String(16))
    arrival: Mapped[str | None] = mapped_column(String(8))
    departure: Mapped[str | None] = mapped_column(String(8))
    load_units: Mapped[float | None] = mapped_column(Float)
    leg_km: Mapped[float | None] = mapped_column(Float)
    leg_min: Mapped[float | None] = mapped_column(Float)
    late_min: Mapped[float | None] = mapped_column(Float)


class PlannerOrder(Base):
    """A placement order tracked until it arrives.

    Its key is (``as_of``, ``from_node``, ``to_fc_id``, ``sku_id``, ``ordinal``): the run's
    date, the lane and the SKU; ``ordinal`` > 1 only when a later run of the same date asks for
    more of a transfer already confirmed. ``order_id`` is derived from the key (stable across
    runs and stores). ``qty_units`` is the latest proposed quantity while the order is open
    (proposed, approved) and the confirmed quantity once confirmed.
    """

    __tablename__ = "planner_orders"

    order_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date, index=True)
    from_node: Mapped[str] = mapped_column(String(_ID))
    to_fc_id: Mapped[str] = mapped_column(String(_ID))
    sku_id: Mapped[str] = mapped_column(String(_ID))
    ordinal: Mapped[int] = mapped_column(Integer, default=1)
    qty_units: Mapped[int] = mapped_column(Integer)
    ship_by: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), index=True)
    first_run_id: Mapped[str] = mapped_column(String(200))
    last_run_id: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        UniqueConstraint(
            "as_of", "from_node", "to_fc_id", "sku_id", "ordinal", name="uq_order_key"
        ),
    )


class PlannerRunOrder(Base):
    """What a run proposed for an order: the run's line id, the quantity and the change.

    ``change`` is ``new`` (first proposed by this run), ``changed`` (quantity differs from
    ``previous_qty``), ``unchanged``, or ``dropped`` (this run no longer proposes an open order
    of its date; the order was cancelled, ``qty_units`` 0).
    """

    __tablename__ = "planner_run_orders"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("planner_runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    order_id: Mapped[str] = mapped_column(
        ForeignKey("planner_orders.order_id", ondelete="CASCADE"), primary_key=True
    )
    as_of: Mapped[dt.date] = mapped_column(Date)
    line_id: Mapped[str | None] = mapped_column(String(32))
    qty_units: Mapped[int] = mapped_column(Integer)
    previous_qty: Mapped[int | None] = mapped_column(Integer)
    change: Mapped[str] = mapped_column(String(16))


class PlannerOrderEvent(Base):
    """A status change of an order (by a user, an ERP import or a run), in order of
    ``event_id``."""

    __tablename__ = "planner_order_events"

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(
        ForeignKey("planner_orders.order_id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    qty_units: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(300))
    #: when a user or an import made the change (UTC); empty for changes a run made (a run
    #: reads no clock: its ``as_of`` dates it)
    at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

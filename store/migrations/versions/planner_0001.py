"""The planner's tables: runs (KPIs, forecasts, backtest summary, stock targets, routes) and
placement orders tracked until they arrive (shipahead.store.runs).

Revision ID: planner_0001
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "planner_0001"
down_revision = "0001_core"
branch_labels = ("planner",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "planner_orders",
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("from_node", sa.String(length=128), nullable=False),
        sa.Column("to_fc_id", sa.String(length=128), nullable=False),
        sa.Column("sku_id", sa.String(length=128), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("qty_units", sa.Integer(), nullable=False),
        sa.Column("ship_by", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_run_id", sa.String(length=200), nullable=False),
        sa.Column("last_run_id", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_planner_orders")),
        sa.UniqueConstraint(
            "as_of", "from_node", "to_fc_id", "sku_id", "ordinal", name="uq_order_key"
        ),
    )
    op.create_index(op.f("ix_planner_orders_as_of"), "planner_orders", ["as_of"], unique=False)
    op.create_index(op.f("ix_planner_orders_status"), "planner_orders", ["status"], unique=False)
    op.create_table(
        "planner_runs",
        sa.Column("run_id", sa.String(length=200), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("scenario", sa.String(length=200), nullable=False),
        sa.Column("scenario_sha256", sa.String(length=64), nullable=False),
        sa.Column("freq", sa.String(length=32), nullable=True),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_planner_runs")),
        sa.UniqueConstraint("seq", name=op.f("uq_planner_runs_seq")),
    )
    op.create_index(op.f("ix_planner_runs_as_of"), "planner_runs", ["as_of"], unique=False)
    op.create_table(
        "planner_backtest",
        sa.Column("run_id", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("demand_class", sa.String(length=32), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["planner_runs.run_id"],
            name=op.f("fk_planner_backtest_run_id_planner_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "run_id", "model", "demand_class", "metric", name=op.f("pk_planner_backtest")
        ),
    )
    op.create_table(
        "planner_forecasts",
        sa.Column("run_id", sa.String(length=200), nullable=False),
        sa.Column("variant", sa.String(length=32), nullable=False),
        sa.Column("region_id", sa.String(length=128), nullable=False),
        sa.Column("sku_id", sa.String(length=128), nullable=False),
        sa.Column("ds", sa.Date(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("lag", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=True),
        sa.Column("mean", sa.Float(), nullable=True),
        sa.Column("q05", sa.Float(), nullable=True),
        sa.Column("q10", sa.Float(), nullable=True),
        sa.Column("q25", sa.Float(), nullable=True),
        sa.Column("q50", sa.Float(), nullable=True),
        sa.Column("q75", sa.Float(), nullable=True),
        sa.Column("q90", sa.Float(), nullable=True),
        sa.Column("q95", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["planner_runs.run_id"],
            name=op.f("fk_planner_forecasts_run_id_planner_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "run_id", "variant", "region_id", "sku_id", "ds", name=op.f("pk_planner_forecasts")
        ),
    )
    op.create_index(
        "ix_planner_forecasts_key", "planner_forecasts", ["region_id", "sku_id", "ds"], unique=False
    )
    op.create_table(
        "planner_kpis",
        sa.Column("run_id", sa.String(length=200), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["planner_runs.run_id"],
            name=op.f("fk_planner_kpis_run_id_planner_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "step", "name", name=op.f("pk_planner_kpis")),
    )
    op.create_table(
        "planner_order_events",
        sa.Column("event_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("qty_units", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["planner_orders.order_id"],
            name=op.f("fk_planner_order_events_order_id_planner_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_planner_order_events")),
    )
    op.create_index(
        op.f("ix_planner_order_events_order_id"), "planner_order_events", ["order_id"], unique=False
    )
    op.create_table(
        "planner_routes",
        sa.Column("run_id", sa.String(length=200), nullable=False),
        sa.Column("vehicle_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("stop_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("arrival", sa.String(length=8), nullable=True),
        sa.Column("departure", sa.String(length=8), nullable=True),
        sa.Column("load_units", sa.Float(), nullable=True),
        sa.Column("leg_km", sa.Float(), nullable=True),
        sa.Column("leg_min", sa.Float(), nullable=True),
        sa.Column("late_min", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["planner_runs.run_id"],
            name=op.f("fk_planner_routes_run_id_planner_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "vehicle_id", "seq", name=op.f("pk_planner_routes")),
    )
    op.create_table(
        "planner_run_orders",
        sa.Column("run_id", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("line_id", sa.String(length=32), nullable=True),
        sa.Column("qty_units", sa.Integer(), nullable=False),
        sa.Column("previous_qty", sa.Integer(), nullable=True),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["planner_orders.order_id"],
            name=op.f("fk_planner_run_orders_order_id_planner_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["planner_runs.run_id"],
            name=op.f("fk_planner_run_orders_run_id_planner_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "order_id", name=op.f("pk_planner_run_orders")),
    )
    op.create_table(
        "planner_stock_targets",
        sa.Column("run_id", sa.String(length=200), nullable=False),
        sa.Column("fc_id", sa.String(length=128), nullable=False),
        sa.Column("sku_id", sa.String(length=128), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("target_units", sa.Integer(), nullable=False),
        sa.Column("on_hand_units", sa.Float(), nullable=False),
        sa.Column("inbound_units", sa.Float(), nullable=False),
        sa.Column("expected_fill_rate", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["planner_runs.run_id"],
            name=op.f("fk_planner_stock_targets_run_id_planner_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "fc_id", "sku_id", name=op.f("pk_planner_stock_targets")),
    )


def downgrade() -> None:
    op.drop_table("planner_stock_targets")
    op.drop_table("planner_run_orders")
    op.drop_table("planner_routes")
    op.drop_index(op.f("ix_planner_order_events_order_id"), table_name="planner_order_events")
    op.drop_table("planner_order_events")
    op.drop_table("planner_kpis")
    op.drop_index("ix_planner_forecasts_key", table_name="planner_forecasts")
    op.drop_table("planner_forecasts")
    op.drop_table("planner_backtest")
    op.drop_index(op.f("ix_planner_runs_as_of"), table_name="planner_runs")
    op.drop_table("planner_runs")
    op.drop_index(op.f("ix_planner_orders_status"), table_name="planner_orders")
    op.drop_index(op.f("ix_planner_orders_as_of"), table_name="planner_orders")
    op.drop_table("planner_orders")

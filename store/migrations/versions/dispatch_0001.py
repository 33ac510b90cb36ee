"""The dispatch service's tables: plans (with the work queue's lease columns), events, revisions.

Revision ID: dispatch_0001
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "dispatch_0001"
down_revision = "0001_core"
branch_labels = ("dispatch",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dispatch_plans",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("n_jobs", sa.Integer(), nullable=False),
        sa.Column("n_vehicles", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("open_revision", sa.Integer(), nullable=False),
        sa.Column("solving_revision", sa.Integer(), nullable=True),
        sa.Column("not_before", sa.Float(), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires", sa.Float(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_plans")),
    )
    op.create_index(
        "ix_dispatch_plans_status_not_before", "dispatch_plans", ["status", "not_before"]
    )
    op.create_table(
        "dispatch_events",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["dispatch_plans.id"],
            name=op.f("fk_dispatch_events_plan_id_dispatch_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_dispatch_events")),
        sa.UniqueConstraint("plan_id", "event_id", name=op.f("uq_dispatch_events_plan_id")),
    )
    op.create_index(op.f("ix_dispatch_events_plan_id"), "dispatch_events", ["plan_id"])
    op.create_table(
        "dispatch_revisions",
        sa.Column("plan_id", sa.String(36), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("geometry", sa.Text(), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("solve_s", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["dispatch_plans.id"],
            name=op.f("fk_dispatch_revisions_plan_id_dispatch_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_id", "n", name=op.f("pk_dispatch_revisions")),
    )


def downgrade() -> None:
    op.drop_table("dispatch_revisions")
    op.drop_index(op.f("ix_dispatch_events_plan_id"), table_name="dispatch_events")
    op.drop_table("dispatch_events")
    op.drop_index("ix_dispatch_plans_status_not_before", table_name="dispatch_plans")
    op.drop_table("dispatch_plans")

"""Planners' overrides per run (shipahead.store.accuracy): baseline, final, user, comment.

Revision ID: planner_0002
Revises: planner_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "planner_0002"
down_revision = "planner_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "planner_overrides",
        sa.Column("run_id", sa.String(length=200), nullable=False),
        sa.Column("region_id", sa.String(length=128), nullable=False),
        sa.Column("sku_id", sa.String(length=128), nullable=False),
        sa.Column("ds", sa.Date(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("final", sa.Float(), nullable=False),
        sa.Column("user", sa.String(length=200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["planner_runs.run_id"],
            name=op.f("fk_planner_overrides_run_id_planner_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "run_id", "region_id", "sku_id", "ds", name=op.f("pk_planner_overrides")
        ),
    )


def downgrade() -> None:
    op.drop_table("planner_overrides")

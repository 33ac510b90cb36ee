"""Alembic environment: runs on the connection :func:`shipahead.store.migrate.upgrade_schema`
passes in (the CLI and the service never use alembic.ini)."""

from __future__ import annotations

from alembic import context
from shipahead.store.schema import Base, load_models

load_models()

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `alembic` run by hand without a connection
    raise RuntimeError("open the store with shipahead.store.open_store(url) to migrate it")

# batch mode lets the same migrations alter tables on SQLite, which has no ALTER COLUMN
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

"""Alembic migrations, run from the package (no alembic.ini needed).

The history has one root (``0001_core``) and one branch per part of the product that owns
tables (``dispatch``, ``planner``), so each part's migrations advance on their own; opening a
store upgrades every branch to its head. Upgrades are serialised across processes — several
API processes may start against one PostgreSQL at once (an advisory lock), or several commands
against one SQLite file (a lock file beside it).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

__all__ = ["alembic_config", "current_heads", "head_revisions", "upgrade_schema"]

#: Key of the PostgreSQL advisory lock held while the schema is upgraded.
PG_LOCK_KEY = 0x5A1B_A4EA


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations (and at ``connection``)."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revisions() -> set[str]:
    """The revisions a current store is at (one per branch)."""
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_heads(engine: Engine) -> set[str]:
    """The revisions the database at ``engine`` is at (empty for a new database)."""
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


@contextmanager
def _sqlite_lock(engine: Engine) -> Iterator[None]:
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate-lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade_schema(engine: Engine) -> None:
    """Create or upgrade the store's schema to every branch's head (idempotent)."""
    if current_heads(engine) == head_revisions():
        return
    if engine.url.get_backend_name() == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
            command.upgrade(alembic_config(connection), "heads")
        return
    with _sqlite_lock(engine), engine.begin() as connection:
        command.upgrade(alembic_config(connection), "heads")

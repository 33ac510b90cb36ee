"""shipahead's database layer: one store shared by the dispatch service and the planner's loop.

SQLAlchemy 2 models and Alembic migrations over SQLite (the embedded default: a file, nothing to
install) or PostgreSQL (psycopg 3) for teams. Open a store with :func:`open_store`; it creates
or upgrades the schema to the current migration before it returns.

- :mod:`shipahead.store.engine`: database URLs (``${VAR}`` expansion, redaction), engines;
- :mod:`shipahead.store.schema`: the declarative base every table derives from;
- :mod:`shipahead.store.migrate`: the Alembic upgrade, serialised across processes.

Nothing here unpickles: every value is a column of a plain SQL type or JSON text.
"""

from shipahead.store.engine import (
    Store,
    StoreError,
    default_sqlite_url,
    expand_env,
    open_store,
    redact_url,
)
from shipahead.store.schema import Base

__all__ = [
    "Base",
    "Store",
    "StoreError",
    "default_sqlite_url",
    "expand_env",
    "open_store",
    "redact_url",
]

"""Database URLs and engines: SQLite by default, PostgreSQL (psycopg 3) for teams.

URLs are SQLAlchemy URLs. ``postgresql://`` and ``postgres://`` select the psycopg 3 driver;
``duckdb:///file.duckdb`` works through duckdb-engine where a caller only reads. ``${NAME}`` in
a URL is replaced by the environment variable ``NAME`` (so passwords stay out of files), and
every URL shown to a user goes through :func:`redact_url` first.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from shipahead.errors import ShipaheadError

__all__ = [
    "Store",
    "StoreError",
    "default_sqlite_url",
    "expand_env",
    "make_engine",
    "open_store",
    "parse_url",
    "redact_url",
]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

#: Seconds a SQLite writer waits for another process's write lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 30.0


class StoreError(ShipaheadError):
    """The store cannot be reached or used; the message never contains a password (exit 2)."""


def expand_env(text: str, *, what: str = "database URL") -> str:
    """Replace every ``${NAME}`` in ``text`` by the environment variable ``NAME``.

    Raises :class:`StoreError` naming the variable when it is not set.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise StoreError(
                f"{what}: environment variable {name} is not set; export it or write the value"
            )
        return os.environ[name]

    return _VAR.sub(value, text)


def parse_url(url: str) -> URL:
    """Expand ``${VAR}``s and parse ``url``, choosing psycopg 3 for PostgreSQL."""
    expanded = expand_env(url)
    try:
        parsed = make_url(expanded)
    except ArgumentError:
        shown = _VAR.sub("***", url)
        raise StoreError(
            f"{shown!r} is not a database URL; write e.g. sqlite:///runs/store.db or "
            "postgresql://user@host/db"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def redact_url(url: str | URL) -> str:
    """The URL as it may be shown: the password (if any) replaced by ``***``.

    A URL that cannot be parsed is shown with everything after ``://`` up to ``@`` masked.
    """
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"://[^@/]*@", "://***@", url)


def _scrub(message: str, url: URL) -> str:
    """``message`` with the URL's password removed wherever it appears."""
    if url.password:
        message = message.replace(str(url.password), "***")
    return " ".join(message.split())


def default_sqlite_url(folder: str | Path, name: str = "shipahead.db") -> str:
    """The embedded default: a SQLite file ``name`` in ``folder`` (created if missing)."""
    path = Path(folder).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path / name}"


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    # WAL lets readers go on while one writer commits; FULL makes a commit survive kill -9 and
    # power loss alike; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str | URL) -> Engine:
    """A SQLAlchemy engine for ``url`` (see the module docstring for the URL rules)."""
    parsed = url if isinstance(url, URL) else parse_url(url)
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, future=True
            )
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(parsed, pool_pre_ping=True, future=True)
    except (ArgumentError, ImportError, SQLAlchemyError) as exc:
        raise StoreError(
            f"cannot use database {redact_url(parsed)}: {_scrub(str(exc), parsed)}"
        ) from None
    return engine


@dataclass
class Store:
    """An open store: its engine, a session factory and the URL as it may be shown.

    Use :meth:`session` for a unit of work: it commits on success and rolls back on any error,
    so a failed write leaves the store as it was.
    """

    engine: Engine
    shown_url: str
    sessions: sessionmaker[Session]

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"`` (or another SQLAlchemy backend name)."""
        return self.engine.url.get_backend_name()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends and rolls back if it raises."""
        with self.sessions.begin() as session:
            yield session

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()


def open_store(url: str, *, upgrade: bool = True) -> Store:
    """Open the store at ``url`` and (by default) bring its schema to the current migration.

    Raises :class:`StoreError` with a one-line reason (password redacted) when the database
    cannot be reached or migrated.
    """
    from shipahead.store.migrate import upgrade_schema

    parsed = parse_url(url)
    shown = redact_url(url)  # as the user wrote it (``${VAR}`` unexpanded), password hidden
    engine = make_engine(parsed)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        if upgrade:
            upgrade_schema(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = _scrub(str(getattr(exc, "orig", None) or exc), parsed).split(" (Background")[0]
        raise StoreError(f"cannot open database {shown}: {reason}") from None
    sessions = sessionmaker(engine, expire_on_commit=False)
    return Store(engine=engine, shown_url=shown, sessions=sessions)

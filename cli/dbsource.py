"""Input tables read from a database: ``{ url = "…", table = "sales" }`` or ``{ url = "…",
query = "select …" }`` in ``scenario.toml``, or ``URL#table=NAME`` / ``URL#query=SELECT …`` on
the command line.

URLs are SQLAlchemy URLs (``postgresql://``, ``sqlite:///``, ``duckdb:///`` through
duckdb-engine); ``${VAR}`` is replaced by the environment variable (passwords stay out of
files); a relative SQLite or DuckDB file path is relative to the scenario file. Every URL shown
(messages, ``manifest.json``) has its password replaced by ``***``. The rows read are checked
by the same contract as a file; a problem names the table and the row's key instead of a line.
Reads are bounded (``SHIPAHEAD_MAX_DB_ROWS``, cli/limits.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from shipahead.cli.errors import CliInputError

__all__ = ["DbSource", "parse_source", "read_db_table"]


@dataclass(frozen=True)
class DbSource:
    """A table or query in a database (``url`` as written, ``${VAR}`` unexpanded)."""

    url: str
    table: str | None = None
    query: str | None = None
    #: folder relative SQLite/DuckDB file paths are resolved against
    base: Path | None = None

    @property
    def shown_url(self) -> str:
        from shipahead.store import redact_url

        return redact_url(self.url)

    def describe(self) -> str:
        """How messages name it: ``table 'sales' in duckdb:///…`` (password hidden)."""
        what = f"table '{self.table}'" if self.table else "query"
        return f"{what} in {self.shown_url}"

    def record(self) -> dict[str, str]:
        """As ``manifest.json`` records it (no password)."""
        out = {"url": self.shown_url}
        if self.table:
            out["table"] = self.table
        if self.query:
            out["query"] = self.query
        return out


def parse_source(text: str, base: Path | None = None) -> DbSource | None:
    """``URL#table=NAME`` or ``URL#query=SELECT …`` as a :class:`DbSource`; None when
    ``text`` is not a URL (a file path)."""
    if "://" not in text:
        return None
    url, _, frag = text.partition("#")
    kind, _, value = frag.partition("=")
    if kind not in ("table", "query") or not value.strip():
        raise CliInputError(
            "a database input needs the table or query after '#'",
            file=_shown(url),
            fix="write URL#table=NAME or URL#query=SELECT …",
        )
    return DbSource(url=url, base=base, **{kind: value.strip()})


def _shown(url: str) -> str:
    from shipahead.store import redact_url

    return redact_url(url)


def _engine(src: DbSource, where: str) -> Any:
    """A read-only engine for ``src`` (file databases must exist; DuckDB opens read-only)."""
    import sqlalchemy as sa
    from shipahead.store import StoreError
    from shipahead.store.engine import parse_url

    try:
        url = parse_url(src.url)
    except StoreError as exc:
        raise CliInputError(f"{where}: {exc}", fix="correct the url") from None
    backend = url.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend in ("sqlite", "duckdb") and url.database and url.database != ":memory:":
        path = Path(url.database)
        if not path.is_absolute() and src.base is not None:
            path = src.base / path
            url = url.set(database=str(path))
        if not path.is_file():
            raise CliInputError(
                f"{where}: database file not found: {path}",
                fix="check the path in the url (relative to the scenario file)",
            )
        if backend == "duckdb":
            connect_args["read_only"] = True
    try:
        return sa.create_engine(url, connect_args=connect_args)
    except Exception as exc:  # unknown dialect, missing driver
        raise CliInputError(
            f"{where}: cannot use {src.shown_url}: {_scrub(exc, url)}",
            fix="use a postgresql://, sqlite:/// or duckdb:/// url",
        ) from None


def _scrub(exc: BaseException, url: Any) -> str:
    """The first line of a database error with the password removed."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    text = text.split(" (Background")[0].split("\n")[0]
    password = getattr(url, "password", None)
    if password:
        text = text.replace(str(password), "***")
    return " ".join(text.split())[:300]


def _statement(src: DbSource, limit: int) -> Any:
    import sqlalchemy as sa

    if src.table:
        schema, _, name = src.table.rpartition(".")
        return (
            sa.select(sa.literal_column("*"))
            .select_from(sa.table(name, schema=schema or None))
            .limit(limit)
        )
    assert src.query is not None
    query = src.query.strip().rstrip(";")
    return sa.select(sa.literal_column("*")).select_from(sa.text(f"({query}) AS q")).limit(limit)


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    """Database types as a Parquet file would give them: dates as timestamps, decimals as
    floats, column names as text."""
    import datetime as dt
    import decimal

    df.columns = [str(c) for c in df.columns]
    for c in df.columns:
        s = df[c]
        if s.dtype != object:
            continue
        sample = s.dropna()
        if sample.empty:
            continue
        first = sample.iloc[0]
        if isinstance(first, dt.datetime | dt.date) and all(isinstance(v, dt.date) for v in sample):
            df[c] = pd.to_datetime(s)
        elif isinstance(first, decimal.Decimal):
            df[c] = pd.to_numeric(s, errors="coerce")
    return df


def read_db_table(src: DbSource, where: str) -> pd.DataFrame:
    """Read ``src`` (at most the ``db_rows`` limit); ``where`` names it in messages
    (e.g. ``inputs.history``). A URL that cannot connect, a missing table or a failing query
    is a :class:`CliInputError` (exit 2) with the password hidden."""
    from shipahead.cli.limits import limit

    max_rows = int(limit("db_rows"))
    engine = _engine(src, where)
    try:
        with engine.connect() as conn:
            df = pd.read_sql(_statement(src, max_rows + 1), conn)
    except Exception as exc:
        what = f"table '{src.table}'" if src.table else "the query"
        raise CliInputError(
            f"{where}: cannot read {what} from {src.shown_url}: {_scrub(exc, engine.url)}",
            fix="check the url, that the server is up, and the table name or the query",
        ) from None
    finally:
        engine.dispose()
    if len(df) > max_rows:
        raise CliInputError(
            f"{where}: {src.describe()} has more than {max_rows:,} rows",
            fix=f"filter it with a query, or raise {_env('db_rows')}",
        )
    return _normalise(df)


def _env(name: str) -> str:
    from shipahead.cli.limits import env_name

    return env_name(name)


def row_key(df: pd.DataFrame, row: int | None, key: tuple[str, ...]) -> str | None:
    """``region_id='R1', sku_id='A'`` — how a message names row ``row`` of a table read from a
    database (by its contract's key, or its position when the key columns are missing)."""
    if row is None or row >= len(df):
        return None
    cols = [c for c in key if c in df.columns]
    if not cols:
        return f"row {row + 1}"
    parts = []
    for c in cols:
        v = df[c].iloc[row]
        if isinstance(v, pd.Timestamp):
            v = v.date().isoformat()
        parts.append(f"{c}={str(v)!r}")
    return "row " + ", ".join(parts)


def read_checked(src: DbSource, kind: str | None, where: str) -> pd.DataFrame:
    """Read ``src`` and check it against contract ``kind`` (raw frame returned, as a file
    reader's); the first problem is one line naming the table, the row's key and the column."""
    from shipahead.cli.contracts import CONTRACTS, check_table

    df = read_db_table(src, where)
    if kind is None:
        return df
    contract = CONTRACTS[kind]
    # a database returns rows in no fixed order: sort by the key so the snapshot (and every
    # output) is the same bytes on every read of the same rows
    key = [c for c in contract.key if c in df.columns]
    if key and len(key) == len(contract.key):
        df = df.sort_values(key, kind="stable", na_position="last").reset_index(drop=True)
    problems = check_table(df, contract)
    if problems:
        p = problems[0]
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        label = src.describe()
        key = row_key(df, p.row, contract.key)
        raise CliInputError(
            p.message + more,
            file=f"{where} = {label}" + (f", {key}" if key else ""),
            column=p.column,
            fix=p.fix,
        )
    return df


def snapshot_name(key: str) -> str:
    """File name of the Parquet snapshot of input ``key`` in a run folder."""
    return f"{key}.parquet"


def is_url(text: str | os.PathLike[str]) -> bool:
    """Whether a command-line input is a database URL rather than a path."""
    return "://" in str(text)

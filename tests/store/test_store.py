"""The store's core: URLs, redaction, engines and migrations on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
import sqlalchemy as sa
from shipahead.store import StoreError, expand_env, open_store, redact_url
from shipahead.store.migrate import current_heads, head_revisions


def test_expand_env_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPAHEAD_PW", "s3cret")
    assert expand_env("postgresql://u:${SHIPAHEAD_PW}@h/db") == "postgresql://u:s3cret@h/db"


def test_expand_env_names_a_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHIPAHEAD_NOPE", raising=False)
    with pytest.raises(StoreError, match="SHIPAHEAD_NOPE is not set"):
        expand_env("postgresql://u:${SHIPAHEAD_NOPE}@h/db")


def test_redact_url_hides_the_password() -> None:
    shown = redact_url("postgresql://planner:hunter2@db.example/plans")
    assert "hunter2" not in shown
    assert shown == "postgresql://planner:***@db.example/plans"


def test_bad_url_is_one_line() -> None:
    with pytest.raises(StoreError, match="is not a database URL"):
        open_store("not a url")


def test_unreachable_postgres_never_shows_the_password() -> None:
    with pytest.raises(StoreError) as info:
        open_store("postgresql://planner:hunter2@127.0.0.1:1/plans?connect_timeout=2")
    message = str(info.value)
    assert "hunter2" not in message
    assert message.startswith("cannot open database postgresql://planner:***@127.0.0.1:1/plans")
    assert "\n" not in message


def test_sqlite_store_is_created_and_reopened(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'store.db'}"
    store = open_store(url)
    assert store.backend == "sqlite"
    assert current_heads(store.engine) == head_revisions()
    with store.session() as session:
        session.execute(sa.text("INSERT INTO store_meta (key, value) VALUES ('k', 'v')"))
    store.close()
    again = open_store(url)  # a second open upgrades nothing and keeps the data
    with again.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT value FROM store_meta")).scalar_one() == "v"
    again.close()


def test_failed_unit_of_work_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    with pytest.raises(RuntimeError), store.session() as session:
        session.execute(sa.text("INSERT INTO store_meta (key, value) VALUES ('k', 'v')"))
        raise RuntimeError("killed mid-write")
    with store.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM store_meta")).scalar_one() == 0


def _open(url: str) -> None:
    open_store(url).close()


def test_concurrent_first_opens_of_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    processes = [multiprocessing.Process(target=_open, args=(url,)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [process.exitcode for process in processes] == [0, 0, 0, 0]
    assert current_heads(open_store(url).engine) == head_revisions()


def test_postgres_store_is_created_and_reopened(pg_url: str) -> None:
    store = open_store(pg_url)
    assert store.backend == "postgresql"
    assert current_heads(store.engine) == head_revisions()
    with store.session() as session:
        session.execute(sa.text("INSERT INTO store_meta (key, value) VALUES ('k', 'v')"))
    store.close()
    again = open_store(pg_url)
    with again.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT value FROM store_meta")).scalar_one() == "v"
    again.close()


def test_concurrent_first_opens_of_one_postgres_database(pg_url: str) -> None:
    processes = [multiprocessing.Process(target=_open, args=(pg_url,)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [process.exitcode for process in processes] == [0, 0, 0, 0]

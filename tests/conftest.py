"""Shared test configuration."""

from __future__ import annotations

import multiprocessing
import os

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault(
    "SHIPAHEAD_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".shipahead-cache")
)

# Hypothesis: the same examples on every run (CI must not flip on a newly drawn example);
# run `pytest --hypothesis-profile=explore` to search with fresh random examples.
from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile("ci")

# Worker pools started inside the test process (statsforecast's n_jobs, placement's workers)
# come from a fork server instead of forking pytest itself: the test process runs threads
# (samplers, monitors, earlier tests' clients), and a fork taken while one of them holds a lock
# can leave a pool worker blocked for ever. Commands run as subprocesses keep their default.
multiprocessing.set_forkserver_preload(["numpy", "pandas", "statsforecast"])
multiprocessing.set_start_method("forkserver", force=True)


# --- A real PostgreSQL for the store tests (tests/pg.py) --------------------------------------
import itertools  # noqa: E402

import pytest  # noqa: E402

_db_numbers = itertools.count()


@pytest.fixture(scope="session")
def pg_server_url():
    """URL of the maintenance database of a running PostgreSQL (skips when there is none)."""
    url = os.environ.get("SHIPAHEAD_TEST_PG_URL")
    if url:
        yield url
        return
    from tests.pg import Cluster

    try:
        cluster = Cluster()
        url = cluster.start()
    except Exception as exc:  # no binaries, no permission: a skip locally, a failure in CI
        if os.environ.get("SHIPAHEAD_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL could not be started: {exc}")
        pytest.skip(f"no PostgreSQL on this machine ({exc}); .ci/run starts one")
    try:
        yield url
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_server_url: str) -> str:
    """URL of a fresh, empty database on the test PostgreSQL (one per test)."""
    import sqlalchemy as sa

    name = f"shipahead_test_{os.getpid()}_{next(_db_numbers)}"
    admin_url = pg_server_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return pg_server_url.rsplit("/", 1)[0] + "/" + name

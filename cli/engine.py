"""Distributed engine sessions for the commands (`--engine local|dask|ray`).

`engine_session("dask")` starts a local Dask cluster (one worker process per core, or
``n_workers``) or connects to ``--scheduler ADDRESS`` and makes it the default client, so
the forecasting tasks and the placement fan-out run on it; it is closed afterwards.
`local` needs nothing; `ray` needs the `ray` package.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shipahead.cli.errors import CliInputError

__all__ = ["engine_session"]


@contextmanager
def engine_session(
    engine: str, scheduler: str | None = None, n_workers: int | None = None
) -> Iterator[Any]:
    """Yield a Dask ``Client`` for ``engine="dask"`` (None otherwise)."""
    if engine == "local":
        if scheduler:
            raise CliInputError("--scheduler needs --engine dask", fix="add --engine dask")
        yield None
        return
    if engine == "ray":
        try:
            import ray  # noqa: F401
        except ModuleNotFoundError:
            raise CliInputError(
                "--engine ray needs the 'ray' package", fix="pip install ray, or use --engine dask"
            ) from None
        yield None
        return
    if engine != "dask":
        raise CliInputError(f"unknown engine '{engine}'", fix="use local, dask or ray")
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise CliInputError(
                f"cannot reach the Dask scheduler at {scheduler}: {exc}",
                fix="check the address (tcp://host:8786) or omit --scheduler "
                "to start a local cluster",
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    workers = n_workers or max(1, min(2, os.cpu_count() or 1))
    with _sigint_ignored():  # the worker processes inherit it: Ctrl-C prints no traceback there
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        )
    with cluster, Client(cluster) as client:
        yield client


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while the worker processes start: they keep SIG_IGN, so Ctrl-C in the
    terminal reaches only the main process (no traceback from every worker), which stops the
    workers itself. A Ctrl-C in these 1–3 s of start-up is lost (press it again)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)

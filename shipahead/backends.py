"""Compute backends: where the parallel work runs — ``local`` processes, ``dask`` or ``ray``.

The choice is written once, here, the way statsforecast keeps its backends apart from its
models (``statsforecast.core`` runs local processes itself and hands Dask/Ray frames to one
fugue backend): the forecasting and placement code names a backend and uses the helpers below
to start, reach or feed it; none of them imports ``distributed`` or ``ray`` itself.

- :func:`dask_session` starts a local Dask cluster (or connects to a scheduler) and makes its
  client the default one for the run; :func:`current_dask_client` finds it again.
- :func:`dask_map` runs a function over a few chunks of data on that client (or on the local
  Dask scheduler when there is none).
- :func:`import_ray` / :func:`start_ray` reach Ray; :func:`to_backend_frame` and
  :func:`to_pandas` move frames into and out of a backend.

The callers turn the exceptions into their own messages (the CLI names its flags).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import pandas as pd

__all__ = [
    "BACKENDS",
    "current_dask_client",
    "dask_map",
    "dask_session",
    "dask_worker_count",
    "import_ray",
    "local_dask_cluster",
    "sigint_ignored",
    "start_ray",
    "to_backend_frame",
    "to_pandas",
]

#: the compute backends, as ``--engine`` names them
BACKENDS = ("local", "dask", "ray")


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes start: they keep SIG_IGN, so Ctrl-C in the
    terminal reaches only the main process (no traceback from every worker), which stops the
    workers itself. A Ctrl-C in these 1–3 s of start-up is lost (press it again)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def local_dask_cluster(n_workers: int, quiet_workers: bool = True) -> Any:
    """A local Dask cluster of ``n_workers`` single-thread worker processes (no dashboard).

    ``quiet_workers``: the workers ignore SIGINT (see :func:`sigint_ignored`).
    """
    from distributed import LocalCluster

    def start() -> Any:
        return LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        )

    if not quiet_workers:
        return start()
    with sigint_ignored():
        return start()


@contextmanager
def dask_session(scheduler: str | None = None, n_workers: int | None = None) -> Iterator[Any]:
    """Yield a Dask ``Client``: connected to ``scheduler`` (``tcp://host:8786``), or to a local
    cluster of ``n_workers`` processes (default: up to 2 cores) started here; closed afterwards.

    Raises ``OSError`` if the scheduler cannot be reached (before anything is yielded).
    """
    from distributed import Client

    if scheduler:
        client = Client(scheduler, timeout="10s")
        try:
            yield client
        finally:
            client.close()
        return
    workers = n_workers or max(1, min(2, os.cpu_count() or 1))
    cluster = local_dask_cluster(workers)
    with cluster, Client(cluster) as client:
        yield client


def current_dask_client() -> Any | None:
    """The run's default Dask client (see :func:`dask_session`), or None if there is none."""
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


def dask_worker_count(client: Any) -> int:
    """How many workers the Dask ``client`` has."""
    return len(client.scheduler_info()["workers"])


def dask_map(
    fn: Callable[..., Any], chunks: Sequence[tuple], *common: Any, client: Any | None = None
) -> list[Any]:
    """``fn(*chunk, *common)`` for every chunk, on Dask; the results in chunk order.

    With a ``client`` the chunks' items (frames; None stays None) go to the workers as
    scattered futures, not inside the task graph; without one the local Dask scheduler runs
    the tasks.
    """
    if client is None:
        import dask

        return list(dask.compute(*[dask.delayed(fn)(*c, *common) for c in chunks]))

    def put(obj: Any) -> Any:
        return None if obj is None else client.scatter(obj, hash=False)

    data = [tuple(put(x) for x in c) for c in chunks]
    futures = [client.submit(fn, *d, *common, pure=False) for d in data]
    parts = client.gather(futures)
    client.cancel([f for d in data for f in d if f is not None])
    return list(parts)


def import_ray() -> ModuleType:
    """The ``ray`` module; ``ModuleNotFoundError`` if it is not installed."""
    import ray

    return ray


def start_ray() -> ModuleType:
    """The ``ray`` module, started in this process if it is not yet (no dashboard)."""
    ray = import_ray()
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    return ray


def to_backend_frame(df: pd.DataFrame | None, backend: str) -> Any:
    """``df`` as the backend's statsforecast input: itself (local) or a Ray ``Dataset``."""
    if df is None or backend == "local":
        return df
    import_ray()
    import ray.data

    return ray.data.from_pandas(df)


def to_pandas(res: Any) -> pd.DataFrame:
    """A backend's result (pandas frame, Ray ``Dataset`` or records) as a pandas frame."""
    if isinstance(res, pd.DataFrame):
        return res
    if hasattr(res, "to_pandas"):
        return res.to_pandas()
    return pd.DataFrame(res)

"""Distributed engine sessions for the commands (`--engine local|dask|ray`).

`engine_session("dask")` starts a local Dask cluster (one worker process per core, or
``n_workers``) or connects to ``--scheduler ADDRESS`` and makes it the default client, so
the forecasting tasks and the placement fan-out run on it; it is closed afterwards.
`local` needs nothing; `ray` needs the `ray` package. The backends themselves live in
:mod:`shipahead.backends`; this module checks the flags and words the errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from shipahead.cli.errors import CliInputError

from shipahead import backends

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
            backends.import_ray()
        except ModuleNotFoundError:
            raise CliInputError(
                "--engine ray needs the 'ray' package", fix="pip install ray, or use --engine dask"
            ) from None
        yield None
        return
    if engine not in backends.BACKENDS:
        raise CliInputError(f"unknown engine '{engine}'", fix="use local, dask or ray")
    with ExitStack() as stack:
        try:
            client = stack.enter_context(backends.dask_session(scheduler, n_workers))
        except OSError as exc:
            if not scheduler:
                raise
            raise CliInputError(
                f"cannot reach the Dask scheduler at {scheduler}: {exc}",
                fix="check the address (tcp://host:8786) or omit --scheduler "
                "to start a local cluster",
            ) from None
        yield client

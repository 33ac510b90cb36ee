"""Progress display and logging on stderr (results go to files, never to stdout noise).

``--quiet`` (stored in :data:`cli.errors.STATE`) turns progress bars and info logs off.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from cli.errors import STATE

__all__ = ["console", "progress", "setup_logging", "step"]


def console() -> Console:
    """The stderr console every command prints through."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


def setup_logging() -> None:
    """Route the domain packages' loggers to stderr (warnings always, info unless quiet)."""
    level = logging.WARNING if STATE.quiet else logging.INFO
    if STATE.debug:
        level = logging.DEBUG
    handler = RichHandler(
        console=console(), show_path=False, show_time=False, rich_tracebacks=False, markup=False
    )
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("forecasting", "placement", "routing", "cli"):
        lg = logging.getLogger(name)
        lg.handlers[:] = [handler]
        lg.setLevel(level)
        lg.propagate = False


@contextmanager
def progress() -> Iterator[Progress]:
    """A rich progress display on stderr; disabled with ``--quiet``."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(),
        transient=True,
        disable=STATE.quiet,
    ) as prog:
        yield prog


@contextmanager
def step(description: str) -> Iterator[None]:
    """A spinner with elapsed time for one step that may take more than ~2 s."""
    with progress() as prog:
        task = prog.add_task(description, total=None)
        yield
        prog.update(task, completed=1, total=1)

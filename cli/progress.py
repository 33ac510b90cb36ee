"""Progress display and logging on stderr (results go to files, never to stdout noise).

``--quiet`` (stored in :data:`cli.errors.STATE`) turns progress bars and info logs off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from shipahead.cli.errors import STATE

__all__ = ["console", "count_progress", "forecast_progress", "progress", "setup_logging", "step"]


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
    for name in ("shipahead",):
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
    if not console().is_terminal:  # nothing to animate in a log file
        yield
        return
    with progress() as prog:
        task = prog.add_task(description, total=None)
        yield
        prog.update(task, completed=1, total=1)


def _duration(seconds: float) -> str:
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class LogProgress:
    """Progress as log lines on stderr (output is not a terminal: batch jobs read logs).

    A line at the start, whenever another ``every_pct`` percent is done or ``every_s`` seconds
    passed since the last line, and at the end: ``done/total unit (pct), elapsed, ETA``.
    """

    def __init__(
        self,
        description: str,
        unit: str,
        every_pct: float = 10.0,
        every_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.description = description
        self.unit = unit
        self.every_pct = every_pct
        self.every_s = every_s
        self.clock = clock
        self.t0 = clock()
        self.last_t: float | None = None
        self.last_pct = -1.0
        self.lines: list[str] = []

    def update(self, done: int, total: int) -> None:
        now = self.clock()
        pct = 100.0 * done / total if total else 100.0
        due = (
            self.last_t is None
            or pct >= self.last_pct + self.every_pct
            or now - self.last_t >= self.every_s
            or (done >= total and self.last_pct < 100.0)
        )
        if not due:
            return
        elapsed = now - self.t0
        eta = (
            "ETA " + _duration(elapsed * (total - done) / done)
            if 0 < done < total
            else ("done" if done >= total else "ETA unknown")
        )
        line = (
            f"{self.description}: {done:,}/{total:,} {self.unit} ({pct:.0f}%), "
            f"{_duration(elapsed)} elapsed, {eta}"
        )
        self.lines.append(line)
        console().print(line, markup=False)
        self.last_t = now
        self.last_pct = pct


def _bars(con, unit: str) -> Progress:
    """Rich bars: description, bar, done/total ``unit``, elapsed, ETA (cleared when done)."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=con,
        transient=True,
    )


@contextmanager
def count_progress(description: str, unit: str = "series") -> Iterator[Callable[[int, int], None]]:
    """Yield ``update(done, total)``: a bar with done/total and ETA on a terminal, log lines
    on stderr otherwise (every 10 % or 30 s), nothing with ``--quiet``."""
    if STATE.quiet:
        yield lambda done, total: None
        return
    con = console()
    if not con.is_terminal:
        yield LogProgress(description, unit).update
        return
    with _bars(con, unit) as prog:
        task = prog.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total)

        yield update


@contextmanager
def forecast_progress(
    description: str,
) -> Iterator[tuple[Callable[[int, int], None], Callable[[str, int, int], None]]]:
    """Yield ``(update(done, total), stage_update(stage, done, total))`` for a forecast: the
    overall series count and one line per stage (backtest, ensembles, calibration, fits), each
    with done/total series and an ETA — bars on a terminal, log lines on stderr otherwise
    (every 10 % or 30 s per line), nothing with ``--quiet``."""
    if STATE.quiet:
        yield (lambda done, total: None), (lambda stage, done, total: None)
        return
    con = console()
    if not con.is_terminal:
        logs: dict[str, LogProgress] = {}

        def log_stage(stage: str, done: int, total: int) -> None:
            if stage not in logs:
                logs[stage] = LogProgress(f"  stage {stage}", "series")
            logs[stage].update(done, total)

        yield LogProgress(description, "series").update, log_stage
        return
    with _bars(con, "series") as prog:
        main = prog.add_task(description, total=None)
        tasks: dict[str, TaskID] = {}

        def update(done: int, total: int) -> None:
            prog.update(main, completed=done, total=total)

        def stage_update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = prog.add_task(f"  stage {stage}", total=total or None)
            prog.update(tasks[stage], completed=done, total=total or None)

        yield update, stage_update

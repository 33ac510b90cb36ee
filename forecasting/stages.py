"""Per-stage throughput and memory of a forecast run, and per-stage progress reports.

The pipeline's work falls into five stages — ``backtest`` (the rolling-origin backtest of the
candidates), ``fits`` (final fits of the chosen candidates on the whole history), ``ensembles``
(the ensemble search and combination), ``calibration`` (conformal offsets and the
leave-one-window-out coverage) and ``scenarios`` (window-total scenarios, when made). A stage
may run several times (once per demand class); its figures add up.

Memory is the resident set size (RSS) of this process and its child processes (the local
worker pool), sampled every ``SAMPLE_S`` seconds while a stage runs; Dask workers on other
machines are not included.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

__all__ = ["STAGES", "StageClock", "StageTiming", "StageTimings"]

#: The stages, in the order they first run.
STAGES: tuple[str, ...] = ("backtest", "ensembles", "calibration", "fits", "scenarios")
#: RSS sampling interval while a stage runs (s).
SAMPLE_S = 0.2

#: ``stage_progress(stage, done, total)``: ``done``/``total`` series of one stage.
StageProgress = Callable[[str, int, int], None]


@dataclass
class StageTiming:
    """One stage's figures.

    Attributes
    ----------
    seconds
        Wall time spent in the stage (s), summed over its runs.
    series
        Series the stage processed (a backtested series counts once, not once per window).
    peak_rss_gb
        Highest RSS of this process and its children while the stage ran (GB = 1e9 bytes).
    """

    seconds: float = 0.0
    series: int = 0
    peak_rss_gb: float = 0.0

    @property
    def series_per_s(self) -> float:
        """Throughput (series per second of wall time); 0 when nothing was timed."""
        return self.series / self.seconds if self.seconds > 0 else 0.0


@dataclass
class StageTimings:
    """Figures per stage (``stages[name]``) in the order the stages first ran."""

    stages: dict[str, StageTiming] = field(default_factory=dict)

    def get(self, name: str) -> StageTiming:
        """The stage's figures (created empty on first use)."""
        return self.stages.setdefault(name, StageTiming())

    def rows(self) -> list[dict[str, float | int | str]]:
        """One dict per stage: ``stage, seconds, series, series_per_s, peak_rss_gb``."""
        return [
            {
                "stage": k,
                "seconds": round(v.seconds, 3),
                "series": v.series,
                "series_per_s": round(v.series_per_s, 2),
                "peak_rss_gb": round(v.peak_rss_gb, 3),
            }
            for k, v in self.stages.items()
        ]


def _rss_bytes() -> int:
    """RSS of this process and its children (bytes); 0 when psutil cannot read it."""
    import psutil

    try:
        me = psutil.Process()
        procs = [me, *me.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


class StageClock:
    """Times the stages into a :class:`StageTimings` and reports their progress.

    ``progress(stage, done, total)`` is called when a stage starts and as it advances
    (``total`` = series the stage will process over the whole run, as announced by
    :meth:`plan`); it must not raise.
    """

    def __init__(self, progress: StageProgress | None = None) -> None:
        self.timings = StageTimings()
        self.progress = progress
        self.totals: dict[str, int] = {}
        self.done: dict[str, float] = {}

    def plan(self, stage: str, total: int) -> None:
        """Announce that ``stage`` will process ``total`` series over the run."""
        self.totals[stage] = int(total)
        self.done.setdefault(stage, 0)
        self.timings.get(stage)

    def advance(self, stage: str, series: int) -> None:
        """``series`` more series of ``stage`` are done (reported, counted in the timings)."""
        self.done[stage] = self.done.get(stage, 0) + int(series)
        self.timings.get(stage).series += int(series)
        self._report(stage)

    def partial(self, stage: str, series: float) -> None:
        """Report part of a block's series as done (not counted until :meth:`advance`)."""
        self.done[stage] = self.done.get(stage, 0) + float(series)
        self._report(stage)

    @contextlib.contextmanager
    def block(self, stage: str, series: int) -> Iterator[None]:
        """Time a block of ``series`` series of ``stage``: partial reports inside it, then the
        stage's count moves to exactly ``series`` more than before the block."""
        before = self.done.get(stage, 0)
        with self.stage(stage):
            yield
        self.done[stage] = before
        self.advance(stage, series)

    def _report(self, stage: str) -> None:
        if self.progress is None:
            return
        done = int(self.done.get(stage, 0))
        total = max(self.totals.get(stage, 0), done)
        self.progress(stage, min(done, total), total)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as (part of) stage ``name`` and sample its peak RSS."""
        rec = self.timings.get(name)
        peak = [_rss_bytes()]
        stop = threading.Event()

        def watch() -> None:
            while not stop.wait(SAMPLE_S):
                peak[0] = max(peak[0], _rss_bytes())

        th = threading.Thread(target=watch, daemon=True, name=f"rss-{name}")
        th.start()
        self._report(name)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            rec.seconds += time.perf_counter() - t0
            stop.set()
            th.join()
            peak[0] = max(peak[0], _rss_bytes())
            rec.peak_rss_gb = max(rec.peak_rss_gb, peak[0] / 1e9)

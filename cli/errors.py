"""Exit codes and the one mapping from exceptions to a one-line error.

Exit codes: 0 success · 1 unexpected internal error (short message; ``--debug``
shows the traceback) · 2 bad input or infeasible problem explained in one line · 3 solver gave
no usable result in its limit (docs/architecture.md).

Every command body runs inside :func:`handle_errors`. Domain packages raise the shared
``InputError`` / ``InfeasibleError`` / ``SolverError`` of :mod:`shipahead.errors`; commands name
the file behind each input table with :func:`register_file`, so the error line can say which
file, which line and which column is wrong, and how to fix it.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import typer

from shipahead.errors import InfeasibleError, InputError, LocatedError, SolverError

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INPUT = 2
EXIT_SOLVER = 3


class CliInputError(LocatedError):
    """A problem with a file or an option, found by the CLI itself (exit code 2).

    Not an :class:`~shipahead.errors.InputError` (a ``ValueError``): the CLI's own
    ``except ValueError`` clauses around file readers must not catch it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | os.PathLike[str] | None = None,
        row: int | None = None,
        column: str | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message, row=row, column=column, fix=fix)
        self.file = None if file is None else str(file)


@dataclass
class _State:
    debug: bool = False
    quiet: bool = False
    files: dict[str, str] = field(default_factory=dict)
    #: the running command (``forecast``, ``route`` …): advice must fit its options
    command: str = ""
    #: what an interrupted run keeps (finished steps) and what it did not write
    kept: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    #: staging folders of open OutputDirs (removed if an interrupted run must exit hard)
    staging: set[str] = field(default_factory=set)


STATE = _State(debug=bool(os.environ.get("SHIPAHEAD_DEBUG")))


def register_file(table: str, path: str | os.PathLike[str] | None) -> None:
    """Remember which file holds input table ``table`` (for error messages)."""
    if path is not None:
        STATE.files[table] = str(path)


def location(file: str | None, row: int | None, column: str | None) -> str:
    """``file:LINE, column 'c'`` — CSV rows are shown as file lines (header = line 1)."""
    parts = []
    if file:
        where = file
        if row is not None:
            if file.lower().endswith((".csv", ".csv.gz", ".txt")):
                where += f":{row + 2}"
            else:
                where += f" row {row + 1}"
        parts.append(where)
    elif row is not None:
        parts.append(f"row {row + 1}")
    if column:
        parts.append(f"column '{column}'")
    return ", ".join(parts)


def format_line(
    message: str,
    *,
    file: str | None = None,
    row: int | None = None,
    column: str | None = None,
    fix: str | None = None,
) -> str:
    """One line: ``where: what — fix: how``."""
    where = location(file, row, column)
    line = f"{where}: {message}" if where else message
    if fix:
        line += f" — fix: {fix}"
    return line


#: OS error numbers that are the user's to fix (disk, permissions, paths) → exit 2
_ENV_ERRORS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("no space left on the device", "free disk space or choose another --out"),
    errno.EDQUOT: ("disk quota exceeded", "free space in your quota or choose another --out"),
    errno.EFBIG: (
        "file too large for the file system or the file-size limit (ulimit -f)",
        "raise the limit or choose another --out",
    ),
    errno.EROFS: ("read-only file system", "choose a writable folder for --out"),
    errno.EACCES: ("permission denied", "check the permissions or choose another path"),
    errno.EPERM: ("operation not permitted", "check the permissions or choose another path"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "check the path"),
    errno.EISDIR: ("is a folder, not a file", "name a file"),
    errno.ENOENT: ("no such file or folder", "check the path"),
    errno.ENAMETOOLONG: ("the file name is too long", "choose a shorter path"),
    errno.EMFILE: ("too many open files", "raise the open-file limit (ulimit -n)"),
    errno.EIO: ("input/output error of the device", "check the disk"),
}


def os_error_code(exc: BaseException) -> int | None:
    """The errno of an OSError (also when a library only put ``[Errno N]`` in the text)."""
    if not isinstance(exc, OSError):
        return None
    if exc.errno is not None:
        return int(exc.errno)
    m = re.search(r"\[Errno (\d+)\]", str(exc))
    return int(m.group(1)) if m else None


def describe_os_error(exc: OSError, path: str | os.PathLike[str] | None = None) -> str | None:
    """One line naming the path and the cause of an environment error, or None if unknown."""
    code = os_error_code(exc)
    if code not in _ENV_ERRORS:
        return None
    cause, fix = _ENV_ERRORS[code]
    where = exc.filename if exc.filename is not None else path
    return format_line(cause, file=None if where is None else str(where), fix=fix)


def _memory_advice() -> str:
    """What to try after running out of memory, in the options of the running command."""
    if STATE.command in ("forecast", "place", "plan", "demo"):
        return "try a smaller input or --engine dask"
    if STATE.command == "route":
        return "try fewer stops or a smaller road extract (--roads)"
    return "try a smaller input"


def _is_store_error(exc: BaseException) -> bool:
    """True for :class:`shipahead.store.StoreError` (without importing SQLAlchemy: a store
    error can only exist once the store's module is loaded)."""
    engine = sys.modules.get("shipahead.store.engine")
    return engine is not None and isinstance(exc, engine.StoreError)


def describe(exc: BaseException) -> tuple[int, str]:
    """Map an exception to (exit code, one-line message)."""
    if isinstance(exc, CliInputError):
        return EXIT_INPUT, format_line(
            exc.message, file=exc.file, row=exc.row, column=exc.column, fix=exc.fix
        )
    if isinstance(exc, InputError):
        table = exc.table
        file = STATE.files.get(table) if table else None
        if file is None and table:
            file = table
        msg = exc.message
        if isinstance(exc, InfeasibleError) and not msg.lower().startswith("infeasible"):
            msg = f"infeasible: {msg}"
        return EXIT_INPUT, format_line(msg, file=file, row=exc.row, column=exc.column, fix=exc.fix)
    if isinstance(exc, SolverError):
        return EXIT_SOLVER, f"solver gave no usable result: {exc}"
    if _is_store_error(exc):  # the store's message is one line and never holds a password
        return EXIT_INPUT, " ".join(str(exc).split())
    if isinstance(exc, MemoryError):
        return EXIT_INTERNAL, f"out of memory — {_memory_advice()}"
    if isinstance(exc, OSError):
        line = describe_os_error(exc)
        if line is not None:
            return EXIT_INPUT, line
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return EXIT_INTERNAL, f"internal error: {type(exc).__name__}: {first}"[:300]


def emit_error(message: str) -> None:
    """Print one red error line on stderr (the message is text: ids in it never act as markup)."""
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(message)}", markup=True, emoji=False
    )


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: unwind (closing outputs and workers), then exit 128+N."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_MAIN_PID = os.getpid()
_INTERRUPTED: list[int] = []


def _spared_pids() -> set[int]:
    """Helper processes that must outlive the workers: multiprocessing's resource tracker
    (it frees the workers' semaphores; killing it makes every later release fail loudly)."""
    rt = sys.modules.get("multiprocessing.resource_tracker")
    pid = getattr(getattr(rt, "_resource_tracker", None), "_pid", None)
    return {pid} if isinstance(pid, int) else set()


def stop_children(timeout_s: float = 3.0) -> None:
    """Terminate every child process of this one (worker pools, clusters); kill stragglers."""
    try:
        import psutil
    except ModuleNotFoundError:  # pragma: no cover - psutil is a dependency
        return
    try:
        spared = _spared_pids()
        children = [c for c in psutil.Process().children(recursive=True) if c.pid not in spared]
    except psutil.Error:  # pragma: no cover
        return
    for child in children:
        try:
            child.terminate()
        except psutil.Error:
            continue
    _, alive = psutil.wait_procs(children, timeout=timeout_s)
    for child in alive:
        try:
            child.kill()
        except psutil.Error:
            continue
    psutil.wait_procs(alive, timeout=timeout_s)


#: how long an interrupted run may take to unwind before it exits hard (seconds)
UNWIND_LIMIT_S = 20.0


class _Reaper:
    """While an interrupted run unwinds, kill child processes as they appear.

    A worker pool can fork a new worker while the signal is handled; the unwinding then waits
    for it (``join``). Killing children every 0.2 s ends such waits. After
    :data:`UNWIND_LIMIT_S` the run removes its staging folders and exits hard.
    """

    def __init__(self, signum: int) -> None:
        import threading

        self.signum = signum
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import time

        import psutil

        end = time.monotonic() + UNWIND_LIMIT_S
        while not self.done.wait(0.2):
            try:
                spared = _spared_pids()
                for child in psutil.Process().children(recursive=True):
                    if child.pid not in spared:
                        child.kill()
            except psutil.Error:
                pass
            if time.monotonic() > end:
                import shutil

                for stage in list(STATE.staging):
                    shutil.rmtree(stage, ignore_errors=True)
                emit_error(interrupted_line(self.signum))
                os._exit(128 + self.signum)

    def stop(self) -> None:
        self.done.set()


_REAPER: list[_Reaper] = []


def _on_signal(signum: int, frame: Any) -> None:
    if os.getpid() != _MAIN_PID:
        # a forked worker inherited this handler: leave at once and silently (no traceback)
        os._exit(128 + signum)
    if _INTERRUPTED:  # already unwinding: a second signal must not break the clean-up
        return
    _INTERRUPTED.append(signum)
    import logging

    # a Dask cluster whose workers are being stopped logs restarts and lost connections
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    stop_children(timeout_s=1.0)
    _REAPER.append(_Reaper(signum))
    raise Interrupted(signum)


def _finish_interrupt(signum: int) -> typer.Exit:
    for reaper in _REAPER:
        reaper.stop()
    _REAPER.clear()
    import psutil

    for _ in range(5):  # a pool may still have forked a worker while the run unwound
        stop_children()
        spared = _spared_pids()
        if not [c for c in psutil.Process().children(recursive=True) if c.pid not in spared]:
            break
    emit_error(interrupted_line(signum))
    if _INTERRUPTED:
        # a real signal: outputs are closed, workers gone — leave before exit handlers of
        # worker pools can start anything new
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(128 + signum)
    return typer.Exit(128 + signum)


@contextmanager
def _signals_handled() -> Iterator[None]:
    """Turn SIGINT/SIGTERM into :class:`Interrupted` while a command runs (main thread only)."""
    import threading

    global _MAIN_PID
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _MAIN_PID = os.getpid()
    _INTERRUPTED.clear()
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in old:
        signal.signal(s, _on_signal)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def interrupted_line(signum: int) -> str:
    """One line saying which signal stopped the run, what was kept and what was not written."""
    name = signal.Signals(signum).name
    pending = [p for p in STATE.pending if p not in STATE.kept]
    if STATE.kept:
        line = f"interrupted by {name} — kept the finished steps: {', '.join(STATE.kept)}"
        if pending:
            line += f"; not written: {', '.join(pending)} (run the same command again to resume)"
        return line
    return f"interrupted by {name} — no output was written"


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn any exception into one stderr line and its exit code (docs/architecture.md)."""
    STATE.kept, STATE.pending = [], []
    try:
        with _signals_handled():
            yield
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except KeyboardInterrupt as exc:
        raise _finish_interrupt(getattr(exc, "signum", signal.SIGINT)) from None
    except Exception as exc:
        if _INTERRUPTED:  # a worker pool broke because of the signal: report the signal
            raise _finish_interrupt(_INTERRUPTED[0]) from None
        from shipahead.cli.settings import map_error

        map_error(exc, STATE.command)  # domain parameters named as this command's flags
        code, line = describe(exc)
        if STATE.debug:
            traceback.print_exc()
        elif code == EXIT_INTERNAL:
            line += "  (run with --debug for the traceback)"
        emit_error(line)
        raise typer.Exit(code) from None


F = TypeVar("F", bound=Callable[..., Any])


def command(func: F) -> F:
    """Decorator for a typer command body: runs it inside :func:`handle_errors`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        STATE.command = func.__module__.rsplit(".", 1)[-1].removesuffix("_cmd")
        with handle_errors():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def require_file(path: Path | None, what: str) -> Path:
    """The path if it exists as a file, else a one-line error naming it."""
    if path is None:
        raise CliInputError(f"{what} file is required", fix=f"pass the {what} file")
    if not path.exists():
        raise CliInputError("file not found", file=path, fix="check the path")
    if path.is_dir():
        raise CliInputError("is a folder, not a file", file=path, fix="name the file itself")
    return path

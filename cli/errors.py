"""Exit codes and the one mapping from exceptions to a one-line error.

Exit codes: 0 success · 1 unexpected internal error (short message; ``--debug``
shows the traceback) · 2 bad input or infeasible problem explained in one line · 3 solver gave
no usable result in its limit (docs/architecture.md).

Every command body runs inside :func:`handle_errors`. Domain packages raise their own
``InputError`` / ``InfeasibleError`` / ``SolverError`` (``forecasting.errors`` …); commands name
the file behind each input table with :func:`register_file`, so the error line can say which
file, which line and which column is wrong, and how to fix it.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import typer

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INPUT = 2
EXIT_SOLVER = 3

_DOMAIN_PACKAGES = ("forecasting", "placement", "routing")


class CliInputError(Exception):
    """A problem with a file or an option, found by the CLI itself (exit code 2)."""

    def __init__(
        self,
        message: str,
        *,
        file: str | os.PathLike[str] | None = None,
        row: int | None = None,
        column: str | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = None if file is None else str(file)
        self.row = row
        self.column = column
        self.fix = fix


@dataclass
class _State:
    debug: bool = False
    quiet: bool = False
    files: dict[str, str] = field(default_factory=dict)


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


def _domain_class(exc: BaseException, name: str) -> bool:
    """Is ``exc`` an instance of ``<package>.errors.<name>`` for any loaded domain package?"""
    for pkg in _DOMAIN_PACKAGES:
        mod = sys.modules.get(f"{pkg}.errors")
        cls = getattr(mod, name, None) if mod else None
        if cls is not None and isinstance(exc, cls):
            return True
    return False


def describe(exc: BaseException) -> tuple[int, str]:
    """Map an exception to (exit code, one-line message)."""
    if isinstance(exc, CliInputError):
        return EXIT_INPUT, format_line(
            exc.message, file=exc.file, row=exc.row, column=exc.column, fix=exc.fix
        )
    if _domain_class(exc, "InputError"):
        table = getattr(exc, "table", None)
        file = STATE.files.get(table) if table else None
        if file is None and table:
            file = table
        msg = getattr(exc, "message", str(exc))
        if _domain_class(exc, "InfeasibleError") and not msg.lower().startswith("infeasible"):
            msg = f"infeasible: {msg}"
        return EXIT_INPUT, format_line(
            msg,
            file=file,
            row=getattr(exc, "row", None),
            column=getattr(exc, "column", None),
            fix=getattr(exc, "fix", None),
        )
    if _domain_class(exc, "SolverError"):
        return EXIT_SOLVER, f"solver gave no usable result: {exc}"
    if isinstance(exc, MemoryError):
        return EXIT_INTERNAL, "out of memory — try a smaller input or --engine dask"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return EXIT_INTERNAL, f"internal error: {type(exc).__name__}: {first}"[:300]


def emit_error(message: str) -> None:
    """Print one red error line on stderr."""
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {message}", markup=True, emoji=False
    )


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn any exception into one stderr line and its exit code (docs/architecture.md)."""
    try:
        yield
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except KeyboardInterrupt:
        emit_error("interrupted — no output was written")
        raise typer.Exit(130) from None
    except Exception as exc:
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

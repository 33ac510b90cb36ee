"""The one error hierarchy of shipahead, shared by every package.

The CLI maps :class:`InputError` (and its subclass :class:`InfeasibleError`) to exit code 2 and
:class:`SolverError` to exit code 3 (docs/architecture.md). Messages are one actionable sentence.
``shipahead.forecasting``, ``shipahead.placement`` and ``shipahead.routing`` re-export these
classes, so ``shipahead.routing.InputError is shipahead.errors.InputError``.
"""

from __future__ import annotations

__all__ = ["InfeasibleError", "InputError", "LocatedError", "ShipaheadError", "SolverError"]


class ShipaheadError(Exception):
    """Base class of every error shipahead raises on purpose."""


class LocatedError(ShipaheadError):
    """An error that says where (table, row, column) and how to fix it.

    Parameters
    ----------
    message
        What is wrong, in one sentence.
    column, row
        Where (row is the 0-based position in the frame that was passed in).
    fix
        How to make the input acceptable.
    table
        Which input table (e.g. `"history"`), so the CLI can name the file.
    """

    def __init__(
        self,
        message: str,
        *,
        column: str | None = None,
        row: int | None = None,
        fix: str | None = None,
        table: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.row = row
        self.fix = fix
        self.table = table


class InputError(LocatedError, ValueError):
    """Bad input: names the column/row and the fix (see :class:`LocatedError`)."""


class InfeasibleError(InputError):
    """The problem has no solution; the message names the binding constraint."""


class SolverError(ShipaheadError, RuntimeError):
    """The solver gave no usable result within its limits (exit code 3)."""

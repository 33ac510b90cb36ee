"""Exceptions raised by the `placement` package.

The CLI maps `InputError` (and its subclass `InfeasibleError`) to exit code 2 and
`SolverError` to exit code 3. Messages are one actionable sentence.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: names the column/row and the fix.

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


class InfeasibleError(InputError):
    """The problem has no solution; the message names the binding constraint."""


class SolverError(RuntimeError):
    """The solver gave no usable result within its limits (exit code 3)."""

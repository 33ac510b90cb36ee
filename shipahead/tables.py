"""Checks of input tables shared by every package: required columns and numeric columns.

Each check raises :class:`shipahead.errors.InputError` naming the table, the row (0-based
position in the frame passed in), the column and the fix. The wording is the caller's: every
message is a :meth:`str.format` template (fields listed per function), so each package keeps
its own sentences while the logic lives here once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipahead.errors import InputError

__all__ = ["NumberMessages", "first_row", "numeric_column", "require_columns", "require_frame"]


def first_row(mask: Any) -> int | None:
    """Position of the first true value of the boolean ``mask`` (array or Series), the row an
    error names; ``None`` when there is none."""
    hits = np.flatnonzero(np.asarray(mask))
    return int(hits[0]) if len(hits) else None


def require_frame(obj: Any, table: str, *, message: str, fix: str | None = None) -> None:
    """Raise ``InputError(message)`` unless ``obj`` is a pandas DataFrame."""
    if not isinstance(obj, pd.DataFrame):
        raise InputError(message, fix=fix, table=table)


def require_columns(
    df: pd.DataFrame,
    table: str,
    columns: Sequence[str],
    *,
    message: str = "{table} is missing column(s) {missing}",
    fix: str = "add the column(s) {missing}",
    with_table: bool = True,
) -> None:
    """Raise an ``InputError`` naming the first of ``columns`` that ``df`` lacks.

    Templates may use ``{table}``, ``{missing}`` (the missing names joined by ", "),
    ``{first}`` (the first missing name) and ``{columns}`` (all required names joined by ", ").
    ``with_table=False`` leaves the error's ``table`` unset.
    """
    missing = [c for c in columns if c not in df.columns]
    if not missing:
        return
    fields = {
        "table": table,
        "missing": ", ".join(missing),
        "first": missing[0],
        "columns": ", ".join(columns),
    }
    raise InputError(
        message.format(**fields),
        column=missing[0],
        fix=fix.format(**fields),
        table=table if with_table else None,
    )


@dataclass(frozen=True)
class NumberMessages:
    """The sentences of :func:`numeric_column`, one (message, fix) pair per kind of fault.

    Templates may use ``{table}``, ``{col}``, ``{row}``, ``{raw}`` (the cell as given),
    ``{value}`` (the cell as a float), ``{label}`` (the row's first cell), ``{bound}``
    (e.g. ``>= 0``), ``{limit}`` (the magnitude limit) and ``{count}`` (rows with this fault).
    A fix of ``None`` gives no fix. ``groups`` assigns each fault (not a number, empty, too
    large, out of bounds) to a group: groups are checked in order, and within a group the
    first row with any of its faults is reported.
    """

    not_number: str = "{table} row {row}: {col}={raw!r} is not a number"
    not_number_fix: str | None = "write {col} as a number"
    empty: str = "{table} row {row}: {col} is empty"
    empty_fix: str | None = "fill {col}"
    too_large: str = "{table} row {row}: {col}={value:g} is not finite or above {limit:g}"
    too_large_fix: str | None = "correct {col} (units, currency and days are far below {limit:g})"
    bound: str = "{table} row {row}: {col}={value:g} must be {bound}"
    bound_fix: str | None = "correct {col} in row {row}"
    groups: tuple[int, int, int, int] = (0, 1, 2, 3)

    @classmethod
    def invalid_or_bound(
        cls,
        invalid: str,
        invalid_fix: str | None,
        bound: str,
        bound_fix: str | None,
        *,
        one_group: bool = False,
    ) -> NumberMessages:
        """One sentence for any cell that is not a finite number, one for the bound.

        Invalid cells are reported first (their first row), then the bound; with
        ``one_group`` the first row with either fault is reported.
        """
        groups = (0, 0, 0, 0) if one_group else (0, 0, 0, 1)
        pair = (invalid, invalid_fix)
        return cls(*pair, *pair, *pair, bound, bound_fix, groups)


def numeric_column(
    df: pd.DataFrame,
    table: str,
    col: str,
    *,
    ge: float | None = None,
    gt: float | None = None,
    allow_empty: bool = False,
    allow_text: bool = False,
    max_magnitude: float | None = None,
    messages: NumberMessages = NumberMessages(),
) -> np.ndarray:
    """Column ``col`` of ``df`` as float64 (empty cells NaN), after checking every cell.

    A cell must read as a number unless ``allow_text`` (then it becomes NaN); be non-empty
    unless ``allow_empty``; be finite and at most ``max_magnitude`` in size when that is given;
    and be ``>= ge`` / ``> gt`` when given.
    """
    raw = df[col]
    vals = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    raw_nan = raw.isna().to_numpy()
    nan = np.isnan(vals)
    zero = np.zeros(len(vals), dtype=bool)
    if max_magnitude is None:
        huge = zero
    else:
        huge = np.isinf(vals) | (np.abs(np.nan_to_num(vals)) > max_magnitude)
    if ge is not None:
        low, bound = vals < ge, f">= {ge:g}"
    elif gt is not None:
        low, bound = vals <= gt, f"> {gt:g}"
    else:
        low, bound = zero, ""
    m = messages
    faults = [
        (zero if allow_text else nan & ~raw_nan, m.not_number, m.not_number_fix),
        (zero if allow_empty else raw_nan, m.empty, m.empty_fix),
        (huge, m.too_large, m.too_large_fix),
        (low & ~nan, m.bound, m.bound_fix),
    ]
    for group in sorted(set(m.groups)):
        hits = [
            (int(np.flatnonzero(mask)[0]), k)
            for k, (mask, _, _) in enumerate(faults)
            if m.groups[k] == group and mask.any()
        ]
        if not hits:
            continue
        row, k = min(hits)
        mask, message, fix = faults[k]
        fields = {
            "table": table,
            "col": col,
            "row": row,
            "raw": raw.iloc[row],
            "value": vals[row],
            "label": df.iloc[row, 0],
            "bound": bound,
            "limit": max_magnitude,
            "count": int(mask.sum()),
        }
        raise InputError(
            message.format(**fields),
            column=col,
            row=row,
            table=table,
            fix=None if fix is None else fix.format(**fields),
        )
    return vals

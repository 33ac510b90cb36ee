"""Reading input tables and writing outputs atomically.

* :func:`read_table` reads CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``, ``.pq``) by
  extension; with a contract name it checks the file (every problem, one line each) and parses
  ids as text, dates as timestamps and ``HH:MM`` as minutes from midnight.
* :func:`read_geo` reads GeoJSON or GeoParquet (EPSG:4326).
* Writers put the bytes in a temporary file in the target folder and rename it over the target,
  so a failed or killed run never leaves a half-written file. :class:`OutputDir` stages a whole
  set of output files and moves them in only when every one was written.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from cli.contracts import CONTRACTS, Problem, check_table, coerce_table
from cli.errors import CliInputError, format_line, register_file

__all__ = [
    "OutputDir",
    "TableProblems",
    "atomic_path",
    "read_geo",
    "read_table",
    "write_bytes",
    "write_json",
    "write_table",
    "write_text",
]

TABLE_EXT = (".csv", ".csv.gz", ".parquet", ".pq")
GEO_EXT = (".geojson", ".json", ".parquet", ".geoparquet")


class TableProblems(CliInputError):
    """A file broke its contract; ``lines`` holds one message per problem."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.problems = problems
        self.lines = [
            format_line(p.message, file=file, row=p.row, column=p.column, fix=p.fix)
            for p in problems
        ]
        first = problems[0]
        more = (
            f" (+{len(problems) - 1} more: run `shipahead validate`)" if len(problems) > 1 else ""
        )
        super().__init__(
            first.message + more, file=file, row=first.row, column=first.column, fix=first.fix
        )


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for ext in (".csv.gz", ".osm.pbf", ".osm.bz2"):
        if name.endswith(ext):
            return ext
    return path.suffix.lower()


#: first characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_STARTS = "[" + re.escape("".join(FORMULA_START)) + "]"
_GUARDED = re.compile("^'*" + _STARTS)  # cells the CSV writer prefixes with one "'"
_GUARD_ADDED = re.compile("^'+" + _STARTS)  # cells the CSV reader strips one "'" from


def guard_csv_cell(value: Any) -> Any:
    """One CSV cell as written for spreadsheets: a text cell that a spreadsheet would read as a
    formula (it starts with ``= + - @``, tab or CR, possibly after apostrophes) gets a leading
    ``'``; everything else (numbers, other text) is unchanged. :func:`unguard_csv_cell` undoes it.
    """
    if isinstance(value, str) and _GUARDED.match(value):
        return "'" + value
    return value


def unguard_csv_cell(value: Any) -> Any:
    """Drop the ``'`` :func:`guard_csv_cell` added (``"'=A1"`` → ``"=A1"``)."""
    if isinstance(value, str) and _GUARD_ADDED.match(value):
        return value[1:]
    return value


def _guard_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with :func:`guard_csv_cell` applied to every text cell and column name."""
    cols = [
        c for c in df.columns if df[c].dtype == object or isinstance(df[c].dtype, pd.StringDtype)
    ]
    names = [guard_csv_cell(c) for c in df.columns]
    if not cols and names == list(df.columns):
        return df
    out = df.copy()
    for c in cols:
        out[c] = out[c].map(guard_csv_cell, na_action="ignore")
    out.columns = names
    return out


def _has_cr(df: pd.DataFrame) -> bool:
    cells = [c for c in df.columns if isinstance(c, str)]
    for c in df.columns:
        if df[c].dtype == object:
            cells.extend(v for v in df[c] if isinstance(v, str))
    return any("\r" in v for v in cells)


def _unguard_frame(df: pd.DataFrame) -> pd.DataFrame:
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].map(unguard_csv_cell, na_action="ignore")
    df.columns = [unguard_csv_cell(c) for c in df.columns]
    return df


def _read_raw(path: Path) -> pd.DataFrame:
    ext = _suffix(path)
    if not path.exists():
        raise CliInputError("file not found", file=path, fix="check the path")
    if path.is_dir():
        raise CliInputError("is a folder, not a file", file=path, fix="name the file itself")
    try:
        if ext in (".csv", ".csv.gz"):
            df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
            df = _clean_header(path, df, _csv_header(path))
            return _unguard_frame(df)
        if ext in (".parquet", ".pq"):
            df = pd.read_parquet(path)
            return _clean_header(path, df, list(map(str, df.columns)))
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliInputError(
            f"cannot be read as {ext[1:]}: {first}",
            file=path,
            fix="check the file is complete and in that format",
        ) from None
    raise CliInputError(
        f"unknown file type '{ext or path.name}'",
        file=path,
        fix="use .csv, .csv.gz or .parquet",
    )


def _csv_header(path: Path) -> list[str]:
    """The first line of a CSV as the raw field names (before pandas renames duplicates)."""
    import csv
    import gzip

    opener = gzip.open if _suffix(path) == ".csv.gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh), [])


def _clean_header(path: Path, df: pd.DataFrame, raw: list[str]) -> pd.DataFrame:
    """Strip blanks around column names; reject duplicate names and non-comma separators.

    ``raw`` is the header as written (for CSV, before pandas renames duplicates to ``x.1``).
    """
    names = [c.strip() for c in raw]
    if len(names) == 1:
        for sep, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'")):
            if sep in names[0]:
                raise CliInputError(
                    f"the header is separated by {label}, not commas",
                    file=path,
                    fix="save the file as comma-separated CSV (decimal point '.') or as Parquet",
                )
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise CliInputError(
                f"column '{name}' appears twice in the header",
                file=path,
                fix="keep one column of that name (rename or delete the other)",
            )
        seen.add(name)
    if len(names) == len(df.columns):
        df.columns = names
    return df


def read_table(
    path: str | os.PathLike[str], kind: str | None = None, *, check: bool = True
) -> pd.DataFrame:
    """Read a CSV/Parquet table; with ``kind`` check it against that contract and parse it.

    Raises :class:`TableProblems` (exit 2, one line naming file, line, column, fix) when the
    file breaks its contract, :class:`~cli.errors.CliInputError` when it cannot be read.
    """
    p = Path(path)
    if kind is not None:
        register_file(kind, p)
    df = _read_raw(p)
    if kind is None:
        return df
    contract = CONTRACTS[kind]
    if check:
        problems = check_table(df, contract)
        if problems:
            raise TableProblems(str(p), problems)
    parsed, _ = coerce_table(df, contract)
    return parsed


def read_geo(
    path: str | os.PathLike[str], kind: str | None = "regions", *, check: bool = True
) -> Any:
    """Read GeoJSON / GeoParquet into a GeoDataFrame in EPSG:4326 (checked against ``kind``)."""
    import geopandas as gpd

    p = Path(path)
    if kind is not None:
        register_file(kind, p)
    if not p.exists():
        raise CliInputError("file not found", file=p, fix="check the path")
    ext = _suffix(p)
    try:
        if ext in (".geojson", ".json"):
            gdf = gpd.read_file(p)
        elif ext in (".parquet", ".geoparquet"):
            gdf = gpd.read_parquet(p)
        else:
            raise CliInputError(
                f"unknown geometry file type '{ext}'",
                file=p,
                fix="use .geojson or .parquet (GeoParquet)",
            )
    except CliInputError:
        raise
    except Exception as exc:  # the geo readers raise many types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliInputError(
            f"cannot be read as {ext[1:]}: {first}",
            file=p,
            fix="check the file is valid GeoJSON/GeoParquet",
        ) from None
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    elif gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    for c in gdf.columns:
        if c.endswith("_id"):
            gdf[c] = gdf[c].astype(str)
    if kind is not None and check:
        problems = check_table(gdf, CONTRACTS[kind])
        if problems:
            raise TableProblems(str(p), problems)
    return gdf


# --- atomic writers -----------------------------------------------------------------------


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it over ``target`` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_bytes(data: bytes, target: str | os.PathLike[str]) -> Path:
    """Write bytes atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(text: str, target: str | os.PathLike[str]) -> Path:
    """Write UTF-8 text atomically."""
    return write_bytes(text.encode("utf-8"), target)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, pd.Timestamp):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(obj: Any, target: str | os.PathLike[str]) -> Path:
    """Write JSON atomically: sorted keys, 2-space indent, NaN/inf as null (deterministic)."""
    text = json.dumps(_jsonable(obj), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return write_text(text, target)


def write_table(df: pd.DataFrame, target: str | os.PathLike[str]) -> Path:
    """Write a DataFrame atomically as CSV or Parquet, chosen by the target's extension.

    CSV is for spreadsheets: text cells that would run as a formula get a leading ``'``
    (:func:`guard_csv_cell`; :func:`read_table` removes it again). Parquet is written exactly.
    """
    target = Path(target)
    ext = _suffix(target)
    with atomic_path(target) as tmp:
        if ext in (".csv", ".csv.gz"):
            guarded = _guard_frame(df)
            guarded.to_csv(
                tmp,
                index=False,
                lineterminator="\n",
                # Python's csv quotes "\n" but not a bare "\r" when lines end in "\n": a text
                # cell holding one would split its row, so such a table quotes every text cell
                quoting=csv.QUOTE_NONNUMERIC if _has_cr(guarded) else csv.QUOTE_MINIMAL,
                compression="gzip" if ext == ".csv.gz" else None,
            )
        elif ext in (".parquet", ".pq"):
            df.to_parquet(tmp, index=False)
        else:
            raise CliInputError(
                f"unknown output file type '{ext}'", file=target, fix="use .csv or .parquet"
            )
    return target


class OutputDir:
    """Stage a set of output files and move them into ``path`` only if all were written.

    >>> with OutputDir(out) as od:          # doctest: +SKIP
    ...     od.write_table(routes, "routes.csv")
    ...     od.write_json(summary, "summary.json")

    Files are written into a hidden staging folder inside ``path``; on success each is renamed
    into place (same filesystem, atomic per file); on any exception the staging folder is removed
    and nothing appears.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._stage: Path | None = None
        self._names: list[str] = []

    def __enter__(self) -> OutputDir:
        if self.path.exists() and not self.path.is_dir():
            raise CliInputError(
                "exists and is not a folder", file=self.path, fix="choose a folder for --out"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        self._stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.path))
        return self

    def file(self, name: str) -> Path:
        """A staged path for output ``name`` (relative, may contain sub-folders)."""
        assert self._stage is not None, "use OutputDir as a context manager"
        p = self._stage / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if name not in self._names:
            self._names.append(name)
        return p

    def write_table(self, df: pd.DataFrame, name: str) -> Path:
        return write_table(df, self.file(name))

    def write_json(self, obj: Any, name: str) -> Path:
        return write_json(obj, self.file(name))

    def write_text(self, text: str, name: str) -> Path:
        return write_text(text, self.file(name))

    def write_bytes(self, data: bytes, name: str) -> Path:
        return write_bytes(data, self.file(name))

    def write_with(self, name: str, writer: Callable[[Path], None]) -> Path:
        """Let ``writer(path)`` write the staged file (e.g. ``fig.savefig``)."""
        p = self.file(name)
        writer(p)
        return p

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self._stage is not None
        try:
            if exc_type is None:
                for name in self._names:
                    src = self._stage / name
                    if not src.exists():
                        continue
                    dst = self.path / name
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(src, dst)
        finally:
            shutil.rmtree(self._stage, ignore_errors=True)

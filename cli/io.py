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
import errno
import fcntl
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from shipahead.cli.contracts import CONTRACTS, Problem, check_table, coerce_table
from shipahead.cli.errors import STATE, CliInputError, describe_os_error, format_line, register_file

__all__ = [
    "OutputDir",
    "TableProblems",
    "atomic_path",
    "claim_output",
    "claim_outputs",
    "read_geo",
    "read_table",
    "write_bytes",
    "write_json",
    "write_table",
    "write_text",
]

#: snapshot file of a database input → how messages name it (``inputs.history = table …``)
SOURCE_LABELS: dict[str, str] = {}

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
        # a snapshot of a database input is named as the table it came from
        register_file(kind, SOURCE_LABELS.get(str(p), p))
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


def _file_mode() -> int:
    """Mode of a new output file: 0o666 less the user's umask (as ``open`` would create it)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _env_error(exc: OSError, path: Path) -> CliInputError | OSError:
    """An environment error (disk full, read-only, permission) as a one-line input error."""
    line = describe_os_error(exc, path)
    if line is None:
        return exc
    return CliInputError(line)


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it over ``target`` on success.

    The file gets the mode a plain ``open`` would give it (0o666 less the umask), not the
    0o600 of a temporary file. Disk full / read-only / permission errors name ``target``.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise _env_error(exc, target.parent) from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _file_mode())
        os.replace(tmp_path, target)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        raise _env_error(exc, target) from None
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
        self._created: list[Path] = []

    def __enter__(self) -> OutputDir:
        if self.path.exists() and not self.path.is_dir():
            raise CliInputError(
                "exists and is not a folder", file=self.path, fix="choose a folder for --out"
            )
        try:
            self._created = _make_dirs(self.path)
            self._stage = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.path))
        except OSError as exc:
            raise _env_error(exc, self.path) from None
        STATE.staging.add(str(self._stage))
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
                    try:
                        dst.parent.mkdir(parents=True, exist_ok=True)
                        os.replace(src, dst)
                    except OSError as exc:
                        raise _env_error(exc, dst) from None
        finally:
            shutil.rmtree(self._stage, ignore_errors=True)
            STATE.staging.discard(str(self._stage))
            if exc_type is not None:  # a failed run leaves no empty folder behind
                _remove_created(self._created)


# --- claiming an output location: writable, locked, stale leftovers removed --------------

STAGING_PREFIX = ".staging-"
LOCK_NAME = ".shipahead.lock"


def _lock_path(path: Path, folder: bool) -> Path:
    return path / LOCK_NAME if folder else path.parent / f".{path.name}.lock"


def _make_dirs(folder: Path) -> list[Path]:
    """Create ``folder`` and missing parents; return the folders created (outermost first)."""
    missing: list[Path] = []
    p = folder.absolute()
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    if not p.is_dir():
        raise CliInputError(
            "is a file, not a folder", file=p, fix="choose another folder for the output"
        )
    made: list[Path] = []
    for d in reversed(missing):
        try:
            d.mkdir()
            made.append(d)
        except FileExistsError:
            if not d.is_dir():
                _remove_created(made)
                raise CliInputError(
                    "is a file, not a folder", file=d, fix="choose another output path"
                ) from None
        except OSError as exc:
            _remove_created(made)
            raise _env_error(exc, d) from None
    return made


def _remove_created(created: list[Path]) -> None:
    """Remove the folders a failed run created, innermost first, if they are empty."""
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            return


def _read_pid(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 32).decode("ascii", "replace").strip()
    except OSError:
        return "?"
    return text if text.isdigit() else "?"


def _acquire(lock: Path, what: Path) -> int:
    """Hold an exclusive ``flock`` on ``lock`` (released by the OS if this process dies)."""
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _env_error(exc, lock.parent) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            pid = _read_pid(fd)
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise _env_error(exc, lock) from None
            raise CliInputError(
                f"{what} is in use by another shipahead run (pid {pid})",
                fix="wait for that run to finish, or choose another output path",
            ) from None
        # the run before us may have removed the file after we opened it: lock the new one
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:
            os.close(fd)
            lock.unlink(missing_ok=True)
            raise _env_error(exc, lock.parent) from None
        return fd


def _clean_stale(folder: Path, name: str | None) -> None:
    """Remove staging folders and temporary files that a killed run left behind.

    Safe because the caller holds the lock of ``folder`` (sub-folders holding their own lock
    are left alone). ``name``: only the temporary files of that output file.
    """
    if name is not None:
        for tmp in folder.glob(f".{name}.*.tmp"):
            tmp.unlink(missing_ok=True)
        return
    folders = [folder]
    folders += [d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")]
    for d in folders:
        if d is not folder and (d / LOCK_NAME).exists():
            continue
        for stale in d.glob(f"{STAGING_PREFIX}*"):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
        for tmp in d.glob(".*.tmp"):
            if tmp.is_file():
                tmp.unlink(missing_ok=True)


@contextmanager
def claim_output(path: str | os.PathLike[str], *, folder: bool = True) -> Iterator[Path]:
    """Claim an output folder (or file) for one run, before any work starts.

    * checks it can be written (creates the folder; a lock file is the test write) — a
      read-only or full disk fails here, in one line naming the path, not after the work;
    * takes an exclusive lock: a second run into the same place exits 2 with
      "<path> is in use by another shipahead run (pid N)"; a killed run's lock is released by
      the OS, so it never blocks;
    * removes ``.staging-*`` folders and temporary files a killed run left behind;
    * if the run fails, removes the folders it created (when empty).
    """
    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise CliInputError("exists and is not a folder", file=path, fix="choose a folder")
    if not folder and path.is_dir():
        raise CliInputError("is a folder, not a file", file=path, fix="name the output file")
    created = _make_dirs(path if folder else path.parent)
    lock = _lock_path(path, folder)
    try:
        fd = _acquire(lock, path)
    except BaseException:
        _remove_created(created)
        raise
    ok = False
    try:
        _clean_stale(path if folder else path.parent, None if folder else path.name)
        yield path
        ok = True
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)
        if not ok:
            _remove_created(created)


@contextmanager
def claim_outputs(*paths: tuple[str | os.PathLike[str] | None, bool]) -> Iterator[None]:
    """:func:`claim_output` for several ``(path, folder)`` pairs (None paths are skipped)."""
    with ExitStack() as stack:
        for p, is_folder in paths:
            if p is not None:
                stack.enter_context(claim_output(p, folder=is_folder))
        yield

"""`shipahead validate FILE --kind KIND`: check a file against its contract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from shipahead.cli.contracts import CONTRACTS, check_table
from shipahead.cli.errors import EXIT_INPUT, command, emit_error, format_line

_KINDS = ", ".join(CONTRACTS)


def _guess_kind(path: Path) -> str | None:
    stem = path.name.split(".")[0].lower()
    aliases = {
        "fulfillment_centers": "fcs",
        "demand": "history",
        "routes": "routes",
        "replan_events": "replan-events",
    }
    stem = aliases.get(stem, stem)
    return stem if stem in CONTRACTS else None


def _sniff_events(path: Path, guess: str | None) -> str | None:
    """A file named like events (or not named like any table) with a ``type`` column and
    no ``ds`` column holds re-plan events, not promotions."""
    if guess not in (None, "events"):
        return guess
    from shipahead.cli.io import _read_raw

    try:
        cols = set(_read_raw(path).columns)
    except Exception:  # unreadable: the normal read below reports it
        return guess
    return "replan-events" if "type" in cols and "ds" not in cols else guess


@command
def command(
    file: Annotated[
        str,
        typer.Argument(
            help="CSV, Parquet, GeoJSON or GeoParquet file, or a database table: "
            "URL#table=NAME or URL#query=SELECT … (then --kind is required).",
            show_default=False,
        ),
    ],
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            "-k",
            help=f"Contract to check against: {_KINDS}. Default: guessed from the file name.",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="Report at most this many problems.")] = 50,
) -> None:
    """Check FILE against its data contract and report every problem found (exit 2 if any)."""
    from shipahead.cli.dbsource import parse_source
    from shipahead.cli.io import _read_raw, read_geo
    from shipahead.cli.progress import console

    source = parse_source(file, base=Path.cwd())
    if source is not None:
        _validate_table(source, kind, limit)
        return
    file = Path(file)  # type: ignore[assignment]
    if kind is None:
        kind = _sniff_events(file, _guess_kind(file))
        if kind is None:
            emit_error(
                format_line(
                    "cannot tell which table this is", file=str(file), fix=f"pass --kind ({_KINDS})"
                )
            )
            raise typer.Exit(EXIT_INPUT)
    if kind not in CONTRACTS:
        emit_error(f"unknown --kind '{kind}' — fix: use one of {_KINDS}")
        raise typer.Exit(EXIT_INPUT)
    contract = CONTRACTS[kind]
    df = read_geo(file, kind=None) if contract.geo else _read_raw(file)
    problems = check_table(df, contract, limit=limit)
    for p in problems:
        emit_error(format_line(p.message, file=str(file), row=p.row, column=p.column, fix=p.fix))
    if problems:
        more = " (limit reached; there may be more)" if len(problems) >= limit else ""
        console().print(f"{file}: {len(problems)} problem(s) against the '{kind}' contract{more}")
        raise typer.Exit(EXIT_INPUT)
    console().print(f"{file}: OK — {len(df)} rows match the '{kind}' contract")


def _validate_table(source: Any, kind: str | None, limit: int) -> None:
    """`validate URL#table=NAME --kind KIND`: every problem, each naming the row's key."""
    from shipahead.cli.dbsource import read_db_table, row_key
    from shipahead.cli.progress import console

    if kind not in CONTRACTS:
        emit_error(f"a database table needs --kind — fix: use one of {_KINDS}")
        raise typer.Exit(EXIT_INPUT)
    contract = CONTRACTS[kind]
    if contract.geo:
        emit_error(f"--kind {kind} is geometry: give a GeoJSON or GeoParquet file")
        raise typer.Exit(EXIT_INPUT)
    label = source.describe()
    df = read_db_table(source, label)
    problems = check_table(df, contract, limit=limit)
    for p in problems:
        key = row_key(df, p.row, contract.key)
        where = label + (f", {key}" if key else "")
        emit_error(format_line(p.message, file=where, column=p.column, fix=p.fix))
    if problems:
        more = " (limit reached; there may be more)" if len(problems) >= limit else ""
        console().print(f"{label}: {len(problems)} problem(s) against the '{kind}' contract{more}")
        raise typer.Exit(EXIT_INPUT)
    console().print(f"{label}: OK — {len(df)} rows match the '{kind}' contract")

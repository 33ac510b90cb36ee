"""`shipahead runs list | show RUN | diff RUN_A RUN_B --store URL`: the plan runs in a store.

``plan`` writes every run into a store (``--store URL``; default ``shipahead.db`` beside the
run folder, i.e. in the parent folder of ``--out``). These commands read it back: ``list`` the
runs, ``show`` one run's KPIs, orders, stock targets and forecast, ``diff`` the KPIs, orders
and forecasts that changed between two runs. ``--json`` prints machine-readable output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from shipahead.cli.errors import CliInputError
from shipahead.cli.errors import command as _handled

app = typer.Typer(name="runs", help="Plan runs in the run store: list, show, diff.")

#: the default store's file name, in the folder that holds the run folders
STORE_FILE = "shipahead.db"


def default_store_url(run_dir: Path) -> str:
    """``sqlite:///<parent of run_dir>/shipahead.db``: the store beside the run folders."""
    from shipahead.store import default_sqlite_url

    return default_sqlite_url(Path(run_dir).absolute().parent, STORE_FILE)


def open_cli_store(url: str) -> Any:
    """Open the store at ``url`` (migrated); a failure is one line, exit 2, no password."""
    from shipahead.store import StoreError, open_store

    try:
        return open_store(url)
    except StoreError as exc:
        raise CliInputError(
            str(exc), fix="check --store (the url, the server, the password)"
        ) from None


@contextmanager
def cli_session(url: str) -> Iterator[tuple[Any, str]]:
    """One session of the store at ``url`` (opened as :func:`open_cli_store` does, closed on
    exit; the session commits when the block ends without an error) and the store's URL as
    shown to users (no password)."""
    st = open_cli_store(url)
    try:
        with st.session() as session:
            yield session, st.shown_url
    finally:
        st.close()


def store_option() -> Any:
    """``--store URL`` of the commands that read the store (required)."""
    return Annotated[
        str,
        typer.Option(
            "--store",
            help="Run store: a SQLAlchemy URL (sqlite:///runs/shipahead.db, postgresql://…); "
            "${VAR} is read from the environment.",
        ),
    ]


def _print_table(df: Any, title: str | None = None, limit: int = 50) -> None:
    """A DataFrame as a rich table on stdout (ids escaped: no console markup)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    con = Console(highlight=False, soft_wrap=True)
    if title:
        con.print(title, markup=False)
    if df is None or len(df) == 0:
        con.print("  (none)", markup=False)
        return
    table = Table(show_edge=False, pad_edge=False)
    for c in df.columns:
        table.add_column(Text(str(c)), overflow="fold")
    for row in df.head(limit).itertuples(index=False):
        # Text cells: ids from input files are shown as written, never read as console markup
        table.add_row(*(Text("" if v is None else str(v)) for v in row))
    con.print(table)
    if len(df) > limit:
        con.print(f"  … {len(df) - limit} more rows (--json prints all)", markup=False)


def _json(obj: Any) -> None:
    import pandas as pd

    def conv(o: Any) -> Any:
        if isinstance(o, pd.DataFrame):
            return json.loads(o.to_json(orient="records", date_format="iso"))
        return str(o)

    typer.echo(json.dumps(obj, default=conv, indent=2, sort_keys=True))


@app.command("list")
@_handled
def list_command(
    store: store_option(),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the runs in the store, oldest first."""
    from shipahead.store.planner import list_runs

    with cli_session(store) as (session, shown):
        runs = list_runs(session)
    if as_json:
        _json(runs)
    else:
        _print_table(runs, f"{len(runs)} run(s) in {shown}", limit=1000)


def _missing(run: str, url: str) -> CliInputError:
    return CliInputError(
        f"no run {run!r} in {url}", fix="`shipahead runs list --store URL` lists the runs"
    )


@app.command("show")
@_handled
def show_command(
    run: Annotated[str, typer.Argument(help="Run id (see `runs list`).")],
    store: store_option(),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one run: KPIs, placement orders (with status), stock targets, forecast."""
    from shipahead.store.planner import run_tables

    with cli_session(store) as (session, shown):
        t = run_tables(session, run)
    if t is None:
        raise _missing(run, shown)
    if as_json:
        _json(t)
        return
    r = t["run"]
    typer.echo(f"run {r['run_id']} · as of {r['as_of']} · scenario {r['scenario']}")
    _print_table(t["kpis"], "KPIs")
    _print_table(t["orders"], "placement orders")
    _print_table(t["stock_targets"], "stock targets")
    _print_table(t["forecast"], "forecast", limit=20)


@app.command("diff")
@_handled
def diff_command(
    run_a: Annotated[str, typer.Argument(help="The earlier run.")],
    run_b: Annotated[str, typer.Argument(help="The later run.")],
    store: store_option(),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """What changed from RUN_A to RUN_B: KPIs, orders (by lane and SKU), forecasts."""
    import pandas as pd
    from shipahead.store.planner import diff_runs

    shown = ""
    try:
        with cli_session(store) as (session, shown):
            d = diff_runs(session, run_a, run_b)
    except KeyError as exc:
        raise _missing(str(exc.args[0]), shown) from None
    if as_json:
        _json(d)
        return
    typer.echo(f"{run_a} (as of {d['a']['as_of']}) → {run_b} (as of {d['b']['as_of']})")
    _print_table(pd.DataFrame(d["kpis"]), f"KPIs changed: {len(d['kpis'])}")
    _print_table(pd.DataFrame(d["orders"]), f"orders changed: {len(d['orders'])}")
    _print_table(d["forecasts"], f"forecasts changed: {len(d['forecasts'])}", limit=20)

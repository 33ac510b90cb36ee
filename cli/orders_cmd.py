"""`shipahead orders approve | confirm | receive | cancel --store URL ORDER_ID…`, `orders import
STATUS_FILE` and `orders list`: placement orders tracked until they arrive.

Every order `plan` proposes gets a stable id (``PO-`` + 16 hex digits, from its date, lane, SKU)
and the status ``proposed``; statuses only move forward — proposed → approved → confirmed →
received, or cancelled from any open status. A command or an import that would move an order
backwards, or names an unknown order, changes nothing (exit 2, one line). The next ``plan``
counts confirmed, not yet received orders as stock at their FC, so a transfer is never ordered
twice.
"""

from __future__ import annotations

from typing import Annotated

import typer
from shipahead.cli.errors import CliInputError
from shipahead.cli.errors import command as _handled
from shipahead.cli.runs_cmd import _json, _print_table, cli_session, store_option

app = typer.Typer(
    name="orders", help="Placement orders: approve, confirm, receive, cancel, import, list."
)

#: most order ids one command line may name
MAX_IDS = 10_000


def _move(store: str, ids: list[str], status: str, quantity: int | None = None) -> None:
    from shipahead.cli.errors import STATE
    from shipahead.cli.progress import console
    from shipahead.store.planner import set_status

    from shipahead.errors import InputError

    if not ids:
        raise CliInputError("name at least one ORDER_ID", fix="see `shipahead orders list`")
    if len(ids) > MAX_IDS:
        raise CliInputError(
            f"{len(ids)} order ids on one command line (at most {MAX_IDS})",
            fix="import them from a status file: shipahead orders import FILE",
        )
    if quantity is not None and len(ids) != 1:
        raise CliInputError("--quantity applies to one order", fix="name one ORDER_ID")
    try:
        with cli_session(store) as (session, _):
            counts = set_status(
                session,
                [(i, status, quantity) for i in ids],
                source=f"shipahead orders {_VERB[status]}",
                table="ORDER_ID",
            )
    except InputError as exc:
        raise CliInputError(exc.message, fix=exc.fix) from None
    if not STATE.quiet:
        n = counts.get(status, 0)
        console().print(f"{n} order(s) {status}; {len(set(ids)) - n} already {status}")


_VERB = {
    "approved": "approve",
    "confirmed": "confirm",
    "received": "receive",
    "cancelled": "cancel",
}

_Ids = Annotated[list[str], typer.Argument(help="Order ids (PO-…).", show_default=False)]


@app.command("approve")
@_handled
def approve_command(store: store_option(), order_ids: _Ids) -> None:
    """Approve proposed orders (the planner accepts them)."""
    _move(store, order_ids, "approved")


@app.command("confirm")
@_handled
def confirm_command(
    store: store_option(),
    order_ids: _Ids,
    quantity: Annotated[
        int | None, typer.Option("--quantity", help="Quantity the ERP confirmed (one order).")
    ] = None,
) -> None:
    """Confirm orders (placed in the ERP): the next plan counts them as inbound stock."""
    _move(store, order_ids, "confirmed", quantity)


@app.command("receive")
@_handled
def receive_command(store: store_option(), order_ids: _Ids) -> None:
    """Mark orders received (their stock is now in the FC's inventory)."""
    _move(store, order_ids, "received")


@app.command("cancel")
@_handled
def cancel_command(store: store_option(), order_ids: _Ids) -> None:
    """Cancel open or confirmed orders."""
    _move(store, order_ids, "cancelled")


@app.command("import")
@_handled
def import_command(
    status_file: Annotated[
        str,
        typer.Argument(
            help="CSV/Parquet order_id,status[,quantity] (or URL#table=NAME / URL#query=…)."
        ),
    ],
    store: store_option(),
) -> None:
    """Apply an ERP's status export: all rows or none."""
    from pathlib import Path

    from shipahead.cli.dbsource import parse_source, read_checked
    from shipahead.cli.errors import STATE
    from shipahead.cli.io import read_table
    from shipahead.cli.limits import check_limit
    from shipahead.cli.progress import console
    from shipahead.store.planner import set_status

    from shipahead.errors import InputError

    src = parse_source(status_file)
    if src is None:
        path = Path(status_file)
        df = read_table(path, "order_status")
        label = str(path)
    else:
        from shipahead.cli.contracts import CONTRACTS, coerce_table

        raw = read_checked(src, "order_status", "STATUS_FILE")
        df, _ = coerce_table(raw, CONTRACTS["order_status"])
        label = src.describe()
    check_limit("order_status_rows", len(df), f"{label}: rows")
    moves = []
    for r in df.to_dict("records"):
        q = r.get("quantity")
        qty = None if q is None or q != q else int(q)
        moves.append((str(r["order_id"]), str(r["status"]).strip().lower(), qty))
    try:
        with cli_session(store) as (session, _):
            counts = set_status(session, moves, source=f"import {label}"[:300], table="status")
    except InputError as exc:
        raise CliInputError(
            exc.message, file=label, row=exc.row, column=exc.column, fix=exc.fix
        ) from None
    if not STATE.quiet:
        moved = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no changes"
        console().print(f"imported {len(df)} row(s) from {label}: {moved}")


@app.command("list")
@_handled
def list_command(
    store: store_option(),
    status: Annotated[
        list[str] | None, typer.Option("--status", help="Only these statuses (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the tracked orders (optionally of some statuses)."""
    from shipahead.store.planner import orders_table
    from shipahead.store.runs import ORDER_STATUSES

    for s in status or []:
        if s not in ORDER_STATUSES:
            raise CliInputError(
                f"unknown --status {s!r}", fix=f"use one of {', '.join(ORDER_STATUSES)}"
            )
    with cli_session(store) as (session, url):
        df = orders_table(session, status or None)
    if as_json:
        _json(df)
    else:
        shown = ["order_id", "as_of", "from_node", "to_fc_id", "sku_id", "qty_units", "status"]
        _print_table(df[shown], f"{len(df)} order(s) in {url}", limit=1000)

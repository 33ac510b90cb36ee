"""Exception → one red line + exit code, through the real typer app."""

from __future__ import annotations

import typer
from shipahead.cli.errors import (
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_SOLVER,
    STATE,
    command,
    register_file,
)
from typer.testing import CliRunner


def _app(exc: Exception) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @command
    def run() -> None:
        raise exc

    @app.command()
    def other() -> None:  # pragma: no cover - makes `run` a sub-command
        pass

    return app


def test_domain_input_error_names_file_line_column_fix() -> None:
    from shipahead.forecasting.errors import InputError

    register_file("history", "data/history.csv")
    exc = InputError(
        "value -3 is negative", table="history", row=4, column="y", fix="demand must be ≥ 0 units"
    )
    res = CliRunner().invoke(_app(exc), ["run"])
    assert res.exit_code == EXIT_INPUT
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1
    assert lines[0] == (
        "error: data/history.csv:6, column 'y': value -3 is negative — fix: "
        "demand must be ≥ 0 units"
    )


def test_infeasible_is_exit_2_and_says_infeasible() -> None:
    from shipahead.placement.errors import InfeasibleError

    res = CliRunner().invoke(_app(InfeasibleError("FC CMH1 holds more than its capacity")), ["run"])
    assert res.exit_code == EXIT_INPUT
    assert "infeasible: FC CMH1" in res.output


def test_solver_error_is_exit_3() -> None:
    from shipahead.routing.errors import SolverError

    res = CliRunner().invoke(_app(SolverError("no plan within 1 s")), ["run"])
    assert res.exit_code == EXIT_SOLVER
    assert "no plan within 1 s" in res.output


def test_store_error_is_exit_2_one_line_without_password() -> None:
    from shipahead.cli.errors import describe
    from shipahead.store import StoreError, open_store

    url = "postgresql://user:s3cret@127.0.0.1:1/dispatch"  # port 1: connection refused
    try:
        open_store(url)
    except StoreError as exc:
        error = exc
    code, line = describe(error)
    assert code == EXIT_INPUT
    assert line.startswith("cannot open database postgresql://user:***@127.0.0.1:1/dispatch")
    assert "\n" not in line and "s3cret" not in line
    res = CliRunner().invoke(_app(error), ["run"])
    assert res.exit_code == EXIT_INPUT
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot open database"), res.output
    assert "s3cret" not in res.output and "internal error" not in res.output


def test_unexpected_error_exit_1_short_message_no_traceback() -> None:
    STATE.debug = False
    res = CliRunner().invoke(_app(ZeroDivisionError("division by zero")), ["run"])
    assert res.exit_code == EXIT_INTERNAL
    assert "internal error: ZeroDivisionError" in res.output
    assert "Traceback" not in res.output
    assert "--debug" in res.output


def test_debug_shows_traceback() -> None:
    STATE.debug = True
    try:
        res = CliRunner().invoke(_app(ZeroDivisionError("boom")), ["run"])
    finally:
        STATE.debug = False
    assert res.exit_code == EXIT_INTERNAL
    assert "Traceback" in res.output


def test_error_line_shows_markup_in_ids_as_text(capsys) -> None:
    """An id such as ``[/]`` or ``[bold]x`` is printed as written, never parsed as rich markup."""
    from shipahead.cli.errors import emit_error

    emit_error("stops.csv row 3: stop_id '[/]x[bold]y' is a duplicate")
    assert "stop_id '[/]x[bold]y' is a duplicate" in capsys.readouterr().err

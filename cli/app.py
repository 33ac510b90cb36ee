"""The ``shipahead`` command: one typer app wiring the domain packages to files.

Each command lives in its own module (``cli/<name>_cmd.py``) exposing either a function
``command`` or a ``typer.Typer`` called ``app``; this module only assembles them. Domain
packages are imported inside the command bodies so ``shipahead --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer
from shipahead.cli.errors import STATE

HELP = (
    "shipahead — demand forecasts, anticipatory inventory placement and delivery routes.\n\n"
    "Flow: history → forecast → placement (stock targets, placement orders) → routes. "
    "Exit codes: 0 ok, 1 internal error, 2 bad input / infeasible / output not writable or "
    "in use by another run (one line says why), 3 solver gave no usable result, "
    "130/143 interrupted (Ctrl-C/SIGTERM; finished steps are kept)."
)

app = typer.Typer(
    name="shipahead",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version() -> str:
    try:
        return version("shipahead")
    except PackageNotFoundError:  # running from a source tree without install
        return "0+unknown"


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"shipahead {_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version_: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bars or info logs.")
    ] = False,
) -> None:
    STATE.debug = STATE.debug or debug
    STATE.quiet = quiet
    from shipahead.cli.progress import setup_logging

    setup_logging()


# (command name, module)
_COMMANDS: tuple[tuple[str, str], ...] = (
    ("validate", "shipahead.cli.validate_cmd"),
    ("forecast", "shipahead.cli.forecast_cmd"),
    ("accuracy", "shipahead.cli.accuracy_cmd"),
    ("place", "shipahead.cli.place_cmd"),
    ("route", "shipahead.cli.route_cmd"),
    ("plan", "shipahead.cli.plan_cmd"),
    ("demo", "shipahead.cli.demo_cmd"),
    ("serve", "shipahead.cli.serve_cmd"),
    ("runs", "shipahead.cli.runs_cmd"),
    ("orders", "shipahead.cli.orders_cmd"),
)


def _register(name: str, module: str) -> None:
    mod = importlib.import_module(module)
    if hasattr(mod, "command"):
        app.command(name)(mod.command)
        return
    sub: typer.Typer = mod.app
    if sub.registered_callback is None and len(sub.registered_commands) == 1:
        info = sub.registered_commands[0]
        app.command(name, help=info.help)(info.callback)
    else:
        app.add_typer(sub, name=name)


for _name, _module in _COMMANDS:
    _register(_name, _module)


_GLOBAL_FLAGS = ("--quiet", "-q", "--debug")


def hoist_global_flags(argv: list[str]) -> list[str]:
    """Move ``--quiet``/``-q``/``--debug`` written after the command to before it.

    Users write ``shipahead forecast h.csv --quiet`` as often as ``shipahead --quiet forecast``;
    both mean the same. Arguments after ``--`` are left alone.
    """
    end = argv.index("--") if "--" in argv else len(argv)
    flags = [a for a in argv[:end] if a in _GLOBAL_FLAGS]
    rest = [a for a in argv[:end] if a not in _GLOBAL_FLAGS]
    return flags + rest + argv[end:]


#: commands that start worker pools (statsforecast's, placement's block workers)
_POOL_COMMANDS = frozenset({"plan", "demo", "forecast", "place"})


def _use_forkserver(command: str | None = None) -> None:
    """Worker pools start from a fork server, started now (for commands that use pools).

    The CLI runs threads (the peak-memory sampler, progress displays); a pool worker forked
    while one of them holds a lock can block for ever (seen as a forecast that never ends under
    load). The fork server starts before those threads, with numpy/pandas/statsforecast loaded,
    and forks clean workers. It starts with SIGINT ignored, so it and its workers leave Ctrl-C
    to this process (one error line, workers stopped by it). statsforecast's
    ``multiprocessing.Pool`` leaves its queue semaphores to garbage collection; the resource
    tracker unlinks them at exit, so its warning about them is muted.
    """
    import multiprocessing

    if multiprocessing.get_start_method(allow_none=True) is not None:
        return
    sys.warnoptions.append("ignore:resource_tracker:UserWarning")
    multiprocessing.set_forkserver_preload(["numpy", "pandas", "statsforecast"])
    multiprocessing.set_start_method("forkserver")
    if command in _POOL_COMMANDS:
        from multiprocessing import forkserver

        from shipahead.backends import sigint_ignored

        with sigint_ignored():
            forkserver.ensure_running()


def main() -> None:
    """Console-script entry point."""
    args = hoist_global_flags(sys.argv[1:])
    _use_forkserver(next((a for a in args if not a.startswith("-")), None))
    app(args=args, prog_name="shipahead")


if __name__ == "__main__":  # pragma: no cover
    main()

"""`shipahead demo`: the `plan` job on the bundled sample scenario (Columbus, OH)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from shipahead.cli.errors import CliInputError, command

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "scenario.toml"


@command
def command(
    out: Annotated[Path, typer.Option("--out", help="Run folder.")] = Path("runs/demo"),
    engine: Annotated[str, typer.Option(help="local | dask | ray")] = "local",
    force: Annotated[bool, typer.Option(help="Rerun steps even if unchanged.")] = False,
) -> None:
    """Run forecast → placement → routes on the bundled sample scenario into OUT."""
    from shipahead.cli.plan_cmd import run_plan, summary_lines
    from shipahead.cli.progress import console

    if not SAMPLE.exists():
        raise CliInputError(
            "the sample scenario is not here",
            file=SAMPLE,
            fix="run from a source checkout (git clone) of shipahead",
        )
    from shipahead.cli.io import claim_output

    with claim_output(out):
        manifest = run_plan(SAMPLE, out, engine=engine, force=force)
    con = console()
    con.print(f"[bold]shipahead demo[/] — sample scenario {SAMPLE.parent.name}/ → {out}/")
    for line in summary_lines(manifest, out):
        con.print(line)
    con.print(f"Open {out / 'report.html'} in a browser.")

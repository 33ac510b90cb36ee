"""`shipahead accuracy --store URL --actuals HISTORY`: score stored forecasts against actuals.

Reads every run's forecasts back from the store (the champion after overrides, the statistical
baseline, the challenger), joins them to the actuals that have arrived and writes, all at once
into ``--out``:

* ``accuracy_by_lag.csv`` — MASE, WAPE, bias, 80/90 % coverage by role, level and lag;
* ``accuracy_by_model.csv`` — the same per model (bottom level, statistical forecasts);
* ``accuracy_by_run.csv`` — per run, role and level (the trend over runs);
* ``champion_vs_challenger.csv`` — the Diebold–Mariano test over the last ``--last`` runs;
* ``value_added.csv`` — forecast value added (naive → baseline → final) per level and user;
* ``accuracy.md`` — a short report saying whether the challenger has beaten the champion.

Metrics and rules: :mod:`shipahead.forecasting.accuracy`.
"""

from __future__ import annotations

import html
import math
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from shipahead.cli.errors import CliInputError, command, require_file

FILES = (
    "accuracy_by_lag.csv",
    "accuracy_by_model.csv",
    "accuracy_by_run.csv",
    "champion_vs_challenger.csv",
    "value_added.csv",
    "accuracy.md",
)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")


def _md(value: object) -> str:
    """``value`` as literal Markdown (ids and user names come from input files)."""
    s = html.escape(" ".join(str(value).split()), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", s)


def _pct(v: Any) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1%}"


def _num(v: Any, fmt: str = ".3f") -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def _season(info: dict[str, dict[str, Any]], actuals: Any, given: int | None) -> int:
    """The season length: ``--season-length``, else the runs' (most common), else the
    frequency's default."""
    from collections import Counter

    from shipahead.forecasting.validate import infer_freq, season_length_for

    if given is not None:
        return given
    seasons = Counter(v["season_length"] for v in info.values() if v.get("season_length"))
    if seasons:
        return int(seasons.most_common(1)[0][0])
    freqs = Counter(v["freq"] for v in info.values() if v.get("freq"))
    freq = freqs.most_common(1)[0][0] if freqs else infer_freq(actuals["ds"])
    return int(season_length_for(freq))


def report_markdown(
    tables: dict[str, Any], *, runs: int, scored_runs: int, last: int, season: int, alpha: float
) -> str:
    """The short accuracy report (Markdown; every id and user name escaped)."""
    lines = ["# Forecast accuracy", ""]
    lines.append(
        f"{scored_runs} of {runs} stored runs have forecast periods with actuals "
        f"(season length {season} periods)."
    )
    by_lag = tables["by_lag"]
    champ = by_lag[by_lag["role"] == "champion"]
    if champ.empty:
        lines += ["", "No forecast period has an actual yet: nothing to score."]
        return "\n".join(lines) + "\n"
    lines += ["", "## Champion (final forecast) by level and lag", ""]
    lines.append("| level | lag | n | MASE | WAPE | bias | cover 80% | cover 90% |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in champ.itertuples(index=False):
        lines.append(
            f"| {_md(r.level)} | {r.lag} | {r.n} | {_num(r.mase)} | {_pct(r.wape)} | "
            f"{_pct(r.bias)} | {_pct(r.coverage_80)} | {_pct(r.coverage_90)} |"
        )
    cc = tables["champion_vs_challenger"]
    lines += ["", f"## Champion vs challenger (last {last} runs, Diebold–Mariano)", ""]
    if cc.empty:
        lines.append("No run has a challenger forecast with actuals (set `[forecast] challenger`).")
    else:
        top = cc.iloc[0]
        verdict = (
            "**The challenger has beaten the champion**"
            if bool(top["challenger_better"])
            else "The challenger has not beaten the champion"
        )
        lines.append(
            f"{verdict} over {int(top['runs'])} runs: MASE {_num(top['challenger_mase'])} vs "
            f"{_num(top['champion_mase'])}, DM statistic {_num(top['dm_statistic'])}, "
            f"p-value {_num(top['p_value'], '.4f')} (one-sided, α = {alpha:g}, h = "
            f"{int(top['h'])})."
        )
        lines += ["", "| lag | runs | champion MASE | challenger MASE | DM | p-value |"]
        lines.append("|---|---:|---:|---:|---:|---:|")
        for r in cc.itertuples(index=False):
            lines.append(
                f"| {r.lag} | {r.runs} | {_num(r.champion_mase)} | {_num(r.challenger_mase)} | "
                f"{_num(r.dm_statistic)} | {_num(r.p_value, '.4f')} |"
            )
    va = tables["value_added"]
    lines += ["", "## Forecast value added (WAPE: naive → baseline → final)", ""]
    lines.append("| level | user | n | naive | baseline | final | FVA model | FVA overrides |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in va.itertuples(index=False):
        lines.append(
            f"| {_md(r.level)} | {_md(r.user)} | {r.n} | {_pct(r.wape_naive)} | "
            f"{_pct(r.wape_baseline)} | {_pct(r.wape_final)} | {_pct(r.fva_model)} | "
            f"{_pct(r.fva_override)} |"
        )
    return "\n".join(lines) + "\n"


def score_tables(
    forecasts: Any,
    info: dict[str, dict[str, Any]],
    actuals: Any,
    *,
    last: int,
    alpha: float = 0.05,
    season_length: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Score stored forecasts (:func:`shipahead.store.accuracy.load_forecasts`) against
    ``actuals`` (the history contract); returns the tables and facts for the reports.

    Tables: ``by_lag`` (role, level, lag), ``by_model``, ``by_run`` (as_of, run_id, role,
    level: the trend over runs), ``champion_vs_challenger`` (the last ``last`` runs) and
    ``value_added``; levels bottom first. Facts: runs, scored_runs, season, last, alpha.
    """
    from shipahead.forecasting import accuracy as acc

    season = _season(info, actuals, season_length)
    rows = acc.score_rows(forecasts, actuals, season_length=season)
    bottom = rows[rows["level"] == "sku_region"]
    tables = {
        "by_lag": acc.accuracy_table(rows, ["role", "level", "lag"]),
        "by_model": acc.accuracy_table(bottom, ["role", "model"], column="baseline"),
        "by_run": acc.accuracy_table(rows, ["as_of", "run_id", "role", "level"]),
        "champion_vs_challenger": acc.champion_vs_challenger(rows, last=last, alpha=alpha),
        "value_added": acc.value_added(rows),
    }
    level_order = {lv: i for i, lv in enumerate(acc.LEVELS)}

    def by_level(col):  # levels bottom first, other columns as they sort
        return col.map(level_order) if col.name == "level" else col

    tables["by_lag"] = tables["by_lag"].sort_values(
        ["role", "level", "lag"], key=by_level, kind="stable", ignore_index=True
    )
    tables["by_run"] = tables["by_run"].sort_values(
        ["as_of", "run_id", "role", "level"], key=by_level, kind="stable", ignore_index=True
    )
    if len(tables["by_run"]):
        tables["by_run"]["as_of"] = tables["by_run"]["as_of"].dt.date.astype(str)
    facts = {
        "runs": len(info),
        "scored_runs": int(rows["run_id"].nunique()) if len(rows) else 0,
        "season": season,
        "last": last,
        "alpha": alpha,
    }
    return tables, facts


def compute(
    store_url: str,
    actuals_path: Path,
    *,
    last: int,
    alpha: float = 0.05,
    season_length: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Score the store's forecasts; returns the tables and facts for the report."""
    from shipahead.cli.io import read_table
    from shipahead.cli.limits import limit
    from shipahead.store import StoreError, open_store
    from shipahead.store.accuracy import load_forecasts

    actuals = read_table(require_file(actuals_path, "actuals"), "history")
    try:
        store = open_store(store_url)
    except StoreError as exc:
        raise CliInputError(str(exc), fix="check --store (a SQLAlchemy URL)") from None
    try:
        with store.session() as s:
            fc, info = load_forecasts(s, last=int(limit("accuracy_runs")))
    finally:
        store.close()
    if not info:
        raise CliInputError(
            f"the store {store.shown_url} holds no runs",
            fix="write runs with `shipahead plan … --store URL` first",
        )
    return score_tables(fc, info, actuals, last=last, alpha=alpha, season_length=season_length)


@command
def command(
    store: Annotated[
        str, typer.Option("--store", help="Run store URL (sqlite:///runs.db, postgresql://…).")
    ],
    actuals: Annotated[
        Path, typer.Option("--actuals", help="History with the actuals: region_id, sku_id, ds, y.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("accuracy"),
    last: Annotated[
        int, typer.Option("--last", help="Runs the champion-vs-challenger test looks back over.")
    ] = 12,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level of the test.")] = 0.05,
    season_length: Annotated[
        int | None,
        typer.Option("--season-length", help="Periods per season (default: the runs')."),
    ] = None,
) -> None:
    """Score every stored forecast whose periods now have actuals (MASE, WAPE, bias, coverage
    by level, model and lag), test the challenger against the champion, and report the value
    the overrides added."""
    from shipahead.cli.io import OutputDir, claim_output
    from shipahead.cli.limits import check_option
    from shipahead.cli.progress import console

    check_option(last, "--last", ge=2, limit_name="accuracy_runs", example="12")
    if not (0 < alpha < 1):
        raise CliInputError(f"--alpha {alpha} must be between 0 and 1", fix="use e.g. 0.05")
    if season_length is not None:
        check_option(season_length, "--season-length", ge=1, example="52")
    with claim_output(out):
        tables, facts = compute(store, actuals, last=last, alpha=alpha, season_length=season_length)
        text = report_markdown(tables, **facts)
        with OutputDir(out) as od:
            od.write_table(tables["by_lag"], FILES[0])
            od.write_table(tables["by_model"], FILES[1])
            od.write_table(tables["by_run"], FILES[2])
            od.write_table(tables["champion_vs_challenger"], FILES[3])
            od.write_table(tables["value_added"], FILES[4])
            od.write_text(text, FILES[5])
    cc = tables["champion_vs_challenger"]
    verdict = ""
    if len(cc):
        top = cc.iloc[0]
        verdict = (
            f"; challenger {'beats' if top['challenger_better'] else 'does not beat'} the "
            f"champion (p = {_num(top['p_value'], '.4f')})"
        )
    console().print(
        f"[green]accuracy:[/] {facts['scored_runs']} of {facts['runs']} runs scored{verdict} → "
        f"{out}"
    )

"""`shipahead forecast --backtest sample|all` and the scenario key `forecast.backtest`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError
from shipahead.cli.app import app
from shipahead.cli.scenario import ForecastParams
from typer.testing import CliRunner

from tests.forecasting.conftest import daily_series

runner = CliRunner()
FAST = ["--models", "Naive,SeasonalNaive", "--windows", "2", "--jobs", "1"]


def _history(tmp_path: Path) -> Path:
    h = pd.concat([daily_series(f"R{i}", "A", 45, seed=i) for i in range(3)], ignore_index=True)
    p = tmp_path / "history.csv"
    h.to_csv(p, index=False)
    return p


def test_backtest_all_backtests_every_series(tmp_path: Path) -> None:
    hist = _history(tmp_path)
    bt = tmp_path / "bt.csv"
    res = runner.invoke(
        app,
        [
            "forecast",
            str(hist),
            "--horizon",
            "7",
            "--out",
            str(tmp_path / "f.csv"),
            *FAST,
            "--backtest",
            "all",
            "--backtest-out",
            str(bt),
        ],
    )
    assert res.exit_code == 0, res.output
    assert pd.read_csv(bt).groupby(["region_id", "sku_id"]).ngroups == 3
    assert "stage backtest" in res.output  # a progress line per stage (not a terminal: logs)


def test_unknown_backtest_mode_exit_2(tmp_path: Path) -> None:
    out = tmp_path / "f.csv"
    res = runner.invoke(
        app,
        [
            "forecast",
            str(_history(tmp_path)),
            "--horizon",
            "7",
            "--out",
            str(out),
            *FAST,
            "--backtest",
            "most",
        ],
    )
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "--backtest" in lines[0], res.output
    assert not out.exists()


def test_scenario_key() -> None:
    assert "backtest" not in ForecastParams().record()  # default: fingerprints unchanged
    assert ForecastParams(backtest="all").record()["backtest"] == "all"
    with pytest.raises(ValidationError):
        ForecastParams(backtest="most")

"""`shipahead forecast`: outputs on success; bad input → exit 2, one line, no output file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from shipahead.cli.app import app
from typer.testing import CliRunner

from tests.forecasting.conftest import daily_series

runner = CliRunner()
FAST = ["--models", "Naive,SeasonalNaive,CrostonOptimized", "--windows", "2", "--jobs", "1"]


def _history(tmp_path: Path, **mutate) -> Path:
    h = pd.concat(
        [
            daily_series("R1", "A", 45, seed=1),
            daily_series("R2", "A", 45, seed=2),
            daily_series("R1", "B", 45, kind="intermittent", seed=3),
        ],
        ignore_index=True,
    )
    h["ds"] = h["ds"].dt.strftime("%Y-%m-%d")
    if "drop" in mutate:
        h = h.drop(columns=mutate["drop"])
    if "gap" in mutate:
        h = h.drop(index=[10]).reset_index(drop=True)
    if "future" in mutate:
        h.loc[len(h) - 1, "ds"] = "2199-01-07"
    p = tmp_path / "history.csv"
    h.to_csv(p, index=False)
    return p


def _one_error_line(res) -> str:
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    return lines[0]


def test_forecast_writes_every_output(tmp_path: Path) -> None:
    hist = _history(tmp_path)
    out = tmp_path / "fc.parquet"
    res = runner.invoke(
        app,
        [
            "forecast",
            str(hist),
            "--horizon",
            "5",
            "--out",
            str(out),
            *FAST,
            "--backtest-out",
            str(tmp_path / "bt.parquet"),
            "--scenarios-out",
            str(tmp_path / "sc.csv"),
            "--window-days",
            "3",
            "--plot",
            str(tmp_path / "plots"),
            "--plot-top",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output
    fc = pd.read_parquet(out)
    assert list(fc.columns)[:5] == ["region_id", "sku_id", "ds", "model", "mean"]
    assert len(fc) == 3 * 5
    assert len(pd.read_parquet(tmp_path / "bt.parquet")) > 0
    sc = pd.read_csv(tmp_path / "sc.csv")
    assert list(sc.columns) == ["sku_id", "region_id", "scenario", "prob", "qty_units"]
    assert len(list((tmp_path / "plots").glob("fan_*.png"))) == 2
    assert "leaderboard" in res.output.lower()


@pytest.mark.parametrize(
    ("mutate", "args", "needle"),
    [
        ({"drop": "y"}, [], "y"),
        ({"gap": True}, [], "--fill-gaps zero"),  # the domain names `fill_gaps`
        ({"future": True}, [], "after today"),
        ({}, ["--engine", "ray"], "ray"),
        ({}, ["--metric", "r2"], "metric"),
        ({}, ["--models", "Prophet"], "unknown model"),
    ],
)
def test_bad_input_exit_2_one_line_no_output(tmp_path: Path, mutate, args, needle) -> None:
    hist = _history(tmp_path, **mutate)
    out = tmp_path / "fc.parquet"
    res = runner.invoke(
        app, ["forecast", str(hist), "--horizon", "5", "--out", str(out), *FAST, *args]
    )
    assert res.exit_code == 2, res.output
    assert needle in _one_error_line(res)
    assert not out.exists()


def test_missing_future_weather(tmp_path: Path) -> None:
    hist = _history(tmp_path)
    w = pd.DataFrame(
        {
            "region_id": ["R1", "R2"] * 45,
            "ds": [
                d.strftime("%Y-%m-%d")
                for d in pd.date_range("2024-01-01", periods=45)
                for _ in range(2)
            ],
            "precip_mm": 1.0,
            "snow_cm": 0.0,
            "temp_c": 3.0,
        }
    )
    wp = tmp_path / "weather.csv"
    w.to_csv(wp, index=False)
    out = tmp_path / "fc.parquet"
    res = runner.invoke(
        app,
        ["forecast", str(hist), "--horizon", "5", "--out", str(out), *FAST, "--weather", str(wp)],
    )
    assert res.exit_code == 2, res.output
    assert "forecast periods" in _one_error_line(res)
    assert not out.exists()


def test_execute_writes_run_folder(tmp_path: Path) -> None:
    from shipahead.cli.forecast_cmd import execute, forecast_run
    from shipahead.cli.io import OutputDir
    from shipahead.cli.settings import ForecastInputs

    hist = _history(tmp_path)
    run = forecast_run(
        {
            "horizon": 4,
            "models": "Naive,SeasonalNaive,CrostonOptimized",
            "windows": 2,
            "jobs": 1,
            "window_days": 3,
            "plot_top": 1,
        }
    )
    with OutputDir(tmp_path / "run") as od:
        kpis = execute(run, ForecastInputs(hist), od)
    names = {p.relative_to(tmp_path / "run").as_posix() for p in (tmp_path / "run").rglob("*.*")}
    assert {"forecast.parquet", "backtest.parquet", "leaderboard.csv", "scenarios.csv"} <= names
    assert any(n.startswith("plots/fan_") for n in names)
    assert kpis["series"] == 3 and kpis["rows"] == 12 and "backtest_mase" in kpis

"""`shipahead accuracy` end to end: three weekly `plan --store` runs of the tiny scenario (with
overrides and a challenger) into SQLite, then scored against the full history."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from shipahead.cli.app import app
from typer.testing import CliRunner

from .test_plan_tiny import _scenario

runner = CliRunner()


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPAHEAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp("acc")
    toml = _scenario(root / "scn")
    text = toml.read_text().replace(
        "plot_top = 2\n",
        'plot_top = 0\njobs = 1\nmodels = "Naive,SeasonalNaive"\n'
        'challenger = { models = "Naive" }\n',
    )
    toml.write_text(
        text.replace('roads = "roads.osm.bz2"\n', 'roads = "roads.osm.bz2"\noverrides = "ov.csv"\n')
    )
    pd.DataFrame(
        {
            "region_id": ["R1", "R2"],
            "sku_id": ["A", "B"],
            "ds": ["2022-06-20", "2022-06-27"],
            "value": [None, 30],
            "percent": [20, None],
            "user": ["ann", "=bob"],
            "comment": ["promo", ""],
        }
    ).to_csv(root / "scn" / "ov.csv", index=False)
    history = pd.read_csv(root / "scn" / "history.csv")
    dates = sorted(history["ds"].unique())
    url = f"sqlite:///{root / 'store.db'}"
    for i, cut in enumerate(dates[-7:-4]):
        scn = root / f"scn{i}"
        shutil.copytree(root / "scn", scn)
        history[history["ds"] <= cut].to_csv(scn / "history.csv", index=False)
        args = ["--quiet", "plan", str(scn / "scenario.toml"), "--out", str(root / f"run{i}")]
        res = runner.invoke(app, [*args, "--only", "forecast", "--store", url])
        assert res.exit_code == 0, res.output
    return url, root / "scn" / "history.csv"


def test_accuracy_end_to_end(store: tuple[str, Path], tmp_path: Path) -> None:
    url, actuals = store
    out = tmp_path / "acc"
    args = ["accuracy", "--store", url, "--actuals", str(actuals), "--out", str(out)]
    res = runner.invoke(app, [*args, "--last", "3"])
    assert res.exit_code == 0, res.output
    assert "3 of 3 runs scored" in res.output
    by_lag = pd.read_csv(out / "accuracy_by_lag.csv")
    champ = by_lag[by_lag["role"] == "champion"]
    assert set(champ["level"]) == {"sku_region", "sku", "region", "network"}
    assert sorted(champ["lag"].unique()) == [1, 2, 3, 4]
    assert set(by_lag["role"]) == {"champion", "challenger"}
    assert champ["coverage_80"].between(0, 1).all() and (champ["mase"] > 0).all()
    # two SKUs × two regions × three runs at lag 1
    assert champ.query("level == 'sku_region' and lag == 1")["n"].item() == 12
    cc = pd.read_csv(out / "champion_vs_challenger.csv")
    assert cc["lag"].iloc[0] == "all" and cc["runs"].iloc[0] == 3
    assert cc["p_value"].dropna().between(0, 1).all()
    va = pd.read_csv(out / "value_added.csv", dtype={"user": str})
    users = set(va["user"])
    assert "ann" in users and "*" in users
    assert "'=bob" in users  # formula-guarded in the CSV
    ann = va[va["user"] == "ann"].iloc[0]
    assert ann["n"] >= 1 and ann["wape_baseline"] != ann["wape_final"]
    report = (out / "accuracy.md").read_text()
    assert "Diebold–Mariano" in report and "\\=bob" not in report and "=bob" in report
    by_run = pd.read_csv(out / "accuracy_by_run.csv")
    assert by_run["run_id"].nunique() == 3


def _one_line(res) -> str:
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    return lines[0]


def test_bad_input_is_one_line_and_writes_nothing(store: tuple[str, Path], tmp_path: Path) -> None:
    url, actuals = store
    bad = tmp_path / "bad.csv"
    pd.read_csv(actuals).drop(columns="y").to_csv(bad, index=False)
    out = tmp_path / "acc"
    res = runner.invoke(app, ["accuracy", "--store", url, "--actuals", str(bad), "--out", str(out)])
    assert res.exit_code == 2 and "bad.csv" in _one_line(res)
    assert not out.exists()
    pg = "postgresql://u:secret@127.0.0.1:1/x"
    res = runner.invoke(
        app, ["accuracy", "--store", pg, "--actuals", str(actuals), "--out", str(out)]
    )
    line = _one_line(res)
    assert res.exit_code == 2 and "secret" not in line
    assert not out.exists()
    res = runner.invoke(app, ["accuracy", "--store", url, "--actuals", str(actuals), "--last", "1"])
    assert res.exit_code == 2 and "--last" in _one_line(res)
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    res = runner.invoke(
        app, ["accuracy", "--store", empty, "--actuals", str(actuals), "--out", str(out)]
    )
    assert res.exit_code == 2 and "holds no runs" in _one_line(res)
    assert not out.exists()


def test_unknown_challenger_model_fails_before_any_step(tmp_path: Path) -> None:
    toml = _scenario(tmp_path / "scn")
    toml.write_text(
        toml.read_text().replace(
            "plot_top = 2\n", 'plot_top = 2\nchallenger = { models = "Nope" }\n'
        )
    )
    out = tmp_path / "run"
    res = runner.invoke(app, ["plan", str(toml), "--out", str(out), "--no-store"])
    assert res.exit_code == 2
    line = _one_line(res)
    assert "forecast.challenger.models" in line and "Nope" in line
    assert not (out / "forecast").exists()

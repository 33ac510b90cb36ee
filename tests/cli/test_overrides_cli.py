"""`shipahead forecast --overrides`: final and baseline columns; bad rows → exit 2, one line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from shipahead.cli.app import app
from typer.testing import CliRunner

from .test_forecast_cli import FAST, _history, _one_error_line

runner = CliRunner()


def _run(tmp_path: Path, overrides: pd.DataFrame) -> tuple[object, Path]:
    hist = _history(tmp_path)
    ov = tmp_path / "overrides.csv"
    overrides.to_csv(ov, index=False)
    out = tmp_path / "fc.csv"
    args = ["forecast", str(hist), "--horizon", "3", "--out", str(out), *FAST]
    return runner.invoke(app, [*args, "--overrides", str(ov)]), out


def test_overrides_give_final_and_baseline(tmp_path: Path) -> None:
    ov = pd.DataFrame(
        {
            "region_id": ["R1", "R2"],
            "sku_id": ["A", "A"],
            "ds": ["2024-02-15", "2024-02-16"],
            "value": [500, None],
            "percent": [None, 50],
            "user": ["ann", "=cmd()"],
            "comment": ["promo", ""],
        }
    )
    res, out = _run(tmp_path, ov)
    assert res.exit_code == 0, res.output
    fc = pd.read_csv(out, dtype={"override_user": str})
    assert {"baseline", "override_user"} <= set(fc.columns)
    hit = fc[fc["override_user"].notna()].set_index(["region_id", "ds"])
    assert hit.loc[("R1", "2024-02-15"), "mean"] == 500
    r2 = hit.loc[("R2", "2024-02-16")]
    assert r2["mean"] == r2["baseline"] * 1.5
    rest = fc[fc["override_user"].isna()]
    assert (rest["mean"] == rest["baseline"]).all() and len(rest) == len(fc) - 2
    # a user name from the file is CSV-formula guarded in the output
    assert not fc["override_user"].fillna("").str.startswith("=").any()


def test_bad_override_is_one_line_exit_2(tmp_path: Path) -> None:
    ov = pd.DataFrame(
        {"region_id": ["R9"], "sku_id": ["A"], "ds": ["2024-02-15"], "value": [5], "user": ["a"]}
    )
    res, out = _run(tmp_path, ov)
    assert res.exit_code == 2
    line = _one_error_line(res)
    assert "overrides.csv" in line and "not in the forecast" in line
    assert not out.exists()


def test_value_and_percent_together_fail_the_contract(tmp_path: Path) -> None:
    ov = pd.DataFrame(
        {
            "region_id": ["R1"],
            "sku_id": ["A"],
            "ds": ["2024-02-15"],
            "value": [5],
            "percent": [10],
            "user": ["a"],
        }
    )
    res, out = _run(tmp_path, ov)
    assert res.exit_code == 2 and "both value and percent" in _one_error_line(res)
    assert not out.exists()

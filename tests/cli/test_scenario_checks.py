"""Every scenario value is checked before the first step runs (exit 2, one line, no outputs)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from shipahead.cli.app import app
from shipahead.cli.contracts import CONTRACTS
from typer.testing import CliRunner

runner = CliRunner()

BASE = {
    "forecast": {"horizon": "4", "freq": '"W-MON"', "windows": "2"},
    "placement": {"window_days": "14"},
    "routing": {
        "delivery_date": '"2022-11-01"',
        "depot_fc": '"CMH1"',
        "depart": '"08:00"',
        "time_limit_s": "5",
    },
}


def _write_inputs(d: Path) -> None:
    ds = pd.date_range("2022-01-03", periods=30, freq="W-MON").strftime("%Y-%m-%d")
    sku = next(c.example for c in CONTRACTS["skus"].columns if c.name == "sku_id")
    pd.DataFrame({"region_id": "39049", "sku_id": sku, "ds": ds, "y": 5}).to_csv(
        d / "history.csv", index=False
    )
    for kind in ("fcs", "skus", "inventory", "supply", "stops", "fleet"):
        c = CONTRACTS[kind]
        pd.DataFrame({col.name: [col.example] for col in c.columns}).to_csv(
            d / f"{kind}.csv", index=False
        )
    (d / "roads.osm").write_text("<osm/>")


def _scenario(d: Path, changes: dict[str, dict[str, str]]) -> Path:
    lines = ["[inputs]"]
    for k in ("history", "fcs", "skus", "inventory", "supply", "stops", "fleet"):
        lines.append(f'{k} = "{k}.csv"')
    lines.append('roads = "roads.osm"')
    for section, values in {**BASE, **{k: {} for k in changes if k not in BASE}}.items():
        lines.append(f"[{section}]")
        merged = {**values, **changes.get(section, {})}
        lines += [f"{k} = {v}" for k, v in merged.items() if v is not None]
    p = d / "scenario.toml"
    p.write_text("\n".join(lines) + "\n")
    return p


# (section, key, TOML value, part of the one error line)
BAD_VALUES = [
    (
        "routing",
        "depart",
        '"25:00"',
        "key 'routing.depart': '25:00' is not a time of day",
    ),
    ("routing", "depart", '"8 am"', "key 'routing.depart'"),
    ("routing", "depot_fc", '"NOPE"', "key 'routing.depot_fc' = 'NOPE' is not an fc_id"),
    (
        "routing",
        "time_limit_s",
        "inf",
        "key 'routing.time_limit_s' = inf is not a finite",
    ),
    (
        "routing",
        "time_limit_s",
        "1e9",
        "key 'routing.time_limit_s' = 1000000000 is above",
    ),
    ("routing", "max_snap_m", "1e12", "key 'routing.max_snap_m'"),
    ("forecast", "windows", "500", "key 'forecast.windows' = 500 is above the limit of 52"),
    ("forecast", "windows", "10", "key 'forecast.windows' = 10: 10 backtest windows × horizon 4"),
    ("forecast", "horizon", "100000000", "key 'forecast.horizon' = 100000000 is above"),
    ("forecast", "horizon", "1000000000", "key 'forecast.horizon' = 1000000000 is above"),
    ("forecast", "horizon", "600", "key 'forecast.horizon' = 600: 600 periods of W-MON"),
    ("forecast", "horizon", "0", "key 'forecast.horizon'"),
    ("forecast", "plot_top", "1000000", "key 'forecast.plot_top' = 1000000 is above"),
    ("forecast", "horizn", "8", "unknown key 'forecast.horizn'"),
    ("scenario", "seed", "-1", "scenario.seed"),
    (
        "placement",
        "n_scenarios",
        "10000000",
        "key 'placement.n_scenarios' = 10000000 is above",
    ),
    (
        "placement",
        "window_days",
        "100000",
        "key 'placement.window_days' = 100000 is above",
    ),
    (
        "placement",
        "promise_days",
        "inf",
        "key 'placement.promise_days' = inf is not a finite",
    ),
]


@pytest.mark.parametrize(("section", "key", "value", "needle"), BAD_VALUES)
def test_bad_scenario_value_fails_before_any_step(
    tmp_path: Path, section: str, key: str, value: str, needle: str
) -> None:
    _write_inputs(tmp_path)
    scenario = _scenario(tmp_path, {section: {key: value}})
    out = tmp_path / "run"
    res = runner.invoke(app, ["plan", str(scenario), "--out", str(out)])
    assert res.exit_code == 2, res.output
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, res.output
    assert "scenario.toml" in errors[0] and needle in errors[0], errors[0]
    assert "fleet.csv" not in errors[0]
    assert not out.exists() or not any(out.iterdir())


def test_limit_override_lets_a_larger_value_through_the_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With SHIPAHEAD_MAX_N_SCENARIOS raised, the next problem reported is a different one."""
    _write_inputs(tmp_path)
    monkeypatch.setenv("SHIPAHEAD_MAX_N_SCENARIOS", "20000000")
    scenario = _scenario(
        tmp_path, {"placement": {"n_scenarios": "10000000"}, "routing": {"depot_fc": '"NOPE"'}}
    )
    res = runner.invoke(app, ["plan", str(scenario), "--out", str(tmp_path / "run")])
    assert res.exit_code == 2
    assert "routing.depot_fc" in res.output and "n_scenarios" not in res.output


def test_history_sku_missing_from_the_sku_file_fails_before_forecasting(tmp_path: Path) -> None:
    """Placement needs every forecast SKU's costs: the plan stops before the forecast step."""
    _write_inputs(tmp_path)
    hist = pd.read_csv(tmp_path / "history.csv")
    extra = hist.head(3).assign(sku_id="NOT-A-SKU")
    pd.concat([hist, extra]).to_csv(tmp_path / "history.csv", index=False)
    out = tmp_path / "run"
    res = runner.invoke(app, ["plan", str(_scenario(tmp_path, {})), "--out", str(out)])
    assert res.exit_code == 2, res.output
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, res.output
    assert "history.csv:32, column 'sku_id'" in errors[0], errors[0]
    assert "'NOT-A-SKU' is not in skus.csv (3 history rows, 1 SKUs)" in errors[0], errors[0]
    assert not out.exists() or not any(out.iterdir())

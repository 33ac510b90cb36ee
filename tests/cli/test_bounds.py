"""Non-finite and implausibly large numbers, empty tables and size limits at the contract.

Every numeric column of every contract rejects ``inf``, ``-inf``, ``nan``, overflowing values
and values above its documented bound; tables that cannot be empty need a row; size-like
options have documented limits (`cli.limits`) that an environment variable raises.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from shipahead.cli.app import app
from shipahead.cli.contracts import CONTRACTS, Contract, check_table
from shipahead.cli.errors import CliInputError
from shipahead.cli.io import _read_raw
from shipahead.cli.limits import LIMITS, check_limit, env_name, limit
from typer.testing import CliRunner

runner = CliRunner()

NUMERIC = [
    (c.name, col.name)
    for c in CONTRACTS.values()
    if not c.geo
    for col in c.columns
    if col.kind in ("int", "float")
]


def example_frame(contract: Contract) -> pd.DataFrame:
    """One valid row of ``contract`` built from the columns' documented examples (as text)."""
    return pd.DataFrame({col.name: [col.example] for col in contract.columns}, dtype=object)


def error_lines(output: str) -> list[str]:
    return [ln for ln in output.splitlines() if ln.startswith("error:")]


@pytest.mark.parametrize("kind", sorted(k for k, c in CONTRACTS.items() if not c.geo))
def test_documented_examples_are_valid(kind: str) -> None:
    assert check_table(example_frame(CONTRACTS[kind]), CONTRACTS[kind]) == []


def test_every_numeric_column_has_both_bounds() -> None:
    for c in CONTRACTS.values():
        for col in c.columns:
            if col.kind in ("int", "float"):
                assert col.upper is not None, (c.name, col.name)
                assert col.ge is not None or col.gt is not None, (c.name, col.name)


# (kind, column, value, part of the message): the cases of the fault survey and more
INVALID = [
    ("history", "y", "1e308", "out of range"),
    ("history", "y", "inf", "not a number"),
    ("history", "y", "nan", "not a number"),
    ("history", "y", "-inf", "not a number"),
    ("history", "y", "1e999", "not a number"),
    ("history", "y", "99999999999999999999999", "out of range"),
    ("scenarios", "qty_units", "inf", "not a number"),
    ("scenarios", "qty_units", "1e12", "out of range"),
    ("forecast", "mean", "inf", "not a number"),
    ("fcs", "capacity_units", "inf", "not a number"),
    ("fcs", "capacity_m3", "1e300", "out of range"),
    ("fcs", "fixed_cost", "1e10", "out of range"),
    ("skus", "stockout_cost_per_unit", "1e308", "out of range"),
    ("skus", "holding_cost_per_unit_day", "Infinity", "not a number"),
    ("skus", "unit_volume_m3", "1e5", "out of range"),
    ("inventory", "on_hand_units", "-inf", "not a number"),
    ("supply", "available_units", "2e9", "out of range"),
    ("lanes", "transit_days", "10000", "out of range"),
    ("inbound_lanes", "cost_per_unit", "1e7", "out of range"),
    ("stops", "demand_units", "inf", "not a number"),
    ("stops", "service_min", "1e6", "out of range"),
    ("stops", "lat", "nan", "not a number"),
    ("fleet", "capacity_units", "inf", "not a number"),
    ("fleet", "cost_per_km", "1e300", "out of range"),
    ("fleet", "max_duration_min", "1e9", "out of range"),
    ("weather", "precip_mm", "inf", "not a number"),
    ("traffic", "speed_factor", "nan", "not a number"),
    ("traffic", "hour", "inf", "not a whole number"),
]


@pytest.mark.parametrize(("kind", "column", "value", "needle"), INVALID)
def test_validate_rejects_invalid_number(
    tmp_path: Path, kind: str, column: str, value: str, needle: str
) -> None:
    df = example_frame(CONTRACTS[kind])
    df[column] = [value]
    p = tmp_path / f"{kind}.csv"
    df.to_csv(p, index=False)
    res = runner.invoke(app, ["validate", str(p), "--kind", kind])
    assert res.exit_code == 2, res.output
    lines = error_lines(res.output)
    assert len(lines) == 1, res.output
    assert f"{p.name}:2, column '{column}'" in lines[0]
    assert needle in lines[0] and "fix:" in lines[0]


@pytest.mark.parametrize("kind", sorted(k for k, c in CONTRACTS.items() if c.min_rows))
def test_tables_that_need_rows_reject_a_header_only_file(tmp_path: Path, kind: str) -> None:
    c = CONTRACTS[kind]
    p = tmp_path / f"{kind}.csv"
    if c.geo:
        p = tmp_path / f"{kind}.geojson"
        p.write_text('{"type": "FeatureCollection", "features": []}')
    else:
        p.write_text(",".join(col.name for col in c.columns) + "\n")
    res = runner.invoke(app, ["validate", str(p), "--kind", kind])
    assert res.exit_code == 2, res.output
    assert any("has no data rows" in ln for ln in error_lines(res.output)), res.output


def test_route_with_an_empty_fleet_is_exit_2_naming_the_file(tmp_path: Path) -> None:
    stops = tmp_path / "stops.csv"
    example_frame(CONTRACTS["stops"]).to_csv(stops, index=False)
    fleet = tmp_path / "fleet.csv"
    fleet.write_text(",".join(col.name for col in CONTRACTS["fleet"].columns) + "\n")
    roads = tmp_path / "roads.osm"
    roads.write_text("<osm/>")
    args = ["--stops", str(stops), "--fleet", str(fleet), "--roads", str(roads)]
    res = runner.invoke(app, ["route", *args, "--out", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    lines = error_lines(res.output)
    assert len(lines) == 1 and "fleet.csv" in lines[0] and "no data rows" in lines[0]
    assert not (tmp_path / "out" / "routes.csv").exists()


def test_stops_above_the_row_limit_name_the_override(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(env_name("stops"), "2")
    df = pd.concat([example_frame(CONTRACTS["stops"])] * 3, ignore_index=True)
    df["stop_id"] = ["S1", "S2", "S3"]
    p = tmp_path / "stops.csv"
    df.to_csv(p, index=False)
    res = runner.invoke(app, ["validate", str(p), "--kind", "stops"])
    assert res.exit_code == 2
    assert "above the limit of 2 stops" in res.output and "SHIPAHEAD_MAX_STOPS" in res.output
    monkeypatch.setenv(env_name("stops"), "3")
    assert runner.invoke(app, ["validate", str(p), "--kind", "stops"]).exit_code == 0


_HOSTILE = st.one_of(
    st.sampled_from(["inf", "-inf", "+inf", "nan", "NaN", "Infinity", "1e999", "-1e999"]),
    st.floats(min_value=1e13, max_value=1e308).map(repr),
    st.floats(min_value=1e13, max_value=1e308).map(lambda x: repr(-x)),
    st.integers(min_value=10**13, max_value=10**40).map(str),
)


@hsettings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(NUMERIC), value=_HOSTILE, parquet=st.booleans())
def test_any_nonfinite_or_huge_number_in_any_numeric_column_is_rejected(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[str, str], value: str, parquet: bool
) -> None:
    """Property: exit 2, one line naming the column, whatever the contract, column and value."""
    kind, column = case
    c = CONTRACTS[kind]
    df = example_frame(c)
    df[column] = [value]
    d = tmp_path_factory.mktemp("h")
    if parquet:
        number = float(value)
        # in Parquet a NaN is a missing value (blank), which optional columns allow
        assume(number == number)
        p = d / f"{kind}.parquet"
        df[column] = pd.Series([number], dtype=float)
        df.to_parquet(p, index=False)
    else:
        p = d / f"{kind}.csv"
        df.to_csv(p, index=False)
    problems = check_table(_read_raw(p), c)
    assert [q.column for q in problems] == [column], problems
    res = runner.invoke(app, ["validate", str(p), "--kind", kind])
    assert res.exit_code == 2, res.output
    lines = error_lines(res.output)
    assert len(lines) == 1 and f"column '{column}'" in lines[0], res.output


# --- size limits of options ------------------------------------------------------------------


@pytest.fixture
def history_csv(tmp_path: Path) -> Path:
    ds = pd.date_range("2022-01-03", periods=30, freq="W-MON")
    df = pd.DataFrame({"region_id": "R1", "sku_id": "A", "ds": ds.strftime("%Y-%m-%d"), "y": 5})
    p = tmp_path / "history.csv"
    df.to_csv(p, index=False)
    return p


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--horizon", "10000"], "--horizon = 10000 is above the limit of 1000 periods"),
        (["--horizon", "1000000000"], "--horizon = 1000000000 is above the limit"),
        (["--horizon", "600"], "--horizon = 600: 600 periods of W-MON are 4,200 days"),
        (["--horizon", "8", "--windows", "500"], "--windows = 500 is above the limit of 52"),
        (["--horizon", "8", "--windows", "4"], "--windows = 4: 4 backtest windows × horizon 8"),
        (["--horizon", "8", "--n-scenarios", "10000000"], "--n-scenarios = 10000000 is above"),
        (["--horizon", "8", "--plot-top", "100000"], "--plot-top = 100000 is above"),
        (["--horizon", "8", "--window-days", "inf"], "--window-days inf must be a positive"),
        (["--horizon", "0"], "--horizon 0 must be ≥ 1"),
        (["--horizon", "8", "--seed", "-1"], "--seed = -1 must be >= 0"),
    ],
)
def test_forecast_size_options_are_bounded_before_work(
    tmp_path: Path, history_csv: Path, args: list[str], needle: str
) -> None:
    out = tmp_path / "fc.parquet"
    res = runner.invoke(app, ["forecast", str(history_csv), "--out", str(out), *args])
    assert res.exit_code == 2, res.output
    lines = error_lines(res.output)
    assert len(lines) == 1 and needle in lines[0], res.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--window-days", "1e9"], "--window-days = 1000000000 is above the limit of 366 days"),
        (["--window-days", "inf"], "--window-days inf must be a finite number"),
        (["--window-days", "14", "--promise-days", "nan"], "--promise-days nan must be"),
    ],
)
def test_place_size_options_are_bounded_before_work(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    files = []
    for kind in ("fcs", "skus", "inventory", "supply", "scenarios"):
        p = tmp_path / f"{kind}.csv"
        example_frame(CONTRACTS[kind]).to_csv(p, index=False)
        files += [f"--{kind}", str(p)]
    res = runner.invoke(app, ["place", *files, "--out", str(tmp_path / "out"), *args])
    assert res.exit_code == 2, res.output
    lines = error_lines(res.output)
    assert len(lines) == 1 and needle in lines[0], res.output
    assert not (tmp_path / "out").exists()


def test_limits_are_overridable_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CliInputError, match="above the limit of 1000") as exc:
        check_limit("horizon", 2000, "--horizon")
    assert "SHIPAHEAD_MAX_HORIZON=N" in (exc.value.fix or "")
    monkeypatch.setenv("SHIPAHEAD_MAX_HORIZON", "5000")
    assert limit("horizon") == 5000
    check_limit("horizon", 2000, "--horizon")
    monkeypatch.setenv("SHIPAHEAD_MAX_HORIZON", "lots")
    with pytest.raises(CliInputError, match="SHIPAHEAD_MAX_HORIZON='lots'"):
        limit("horizon")


def test_limits_are_documented() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "data-formats.md").read_text()
    from shipahead.cli.limits import limits_markdown

    assert "## Limits" in doc and limits_markdown() in doc
    for name in LIMITS:
        assert env_name(name) in doc


# --- the routing problem (the contract's last line of defence for API users) -----------------


def _routing_problem(**changes):
    from dataclasses import replace

    import numpy as np
    from shipahead.routing.problem import RoutingProblem, Vehicle

    n = 3
    p = RoutingProblem(
        node_ids=("depot", "s1", "s2"),
        stops=(1, 2),
        distance_m=np.ones((n, n), dtype=np.int64),
        duration_s=np.ones((n, n), dtype=np.int64),
        demand=np.array([[0.0], [1.0], [2.0]]),
        tw_s=np.tile(np.array([0.0, 86400.0]), (n, 1)),
        service_s=np.zeros(n),
        vehicles=(Vehicle("v0", 0, 0, (5,), 8 * 3600, 17 * 3600),),
    )
    return replace(p, **changes)


@pytest.mark.parametrize(
    ("field", "make"),
    [
        ("demand", lambda np: np.array([[0.0], [np.inf], [2.0]])),
        ("service_s", lambda np: np.array([0.0, 0.0, np.nan])),
        ("tw_s", lambda np: np.array([[0.0, 86400.0], [0.0, np.inf], [0.0, 86400.0]])),
    ],
)
def test_routing_problem_rejects_non_finite_node_values(field: str, make) -> None:
    import numpy as np
    from shipahead.routing.errors import InputError as RoutingInputError

    _routing_problem().validate()
    with pytest.raises(RoutingInputError, match=f"non-finite {field}"):
        _routing_problem(**{field: make(np)}).validate()


def test_routing_problem_rejects_a_non_finite_vehicle_cost() -> None:
    from shipahead.routing.errors import InputError as RoutingInputError
    from shipahead.routing.problem import Vehicle

    v = Vehicle("v0", 0, 0, (5,), 8 * 3600, 17 * 3600, cost_per_km=float("inf"))
    with pytest.raises(RoutingInputError, match="non-finite capacity or cost"):
        _routing_problem(vehicles=(v,)).validate()

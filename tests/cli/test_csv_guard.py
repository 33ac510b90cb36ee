"""CSV outputs are guarded against formula injection (OWASP); reading them back is exact."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shipahead.cli.io import guard_csv_cell, read_table, unguard_csv_cell, write_table

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _raw_cells(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def assert_csv_guarded(path: Path) -> None:
    """No cell of the CSV at ``path`` would run as a spreadsheet formula (numbers aside)."""
    for row in _raw_cells(path):
        for cell in row:
            if cell.startswith(TRIGGERS):
                assert _is_number(cell), (path.name, cell)


texts = st.text(st.sampled_from("=+-@\t\r'a1 \"|,\n<>"), min_size=1, max_size=8)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ids=st.lists(texts, min_size=1, max_size=6), nums=st.lists(st.floats(-1e6, 1e6), min_size=1))
def test_csv_round_trip_and_guard(tmp_path: Path, ids: list[str], nums: list[float]) -> None:
    n = len(ids)
    vals = (nums * n)[:n]
    df = pd.DataFrame({"sku_id": ids, "qty": vals, "=HEAD": ids})
    p = write_table(df, tmp_path / "t.csv")
    assert_csv_guarded(p)
    raw = _raw_cells(p)
    assert raw[0] == ["sku_id", "qty", "'=HEAD"]
    # numbers untouched: negative numbers stay numbers
    assert [float(r[1]) for r in raw[1:]] == pytest.approx(vals)
    back = read_table(p)
    assert list(back.columns) == ["sku_id", "qty", "=HEAD"]
    assert list(back["sku_id"]) == ids and list(back["=HEAD"]) == ids


def test_examples_and_parquet_stays_exact(tmp_path: Path) -> None:
    ids = ['=HYPERLINK("http://x","y")', "+1", "-2x", "@SUM(A1)", "\tT", "\rR", "'=q", "'a", "ok"]
    df = pd.DataFrame({"sku_id": ids, "qty": [-1.5] * len(ids)})
    p = write_table(df, tmp_path / "t.csv")
    assert [r[0] for r in _raw_cells(p)[1:]] == [
        '\'=HYPERLINK("http://x","y")',
        "'+1",
        "'-2x",
        "'@SUM(A1)",
        "'\tT",
        "'\rR",
        "''=q",
        "'a",
        "ok",
    ]
    assert {r[1] for r in _raw_cells(p)[1:]} == {"-1.5"}
    assert list(read_table(p)["sku_id"]) == ids
    q = write_table(df, tmp_path / "t.parquet")
    assert list(pd.read_parquet(q)["sku_id"]) == ids
    assert unguard_csv_cell(guard_csv_cell(-3)) == -3


def test_a_users_csv_reads_as_a_spreadsheet_would(tmp_path: Path) -> None:
    p = tmp_path / "u.csv"
    p.write_text("sku_id,y\n'=A,1\n'abc,2\n")
    assert list(read_table(p)["sku_id"]) == ["=A", "'abc"]


def test_every_command_writer_is_guarded(tmp_path: Path) -> None:
    """`OutputDir.write_table` (used by forecast, place, route) goes through the guard."""
    from shipahead.cli.io import OutputDir

    with OutputDir(tmp_path / "out") as od:
        od.write_table(pd.DataFrame({"fc_id": ["@F1"], "qty_units": [-0.0]}), "x.csv")
    assert _raw_cells(tmp_path / "out" / "x.csv")[1] == ["'@F1", "-0.0"]

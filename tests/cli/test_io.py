"""Readers by extension and atomic writers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from shipahead.cli.errors import CliInputError
from shipahead.cli.io import OutputDir, TableProblems, read_table, write_json, write_table


def test_read_csv_and_parquet_same_frame(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "region_id": ["39049", "39041"],
            "sku_id": ["A", "B"],
            "ds": ["2022-01-03", "2022-01-03"],
            "y": [1.0, 2.5],
        }
    )
    df.to_csv(tmp_path / "h.csv", index=False)
    df.to_parquet(tmp_path / "h.parquet", index=False)
    a = read_table(tmp_path / "h.csv", "history")
    b = read_table(tmp_path / "h.parquet", "history")
    pd.testing.assert_frame_equal(a, b)
    # FIPS ids keep their text form, dates are parsed
    assert a["region_id"].tolist() == ["39049", "39041"]
    assert pd.api.types.is_datetime64_any_dtype(a["ds"])


def test_unknown_extension_is_input_error(tmp_path: Path) -> None:
    p = tmp_path / "h.xlsx"
    p.write_text("x")
    with pytest.raises(CliInputError, match="unknown file type"):
        read_table(p, "history")


def test_contract_violation_lists_every_problem(tmp_path: Path) -> None:
    p = tmp_path / "h.csv"
    p.write_text("region_id,sku_id,ds,y\nR,A,2022-01-03,-1\nR,A,2022-01-10,x\n")
    with pytest.raises(TableProblems) as err:
        read_table(p, "history")
    assert len(err.value.lines) == 2
    assert "h.csv:2" in err.value.lines[0] and "'y'" in err.value.lines[0]
    assert "h.csv:3" in err.value.lines[1]


def test_write_table_is_atomic_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"

    class Boom(pd.DataFrame):
        def to_parquet(self, *a, **k):  # type: ignore[override]
            Path(a[0]).write_bytes(b"half")
            raise OSError("disk full")

    with pytest.raises(OSError):
        write_table(Boom({"a": [1]}), target)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []  # no temp file left behind


def test_atomic_write_keeps_previous_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    write_json({"a": 1}, target)
    with pytest.raises(TypeError):
        write_json({"a": object()}, target)
    assert target.read_text() == '{\n  "a": 1\n}\n'


def test_output_dir_all_or_nothing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(RuntimeError), OutputDir(out) as od:
        od.write_table(pd.DataFrame({"a": [1]}), "a.csv")
        raise RuntimeError("solver crashed")
    assert not out.exists()  # nothing written, and the folder it created is gone again
    with OutputDir(out) as od:
        od.write_table(pd.DataFrame({"a": [1]}), "a.csv")
        od.write_text("x", "sub/b.txt")
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["a.csv", "b.txt"]
    assert not any(p.name.startswith(".staging") for p in out.iterdir())


def test_json_is_deterministic_and_nan_safe(tmp_path: Path) -> None:
    write_json({"b": float("nan"), "a": [1, 2]}, tmp_path / "x.json")
    assert (tmp_path / "x.json").read_text() == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": null\n}\n'


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("region_id;sku_id;ds;y", "separated by semicolons"),
        ("region_id\tsku_id\tds\ty", "separated by tabs"),
        ("region_id,sku_id,ds,ds,y", "column 'ds' appears twice"),
    ],
)
def test_malformed_header_is_one_clear_error(tmp_path: Path, header: str, expected: str) -> None:
    p = tmp_path / "h.csv"
    p.write_text(header + "\n" + header.replace("region_id", "1") + "\n")
    with pytest.raises(CliInputError) as err:
        read_table(p, "history")
    assert expected in str(err.value)


def test_blanks_around_column_names_are_stripped(tmp_path: Path) -> None:
    p = tmp_path / "h.csv"
    p.write_text("\ufeff region_id , sku_id,ds ,y\n39049,A,2024-01-01,3\n")
    df = read_table(p, "history")
    assert list(df.columns)[:4] == ["region_id", "sku_id", "ds", "y"]
    assert df["y"].tolist() == [3]

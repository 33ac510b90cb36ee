"""End-to-end: `shipahead demo` on the full sample scenario, twice, byte-identical."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shipahead.cli.app import app
from typer.testing import CliRunner

from ._outputs import assert_outputs_keep_contracts

pytestmark = pytest.mark.slow


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _without_timing(manifest: bytes) -> dict:
    m = json.loads(manifest)
    m.pop("timing")
    return m


def test_demo_runs_every_step_and_is_deterministic(tmp_path: Path) -> None:
    runner = CliRunner()
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        res = runner.invoke(app, ["--quiet", "demo", "--out", str(out)])
        assert res.exit_code == 0, res.output
    manifest = json.loads((a / "manifest.json").read_text())
    assert {k: v["status"] for k, v in manifest["steps"].items()} == {
        "forecast": "ran",
        "placement": "ran",
        "routes": "ran",
    }
    fa, fb = _files(a), _files(b)
    assert fa.keys() == fb.keys()
    differing = [
        k for k in fa if fa[k] != fb[k] and not k.endswith(".done.json") and k != "manifest.json"
    ]
    assert differing == []
    assert _without_timing(fa["manifest.json"]) == _without_timing(fb["manifest.json"])
    assert_outputs_keep_contracts(a)
    assert (a / "report.html").stat().st_size > 50_000
    # a second run into the same folder skips every step
    res = runner.invoke(app, ["demo", "--out", str(a)])
    assert res.exit_code == 0
    again = json.loads((a / "manifest.json").read_text())
    assert all(v["status"].startswith("skipped") for v in again["steps"].values())

"""`shipahead plan`: checks before any work, resume/skip logic, manifest written last."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from shipahead.cli import plan_cmd
from shipahead.cli.app import app
from typer.testing import CliRunner

SAMPLE = Path(__file__).parents[2] / "sample_data"
runner = CliRunner()


def _copy_sample(tmp_path: Path) -> Path:
    dst = tmp_path / "scn"
    shutil.copytree(SAMPLE, dst, ignore=shutil.ignore_patterns("cache", "*.py", "README.md"))
    return dst / "scenario.toml"


def test_unknown_key_is_one_line_exit_2_nothing_written(tmp_path: Path) -> None:
    toml = _copy_sample(tmp_path)
    toml.write_text(toml.read_text().replace("horizon = 8", "horizn = 8"))
    out = tmp_path / "run"
    res = runner.invoke(app, ["plan", str(toml), "--out", str(out)])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "unknown key 'forecast.horizn'" in lines[0]
    assert "horizon" in lines[0]  # names the known keys
    assert not out.exists()


def test_missing_file_and_broken_input_stop_before_any_step(tmp_path: Path) -> None:
    toml = _copy_sample(tmp_path)
    (toml.parent / "fleet.csv").unlink()
    res = runner.invoke(app, ["plan", str(toml), "--out", str(tmp_path / "run")])
    assert res.exit_code == 2 and "inputs.fleet" in res.output
    toml = _copy_sample(tmp_path / "b")
    hist = toml.parent / "history.csv"
    lines = hist.read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 1)[0] + ",-7"
    hist.write_text("\n".join(lines) + "\n")
    out = tmp_path / "run2"
    res = runner.invoke(app, ["plan", str(toml), "--out", str(out)])
    assert res.exit_code == 2
    assert "history.csv:6" in res.output and "'y'" in res.output
    assert not out.exists()


@pytest.fixture()
def fake_steps(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Replace the three steps by cheap ones that write a file; count calls."""
    calls = {"forecast": 0, "placement": 0, "routes": 0}

    def make(name: str):
        def run(ctx, out):
            calls[name] += 1
            if name == "placement":
                # reads its upstream output like the real step does
                assert (ctx.step_dir("forecast") / "out.txt").exists()
            out.write_text(f"{name} {ctx.scenario.forecast.horizon}", "out.txt")
            return {"rows": 1}

        return run

    for name in calls:
        monkeypatch.setitem(plan_cmd._STEP_FUNCS, name, make(name))
    return calls


def test_resume_skips_unchanged_steps_and_reruns_changed(
    tmp_path: Path, fake_steps: dict[str, int]
) -> None:
    toml = _copy_sample(tmp_path)
    out = tmp_path / "run"
    m1 = plan_cmd.run_plan(toml, out)
    assert fake_steps == {"forecast": 1, "placement": 1, "routes": 1}
    assert all(s["status"] == "ran" for s in m1["steps"].values())
    assert json.loads((out / "manifest.json").read_text())["steps"] == m1["steps"]
    plan_cmd.run_plan(toml, out)
    assert fake_steps == {"forecast": 1, "placement": 1, "routes": 1}  # all skipped
    # a forecast parameter change reruns forecast and placement, not routes
    toml.write_text(toml.read_text().replace("horizon = 8", "horizon = 6"))
    plan_cmd.run_plan(toml, out)
    assert fake_steps == {"forecast": 2, "placement": 2, "routes": 1}
    plan_cmd.run_plan(toml, out, force=True, only="routes")
    assert fake_steps == {"forecast": 2, "placement": 2, "routes": 2}


def test_killed_step_does_not_look_finished(
    tmp_path: Path, fake_steps: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = _copy_sample(tmp_path)
    out = tmp_path / "run"
    plan_cmd.run_plan(toml, out)

    def crash(ctx, out_dir):
        out_dir.write_text("half", "out.txt")
        raise KeyboardInterrupt

    monkeypatch.setitem(plan_cmd._STEP_FUNCS, "placement", crash)
    with pytest.raises(KeyboardInterrupt):
        plan_cmd.run_plan(toml, out, force=True)
    assert not (out / "placement" / ".done.json").exists()
    assert not (out / "manifest.json").exists()
    assert (out / "placement" / "out.txt").read_text() == "placement 8"  # old output intact


def test_only_needs_finished_upstream(tmp_path: Path, fake_steps: dict[str, int]) -> None:
    toml = _copy_sample(tmp_path)
    res = runner.invoke(
        app, ["plan", str(toml), "--out", str(tmp_path / "r"), "--only", "placement"]
    )
    assert res.exit_code == 2
    assert "step 'forecast' has not finished" in res.output

"""Operations: one run per output (lock), environment errors, signals, determinism, progress,
file modes, clean-up of failed runs (issue 14, items 11–14, 16, 17)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import psutil
import pytest
import typer
from shipahead.cli.app import app
from shipahead.cli.errors import EXIT_INPUT, STATE, command, describe, interrupted_line
from shipahead.cli.io import OutputDir, atomic_path, claim_output, write_table
from typer.testing import CliRunner

from .test_plan_tiny import _scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPAHEAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def _lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


def _history(path: Path, n_series: int = 6, periods: int = 120) -> Path:
    rng = np.random.default_rng(0)
    ds = pd.date_range("2020-01-06", periods=periods, freq="W-MON")
    rows = []
    for i in range(n_series):
        y = np.round(20 * (1 + 0.3 * np.sin(2 * np.pi * np.arange(periods) / 52)))
        y = y * rng.lognormal(0, 0.2, periods)
        rows.append(
            pd.DataFrame({"region_id": f"R{i % 2}", "sku_id": f"S{i}", "ds": ds, "y": y.round()})
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.concat(rows).to_csv(path, index=False)
    return path


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "SHIPAHEAD_DEBUG": ""}


# -- item 11: one run per output location -----------------------------------------------------


_HOLDER = """
import sys, time
from shipahead.cli.io import claim_output
with claim_output(sys.argv[1], folder=sys.argv[2] == "dir"):
    print("held", flush=True)
    time.sleep(60)
"""


def _hold(path: Path, kind: str) -> subprocess.Popen:
    p = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path), kind],
        stdout=subprocess.PIPE,
        env=_env(),
        text=True,
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "held"
    return p


def test_second_run_into_a_held_folder_exits_2_naming_the_pid(tmp_path: Path) -> None:
    out = tmp_path / "run"
    holder = _hold(out, "dir")
    try:
        toml = tmp_path / "missing.toml"  # the lock is taken before anything is read
        res = CliRunner().invoke(app, ["plan", str(toml), "--out", str(out)])
        assert res.exit_code == EXIT_INPUT, res.output
        lines = _lines(res.output)
        assert len(lines) == 1
        assert f"{out} is in use by another shipahead run (pid {holder.pid})" in lines[0]
        res = CliRunner().invoke(app, ["demo", "--out", str(out)])
        assert res.exit_code == EXIT_INPUT
        assert "in use by another shipahead run" in res.output
    finally:
        holder.kill()  # SIGKILL: the lock must not outlive the process
        holder.wait()
    with claim_output(out):  # a killed run's lock never blocks
        pass
    assert not (out / ".shipahead.lock").exists()


def test_second_forecast_into_a_held_file_exits_2(tmp_path: Path) -> None:
    hist = _history(tmp_path / "h.csv")
    target = tmp_path / "fc.parquet"
    holder = _hold(target, "file")
    try:
        res = CliRunner().invoke(
            app, ["forecast", str(hist), "--horizon", "4", "--out", str(target)]
        )
    finally:
        holder.kill()
        holder.wait()
    assert res.exit_code == EXIT_INPUT
    assert f"{target} is in use by another shipahead run (pid {holder.pid})" in res.output
    assert not target.exists()


def test_stale_staging_and_temporary_files_are_removed_by_the_next_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    (out / ".staging-abc123" / "forecast").mkdir(parents=True)
    (out / "placement" / ".staging-xyz").mkdir(parents=True)
    (out / "placement" / "..done.json.k2j3.tmp").write_text("{")
    (out / "placement" / "keep.csv").write_text("a\n")
    with claim_output(out):
        pass
    assert not list(out.rglob(".staging-*"))
    assert not list(out.rglob("*.tmp"))
    assert (out / "placement" / "keep.csv").exists()


# -- item 14: environment errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "no space left"),
        (errno.EROFS, "read-only file system"),
        (errno.EACCES, "permission denied"),
        (errno.EFBIG, "file too large"),
    ],
)
def test_environment_errors_are_exit_2_naming_path_and_cause(code: int, words: str) -> None:
    exit_code, line = describe(OSError(code, os.strerror(code), "/data/out/forecast.parquet"))
    assert exit_code == EXIT_INPUT
    assert line.startswith("/data/out/forecast.parquet: ")
    assert words in line
    assert "internal error" not in line


def test_disk_full_while_writing_names_the_file(tmp_path: Path, monkeypatch) -> None:
    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    target = tmp_path / "o" / "x.csv"
    app_ = typer.Typer()

    @app_.command()
    @command
    def run() -> None:
        write_table(pd.DataFrame({"a": [1]}), target)

    @app_.command()
    def other() -> None:  # pragma: no cover
        pass

    res = CliRunner().invoke(app_, ["run"])
    assert res.exit_code == EXIT_INPUT
    assert _lines(res.output) == [
        f"error: {target}: no space left on the device — fix: free disk space or choose "
        "another --out"
    ]
    assert not list(target.parent.glob("*"))  # no temporary file left


def test_forecast_checks_the_output_before_any_work(tmp_path: Path, monkeypatch) -> None:
    from shipahead import forecasting

    def never(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("forecasting ran although --out cannot be written")

    monkeypatch.setattr(forecasting, "forecast", never)
    hist = _history(tmp_path / "h.csv")
    blocker = tmp_path / "file"
    blocker.write_text("I am a file")
    res = CliRunner().invoke(
        app, ["forecast", str(hist), "--horizon", "4", "--out", str(blocker / "fc.parquet")]
    )
    assert res.exit_code == EXIT_INPUT, res.output
    assert str(blocker) in res.output and "not a folder" in res.output
    # read-only file system (root ignores permission bits, so the OS error is simulated)
    real_open = os.open

    def read_only(path, flags, *a, **k):
        if str(path).endswith(".lock"):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *a, **k)

    monkeypatch.setattr(os, "open", read_only)
    out = tmp_path / "ro" / "fc.parquet"
    res = CliRunner().invoke(app, ["forecast", str(hist), "--horizon", "4", "--out", str(out)])
    assert res.exit_code == EXIT_INPUT, res.output
    assert "read-only file system" in res.output
    assert not (tmp_path / "ro").exists()  # the folder the run created is gone again


# -- item 12: signals ---------------------------------------------------------------------------


def _start_forecast(tmp_path: Path, out: Path) -> tuple[subprocess.Popen, list[psutil.Process]]:
    hist = _history(tmp_path / "hist.csv", n_series=40)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shipahead.cli.app",
            "--quiet",
            "forecast",
            str(hist),
            "--horizon",
            "4",
            "--jobs",
            "2",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=tmp_path,
        start_new_session=True,
        text=True,
    )
    parent = psutil.Process(proc.pid)
    t0 = time.monotonic()
    kids: list[psutil.Process] = []
    while time.monotonic() - t0 < 90 and proc.poll() is None:
        kids = parent.children(recursive=True)
        if len(kids) >= 2:
            break
        time.sleep(0.1)
    assert len(kids) >= 2, "the forecast never started its worker processes"
    time.sleep(0.5)
    return proc, kids


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_stops_workers_one_line_exit_code(tmp_path: Path, sig: int, code: int) -> None:
    out = tmp_path / "out" / "fc.parquet"
    proc, kids = _start_forecast(tmp_path, out)
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # Ctrl-C reaches the whole process group, workers included
    else:
        proc.send_signal(sig)  # `kill PID`: only the main process
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    lines = _lines(err)
    assert len(lines) == 1, err
    assert lines[0] == f"error: interrupted by {signal.Signals(sig).name} — no output was written"
    _gone, alive = psutil.wait_procs(kids, timeout=5)
    assert not alive
    assert not (tmp_path / "out").exists()  # the folder it created is gone, no staging left
    assert not list(tmp_path.rglob(".staging-*"))


def test_interrupted_plan_says_what_was_kept() -> None:
    STATE.kept, STATE.pending = ["forecast", "placement"], ["forecast", "placement", "routes"]
    try:
        line = interrupted_line(signal.SIGTERM)
    finally:
        STATE.kept, STATE.pending = [], []
    assert line == (
        "interrupted by SIGTERM — kept the finished steps: forecast, placement; not written: "
        "routes (run the same command again to resume)"
    )


# -- item 13 + 17: determinism, skipped steps, file modes, replan from relative paths ----------


def _deterministic_scenario(root: Path) -> Path:
    toml = _scenario(root)
    toml.write_text(toml.read_text() + "deterministic = true\n")
    return toml


def test_plan_markers_and_plan_json_are_byte_identical_across_folders(tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b/deeper"):
        base = tmp_path / name
        toml = _deterministic_scenario(base / "scn")
        res = CliRunner().invoke(app, ["--quiet", "plan", str(toml), "--out", str(base / "run")])
        assert res.exit_code == 0, res.output
        runs.append(base / "run")
    a, b = runs
    for rel in ("forecast/.done.json", "placement/.done.json", "routes/.done.json"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
        assert "wall_s" not in (a / rel).read_text()
    assert (a / "routes/plan.json").read_bytes() == (b / "routes/plan.json").read_bytes()
    assert str(tmp_path) not in (a / "routes/plan.json").read_text()
    manifest = json.loads((a / "manifest.json").read_text())
    assert manifest["timing"]["forecast"]["wall_s"] > 0  # timings live in the manifest only
    # output files get the user's umask, not the 0600 of a temporary file
    mask = os.umask(0)
    os.umask(mask)
    for f in ("forecast/forecast.parquet", "routes/routes.csv", "manifest.json"):
        assert (a / f).stat().st_mode & 0o777 == 0o666 & ~mask, f
    # the whole checkout moves: replan still finds the road network (relative path)
    moved = tmp_path / "moved"
    shutil.move(tmp_path / "a", moved)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        res = CliRunner().invoke(
            app,
            ["--quiet", "route", "replan", "--plan", str(moved / "run/routes"), "--at", "11:30"],
        )
    assert res.exit_code == 0, res.output
    again = json.loads((moved / "run/routes/replan-1130/plan.json").read_text())
    assert (moved / "run/routes/replan-1130" / again["inputs"]["roads"]["path"]).exists()
    # a rerun skips every step and reports no time of its own for them
    toml = moved / "scn" / "scenario.toml"
    res = CliRunner().invoke(app, ["plan", str(toml), "--out", str(moved / "run")])
    assert res.exit_code == 0, res.output
    skipped = [ln for ln in res.output.splitlines() if "skipped (unchanged)" in ln]
    assert len(skipped) == 3
    assert not any(" s —" in ln or ln.rstrip().endswith(" s") for ln in skipped), skipped
    manifest = json.loads((moved / "run/manifest.json").read_text())
    assert all(t["wall_s"] is None for t in manifest["timing"].values())


def test_engine_that_cannot_start_keeps_the_finished_markers(tmp_path: Path) -> None:
    try:
        import ray  # noqa: F401

        pytest.skip("ray is installed: the engine starts")
    except ModuleNotFoundError:
        pass
    toml = _deterministic_scenario(tmp_path / "scn")
    out = tmp_path / "run"
    res = CliRunner().invoke(
        app, ["--quiet", "plan", str(toml), "--out", str(out), "--only", "forecast"]
    )
    assert res.exit_code == 0, res.output
    marker = out / "forecast" / ".done.json"
    assert marker.exists()
    res = CliRunner().invoke(
        app,
        [
            "--quiet",
            "plan",
            str(toml),
            "--out",
            str(out),
            "--only",
            "forecast",
            "--force",
            "--engine",
            "ray",
        ],
    )
    assert res.exit_code == EXIT_INPUT
    assert "ray" in res.output
    assert marker.exists()


# -- item 17: failed runs, advice, leaderboard ------------------------------------------------


def test_failed_run_leaves_no_empty_output_folder(tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"
    res = CliRunner().invoke(
        app,
        [
            "place",
            "--window-days",
            "7",
            "--fcs",
            str(tmp_path / "nope.csv"),
            "--skus",
            "s",
            "--inventory",
            "i",
            "--supply",
            "x",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == EXIT_INPUT, res.output
    assert not (tmp_path / "new").exists()


def test_out_of_memory_advice_fits_the_command(tmp_path: Path, monkeypatch) -> None:
    from shipahead.cli import route_cmd

    def oom(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(route_cmd, "execute", oom)
    res = CliRunner().invoke(
        app,
        [
            "route",
            "--stops",
            "s.csv",
            "--fleet",
            "f.csv",
            "--roads",
            "r.osm",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code == 1
    assert "out of memory" in res.output
    assert "--engine dask" not in res.output
    assert "--roads" in res.output


def test_forecast_writes_leaderboard_and_logs_progress(tmp_path: Path) -> None:
    hist = _history(tmp_path / "h.csv", n_series=4)
    out = tmp_path / "o" / "fc.parquet"
    res = CliRunner().invoke(
        app,
        [
            "forecast",
            str(hist),
            "--horizon",
            "4",
            "--windows",
            "1",
            "--jobs",
            "1",
            "--models",
            "SeasonalNaive,AutoETS",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    board = pd.read_csv(out.parent / "leaderboard.csv")
    assert {"model", "demand_class", "mase", "n_series"} <= set(board.columns)
    assert len(board)
    progress = [ln for ln in res.output.splitlines() if " series (" in ln]
    assert progress and progress[-1].startswith("Backtesting and forecasting 4 periods: 4/4 ")
    assert "done" in progress[-1]
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask
    board_out = tmp_path / "b" / "lb.csv"
    res = CliRunner().invoke(
        app,
        [
            "--quiet",
            "forecast",
            str(hist),
            "--horizon",
            "4",
            "--windows",
            "1",
            "--jobs",
            "1",
            "--models",
            "SeasonalNaive",
            "--out",
            str(out),
            "--leaderboard-out",
            str(board_out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert board_out.exists()
    assert " series (" not in res.output  # --quiet: no progress lines


# -- item 16: progress --------------------------------------------------------------------------


def test_log_progress_lines_every_ten_percent_or_thirty_seconds(monkeypatch) -> None:
    from shipahead.cli import progress

    printed: list[str] = []
    monkeypatch.setattr(
        progress, "console", lambda: SimpleNamespace(print=lambda s, **k: printed.append(s))
    )
    now = [0.0]
    log = progress.LogProgress("forecasting", "series", clock=lambda: now[0])
    log.update(0, 20_000)
    for done in range(100, 1_001, 100):  # 0.5 % steps: silent until 30 s pass
        now[0] += 2
        log.update(done, 20_000)
    assert len(printed) == 1
    now[0] += 20
    log.update(1_100, 20_000)  # 30 s since the last line
    log.update(4_000, 20_000)  # +14 %
    log.update(20_000, 20_000)
    assert printed[0] == "forecasting: 0/20,000 series (0%), 0s elapsed, ETA unknown"
    assert printed[1].startswith("forecasting: 1,100/20,000 series (6%), 40s elapsed, ETA 11m")
    assert printed[2].startswith("forecasting: 4,000/20,000 series (20%)")
    assert printed[-1] == "forecasting: 20,000/20,000 series (100%), 40s elapsed, done"


def test_forecast_progress_callback_chunks_give_the_same_forecast(monkeypatch) -> None:
    from shipahead.forecasting import fit

    from shipahead import forecasting

    ds = pd.date_range("2020-01-06", periods=120, freq="W-MON")
    rng = np.random.default_rng(1)
    hist = pd.concat(
        pd.DataFrame({"region_id": "R", "sku_id": f"S{i}", "ds": ds, "y": rng.poisson(20 + i, 120)})
        for i in range(6)
    )
    settings = forecasting.ForecastSettings(
        horizon=4, models="SeasonalNaive,AutoETS", windows=2, jobs=1, freq="W-MON"
    )
    plain = forecasting.forecast(hist, settings)
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(fit, "PROGRESS_CHUNK_MIN", 2)
    chunked = forecasting.forecast(hist, settings, progress=lambda d, t: calls.append((d, t)))
    pd.testing.assert_frame_equal(plain.forecast, chunked.forecast)
    assert calls[0] == (0, 6) and calls[-1] == (6, 6)
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert len(set(done)) >= 4  # moved in several steps, not 0 → all


def test_output_dir_registers_its_staging_folder(tmp_path: Path) -> None:
    with OutputDir(tmp_path) as od:
        assert str(od._stage) in STATE.staging
    assert not STATE.staging


def test_atomic_write_keeps_no_temporary_file_on_failure(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "x.csv") as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert not list(tmp_path.iterdir())


def _killpg_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _plan_until_placement_done(toml: Path, out: Path, sig: int) -> tuple[int, str]:
    """Run `plan`, send ``sig`` once placement is done; return (exit code, rest of stderr)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipahead.cli.app", "plan", str(toml), "--out", str(out)],
        stderr=subprocess.PIPE,
        env={**_env(), "SHIPAHEAD_CACHE_DIR": os.environ["SHIPAHEAD_CACHE_DIR"]},
        text=True,
        start_new_session=True,
    )
    assert proc.stderr is not None
    # a run that hangs must fail this test, not stall the suite: kill its group after 300 s
    watchdog = threading.Timer(300, _killpg_quietly, (proc.pid,))
    watchdog.start()
    for line in proc.stderr:
        if "step placement: done" in line:
            if sig == signal.SIGKILL:  # into the routes step: wait for its staging folder
                deadline = time.monotonic() + 60
                while not list(out.rglob(".staging-*")) and time.monotonic() < deadline:
                    time.sleep(0.05)
            proc.send_signal(sig)
            break
    rest = proc.stderr.read()
    proc.wait(timeout=60)
    watchdog.cancel()
    if sig == signal.SIGKILL:  # kill -9 gives the run no chance to stop its workers
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, rest


def test_sigterm_during_plan_keeps_finished_steps_and_says_so(tmp_path: Path) -> None:
    toml = _scenario(tmp_path / "scn")
    out = tmp_path / "run"
    code, rest = _plan_until_placement_done(toml, out, signal.SIGTERM)
    assert code == 143, rest
    errors = [ln for ln in _lines(rest) if ln.startswith("error:")]
    assert errors == [
        "error: interrupted by SIGTERM — kept the finished steps: forecast, placement; "
        "not written: routes (run the same command again to resume)"
    ]
    assert (out / "placement" / ".done.json").exists()
    assert not (out / "routes").exists()
    assert not list(out.rglob(".staging-*"))
    res = CliRunner().invoke(app, ["plan", str(toml), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "step routes: done" in res.output
    assert res.output.count("skipped (--force reruns)") == 2


def test_placement_worker_pool_stops_at_once_when_interrupted() -> None:
    from concurrent.futures import ProcessPoolExecutor

    from shipahead.placement.decomposition import WorkerPool

    pool = object.__new__(WorkerPool)
    ex = ProcessPoolExecutor(max_workers=1)
    ex.submit(time.sleep, 30)
    time.sleep(0.5)
    procs = list(ex._processes.values())
    pool._executors, pool._client, pool._cluster = [ex], None, None
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        try:
            raise KeyboardInterrupt
        finally:
            pool.close()
    for p in procs:
        p.join(5)
    assert time.monotonic() - t0 < 5
    assert not any(p.is_alive() for p in procs)


def test_kill_9_during_plan_leftovers_are_cleaned_and_the_rerun_resumes(tmp_path: Path) -> None:
    toml = _scenario(tmp_path / "scn")
    out = tmp_path / "run"
    code, _ = _plan_until_placement_done(toml, out, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert list(out.rglob(".staging-*"))  # what a killed run leaves …
    assert (out / ".shipahead.lock").exists()  # … its lock file too, but no lock
    res = CliRunner().invoke(app, ["--quiet", "plan", str(toml), "--out", str(out)])
    assert res.exit_code == 0, res.output
    steps = json.loads((out / "manifest.json").read_text())["steps"]
    assert {k: v["status"].split()[0] for k, v in steps.items()} == {
        "forecast": "skipped",
        "placement": "skipped",
        "routes": "ran",
    }
    assert not list(out.rglob(".staging-*"))
    assert not list(out.rglob("*.tmp"))
    assert not (out / ".shipahead.lock").exists()

"""Fault and bad-input cases against an installed ``shipahead`` CLI (issue 14, Figures).

Runs a catalogue of cases — hostile ids reaching HTML/Markdown/CSV outputs, a planted road
cache pickle, oversized settings, malformed and non-finite inputs, empty tables, re-planning
edge cases, times past midnight, concurrent runs into one folder, signals, kill -9 and rerun,
determinism, environment errors, the one-way trap, progress when not on a terminal — each as a
real subprocess of the ``shipahead`` console script of a virtual environment (``--venv``,
default: the environment running this script; to test a source tree, install it there, e.g.
``pip install -e TREE``). Every case runs in its own folder under a
temporary root (HOME, XDG_CACHE_HOME and SHIPAHEAD_CACHE_DIR point there too; nothing outside it
is written). Inputs are built from the project's tiny test scenario
(``tests/cli/test_plan_tiny.py``, downtown-Portland network ``tests/routing/data``) taken from
``--src`` (default: the repository holding this script), so before/after runs use the same
inputs.

Per case it records: id, item (1–17 of issue 14, or ``extra``), description, exact command,
exit code, first stderr line and first error line, whether a Python traceback appeared
(stderr or stdout), number of non-empty stderr lines, files left in the output location (and
whether any are staging/partial leftovers or an output folder created by a failed run), elapsed
seconds, peak RSS of the process
tree (``wait4``), plus case-specific checks (payload unescaped, marker file created, CDN URLs,
children left after a signal, …) and a verdict ``met``:

* bad input / environment (``expect = bad``): exit 2, exactly one stderr line, no traceback,
  nothing left in the output location;
* valid input (``ok``): exit 0, no traceback; ``ok_or_bad``: either of the two;
* signals: 130 (SIGINT) / 143 (SIGTERM), no traceback, no worker left, no staging folder;
* and every case-specific check true.

Commands run with ``--quiet`` unless the case is about what the user sees (progress, warnings).

Usage (from the repository root, with a virtual environment holding shipahead active)::

    python benchmarks/faults.py --venv ENV_BEFORE --label before
    python benchmarks/faults.py --label after
    python benchmarks/faults.py --compare before after
    python benchmarks/faults.py --label try --only 'replan|hostile' --timeout 60

Writes ``benchmarks/results/faults/<label>.jsonl`` and ``<label>.md`` (``--update`` reruns the
``--only`` cases and replaces them in an existing ``<label>.jsonl``); ``--compare A B`` writes
``benchmarks/results/faults/compare-A-B.md``. ``--list`` prints the case ids; ``--render LABEL``
rewrites ``LABEL.md`` from ``LABEL.jsonl``. ``--keep`` keeps the temporary root. ``--jobs`` is
accepted for symmetry with the other benchmarks; only 1 is supported (several cases measure time
and signals). A full run takes about 20 minutes on an
idle two-core machine (27 minutes for the recorded ``before`` run, under load from other jobs);
the bz2 bomb is built once (~1 minute) and kept as
``$TMPDIR/shipahead-faults-bomb-200mb.osm.bz2``. The bomb and ``n_scenarios`` cases run under an
address-space cap (``RLIMIT_AS``, ``--mem-cap-gb``, default 4).
"""

from __future__ import annotations

import argparse
import bz2
import contextlib
import csv
import hashlib
import json
import os
import pickle
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "faults"

P_SCRIPT = "</script><script>document.title='PWNED'</script>"
P_IMG = "<img src=x onerror=alert(1)>"
P_PIPE = "S|X"
P_FORMULA = '=HYPERLINK("http://evil.example/?x","click")'
TRACEBACK = "Traceback (most recent call last)"

# ---------------------------------------------------------------------------- case registry


@dataclass
class Case:
    id: str
    item: str
    desc: str
    expect: str  # bad | ok | ok_or_bad | sigint | sigterm | custom
    fn: Callable[[Ctx, Path], dict[str, Any]]


CASES: list[Case] = []


def case(cid: str, item: str, desc: str, expect: str = "bad"):
    def deco(fn):
        CASES.append(Case(cid, item, desc, expect, fn))
        return fn

    return deco


def add(cid: str, item: str, desc: str, expect: str, fn) -> None:
    CASES.append(Case(cid, item, desc, expect, fn))


# ---------------------------------------------------------------------------- running


class Ctx:
    """Paths of the run and the subprocess helpers."""

    def __init__(self, venv: Path, root: Path, timeout: float, mem_cap_gb: float) -> None:
        self.venv = venv
        bindir = venv / ("Scripts" if os.name == "nt" else "bin")
        self.shipahead = str(bindir / "shipahead")
        self.python = str(bindir / "python")
        self.root = root
        self.fx = root / "fixtures"
        self.timeout = timeout
        self.mem_cap = int(mem_cap_gb * 2**30)

    def env(self, wd: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "SHIPAHEAD_CACHE_DIR", "XDG_CACHE_HOME", "HOME")
        }
        env.update(
            PATH=f"{Path(self.python).parent}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
            VIRTUAL_ENV=str(self.venv),
            HOME=str(self.root / "home"),
            XDG_CACHE_HOME=str(self.root / "xdg"),
            SHIPAHEAD_CACHE_DIR=str(self.root / "cache"),
            MPLBACKEND="Agg",
            PYTHONUNBUFFERED="1",
        )
        env.pop("PYTHONWARNINGS", None)
        env.update(extra or {})
        return env

    def popen(
        self,
        args: list[Any],
        wd: Path,
        *,
        quiet: bool = True,
        env: dict[str, str] | None = None,
        mem_cap: bool = False,
        fsize: int | None = None,
        tag: str = "",
    ) -> dict[str, Any]:
        argv = [self.shipahead, *(["--quiet"] if quiet else []), *map(str, args)]
        so = open(wd / f"stdout{tag}.txt", "wb")  # noqa: SIM115 (closed in wait)
        se = open(wd / f"stderr{tag}.txt", "wb")  # noqa: SIM115
        cap = self.mem_cap if mem_cap else None

        def pre() -> None:
            os.umask(0o022)
            if cap:
                resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
            if fsize is not None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

        t0 = time.monotonic()
        p = subprocess.Popen(
            argv,
            cwd=wd,
            env=self.env(wd, env),
            stdout=so,
            stderr=se,
            stdin=subprocess.DEVNULL,
            preexec_fn=pre,
            start_new_session=True,
        )
        return {"p": p, "t0": t0, "argv": argv, "so": so, "se": se, "wd": wd, "tag": tag}

    def wait(self, h: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        p: subprocess.Popen = h["p"]
        limit = h["t0"] + (timeout or self.timeout)
        status = rusage = None
        timed_out = False
        while True:
            pid, status, rusage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > limit:
                timed_out = True
                _killpg(p.pid, signal.SIGKILL)
                pid, status, rusage = os.wait4(p.pid, 0)
                break
            time.sleep(0.05)
        p.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.monotonic() - h["t0"]
        h["so"].close()
        h["se"].close()
        wd, tag = h["wd"], h["tag"]
        root = str(self.root)
        out = (wd / f"stdout{tag}.txt").read_text(errors="replace").replace(root, "$T")
        err = (wd / f"stderr{tag}.txt").read_text(errors="replace").replace(root, "$T")
        lines = [ln for ln in err.splitlines() if ln.strip()]
        errs = [ln for ln in lines if re.match(r"\s*(error|warning)\b", ln, re.I)]
        return {
            "cmd": _show(h["argv"], self.root, self.shipahead),
            "exit": "timeout" if timed_out else p.returncode,
            "stderr_first": lines[0].strip()[:300] if lines else "",
            "message": (errs or lines or [""])[0].strip()[:300],
            "stderr_lines": len(lines),
            "traceback": TRACEBACK in err or TRACEBACK in out,
            "elapsed_s": round(elapsed, 2),
            "peak_rss_mb": round(rusage.ru_maxrss / 1024, 1) if rusage else None,
            "_stderr": err,
            "_stdout": out,
        }

    def run(self, args: list[Any], wd: Path, out: Path | None = None, **kw: Any) -> dict[str, Any]:
        before = _snapshot(out)
        timeout = kw.pop("timeout", None)
        r = self.wait(self.popen(args, wd, **kw), timeout)
        r.update(_leftovers(out, before))
        return r


def _killpg(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _show(argv: list[str], root: Path, shipahead: str) -> str:
    s = shlex.join(argv).replace(str(root), "$T")
    return s.replace(shipahead, "shipahead")


def _snapshot(out: Path | None) -> dict[str, Any]:
    if out is None:
        return {"exists": None, "files": set()}
    return {"exists": out.exists(), "files": set(_files(out))}


def _files(d: Path) -> list[str]:
    if not d.exists():
        return []
    if d.is_file():
        return [d.name]
    return sorted(p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file())


def _leftovers(out: Path | None, before: dict[str, Any]) -> dict[str, Any]:
    if out is None:
        return {"out": None, "files_left": [], "staging_left": False, "out_created": False}
    files = _files(out)
    names = [p.name for p in out.rglob("*")] if out.is_dir() else []
    staging = any(n.startswith((".staging-", ".tmp-")) or n.endswith(".partial") for n in names)
    if out.parent.exists():
        staging |= any(
            n.name.startswith((".tmp-", ".staging-")) and out.name in n.name
            for n in out.parent.iterdir()
        )
    return {
        "out": str(out),
        "files_left": files[:60],
        "n_files_left": len(files),
        "new_files": sorted(set(files) - before["files"])[:60],
        "staging_left": staging,
        "out_created": bool(before["exists"] is False and out.exists()),
    }


# ---------------------------------------------------------------------------- fixtures

FIXTURE_SCRIPT = r"""
import sys
from pathlib import Path
import numpy as np, pandas as pd
import shipahead.cli  # the installed package, before the tree holding tests/ goes on the path
sys.path.insert(0, sys.argv[2])
from tests.cli.test_plan_tiny import _scenario
root = Path(sys.argv[1])
_scenario(root / "scn")
# many series for progress / signals: 200 series x 80 weeks
rng = np.random.default_rng(7)
ds = pd.date_range("2021-01-04", periods=80, freq="W-MON")
rows = []
for i in range(200):
    y = np.round(20 + 10 * np.sin(np.arange(80) / 8 + i) + rng.normal(0, 3, 80)).clip(0)
    rows.append(pd.DataFrame({"region_id": f"R{i % 10}", "sku_id": f"K{i // 10:03d}",
                              "ds": ds, "y": y}))
pd.concat(rows).to_csv(root / "history200.csv", index=False)
# 2000 series (signal cases: long enough to be interrupted mid-work on an idle machine)
pd.concat([r.assign(region_id=r["region_id"] + f"-{k}") for k in range(10) for r in rows]
          ).to_csv(root / "history2000.csv", index=False)
"""

ONEWAY_OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="faults.py">
  <node id="1" version="1" lat="45.5000" lon="-122.6000"/>
  <node id="2" version="1" lat="45.5000" lon="-122.5930"/>
  <node id="3" version="1" lat="45.5050" lon="-122.5930"/>
  <node id="4" version="1" lat="45.5050" lon="-122.6000"/>
  <node id="5" version="1" lat="45.4964" lon="-122.5930"/>
  <way id="10" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>
    <tag k="highway" v="residential"/></way>
  <way id="11" version="1"><nd ref="2"/><nd ref="5"/>
    <tag k="highway" v="residential"/><tag k="oneway" v="yes"/></way>
</osm>
"""


def bz2_bomb(mb: int) -> Path:
    """A valid-XML ``.osm.bz2`` of ``mb`` MB of one node line repeated (~1:4000); compressing
    takes 1–2 min, so the file is kept in the system temp folder and reused."""
    path = Path(tempfile.gettempdir()) / f"shipahead-faults-bomb-{mb}mb.osm.bz2"
    if path.exists():
        return path
    comp = bz2.BZ2Compressor(9)
    parts = [comp.compress(b'<?xml version="1.0"?>\n<osm version="0.6">\n')]
    chunk = b'  <node id="1" version="1" lat="45.5" lon="-122.6"/>\n' * 20000
    for _ in range(max(1, mb * 2**20 // len(chunk))):
        parts.append(comp.compress(chunk))
    parts.append(comp.compress(b"</osm>\n"))
    parts.append(comp.flush())
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(b"".join(parts))
    os.replace(tmp, path)
    return path


def build_fixtures(ctx: Ctx, fixtures_src: Path, bomb_mb: int) -> None:
    fx = ctx.fx
    fx.mkdir(parents=True)
    env = ctx.env(fx)
    subprocess.run(
        [ctx.python, "-c", FIXTURE_SCRIPT, str(fx), str(fixtures_src)],
        cwd=fx,
        env=env,
        check=True,
    )
    (fx / "oneway.osm").write_text(ONEWAY_OSM)
    shutil.copy(bz2_bomb(bomb_mb), fx / "bomb.osm.bz2")
    # a plan run and a route plan of the tree under test (inputs for place / replan cases)
    wd = fx / "setup"
    wd.mkdir()
    r = ctx.run(["plan", fx / "scn" / "scenario.toml", "--out", fx / "base_run"], wd)
    print(f"setup plan: exit {r['exit']} in {r['elapsed_s']} s", file=sys.stderr)
    r = ctx.run(
        route_args(
            fx / "scn" / "stops.csv",
            fx / "scn" / "fleet.csv",
            fx / "base_route",
            roads=fx / "scn" / "roads.osm.bz2",
        ),
        wd,
    )
    print(f"setup route: exit {r['exit']} in {r['elapsed_s']} s", file=sys.stderr)


# ---------------------------------------------------------------------------- input helpers


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    header = header or (list(rows[0]) if rows else [])
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    return path


def edit_csv(path: Path, fn: Callable[[list[dict[str, str]]], Any]) -> Path:
    rows = read_csv(path)
    header = list(rows[0]) if rows else []
    res = fn(rows)
    if isinstance(res, list) and all(isinstance(x, dict) for x in res):
        rows = res
    for r in rows:
        for k in r:
            if k not in header:
                header.append(k)
    return write_csv(path, rows, header)


def set_cell(path: Path, col: str, value: str, row: int = 0) -> Path:
    def f(rows):
        rows[row][col] = value

    return edit_csv(path, f)


def rename_id(files: dict[Path, list[str]], old: str, new: str) -> None:
    for path, cols in files.items():
        if path.suffix == ".geojson":
            d = json.loads(path.read_text())
            for feat in d["features"]:
                for c in cols:
                    if feat["properties"].get(c) == old:
                        feat["properties"][c] = new
            path.write_text(json.dumps(d))
            continue

        def f(rows, cols=cols):
            for r in rows:
                for c in cols:
                    if r.get(c) == old:
                        r[c] = new

        edit_csv(path, f)


def scn(ctx: Ctx, wd: Path) -> Path:
    """A private copy of the tiny scenario; returns its folder."""
    d = wd / "scn"
    shutil.copytree(ctx.fx / "scn", d)
    return d


def toml_set(toml: Path, section: str, key: str, literal: str | None) -> None:
    """Set (or with ``literal=None`` remove) ``key`` in ``[section]`` of a TOML file."""
    lines = toml.read_text().splitlines()
    out, cur, done = [], None, False
    for ln in lines:
        m = re.match(r"\[(\w+)\]", ln)
        if m:
            if cur == section and not done and literal is not None:
                out.append(f"{key} = {literal}")
                done = True
            cur = m.group(1)
        if cur == section and re.match(rf"{key}\s*=", ln):
            if literal is not None:
                out.append(f"{key} = {literal}")
            done = True
            continue
        out.append(ln)
    if not done and literal is not None:
        if cur != section:
            out.append(f"[{section}]")
        out.append(f"{key} = {literal}")
    toml.write_text("\n".join(out) + "\n")


def route_args(stops: Path, fleet: Path, out: Path, *, roads: Path, extra=()) -> list[Any]:
    return [
        "route", "--stops", stops, "--fleet", fleet, "--roads", roads,
        "--time-limit", "1", "--deterministic", "--engine", "ortools", "--out", out, *extra,
    ]  # fmt: skip


def run_route(ctx: Ctx, wd: Path, d: Path | None = None, extra=(), **kw) -> dict[str, Any]:
    d = d or scn(ctx, wd)
    out = wd / "out"
    args = route_args(d / "stops.csv", d / "fleet.csv", out, roads=d / "roads.osm.bz2")
    return ctx.run([*args, *extra], wd, out, **kw)


def run_plan(ctx: Ctx, wd: Path, d: Path | None = None, extra=(), **kw) -> dict[str, Any]:
    d = d or scn(ctx, wd)
    out = wd / "out"
    return ctx.run(["plan", d / "scenario.toml", "--out", out, *extra], wd, out, **kw)


def run_forecast(ctx: Ctx, wd: Path, history: Path | None = None, extra=(), **kw):
    history = history or scn(ctx, wd) / "history.csv"
    out = wd / "out"
    args = ["forecast", history, "--horizon", "4", "--windows", "1", "--jobs", "1"]
    return ctx.run([*args, "--out", out / "forecast.csv", *extra], wd, out, **kw)


def run_place(ctx: Ctx, wd: Path, d: Path | None = None, extra=(), **kw):
    d = d or scn(ctx, wd)
    sc = d / "scenarios.csv"
    if not sc.exists():
        src = ctx.fx / "base_run" / "forecast" / "scenarios.csv"
        if src.exists():
            shutil.copy(src, sc)
    out = wd / "out"
    args = [
        "place", "--window-days", "14", "--fcs", d / "fcs.csv", "--skus", d / "skus.csv",
        "--inventory", d / "inventory.csv", "--supply", d / "supply.csv",
        "--scenarios", sc, "--regions", d / "regions.geojson", "--out", out,
    ]  # fmt: skip
    return ctx.run([*args, *extra], wd, out, **kw)


def run_validate(ctx: Ctx, wd: Path, path: Path, kind: str | None = None, **kw):
    r = ctx.run(["validate", path, *(["--kind", kind] if kind else [])], wd, None, **kw)
    r["lists_problems"] = True  # validate reports every problem found, then a count
    return r


def replan_dir(ctx: Ctx, wd: Path) -> Path:
    d = wd / "plan"
    shutil.copytree(ctx.fx / "base_route", d)
    # plan.json names its road file relative to the plan folder (../scn/…): keep it beside
    if not (wd / "scn").exists():
        (wd / "scn").symlink_to(ctx.fx / "scn", target_is_directory=True)
    return d


def events(
    wd: Path, rows: list[dict[str, str]], name: str = "events.csv", full: bool = True
) -> Path:
    """Write a re-plan events file; ``full`` adds blank type/stop_id/vehicle_id columns."""
    header: list[str] = ["type", "stop_id", "vehicle_id"] if full else []
    for r in rows:
        header += [k for k in r if k not in header]
    return write_csv(wd / name, rows, header)


def run_replan(ctx: Ctx, wd: Path, at: str, ev: Path | None, plan: Path | None = None, **kw):
    plan = plan or replan_dir(ctx, wd)
    out = kw.pop("out", wd / "out")
    args = ["route", "replan", "--plan", plan, "--at", at, "--out", out]
    if ev is not None:
        args += ["--events", ev]
    return ctx.run(args, wd, out, **kw)


# ---------------------------------------------------------------------------- output checks


def unescaped(out: Path, payloads: list[str]) -> list[str]:
    """Files (html/md) under ``out`` where a payload appears raw."""
    bad = []
    for p in sorted(out.rglob("*")) if out.exists() else []:
        if p.suffix not in (".html", ".md") or not p.is_file():
            continue
        text = p.read_text(errors="replace")
        for pl in payloads:
            if pl == P_PIPE:  # a '|' only breaks Markdown tables; in HTML it is plain text
                if p.suffix == ".md" and re.search(r"(?<!\\)S\|X", text):
                    bad.append(f"{p.relative_to(out)}: raw '|'")
            elif pl in text:
                bad.append(f"{p.relative_to(out)}: {pl[:20]}")
    return bad


def formula_cells(out: Path, payloads: list[str]) -> list[str]:
    bad = []
    for p in sorted(out.rglob("*.csv")) if out.exists() else []:
        with open(p, newline="", encoding="utf-8", errors="replace") as f:
            for row in csv.reader(f):
                for cell in row:
                    if any(cell.startswith(pl) for pl in payloads):
                        bad.append(f"{p.relative_to(out)}: {cell[:30]}")
                        break
                else:
                    continue
                break
    return bad


def hostile_checks(r: dict[str, Any], out: Path, payloads: list[str]) -> dict[str, Any]:
    html = [pl for pl in payloads if not pl.startswith(("=", "+", "-", "@"))]
    formula = [pl for pl in payloads if pl.startswith(("=", "+", "-", "@"))]
    r["unescaped"] = unescaped(out, html) if html else []
    r["formula_cells"] = formula_cells(out, formula) if formula else []
    r["checks"] = {"payload_escaped": not r["unescaped"] and not r["formula_cells"]}
    return r


# ---------------------------------------------------------------------------- the catalogue
# item 1 — hostile ids into HTML / Markdown

ROUTE_HOSTILE = [
    ("h-route-stop-script", "stops.csv stop_id", "stop_id", "stops", P_SCRIPT),
    ("h-route-stop-img", "stops.csv stop_id", "stop_id", "stops", P_IMG),
    ("h-route-stop-pipe", "stops.csv stop_id with '|'", "stop_id", "stops", P_PIPE),
    ("h-route-stop-name", "stops.csv name column", "name", "stops", P_IMG),
    ("h-route-vehicle-img", "fleet.csv vehicle_id", "vehicle_id", "fleet", P_IMG),
    ("h-route-vehicle-pipe", "fleet.csv vehicle_id with '|'", "vehicle_id", "fleet", P_PIPE),
    ("h-route-depot-script", "fleet.csv depot_id", "depot_id", "fleet", P_SCRIPT),
]
for _cid, _what, _col, _tbl, _pl in ROUTE_HOSTILE:

    def _f(ctx, wd, col=_col, tbl=_tbl, pl=_pl):
        d = scn(ctx, wd)
        if tbl == "stops":
            edit_csv(d / "stops.csv", lambda rows: [r.__setitem__(col, pl) for r in rows[:1]])
        else:
            edit_csv(d / "fleet.csv", lambda rows: [r.__setitem__(col, pl) for r in rows])
            if col == "vehicle_id":
                edit_csv(d / "fleet.csv", lambda rows: rows[:1])
        r = run_route(ctx, wd, d)
        return hostile_checks(r, wd / "out", [pl])

    add(_cid, "1", f"route: hostile {_what} ({_pl[:14]}…) → routes.html / driver sheets",
        "ok_or_bad", _f)  # fmt: skip

PLAN_HOSTILE = [
    ("h-plan-sku", "SKU id", {"history.csv": ["sku_id"], "skus.csv": ["sku_id"],
                              "inventory.csv": ["sku_id"], "supply.csv": ["sku_id"]}, "B"),
    ("h-plan-fc", "FC id", {"fcs.csv": ["fc_id"], "inventory.csv": ["fc_id"]}, "F2"),
    ("h-plan-fc-name", "FC name", {"fcs.csv": ["name"]}, "East"),
    ("h-plan-region", "region id", {"history.csv": ["region_id"], "weather.csv": ["region_id"],
                                    "regions.geojson": ["region_id"]}, "R2"),
    ("h-plan-region-name", "region name", {"regions.geojson": ["name"]}, "South"),
    ("h-plan-stop", "stop id", {"stops.csv": ["stop_id"]}, "S00"),
    ("h-plan-vehicle", "vehicle id", {"fleet.csv": ["vehicle_id"]}, "V1"),
    ("h-plan-supply-node", "supply node id", {"supply.csv": ["node_id"]}, "V1"),
]  # fmt: skip
for _cid, _what, _files_, _old in PLAN_HOSTILE:
    for _pl, _sfx in ((P_IMG, "img"), (P_FORMULA, "formula")):
        if _sfx == "formula" and _what not in ("SKU id", "FC id", "supply node id"):
            continue
        if _sfx == "img" and _what in ("region id", "supply node id"):
            continue

        def _f(ctx, wd, files=_files_, old=_old, pl=_pl):
            d = scn(ctx, wd)
            rename_id({d / k: v for k, v in files.items()}, old, pl)
            r = run_plan(ctx, wd, d)
            return hostile_checks(r, wd / "out", [pl])

        item = "1" if _sfx == "img" else "2"
        where = "report.html, maps, sheets" if _sfx == "img" else "every CSV output"
        add(f"{_cid}-{_sfx}", item, f"plan: hostile {_what} ({_pl[:14]}…) → {where}",
            "ok_or_bad", _f)  # fmt: skip

# item 2 — formula injection through the single commands
for _cid, _col, _tbl, _pl in (
    ("f-route-stop-eq", "stop_id", "stops", "=1+2"),
    ("f-route-stop-at", "stop_id", "stops", "@SUM(A1)"),
    ("f-route-vehicle-minus", "vehicle_id", "fleet", "-1+1"),
    ("f-route-stop-plus", "stop_id", "stops", "+cmd|' /C calc'!A0"),
):

    def _f(ctx, wd, col=_col, tbl=_tbl, pl=_pl):
        d = scn(ctx, wd)
        set_cell(d / f"{tbl}.csv", col, pl)
        return hostile_checks(run_route(ctx, wd, d), wd / "out", [pl])

    add(_cid, "2", f"route: {_tbl}.csv {_col} = {_pl} → routes.csv", "ok_or_bad", _f)


@case("f-forecast-sku", "2", "forecast: SKU id =HYPERLINK(…) → forecast.csv, scenarios.csv",
      "ok_or_bad")  # fmt: skip
def _(ctx, wd):
    d = scn(ctx, wd)
    rename_id({d / "history.csv": ["sku_id"]}, "B", P_FORMULA)
    r = run_forecast(ctx, wd, d / "history.csv",
                     extra=["--scenarios-out", wd / "out" / "scenarios.csv"])  # fmt: skip
    return hostile_checks(r, wd / "out", [P_FORMULA])


@case("f-place-node", "2", "place: supply node_id @cmd → placement_orders.csv", "ok_or_bad")
def _(ctx, wd):
    d = scn(ctx, wd)
    rename_id({d / "supply.csv": ["node_id"]}, "V1", "@cmd")
    return hostile_checks(run_place(ctx, wd, d), wd / "out", ["@cmd"])


# item 3 — the road cache


class _Plant:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _plant(ctx: Ctx, wd: Path, payload: bytes) -> dict[str, str]:
    roads = ctx.fx / "scn" / "roads.osm.bz2"
    key = f"{hashlib.sha256(roads.read_bytes()).hexdigest()[:32]}-v1.pkl"
    env = {
        "SHIPAHEAD_CACHE_DIR": str(wd / "cache"),
        "HOME": str(wd / "home"),
        "XDG_CACHE_HOME": str(wd / "xdg"),
    }
    for base in (wd / "cache", wd / "home" / ".cache" / "shipahead", wd / "xdg" / "shipahead"):
        (base / "roads").mkdir(parents=True, exist_ok=True)
        (base / "roads" / key).write_bytes(payload)
    return env


@case("cache-pickle-planted", "3", "route with a planted pickle in the road cache "
      "(payload creates a marker file)", "ok")  # fmt: skip
def _(ctx, wd):
    marker = wd / "marker" / "PWNED"
    marker.parent.mkdir()
    env = _plant(ctx, wd, pickle.dumps(_Plant(str(marker))))
    r = run_route(ctx, wd, env=env)
    r["marker_appeared"] = marker.exists()
    r["checks"] = {"no_code_ran": not marker.exists()}
    return r


@case("cache-wrong-shape", "3", "route twice with a cache file of the wrong shape "
      "(a pickled dict)", "ok")  # fmt: skip
def _(ctx, wd):
    env = _plant(ctx, wd, pickle.dumps({"not": "a network"}))
    d = scn(ctx, wd)
    r = run_route(ctx, wd, d, env=env)
    shutil.rmtree(wd / "out", ignore_errors=True)
    r2 = run_route(ctx, wd, d, env=env, tag="2")
    r["second_exit"] = r2["exit"]
    r["second_stderr_first"] = r2["stderr_first"]
    r["checks"] = {"second_run_ok": r2["exit"] == 0}
    return r


@case("cache-garbage", "3", "route with a truncated/garbage road cache file", "ok")
def _(ctx, wd):
    env = _plant(ctx, wd, b"\x80\x05garbage" * 3)
    return run_route(ctx, wd, env=env)


# item 4 — size guards


@case("size-bz2-bomb", "4", "route --roads a small .osm.bz2 expanding to ~200 MB of XML "
      "(RLIMIT_AS cap)")  # fmt: skip
def _(ctx, wd):
    d = scn(ctx, wd)
    bomb = ctx.fx / "bomb.osm.bz2"
    out = wd / "out"
    args = route_args(d / "stops.csv", d / "fleet.csv", out, roads=bomb)
    # the default bound (SHIPAHEAD_ROADS_MAX_MB=1024) is above this 200 MB bomb: lower it so the
    # case shows the guard firing while the file streams, before anything is parsed
    r = ctx.run(args, wd, out, mem_cap=True, env={"SHIPAHEAD_ROADS_MAX_MB": "100"})
    r["bomb_compressed_kb"] = round(bomb.stat().st_size / 1024)
    # the target: refused with a message naming the size bound (not "no roads" after parsing)
    named = re.search(r"expand|decompress|bound|limit|too (large|big)|exceed|size", r["message"])
    r["checks"] = {"names_size_bound": bool(named)}
    return r


@case("size-n-scenarios-forecast", "4", "forecast --n-scenarios 10**7 --scenarios-out "
      "(RLIMIT_AS cap)")  # fmt: skip
def _(ctx, wd):
    return run_forecast(ctx, wd, extra=["--n-scenarios", str(10**7), "--scenarios-out",
                                        wd / "out" / "sc.csv"], mem_cap=True)  # fmt: skip


@case("size-n-scenarios-plan", "4", "plan with [placement] n_scenarios = 10**7 (RLIMIT_AS cap)")
def _(ctx, wd):
    d = scn(ctx, wd)
    toml_set(d / "scenario.toml", "placement", "n_scenarios", str(10**7))
    return run_plan(ctx, wd, d, mem_cap=True)


for _h in (10**9, 10**6, 10**8):

    def _f(ctx, wd, h=_h):
        d = scn(ctx, wd)
        toml_set(d / "scenario.toml", "forecast", "horizon", str(h))
        return run_plan(ctx, wd, d, mem_cap=True)

    add(f"size-plan-horizon-1e{len(str(_h)) - 1}", "4" if _h != 10**8 else "10",
        f"plan with [forecast] horizon = {_h}", "bad", _f)  # fmt: skip

for _h in (10000, 10**6, 10**9):

    def _f(ctx, wd, h=_h):
        d = scn(ctx, wd)
        out = wd / "out"
        args = ["forecast", d / "history.csv", "--horizon", str(h), "--windows", "1"]
        return ctx.run([*args, "--jobs", "1", "--out", out / "forecast.csv"], wd, out,
                       mem_cap=True)  # fmt: skip

    add(f"size-forecast-horizon-{_h}", "4", f"forecast --horizon {_h}", "bad", _f)

for _cid, _opt, _val in (
    ("size-forecast-windows", "--windows", "1000000"),
    ("size-forecast-window-days", "--window-days", "1e9"),
    ("size-forecast-plot-top", "--plot-top", "1000000000"),
):

    def _f(ctx, wd, opt=_opt, val=_val):
        d = scn(ctx, wd)
        out = wd / "out"
        args = ["forecast", d / "history.csv", "--horizon", "4", "--jobs", "1"]
        extra = [opt, val]
        if opt == "--window-days":
            extra += ["--scenarios-out", out / "sc.csv", "--windows", "1"]
        if opt == "--plot-top":
            extra += ["--plot", out / "plots", "--windows", "1"]
        return ctx.run([*args, *extra, "--out", out / "forecast.csv"], wd, out, mem_cap=True)

    add(_cid, "4", f"forecast {_opt} {_val}", "ok_or_bad", _f)


@case("size-route-max-snap", "4", "route --max-snap-m 1e308", "ok_or_bad")
def _(ctx, wd):
    return run_route(ctx, wd, extra=["--max-snap-m", "1e308"])


# item 5 — offline maps

# a URL the page loads when it opens (a script, style sheet, image, frame); links (<a href>,
# such as the OpenStreetMap attribution) load nothing until clicked
CDN = re.compile(
    r"""<(?:script|link|img|iframe|source|embed|object)\b[^>]*?\b(?:src|href|data)\s*=\s*["']https?://""",
    re.I,
)


@case("offline-routes-html", "5", "route: routes.html loads nothing from the network", "ok")
def _(ctx, wd):
    r = run_route(ctx, wd)
    html = wd / "out" / "routes.html"
    n = len(CDN.findall(html.read_text(errors="replace"))) if html.exists() else -1
    r["cdn_urls"] = n
    r["checks"] = {"no_cdn": n == 0}
    return r


@case("offline-report-html", "5", "plan: report.html and routes.html load nothing from the "
      "network", "ok")  # fmt: skip
def _(ctx, wd):
    out = wd / "out"
    shutil.copytree(ctx.fx / "base_run", out)
    r = {"cmd": "(reads the setup plan run)", "exit": 0, "stderr_first": "", "stderr_lines": 0,
         "traceback": False, "elapsed_s": 0.0, "peak_rss_mb": None}  # fmt: skip
    counts = {}
    for name in ("report.html", "routes/routes.html"):
        p = out / name
        counts[name] = len(CDN.findall(p.read_text(errors="replace"))) if p.exists() else -1
    r["cdn_urls"] = counts
    r["checks"] = {"no_cdn": all(v == 0 for v in counts.values())}
    return r


# item 6 — re-planning


@case("replan-delay-3cols", "6", "replan events with only type,vehicle_id,delay_min", "ok")
def _(ctx, wd):
    ev = events(wd, [{"type": "delay", "vehicle_id": "V1", "delay_min": "15"}], full=False)
    return run_replan(ctx, wd, "10:45", ev)


@case("replan-delay-past-shift", "6", "replan: both vehicles delayed 500 min (past shift end)",
      "ok")  # fmt: skip
def _(ctx, wd):
    ev = events(wd, [{"type": "delay", "vehicle_id": v, "stop_id": "", "delay_min": "500"}
                     for v in ("V1", "V2")])  # fmt: skip
    r = run_replan(ctx, wd, "10:45", ev)
    un = wd / "out" / "unassigned.csv"
    rows = read_csv(un) if un.exists() else []
    r["unassigned"] = len(rows)
    r["checks"] = {"dropped_listed": len(rows) > 0}
    return r


@case("replan-incident-persists", "6", "replan with an incident, then replan the result again: "
      "is the incident kept?", "ok")  # fmt: skip
def _(ctx, wd):
    depot = read_csv(ctx.fx / "scn" / "fleet.csv")[0]
    ev = events(wd, [{"type": "incident", "factor": "0.2", "area_lat": depot["depot_lat"],
                      "area_lon": depot["depot_lon"], "area_radius_m": "5000"}])  # fmt: skip
    r = run_replan(ctx, wd, "10:40", ev, out=wd / "out1")
    r2 = run_replan(ctx, wd, "10:41", None, plan=wd / "out1", out=wd / "out2", tag="2")
    r["second_exit"] = r2["exit"]

    def etas(p):
        f = p / "routes.csv"
        if not f.exists():
            return {}
        out = {}
        for row in read_csv(f):
            if row.get("kind", "stop") == "stop":
                h, m = row["arrival"].split(":")
                out[row["stop_id"]] = int(h) * 60 + int(m)
        return out

    a, b = etas(wd / "out1"), etas(wd / "out2")
    shift = [a[k] - b[k] for k in a if k in b]
    r["eta_moved_earlier_min"] = max(shift) if shift else None
    r["checks"] = {
        "second_ok": r2["exit"] == 0,
        "incident_kept": bool(shift) and max(shift) <= 5,
    }
    return r


@case("replan-no-stops-left", "6", "replan when V1 has served all its stops: route back and "
      "sheet kept", "ok")  # fmt: skip
def _(ctx, wd):
    rows = [r for r in read_csv(ctx.fx / "base_route" / "routes.csv") if r["kind"] == "stop"]
    ev = events(wd, [{"type": "done", "stop_id": r["stop_id"], "vehicle_id": r["vehicle_id"]}
                     for r in rows])  # fmt: skip
    v = rows[0]["vehicle_id"] if rows else "V1"
    r = run_replan(ctx, wd, "11:10", ev)
    out = wd / "out"
    has_rows = out.joinpath("routes.csv").exists() and any(
        x["vehicle_id"] == v for x in read_csv(out / "routes.csv")
    )
    r["checks"] = {"vehicle_kept": has_rows and (out / "drivers" / f"{v}.md").exists()}
    return r


for _at in ("24:30", "48:00", "25:00", "05:00", "abc", "10:60", "-01:00"):

    def _f(ctx, wd, at=_at):
        ev = events(wd, [{"type": "delay", "stop_id": "", "vehicle_id": "V1", "delay_min": "5"}])
        r = run_replan(ctx, wd, at, ev)
        if at == "05:00" and r["exit"] == 0:
            ch = wd / "out" / "changes.csv"
            done = [x for x in read_csv(ch) if x["change"] == "done"] if ch.exists() else []
            r["done_marked"] = len(done)
            r["checks"] = {"nothing_done_before_start": not done}
        return r

    add(f"replan-at-{_at.replace(':', '')}", "10" if _at in ("25:00", "05:00") else "6",
        f"replan --at {_at}", "ok_or_bad" if _at == "05:00" else "bad", _f)  # fmt: skip


@case("replan-cancel-done", "6", "replan: cancel a stop that is done (not silent)", "custom")
def _(ctx, wd):
    ev = events(wd, [{"type": "done", "stop_id": "S03", "vehicle_id": "V1"},
                     {"type": "cancel", "stop_id": "S03", "vehicle_id": ""}])  # fmt: skip
    r = run_replan(ctx, wd, "10:45", ev, quiet=False)
    said = "S03" in r["_stderr"]
    r["checks"] = {"not_silent": (r["exit"] == 2 and r["stderr_lines"] == 1) or
                   (r["exit"] == 0 and said), "no_traceback": not r["traceback"]}  # fmt: skip
    return r


@case("replan-futurewarning", "17", "replan (not quiet): no pandas FutureWarning in output", "ok")
def _(ctx, wd):
    ev = events(
        wd,
        [
            {"type": "done", "stop_id": "S03", "vehicle_id": "V1"},
            {"type": "delay", "stop_id": "", "vehicle_id": "V1", "delay_min": "10"},
        ],
    )
    r = run_replan(ctx, wd, "10:45", ev, quiet=False)
    r["checks"] = {"no_warning": "Warning" not in r["_stderr"] + r["_stdout"]}
    return r


for _cid, _rows, _desc in (
    ("replan-unknown-stop", [{"type": "done", "stop_id": "NOPE"}], "done for an unknown stop"),
    ("replan-unknown-vehicle", [{"type": "delay", "vehicle_id": "V9", "delay_min": "5"}],
     "delay for an unknown vehicle"),
    ("replan-unknown-type", [{"type": "explode", "stop_id": "S01"}], "unknown event type"),
    ("replan-incident-factor0", [{"type": "incident", "factor": "0", "road_class": "residential"}],
     "incident factor 0"),
    ("replan-incident-factor5", [{"type": "incident", "factor": "5", "road_class": "residential"}],
     "incident factor 5"),
    ("replan-incident-nan", [{"type": "incident", "factor": "nan", "road_class": "residential"}],
     "incident factor nan"),
    ("replan-incident-noarea", [{"type": "incident", "factor": "0.5"}],
     "incident without road_class or area"),
    ("replan-delay-inf", [{"type": "delay", "vehicle_id": "V1", "delay_min": "inf"}],
     "delay_min inf"),
    ("replan-delay-neg", [{"type": "delay", "vehicle_id": "V1", "delay_min": "-30"}],
     "delay_min -30"),
    ("replan-add-nolat", [{"type": "add", "stop_id": "N1", "lat": "", "lon": "-122.68",
                           "demand_units": "1", "tw_start": "10:00", "tw_end": "12:00",
                           "service_min": "2"}], "add a stop without lat"),
    ("replan-add-dup", [{"type": "add", "stop_id": "S01", "lat": "45.52", "lon": "-122.68",
                         "demand_units": "1", "tw_start": "10:00", "tw_end": "12:00",
                         "service_min": "2"}], "add a stop whose id exists"),
    ("replan-position-far", [{"type": "position", "vehicle_id": "V1", "lat": "0", "lon": "0"}],
     "position at 0,0 (off the network)"),
    ("replan-no-type", [{"stop_id": "S01", "vehicle_id": "V1"}],
     "events file without a type column"),
    ("replan-events-empty", [], "events file with no rows (header only)"),
):  # fmt: skip

    def _f(ctx, wd, rows=_rows, cid=_cid):
        if rows:
            ev = events(wd, rows, full=cid != "replan-no-type")
        else:
            ev = wd / "events.csv"
            ev.write_text("type,stop_id,vehicle_id\n")
        return run_replan(ctx, wd, "10:45", ev)

    _exp = "ok_or_bad" if _cid in ("replan-events-empty", "replan-delay-neg") else "bad"
    add(_cid, "extra", f"replan: {_desc}", _exp, _f)


@case("replan-plan-missing", "extra", "replan --plan a folder that does not exist")
def _(ctx, wd):
    ev = events(wd, [{"type": "delay", "vehicle_id": "V1", "delay_min": "5"}])
    return run_replan(ctx, wd, "10:45", ev, plan=wd / "nope")


@case("replan-planjson-corrupt", "extra", "replan with a corrupt plan.json")
def _(ctx, wd):
    plan = replan_dir(ctx, wd)
    (plan / "plan.json").write_text('{"stops": [1, 2,')
    return run_replan(ctx, wd, "10:45", None, plan=plan)


@case("replan-planjson-gone", "extra", "replan on a folder without plan.json")
def _(ctx, wd):
    plan = replan_dir(ctx, wd)
    (plan / "plan.json").unlink()
    return run_replan(ctx, wd, "10:45", None, plan=plan)


@case("replan-roads-moved", "extra", "replan after the road file was moved (no --roads)")
def _(ctx, wd):
    d = scn(ctx, wd)
    out0 = wd / "p0"
    ctx.run(route_args(d / "stops.csv", d / "fleet.csv", out0, roads=d / "roads.osm.bz2"), wd,
            tag="0")  # fmt: skip
    (d / "roads.osm.bz2").rename(d / "moved.osm.bz2")
    return run_replan(ctx, wd, "10:45", None, plan=out0)


@case("validate-replan-events", "8", "validate events.csv holding re-plan events", "ok")
def _(ctx, wd):
    ev = events(
        wd,
        [
            {"type": "done", "stop_id": "S03", "vehicle_id": "V1"},
            {"type": "delay", "stop_id": "", "vehicle_id": "V1", "delay_min": "10"},
        ],
    )
    return run_validate(ctx, wd, ev)


# item 7 — times past midnight


def _late_inputs(ctx, wd, blank_tw=False):
    d = scn(ctx, wd)

    def f(rows):
        for r in rows:
            r["shift_start"], r["shift_end"] = "22:00", "24:00"

    edit_csv(d / "fleet.csv", f)
    edit_csv(d / "fleet.csv", lambda rows: rows[:1])

    def g(rows):
        for r in rows:
            r["tw_start"], r["tw_end"] = ("", "") if blank_tw else ("22:00", "24:00")
            r["service_min"] = "18"

    edit_csv(d / "stops.csv", g)
    write_csv(d / "traffic.csv", [{"hour": str(h), "speed_factor": "0.15" if h >= 22 else "1"}
                                  for h in range(24)])  # fmt: skip
    return d


for _blank in (False, True):

    def _f(ctx, wd, blank=_blank):
        d = _late_inputs(ctx, wd, blank)
        r = run_route(ctx, wd, d, extra=["--traffic", d / "traffic.csv"])
        routes = wd / "out" / "routes.csv"
        if routes.exists():
            v = run_validate(ctx, wd, routes, "routes", tag="v")
            r["validate_exit"] = v["exit"]
            r["validate_first"] = v["stderr_first"] or v["_stdout"].strip()[:200]
            text = routes.read_text() + "".join(
                p.read_text() for p in (wd / "out" / "drivers").glob("*.md")
            )
            r["times_ge_24"] = sorted(set(re.findall(r"\b(?:2[4-9]|[3-9]\d):\d\d\b", text)))[:8]
            r["checks"] = {"validate_ok": v["exit"] == 0, "no_48h": "48:00" not in text}
        return r

    add("midnight-blank-window" if _blank else "midnight-shift-24", "7",
        "route: " + ("blank time windows, shift 22:00–24:00" if _blank else
                     "shift 22:00–24:00, slow traffic → validate --kind routes"),
        # stops.csv requires a window end (blank is an error naming the cell)
        "bad" if _blank else "ok", _f)  # fmt: skip


# item 8 — what the dispatcher reads


@case("sheet-names", "8", "route: driver sheet shows the stops' name column, no internal ids",
      "ok")  # fmt: skip
def _(ctx, wd):
    d = scn(ctx, wd)
    edit_csv(d / "stops.csv", lambda rows: [r.__setitem__("name", f"Shop {r['stop_id']}")
                                            for r in rows])  # fmt: skip
    r = run_route(ctx, wd, d)
    text = "".join(p.read_text() for p in (wd / "out" / "drivers").glob("*.md"))
    r["checks"] = {"names_shown": "Shop S0" in text, "no_internal_id": "@V" not in text}
    return r


# item 9 — non-finite and huge numbers, empty tables

NUMERIC = {
    "history": ["y"],
    "weather": ["precip_mm", "snow_cm", "temp_c"],
    "fcs": ["lat", "lon", "capacity_units"],
    "skus": ["unit_volume_m3", "holding_cost_per_unit_day", "stockout_cost_per_unit"],
    "inventory": ["on_hand_units"],
    "supply": ["available_units", "lat", "lon"],
    "stops": ["lat", "lon", "demand_units", "service_min"],
    "fleet": ["depot_lat", "depot_lon", "capacity_units", "cost_per_km", "cost_per_hour",
              "fixed_cost"],
}  # fmt: skip


def _run_for_table(ctx, wd, d, table, **kw):
    if table in ("history", "weather"):
        return run_forecast(ctx, wd, d / "history.csv", extra=["--weather", d / "weather.csv"],
                            **kw)  # fmt: skip
    if table in ("stops", "fleet"):
        return run_route(ctx, wd, d, **kw)
    return run_place(ctx, wd, d, **kw)


#: `validate` gets all four values in each table's first numeric column, inf and nan in the others;
#: columns also run with 1e308 through their command (the others: inf only)
HUGE_RUN = {"y", "demand_units", "capacity_units", "stockout_cost_per_unit", "on_hand_units"}

for _tbl, _cols in NUMERIC.items():
    for _col in _cols:
        _vals = ("1e308", "inf", "-inf", "nan") if _col == _cols[0] else ("inf", "nan")
        for _val in _vals:

            def _v(ctx, wd, tbl=_tbl, col=_col, val=_val):
                d = scn(ctx, wd)
                set_cell(d / f"{tbl}.csv", col, val)
                return run_validate(ctx, wd, d / f"{tbl}.csv", tbl)

            add(f"nf-validate-{_tbl}-{_col}-{_val}", "9",
                f"validate {_tbl}.csv with {_col} = {_val}", "bad", _v)  # fmt: skip
        for _val in ("1e308", "inf") if _col in HUGE_RUN else ("inf",):

            def _c(ctx, wd, tbl=_tbl, col=_col, val=_val):
                d = scn(ctx, wd)
                set_cell(d / f"{tbl}.csv", col, val)
                return _run_for_table(ctx, wd, d, tbl)

            add(f"nf-run-{_tbl}-{_col}-{_val}", "9",
                f"{_tbl}.csv {_col} = {_val} through its command", "bad", _c)  # fmt: skip

EMPTY_TABLES = ["history", "weather", "fcs", "skus", "inventory", "supply", "stops", "fleet"]
for _tbl in EMPTY_TABLES:

    def _e(ctx, wd, tbl=_tbl):
        d = scn(ctx, wd)
        edit_csv(d / f"{tbl}.csv", lambda rows: [])
        return run_validate(ctx, wd, d / f"{tbl}.csv", tbl)

    # no weather rows / nothing on hand are valid inputs; the other tables need rows
    add(f"empty-validate-{_tbl}", "9", f"validate {_tbl}.csv with a header and no rows",
        "ok" if _tbl in ("weather", "inventory") else "bad", _e)  # fmt: skip

    def _ec(ctx, wd, tbl=_tbl):
        d = scn(ctx, wd)
        edit_csv(d / f"{tbl}.csv", lambda rows: [])
        return _run_for_table(ctx, wd, d, tbl)

    _exp = "ok_or_bad" if _tbl in ("weather", "inventory") else "bad"
    add(f"empty-run-{_tbl}", "9", f"{_tbl}.csv with no rows through its command", _exp, _ec)


@case("empty-regions", "9", "plan with a regions.geojson without features")
def _(ctx, wd):
    d = scn(ctx, wd)
    (d / "regions.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    return run_plan(ctx, wd, d)


@case("empty-traffic", "9", "route --traffic with a header-only traffic file")
def _(ctx, wd):
    d = scn(ctx, wd)
    (d / "traffic.csv").write_text("hour,speed_factor\n")
    return run_route(ctx, wd, d, extra=["--traffic", d / "traffic.csv"])


@case("stockout-1e308-plan", "9", "plan with skus stockout_cost_per_unit = 1e308")
def _(ctx, wd):
    d = scn(ctx, wd)
    set_cell(d / "skus.csv", "stockout_cost_per_unit", "1e308")
    return run_plan(ctx, wd, d)


@case("history-1e308-plan", "9", "plan with a history y = 1e308")
def _(ctx, wd):
    d = scn(ctx, wd)
    set_cell(d / "history.csv", "y", "1e308")
    return run_plan(ctx, wd, d)


# item 10 — scenario values checked before the first step

SCENARIO_VALUES = [
    ("scn-depart-25", "routing", "depart", '"25:00"', "depart = \"25:00\""),
    ("scn-depot-nope", "routing", "depot_fc", '"NOPE"', "depot_fc = \"NOPE\""),
    ("scn-windows-500", "forecast", "windows", "500", "windows = 500"),
    ("scn-date-bad", "routing", "delivery_date", '"2022-13-45"', "delivery_date 2022-13-45"),
    ("scn-time-limit-neg", "routing", "time_limit_s", "-1", "time_limit_s = -1"),
    ("scn-max-snap-nan", "routing", "max_snap_m", "nan", "max_snap_m = nan"),
    ("scn-window-days-0", "placement", "window_days", "0", "window_days = 0"),
    ("scn-promise-inf", "placement", "promise_days", "inf", "promise_days = inf"),
    ("scn-freq-bogus", "forecast", "freq", '"XYZ"', "freq = \"XYZ\""),
    ("scn-models-bogus", "forecast", "models", '"Bogus"', "models = \"Bogus\""),
    ("scn-metric-bogus", "forecast", "metric", '"bogus"', "metric = \"bogus\""),
    ("scn-country-bogus", "forecast", "country", '"ZZ"', "country = \"ZZ\""),
    ("scn-unknown-key", "forecast", "horizn", "4", "unknown key horizn"),
    ("scn-seed-neg", "scenario", "seed", "-1", "seed = -1"),
]  # fmt: skip
for _cid, _sec, _key, _lit, _desc in SCENARIO_VALUES:

    def _f(ctx, wd, sec=_sec, key=_key, lit=_lit):
        d = scn(ctx, wd)
        toml_set(d / "scenario.toml", sec, key, lit)
        return run_plan(ctx, wd, d)

    _exp = "ok_or_bad" if _cid == "scn-seed-neg" else "bad"
    add(_cid, "10" if _cid in ("scn-depart-25", "scn-depot-nope", "scn-windows-500") else "extra",
        f"plan: scenario {_desc}", _exp, _f)  # fmt: skip


@case("scn-mixed-freq", "10", "plan: history with one daily series among weekly ones")
def _(ctx, wd):
    d = scn(ctx, wd)

    def f(rows):
        keep = [r for r in rows if not (r["region_id"] == "R1" and r["sku_id"] == "A")]
        import datetime as dt

        start = dt.date(2021, 1, 4)
        daily = [{"region_id": "R1", "sku_id": "A", "ds": str(start + dt.timedelta(days=i)),
                  "y": "5"} for i in range(80 * 7)]  # fmt: skip
        return keep + daily

    edit_csv(d / "history.csv", f)
    toml_set(d / "scenario.toml", "forecast", "freq", None)
    return run_plan(ctx, wd, d)


for _cid, _desc, _mk in (
    ("scn-toml-syntax", "invalid TOML syntax", lambda t: t.write_text("[scenario\nname=1\n")),
    ("scn-toml-missing-input", "inputs.history names a missing file",
     lambda t: t.write_text(t.read_text().replace('"history.csv"', '"nope.csv"'))),
    ("scn-toml-binary", "binary garbage", lambda t: t.write_bytes(os.urandom(2000))),
):  # fmt: skip

    def _f(ctx, wd, mk=_mk):
        d = scn(ctx, wd)
        mk(d / "scenario.toml")
        return run_plan(ctx, wd, d)

    add(_cid, "extra", f"plan: scenario.toml {_desc}", "bad", _f)


@case("scn-not-found", "extra", "plan with a scenario path that does not exist")
def _(ctx, wd):
    return ctx.run(["plan", wd / "nope.toml", "--out", wd / "out"], wd, wd / "out")


# item 11 — two runs into one --out


@case("concurrent-plans", "11", "two plans with different scenarios into one --out at once",
      "custom")  # fmt: skip
def _(ctx, wd):
    a = scn(ctx, wd)
    b = wd / "scn_b"
    shutil.copytree(a, b)
    toml_set(b / "scenario.toml", "forecast", "horizon", "5")
    out = wd / "out"
    h1 = ctx.popen(["plan", a / "scenario.toml", "--out", out], wd, tag="1")
    time.sleep(0.5)
    h2 = ctx.popen(["plan", b / "scenario.toml", "--out", out], wd, tag="2")
    r1, r2 = ctx.wait(h1), ctx.wait(h2)
    r = dict(r1)
    r.update(_leftovers(out, {"exists": False, "files": set()}))
    r["cmd"] = f"{r1['cmd']} & {r2['cmd']}"
    r["exit"] = f"{r1['exit']}/{r2['exit']}"
    r["second_stderr_first"] = r2["stderr_first"]
    r["checks"] = {
        "one_refused": sorted([r1["exit"], r2["exit"]]) == [0, 2],
        "says_in_use": "in use" in (r1["_stderr"] + r2["_stderr"]).lower(),
        "no_traceback": not (r1["traceback"] or r2["traceback"]),
    }
    return r


@case("concurrent-forecasts", "11", "two forecasts into one --out file at once", "custom")
def _(ctx, wd):
    d = scn(ctx, wd)
    out = wd / "out"
    out.mkdir()
    args = ["forecast", d / "history.csv", "--horizon", "4", "--windows", "1", "--jobs", "1",
            "--out", out / "forecast.csv"]  # fmt: skip
    h1 = ctx.popen(args, wd, tag="1")
    time.sleep(0.3)
    h2 = ctx.popen([*args[:3], "5", *args[4:]], wd, tag="2")
    r1, r2 = ctx.wait(h1), ctx.wait(h2)
    r = dict(r1)
    r.update(_leftovers(out, {"exists": True, "files": set()}))
    r["cmd"] = f"{r1['cmd']} & {r2['cmd']}"
    r["exit"] = f"{r1['exit']}/{r2['exit']}"
    r["second_stderr_first"] = r2["stderr_first"]
    r["checks"] = {
        "one_refused": sorted([r1["exit"], r2["exit"]]) == [0, 2],
        "no_traceback": not (r1["traceback"] or r2["traceback"]),
    }
    return r


# item 12 — signals, kill -9


def _signal_case(ctx, wd, args, out, sig, after, group, workers_within=0.0):
    """Send ``sig`` ``after`` s into the run (or, with ``workers_within``, as soon as worker
    processes exist, at the latest ``workers_within`` s in)."""
    import psutil

    h = ctx.popen(args, wd, quiet=False)
    time.sleep(after)
    kids = []
    t_end = time.monotonic() + max(0.0, workers_within - after)
    while True:
        with contextlib.suppress(psutil.Error):
            kids = psutil.Process(h["p"].pid).children(recursive=True)
        if kids or time.monotonic() >= t_end or h["p"].poll() is not None:
            break
        time.sleep(0.2)
    time.sleep(1.0 if kids and workers_within else 0.0)
    if group:
        _killpg(h["p"].pid, sig)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.kill(h["p"].pid, sig)
    r = ctx.wait(h)
    time.sleep(1.5)
    left = [k for k in kids if k.is_running() and k.status() != psutil.STATUS_ZOMBIE]
    r["children_at_signal"] = len(kids)
    r["children_left"] = len(left)
    for k in left:  # processes this harness started: clean them up
        with contextlib.suppress(psutil.Error):
            k.kill()
    r.update(_leftovers(out, {"exists": True, "files": set()}))
    r["checks"] = {
        "no_children_left": not left,
        "no_staging_left": not r["staging_left"],
        "one_line": r["stderr_lines"] <= 2,
    }
    return r


for _sig, _name in ((signal.SIGTERM, "sigterm"), (signal.SIGINT, "sigint")):

    def _fc(ctx, wd, sig=_sig):
        out = wd / "out"
        out.mkdir()
        args = ["forecast", ctx.fx / "history2000.csv", "--horizon", "4", "--windows", "2",
                "--jobs", "2", "--out", out / "forecast.csv"]  # fmt: skip
        return _signal_case(
            ctx, wd, args, out, sig, 5.0, group=sig == signal.SIGINT, workers_within=30.0
        )

    add(f"signal-{_name}-forecast", "12",
        f"{_name.upper()} during forecast once workers run (2000 series, --jobs 2)"
        + (" to the process group (Ctrl-C)" if _sig == signal.SIGINT else " to the main pid"),
        _name, _fc)  # fmt: skip

    def _pl(ctx, wd, sig=_sig):
        d = scn(ctx, wd)
        out = wd / "out"
        out.mkdir()
        args = ["plan", d / "scenario.toml", "--out", out]
        return _signal_case(ctx, wd, args, out, sig, 4.0, group=sig == signal.SIGINT)

    add(f"signal-{_name}-plan", "12", f"{_name.upper()} at 4 s into plan (forecast step)", _name,
        _pl)  # fmt: skip


@case("signal-sigterm-plan-routes", "12", "SIGTERM during plan's routes step (--from routes)",
      "sigterm")  # fmt: skip
def _(ctx, wd):
    out = wd / "out"
    shutil.copytree(ctx.fx / "base_run", out)
    d = scn(ctx, wd)  # a 20 s solver limit without --deterministic: the step lasts ≥ 20 s
    toml_set(d / "scenario.toml", "routing", "time_limit_s", "20")
    toml_set(d / "scenario.toml", "routing", "deterministic", "false")
    args = ["plan", d / "scenario.toml", "--out", out, "--from", "routes", "--force"]
    r = _signal_case(ctx, wd, args, out, signal.SIGTERM, 6.0, group=False)
    r["checks"]["finished_kept"] = (out / "placement" / ".done.json").exists()
    return r


@case("kill9-plan-rerun", "12", "kill -9 during plan, then rerun into the same --out", "ok")
def _(ctx, wd):
    d = scn(ctx, wd)
    out = wd / "out"
    h = ctx.popen(["plan", d / "scenario.toml", "--out", out], wd, tag="k")
    time.sleep(9.0)
    _killpg(h["p"].pid, signal.SIGKILL)
    rk = ctx.wait(h)
    after_kill = _leftovers(out, {"exists": False, "files": set()})
    r = run_plan(ctx, wd, d)
    r["kill_exit"] = rk["exit"]
    r["staging_after_kill"] = after_kill["staging_left"]
    same = None
    base = ctx.fx / "base_run" / "routes" / "routes.csv"
    if (out / "routes" / "routes.csv").exists() and base.exists():
        same = (out / "routes" / "routes.csv").read_bytes() == base.read_bytes()
    r["routes_match_uninterrupted"] = same
    r["checks"] = {"no_staging_after_rerun": not r["staging_left"], "same_result": same is True}
    return r


@case("kill9-route", "12", "kill -9 during route (no --out before): what is left", "custom")
def _(ctx, wd):
    d = scn(ctx, wd)
    out = wd / "out"
    args = route_args(d / "stops.csv", d / "fleet.csv", out, roads=d / "roads.osm.bz2",
                      extra=["--time-limit", "20"])  # fmt: skip
    args = [a for a in args if a != "--deterministic"]
    h = ctx.popen(args, wd)
    time.sleep(6.0)
    _killpg(h["p"].pid, signal.SIGKILL)
    r = ctx.wait(h)
    r.update(_leftovers(out, {"exists": False, "files": set()}))
    again = ctx.run(args, wd, out, tag="rerun")
    left = [f for f in _files(out) if ".staging-" in f or f.endswith(".tmp")]
    r["checks"] = {
        "no_finished_output": not (out / "routes.csv").exists() or again["exit"] == 0,
        "rerun_ok": again["exit"] == 0,
        "rerun_cleans_staging": not left and not list(out.glob(".staging-*")),
    }
    return r


# item 13 — determinism


@case("determinism-plan", "13", "two tiny plan runs from two copies of the scenario: "
      ".done.json and plan.json byte-identical", "ok")  # fmt: skip
def _(ctx, wd):
    res, outs = [], []
    for tag in ("a", "b"):
        d = wd / tag / "scn"
        shutil.copytree(ctx.fx / "scn", d)
        out = wd / tag / "run"
        res.append(ctx.run(["plan", d / "scenario.toml", "--out", out], wd, out, tag=tag))
        outs.append(out)
    r = res[0]
    r["exits"] = f"{res[0]['exit']}/{res[1]['exit']}"
    r["exit"] = 0 if r["exits"] == "0/0" else r["exits"]
    diff = []
    for f in _files(outs[0]):
        a, b = outs[0] / f, outs[1] / f
        if not b.exists() or a.read_bytes() != b.read_bytes():
            diff.append(f)
    r["files_differing"] = diff
    key = [f for f in diff if f.endswith((".done.json", "plan.json"))]
    r["checks"] = {"markers_and_plan_identical": not key, "both_ok": r["exits"] == "0/0"}
    return r


@case("determinism-route", "13", "route twice (--deterministic): every file byte-identical", "ok")
def _(ctx, wd):
    d = scn(ctx, wd)
    r1 = run_route(ctx, wd, d)
    shutil.move(wd / "out", wd / "out1")
    r = run_route(ctx, wd, d, tag="2")
    diff = [f for f in _files(wd / "out1") if not (wd / "out" / f).exists()
            or (wd / "out" / f).read_bytes() != (wd / "out1" / f).read_bytes()]  # fmt: skip
    r["files_differing"] = diff
    r["checks"] = {"identical": not diff, "first_ok": r1["exit"] == 0}
    return r


# item 14 — environment errors

ENV_CASES = [
    ("env-forecast-proc", "forecast --out under /proc (cannot be created)",
     lambda ctx, wd: ["forecast", ctx.fx / "scn" / "history.csv", "--horizon", "4",
                      "--windows", "1", "--jobs", "1", "--out", "/proc/shipahead-x/fc.csv"]),
    ("env-forecast-under-file", "forecast --out below a regular file",
     lambda ctx, wd: ["forecast", ctx.fx / "scn" / "history.csv", "--horizon", "4",
                      "--windows", "1", "--jobs", "1", "--out", wd / "afile" / "fc.csv"]),
    ("env-route-under-file", "route --out below a regular file",
     lambda ctx, wd: route_args(ctx.fx / "scn" / "stops.csv", ctx.fx / "scn" / "fleet.csv",
                                wd / "afile" / "out", roads=ctx.fx / "scn" / "roads.osm.bz2")),
    ("env-route-out-is-file", "route --out an existing regular file",
     lambda ctx, wd: route_args(ctx.fx / "scn" / "stops.csv", ctx.fx / "scn" / "fleet.csv",
                                wd / "afile", roads=ctx.fx / "scn" / "roads.osm.bz2")),
    ("env-plan-proc", "plan --out under /proc",
     lambda ctx, wd: ["plan", ctx.fx / "scn" / "scenario.toml", "--out", "/proc/shipahead-x"]),
    ("env-place-sys", "place --out under /sys",
     lambda ctx, wd: ["place", "--window-days", "14", "--fcs", ctx.fx / "scn" / "fcs.csv",
                      "--skus", ctx.fx / "scn" / "skus.csv", "--inventory",
                      ctx.fx / "scn" / "inventory.csv", "--supply", ctx.fx / "scn" / "supply.csv",
                      "--scenarios", ctx.fx / "base_run" / "forecast" / "scenarios.csv",
                      "--out", "/sys/shipahead-x"]),
    ("env-validate-dir", "validate a folder",
     lambda ctx, wd: ["validate", wd]),
]  # fmt: skip
for _cid, _desc, _args in ENV_CASES:

    def _f(ctx, wd, mk=_args):
        (wd / "afile").write_text("x")
        args = mk(ctx, wd)
        outs = [Path(str(a)) for a in args if str(a).startswith(str(wd / "afile"))]
        out = None if not outs else outs[0] if outs[0] == wd / "afile" else outs[0].parent
        return ctx.run(args, wd, out)

    add(_cid, "14", _desc, "bad", _f)

for _cid, _desc, _kind in (
    (
        "env-diskfull-plan",
        "plan with a 100 kB file-size limit (disk full: EFBIG; steps that finished may stay)",
        "plan",
    ),
    ("env-diskfull-route", "route with an 8 kB file-size limit (disk full: EFBIG)", "route"),
    ("env-diskfull-forecast", "forecast --plot with a 20 kB file-size limit", "forecast"),
):

    def _f(ctx, wd, kind=_kind):
        if kind == "plan":
            r = run_plan(ctx, wd, fsize=100_000)
            r["checks"] = {
                "exit_2": r["exit"] == 2,
                "one_line": r["stderr_lines"] == 1,
                "no_staging": not r["staging_left"],
            }
            return r
        if kind == "route":
            return run_route(ctx, wd, fsize=8_000)
        return run_forecast(ctx, wd, extra=["--plot", wd / "out" / "plots"], fsize=20_000)

    add(_cid, "14", _desc, "custom" if _kind == "plan" else "bad", _f)


# item 15 — one-way trap


@case("oneway-trap", "15", "route: a stop 400 m down a one-way dead end", "custom")
def _(ctx, wd):
    roads = wd / "oneway.osm"
    shutil.copy(ctx.fx / "oneway.osm", roads)
    write_csv(wd / "stops.csv", [{"stop_id": "TRAP", "lat": "45.4964", "lon": "-122.5930",
                                  "demand_units": "1", "tw_start": "08:00", "tw_end": "18:00",
                                  "service_min": "2"}])  # fmt: skip
    write_csv(wd / "fleet.csv", [{"vehicle_id": "V1", "depot_id": "D", "depot_lat": "45.5000",
                                  "depot_lon": "-122.6000", "capacity_units": "10",
                                  "shift_start": "08:00", "shift_end": "18:00",
                                  "cost_per_km": "1", "cost_per_hour": "1"}])  # fmt: skip
    out = wd / "out"
    r = ctx.run(route_args(wd / "stops.csv", wd / "fleet.csv", out, roads=roads), wd, out,
                quiet=False)  # fmt: skip
    said = bool(re.search(r"snap|moved|one-way|oneway|unreachable|dead end|far from",
                          r["_stderr"].replace(str(wd), "$WD"), re.I))  # fmt: skip
    un = out / "unassigned.csv"
    unassigned = bool(un.exists() and read_csv(un))
    r["warned"] = said
    r["unassigned"] = unassigned
    r["checks"] = {"not_silent": r["exit"] == 2 or said or unassigned,
                   "no_traceback": not r["traceback"]}  # fmt: skip
    return r


# item 16 — progress when not on a terminal


@case("progress-not-tty", "16", "forecast 200 series with stderr captured: progress lines", "ok")
def _(ctx, wd):
    r = run_forecast(ctx, wd, ctx.fx / "history200.csv", quiet=False)
    n = len(re.findall(r"\b\d+\s*/\s*200\b", r["_stderr"]))
    r["progress_lines"] = n
    r["checks"] = {"progress_logged": n >= 2}
    return r


# item 17 — everything else


@case("forecast-leaderboard", "17", "standalone forecast writes a leaderboard file", "ok")
def _(ctx, wd):
    r = run_forecast(ctx, wd)
    r["checks"] = {"leaderboard": any("leaderboard" in f for f in r["files_left"])}
    return r


@case("skipped-step-time", "17", "plan rerun with nothing changed: skipped steps report no "
      "time of their own", "ok")  # fmt: skip
def _(ctx, wd):
    out = wd / "out"
    shutil.copytree(ctx.fx / "base_run", out)
    r = ctx.run(["plan", ctx.fx / "scn" / "scenario.toml", "--out", out], wd, out, quiet=False)
    text = r["_stderr"] + r["_stdout"]
    bad = [ln for ln in text.splitlines() if "skipped" in ln and re.search(r"\d+(\.\d+)? ?s\b", ln)]
    r["skipped_lines_with_time"] = bad[:4]
    r["checks"] = {"no_stale_time": not bad}
    return r


@case("file-modes", "17", "route outputs follow the umask (022 → 0644), not 0600", "ok")
def _(ctx, wd):
    r = run_route(ctx, wd)
    out = wd / "out"
    modes = sorted({oct(p.stat().st_mode & 0o777) for p in out.rglob("*") if p.is_file()})
    r["modes"] = modes
    r["checks"] = {"group_other_read": all(int(m, 8) & 0o044 == 0o044 for m in modes)}
    return r


@case("plan-modes", "17", "plan outputs follow the umask (022 → 0644)", "ok")
def _(ctx, wd):
    out = ctx.fx / "base_run"
    modes = sorted({oct(p.stat().st_mode & 0o777) for p in out.rglob("*") if p.is_file()})
    r = {"cmd": "(reads the setup plan run)", "exit": 0, "stderr_first": "", "stderr_lines": 0,
         "traceback": False, "elapsed_s": 0.0, "peak_rss_mb": None, "modes": modes}  # fmt: skip
    r["checks"] = {"group_other_read": all(int(m, 8) & 0o044 == 0o044 for m in modes)}
    return r


@case("ray-keeps-marker", "17", "plan --engine ray --force (ray not installed) after a finished "
      "run: finished markers kept")  # fmt: skip
def _(ctx, wd):
    out = wd / "out"
    shutil.copytree(ctx.fx / "base_run", out)
    before = {"exists": True, "files": set(_files(out))}
    r = ctx.wait(ctx.popen(["plan", ctx.fx / "scn" / "scenario.toml", "--out", out,
                            "--engine", "ray", "--force"], wd))  # fmt: skip
    r.update(_leftovers(out, before))
    kept = all((out / s / ".done.json").exists() for s in ("forecast", "placement", "routes"))
    r["checks"] = {"markers_kept": kept}
    r["new_files"] = []  # the run folder existed: judge markers, not files
    return r


@case("failed-run-no-empty-out", "17", "route with a missing stops file: no empty --out left")
def _(ctx, wd):
    d = scn(ctx, wd)
    (d / "stops.csv").unlink()
    return run_route(ctx, wd, d)


@case("engine-dask-route", "17", "route --engine dask (not an engine of route)")
def _(ctx, wd):
    return run_route(ctx, wd, extra=["--engine", "dask"])


# extra — malformed CSV and files

MALFORMED = [
    ("bad-quotes", lambda p: p.write_text(p.read_text().replace(",", ',"', 3))),
    ("bom", lambda p: p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())),
    ("semicolon", lambda p: p.write_text(p.read_text().replace(",", ";"))),
    ("dup-columns", lambda p: p.write_text("\n".join(
        ln + "," + ln.split(",")[0] for ln in p.read_text().splitlines()) + "\n")),
    ("binary", lambda p: p.write_bytes(os.urandom(5000))),
    ("zero-bytes", lambda p: p.write_bytes(b"")),
    ("utf16", lambda p: p.write_bytes(p.read_text().encode("utf-16"))),
    ("crlf", lambda p: p.write_bytes(p.read_bytes().replace(b"\n", b"\r\n"))),
    ("huge-field", None),
    ("missing-column", None),
    ("dup-key", None),
    ("ragged-rows", lambda p: p.write_text(p.read_text() + "a,b,c,d,e,f,g,h,i,j,k,l\n")),
]  # fmt: skip
_OK_MALFORMED = {"bom", "crlf", "huge-field"}

for _tbl in ("stops", "history"):
    for _kind, _mk in MALFORMED:

        def _f(ctx, wd, tbl=_tbl, kind=_kind, mk=_mk):
            d = scn(ctx, wd)
            p = d / f"{tbl}.csv"
            key = {"stops": "stop_id", "history": "region_id", "skus": "sku_id"}[tbl]
            if kind == "huge-field":
                set_cell(p, "name" if tbl != "history" else key, "N" * 10_000_000)
            elif kind == "missing-column":
                req = {"stops": "lat", "history": "y", "skus": "unit_volume_m3"}[tbl]
                edit_csv(p, lambda rows: [{k: v for k, v in r.items() if k != req}
                                          for r in rows])  # fmt: skip
            elif kind == "dup-key":
                edit_csv(p, lambda rows: [*rows, dict(rows[0])])
            else:
                mk(p)
            return _run_for_table(ctx, wd, d, tbl)

        _exp = "ok_or_bad" if _kind in _OK_MALFORMED else "bad"
        add(f"csv-{_tbl}-{_kind}", "extra", f"{_tbl}.csv {_kind.replace('-', ' ')}", _exp, _f)


for _cid, _tbl, _desc, _mk in (
    ("parquet-garbage", "stops", "stops.parquet that is not Parquet",
     lambda d: (d / "stops.parquet").write_bytes(b"PAR1" + os.urandom(3000))),
    ("ext-xlsx", "stops", "stops.xlsx (unsupported extension)",
     lambda d: shutil.copy(d / "stops.csv", d / "stops.xlsx")),
    ("ext-txt", "stops", "stops.txt (CSV content, .txt extension)",
     lambda d: shutil.copy(d / "stops.csv", d / "stops.txt")),
):  # fmt: skip

    def _f(ctx, wd, mk=_mk):
        d = scn(ctx, wd)
        mk(d)
        stops = next(p for p in d.iterdir() if p.stem == "stops" and p.suffix != ".csv")
        out = wd / "out"
        return ctx.run(route_args(stops, d / "fleet.csv", out, roads=d / "roads.osm.bz2"), wd,
                       out)  # fmt: skip

    add(_cid, "extra", f"route --stops {_desc}", "ok_or_bad" if _cid == "ext-txt" else "bad", _f)


@case("parquet-wrong-dtype", "extra", "route --stops parquet with lat stored as text",
      "ok_or_bad")  # fmt: skip
def _(ctx, wd):
    d = scn(ctx, wd)
    code = ("import pandas as pd,sys; d=pd.read_csv(sys.argv[1], dtype=str); "
            "d.loc[0,'lat']='north'; d.to_parquet(sys.argv[2])")  # fmt: skip
    subprocess.run([ctx.python, "-c", code, d / "stops.csv", d / "stops.parquet"], check=True)
    out = wd / "out"
    return ctx.run(route_args(d / "stops.parquet", d / "fleet.csv", out,
                              roads=d / "roads.osm.bz2"), wd, out)  # fmt: skip


VALUE_CASES = [
    ("val-stops-neg-demand", "stops", "demand_units", "-5", "bad"),
    ("val-stops-neg-service", "stops", "service_min", "-3", "bad"),
    ("val-stops-lat-95", "stops", "lat", "95", "bad"),
    ("val-stops-far", "stops", "lat", "0", "bad"),
    ("val-stops-tw-8am", "stops", "tw_start", "8am", "bad"),
    ("val-stops-tw-reversed", "stops", "tw_start", "17:00", "ok_or_bad"),
    ("val-stops-tw-2500", "stops", "tw_end", "25:00", "ok"),  # 01:00 the next day
    ("val-stops-demand-text", "stops", "demand_units", "lots", "bad"),
    ("val-stops-demand-huge", "stops", "demand_units", "1e12", "ok_or_bad"),
    ("val-fleet-neg-capacity", "fleet", "capacity_units", "-1", "bad"),
    ("val-fleet-zero-capacity", "fleet", "capacity_units", "0", "ok_or_bad"),
    ("val-fleet-shift-reversed", "fleet", "shift_start", "19:00", "bad"),
    ("val-fleet-neg-cost", "fleet", "cost_per_km", "-1", "bad"),
    ("val-history-neg-y", "history", "y", "-1", "ok_or_bad"),
    ("val-history-date-bad", "history", "ds", "2021-02-30", "bad"),
    ("val-history-date-text", "history", "ds", "yesterday", "bad"),
    ("val-history-y-text", "history", "y", "twelve", "bad"),
    ("val-weather-date-bad", "weather", "ds", "2021-13-01", "bad"),
    ("val-skus-neg-volume", "skus", "unit_volume_m3", "-0.01", "bad"),
    ("val-skus-zero-volume", "skus", "unit_volume_m3", "0", "ok_or_bad"),
    ("val-inventory-neg", "inventory", "on_hand_units", "-1", "bad"),
    ("val-inventory-unknown-fc", "inventory", "fc_id", "NOPE", "bad"),
    ("val-inventory-unknown-sku", "inventory", "sku_id", "NOPE", "bad"),
    ("val-supply-unknown-sku", "supply", "sku_id", "NOPE", "bad"),
    ("val-supply-neg", "supply", "available_units", "-10", "bad"),
    ("val-fcs-neg-capacity", "fcs", "capacity_units", "-100", "bad"),
    ("val-fcs-lon-200", "fcs", "lon", "200", "bad"),
    ("val-fcs-dup-id", "fcs", "fc_id", "F2", "bad"),
]  # fmt: skip
for _cid, _tbl, _col, _val, _exp in VALUE_CASES:

    def _f(ctx, wd, tbl=_tbl, col=_col, val=_val):
        d = scn(ctx, wd)
        set_cell(d / f"{tbl}.csv", col, val)
        return _run_for_table(ctx, wd, d, tbl)

    add(_cid, "extra", f"{_tbl}.csv {_col} = {_val} through its command", _exp, _f)


@case("fleet-unknown-depot-plan", "extra", "plan: fleet depot_id not an FC while depot_fc set",
      "ok_or_bad")  # fmt: skip
def _(ctx, wd):
    d = scn(ctx, wd)
    edit_csv(d / "fleet.csv", lambda rows: [r.__setitem__("depot_id", "ZZ") for r in rows])
    return run_plan(ctx, wd, d)


@case("history-unknown-sku-plan", "extra", "plan: history has a SKU missing from skus.csv")
def _(ctx, wd):
    d = scn(ctx, wd)
    edit_csv(d / "skus.csv", lambda rows: rows[:1])
    return run_plan(ctx, wd, d)


for _cid, _desc, _mk in (
    ("roads-empty", "an empty .osm.pbf", lambda p: p.write_bytes(b"")),
    ("roads-garbage-pbf", "garbage .osm.pbf", lambda p: p.write_bytes(os.urandom(4000))),
    ("roads-garbage-graphml", "garbage .graphml", lambda p: p.write_text("<graphml><nope")),
    ("roads-ext", "a .shp road file", lambda p: p.write_bytes(b"x")),
    ("roads-missing", "a missing road file", None),
):

    def _f(ctx, wd, mk=_mk, cid=_cid):
        d = scn(ctx, wd)
        ext = {"roads-garbage-graphml": ".graphml", "roads-ext": ".shp"}.get(cid, ".osm.pbf")
        roads = wd / f"roads{ext}"
        if mk:
            mk(roads)
        out = wd / "out"
        return ctx.run(route_args(d / "stops.csv", d / "fleet.csv", out, roads=roads), wd, out)

    add(_cid, "extra", f"route --roads {_desc}", "bad", _f)


@case("roads-no-highways", "extra", "route --roads an .osm file with no highways")
def _(ctx, wd):
    d = scn(ctx, wd)
    roads = wd / "nohw.osm"
    roads.write_text('<?xml version="1.0"?><osm version="0.6">'
                     '<node id="1" version="1" lat="45.5" lon="-122.6"/></osm>')  # fmt: skip
    out = wd / "out"
    return ctx.run(route_args(d / "stops.csv", d / "fleet.csv", out, roads=roads), wd, out)


OPTION_CASES = [
    ("opt-forecast-models", "forecast", ["--models", "Bogus"]),
    ("opt-forecast-metric", "forecast", ["--metric", "bogus"]),
    ("opt-forecast-freq", "forecast", ["--freq", "XYZ"]),
    ("opt-forecast-engine", "forecast", ["--engine", "bogus"]),
    ("opt-forecast-selection", "forecast", ["--selection", "bogus"]),
    ("opt-forecast-fillgaps", "forecast", ["--fill-gaps", "mean"]),
    ("opt-forecast-out-ext", "forecast-ext", []),
    ("opt-forecast-windows0", "forecast", ["--windows", "0"]),
    ("opt-route-time-limit0", "route", ["--time-limit", "0"]),
    ("opt-route-time-limit-nan", "route", ["--time-limit", "nan"]),
    ("opt-route-date", "route", ["--date", "2022-02-30"]),
    ("opt-route-depart", "route", ["--depart", "8am"]),
    ("opt-route-depart-25", "route", ["--depart", "25:00"]),
    ("opt-route-engine", "route", ["--engine", "bogus"]),
    ("opt-route-snap-neg", "route", ["--max-snap-m", "-1"]),
    ("opt-place-window0", "place", ["--window-days", "0"]),
    ("opt-place-window-nan", "place", ["--window-days", "nan"]),
    ("opt-place-plan-date", "place", ["--plan-date", "2022-13-01"]),
    ("opt-place-promise-neg", "place", ["--promise-days", "-1"]),
    ("opt-validate-kind", "validate", ["--kind", "bogus"]),
    ("opt-route-instance", "instance", []),
]
for _cid, _cmd, _opt in OPTION_CASES:

    def _f(ctx, wd, cmd=_cmd, opt=_opt):
        if cmd == "forecast":
            return run_forecast(ctx, wd, extra=opt)
        if cmd == "forecast-ext":
            out = wd / "out"
            return ctx.run(["forecast", ctx.fx / "scn" / "history.csv", "--horizon", "4",
                            "--out", out / "fc.xlsx"], wd, out)  # fmt: skip
        if cmd == "route":
            return run_route(ctx, wd, extra=opt)
        if cmd == "place":
            return run_place(ctx, wd, extra=opt)
        if cmd == "instance":
            (wd / "x.vrp").write_text("NAME : x\nDIMENSION : banana\n")
            out = wd / "out"
            return ctx.run(["route", "--instance", wd / "x.vrp", "--time-limit", "1",
                            "--sol-out", out / "x.sol"], wd, out)  # fmt: skip
        return run_validate(ctx, wd, ctx.fx / "scn" / "stops.csv", opt[1])

    add(_cid, "extra", f"{_cmd} {' '.join(_opt)}".strip(), "bad", _f)


@case("missing-history", "extra", "forecast a history file that does not exist")
def _(ctx, wd):
    return run_forecast(ctx, wd, wd / "nope.csv")


@case("validate-unknown-name", "extra", "validate a file whose kind cannot be guessed")
def _(ctx, wd):
    shutil.copy(ctx.fx / "scn" / "stops.csv", wd / "mystery.csv")
    return run_validate(ctx, wd, wd / "mystery.csv")


@case("hostile-validate-msg", "1", "validate a stops file whose bad cell holds escape codes: "
      "console line is clean", "bad")  # fmt: skip
def _(ctx, wd):
    d = scn(ctx, wd)
    set_cell(d / "stops.csv", "demand_units", "\x1b[2J\x1b[31mBOOM")
    r = run_validate(ctx, wd, d / "stops.csv", "stops")
    r["checks"] = {"no_escape_codes": "\x1b[2J" not in r["_stderr"] + r["_stdout"]}
    return r


# ---------------------------------------------------------------------------- verdicts


def message_ok(r: dict[str, Any]) -> bool:
    """Exit 2, one line, no traceback — whatever is left in --out (the looser count)."""
    one = r.get("stderr_lines") == 1 or (r.get("lists_problems") and r.get("stderr_lines"))
    return r.get("exit") == 2 and not r.get("traceback") and bool(one)


def verdict(c: Case, r: dict[str, Any]) -> bool:
    ex, tb = r.get("exit"), r.get("traceback")
    failed_clean = not r.get("new_files") and not r.get("staging_left") and not r.get("out_created")
    one_line = r.get("stderr_lines") == 1 or (r.get("lists_problems") and r.get("stderr_lines"))
    bad_ok = ex == 2 and not tb and bool(one_line) and failed_clean
    ok_ok = ex == 0 and not tb
    checks = all((r.get("checks") or {}).values())
    if c.expect == "bad":
        return bad_ok and checks
    if c.expect == "ok":
        return ok_ok and checks
    if c.expect == "ok_or_bad":
        return (bad_ok or ok_ok) and checks
    if c.expect == "sigint":
        return ex == 130 and not tb and checks
    if c.expect == "sigterm":
        return ex == 143 and not tb and checks
    return checks and not tb


def run_case(ctx: Ctx, c: Case) -> dict[str, Any]:
    wd = ctx.root / "cases" / c.id
    wd.mkdir(parents=True)
    t0 = time.monotonic()
    try:
        r = c.fn(ctx, wd)
    except Exception as exc:  # a harness problem: record it, keep going
        r = {"exit": "harness-error", "stderr_first": f"{type(exc).__name__}: {exc}"[:300],
             "traceback": False, "stderr_lines": 0}  # fmt: skip
    r.pop("_stderr", None)
    r.pop("_stdout", None)
    rec = {"id": c.id, "item": c.item, "desc": c.desc, "expect": c.expect, **r}
    rec["case_s"] = round(time.monotonic() - t0, 1)
    rec["met"] = verdict(c, r)
    return rec


# ---------------------------------------------------------------------------- markdown


def _cell(v: Any, n: int = 90) -> str:
    s = str(v if v is not None else "")
    s = s.replace("\x1b", "\\x1b").replace("\n", " ")
    s = s[:n] + ("…" if len(s) > n else "")
    return s.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _left(r: dict[str, Any]) -> str:
    parts = []
    if r.get("n_files_left"):
        parts.append(f"{r['n_files_left']} files")
    if r.get("new_files") and r.get("exit") not in (0, "0/0"):
        parts.append("NEW: " + ", ".join(r["new_files"][:3]))
    if r.get("staging_left"):
        parts.append("staging")
    if r.get("out_created") and not r.get("n_files_left"):
        parts.append("empty dir")
    return "; ".join(parts)


def _checks(r: dict[str, Any]) -> str:
    return ", ".join(f"{k}={'y' if v else 'N'}" for k, v in (r.get("checks") or {}).items())


def _only_empty_out(r: dict[str, Any]) -> bool:
    """A bad-input case that fails the target only by leaving an empty --out folder."""
    return (
        not r["met"]
        and r["expect"] in ("bad", "ok_or_bad")
        and message_ok(r)
        and r.get("out_created")
        and not r.get("new_files")
        and not r.get("staging_left")
        and all((r.get("checks") or {}).values())
    )


def markdown(label: str, recs: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    met = sum(r["met"] for r in recs)
    empty = sum(_only_empty_out(r) for r in recs)
    lines = [
        f"# Fault cases — {label}",
        "",
        f"Source tree `{meta['src']}` (commit `{meta['commit']}`), {meta['date']}; "
        f"{len(recs)} cases, **{met} meet the target**, {len(recs) - met} do not; of these, "
        f"{empty} give the right exit code and one-line message but leave an empty --out "
        f"folder (issue item 17). Total {meta['total_s']:.0f} s.",
        "",
        "Target: bad input / environment → exit 2, one stderr line, no traceback, nothing left "
        "in --out; valid input → exit 0; signals → 130/143 with no worker or staging folder "
        "left; plus each case's checks. `$T` is the temporary root. Generated by "
        "`benchmarks/faults.py`.",
        "",
        "| id | item | case | expect | exit | message (first error line) | tb | lines | left | s "
        "| MB | checks | met |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in recs:
        lines.append(
            "| "
            + " | ".join(
                [
                    _cell(r["id"], 40),
                    r["item"],
                    _cell(r["desc"], 80),
                    r["expect"],
                    _cell(r.get("exit")),
                    _cell(r.get("message") or r.get("stderr_first"), 110),
                    "TB" if r.get("traceback") else "",
                    str(r.get("stderr_lines", "")),
                    _cell(_left(r), 60),
                    str(r.get("elapsed_s", "")),
                    str(r.get("peak_rss_mb") or ""),
                    _cell(_checks(r), 80),
                    "yes" if r["met"] else "**no**",
                ]
            )
            + " |"
        )
    lines += ["", "Commands (exact):", ""]
    lines += [f"- `{r['id']}`: `{_cell(r.get('cmd', ''), 400)}`" for r in recs]
    return "\n".join(lines) + "\n"


def compare(a: str, b: str) -> Path:
    def load(label):
        with open(RESULTS / f"{label}.jsonl") as f:
            return {r["id"]: r for r in map(json.loads, f)}

    ra, rb = load(a), load(b)
    ids = list(ra) + [i for i in rb if i not in ra]
    ma = sum(r["met"] for r in ra.values())
    mb = sum(r["met"] for r in rb.values())
    lines = [
        f"# Fault cases — {a} vs {b}",
        "",
        f"{len(ra)} cases in {a} ({ma} meet the target, "
        f"{sum(map(_only_empty_out, ra.values()))} more only leave an empty --out), "
        f"{len(rb)} in {b} ({mb} meet it, {sum(map(_only_empty_out, rb.values()))} more only "
        "leave an empty --out).",
        "",
        f"| case | item | {a}: exit / message / left | {b}: exit / message / left | verdict |",
        "|---|---|---|---|---|",
    ]
    for i in ids:
        x, y = ra.get(i), rb.get(i)

        def show(r):
            if r is None:
                return "—"
            tb = " TB" if r.get("traceback") else ""
            left = _left(r)
            text = f"{r.get('exit')}{tb} / {r.get('message') or r.get('stderr_first', '')}"
            failed = [k for k, v in (r.get("checks") or {}).items() if not v]
            text += f" / {left}" if left else ""
            text += f" / failed: {', '.join(failed)}" if failed else ""
            return _cell(text, 170)

        if y is None:
            v = "not run"
        elif y["met"]:
            v = "target met" + ("" if x and x["met"] else " (fixed)")
        else:
            v = "**not met**" + (" (regressed)" if x and x["met"] else "")
        desc = (y or x)["desc"]
        lines.append(f"| `{i}` {_cell(desc, 70)} | {(y or x)['item']} | {show(x)} | {show(y)} "
                     f"| {v} |")  # fmt: skip
    path = RESULTS / f"compare-{a}-{b}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------------------- main


def installed_tree(ctx: Ctx) -> tuple[str, str]:
    """Where the environment's ``shipahead.cli`` comes from, and that tree's git commit.

    An editable install points into a source tree (its commit is recorded); a wheel install
    points into site-packages (no commit).
    """
    code = "import pathlib, shipahead.cli as c; print(pathlib.Path(c.__file__).resolve().parent)"
    r = subprocess.run([ctx.python, "-c", code], capture_output=True, text=True,
                       env=ctx.env(ctx.root), cwd=ctx.root, check=True)  # fmt: skip
    tree = Path(r.stdout.strip()).parent
    commit = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    return str(tree), commit


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--venv",
        type=Path,
        default=Path(sys.prefix),
        help="virtual environment whose shipahead console script is run (default: this one)",
    )
    ap.add_argument("--label", help="results name (benchmarks/results/faults/LABEL.*)")
    ap.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    ap.add_argument("--only", help="regex on case ids")
    ap.add_argument("--timeout", type=float, default=120.0, help="per case, seconds")
    ap.add_argument("--jobs", type=int, default=1, help="cases in parallel (only 1)")
    ap.add_argument(
        "--src",
        "--fixtures-src",
        dest="src",
        type=Path,
        default=REPO,
        help="tree whose tests/ build the inputs (default: this script's repository)",
    )
    ap.add_argument("--bomb-mb", type=int, default=200, help="expanded size of the bz2 bomb")
    ap.add_argument("--mem-cap-gb", type=float, default=4.0)
    ap.add_argument("--keep", action="store_true", help="keep the temporary root")
    ap.add_argument(
        "--update",
        action="store_true",
        help="rerun the selected cases and replace them in an existing LABEL.jsonl",
    )
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--render", metavar="LABEL", help="rewrite LABEL.md from LABEL.jsonl")
    args = ap.parse_args(argv)
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    if args.list:
        for c in CASES:
            print(f"{c.id}\t{c.item}\t{c.expect}\t{c.desc}")
        print(f"{len(CASES)} cases", file=sys.stderr)
        return 0
    if args.compare:
        print(compare(*args.compare))
        return 0
    if args.render:
        recs = [json.loads(ln) for ln in (RESULTS / f"{args.render}.jsonl").open()]
        md = RESULTS / f"{args.render}.md"
        head = md.read_text().split("\n")[2] if md.exists() else ""
        m = re.match(r"Source tree `(.*?)` \(commit `(.*?)`\), (.*? UTC)", head)
        meta = {
            "src": m.group(1) if m else "?",
            "commit": m.group(2) if m else "?",
            "date": m.group(3) if m else "?",
            "total_s": sum(r.get("case_s", 0) for r in recs),
        }
        md.write_text(markdown(args.render, recs, meta))
        print(md)
        return 0
    if not args.label:
        ap.error("--label is needed (or --compare / --list / --render)")
    if args.jobs != 1:
        ap.error("--jobs: only 1 is supported")
    cases = [c for c in CASES if not args.only or re.search(args.only, c.id)]
    venv = args.venv.absolute()
    root = Path(tempfile.mkdtemp(prefix="shipahead-faults-"))
    ctx = Ctx(venv, root, args.timeout, args.mem_cap_gb)
    if not Path(ctx.shipahead).exists():
        ap.error(f"--venv: no shipahead console script in {venv} (pip install shipahead there)")
    t0 = time.monotonic()
    src, commit = installed_tree(ctx)
    print(f"{len(cases)} cases against {src} ({commit}); root {root}", file=sys.stderr)
    build_fixtures(ctx, args.src.resolve(), args.bomb_mb)
    RESULTS.mkdir(parents=True, exist_ok=True)
    recs = []
    jsonl = RESULTS / f"{args.label}.jsonl"
    old: dict[str, dict[str, Any]] = {}
    if args.update and jsonl.exists():
        old = {r["id"]: r for r in map(json.loads, jsonl.read_text().splitlines())}
        jsonl = RESULTS / f"{args.label}.update.jsonl"
    with open(jsonl, "w") as f:
        for i, c in enumerate(cases, 1):
            rec = run_case(ctx, c)
            recs.append(rec)
            f.write(json.dumps(rec, default=str) + "\n")
            f.flush()
            print(f"[{i}/{len(cases)}] {c.id}: exit {rec.get('exit')} "
                  f"{'met' if rec['met'] else 'NOT met'} ({rec['case_s']} s)",
                  file=sys.stderr)  # fmt: skip
    meta = {
        "src": str(src),
        "commit": commit,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "total_s": time.monotonic() - t0,
    }
    if old:
        new = {r["id"]: r for r in recs}
        recs = [new.get(c.id, old.get(c.id)) for c in CASES if c.id in new or c.id in old]
        jsonl.unlink()
        jsonl = RESULTS / f"{args.label}.jsonl"
        jsonl.write_text("".join(json.dumps(r, default=str) + "\n" for r in recs))
        meta["total_s"] = sum(r.get("case_s", 0) for r in recs)
    md = markdown(args.label, recs, meta)
    (RESULTS / f"{args.label}.md").write_text(md)
    met = sum(r["met"] for r in recs)
    print(f"{len(recs)} cases, {met} meet the target → {jsonl}", file=sys.stderr)
    if args.keep:
        print(f"kept {root}", file=sys.stderr)
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

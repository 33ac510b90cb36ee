"""Packaging: the wheel (and the editable install) put exactly one import name, ``shipahead``.

The repository keeps its top-level folders ``forecasting/``, ``placement/``, ``routing/`` and
``cli/``; pyproject.toml maps them into the ``shipahead`` namespace. A user who installs the
wheel must get ``shipahead.routing`` and no ``routing``, ``cli``, … that collide with other
packages of those names.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("forecasting", "placement", "routing", "cli", "store")
# what a wheel build reads from the source tree
SOURCES = ("pyproject.toml", "README.md", "shipahead", *PARTS)


def _can_build_offline() -> bool:
    """True if this environment's setuptools (≥ 68) and wheel can build without isolation."""
    try:
        import setuptools
        import wheel  # noqa: F401
    except ModuleNotFoundError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 68


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stdout}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel from a copy of the sources (the build writes build/ and egg-info)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in SOURCES:
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=ignore)
        else:
            shutil.copy2(p, src / name)
    dist = tmp / "dist"
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)]
    if _can_build_offline():
        cmd.insert(4, "--no-build-isolation")
    _run(cmd, cwd=tmp)
    (whl,) = dist.glob("shipahead-*.whl")
    return whl


def test_wheel_holds_only_the_shipahead_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert len(dist_info) == 1 and top - dist_info == {"shipahead"}, sorted(top)
    for part in PARTS:
        assert f"shipahead/{part}/__init__.py" in names
    assert "shipahead/routing/engines/__init__.py" in names
    leaflet = {n.rsplit("/", 1)[1] for n in names if n.startswith("shipahead/routing/_assets/")}
    assert {"leaflet.js", "leaflet.css", "LICENSE"} <= leaflet
    (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")] or [None]
    if top_level:
        assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["shipahead"]


_PROBE = """
import importlib.util, json, sys, sysconfig
site = sysconfig.get_paths()["purelib"]
spec = importlib.util.find_spec("shipahead.routing")
print(json.dumps({
    "site": site,
    "routing": spec and spec.origin,
    "bare": {n: importlib.util.find_spec(n) is not None for n in sys.argv[1:]},
}))
"""


def test_wheel_installs_one_import_name_in_a_fresh_environment(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(env_dir)
    py = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    # the outer pip installs into the fresh environment; --no-deps: nothing is downloaded
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "-q",
            "--no-deps",
            str(wheel),
        ],
        cwd=tmp_path,
    )
    # run from an empty folder: the source tree's folders must not be on the path
    out = _run([str(py), "-c", _PROBE, *PARTS], cwd=tmp_path).stdout
    probe = json.loads(out.strip().splitlines()[-1])
    site = Path(probe["site"]).resolve()
    assert probe["routing"] is not None
    assert Path(probe["routing"]).resolve().is_relative_to(site / "shipahead" / "routing")
    assert probe["bare"] == dict.fromkeys(PARTS, False)


def test_the_installed_distribution_names_only_shipahead(tmp_path: Path) -> None:
    # the (editable) install this suite runs on: its distribution provides one top-level name
    provided = sorted(
        name
        for name, dists in importlib.metadata.packages_distributions().items()
        if "shipahead" in dists
    )
    assert provided == ["shipahead"]
    # and, away from the source tree (pytest puts the repository on sys.path), only
    # shipahead.* resolves: the install adds no bare `routing`, `cli`, …
    out = _run([sys.executable, "-c", _PROBE, *PARTS], cwd=tmp_path).stdout
    probe = json.loads(out.strip().splitlines()[-1])
    assert probe["routing"] is not None  # the repository's routing/ (editable) or site-packages
    assert probe["bare"] == dict.fromkeys(PARTS, False)

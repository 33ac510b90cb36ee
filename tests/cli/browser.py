"""Headless Chromium helpers for the report tests (Debian's `chromium`)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=5000",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(binary: str, page: Path, extra: list[str]) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [binary, *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def dump_dom(binary: str, page: Path) -> tuple[str, list[str]]:
    """The DOM after load and scripts, and the console error lines Chromium logged."""
    res = _run(binary, page, ["--dump-dom"])
    errors = [
        ln
        for ln in res.stderr.splitlines()
        if "CONSOLE" in ln and re.search(r"(ERROR|Uncaught|error)", ln)
    ]
    return res.stdout, errors


def screenshot(binary: str, page: Path, png: Path, size: str = "1280,2400") -> None:
    _run(binary, page, [f"--screenshot={png}", f"--window-size={size}", "--hide-scrollbars"])

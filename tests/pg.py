"""A real, throw-away PostgreSQL for the database tests.

`.ci/run` starts one and exports ``SHIPAHEAD_TEST_PG_URL`` (and ``SHIPAHEAD_REQUIRE_PG=1`` so a
missing server fails the run instead of skipping). Run locally without that variable, the
fixture starts its own cluster in a temporary folder from Debian's ``postgresql`` binaries
(as the ``postgres`` user when the tests run as root) and stops it at the end.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _binary_dir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """One PostgreSQL cluster in a temporary folder, listening on 127.0.0.1 (trust auth)."""

    def __init__(self) -> None:
        bindir = _binary_dir()
        if bindir is None:
            raise RuntimeError("no PostgreSQL binaries (install Debian's postgresql package)")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="shipahead-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            self.prefix = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
        self.user = "postgres" if self.prefix else os.environ.get("USER", "postgres")

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.prefix, *args], check=True, capture_output=True, text=True, timeout=120
        )

    def start(self) -> str:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

"""A real ``shipahead serve`` process: refused starts, kill -9 durability, the event stream."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.service.conftest import small_problem

SERVE = [sys.executable, "-m", "shipahead.cli.app", "serve"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One ``shipahead serve`` subprocess on a SQLite file (own session: killable as a group)."""

    def __init__(self, db: Path, *extra: str) -> None:
        self.db = db
        self.port = _free_port()
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None
        self.log = db.with_name(f"serve-{self.port}.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*SERVE, "--db", f"sqlite:///{self.db}", "--port", str(self.port), *self.extra],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if self.call("GET", "/health")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("server did not start in 120 s")

    def kill9(self) -> None:
        """SIGKILL the server process itself (its solver processes are orphaned, as in life)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def leftovers(self, wait_s: float = 30) -> list[int]:
        """Processes of the killed server's session still alive after ``wait_s`` seconds."""
        import psutil

        assert self.process is not None
        session = self.process.pid  # start_new_session: the session id is the server's pid
        deadline = time.monotonic() + wait_s
        while True:
            alive = []
            for proc in psutil.process_iter():
                with contextlib.suppress(psutil.Error, ProcessLookupError):
                    if os.getsid(proc.pid) == session:
                        alive.append(proc.pid)
            if not alive or time.monotonic() > deadline:
                return alive
            time.sleep(0.5)

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def _settle(server: Server, plan_ids: list[str], timeout: float = 180) -> dict[str, dict]:
    """Wait until no plan is queued or solving; returns the plans."""
    deadline = time.monotonic() + timeout
    plans: dict[str, dict] = {}
    while time.monotonic() < deadline:
        plans = {p: server.call("GET", f"/v1/plans/{p}")[1] for p in plan_ids}
        if all(p["status"] in ("finished", "failed") for p in plans.values()):
            pending = [
                e
                for p in plan_ids
                for e in server.call("GET", f"/v1/plans/{p}/events")[1]["events"]
                if e["revision"] > 0 and not e["applied"]
            ]
            if not pending:
                return plans
        time.sleep(0.2)
    raise AssertionError(f"plans still unsettled after {timeout} s: {plans}")


def test_refused_starts_are_one_line_exit_2(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    cases = [
        (["--host", "0.0.0.0", "--db", db], "no --token is set"),
        (["--db", "postgresql://u:hunter2@127.0.0.1:1/x?connect_timeout=2"], "cannot open"),
        (["--db", db, "--roads", str(tmp_path / "missing.osm.pbf")], "file not found"),
        (["--db", db, "--workers", "0"], "--workers"),
    ]
    for args, says in cases:
        done = subprocess.run([*SERVE, *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and says in lines[0], (args, done.stderr)
        assert "hunter2" not in done.stderr


def test_kill_9_loses_nothing_and_leaves_nothing_solving(tmp_path: Path, servers) -> None:
    db = tmp_path / "dispatch.db"
    server = Server(db, "--workers", "1")
    servers.append(server)
    server.start()
    ids = []
    for _ in range(3):
        status, body = server.call("POST", "/v1/plans", small_problem())
        assert status == 202
        ids.append(body["id"])
    server.kill9()  # plans accepted, maybe one solving: nothing may be lost
    assert server.leftovers() == []  # its solver processes followed it
    server.start()
    plans = _settle(server, ids)
    assert all(p["status"] == "finished" and p["revision"] == 1 for p in plans.values())

    target = ids[0]
    accepted = []
    for k, job in enumerate((2, 3)):
        event = {"event_id": f"k{k}", "type": "stop_cancelled", "at": 28800, "job_id": job}
        status, body = server.call("POST", f"/v1/plans/{target}/events", [event])
        assert status == 202, body
        accepted.append(event["event_id"])
    server.kill9()  # events accepted, the re-plan coalescing or solving
    server.start()
    plans = _settle(server, ids)
    events = server.call("GET", f"/v1/plans/{target}/events")[1]["events"]
    assert [e["event"]["event_id"] for e in events] == accepted
    assert all(e["applied"] for e in events)
    plan = plans[target]
    assert plan["status"] == "finished" and plan["revision"] >= 2
    served = {s["id"] for r in plan["solution"]["routes"] for s in r["steps"] if s["type"] == "job"}
    assert served == {1, 4, 5}
    for n in range(1, plan["revision"] + 1):  # every finished revision is still there
        assert server.call("GET", f"/v1/plans/{target}/revisions/{n}")[0] == 200


def test_stream_announces_a_new_revision(tmp_path: Path, servers) -> None:
    server = Server(tmp_path / "dispatch.db", "--workers", "1")
    servers.append(server)
    server.start()
    plan_id = server.call("POST", "/v1/plans", small_problem())[1]["id"]
    _settle(server, [plan_id])
    stream = urllib.request.urlopen(f"{server.url}/v1/plans/{plan_id}/stream", timeout=60)
    assert stream.headers["content-type"].startswith("text/event-stream")

    def next_event() -> tuple[str, dict]:
        kind = ""
        while True:
            line = stream.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind:
                return kind, json.loads(line[6:])

    kind, data = next_event()
    assert kind == "plan" and data["revision"] == 1 and data["status"] == "finished"
    event = {"event_id": "s1", "type": "stop_cancelled", "at": 28800, "job_id": 5}
    assert server.call("POST", f"/v1/plans/{plan_id}/events", [event])[0] == 202
    seen = []
    while ("revision", 2) not in seen:
        kind, data = next_event()
        seen.append((kind, data["revision"]))
    assert ("status", 1) in seen  # queued/solving announced before the revision landed
    server.call("DELETE", f"/v1/plans/{plan_id}")
    while kind != "deleted":
        kind, data = next_event()
    stream.close()

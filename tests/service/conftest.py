"""Fixtures of the dispatch service tests: a small matrices problem and a running app."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from shipahead.service import ServiceLimits, ServiceSettings, create_app

# a depot (index 0) and five stops on a line, 10 minutes apart; 2 vehicles of capacity 4
_N = 6
_DUR = [[600 * abs(i - j) for j in range(_N)] for i in range(_N)]
_DIST = [[5000 * abs(i - j) for j in range(_N)] for i in range(_N)]

SMALL_PROBLEM: dict[str, Any] = {
    "jobs": [
        {
            "id": k,
            "location_index": k,
            "service": 300,
            "delivery": [1],
            "time_windows": [[28800, 64800]],
            "description": f"stop {k}",
        }
        for k in range(1, _N)
    ],
    "vehicles": [
        {
            "id": v,
            "start_index": 0,
            "end_index": 0,
            "capacity": [4],
            "time_window": [28800, 64800],
            "description": f"van {v}",
        }
        for v in (1, 2)
    ],
    "matrices": {"car": {"durations": _DUR, "distances": _DIST}},
    "options": {"time_limit_s": 1, "seed": 1},
}


def small_problem(**changes: Any) -> dict[str, Any]:
    """A fresh copy of :data:`SMALL_PROBLEM` with top-level keys replaced."""
    doc = copy.deepcopy(SMALL_PROBLEM)
    doc.update(changes)
    return doc


def settings_for(tmp: Path, **changes: Any) -> ServiceSettings:
    """Settings for tests: a SQLite file in ``tmp``, one solver process, fast polling."""
    base: dict[str, Any] = {
        "db": f"sqlite:///{tmp / 'dispatch.db'}",
        "workers": 1,
        "poll_s": 0.05,
        "coalesce_s": 0.3,
        "limits": ServiceLimits(request_bytes=256 * 1024, plan_jobs=50, plan_vehicles=10),
    }
    base.update(changes)
    return ServiceSettings(**base)


def wait_for(
    client: TestClient, plan_id: str, *, revision: int = 1, timeout: float = 120.0
) -> dict[str, Any]:
    """Poll the plan until it has ``revision`` and is settled (finished/failed)."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(f"/v1/plans/{plan_id}").json()
        if body["status"] == "failed":
            return body
        if body["status"] == "finished" and body["revision"] >= revision:
            return body
        time.sleep(0.05)
    raise AssertionError(f"plan {plan_id} did not reach revision {revision}: {body}")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One running app (store, solver process) shared by a test module."""
    app = create_app(settings_for(tmp_path_factory.mktemp("service")))
    with TestClient(app) as client:
        yield client

"""The dispatch API's contract (FastAPI TestClient, SQLite, a real solver process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from shipahead.service import create_app
from shipahead.service.app import vehicle_changes

from tests.service.conftest import settings_for, small_problem, wait_for


def _count(client: TestClient) -> int:
    return len(client.get("/v1/plans").json()["plans"])


def _one_line(response) -> str:
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail, detail
    return detail


def _stops(solution: dict) -> dict[str, list[int]]:
    return {
        str(r["vehicle"]): [s["id"] for s in r["steps"] if s["type"] == "job"]
        for r in solution["routes"]
    }


@pytest.fixture(scope="module")
def solved(service: TestClient) -> str:
    """A plan of the small problem, solved (revision 1)."""
    answer = service.post("/v1/plans", json=small_problem())
    assert answer.status_code == 202, answer.text
    plan_id = answer.json()["id"]
    assert wait_for(service, plan_id)["status"] == "finished"
    return plan_id


def test_health(service: TestClient) -> None:
    body = service.get("/health").json()
    assert body["status"] == "ok" and body["database"] == "sqlite"
    assert body["road_network"] is False and body["workers"] == 1


def test_post_then_get_a_vroom_solution(service: TestClient) -> None:
    answer = service.post("/v1/plans", json=small_problem())
    assert answer.status_code == 202
    body = answer.json()
    assert body["status"] == "queued" and set(body) == {"id", "status"}
    assert answer.headers["location"] == f"/v1/plans/{body['id']}"
    plan = wait_for(service, body["id"])
    assert plan["status"] == "finished" and plan["revision"] == 1 and plan["error"] is None
    solution = plan["solution"]
    assert solution["code"] == 0 and solution["unassigned"] == []
    served = sorted(j for stops in _stops(solution).values() for j in stops)
    assert served == [1, 2, 3, 4, 5]
    for route in solution["routes"]:
        assert sum(1 for s in route["steps"] if s["type"] == "job") <= 4  # capacity 4
        arrivals = [s["arrival"] for s in route["steps"]]
        assert arrivals == sorted(arrivals)
    listed = service.get("/v1/plans").json()["plans"]
    assert body["id"] in {p["id"] for p in listed}
    assert all("solution" not in p for p in listed)
    assert service.get("/v1/plans?status=finished&limit=1").json()["plans"][0]["status"] == (
        "finished"
    )


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"{not json", 400, "request body: malformed JSON at line 1, column 2"),
        (b"", 400, "request body: empty"),
        (b"[1, 2]", 422, "request body: expected a JSON object"),
        (b'{"jobs": [], "vehicles": [], "x": NaN}', 400, "NaN is not a JSON number"),
    ],
)
def test_malformed_bodies_are_refused_and_nothing_is_stored(
    service: TestClient, body: bytes, status: int, says: str
) -> None:
    before = _count(service)
    answer = service.post("/v1/plans", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == status
    assert says in _one_line(answer)
    assert _count(service) == before


def test_bad_problems_name_the_field(service: TestClient) -> None:
    before = _count(service)
    jobs = small_problem()["jobs"]
    jobs[2]["id"] = jobs[0]["id"]
    cases = [
        (small_problem(jobs=jobs), "jobs[2].id"),
        (small_problem(shipments=[{"pickup": {"id": 9}, "delivery": {"id": 10}}]), "shipments"),
        ({k: v for k, v in small_problem().items() if k != "matrices"}, "matrices"),
        (small_problem(jobs=[{**jobs[0], "location_index": 99}]), "jobs[0].location_index"),
    ]
    for doc, field in cases:
        answer = service.post("/v1/plans", json=doc)
        assert answer.status_code == 422, (field, answer.text)
        assert _one_line(answer).startswith(field), answer.text
    assert _count(service) == before


def test_size_limits(service: TestClient) -> None:
    many = [{**small_problem()["jobs"][0], "id": k} for k in range(1, 52)]
    answer = service.post("/v1/plans", json=small_problem(jobs=many))
    assert answer.status_code == 422
    assert "above the limit of 50" in _one_line(answer)
    assert "SHIPAHEAD_MAX_PLAN_JOBS" in _one_line(answer)
    huge = json.dumps(small_problem(padding="x" * 300_000)).encode()
    answer = service.post("/v1/plans", content=huge, headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert "SHIPAHEAD_MAX_REQUEST_MB" in _one_line(answer)


def test_unknown_plans_and_revisions(service: TestClient, solved: str) -> None:
    assert service.get("/v1/plans/nope").status_code == 404
    assert "plan_id" in _one_line(service.get("/v1/plans/nope"))
    assert service.post("/v1/plans/nope/events", json=[]).status_code == 404
    assert service.get(f"/v1/plans/{solved}/revisions/99").status_code == 404
    assert service.get("/v1/plans?status=bogus").status_code == 422
    assert _one_line(service.get("/v1/plans?limit=0")).startswith("query.limit")


def test_events_replan_idempotency_and_what_changed(service: TestClient) -> None:
    plan_id = service.post("/v1/plans", json=small_problem()).json()["id"]
    early = service.post(
        f"/v1/plans/{plan_id}/events",
        json=[{"event_id": "e0", "type": "stop_cancelled", "at": 28800, "job_id": 1}],
    )
    assert early.status_code in (202, 409)  # 409 until the first solve has finished
    first = wait_for(service, plan_id)
    before = _stops(first["solution"])
    victim = next(j for stops in before.values() for j in stops if j != 1)
    cancel = {"event_id": "c1", "type": "stop_cancelled", "at": 28800, "job_id": victim}
    answer = service.post(f"/v1/plans/{plan_id}/events", json=[cancel])
    assert answer.status_code == 202, answer.text
    target = answer.json()["revision"]
    assert target >= 2 and answer.json()["accepted"] == 1
    repeat = service.post(f"/v1/plans/{plan_id}/events", json=[cancel])
    assert repeat.status_code == 202
    assert repeat.json() == {"revision": target, "accepted": 0, "ignored": 1}
    conflict = service.post(f"/v1/plans/{plan_id}/events", json=[{**cancel, "job_id": 1}])
    assert conflict.status_code == 409 and "c1" in _one_line(conflict)
    plan = wait_for(service, plan_id, revision=target)
    assert plan["revision"] == target
    late_repeat = service.post(f"/v1/plans/{plan_id}/events", json=[cancel])
    assert late_repeat.json() == {"revision": target, "accepted": 0, "ignored": 1}
    after = _stops(plan["solution"])
    assert victim not in [j for stops in after.values() for j in stops]
    revision = service.get(f"/v1/plans/{plan_id}/revisions/{target}").json()
    assert "c1" in revision["events"] and revision["previous"] == target - 1
    moved = revision["vehicles"]
    assert any(victim in change["removed"] for change in moved.values())
    events = service.get(f"/v1/plans/{plan_id}/events").json()["events"]
    assert [e["event"]["event_id"] for e in events if e["applied"]][-1] == "c1"


def test_bad_events_name_the_field_and_store_nothing(service: TestClient, solved: str) -> None:
    url = f"/v1/plans/{solved}/events"
    before = len(service.get(f"/v1/plans/{solved}/events").json()["events"])
    cases = [
        ([{"type": "stop_cancelled", "at": 1, "job_id": 1}], "events[0].event_id"),
        (
            [
                {"event_id": "ok", "type": "stop_cancelled", "at": 28800, "job_id": 2},
                {"event_id": "u", "type": "stop_cancelled", "at": 28800, "job_id": 999},
            ],
            "events[1].job_id",
        ),
        ([{"event_id": "t", "type": "teleport", "at": 1}], "events[0].type"),
        ({"event_id": "x"}, "request body"),
        ([], "request body"),
    ]
    for body, field in cases:
        answer = service.post(url, json=body)
        assert answer.status_code == 422, (field, answer.text)
        assert _one_line(answer).startswith(field), answer.text
    assert len(service.get(f"/v1/plans/{solved}/events").json()["events"]) == before


def test_a_burst_of_events_is_one_replan(service: TestClient) -> None:
    plan_id = service.post("/v1/plans", json=small_problem()).json()["id"]
    wait_for(service, plan_id)
    revisions = set()
    for k, job in enumerate((2, 3, 4)):
        event = {"event_id": f"b{k}", "type": "stop_cancelled", "at": 28800, "job_id": job}
        answer = service.post(f"/v1/plans/{plan_id}/events", json=[event] * (k + 1))
        assert answer.status_code == 202
        assert (answer.json()["accepted"], answer.json()["ignored"]) == (1, k)
        revisions.add(answer.json()["revision"])
    assert revisions == {2}
    plan = wait_for(service, plan_id, revision=2)
    assert plan["revision"] == 2
    served = [j for stops in _stops(plan["solution"]).values() for j in stops]
    assert sorted(served) == [1, 5]
    revision = service.get(f"/v1/plans/{plan_id}/revisions/2").json()
    assert revision["events"] == ["b0", "b1", "b2"]


def test_delete(service: TestClient) -> None:
    plan_id = service.post("/v1/plans", json=small_problem()).json()["id"]
    assert service.delete(f"/v1/plans/{plan_id}").status_code == 204
    assert service.get(f"/v1/plans/{plan_id}").status_code == 404
    assert service.delete(f"/v1/plans/{plan_id}").status_code == 404


def test_exports(service: TestClient, solved: str) -> None:
    plan = service.get(f"/v1/plans/{solved}").json()
    vehicle = str(plan["solution"]["routes"][0]["vehicle"])
    gpx = service.get(f"/v1/plans/{solved}/routes/{vehicle}.gpx")
    assert gpx.status_code == 200 and gpx.headers["content-type"] == "application/gpx+xml"
    assert "http://www.topografix.com/GPX/1/1" in gpx.text
    kml = service.get(f"/v1/plans/{solved}/routes/{vehicle}.kml")
    assert kml.status_code == 200 and "<kml" in kml.text
    assert service.get(f"/v1/plans/{solved}/routes/77.gpx").status_code == 404
    sheets = service.get(f"/v1/plans/{solved}/sheets")
    assert sheets.status_code == 200 and sheets.text.count('class="sheet"') == len(
        plan["solution"]["routes"]
    )


def test_docs_work_offline(service: TestClient) -> None:
    page = service.get("/docs")
    assert page.status_code == 200
    assert "/docs-assets/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower() and "https://" not in page.text.replace(
        "https://fastapi", ""
    )
    assert service.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert service.get("/docs-assets/swagger-ui.css").status_code == 200
    paths = service.get("/openapi.json").json()["paths"]
    for path in (
        "/health",
        "/v1/plans",
        "/v1/plans/{plan_id}",
        "/v1/plans/{plan_id}/events",
        "/v1/plans/{plan_id}/revisions/{n}",
        "/v1/plans/{plan_id}/stream",
        "/v1/plans/{plan_id}/routes/{vehicle_id}.gpx",
        "/v1/plans/{plan_id}/routes/{vehicle_id}.kml",
        "/v1/plans/{plan_id}/sheets",
    ):
        assert path in paths


def test_token(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path, token="s3cret"))
    with TestClient(app) as client:
        assert client.get("/health").status_code == 401
        denied = client.get("/v1/plans", headers={"Authorization": "Bearer wrong"})
        assert denied.status_code == 401 and denied.headers["www-authenticate"] == "Bearer"
        assert "Authorization" in _one_line(denied)
        assert client.post("/v1/plans", json=small_problem()).status_code == 401
        assert _count_ok(client) == 0  # nothing stored by the refused post
        ok = client.get("/health", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert client.get("/docs").status_code == 200  # no data: open without the token
        assert client.get("/openapi.json").status_code == 200


def _count_ok(client: TestClient) -> int:
    headers = {"Authorization": "Bearer s3cret"}
    return len(client.get("/v1/plans", headers=headers).json()["plans"])


def test_second_server_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    from shipahead.service import ServiceError

    with (
        TestClient(create_app(settings_for(tmp_path))),
        pytest.raises(ServiceError, match="in use by another shipahead serve"),
        TestClient(create_app(settings_for(tmp_path))),
    ):
        pass


def test_vehicle_changes() -> None:
    def output(routes: dict[int, list[int]]) -> dict:
        return {
            "routes": [
                {"vehicle": v, "steps": [{"type": "job", "id": j} for j in jobs]}
                for v, jobs in routes.items()
            ]
        }

    changes = vehicle_changes(output({1: [1, 2, 3], 2: [4]}), output({1: [3, 1], 2: [4, 2]}))
    assert changes == {
        "1": {
            "before": [1, 2, 3],
            "after": [3, 1],
            "added": [],
            "removed": [2],
            "reordered": True,
        },
        "2": {"before": [4], "after": [4, 2], "added": [2], "removed": [], "reordered": False},
    }
    assert vehicle_changes(output({1: [1]}), output({1: [1]})) == {}


def _solve_and_cancel(client: TestClient) -> dict:
    plan_id = client.post("/v1/plans", json=small_problem()).json()["id"]
    assert wait_for(client, plan_id)["status"] == "finished"
    event = {"event_id": "p1", "type": "stop_cancelled", "at": 28800, "job_id": 3}
    assert client.post(f"/v1/plans/{plan_id}/events", json=[event]).status_code == 202
    return wait_for(client, plan_id, revision=2)


def test_the_api_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    with TestClient(create_app(settings_for(tmp_path, db=pg_url))) as client:
        assert client.get("/health").json()["database"] == "postgresql"
        plan = _solve_and_cancel(client)
    assert plan["revision"] == 2
    assert 3 not in [j for stops in _stops(plan["solution"]).values() for j in stops]


def test_solves_on_a_dask_cluster(tmp_path: Path) -> None:
    from dask.distributed import LocalCluster

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        TestClient(
            create_app(settings_for(tmp_path, scheduler=cluster.scheduler_address))
        ) as client,
    ):
        assert client.get("/health").json()["scheduler"] == cluster.scheduler_address
        plan = _solve_and_cancel(client)
    assert plan["status"] == "finished" and plan["revision"] == 2


def test_vroom_documented_examples(service: TestClient) -> None:
    data = Path(__file__).resolve().parents[1] / "routing" / "data" / "vroom"
    with_matrices = json.loads((data / "example_2.json").read_text())
    answer = service.post("/v1/plans", json=with_matrices)
    assert answer.status_code == 202, answer.text
    plan = wait_for(service, answer.json()["id"])
    assert plan["status"] == "finished" and plan["solution"]["unassigned"] == []
    assert sorted(
        s["id"] for r in plan["solution"]["routes"] for s in r["steps"] if s["type"] == "job"
    ) == sorted(j["id"] for j in with_matrices["jobs"])
    for name in ("example_1.json", "example_3.json"):  # coordinates: need a road network
        answer = service.post("/v1/plans", json=json.loads((data / name).read_text()))
        assert answer.status_code == 422 and _one_line(answer).startswith("matrices:")

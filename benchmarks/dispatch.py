"""Dispatch service figures (issue 16): load, re-plan latency and kill -9 faults.

Every part runs a real ``shipahead serve`` subprocess on a fresh SQLite store in a temporary
folder, on 127.0.0.1 only, and talks to it over HTTP (urllib). Problems carry ``matrices``
(random points in a 20 km square, travel at 30 km/h), so the figures measure the service, not
the road network; the seed makes them the same on every run.

* ``load``: ``--problems`` problems of ``--stops`` stops (10 vehicles) posted at once to a server
  with ``--workers``; time from post to finished p50/p95, GET latency p50/p95 (plan and list,
  polled throughout), peak RSS of the server's process tree.
* ``replan``: one plan of ``--stops`` stops and 10 vehicles; a simulated day from 08:00 in
  ``--step-min`` steps (10), each step one burst of events (stops done as planned, plus
  ``--extra-events`` (2) cancels, added stops or delays) until ``--events`` were posted;
  latency from the burst's post to its revision, p50/p95; events posted; share of open stops
  that changed vehicle per re-plan.
* ``solomon``: no loss through the API — Solomon instances posted with ``matrices`` (DIMACS
  distances x10 as durations and distances, the instance's fleet) against ``shipahead route
  --instance``'s solver call (``routing.solve``, PyVRP) at the same time limit and seed.
* ``faults``: ``--kills`` rounds of: restart the server, let earlier plans settle (at most
  ``--settle-s``), post two plans and event bursts to finished plans, wait a random 0-3 s,
  ``kill -9`` the server (during solves, re-plans and event coalescing). At the end every
  accepted plan and event is looked up: events lost, revisions lost (a revision seen finished
  and now missing), plans stuck (queued or solving after the store has settled).

Usage (repository root, shipahead installed)::

    python benchmarks/dispatch.py --part load --problems 50 --stops 100 --workers 2
    python benchmarks/dispatch.py --part replan --stops 100
    python benchmarks/dispatch.py --part faults --kills 20
    python benchmarks/dispatch.py --part solomon --instances C101 R101 RC101 --limit-s 5

Prints one JSON object per part and appends it to ``benchmarks/results/dispatch.jsonl``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "dispatch.jsonl"
DAY_START = 8 * 3600
DAY_END = 19 * 3600


def problem(n_stops: int, n_vehicles: int, seed: int, *, spare: int = 0, limit_s: float = 2):
    """A VROOM problem with matrices: depot at index 0, ``spare`` extra points at the end."""
    rng = random.Random(seed)
    points = [(10.0, 10.0)] + [
        (rng.uniform(0, 20), rng.uniform(0, 20)) for _ in range(n_stops + spare)
    ]
    km = [[math.dist(a, b) for b in points] for a in points]
    durations = [[round(d / 30 * 3600) for d in row] for row in km]
    distances = [[round(d * 1000) for d in row] for row in km]
    jobs = []
    for k in range(1, n_stops + 1):
        start = rng.choice([DAY_START, DAY_START + 2 * 3600, DAY_START + 4 * 3600])
        jobs.append(
            {
                "id": k,
                "location_index": k,
                "service": 300,
                "delivery": [rng.randint(1, 10)],
                "time_windows": [[start, start + 4 * 3600]],
            }
        )
    capacity = math.ceil(sum(j["delivery"][0] for j in jobs) / n_vehicles * 1.3)
    vehicles = [
        {
            "id": v,
            "start_index": 0,
            "end_index": 0,
            "capacity": [capacity],
            "time_window": [DAY_START, DAY_END],
        }
        for v in range(1, n_vehicles + 1)
    ]
    return {
        "jobs": jobs,
        "vehicles": vehicles,
        "matrices": {"car": {"durations": durations, "distances": distances}},
        "options": {"time_limit_s": limit_s, "seed": seed},
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A ``shipahead serve`` subprocess (own session) on a SQLite file."""

    def __init__(self, folder: Path, workers: int, extra: tuple[str, ...] = ()) -> None:
        self.folder = folder
        self.workers = workers
        self.extra = extra  # more `serve` options (e.g. the sample's road network)
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        log = (self.folder / "serve.log").open("ab")
        command = [
            sys.executable,
            "-m",
            "shipahead.cli.app",
            "--quiet",
            "serve",
            "--db",
            f"sqlite:///{self.folder / 'dispatch.db'}",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            *self.extra,
        ]
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 600  # a road network is read (or its cache loaded)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("server exited; see " + str(self.folder / "serve.log"))
            try:
                if call(self.port, "GET", "/health")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill9(self) -> None:
        """SIGKILL the server, then its leftover solver processes (they write nothing)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill9()

    def rss_mb(self) -> float:
        """Resident memory of the server and its children (MB)."""
        if self.process is None:
            return 0.0
        try:
            root = psutil.Process(self.process.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0.0
        total = 0
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total / 2**20


def call(port: int, method: str, path: str, body: Any = None, timeout: float = 60):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def _round(x: float, k: int = 3) -> float:
    return round(x, k)


# --- load ------------------------------------------------------------------------------------


def part_load(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    server = Server(folder, args.workers).start()
    port = server.port
    docs = [problem(args.stops, 10, seed) for seed in range(args.problems)]
    peak = [0.0]
    latencies: list[float] = []
    stop = threading.Event()
    ids: list[str] = []

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], server.rss_mb())
            time.sleep(0.2)

    def poll_gets() -> None:
        while not stop.is_set():
            if ids:
                path = f"/v1/plans/{random.choice(ids)}" if random.random() < 0.8 else "/v1/plans"
                t0 = time.perf_counter()
                call(port, "GET", path)
                latencies.append(time.perf_counter() - t0)
            time.sleep(0.05)

    threads = [threading.Thread(target=sample), threading.Thread(target=poll_gets)]
    for t in threads:
        t.start()
    posted: dict[str, float] = {}
    post_s: list[float] = []
    for doc in docs:
        t0 = time.perf_counter()
        status, body = call(port, "POST", "/v1/plans", doc)
        post_s.append(time.perf_counter() - t0)
        assert status == 202, body
        posted[body["id"]] = time.perf_counter()
        ids.append(body["id"])
    finished: dict[str, float] = {}
    failed = 0
    deadline = time.monotonic() + args.timeout
    while len(finished) + failed < len(posted) and time.monotonic() < deadline:
        for plan_id in posted:
            if plan_id in finished:
                continue
            body = call(port, "GET", f"/v1/plans/{plan_id}")[1]
            if body["status"] == "finished":
                finished[plan_id] = time.perf_counter()
            elif body["status"] == "failed":
                failed += 1
                finished[plan_id] = float("nan")
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    server.stop()
    waits = [finished[p] - posted[p] for p in finished if not math.isnan(finished[p])]
    return {
        "part": "load",
        "problems": args.problems,
        "stops": args.stops,
        "vehicles": 10,
        "workers": args.workers,
        "time_limit_s": docs[0]["options"]["time_limit_s"],
        "finished": len(waits),
        "failed": failed,
        "not_done": len(posted) - len(finished),
        "post_p95_s": _round(pct(post_s, 95)),
        "to_finished_p50_s": _round(pct(waits, 50), 1),
        "to_finished_p95_s": _round(pct(waits, 95), 1),
        "all_finished_s": _round(max(waits, default=float("nan")), 1),
        "get_count": len(latencies),
        "get_p50_ms": _round(pct(latencies, 50) * 1000, 1),
        "get_p95_ms": _round(pct(latencies, 95) * 1000, 1),
        "peak_rss_mb": round(peak[0]),
    }


# --- re-plan ---------------------------------------------------------------------------------


def _wait_revision(port: int, plan_id: str, revision: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = call(port, "GET", f"/v1/plans/{plan_id}")[1]
        if body["revision"] >= revision and body["status"] in ("finished", "failed"):
            return body
        if body["status"] == "failed":
            return body
        time.sleep(0.02)
    raise RuntimeError(
        f"revision {revision} did not land in {timeout:.0f} s (plan at revision "
        f"{body['revision']}, status {body['status']}, error {body.get('error')!r})"
    )


def part_replan(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    rng = random.Random(7)
    spare = 30
    if args.sample:  # the sample's 75 stops and 8 vans on the Columbus roads, traffic, weather
        data = ROOT / "sample_data"
        server = Server(
            folder,
            args.workers,
            (
                "--roads",
                str(data / "roads" / "columbus_oh.osm.pbf"),
                "--traffic",
                str(data / "traffic.csv"),
                "--weather",
                str(data / "weather.csv"),
            ),
        ).start()
        doc = json.loads((data / "dispatch_problem.json").read_text())
        doc["options"]["time_limit_s"] = args.replan_limit_s
        n_vehicles = len(doc["vehicles"])
        places = [job["location"] for job in doc["jobs"]]
    else:
        server = Server(folder, args.workers).start()
        doc = problem(args.stops, 10, 7, spare=spare, limit_s=args.replan_limit_s)
        n_vehicles = 10
        places = []
    port = server.port
    n_jobs = len(doc["jobs"]) if args.sample else args.stops
    plan_id = call(port, "POST", "/v1/plans", doc)[1]["id"]
    plan = _wait_revision(port, plan_id, 1)
    done: set[int] = set()
    cancelled: set[int] = set()
    next_new = n_jobs + 1
    latencies: list[float] = []
    moved_share: list[float] = []
    n_events = 0
    k = 0
    t = DAY_START
    while t < DAY_END and n_events < args.events:
        t += args.step_min * 60
        burst = []
        for route in plan["solution"]["routes"]:
            for step in route["steps"]:
                if step["type"] != "job" or step["id"] in done:
                    continue
                leave = step["arrival"] + step["waiting_time"] + step["service"]
                if leave <= t:
                    k += 1
                    burst.append(
                        {
                            "event_id": f"d{k}",
                            "type": "stop_done",
                            "at": leave,
                            "job_id": step["id"],
                            "vehicle_id": route["vehicle"],
                            "arrival": step["arrival"],
                            "departure": leave,
                        }
                    )
                    done.add(step["id"])
        open_jobs = [
            s["id"]
            for r in plan["solution"]["routes"]
            for s in r["steps"]
            if s["type"] == "job" and s["id"] not in done
        ]
        for _ in range(args.extra_events):  # what else happens in these minutes
            extra = rng.choice(["cancel", "add", "delay"])
            k += 1
            live = [j for j in open_jobs if j not in cancelled]
            if extra == "cancel" and live:
                job = rng.choice(live)
                cancelled.add(job)
                burst.append(
                    {"event_id": f"c{k}", "type": "stop_cancelled", "at": t, "job_id": job}
                )
            elif extra == "add" and next_new <= n_jobs + spare and t < DAY_END - 2 * 3600:
                where = (
                    {"location": rng.choice(places)}  # a second drop at a known address
                    if places
                    else {"location_index": next_new}
                )
                burst.append(
                    {
                        "event_id": f"a{k}",
                        "type": "stop_added",
                        "at": t,
                        "job_id": next_new,
                        **where,
                        "service": 300,
                        "delivery": [3],
                        "time_windows": [[t, DAY_END - 1800]],
                    }
                )
                next_new += 1
            else:
                burst.append(
                    {
                        "event_id": f"v{k}",
                        "type": "vehicle_delay",
                        "at": t,
                        "vehicle_id": rng.randint(1, n_vehicles),
                        "delay": 600,
                    }
                )
        t0 = time.perf_counter()
        status, body = call(port, "POST", f"/v1/plans/{plan_id}/events", burst)
        if status != 202:
            raise RuntimeError(f"events refused: {body}")
        n_events += len(burst)
        plan = _wait_revision(port, plan_id, body["revision"])
        latencies.append(time.perf_counter() - t0)
        revision = call(port, "GET", f"/v1/plans/{plan_id}/revisions/{plan['revision']}")[1]
        moved = [
            c
            for c in revision["changes"]
            if c.get("from_vehicle") is not None
            and c.get("to_vehicle") is not None
            and c["from_vehicle"] != c["to_vehicle"]
        ]
        if open_jobs:
            moved_share.append(len(moved) / len(open_jobs))
    server.stop()
    return {
        "part": "replan",
        "problem": "sample road network" if args.sample else "matrices",
        "stops": n_jobs,
        "vehicles": n_vehicles,
        "time_limit_s": args.replan_limit_s,
        "events": n_events,
        "replans": len(latencies),
        "event_to_revision_p50_s": _round(pct(latencies, 50), 2),
        "event_to_revision_p95_s": _round(pct(latencies, 95), 2),
        "moved_share_mean": _round(statistics.fmean(moved_share) if moved_share else 0.0, 4),
        "final_status": plan["status"],
    }


# --- faults ----------------------------------------------------------------------------------


def part_faults(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    rng = random.Random(11)
    server = Server(folder, args.workers)
    accepted_plans: list[str] = []
    accepted_events: dict[str, set[str]] = {}
    seen_revisions: dict[str, int] = {}
    next_job: dict[str, int] = {}
    k = 0
    for _round_no in range(args.kills):
        server.start()
        port = server.port
        settle_until = time.monotonic() + args.settle_s  # let earlier plans finish, maybe
        while time.monotonic() < settle_until:
            states = [call(port, "GET", f"/v1/plans/{p}")[1]["status"] for p in accepted_plans]
            if all(s in ("finished", "failed") for s in states):
                break
            time.sleep(0.3)
        for _ in range(2):
            status, body = call(
                port, "POST", "/v1/plans", problem(30, 4, rng.randint(0, 9999), limit_s=1)
            )
            if status == 202:
                accepted_plans.append(body["id"])
                accepted_events[body["id"]] = set()
                next_job[body["id"]] = 1
        for plan_id in accepted_plans:
            status, plan = call(port, "GET", f"/v1/plans/{plan_id}")
            if plan["status"] in ("finished",) and plan["revision"]:
                seen_revisions[plan_id] = max(seen_revisions.get(plan_id, 0), plan["revision"])
                if next_job[plan_id] <= 30 and rng.random() < 0.7:
                    burst = []
                    for _ in range(rng.randint(1, 3)):
                        if next_job[plan_id] > 30:
                            break
                        k += 1
                        burst.append(
                            {
                                "event_id": f"f{k}",
                                "type": "stop_cancelled",
                                "at": DAY_START,
                                "job_id": next_job[plan_id],
                            }
                        )
                        next_job[plan_id] += 1
                    if burst:
                        status, body = call(port, "POST", f"/v1/plans/{plan_id}/events", burst)
                        if status == 202:
                            accepted_events[plan_id] |= {e["event_id"] for e in burst}
        time.sleep(rng.uniform(0, 3))
        server.kill9()
    server.start()
    port = server.port
    deadline = time.monotonic() + args.timeout
    stuck = len(accepted_plans)
    plans: dict[str, Any] = {}
    while time.monotonic() < deadline:
        plans = {p: call(port, "GET", f"/v1/plans/{p}")[1] for p in accepted_plans}
        stuck = sum(1 for p in plans.values() if p.get("status") in ("queued", "solving"))
        if not stuck:
            break
        time.sleep(0.5)
    lost_plans = sum(1 for p in plans.values() if "status" not in p)
    lost_events = 0
    unapplied = 0
    for plan_id, ids in accepted_events.items():
        rows = call(port, "GET", f"/v1/plans/{plan_id}/events")[1]["events"]
        stored = {r["event"]["event_id"] for r in rows}
        lost_events += len(ids - stored)
        unapplied += sum(1 for r in rows if not r["applied"])
    lost_revisions = 0
    for plan_id, top in seen_revisions.items():
        for n in range(1, top + 1):
            if call(port, "GET", f"/v1/plans/{plan_id}/revisions/{n}")[0] != 200:
                lost_revisions += 1
    failed = sum(1 for p in plans.values() if p.get("status") == "failed")
    errors = sorted({p["error"] for p in plans.values() if p.get("error")})
    server.stop()
    return {
        "part": "faults",
        "kills": args.kills,
        "plans_accepted": len(accepted_plans),
        "events_accepted": sum(len(v) for v in accepted_events.values()),
        "revisions_seen": sum(seen_revisions.values()),
        "plans_lost": lost_plans,
        "events_lost": lost_events,
        "revisions_lost": lost_revisions,
        "plans_stuck": stuck,
        "plans_failed": failed,
        "events_not_applied": unapplied,
        "plan_errors": errors,
    }


# --- no loss through the API (Solomon) ---------------------------------------------------------


def solomon_doc(path: Path, limit_s: float, seed: int) -> tuple[dict[str, Any], float, float]:
    """A Solomon instance as a VROOM problem with matrices (DIMACS: distances x10, truncated),
    and ``route --instance``'s result on it at the same limit: (doc, cost, vehicles)."""
    import numpy as np
    import vrplib
    from shipahead.routing.instances import problem_from_vrplib, reported_cost

    from shipahead import routing

    inst = vrplib.read_instance(str(path), instance_format="solomon")
    p = problem_from_vrplib(inst, "solomon", objective="distance")
    ref = routing.solve(p, routing.SolveSettings(engine="pyvrp", time_limit_s=limit_s, seed=seed))
    d = np.asarray(p.distance_m).tolist()
    tw = np.asarray(p.tw_s)
    n = len(d)
    capacity = int(inst["capacity"])
    doc = {
        "vehicles": [
            {
                "id": k,
                "start_index": 0,
                "end_index": 0,
                "capacity": [capacity],
                "time_window": [int(tw[0, 0]), int(tw[0, 1])],
            }
            for k in range(int(inst.get("vehicles", 25)))
        ],
        "jobs": [
            {
                "id": i,
                "location_index": i,
                "delivery": [int(p.demand[i, 0])],
                "service": int(p.service_s[i]),
                "time_windows": [[int(tw[i, 0]), int(tw[i, 1])]],
            }
            for i in range(1, n)
        ],
        "matrices": {"car": {"durations": d, "distances": d}},
        "options": {"time_limit_s": limit_s, "engine": "pyvrp", "seed": seed},
    }
    used = sum(1 for r in ref.routes if r)
    return doc, float(reported_cost(p, ref.routes)), used


def part_solomon(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    import csv

    data = Path(args.data) / "solomon"
    bks: dict[str, float] = {}
    bks_file = Path(args.data) / "bks.csv"
    if bks_file.is_file():
        with bks_file.open(newline="") as f:
            for row in csv.DictReader(f):
                if row.get("set") == "solomon" and row.get("objective") == "distance":
                    bks[row["instance"]] = float(row["bks_distance"])
    server = Server(folder, 1).start()
    rows = []
    for name in args.instances:
        doc, direct, direct_vehicles = solomon_doc(data / f"{name}.txt", args.limit_s, 1)
        status, body = call(server.port, "POST", "/v1/plans", doc)
        assert status == 202, body
        plan = _wait_revision(server.port, body["id"], 1, timeout=args.limit_s * 10 + 120)
        summary = plan["solution"]["summary"]
        api = summary["distance"] / 10
        rows.append(
            {
                "instance": name,
                "api_cost": round(api, 1),
                "api_vehicles": summary["routes"],
                "api_unassigned": summary["unassigned"],
                "route_instance_cost": round(direct, 1),
                "route_instance_vehicles": direct_vehicles,
                "api_vs_route_pct": round((api / direct - 1) * 100, 2),
                "bks_distance": bks.get(name),
                "api_gap_to_bks_pct": None
                if name not in bks
                else round((api / bks[name] - 1) * 100, 2),
                "route_instance_gap_to_bks_pct": None
                if name not in bks
                else round((direct / bks[name] - 1) * 100, 2),
            }
        )
    server.stop()
    diffs = [r["api_vs_route_pct"] for r in rows]
    return {
        "part": "solomon",
        "time_limit_s": args.limit_s,
        "objective": "distance (DIMACS x10 truncated), engine pyvrp, seed 1",
        "instances": rows,
        "api_vs_route_pct_mean": round(statistics.fmean(diffs), 2) if diffs else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["load", "replan", "faults", "solomon"], required=True)
    parser.add_argument("--instances", nargs="+", default=["C101", "R101", "RC101"])
    parser.add_argument("--limit-s", type=float, default=5.0, help="solomon: solver time limit")
    parser.add_argument(
        "--data", default="/work/shared/benchmarks/routing", help="folder with solomon/, bks.csv"
    )
    parser.add_argument("--problems", type=int, default=50)
    parser.add_argument("--stops", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--replan-limit-s", type=float, default=1.0)
    parser.add_argument("--step-min", type=float, default=10, help="replan: minutes per burst")
    parser.add_argument("--extra-events", type=int, default=2, help="replan: per burst")
    parser.add_argument(
        "--sample",
        action="store_true",
        help="replan: the sample problem on the sample's road network, traffic and weather",
    )
    parser.add_argument("--work", help="keep the server's store and log in this folder")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--settle-s", type=float, default=20, help="faults: wait per round")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    load_before = os.getloadavg()[0]
    with contextlib.ExitStack() as stack:
        tmp = args.work or stack.enter_context(
            tempfile.TemporaryDirectory(prefix="shipahead-dispatch-bench-")
        )
        Path(tmp).mkdir(parents=True, exist_ok=True)
        fn = {
            "load": part_load,
            "replan": part_replan,
            "faults": part_faults,
            "solomon": part_solomon,
        }[args.part]
        result = fn(args, Path(tmp))
    result.update(
        {
            "date_utc": started,
            "commit": commit,
            "command": "python benchmarks/dispatch.py " + " ".join(sys.argv[1:]),
            "load_avg_before": round(load_before, 2),
            "load_avg_after": round(os.getloadavg()[0], 2),
            "cpus": os.cpu_count(),
        }
    )
    line = json.dumps(result)
    print(line)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as f:
        f.write(line + "\n")


if __name__ == "__main__":
    main()

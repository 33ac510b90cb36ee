"""A plan's history during the day: what is done, the steps kept, what changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .events import _Batch
from .model import VroomProblem
from .output import _Route, _straight


def _prev_routes(state: Mapping[str, Any]) -> dict[int, list[dict[str, Any]]]:
    return {int(r["vehicle"]): list(r["steps"]) for r in state["output"].get("routes", [])}


def _done_now(
    p: VroomProblem, state: Mapping[str, Any], b: _Batch, down: set[int]
) -> tuple[set[int], set[int]]:
    """(jobs done by ``at``, vehicles a done event speaks for) — route replan's rule: named
    by an event, done before, or (vehicles without a done event) planned to be reached by
    ``at``."""
    done = {int(x) for x in state.get("done", [])} | set(b.done)
    prev = _prev_routes(state)
    speaks: set[int] = set()
    for jid, e in b.done.items():
        if e.vehicle_id is not None:
            speaks.add(e.vehicle_id)
        else:
            speaks |= {
                vid
                for vid, st in prev.items()
                if any(s.get("id") == jid and s["type"] == "job" for s in st)
            }
    at_abs = b.at + p.t0
    for vid, steps in prev.items():
        if vid in speaks and vid not in down:
            continue
        for s in steps:
            if s["type"] == "job" and s["arrival"] <= at_abs:
                done.add(int(s["id"]))
    return done, speaks


def _kept_steps(
    steps: Sequence[Mapping[str, Any]],
    done: set[int],
    actual: Mapping[str, Any],
    at_abs: int,
    t0: int,
) -> list[dict[str, Any]]:
    """The part of a previous route that is history: its start (if left), done jobs (with
    actual times) and the breaks before the last of them."""
    if not steps or (
        steps[0]["arrival"] > at_abs
        and not any(s["type"] == "job" and s["id"] in done for s in steps)
    ):
        return []
    last = max(
        (k for k, s in enumerate(steps) if s["type"] == "job" and s["id"] in done), default=0
    )
    out = []
    for s in steps[: last + 1]:
        if s["type"] == "job" and s["id"] not in done:
            continue
        if s["type"] == "end":
            continue
        s = dict(s)
        if s["type"] == "job":
            a = actual.get(str(s["id"]))
            if a and a.get("arrival") is not None:
                s["arrival"] = int(a["arrival"])
        s["arrival"] = s["arrival"] - t0  # internal frame, as the new steps
        out.append(s)
    return out


def _merge(kept: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """History then the new plan (its start step dropped when history exists); new steps'
    cumulative travel time and distance continue from the history."""
    if not kept:
        return new
    d0 = kept[-1]["duration"]
    m0 = kept[-1].get("distance", 0)
    out = list(kept)
    for s in new[1:]:
        s = dict(s)
        s["duration"] = s["duration"] + d0
        if "distance" in s:
            s["distance"] = s["distance"] + m0
        out.append(s)
    return out


def _changes(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    newly_done: set[int],
    cancelled: set[int],
    added: set[int],
) -> list[dict[str, Any]]:
    def where(out: Mapping[str, Any]) -> tuple[dict[int, int], dict[int, list[int]]]:
        veh: dict[int, int] = {}
        order: dict[int, list[int]] = {}
        for r in out.get("routes", []):
            ids = [s["id"] for s in r["steps"] if s["type"] == "job"]
            order[r["vehicle"]] = ids
            for j in ids:
                veh[j] = r["vehicle"]
        return veh, order

    ov, oo = where(old)
    nv, no = where(new)
    rows = []
    for j in sorted(
        set(ov)
        | set(nv)
        | newly_done
        | cancelled
        | added
        | {u["id"] for u in new.get("unassigned", [])}
    ):
        a, b = ov.get(j), nv.get(j)
        if j in newly_done:
            change = "done"
        elif j in cancelled:
            change = "cancelled"
        elif j in added:
            change = "added" if b is not None else "added_unassigned"
        elif a is not None and b is None:
            change = "dropped"
        elif a is None and b is not None:
            change = "assigned"
        elif a != b:
            change = "moved"
        elif a is not None:
            keep = set(oo[a]) & set(no[b])
            if [x for x in oo[a] if x in keep] != [x for x in no[b] if x in keep]:
                change = "resequenced"
            else:
                continue
        else:
            continue
        rows.append({"job_id": j, "change": change, "from_vehicle": a, "to_vehicle": b})
    return rows


def _close_down(kept: list[dict[str, Any]], at: int) -> list[dict[str, Any]]:
    """A vehicle that went down: its history, ended where it last was."""
    last = kept[-1]
    end = {k: v for k, v in last.items() if k not in ("id", "description")}
    end.update(type="end", arrival=max(at, last["arrival"]), service=0, waiting_time=0)
    end["violations"] = []
    return [*kept, end]


def _assemble(
    p: VroomProblem,
    state: Mapping[str, Any],
    new_routes: Mapping[int, _Route],
    done: set[int],
    down: set[int],
    actual: Mapping[str, Any],
    at_abs: int,
    geometry_of=None,
) -> list[_Route]:
    """History (kept steps) + new plan per vehicle, in fleet order."""
    prev = _prev_routes(state)
    out = []
    for v in p.vehicles:
        kept = _kept_steps(prev.get(v.id, []), done, actual, at_abs, p.t0)
        if v.id in down:
            if any(s["type"] == "job" for s in kept):
                steps = _close_down(kept, at_abs - p.t0)
                out.append(_Route(v, steps, _straight(steps)))
            continue
        r = new_routes.get(v.id)
        new = r.steps if r is not None else []
        has_new_jobs = any(s["type"] == "job" for s in new)
        if not has_new_jobs and not any(s["type"] == "job" for s in kept):
            continue
        if not new:
            steps = _close_down(kept, at_abs - p.t0) if kept else []
        else:
            steps = _merge(kept, [dict(s) for s in new])
        geo = _straight(steps)
        if r is not None and r.geometry and geometry_of is not None:
            geo = geometry_of(kept, r.geometry)
        out.append(_Route(v, steps, geo))
    return out

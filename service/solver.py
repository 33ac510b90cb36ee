"""What runs in a solver process: load the road network once, then solve or re-plan plans.

A task goes in and a result comes out as JSON text (nothing is pickled beyond those strings).
Each solver process — a worker of the local process pool, or a Dask worker with
``--scheduler`` — loads the road network, traffic profile and weather table the first time it
needs them and keeps them for every later task (:func:`resources`). The pool's initializer calls
:func:`warm` so the first solve does not pay for the load.

Task (JSON object): ``kind`` (``"solve"`` or ``"replan"``), ``problem`` (VROOM JSON), ``state``
and ``events`` (re-plan), ``roads``/``traffic``/``weather`` (file paths or null).
Result: ``{"ok": true, "output", "state", "geometry", "changes", "solve_s"}`` or
``{"ok": false, "error": "<one line>"}``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["Resources", "resources", "run", "speed_model", "warm"]

log = logging.getLogger("shipahead.service.solver")


@dataclass
class Resources:
    """What a solver process loads once: the road network and the traffic/weather tables."""

    network: Any  # routing.RoadNetwork | None
    traffic: Any  # pandas.DataFrame | None
    weather: Any  # pandas.DataFrame | None


_LOADED: dict[tuple[str | None, str | None, str | None], Resources] = {}


def resources(roads: str | None, traffic: str | None, weather: str | None) -> Resources:
    """The network and tables of these files, loaded on first use in this process."""
    key = (roads, traffic, weather)
    if key not in _LOADED:
        from shipahead.cli._roads import load_network
        from shipahead.cli.io import read_table

        network = load_network(roads)[0] if roads else None
        _LOADED[key] = Resources(
            network=network,
            traffic=read_table(traffic, "traffic") if traffic else None,
            weather=read_table(weather, "weather") if weather else None,
        )
    return _LOADED[key]


def _exit_with(server_pid: int) -> None:
    """Leave this solver process once the API process ``server_pid`` is gone (kill -9)."""
    import os

    import psutil

    while True:
        time.sleep(2.0)
        try:
            os.kill(server_pid, 0)
            continue
        except ProcessLookupError:
            pass
        except PermissionError:  # the pid now belongs to another user's process: gone
            pass
        for child in psutil.Process().children(recursive=True):  # e.g. an engine's pool
            with contextlib.suppress(psutil.Error):
                child.kill()
        os._exit(0)


def warm(
    roads: str | None, traffic: str | None, weather: str | None, server_pid: int | None = None
) -> None:
    """Pool initializer: import the solver stack and load the files before the first task.

    Solver processes run at a lower CPU priority than the API process (``nice`` +10), so the
    API answers quickly while every core is solving; they exit when the API process
    ``server_pid`` is gone (a killed server leaves no solver process behind).
    """
    import contextlib
    import os
    import threading

    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)
    if server_pid is not None:
        threading.Thread(target=_exit_with, args=(server_pid,), daemon=True).start()
    import shipahead.routing  # noqa: F401  (OR-Tools, PyVRP, pandas: seconds on first import)

    resources(roads, traffic, weather)


def speed_model(res: Resources, date: str | None) -> Any:
    """The time-of-day speed model for a plan's ``options.date`` (None: no traffic given).

    A weather table without a row for the date is ignored (dry), as ``shipahead route`` does.
    """
    from shipahead.routing.traffic import SpeedModel

    from shipahead import routing

    if res.traffic is None and res.weather is None:
        return None
    weather = res.weather if date is not None else None
    try:
        return SpeedModel.from_tables(res.traffic, weather, date)
    except routing.InputError as exc:
        if weather is not None and "has no row for" in exc.message:
            log.warning("%s; weather ignored (dry)", exc.message)
            return SpeedModel.from_tables(res.traffic, None, date)
        raise


def _one_line(exc: BaseException) -> str:
    from shipahead.errors import LocatedError

    if isinstance(exc, LocatedError):
        text = exc.message
        if exc.fix and exc.fix not in text:
            text = f"{text}; {exc.fix}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(str(text).split())


def solve_task(task: dict[str, Any]) -> dict[str, Any]:
    """Solve or re-plan one plan (``task`` as in the module docstring)."""
    from shipahead.routing import vroom

    from shipahead.errors import ShipaheadError

    t0 = time.perf_counter()
    try:
        res = resources(task.get("roads"), task.get("traffic"), task.get("weather"))
        problem = vroom.parse_vroom(task["problem"])
        date = (task["problem"].get("options") or {}).get("date")
        speed = speed_model(res, None if date is None else str(date))
        if task["kind"] == "solve":
            result = vroom.solve_vroom(problem, network=res.network, speed=speed)
        else:
            result = vroom.replan_vroom(
                problem, task["state"], task["events"], network=res.network, speed=speed
            )
    except ShipaheadError as exc:
        return {"ok": False, "error": _one_line(exc)}
    except Exception as exc:  # an internal error fails this plan, not the server
        log.exception("solve failed")
        return {"ok": False, "error": f"internal error: {_one_line(exc)}"}
    return {
        "ok": True,
        "output": result.output,
        "state": result.state,
        "geometry": {k: [list(p) for p in v] for k, v in result.geometry.items()},
        "changes": list(result.changes),
        "solve_s": time.perf_counter() - t0,
    }


def run(task_json: str) -> str:
    """Entry point of a solver process: JSON task in, JSON result out."""
    result = solve_task(json.loads(task_json))
    try:
        return json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return json.dumps({"ok": False, "error": f"internal error: result is not JSON ({exc})"})

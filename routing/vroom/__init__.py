"""VROOM's JSON problem and solution format over shipahead's planner (dispatch).

:func:`parse_vroom` validates a problem written for VROOM (https://github.com/VROOM-Project/vroom,
docs/API.md) and :func:`solve_vroom` solves it with shipahead's engines and answers in VROOM's
output format; :func:`replan_vroom` applies dispatch events (:func:`parse_events`) during the day.

Two ways to get travel times:

- ``matrices`` given: the ``durations`` (and ``distances``) of each vehicle's ``profile`` are
  the travel times (s) and distances (m) between ``location_index`` rows, used as they are
  (scaled by a vehicle's ``speed_factor``); ETAs follow the matrices.
- no ``matrices``: every ``location``/``start``/``end`` ``[lon, lat]`` is snapped to the road
  network and the plan is made and simulated as ``shipahead route`` does (hourly traffic
  buckets, weather, the plan/simulate loop): ``arrival`` is the time-dependent simulated ETA.

Supported VROOM fields (a field outside this list, or a value we cannot honour, is an
:class:`InputError` naming its JSON path — never silently ignored):

- ``jobs[]``: ``id``, ``description``, ``location``, ``location_index``, ``service``,
  ``setup`` (0 only), ``delivery``, ``pickup``, ``amount`` (deprecated; read as
  ``delivery``), ``time_windows`` (at most one window), ``skills``, ``priority``.
- ``vehicles[]``: ``id``, ``profile``, ``description``, ``type``, ``start``, ``start_index``,
  ``end``, ``end_index``, ``capacity``, ``time_window``, ``breaks`` (at most one, with at
  most one window, no ``max_load``), ``skills``, ``costs`` (``fixed``, ``per_hour``,
  ``per_km``; ``per_task_hour`` 0 only), ``speed_factor`` (matrices only), ``steps``
  (solving mode: the route's jobs are the warm start, as in VROOM).
- ``matrices``: per profile ``durations`` and ``distances`` (``costs`` is not supported).
- ``shipments``: an empty list only.
- ``options`` (shipahead's own knobs): ``time_limit_s``, ``engine`` (auto, ortools, pyvrp),
  ``seed``, ``deterministic``, ``date`` (YYYY-MM-DD: weekday of the traffic profile, weather
  day), ``depart`` (HH:MM or seconds: earliest departure replacing shift starts),
  ``max_snap_m``, ``reassign_penalty`` (cost per job a re-plan moves to another vehicle;
  default an hour of driving at the fleet's costs, :func:`reassign_penalty_of`).

Without matrices the road planner also needs: one load dimension, routes that end where
they start, equal job priorities, skills every vehicle can serve, ``speed_factor`` 1.

How VROOM's rules map: job amounts are ``delivery`` (loaded at the start) and ``pickup``
(brought back); the solver sees ``delivery + pickup`` per job, which is exact when a route
carries only one of the two and safe (never over capacity) when it mixes them; the reported
``load`` follows VROOM's rule. Costs (output and objective) are VROOM's: ``costs.fixed +
per_hour * travel_s / 3600 + per_km * metres / 1000`` per used vehicle, ``per_hour``
defaulting to 3600 (so without costs a route costs its travel time in seconds). Every job
that can be served is served before cost is looked at (``priority`` weighs which to keep);
unserved jobs are ``unassigned`` with a ``reason``.

Times: seconds. Windows given as absolute timestamps (any time value from two days on)
are read relative to the UTC midnight of the earliest one and written back absolute; the
time of day for traffic is then UTC, and the plan date (``options.date`` unset) that day.

Size bounds (checked before any work, :class:`VroomLimits`; callers may pass their own):
:data:`MAX_JOBS` jobs, :data:`MAX_VEHICLES` vehicles, :data:`MAX_MATRIX_SIZE` matrix rows,
:data:`MAX_AMOUNT_DIMS` load dimensions, :data:`MAX_TIME_LIMIT_S` s of solver time,
:data:`MAX_EVENTS` events per batch, :data:`MAX_PROBLEM_BYTES` bytes of JSON (checked by the
caller that reads it).

Modules, by job: ``model`` (limits, the problem and result dataclasses), ``fields`` and
``parse`` (validation), ``matrices`` and ``drive`` (problems with matrices), ``roads``
(problems on a road network), ``output`` (VROOM's output and cost rule), ``solve``,
``events``, ``history`` and ``replan`` (the day's events).

Pure: dicts in, dicts and dataclasses out; no file I/O.
"""

from __future__ import annotations

from .events import EVENT_FIELDS as EVENT_FIELDS
from .events import MAX_DELAY_S as MAX_DELAY_S
from .events import DispatchEvent as DispatchEvent
from .events import parse_events as parse_events
from .model import DAY_S as DAY_S
from .model import DEFAULT_PER_HOUR as DEFAULT_PER_HOUR
from .model import MAX_AMOUNT_DIMS as MAX_AMOUNT_DIMS
from .model import MAX_EVENTS as MAX_EVENTS
from .model import MAX_INT as MAX_INT
from .model import MAX_JOBS as MAX_JOBS
from .model import MAX_MATRIX_SIZE as MAX_MATRIX_SIZE
from .model import MAX_PER_VEHICLE_ENTRIES as MAX_PER_VEHICLE_ENTRIES
from .model import MAX_PROBLEM_BYTES as MAX_PROBLEM_BYTES
from .model import MAX_TIME_LIMIT_S as MAX_TIME_LIMIT_S
from .model import MAX_VEHICLES as MAX_VEHICLES
from .model import STATE_KIND as STATE_KIND
from .model import DispatchResult as DispatchResult
from .model import Job as Job
from .model import VroomBreak as VroomBreak
from .model import VroomLimits as VroomLimits
from .model import VroomOptions as VroomOptions
from .model import VroomProblem as VroomProblem
from .model import VroomVehicle as VroomVehicle
from .model import reassign_penalty_of as reassign_penalty_of
from .parse import parse_vroom as parse_vroom
from .replan import replan_vroom as replan_vroom
from .roads import plan_date as plan_date
from .solve import solve_vroom as solve_vroom
from .solve import solve_vroom_plan as solve_vroom_plan

__all__ = [
    "DAY_S",
    "DEFAULT_PER_HOUR",
    "EVENT_FIELDS",
    "MAX_AMOUNT_DIMS",
    "MAX_DELAY_S",
    "MAX_EVENTS",
    "MAX_INT",
    "MAX_JOBS",
    "MAX_MATRIX_SIZE",
    "MAX_PER_VEHICLE_ENTRIES",
    "MAX_PROBLEM_BYTES",
    "MAX_TIME_LIMIT_S",
    "MAX_VEHICLES",
    "STATE_KIND",
    "DispatchEvent",
    "DispatchResult",
    "Job",
    "VroomBreak",
    "VroomLimits",
    "VroomOptions",
    "VroomProblem",
    "VroomVehicle",
    "parse_events",
    "parse_vroom",
    "plan_date",
    "reassign_penalty_of",
    "replan_vroom",
    "solve_vroom",
    "solve_vroom_plan",
]

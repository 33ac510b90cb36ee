"""Settings of one dispatch service (what ``shipahead serve``'s options set)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shipahead.cli.limits import LIMITS, limit

__all__ = ["DEFAULT_DB_NAME", "ServiceLimits", "ServiceSettings", "default_db_url"]

#: File name of the default SQLite store (in :func:`default_db_url`'s folder).
DEFAULT_DB_NAME = "dispatch.db"


def default_db_url() -> str:
    """``sqlite:///$XDG_DATA_HOME/shipahead/dispatch.db`` (``~/.local/share/shipahead/…``).

    The folder is created when the store is opened.
    """
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return f"sqlite:///{Path(base).resolve() / 'shipahead' / DEFAULT_DB_NAME}"


#: Each :class:`ServiceLimits` field: the limit of ``cli/limits.py`` it follows (the default
#: and the ``SHIPAHEAD_MAX_<NAME>`` override are written there once) and that limit's unit.
_LIMIT_OF: dict[str, tuple[str, int]] = {
    "request_bytes": ("request_mb", 1024 * 1024),
    "plan_jobs": ("plan_jobs", 1),
    "plan_vehicles": ("plan_vehicles", 1),
    "request_events": ("request_events", 1),
    "plan_events": ("plan_events", 1),
    "queued_plans": ("queued_plans", 1),
    "solve_attempts": ("solve_attempts", 1),
}


def _bounds(value: Callable[[str], float]) -> dict[str, int]:
    """Every :class:`ServiceLimits` field from ``value(limit name)`` (in the limit's unit)."""
    return {key: int(value(name) * unit) for key, (name, unit) in _LIMIT_OF.items()}


_DEFAULT = _bounds(lambda name: LIMITS[name].default)


@dataclass(frozen=True)
class ServiceLimits:
    """Size bounds of requests (see ``cli/limits.py``: ``SHIPAHEAD_MAX_<NAME>`` overrides).

    ``request_bytes``: request body (bytes); ``plan_jobs``/``plan_vehicles``: one problem;
    ``request_events``: one ``POST …/events``; ``plan_events``: one plan over its life;
    ``queued_plans``: plans waiting for or in a solve; ``solve_attempts``: starts of a solve
    whose solver process died.
    """

    request_bytes: int = _DEFAULT["request_bytes"]
    plan_jobs: int = _DEFAULT["plan_jobs"]
    plan_vehicles: int = _DEFAULT["plan_vehicles"]
    request_events: int = _DEFAULT["request_events"]
    plan_events: int = _DEFAULT["plan_events"]
    queued_plans: int = _DEFAULT["queued_plans"]
    solve_attempts: int = _DEFAULT["solve_attempts"]

    @classmethod
    def from_env(cls) -> ServiceLimits:
        """The limits in force (``SHIPAHEAD_MAX_*`` environment variables, else defaults).

        Raises :class:`shipahead.cli.errors.CliInputError` for a malformed variable.
        """
        return cls(**_bounds(limit))


@dataclass(frozen=True)
class ServiceSettings:
    """Everything :func:`shipahead.service.create_app` needs.

    ``db``: SQLAlchemy URL of the store. ``roads``/``traffic``/``weather``: files loaded once
    by the API process (to check locations) and once by every solver process; without
    ``roads`` only problems with ``matrices`` are accepted. ``workers``: solver processes
    (or tasks in flight on the Dask cluster at ``scheduler``). ``token``: every request needs
    ``Authorization: Bearer <token>``. ``tiles``: a tile URL template for the console's map.
    Times in seconds.
    """

    db: str = field(default_factory=default_db_url)
    roads: Path | None = None
    traffic: Path | None = None
    weather: Path | None = None
    workers: int = 2
    scheduler: str | None = None
    token: str | None = None
    tiles: str | None = None
    limits: ServiceLimits = field(default_factory=ServiceLimits)
    #: a solving plan's lease; renewed every third of it while its solve runs
    lease_s: float = 30.0
    #: a re-plan waits this long after the first event of a burst (the burst becomes one)
    coalesce_s: float = 0.5
    #: how often the queue and the streams look at the database (also woken on each post)
    poll_s: float = 0.5
    #: a solve running longer than this many times its time limit (+ 120 s) is abandoned
    solve_wall_factor: float = 4.0
    #: time limit (s) assumed for a problem whose options give none
    default_time_limit_s: float = 30.0
    #: largest snap distance (m) from a location to the road network
    max_snap_m: float = 500.0

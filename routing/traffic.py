"""Time-of-day traffic profile, weather speed factors and incidents.

Everything ends in a :class:`SpeedModel`: the speed of arc ``a`` at time ``t`` (seconds
from midnight of the plan date) is ``free_flow_speed[a] * factor(a, t)`` with

``factor(a, t) = traffic[hour(t), class(a)] * weather[hour(t), class(a)] * incidents(a, t)``.

The factor is piecewise constant in time (hour buckets, incident start/end), which is the
Ichoua–Gendreau–Potvin (2003) travel-time model: travel times computed from it are FIFO.

Weather table (speed multipliers; midpoints/ends of the ranges in FHWA Road Weather
Management Program, "How Do Weather Events Impact Roads?",
https://ops.fhwa.dot.gov/weather/q1_roadimpact.htm — freeways: light rain or snow −3 to
−13 %, heavy rain −3 to −16 %, heavy snow −5 to −40 %; signalised arterials: wet pavement
−10 to −25 %, snowy or slushy pavement −30 to −40 %):

=============  =========  ===============
condition      freeway    other roads
=============  =========  ===============
dry            1.00       1.00
light_rain     0.92       0.90
heavy_rain     0.905      0.75
light_snow     0.92       0.70
heavy_snow     0.775      0.60
=============  =========  ===============

``freeway`` = motorway, trunk and their links. Daily weather is classified as heavy rain
from 10 mm, light rain from 1 mm, heavy snow from 5 cm, light snow from 0.5 cm (snow wins).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shipahead.timeofday import hour_of_day

from .errors import InputError
from .network import ROAD_CLASSES, RoadNetwork, haversine_m

log = logging.getLogger(__name__)

N_CLASSES = len(ROAD_CLASSES)
FREEWAY_CLASSES = ("motorway", "motorway_link", "trunk", "trunk_link")
_FREEWAY = np.array([c in FREEWAY_CLASSES for c in ROAD_CLASSES])

#: condition -> (freeway factor, other-road factor); see the module docstring for sources.
WEATHER_FACTORS: dict[str, tuple[float, float]] = {
    "dry": (1.0, 1.0),
    "light_rain": (0.92, 0.90),
    "heavy_rain": (0.905, 0.75),
    "light_snow": (0.92, 0.70),
    "heavy_snow": (0.775, 0.60),
}
_CONDITION_ALIASES = {
    "clear": "dry",
    "none": "dry",
    "sun": "dry",
    "cloudy": "dry",
    "rain": "light_rain",
    "drizzle": "light_rain",
    "snow": "light_snow",
}
_SEVERITY = {c: i for i, c in enumerate(WEATHER_FACTORS)}


def classify_weather(precip_mm: float = 0.0, snow_cm: float = 0.0) -> str:
    """Weather condition of a day from its precipitation (mm) and snowfall (cm)."""
    precip_mm = 0.0 if precip_mm is None or pd.isna(precip_mm) else float(precip_mm)
    snow_cm = 0.0 if snow_cm is None or pd.isna(snow_cm) else float(snow_cm)
    if snow_cm >= 5.0:
        return "heavy_snow"
    if snow_cm >= 0.5:
        return "light_snow"
    if precip_mm >= 10.0:
        return "heavy_rain"
    if precip_mm >= 1.0:
        return "light_rain"
    return "dry"


def _not_one_of(message: str, choices: Sequence[str], column: str, table: str) -> InputError:
    """The error for a value that is not one of ``choices`` (the fix lists them)."""
    return InputError(message, column=column, fix=f"use one of {', '.join(choices)}", table=table)


def condition_factors(condition: str) -> np.ndarray:
    """Per-road-class speed multipliers ``(n_classes,)`` for a weather condition."""
    c = _CONDITION_ALIASES.get(condition.strip().lower(), condition.strip().lower())
    if c not in WEATHER_FACTORS:
        raise _not_one_of(
            f"unknown weather condition {condition!r}", WEATHER_FACTORS, "condition", "weather"
        )
    fw, other = WEATHER_FACTORS[c]
    return np.where(_FREEWAY, fw, other)


def weather_factors(
    weather: pd.DataFrame | None, date: str | pd.Timestamp | None
) -> tuple[np.ndarray, list[str]]:
    """Hourly per-class weather multipliers for one date.

    Parameters
    ----------
    weather
        Rows with ``ds`` (date) and ``precip_mm``/``snow_cm`` and/or ``condition``; optional
        ``hour`` (0–23) for hourly conditions, optional ``region_id`` (several regions on a
        date: the most severe condition is used).
    date
        The plan date. Required when ``weather`` is given.

    Returns
    -------
    (factors, conditions)
        ``(24, n_classes)`` multipliers and the condition used per hour.
    """
    ones = np.ones((24, N_CLASSES))
    if weather is None or len(weather) == 0:
        return ones, ["dry"] * 24
    if date is None:
        raise InputError(
            "a weather table needs the plan date", fix="pass `date` YYYY-MM-DD", table="weather"
        )
    if "ds" not in weather.columns:
        raise InputError("weather table has no 'ds' column", column="ds", table="weather")
    has_amounts = {"precip_mm", "snow_cm"} & set(weather.columns)
    if not has_amounts and "condition" not in weather.columns:
        raise InputError(
            "weather table needs precip_mm/snow_cm or condition",
            column="precip_mm",
            fix="add precip_mm (mm) and snow_cm (cm) per day, or a condition column",
            table="weather",
        )
    ds = pd.to_datetime(weather["ds"], errors="coerce")
    if ds.isna().any():
        i = int(np.flatnonzero(ds.isna().to_numpy())[0])
        raise InputError(f"weather row {i}: ds is not a date", column="ds", row=i, table="weather")
    day = pd.Timestamp(date).normalize()
    rows = weather[ds.dt.normalize() == day]
    if len(rows) == 0:
        raise InputError(
            f"the weather table has no row for {day.date()}",
            column="ds",
            fix="add that date to the weather table or leave `weather` out",
            table="weather",
        )
    conds = ["dry"] * 24
    for _, r in rows.iterrows():
        if (
            "condition" in rows.columns
            and isinstance(r["condition"], str)
            and r["condition"].strip()
        ):
            c = r["condition"].strip().lower()
            c = _CONDITION_ALIASES.get(c, c)
            condition_factors(c)  # validates
        else:
            c = classify_weather(r.get("precip_mm", 0.0), r.get("snow_cm", 0.0))
        hours = range(24)
        if "hour" in rows.columns and not pd.isna(r["hour"]):
            hours = [int(r["hour"]) % 24]
        for h in hours:
            if _SEVERITY[c] > _SEVERITY[conds[h]]:
                conds[h] = c
    f = np.vstack([condition_factors(c) for c in conds])
    return f, conds


def traffic_factors(profile: pd.DataFrame | None, weekday: int | None) -> np.ndarray:
    """Hourly per-class traffic multipliers ``(24, n_classes)`` from a profile table.

    Parameters
    ----------
    profile
        ``hour`` (0–23), ``speed_factor`` (> 0; 1.0 = free flow), optional ``weekday``
        (0 = Monday … 6 = Sunday) and ``road_class`` (an OSM highway class; empty or ``*``
        = every class without its own rows). Hours without a row keep 1.0.
    weekday
        Day of the plan. ``None`` with a weekday column: the mean of Monday–Friday.
    """
    out = np.ones((24, N_CLASSES))
    if profile is None or len(profile) == 0:
        return out
    for col in ("hour", "speed_factor"):
        if col not in profile.columns:
            raise InputError(f"traffic profile has no {col!r} column", column=col, table="traffic")
    p = profile.copy()
    hour = pd.to_numeric(p["hour"], errors="coerce")
    bad = hour.isna() | (hour < 0) | (hour > 23) | (hour != hour.round())
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"traffic row {i}: hour must be an integer 0–23", column="hour", row=i, table="traffic"
        )
    sf = pd.to_numeric(p["speed_factor"], errors="coerce")
    bad = sf.isna() | (sf <= 0) | (sf > 3)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"traffic row {i}: speed_factor must be a number in (0, 3]",
            column="speed_factor",
            row=i,
            fix="1.0 = free flow, 0.5 = half the free-flow speed",
            table="traffic",
        )
    p["hour"] = hour.astype(int)
    p["speed_factor"] = sf.astype(float)
    if "weekday" in p.columns and p["weekday"].notna().any():
        wd = pd.to_numeric(p["weekday"], errors="coerce")
        if weekday is None:
            p = p[wd.between(0, 4)]
        elif (wd == weekday).any():
            p = p[wd == weekday]
        else:
            p = p[wd.isna()]
    if "road_class" not in p.columns:
        p["road_class"] = ""
    rc = p["road_class"].fillna("").astype(str).str.strip().replace({"*": "", "all": "", "ALL": ""})
    unknown = sorted(set(rc) - set(ROAD_CLASSES) - {""})
    if unknown:
        raise InputError(
            f"traffic profile: unknown road_class {unknown[0]!r}",
            column="road_class",
            fix=f"use one of {', '.join(ROAD_CLASSES)} or leave it empty for all",
            table="traffic",
        )
    p = p.assign(road_class=rc)
    general = p[p["road_class"] == ""].groupby("hour")["speed_factor"].mean()
    for h, v in general.items():
        out[int(h), :] = v
    for (h, c), v in (
        p[p["road_class"] != ""].groupby(["hour", "road_class"])["speed_factor"].mean().items()
    ):
        out[int(h), ROAD_CLASSES.index(c)] = v
    return out


@dataclass(frozen=True)
class Incident:
    """A slow-down on some arcs between two times (s from midnight)."""

    arcs: np.ndarray  # (A,) bool: affected arcs
    factor: float  # speed multiplier in (0, 1]
    start_s: float
    end_s: float
    label: str = ""


def incident_arcs(
    net: RoadNetwork,
    *,
    road_class: str | None = None,
    area_lat: float | None = None,
    area_lon: float | None = None,
    area_radius_m: float | None = None,
) -> np.ndarray:
    """Boolean mask of arcs hit by an incident: a road class, a circle, or both (AND)."""
    mask = np.ones(net.n_arcs, dtype=bool)
    given = False
    if road_class:
        if road_class not in ROAD_CLASSES:
            raise _not_one_of(
                f"incident road_class {road_class!r} is not a road class",
                ROAD_CLASSES,
                "road_class",
                "events",
            )
        mask &= net.arc_class == ROAD_CLASSES.index(road_class)
        given = True
    if area_lat is not None and area_lon is not None and area_radius_m:
        mid_t = haversine_m(net.lon[net.arc_tail], net.lat[net.arc_tail], area_lon, area_lat)
        mid_h = haversine_m(net.lon[net.arc_head], net.lat[net.arc_head], area_lon, area_lat)
        mask &= (mid_t <= area_radius_m) | (mid_h <= area_radius_m)
        given = True
    if not given:
        raise InputError(
            "an incident needs road_class or area_lat/area_lon/area_radius_m",
            column="road_class",
            table="events",
        )
    return mask


@dataclass(frozen=True, eq=False)
class SpeedModel:
    """Piecewise-constant speed factors per arc over the day.

    Attributes
    ----------
    hourly
        ``(24, n_classes)`` multipliers (traffic × weather) for hour ``h`` of the day;
        times beyond 24 h wrap around.
    incidents
        Extra multipliers on arc subsets during a time interval.
    """

    hourly: np.ndarray
    incidents: tuple[Incident, ...] = ()
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def free_flow(cls) -> SpeedModel:
        return cls(np.ones((24, N_CLASSES)))

    @classmethod
    def from_tables(
        cls,
        profile: pd.DataFrame | None = None,
        weather: pd.DataFrame | None = None,
        date: str | pd.Timestamp | None = None,
    ) -> SpeedModel:
        """Build from a traffic profile table, a weather table and the plan date."""
        weekday = None if date is None else int(pd.Timestamp(date).weekday())
        t = traffic_factors(profile, weekday)
        w, _ = weather_factors(weather, date)
        return cls(t * w)

    def with_incidents(self, incidents: Sequence[Incident]) -> SpeedModel:
        return SpeedModel(self.hourly, tuple(self.incidents) + tuple(incidents))

    @property
    def is_free_flow(self) -> bool:
        return bool(np.all(self.hourly == 1.0)) and not self.incidents

    def breakpoints(self) -> np.ndarray:
        """Times (s) where some factor may change, within the first 48 h."""
        pts = set(range(0, 48 * 3600 + 1, 3600))
        for inc in self.incidents:
            pts.update((float(inc.start_s), float(inc.end_s)))
        return np.array(sorted(pts), dtype=float)

    def bucket_key(self, t0: float, t1: float) -> tuple:
        """Hashable key of the per-arc factors in the bucket ``[t0, t1)``."""
        h = hour_of_day(t0)
        inc = tuple(i for i, x in enumerate(self.incidents) if x.start_s < t1 and x.end_s > t0)
        return (h, inc)

    def arc_factors_for_key(self, key: tuple, net: RoadNetwork) -> np.ndarray:
        """Per-arc factor ``(A,)`` for a bucket key from :meth:`bucket_key`."""
        ck = ("arcf", key, id(net))
        if ck not in self._cache:
            h, inc = key
            f = self.hourly[h][net.arc_class].astype(float)
            for i in inc:
                x = self.incidents[i]
                f = np.where(x.arcs, f * x.factor, f)
            self._cache[ck] = f
        return self._cache[ck]

    def factor_at(self, arc: int, arc_class: int, t: float) -> float:
        """Factor of one arc at time ``t``."""
        f = float(self.hourly[hour_of_day(t), arc_class])
        for x in self.incidents:
            if x.start_s <= t < x.end_s and x.arcs[arc]:
                f *= x.factor
        return f

    def next_change(self, t: float) -> float:
        """First time after ``t`` at which a factor may change."""
        nxt = (np.floor(t / 3600.0) + 1.0) * 3600.0
        for x in self.incidents:
            for b in (x.start_s, x.end_s):
                if t < b < nxt:
                    nxt = b
        return float(nxt)

"""Driver-facing exports of a plan in VROOM's output format (pure: return strings).

- :func:`route_gpx`: one vehicle's route as GPX 1.1 (the road polyline as a track, the stops
  as waypoints with their ETA), valid against the GPX 1.1 schema.
- :func:`route_kml`: the same as KML 2.2 (a styled LineString and one Placemark per stop).
- :func:`driver_sheets_html`: print-all driver sheets, one page per driver (sequence, ETA,
  time window, address, notes), no stop split across pages.
- :func:`network_geojson`: a road network as GeoJSON (the dispatcher console's base map when
  no tile server is configured).

``output`` is VROOM's output format (``routes[].steps[]`` with ``type``, ``id``,
``location`` [lon, lat], ``arrival``, ``duration``, ``service``, ``waiting_time``,
``load``). Times are seconds in the problem's time frame: seconds from the plan day's
midnight (written ``HH:MM`` by :func:`shipahead.timeofday.format_clock`), or UNIX times (any
value from :data:`EPOCH_FROM_S` on, written in UTC). Every id, name and description from the
input is escaped where it is written (XML and HTML escaping; characters XML 1.0 forbids
become U+FFFD). Deterministic: the same input gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shipahead.timeofday import CLOCK_END_S, format_clock

from .outputs import PALETTE  # one colour per vehicle, as on the routes map

if TYPE_CHECKING:
    from .network import RoadNetwork

__all__ = [
    "EPOCH_FROM_S",
    "GPX_CREATOR",
    "driver_sheets_html",
    "network_geojson",
    "route_gpx",
    "route_kml",
]

#: ``creator`` attribute of the GPX files
GPX_CREATOR = "shipahead"
#: times at or past this (2001-09-09 UTC) are UNIX times, not seconds from midnight
EPOCH_FROM_S = 1_000_000_000
GPX_NS = "http://www.topografix.com/GPX/1/1"
KML_NS = "http://www.opengis.net/kml/2.2"


# characters XML 1.0 does not allow (C0 controls except tab/LF/CR, surrogates, U+FFFE/FFFF)
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_STOP_TYPES = ("job", "pickup", "delivery")


def _text(value: object) -> str:
    """``value`` as text that XML 1.0 can carry (forbidden characters -> U+FFFD)."""
    return _XML_BAD.sub("\ufffd", "" if value is None else str(value))


def _clock(t: float | None) -> str:
    """A time in the problem's frame as text: ``HH:MM`` or, for UNIX times, UTC date-time."""
    if t is None:
        return ""
    if t >= EPOCH_FROM_S:
        return dt.datetime.fromtimestamp(int(t), dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    if t >= CLOCK_END_S:  # past 47:59: write it as it is, not clamped
        return f"{int(t) // 3600:02d}:{(int(t) % 3600) // 60:02d}"
    return format_clock(t)


def _datetime(t: float, date: str | dt.date | None, tz: str | None) -> str | None:
    """xsd:dateTime of a time in the problem's frame; None when it has no date.

    UNIX times are UTC (``Z``). Seconds from midnight need ``date`` (the plan day); with
    ``tz`` (an IANA zone such as ``America/New_York``) they are local times of that zone
    converted to UTC, without it they are written as local times (no zone designator).
    """
    if t >= EPOCH_FROM_S:
        return dt.datetime.fromtimestamp(int(t), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if date is None:
        return None
    day = date if isinstance(date, dt.date) else dt.date.fromisoformat(str(date))
    local = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=round(t))
    if tz is None:
        return local.strftime("%Y-%m-%dT%H:%M:%S")
    from zoneinfo import ZoneInfo

    utc = local.replace(tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def _route(output: Mapping[str, Any], vehicle_id: object) -> Mapping[str, Any]:
    for r in output.get("routes") or ():
        if str(r.get("vehicle")) == str(vehicle_id):
            return r
    raise KeyError(f"vehicle {vehicle_id!s}: no route in this plan")


def _job_info(problem: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """job id (as text) -> the problem's job object; a mapping id -> text is a description."""
    if not problem:
        return {}
    if "jobs" in problem or "vehicles" in problem:
        out: dict[str, dict[str, Any]] = {}
        for j in problem.get("jobs") or ():
            out[str(j.get("id"))] = dict(j)
        for s in problem.get("shipments") or ():
            for part in ("pickup", "delivery"):
                if isinstance(s.get(part), Mapping):
                    out[str(s[part].get("id"))] = dict(s[part])
        return out
    return {str(k): {"description": v} for k, v in problem.items()}


def _vehicle_info(problem: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    if not problem or "vehicles" not in problem:
        return {}
    return {str(v.get("id")): dict(v) for v in problem.get("vehicles") or ()}


def _step_name(step: Mapping[str, Any], jobs: Mapping[str, Mapping[str, Any]]) -> str:
    """What a step is called on a device: ``job <id>: <description>``, ``depot``, ``break``."""
    kind = str(step.get("type", ""))
    if kind in _STOP_TYPES:
        jid = str(step.get("id"))
        desc = step.get("description") or jobs.get(jid, {}).get("description")
        label = f"{kind} {jid}" if kind != "job" else f"stop {jid}"
        return f"{label}: {desc}" if desc else label
    if kind == "break":
        return f"break {step.get('id')}" if step.get("id") is not None else "break"
    return {"start": "depot (start)", "end": "depot (end)"}.get(kind, kind)


def _coords(step: Mapping[str, Any]) -> tuple[float, float] | None:
    loc = step.get("location")
    if not isinstance(loc, Sequence) or len(loc) < 2:
        return None
    return float(loc[0]), float(loc[1])


def _polyline(
    route: Mapping[str, Any], geometry: Sequence[Sequence[float]] | None
) -> list[tuple[float, float]]:
    """The road polyline (lon, lat); without one, straight lines between the step locations."""
    if geometry:
        return [(float(p[0]), float(p[1])) for p in geometry]
    pts = [c for c in (_coords(s) for s in route.get("steps") or ()) if c is not None]
    return [p for i, p in enumerate(pts) if i == 0 or p != pts[i - 1]]


def _vehicle_label(route: Mapping[str, Any], vehicles: Mapping[str, Mapping[str, Any]]) -> str:
    vid = str(route.get("vehicle"))
    desc = route.get("description") or vehicles.get(vid, {}).get("description")
    return f"vehicle {vid}: {desc}" if desc else f"vehicle {vid}"


def _serialise(root: ET.Element) -> str:
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _sub(parent: ET.Element, tag: str, text: object | None = None, **attrib: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrib)
    if text is not None:
        el.text = _text(text)
    return el


def _stop_desc(step: Mapping[str, Any]) -> str:
    parts = [f"ETA {_clock(step.get('arrival'))}"]
    if step.get("waiting_time"):
        parts.append(f"wait {int(step['waiting_time']) // 60} min")
    if step.get("service"):
        parts.append(f"service {int(step['service']) // 60} min")
    return ", ".join(parts)


def route_gpx(
    output: Mapping[str, Any],
    vehicle_id: object,
    geometry: Sequence[Sequence[float]] | None = None,
    *,
    problem: Mapping[str, Any] | None = None,
    date: str | dt.date | None = None,
    tz: str | None = None,
) -> str:
    """One vehicle's route as a GPX 1.1 document (valid against the GPX 1.1 schema).

    ``geometry`` is the road polyline ``[(lon, lat), ...]`` of the route (degrees, WGS84);
    without it the track joins the stops with straight lines. Waypoints: the depot(s) and
    every stop in visiting order, named ``stop <job id>: <description>`` (descriptions from
    the steps or from ``problem``'s jobs), with the ETA as ``<time>`` when the plan day is
    known (``date``, ISO ``YYYY-MM-DD``; ``tz`` converts to UTC, see :func:`_datetime`)
    and always in ``<desc>`` as ``HH:MM``. Steps without a ``location`` are left out.
    Raises ``KeyError`` when ``vehicle_id`` has no route in ``output``.
    """
    route = _route(output, vehicle_id)
    jobs = _job_info(problem)
    label = _vehicle_label(route, _vehicle_info(problem))
    ET.register_namespace("", GPX_NS)
    q = f"{{{GPX_NS}}}"
    root = ET.Element(f"{q}gpx", {"version": "1.1", "creator": GPX_CREATOR})
    meta = _sub(root, f"{q}metadata")
    _sub(meta, f"{q}name", f"Route of {label}")
    _sub(
        meta,
        f"{q}desc",
        "Stops in visiting order with their ETAs. Map data © OpenStreetMap contributors (ODbL).",
    )
    seq = 0
    for step in route.get("steps") or ():
        c = _coords(step)
        if c is None:
            continue
        kind = str(step.get("type", ""))
        if kind in _STOP_TYPES:
            seq += 1
        wpt = _sub(root, f"{q}wpt", lat=f"{c[1]:.6f}", lon=f"{c[0]:.6f}")
        when = step.get("arrival")
        stamp = _datetime(when, date, tz) if when is not None else None
        if stamp is not None:
            _sub(wpt, f"{q}time", stamp)
        name = _step_name(step, jobs)
        _sub(wpt, f"{q}name", f"{seq}. {name}" if kind in _STOP_TYPES else name)
        _sub(wpt, f"{q}desc", _stop_desc(step))
        _sub(wpt, f"{q}type", kind)
    trk = _sub(root, f"{q}trk")
    _sub(trk, f"{q}name", label)
    seg = _sub(trk, f"{q}trkseg")
    for lon, lat in _polyline(route, geometry):
        _sub(seg, f"{q}trkpt", lat=f"{lat:.6f}", lon=f"{lon:.6f}")
    return _serialise(root)


def _kml_colour(hex_rgb: str) -> str:
    """``#RRGGBB`` -> KML's ``aabbggrr`` (opaque)."""
    h = hex_rgb.lstrip("#")
    return f"ff{h[4:6]}{h[2:4]}{h[0:2]}".lower()


def route_kml(
    output: Mapping[str, Any],
    vehicle_id: object,
    geometry: Sequence[Sequence[float]] | None = None,
    *,
    problem: Mapping[str, Any] | None = None,
    date: str | dt.date | None = None,
    tz: str | None = None,
    colour: str | None = None,
) -> str:
    """One vehicle's route as a KML 2.2 document: the road line and one Placemark per stop.

    Same inputs as :func:`route_gpx`; ``colour`` (``#RRGGBB``) styles the line, by default
    the vehicle's colour on the console's map (its position among the routes of ``output``).
    Stops carry their ETA in the description and as a ``TimeStamp`` when the day is known.
    """
    route = _route(output, vehicle_id)
    if colour is None:
        idx = [str(r.get("vehicle")) for r in output.get("routes") or ()].index(str(vehicle_id))
        colour = PALETTE[idx % len(PALETTE)]
    jobs = _job_info(problem)
    label = _vehicle_label(route, _vehicle_info(problem))
    ET.register_namespace("", KML_NS)
    q = f"{{{KML_NS}}}"
    root = ET.Element(f"{q}kml")
    doc = _sub(root, f"{q}Document")
    _sub(doc, f"{q}name", f"Route of {label}")
    _sub(doc, f"{q}description", "Map data © OpenStreetMap contributors (ODbL).")
    style = _sub(doc, f"{q}Style", id="route")
    line_style = _sub(style, f"{q}LineStyle")
    _sub(line_style, f"{q}color", _kml_colour(colour))
    _sub(line_style, f"{q}width", "4")
    line = _sub(doc, f"{q}Placemark")
    _sub(line, f"{q}name", label)
    _sub(line, f"{q}styleUrl", "#route")
    ls = _sub(line, f"{q}LineString")
    _sub(ls, f"{q}tessellate", "1")
    pts = _polyline(route, geometry)
    if len(pts) == 1:
        pts = pts * 2
    _sub(ls, f"{q}coordinates", " ".join(f"{lon:.6f},{lat:.6f}" for lon, lat in pts))
    seq = 0
    for step in route.get("steps") or ():
        c = _coords(step)
        if c is None:
            continue
        kind = str(step.get("type", ""))
        if kind in _STOP_TYPES:
            seq += 1
        pm = _sub(doc, f"{q}Placemark")
        name = _step_name(step, jobs)
        _sub(pm, f"{q}name", f"{seq}. {name}" if kind in _STOP_TYPES else name)
        _sub(pm, f"{q}description", _stop_desc(step))
        when = step.get("arrival")
        stamp = _datetime(when, date, tz) if when is not None else None
        if stamp is not None:
            ts = _sub(pm, f"{q}TimeStamp")
            _sub(ts, f"{q}when", stamp)
        point = _sub(pm, f"{q}Point")
        _sub(point, f"{q}coordinates", f"{c[0]:.6f},{c[1]:.6f}")
    return _serialise(root)


def _windows(job: Mapping[str, Any]) -> list[tuple[float, float]]:
    out = []
    for w in job.get("time_windows") or ():
        if isinstance(w, Sequence) and len(w) >= 2:
            out.append((float(w[0]), float(w[1])))
    return out


def lateness_s(step: Mapping[str, Any], windows: Sequence[tuple[float, float]]) -> float:
    """Seconds by which a stop's service starts after its time windows (0 = on time).

    Service starts at ``arrival + waiting_time``; it is on time when a window holds that
    moment (or there is no window), else late by the time since the last window ended. A
    step that reports a ``delay`` violation (VROOM's ``violations``) is late by its duration.
    """
    for v in step.get("violations") or ():
        if isinstance(v, Mapping) and v.get("cause") == "delay":
            return float(v.get("duration") or 0) or 1.0
    if not windows:
        return 0.0
    start = float(step.get("arrival") or 0) + float(step.get("waiting_time") or 0)
    if any(a <= start <= b for a, b in windows):
        return 0.0
    ended = [b for _, b in windows if b < start]
    return start - max(ended) if ended else 0.0


_SHEET_CSS = """
@page { size: A4 landscape; margin: 10mm; }
body { font: 10pt/1.25 system-ui, sans-serif; color: #000; margin: 0; }
.sheet { break-after: page; page-break-after: always; padding: 4px; }
.sheet:last-of-type { break-after: auto; page-break-after: auto; }
h1 { font-size: 14pt; margin: 0 0 2px; }
.summary { margin: 0 0 6px; }
table { border-collapse: collapse; width: 100%; }
thead { display: table-header-group; }
th, td { border: 1px solid #888; padding: 2px 4px; text-align: left; vertical-align: top;
  white-space: nowrap; }
td.wrap { white-space: normal; overflow-wrap: anywhere; }
th.desc { width: 38%; }
th.notes { width: 16%; }
th { background: #eee; }
tr { break-inside: avoid; page-break-inside: avoid; }
td.num, th.num { text-align: right; }
tr.late td { background: #fde2e2; }
.late-note { color: #b00000; font-weight: bold; }
.footer { font-size: 9pt; color: #444; margin-top: 6px; }
@media screen { .sheet { border-bottom: 2px dashed #aaa; margin-bottom: 16px; } }
"""


def _minutes(seconds: object) -> str:
    return f"{float(seconds or 0) / 60.0:.0f}"


def driver_sheets_html(
    output: Mapping[str, Any],
    problem_or_descriptions: Mapping[str, Any] | None = None,
    *,
    title: str = "Driver sheets",
) -> str:
    """Print-all driver sheets as one HTML page: one printed page (or more) per driver.

    ``problem_or_descriptions`` is the VROOM problem (job descriptions, time windows,
    priorities, skills and vehicle descriptions come from it) or a mapping job id ->
    description. Each vehicle with a route gets a ``<section class="sheet">`` that starts a
    new printed page (CSS ``break-after: page``); its table lists the depot, every stop in
    order (sequence, job id, address/description, ETA, time window, wait and service in
    minutes, load after the stop, notes such as ``LATE 12 min``), breaks and the return,
    and no row is split across pages (``break-inside: avoid``; the header row repeats).
    Every input string is HTML-escaped.
    """
    jobs = _job_info(problem_or_descriptions)
    vehicles = _vehicle_info(problem_or_descriptions)
    esc = html.escape
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n',
        f"<title>{esc(title)}</title>\n<style>{_SHEET_CSS}</style>\n</head><body>\n",
    ]
    routes = list(output.get("routes") or ())
    if not routes:
        parts.append('<section class="sheet"><h1>No routes in this plan</h1></section>\n')
    for route in routes:
        steps = list(route.get("steps") or ())
        stops = [s for s in steps if str(s.get("type")) in _STOP_TYPES]
        label = _vehicle_label(route, vehicles)
        first = steps[0] if steps else {}
        last = steps[-1] if steps else {}
        summary = [f"{len(stops)} stop" + ("" if len(stops) == 1 else "s")]
        if first.get("arrival") is not None:
            summary.append(f"leave {_clock(first.get('arrival'))}")
        if last.get("arrival") is not None:
            summary.append(f"back {_clock(last.get('arrival'))}")
        if route.get("distance") is not None:
            summary.append(f"{float(route['distance']) / 1000.0:.1f} km")
        if route.get("duration") is not None:
            summary.append(f"{float(route['duration']) / 3600.0:.1f} h driving")
        parts.append(
            f'<section class="sheet" data-vehicle="{esc(str(route.get("vehicle")))}">\n'
            f"<h1>{esc(_text(label))}</h1>\n"
            f'<p class="summary">{esc(", ".join(summary))}</p>\n'
            '<table><thead><tr><th class="num">#</th><th>stop</th>'
            '<th class="desc">address / description</th><th>ETA</th><th>window</th>'
            '<th class="num">wait min</th><th class="num">service min</th>'
            '<th>load after</th><th class="notes">notes</th></tr></thead>\n<tbody>\n'
        )
        seq = 0
        for step in steps:
            kind = str(step.get("type", ""))
            job = jobs.get(str(step.get("id")), {}) if kind in _STOP_TYPES else {}
            windows = _windows(job)
            late = lateness_s(step, windows)
            notes = []
            if late > 0:
                notes.append(f"LATE {late / 60.0:.0f} min")
            if job.get("priority"):
                notes.append(f"priority {job['priority']}")
            if job.get("skills"):
                notes.append("skills " + ", ".join(str(s) for s in job["skills"]))
            for key in ("delivery", "pickup"):
                if job.get(key):
                    notes.append(f"{key} " + " + ".join(str(a) for a in job[key]))
            if kind in _STOP_TYPES:
                seq += 1
                num = str(seq)
                stop = str(step.get("id"))
                desc = step.get("description") or job.get("description") or ""
            else:
                num = ""
                stop = {"start": "depot (start)", "end": "depot (end)"}.get(kind, kind)
                desc = step.get("description") or ""
            window = ", ".join(f"{_clock(a)}–{_clock(b)}" for a, b in windows)
            load = step.get("load")
            load_txt = " + ".join(str(x) for x in load) if isinstance(load, Sequence) else ""
            row_cls = ' class="late"' if late > 0 else ""
            note_html = esc(_text("; ".join(notes)))
            if late > 0:
                note_html = f'<span class="late-note">{note_html}</span>'
            parts.append(
                f'<tr{row_cls}><td class="num">{num}</td><td>{esc(_text(stop))}</td>'
                f'<td class="wrap">{esc(_text(desc))}</td>'
                f"<td>{esc(_clock(step.get('arrival')))}</td>"
                f"<td>{esc(window)}</td>"
                f'<td class="num">{_minutes(step.get("waiting_time"))}</td>'
                f'<td class="num">{_minutes(step.get("service"))}</td>'
                f'<td>{esc(load_txt)}</td><td class="wrap">{note_html}</td></tr>\n'
            )
        parts.append(
            '</tbody></table>\n<p class="footer">ETAs come from a time-dependent simulation '
            "of the route under the day's traffic. Map data © OpenStreetMap contributors "
            "(ODbL).</p>\n</section>\n"
        )
    parts.append("</body></html>\n")
    return "".join(parts)


#: road classes (indices into routing.ROAD_CLASSES) per tier of the drawn network, widest
#: first: motorway/trunk, primary/secondary, tertiary and below (as on the routes map)
NETWORK_TIERS = ((0, 4), (4, 8), (8, 99))
#: most points in :func:`network_geojson` (after simplification): minor tiers are left out
#: past this (about 2 MB of GeoJSON at the limit; the Columbus sample network fits whole)
MAX_NETWORK_POINTS = 200_000
#: Douglas-Peucker tolerance of the drawn road geometry, degrees (~2 m)
NETWORK_SIMPLIFY_DEG = 2e-5


def network_geojson(
    net: RoadNetwork,
    bbox: tuple[float, float, float, float] | None = None,
    *,
    max_points: int = MAX_NETWORK_POINTS,
) -> dict[str, Any]:
    """The road network as a GeoJSON FeatureCollection: one MultiLineString per tier.

    Each undirected road segment once, simplified (:data:`NETWORK_SIMPLIFY_DEG`), in
    ``(lon, lat)`` degrees rounded to 1e-5 (about 1 m); only segments with an end inside
    ``bbox`` (``min_lon, min_lat, max_lon, max_lat``) when one is given. Feature properties:
    ``tier`` (0 = motorway/trunk, 1 = primary/secondary, 2 = the rest) and ``classes`` (the
    OSM highway classes of the tier). Tiers are added widest first while the points stay
    within ``max_points``; the collection's ``bbox`` covers what is drawn.
    """
    import numpy as np

    from .network import ROAD_CLASSES
    from .outputs import road_tier_lines

    lon = np.asarray(net.lon, dtype=float)
    lat = np.asarray(net.lat, dtype=float)
    n = len(lon)
    features = []
    drawn: list[np.ndarray] = []
    for tier, (lo, hi), xy, which in road_tier_lines(
        net, NETWORK_TIERS, NETWORK_SIMPLIFY_DEG, max_points, bbox
    ):
        xy = np.round(xy, 5)
        drawn.append(xy)
        cuts = np.flatnonzero(np.diff(which)) + 1
        coords = [part.tolist() for part in np.split(xy, cuts)]
        features.append(
            {
                "type": "Feature",
                "properties": {"tier": tier, "classes": list(ROAD_CLASSES[lo:hi])},
                "geometry": {"type": "MultiLineString", "coordinates": coords},
            }
        )
    box: list[float] | None = None
    if drawn:
        allxy = np.concatenate(drawn)
        lo_xy, hi_xy = allxy.min(axis=0), allxy.max(axis=0)
        box = [float(lo_xy[0]), float(lo_xy[1]), float(hi_xy[0]), float(hi_xy[1])]
    elif n:
        box = [round(float(v), 5) for v in (lon.min(), lat.min(), lon.max(), lat.max())]
    return {"type": "FeatureCollection", "bbox": box, "features": features}

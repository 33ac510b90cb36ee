"""Output artefacts of a :class:`routing.RoutePlan` (pure: return objects/strings).

- :func:`routes_geojson`: a GeoJSON FeatureCollection with one LineString per vehicle that
  follows the roads actually driven (arc geometries of every leg), plus its KPIs.
- :func:`routes_map_html`: a self-contained Leaflet page (Leaflet inlined from
  ``routing/_assets/vendor/leaflet``, the road network as its base layer, so it opens offline; one
  colour per vehicle, numbered stop markers with ETA popups, OpenStreetMap attribution).
- :func:`driver_sheets`: one Markdown sheet per vehicle.

Every string that comes from the input (ids, names, reasons) is escaped where it is rendered:
:func:`html.escape` in the page, :func:`md_text` in the sheets.
- :func:`summary_dict`: the KPI dict written as ``summary.json``.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import numpy as np

from .plan import RoutePlan, hhmm

if TYPE_CHECKING:
    from .network import RoadNetwork

#: colour per vehicle (cycled): colour-blind-safe Okabe-Ito, then Tableau 10
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
    "#4E79A7",
    "#F28E2B",
    "#59A14F",
    "#B07AA1",
)
OSM_ATTRIBUTION = (
    'Map data &copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> '
    "contributors (ODbL)"
)


def vehicle_colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def route_coordinates(plan: RoutePlan, k: int) -> list[list[float]]:
    """``[[lon, lat], ...]`` along the roads driven by simulated route ``k``."""
    sim = plan.sims[k]
    net = plan.net
    coords: list[list[float]] = []
    for leg in sim.legs:
        for a in leg.arcs:
            g = net.arc_geometry[int(a)]
            pts = g.tolist()
            if coords and coords[-1] == pts[0]:
                pts = pts[1:]
            coords.extend(pts)
    if not coords:
        v = plan.problem.vehicles[sim.vehicle]
        x, y = plan.node_lonlat[v.start]
        coords = [[float(x), float(y)], [float(x), float(y)]]
    if len(coords) == 1:
        coords.append(coords[0])
    return [[round(x, 6), round(y, 6)] for x, y in coords]


def routes_geojson(plan: RoutePlan) -> dict:
    """FeatureCollection: one LineString per used vehicle, following the roads."""
    feats = []
    for k, sim in enumerate(plan.sims):
        v = plan.problem.vehicles[sim.vehicle]
        feats.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": route_coordinates(plan, k)},
                "properties": {
                    "vehicle_id": v.vehicle_id,
                    "colour": vehicle_colour(sim.vehicle),
                    "stops": len(sim.visits),
                    "depart": hhmm(sim.depart_s),
                    "return": hhmm(sim.end_arrival_s),
                    "km": round(sim.distance_m / 1000.0, 3),
                    "driving_min": round(sim.driving_s / 60.0, 1),
                    "late_stops": sim.late_stops,
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "features": feats,
        "attribution": "Road network © OpenStreetMap contributors, ODbL 1.0",
    }


def _names(plan: RoutePlan, depot_names: Mapping[str, str] | None) -> dict[str, str]:
    """node id -> display name: the stops' ``name`` column and ``depot_names`` (blank: none)."""
    out: dict[str, str] = {}
    st = plan.stops
    if "name" in st.columns:
        for sid, name in zip(st["stop_id"], st["name"], strict=True):
            if isinstance(name, str) and name.strip():
                out[str(sid)] = name.strip()
    for d, name in (depot_names or {}).items():
        if isinstance(name, str) and name.strip():
            out[str(d)] = name.strip()
    return out


def _positions(plan: RoutePlan) -> frozenset[str]:
    """Internal start nodes ``@<vehicle_id>`` of vehicles re-planned on the road (an input id
    that merely starts with ``@``, such as a depot ``@F1``, is not one)."""
    ids = set(plan.problem.node_ids)
    real = set(map(str, plan.stops["stop_id"])) | set(map(str, plan.fleet["depot_id"]))
    return frozenset(
        f"@{v.vehicle_id}"
        for v in plan.problem.vehicles
        if f"@{v.vehicle_id}" in ids and f"@{v.vehicle_id}" not in real
    )


def place_label(
    node_id: str, kind: str, names: Mapping[str, str], positions: frozenset[str] = frozenset()
) -> str:
    """What a person reads for a route row: ``name (id)``, the depot, or the current position.

    A re-planned vehicle that is on the road starts at an internal node ``@<vehicle_id>``
    (listed in ``positions``): it reads "current position". Plain text (escape it for the
    output it goes into).
    """
    node_id = str(node_id)
    if node_id in positions:
        return "current position"
    name = names.get(node_id)
    text = f"{name} ({node_id})" if name and name != node_id else node_id
    return f"depot {text}" if kind in ("start", "end") else text


#: Markdown characters escaped with a backslash in table cells and headings
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_text(value: object) -> str:
    """``value`` as literal Markdown text, safe in a table cell (GFM) or a heading.

    Whitespace runs (newlines, tabs) become one space; ``< > &`` become HTML entities (raw HTML
    is passed through by Markdown renderers); Markdown punctuation, including the cell
    separator ``|``, is backslash-escaped.
    """
    s = " ".join(str(value).split())
    s = html.escape(s, quote=False)
    return _MD_SPECIAL.sub(r"\\\1", s)


def _script_json(obj: object) -> str:
    """JSON for an inline ``<script>``: ``<``, ``>``, ``&`` and line separators as ``\\uXXXX``
    (a string can never close the script element)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    for ch, esc in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(ch, esc)
    return text


def _asset(name: str) -> str:
    from importlib.resources import files

    return (files("shipahead.routing") / "_assets" / "vendor" / "leaflet" / name).read_text(
        encoding="utf-8"
    )


def _asset_uri(name: str) -> str:
    import base64
    from importlib.resources import files

    data = (files("shipahead.routing") / "_assets" / "vendor" / "leaflet" / name).read_bytes()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


#: road classes drawn as the base layer, in tiers (widest first): motorway/trunk, primary/
#: secondary, tertiary and below
_ROAD_TIERS = ((0, 4), (4, 8), (8, 99))
#: most road points drawn (after simplification): minor roads are left out past this, so
#: the page stays small (about 1.5 MB of road data at the limit; 0.55 MB for the 75-stop
#: Columbus sample)
MAX_ROAD_POINTS = 150_000
#: Douglas-Peucker tolerance for the drawn road geometry, degrees (~2 m)
ROAD_SIMPLIFY_DEG = 2e-5


def road_tier_lines(
    net: RoadNetwork,
    tiers: tuple[tuple[int, int], ...],
    simplify_deg: float,
    max_points: int,
    bbox: tuple[float, float, float, float] | None = None,
) -> Iterator[tuple[int, tuple[int, int], np.ndarray, np.ndarray]]:
    """The road network to draw, tier by tier: for each ``(lo, hi)`` range of road classes
    (widest first) with segments, ``(tier index, (lo, hi), xy, which)`` — each undirected
    segment once, with an end inside ``bbox`` (``min_lon, min_lat, max_lon, max_lat``,
    degrees) when given, simplified by ``simplify_deg`` degrees; ``xy`` are ``(lon, lat)``
    points, ``which`` the segment of each point. Stops before the tier that would take the
    points over ``max_points``."""
    import shapely

    lon = np.asarray(net.lon, dtype=float)
    lat = np.asarray(net.lat, dtype=float)
    tail = np.asarray(net.arc_tail, dtype=np.int64)
    head = np.asarray(net.arc_head, dtype=np.int64)
    n = len(lon)
    # each undirected segment once: keep the arc with tail < head, or the only direction
    keep = (tail < head) | ~np.isin(head * n + tail, tail * n + head)
    if bbox is not None:
        x0, y0, x1, y1 = (float(v) for v in bbox)

        def _in(i: np.ndarray) -> np.ndarray:
            return (lon[i] >= x0) & (lon[i] <= x1) & (lat[i] >= y0) & (lat[i] <= y1)

        keep &= _in(tail) | _in(head)
    cls = np.asarray(net.arc_class)
    budget = int(max_points)
    for tier, (lo, hi) in enumerate(tiers):
        arcs = np.flatnonzero(keep & (cls >= lo) & (cls < hi))
        if not len(arcs):
            continue
        lines = shapely.simplify(
            [shapely.LineString(net.arc_geometry[int(a)]) for a in arcs], simplify_deg
        )
        xy, which = shapely.get_coordinates(lines, return_index=True)
        if len(xy) > budget:
            return
        budget -= len(xy)
        yield tier, (lo, hi), xy, which


def road_layer(plan: RoutePlan, pad: float = 0.15) -> list[dict]:
    """The road network around the plan as polylines, one entry per tier of road classes.

    Each undirected road segment once, clipped to the plan's bounding box (grown by ``pad``
    of its size on every side), simplified (:data:`ROAD_SIMPLIFY_DEG`), coordinates in
    1e-5 degrees (about 1 m) as ``[dlat, dlon, ...]`` steps from the previous point of the
    tier (the first from 0, 0). Minor tiers are left out when the points exceed
    :data:`MAX_ROAD_POINTS`.
    """
    lon, lat = plan.node_lonlat[:, 0], plan.node_lonlat[:, 1]
    w = max(float(lon.max() - lon.min()), 0.005)
    h = max(float(lat.max() - lat.min()), 0.005)
    bbox = (
        float(lon.min()) - pad * w,
        float(lat.min()) - pad * h,
        float(lon.max()) + pad * w,
        float(lat.max()) + pad * h,
    )
    tiers = []
    for _, _, xy, which in road_tier_lines(
        plan.net, _ROAD_TIERS, ROAD_SIMPLIFY_DEG, MAX_ROAD_POINTS, bbox
    ):
        g = np.rint(xy[:, ::-1] * 1e5).astype(np.int64)  # (lat, lon) in 1e-5 degrees
        d = np.diff(g, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
        cuts = np.flatnonzero(np.diff(which)) + 1
        tiers.append({"tier": len(tiers), "lines": [p.ravel().tolist() for p in np.split(d, cuts)]})
    return tiers


_MAP_CSS = """
html,body{height:100%;margin:0}
#map{position:absolute;top:0;bottom:0;left:0;right:0;background:#f2efe9}
.sa-stop{border-radius:50%;width:22px;height:22px;line-height:18px;text-align:center;
font:bold 11px sans-serif;color:#fff;box-sizing:border-box}
.sa-depot{width:24px;height:24px;line-height:22px;text-align:center;font:bold 13px sans-serif;
color:#fff;background:#000;border:2px solid #fff;box-sizing:border-box}
.sa-legend{background:#fff;padding:6px 9px;font:12px sans-serif;border-radius:4px;
box-shadow:0 1px 4px rgba(0,0,0,.3)}
"""

_MAP_JS = """
(function () {
  var D = JSON.parse(document.getElementById('shipahead-data').textContent);
  var map = L.map('map', {preferCanvas: false, zoomControl: true});
  window.shipaheadMap = map;
  map.attributionControl.setPrefix('Leaflet');
  map.attributionControl.addAttribution(D.attribution);
  var roadRenderer = L.canvas({padding: 0.5});
  var roadStyle = [
    {color: '#a0a0a0', weight: 4}, {color: '#b4b4b4', weight: 2.5}, {color: '#c8c8c8', weight: 1.2}
  ];
  var roads = L.layerGroup();
  D.roads.forEach(function (t) {
    var y = 0, x = 0;  // each step is from the previous point of the tier
    var lines = t.lines.map(function (d) {
      var out = [];
      for (var i = 0; i < d.length; i += 2) {
        y += d[i]; x += d[i + 1]; out.push([y / 1e5, x / 1e5]);
      }
      return out;
    });
    var s = roadStyle[Math.min(t.tier, 2)];
    L.polyline(lines, {renderer: roadRenderer, color: s.color, weight: s.weight,
      opacity: 0.9, interactive: false}).addTo(roads);
  });
  roads.addTo(map);
  var base = {'Road network (offline)': L.layerGroup().addTo(map),
    'OpenStreetMap tiles (online)': L.tileLayer(
      'https://tile.openstreetmap.org/{z}/{x}/{y}.png', {maxZoom: 19})};
  var overlays = {'Roads': roads};
  D.vehicles.forEach(function (v) {
    var g = L.featureGroup();
    L.polyline(v.line, {color: v.colour, weight: 4, opacity: 0.85})
      .bindTooltip(v.tooltip).addTo(g);
    v.stops.forEach(function (s) {
      var icon = L.divIcon({className: '', iconSize: [22, 22], iconAnchor: [11, 11],
        html: '<div class="sa-stop" style="background:' + v.colour + ';border:2px solid ' +
          (s.late ? '#d00' : '#fff') + '">' + s.seq + '</div>'});
      L.marker([s.lat, s.lon], {icon: icon}).bindPopup(s.popup, {maxWidth: 260})
        .bindTooltip(s.tooltip).addTo(g);
    });
    g.addTo(map);
    overlays[v.name] = g;
  });
  D.depots.forEach(function (d) {
    var icon = L.divIcon({className: '', iconSize: [24, 24], iconAnchor: [12, 12],
      html: '<div class="sa-depot">D</div>'});
    L.marker([d.lat, d.lon], {icon: icon, zIndexOffset: 1000}).bindTooltip(d.tooltip).addTo(map);
  });
  if (D.unassigned.length) {
    var u = L.featureGroup();
    D.unassigned.forEach(function (s) {
      L.circleMarker([s.lat, s.lon], {radius: 6, color: '#888', fill: true})
        .bindPopup(s.popup, {maxWidth: 260}).bindTooltip(s.tooltip).addTo(u);
    });
    u.addTo(map);
    overlays[D.unassigned_name] = u;
  }
  L.control.layers(base, overlays, {collapsed: false}).addTo(map);
  L.control.scale().addTo(map);
  map.fitBounds(D.bounds, {padding: [20, 20]});
  document.body.setAttribute('data-map-ready', '1');
})();
"""


def routes_map_html(plan: RoutePlan, depot_names: Mapping[str, str] | None = None) -> str:
    """The plan as one self-contained HTML page (Leaflet inlined, opens offline).

    The base layer is the road network itself (:func:`road_layer`); OpenStreetMap tiles are
    an optional base layer for when the page is online. One colour per vehicle, numbered
    stop markers with ETA popups. Every string from the input (ids, names, reasons) is
    HTML-escaped where it is rendered, and the data sits in a JSON block that cannot close
    its ``<script>``. Deterministic: the same plan gives the same bytes.
    """
    names = _names(plan, depot_names)
    pos = _positions(plan)
    esc = html.escape
    routes = plan.routes
    vehicles = []
    for k, sim in enumerate(plan.sims):
        v = plan.problem.vehicles[sim.vehicle]
        colour = vehicle_colour(sim.vehicle)
        rows = routes[routes["vehicle_id"] == v.vehicle_id]
        stops = []
        for r in rows.itertuples(index=False):
            if r.kind != "stop":
                continue
            label = esc(place_label(r.stop_id, r.kind, names, pos))
            late = "" if r.on_time else f"<br><b>late by {r.late_min:.0f} min</b>"
            stops.append(
                {
                    "lat": float(r.lat),
                    "lon": float(r.lon),
                    "seq": int(r.seq),
                    "late": not bool(r.on_time),
                    "tooltip": f"{int(r.seq)}. {label} ETA {esc(str(r.arrival))}",
                    "popup": (
                        f"<b>{label}</b> — {esc(v.vehicle_id)} #{int(r.seq)}<br>"
                        f"ETA {esc(str(r.arrival))}, leaves {esc(str(r.departure))}<br>"
                        f"window {esc(str(r.tw_start))}–{esc(str(r.tw_end))}, "
                        f"service {float(r.service_min):g} min{late}"
                    ),
                }
            )
        vehicles.append(
            {
                "name": f"{esc(v.vehicle_id)} ({len(sim.visits)} stops)",
                "colour": colour,
                "tooltip": esc(v.vehicle_id),
                "line": [[y, x] for x, y in route_coordinates(plan, k)],
                "stops": stops,
            }
        )
    depots = []
    seen = set()
    for v in plan.problem.vehicles:
        for node in (v.start, v.end):
            nid = plan.problem.node_ids[node]
            if node in seen or nid in pos:
                continue
            seen.add(node)
            x, y = plan.node_lonlat[node]
            depots.append(
                {
                    "lat": round(float(y), 6),
                    "lon": round(float(x), 6),
                    "tooltip": esc(place_label(nid, "start", names)),
                }
            )
    unassigned = []
    for r in plan.unassigned.itertuples(index=False):
        if np.isfinite(r.lat):
            label = esc(place_label(r.stop_id, "stop", names))
            unassigned.append(
                {
                    "lat": float(r.lat),
                    "lon": float(r.lon),
                    "tooltip": f"{label} (unassigned)",
                    "popup": f"<b>{label}</b> unassigned: {esc(str(r.reason))}",
                }
            )
    lon, lat = plan.node_lonlat[:, 0], plan.node_lonlat[:, 1]
    data = {
        "attribution": OSM_ATTRIBUTION,
        "bounds": [
            [round(float(lat.min()), 6), round(float(lon.min()), 6)],
            [round(float(lat.max()), 6), round(float(lon.max()), 6)],
        ],
        "depots": depots,
        "roads": road_layer(plan),
        "unassigned": unassigned,
        "unassigned_name": f"unassigned ({len(unassigned)})",
        "vehicles": vehicles,
    }
    css = (
        _asset("leaflet.css")
        .replace("url(images/layers.png)", f"url({_asset_uri('layers.png')})")
        .replace("url(images/layers-2x.png)", f"url({_asset_uri('layers-2x.png')})")
    )
    js = _asset("leaflet.js")
    date = plan.summary.get("date", "")
    title = esc("Delivery routes" + (f" — {date}" if date else ""))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f"<title>{title}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<!-- Leaflet 1.9.4 (c) 2010-2023 Vladimir Agafonkin, (c) 2010-2011 CloudMade; "
        "BSD-2-Clause -->\n"
        f"<style>{css}</style>\n<style>{_MAP_CSS}</style>\n"
        f'<script>{js}</script>\n</head><body>\n<div id="map"></div>\n'
        f'<script type="application/json" id="shipahead-data">{_script_json(data)}</script>\n'
        f"<script>{_MAP_JS}</script>\n</body></html>\n"
    )


def driver_sheets(plan: RoutePlan, depot_names: Mapping[str, str] | None = None) -> dict[str, str]:
    """vehicle_id -> Markdown driver sheet (stops in order with ETAs, windows, loads).

    Stops and depots are shown by their ``name`` (stops table, ``depot_names``) with the id;
    every input string is escaped with :func:`md_text`.
    """
    names = _names(plan, depot_names)
    pos = _positions(plan)
    out: dict[str, str] = {}
    date = plan.summary.get("date", "")
    for sim in plan.sims:
        v = plan.problem.vehicles[sim.vehicle]
        rows = plan.routes[plan.routes["vehicle_id"] == v.vehicle_id]
        depot = place_label(plan.problem.node_ids[v.end], "stop", names, pos)  # name (id)
        lines = [
            f"# Driver sheet — {md_text(v.vehicle_id)}" + (f" — {md_text(date)}" if date else ""),
            "",
            f"Depot **{md_text(depot)}**. Leave {hhmm(sim.depart_s)}, back "
            f"{hhmm(sim.end_arrival_s)} (shift ends {hhmm(v.shift_end_s)}). "
            f"{len(sim.visits)} stops, {sim.distance_m / 1000.0:.1f} km, "
            f"{sim.driving_s / 3600.0:.1f} h driving. Load at start: {sum(sim.load_start)} units.",
            "",
            "| # | stop | ETA | leave | window | service min | drop units | load after | "
            "lat, lon | note |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        prev_load = sum(sim.load_start)
        for r in rows.itertuples(index=False):
            note = []
            if r.wait_min >= 1:
                note.append(f"wait {r.wait_min:.0f} min")
            if r.break_min > 0:
                # the break belongs to the leg leaving this row's place
                note.append(
                    f"break {r.break_min:.0f} min from {r.break_start}, before the next stop"
                )
            if not r.on_time:
                note.append(f"LATE {r.late_min:.0f} min")
            window = f"{r.tw_start}–{r.tw_end}" if r.tw_start else ""
            if r.tw_start and not r.tw_end:  # open window end (blank in the stops file)
                window = "" if r.tw_start == "00:00" else f"from {r.tw_start}"
            drop = prev_load - r.load_units if r.kind == "stop" else ""
            prev_load = r.load_units if r.kind == "stop" else prev_load
            place = place_label(r.stop_id, r.kind, names, pos)
            if r.kind != "stop":
                place = f"{r.kind}: {place}"
            lines.append(
                f"| {r.seq} | {md_text(place)} | {md_text(r.arrival)} | {md_text(r.departure)} | "
                f"{md_text(window)} | {r.service_min:g} | {drop} | "
                f"{r.load_units if r.kind != 'end' else ''} | "
                f"{r.lat:.5f}, {r.lon:.5f} | {md_text('; '.join(note))} |"
            )
        lines += [
            "",
            "ETAs come from a time-dependent simulation of this route under the day's traffic "
            "profile and weather. Map data © OpenStreetMap contributors (ODbL).",
            "",
        ]
        out[v.vehicle_id] = "\n".join(lines)
    return out


#: run-dependent entries left out of ``summary.json`` (same input -> same bytes)
VOLATILE = ("timings", "roads_cache_hit")


def summary_dict(plan: RoutePlan) -> dict:
    """The plan's KPIs (JSON-serialisable) without wall-clock timings.

    Timings stay in ``plan.summary["timings"]`` (the CLI puts them in the run manifest).
    """
    out = {k: v for k, v in plan.summary.items() if k not in VOLATILE}
    out["iterations"] = [
        {k: v for k, v in row.items() if k != "solve_s"} for row in out.get("iterations", [])
    ]
    return out

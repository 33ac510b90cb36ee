"""Output artefacts of a :class:`routing.RoutePlan` (pure: return objects/strings).

- :func:`routes_geojson`: a GeoJSON FeatureCollection with one LineString per vehicle that
  follows the roads actually driven (arc geometries of every leg), plus its KPIs.
- :func:`routes_map_html`: a folium map (one colour per vehicle, numbered stop markers
  with ETA popups, OpenStreetMap attribution) as an HTML string.
- :func:`driver_sheets`: one Markdown sheet per vehicle.
- :func:`summary_dict`: the KPI dict written as ``summary.json``.
"""

from __future__ import annotations

import html

import numpy as np

from .plan import RoutePlan, hhmm

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


def routes_map_html(plan: RoutePlan) -> str:
    """A self-contained folium map of the plan as an HTML string."""
    import folium

    lon = plan.node_lonlat[:, 0]
    lat = plan.node_lonlat[:, 1]
    m = folium.Map(
        location=[float(np.mean(lat)), float(np.mean(lon))],
        zoom_start=11,
        tiles="OpenStreetMap",
        attr=OSM_ATTRIBUTION,
        control_scale=True,
    )
    m.fit_bounds([[float(lat.min()), float(lon.min())], [float(lat.max()), float(lon.max())]])
    routes = plan.routes
    for k, sim in enumerate(plan.sims):
        v = plan.problem.vehicles[sim.vehicle]
        colour = vehicle_colour(sim.vehicle)
        fg = folium.FeatureGroup(name=f"{v.vehicle_id} ({len(sim.visits)} stops)")
        line = [[y, x] for x, y in route_coordinates(plan, k)]
        folium.PolyLine(
            line, color=colour, weight=4, opacity=0.8, tooltip=html.escape(v.vehicle_id)
        ).add_to(fg)
        rows = routes[routes["vehicle_id"] == v.vehicle_id]
        for r in rows.itertuples(index=False):
            if r.kind != "stop":
                continue
            late = "" if r.on_time else f"<br><b>late by {r.late_min:.0f} min</b>"
            popup = (
                f"<b>{html.escape(str(r.stop_id))}</b> — {html.escape(v.vehicle_id)} #{r.seq}<br>"
                f"ETA {r.arrival}, leaves {r.departure}<br>"
                f"window {r.tw_start}–{r.tw_end}, service {r.service_min:g} min{late}"
            )
            border = "#d00" if not r.on_time else "#fff"
            icon = folium.DivIcon(
                html=(
                    f'<div style="background:{colour};color:#fff;border:2px solid {border};'
                    "border-radius:50%;width:22px;height:22px;line-height:18px;"
                    f'text-align:center;font:bold 11px sans-serif">{int(r.seq)}</div>'
                ),
                icon_size=(22, 22),
                icon_anchor=(11, 11),
            )
            folium.Marker(
                [float(r.lat), float(r.lon)],
                icon=icon,
                popup=folium.Popup(popup, max_width=260),
                tooltip=f"{r.stop_id} ETA {r.arrival}",
            ).add_to(fg)
        fg.add_to(m)
    seen = set()
    for v in plan.problem.vehicles:
        if v.start in seen:
            continue
        seen.add(v.start)
        x, y = plan.node_lonlat[v.start]
        folium.Marker(
            [float(y), float(x)],
            icon=folium.Icon(color="black", icon="home"),
            tooltip=html.escape(plan.problem.node_ids[v.start]),
        ).add_to(m)
    for r in plan.unassigned.itertuples(index=False):
        if np.isfinite(r.lat):
            folium.CircleMarker(
                [float(r.lat), float(r.lon)],
                radius=6,
                color="#888",
                fill=True,
                popup=folium.Popup(
                    f"<b>{html.escape(str(r.stop_id))}</b> unassigned: {html.escape(r.reason)}",
                    max_width=260,
                ),
            ).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    # folium names elements with random ids; make the page byte-identical across runs
    out = m.get_root().render()
    return _stable_ids(out)


def _stable_ids(text: str) -> str:
    import re

    ids: dict[str, str] = {}

    def sub(mt: re.Match) -> str:
        key = mt.group(0)
        if key not in ids:
            ids[key] = f"{mt.group(1)}_{len(ids):05d}"
        return ids[key]

    return re.sub(r"\b([a-z][a-z_]*?)_([0-9a-f]{32})(?![0-9a-f])", sub, text)


def driver_sheets(plan: RoutePlan) -> dict[str, str]:
    """vehicle_id -> Markdown driver sheet (stops in order with ETAs, windows, loads)."""
    out: dict[str, str] = {}
    date = plan.summary.get("date", "")
    for sim in plan.sims:
        v = plan.problem.vehicles[sim.vehicle]
        rows = plan.routes[plan.routes["vehicle_id"] == v.vehicle_id]
        lines = [
            f"# Driver sheet — {v.vehicle_id}" + (f" — {date}" if date else ""),
            "",
            f"Depot **{plan.problem.node_ids[v.end]}**. Leave {hhmm(sim.depart_s)}, back "
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
            lines.append(
                f"| {r.seq} | {r.stop_id} ({r.kind}) | {r.arrival} | {r.departure} | {window} | "
                f"{r.service_min:g} | {drop} | {r.load_units if r.kind != 'end' else ''} | "
                f"{r.lat:.5f}, {r.lon:.5f} | {'; '.join(note)} |"
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

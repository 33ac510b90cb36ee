"""GPX/KML/driver-sheet exports of a plan in VROOM's output format (routing.exports)."""

from __future__ import annotations

import copy
from pathlib import Path

import lxml.etree as LET
import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shipahead.routing import driver_sheets_html, network_geojson, route_gpx, route_kml
from shipahead.routing.exports import lateness_s

XSD = Path(__file__).resolve().parents[1] / "data" / "gpx-1.1.xsd"
GPX = "{http://www.topografix.com/GPX/1/1}"
KML = "{http://www.opengis.net/kml/2.2}"
HOSTILE = '<script>alert(1)</script> & "Bob\'s" ]]> \x07bell'

PROBLEM = {
    "jobs": [
        {
            "id": 11,
            "location": [-83.0, 39.96],
            "service": 300,
            "delivery": [2],
            "time_windows": [[32400, 36000]],
            "description": HOSTILE,
        },
        {
            "id": 12,
            "location": [-83.01, 39.97],
            "service": 600,
            "delivery": [1],
            "time_windows": [[28800, 30000], [43200, 46800]],
            "priority": 5,
        },
        {"id": 13, "location": [-83.02, 39.95], "service": 120, "skills": [2]},
    ],
    "vehicles": [
        {
            "id": 1,
            "start": [-83.03, 39.96],
            "end": [-83.03, 39.96],
            "capacity": [10],
            "description": "van <1>",
        },
        {"id": 2, "start": [-83.03, 39.96], "capacity": [10]},
    ],
    "options": {"date": "2026-12-07"},
}

OUTPUT = {
    "code": 0,
    "summary": {"cost": 5000, "routes": 2, "unassigned": 0},
    "unassigned": [],
    "routes": [
        {
            "vehicle": 1,
            "cost": 4000,
            "duration": 3000,
            "distance": 12_345,
            "steps": [
                {
                    "type": "start",
                    "location": [-83.03, 39.96],
                    "arrival": 30000,
                    "duration": 0,
                    "service": 0,
                    "waiting_time": 0,
                    "load": [3],
                },
                {
                    "type": "job",
                    "id": 11,
                    "location": [-83.0, 39.96],
                    "arrival": 31000,
                    "duration": 1000,
                    "service": 300,
                    "waiting_time": 1400,
                    "load": [1],
                    "description": HOSTILE,
                },
                {
                    "type": "break",
                    "id": 1,
                    "arrival": 32700,
                    "duration": 1000,
                    "service": 900,
                    "waiting_time": 0,
                    "load": [1],
                },
                {
                    "type": "job",
                    "id": 12,
                    "location": [-83.01, 39.97],
                    "arrival": 40000,
                    "duration": 1500,
                    "service": 600,
                    "waiting_time": 0,
                    "load": [0],
                },
                {
                    "type": "end",
                    "location": [-83.03, 39.96],
                    "arrival": 41500,
                    "duration": 3000,
                    "service": 0,
                    "waiting_time": 0,
                    "load": [0],
                },
            ],
        },
        {
            "vehicle": 2,
            "cost": 1000,
            "duration": 1000,
            "steps": [
                {
                    "type": "start",
                    "location": [-83.03, 39.96],
                    "arrival": 28800,
                    "duration": 0,
                    "service": 0,
                    "waiting_time": 0,
                    "load": [0],
                },
                {
                    "type": "job",
                    "id": 13,
                    "location": [-83.02, 39.95],
                    "arrival": 29300,
                    "duration": 500,
                    "service": 120,
                    "waiting_time": 0,
                    "load": [0],
                },
            ],
        },
    ],
}
ROAD = [
    (-83.03, 39.96),
    (-83.02, 39.961),
    (-83.0, 39.96),
    (-83.005, 39.965),
    (-83.01, 39.97),
    (-83.03, 39.96),
]


@pytest.fixture(scope="module")
def schema() -> LET.XMLSchema:
    return LET.XMLSchema(LET.parse(str(XSD)))


def _valid(schema: LET.XMLSchema, text: str) -> LET._Element:
    doc = LET.fromstring(text.encode("utf-8"))
    schema.assertValid(doc)
    return doc


def test_gpx_validates_with_track_and_waypoints(schema: LET.XMLSchema) -> None:
    text = route_gpx(OUTPUT, 1, ROAD, problem=PROBLEM, date="2026-12-07")
    doc = _valid(schema, text)
    assert doc.get("version") == "1.1"
    trkpts = doc.findall(f"{GPX}trk/{GPX}trkseg/{GPX}trkpt")
    assert [(float(p.get("lon")), float(p.get("lat"))) for p in trkpts] == ROAD
    wpts = doc.findall(f"{GPX}wpt")
    # start, stop 11, stop 12, end (the break has no location)
    assert [w.findtext(f"{GPX}type") for w in wpts] == ["start", "job", "job", "end"]
    names = [w.findtext(f"{GPX}name") for w in wpts]
    assert names[1] == "1. stop 11: " + HOSTILE.replace("\x07", "\ufffd")
    assert names[2] == "2. stop 12"
    # ETA as time: seconds from the plan day's midnight on options' date (local, no zone)
    assert wpts[1].findtext(f"{GPX}time") == "2026-12-07T08:36:40"
    assert "ETA 08:37" in wpts[1].findtext(f"{GPX}desc")
    assert "<script>" not in text  # escaped, never markup
    assert "&lt;script&gt;" in text


def test_gpx_times_to_utc_with_zone_and_none_without_date(schema: LET.XMLSchema) -> None:
    doc = _valid(schema, route_gpx(OUTPUT, 1, ROAD, date="2026-12-07", tz="America/New_York"))
    assert doc.find(f"{GPX}wpt").findtext(f"{GPX}time") == "2026-12-07T13:20:00Z"
    doc = _valid(schema, route_gpx(OUTPUT, "2", None))
    assert doc.find(f"{GPX}wpt/{GPX}time") is None
    # no road geometry: straight lines through the stops
    pts = doc.findall(f"{GPX}trk/{GPX}trkseg/{GPX}trkpt")
    assert [(float(p.get("lon")), float(p.get("lat"))) for p in pts] == [
        (-83.03, 39.96),
        (-83.02, 39.95),
    ]


def test_gpx_unix_times_are_utc(schema: LET.XMLSchema) -> None:
    out = copy.deepcopy(OUTPUT)
    for s in out["routes"][0]["steps"]:
        s["arrival"] += 1_780_000_000
    doc = _valid(schema, route_gpx(out, 1, ROAD))
    t = doc.find(f"{GPX}wpt").findtext(f"{GPX}time")
    assert t.endswith("Z") and t.startswith("2026-")


def test_unknown_vehicle_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="vehicle 9"):
        route_gpx(OUTPUT, 9, None)
    with pytest.raises(KeyError):
        route_kml(OUTPUT, "nope", None)


@settings(max_examples=60, deadline=None)
@given(desc=st.text(max_size=40), vid=st.text(min_size=1, max_size=12))
def test_gpx_valid_for_any_text(schema: LET.XMLSchema, desc: str, vid: str) -> None:
    out = copy.deepcopy(OUTPUT)
    out["routes"][0]["vehicle"] = vid
    out["routes"][0]["steps"][1]["description"] = desc
    doc = _valid(schema, route_gpx(out, vid, ROAD))
    name = doc.findall(f"{GPX}wpt")[1].findtext(f"{GPX}name")
    assert name.startswith("1. stop 11")
    kml = LET.fromstring(route_kml(out, vid, ROAD).encode("utf-8"))
    assert kml.tag == f"{KML}kml"


def test_kml_line_style_and_stops() -> None:
    text = route_kml(OUTPUT, 1, ROAD, problem=PROBLEM, date="2026-12-07")
    doc = LET.fromstring(text.encode("utf-8"))
    assert doc.tag == f"{KML}kml"
    d = doc.find(f"{KML}Document")
    assert d.findtext(f"{KML}name") == "Route of vehicle 1: van <1>"
    assert d.findtext(f"{KML}Style/{KML}LineStyle/{KML}color") == "ffb27200"  # #0072B2
    marks = d.findall(f"{KML}Placemark")
    line = marks[0].findtext(f"{KML}LineString/{KML}coordinates").split()
    assert [tuple(map(float, c.split(","))) for c in line] == ROAD
    stops = [m for m in marks[1:] if m.findtext(f"{KML}name").split(".")[0].isdigit()]
    assert [m.findtext(f"{KML}name")[:9] for m in stops] == ["1. stop 1", "2. stop 1"]
    assert stops[0].findtext(f"{KML}TimeStamp/{KML}when") == "2026-12-07T08:36:40"
    assert stops[0].findtext(f"{KML}Point/{KML}coordinates") == "-83.000000,39.960000"
    assert "<script>" not in text


def test_lateness_against_windows() -> None:
    assert lateness_s({"arrival": 100, "waiting_time": 0}, []) == 0
    assert lateness_s({"arrival": 100, "waiting_time": 0}, [(0, 200)]) == 0
    assert lateness_s({"arrival": 50, "waiting_time": 50}, [(100, 200)]) == 0
    assert lateness_s({"arrival": 260, "waiting_time": 0}, [(0, 200), (300, 400)]) == 60
    assert lateness_s({"arrival": 500, "waiting_time": 0}, [(0, 200), (300, 400)]) == 100
    late = {"arrival": 100, "violations": [{"cause": "delay", "duration": 90}]}
    assert lateness_s(late, [(0, 200)]) == 90


def test_driver_sheets_one_page_per_driver_escaped() -> None:
    text = driver_sheets_html(OUTPUT, PROBLEM)
    assert text == driver_sheets_html(OUTPUT, PROBLEM)  # deterministic
    assert "<script>" not in text
    page = lxml.html.fromstring(text)
    sheets = page.xpath("//section[@class='sheet']")
    assert [s.get("data-vehicle") for s in sheets] == ["1", "2"]
    css = page.xpath("//style")[0].text
    assert "break-after: page" in css and "page-break-after: always" in css
    assert "tr { break-inside: avoid; page-break-inside: avoid; }" in css
    h1 = sheets[0].xpath(".//h1")[0].text_content()
    assert h1 == "vehicle 1: van <1>"
    rows = sheets[0].xpath(".//tbody/tr")
    cells = [[td.text_content() for td in r.xpath("td")] for r in rows]
    assert [c[1] for c in cells] == ["depot (start)", "11", "break", "12", "depot (end)"]
    assert cells[1][2] == HOSTILE.replace("\x07", "\ufffd")  # the description, as text
    assert cells[1][3] == "08:37"  # ETA
    assert cells[1][4] == "09:00–10:00"
    assert cells[1][5] == "23"  # minutes waiting
    # stop 12 starts at 11:07 (no wait), between its windows 08:00–08:20 and 12:00–13:00:
    # late by the time since the first one closed
    assert cells[3][4] == "08:00–08:20, 12:00–13:00"
    assert "LATE 167 min" in cells[3][8] and "priority 5" in cells[3][8]
    assert rows[3].get("class") == "late"
    assert rows[1].get("class") is None
    assert "1 stop," in sheets[1].xpath(".//p[@class='summary']")[0].text_content()


def test_driver_sheets_with_descriptions_only_and_no_routes() -> None:
    text = driver_sheets_html(OUTPUT, {"13": "1 Main St & <b>"})
    page = lxml.html.fromstring(text)
    last = page.xpath("//section")[1].xpath(".//tbody/tr")[1]
    assert last.xpath("td")[2].text_content() == "1 Main St & <b>"
    empty = lxml.html.fromstring(driver_sheets_html({"routes": []}, None))
    assert "No routes" in empty.text_content()


def test_network_geojson_each_segment_once_within_bounds() -> None:
    import numpy as np

    from tests.routing._netfix import tiny_network

    net = tiny_network()
    g = network_geojson(net)
    assert g["type"] == "FeatureCollection"
    assert [f["properties"]["tier"] for f in g["features"]] == sorted(
        {f["properties"]["tier"] for f in g["features"]}
    )
    lines = [ln for f in g["features"] for ln in f["geometry"]["coordinates"]]
    # one line per undirected segment: a two-way street is drawn once
    keys = {(int(t), int(h)) for t, h in zip(net.arc_tail, net.arc_head, strict=True)}
    undirected = {(min(k), max(k)) for k in keys}
    assert len(lines) == len(undirected)
    x0, y0, x1, y1 = g["bbox"]
    pts = np.array([p for ln in lines for p in ln])
    assert (pts[:, 0] >= x0 - 1e-5).all() and (pts[:, 0] <= x1 + 1e-5).all()
    assert (pts[:, 1] >= y0 - 1e-5).all() and (pts[:, 1] <= y1 + 1e-5).all()
    assert g == network_geojson(net)  # deterministic
    # a bounding box keeps only segments touching it; a small budget drops minor tiers
    mid_x, mid_y = float(np.median(net.lon)), float(np.median(net.lat))
    part = network_geojson(net, (x0, y0, mid_x, mid_y))
    assert 0 < sum(len(f["geometry"]["coordinates"]) for f in part["features"]) < len(lines)
    few = network_geojson(net, max_points=10)
    assert sum(len(p) for f in few["features"] for p in f["geometry"]["coordinates"]) <= 10

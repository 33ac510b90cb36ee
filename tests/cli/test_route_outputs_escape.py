"""Hostile ids and names cannot run as code in `routes.html` or break the driver sheets.

A property test feeds hostile stop/vehicle/depot ids and stop names through `shipahead route`
(tiny network) and checks every .html/.md output: the page's data holds only escaped text (the
only tags are the ones the page itself writes), and each sheet renders (markdown-it, GFM tables)
with the id as literal text in one cell. `routes.html` is also opened in headless Chromium with
networking off: the map draws from the inlined Leaflet and no payload runs.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from shipahead.cli.app import app
from shipahead.cli.io import read_table
from shipahead.routing.outputs import OSM_ATTRIBUTION, md_text
from typer.testing import CliRunner

from tests.routing._netfix import TINY_OSM, tiny_fleet, tiny_stops

from . import browser
from .browser import dump_dom, find_chromium, screenshot

#: payloads that run (or break a table) when written unescaped; `PWN` marks what a test looks for
PAYLOADS = (
    "</script><script>document.body.setAttribute('data-pwned','1')</script>",
    "<img src=x onerror=\"document.body.setAttribute('data-pwned','2')\">",
    "<svg onload=alert(1)>",
    "a|b",
    "\"quoted' `tick`",
    "line\nbreak",
    "*bold* _em_ [link](javascript:alert(1)) ~~x~~",
    "&lt;already&gt; &amp;",
    "\\|back\\",
    '=HYPERLINK("http://x")',
)
ALLOWED_TAGS = {"b", "br"}  # what the page's own popups/tooltips use


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)


def _fragment(html_text: str) -> _Tags:
    p = _Tags()
    p.feed(html_text)
    p.close()
    return p


def _strings(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)
    elif isinstance(obj, str):
        yield obj


def check_page(page: str) -> dict:
    """Assert the page has only its own tags and its data only escaped text; return the data."""
    doc = _fragment(page)
    tags = [t for t, _ in doc.tags]
    assert tags.count("script") == 3, tags  # leaflet, the data block, the map code
    assert not {"img", "svg", "iframe", "object", "embed"} & set(tags), tags
    for _, attrs in doc.tags:
        assert not [a for a, _ in attrs if a.lower().startswith("on")], attrs
    m = re.search(r'<script type="application/json" id="shipahead-data">(.*?)</script>', page, re.S)
    assert m is not None
    assert "<" not in m.group(1)  # the data block can never close its script element
    data = json.loads(m.group(1))
    assert data.pop("attribution") == OSM_ATTRIBUTION  # the page's own link
    for s in _strings(data):
        frag = _fragment(s)
        assert {t for t, _ in frag.tags} <= ALLOWED_TAGS, s
        assert all(not attrs for _, attrs in frag.tags), s
    return data


def check_sheet(md: str, ids: list[str]) -> None:
    """The sheet renders to HTML with no tags but the table's, each row with 10 cells."""
    out = MarkdownIt("commonmark").enable("table").enable("strikethrough").render(md)
    doc = _fragment(out)
    tags = {t for t, _ in doc.tags}
    assert tags <= {"h1", "p", "strong", "table", "thead", "tbody", "tr", "th", "td"}, tags
    assert all(not a for t, a in doc.tags if t != "th" and t != "td"), doc.tags
    rows = re.findall(r"<tr>(.*?)</tr>", out, re.S)
    assert rows and all(r.count("<td") + r.count("<th") == 10 for r in rows), rows
    text = " ".join(doc.text)
    for i in ids:
        assert " ".join(i.split()) in text, i


def _run(args):
    return CliRunner().invoke(app, ["--quiet", *map(str, args)])


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SHIPAHEAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def route_with_ids(
    tmp: Path,
    stop_ids: list[str],
    names: list[str],
    vehicle_ids: list[str],
    depot: str,
    capacity: int = 100,
) -> Path:
    stops = tiny_stops(len(stop_ids), seed=11)
    for c in ("tw_start", "tw_end"):
        stops[c] = [f"{m // 60:02d}:{m % 60:02d}" for m in stops[c]]
    stops["stop_id"] = stop_ids
    stops["name"] = names
    fleet = tiny_fleet(len(vehicle_ids), capacity=capacity)
    fleet["vehicle_id"] = vehicle_ids
    fleet["depot_id"] = depot
    tmp.mkdir(parents=True, exist_ok=True)
    s, f = tmp / "stops.parquet", tmp / "fleet.parquet"  # exact strings (newlines, quotes)
    stops.to_parquet(s, index=False)
    fleet.to_parquet(f, index=False)
    out = tmp / "out"
    r = _run(
        [
            "route",
            "--stops",
            s,
            "--fleet",
            f,
            "--roads",
            TINY_OSM,
            "--time-limit",
            "1",
            "--engine",
            "ortools",
            "--deterministic",
            "--out",
            out,
        ]
    )
    assert r.exit_code == 0, r.output
    return out


hostile = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(st.sampled_from("<>&\"'`|\\*_[]()!#~\n\t=+-@ ab/"), min_size=1, max_size=12),
).filter(lambda s: s.strip() != "" and s == s.strip())


@settings(
    max_examples=4,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),  # each example runs `route`
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ids=st.lists(hostile, min_size=5, max_size=5, unique=True), pick=st.integers(0, 3))
def test_route_outputs_escape_every_input_string(tmp_path_factory, ids, pick) -> None:
    tmp = tmp_path_factory.mktemp("hostile")
    stop_ids = [f"{ids[0]}{i}" for i in range(4)] + [ids[1]]
    names = [ids[2], "", ids[3], PAYLOADS[pick], ids[4]]
    vehicles = [ids[pick + 1] + "v", PAYLOADS[1] + "w"]
    out = route_with_ids(tmp, stop_ids, names, vehicles, depot=ids[4] + "D")
    files = sorted(p for p in out.rglob("*") if p.suffix in (".html", ".md"))
    assert out / "routes.html" in files
    data = check_page((out / "routes.html").read_text())
    assert len(data["vehicles"]) >= 1
    routes = read_table(out / "routes.csv")  # the CSV guard removed again
    assert set(routes["vehicle_id"]) <= set(vehicles)
    sheets = [p for p in files if p.suffix == ".md"]
    assert len(sheets) == routes["vehicle_id"].nunique()
    for p in sheets:
        md = p.read_text()
        vid = next(v for v in routes["vehicle_id"].unique() if md_text(v) in md.splitlines()[0])
        served = routes.loc[(routes["vehicle_id"] == vid) & (routes["kind"] == "stop"), "stop_id"]
        check_sheet(md, list(served))


def test_driver_sheet_shows_names_and_depot_not_internal_ids(tmp_path: Path) -> None:
    out = route_with_ids(
        tmp_path,
        ["S0", "S1", "S|2", "S3"],
        ["Corner shop", "", "Bob's <b>bar</b> | pub", "Café\nNord"],
        ["V1", "V|2"],
        depot="D1",
    )
    sheets = {p.name: p.read_text() for p in (out / "drivers").glob("*.md")}
    assert len(sheets) >= 1
    text = "\n".join(sheets.values())
    for md in sheets.values():
        check_sheet(md, [])
    rendered = MarkdownIt("commonmark").enable("table").render(text)
    plain = " ".join(_fragment(rendered).text)
    served = set(pd.read_csv(out / "routes.csv", dtype=str)["stop_id"])
    if "S0" in served:
        assert "Corner shop (S0)" in plain
    if "S1" in served:
        assert re.search(r"\| S1 \|", text)  # no name: the id
    if "S|2" in served:
        assert "Bob's <b>bar</b> | pub (S|2)" in plain
    if "S3" in served:
        assert "Café Nord (S3)" in plain
    assert "start: depot D1" in plain and "end: depot D1" in plain


def test_two_vehicle_ids_that_differ_in_odd_characters_get_two_sheets(tmp_path: Path) -> None:
    out = route_with_ids(
        tmp_path, ["S0", "S1", "S2", "S3"], [""] * 4, ["V|1", "V_1"], depot="D", capacity=30
    )
    routes = pd.read_csv(out / "routes.csv", dtype=str)
    assert routes["vehicle_id"].nunique() == 2  # both used (small vans)
    sheets = sorted((out / "drivers").glob("*.md"))
    assert len(sheets) == 2
    assert {p.read_text().splitlines()[0] for p in sheets} == {
        "# Driver sheet — V\\|1",
        "# Driver sheet — V\\_1",
    }


@pytest.mark.parametrize("text", ["a|b", "x\n|y", "<img src=x onerror=alert(1)>", "\\|", "`|`"])
def test_md_text_is_one_literal_cell(text: str) -> None:
    md = f"| a | b |\n|---|---|\n| {md_text(text)} | z |\n"
    out = MarkdownIt("commonmark").enable("table").render(md)
    cells = re.findall(r"<td>(.*?)</td>", out, re.S)
    assert len(cells) == 2 and cells[1] == "z"
    assert " ".join(_fragment(cells[0]).text) == " ".join(text.split())


@given(
    st.text(
        st.one_of(st.characters(exclude_categories=("Cs", "Cc")), st.sampled_from("\n\t\r")),
        max_size=30,
    )
)
def test_md_text_property(text: str) -> None:
    md = f"| a | b |\n|---|---|\n| {md_text(text)} | z |\n"
    out = MarkdownIt("commonmark").enable("table").enable("strikethrough").render(md)
    rows = re.findall(r"<tr>(.*?)</tr>", out, re.S)
    assert len(rows) == 2
    cells = re.findall(r"<td>(.*?)</td>", rows[1], re.S)
    assert len(cells) == 2 and cells[1] == "z"
    doc = _fragment(cells[0])
    assert doc.tags == []
    assert "".join(doc.text).split() == text.split()


chromium = pytest.mark.skipif(find_chromium() is None, reason="needs chromium")


@chromium
def test_routes_html_draws_offline_and_runs_no_payload(tmp_path: Path, monkeypatch) -> None:
    # no network: every host name fails to resolve, every request goes to a dead proxy
    offline = ["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9"]
    monkeypatch.setattr(browser, "FLAGS", [*browser.FLAGS, *offline])
    out = route_with_ids(
        tmp_path,
        ["S0", PAYLOADS[0], PAYLOADS[1], "S3"],
        [PAYLOADS[1], PAYLOADS[0], "", "<b onmouseover=x>n</b>"],
        [PAYLOADS[0] + "V", PAYLOADS[1]],
        depot=PAYLOADS[1] + "D",
    )
    page = out / "routes.html"
    text = page.read_text()
    # nothing loaded from elsewhere: no script/style links, no remote CSS urls
    assert not re.search(r"<script[^>]*\ssrc=|<link\s|url\(\s*['\"]?(https?:)?//", text)
    # a test copy opens every tooltip and popup so their content is in the DOM
    probe = tmp_path / "probe.html"
    probe.write_text(
        text.replace(
            "</body>",
            "<script>shipaheadMap.eachLayer(function (l) {"
            "if (l.getPopup && l.getPopup()) { l.getPopup().options.autoClose = false;"
            " l.openPopup(); }"
            "if (l.getTooltip && l.getTooltip()) { l.openTooltip(); } });"
            "document.body.setAttribute('data-probed', '1');</script></body>",
        )
    )
    binary = find_chromium()
    dom, errors = dump_dom(binary, probe)
    assert errors == [], errors
    assert 'data-map-ready="1"' in dom and 'data-probed="1"' in dom
    assert "data-pwned" not in re.findall(r"<body[^>]*>", dom)[0]
    assert not re.search(r"<img[^>]*src=\"x\"", dom)
    assert "leaflet-container" in dom and "leaflet-interactive" in dom  # routes drawn (SVG)
    assert "<canvas" in dom  # the road network layer
    assert "leaflet-popup-content" in dom and "leaflet-tooltip" in dom
    assert "&lt;img src=x onerror=" in dom  # shown as text
    png = tmp_path / "map.png"
    screenshot(binary, page, png, size="900,700")
    from PIL import Image

    im = Image.open(png).convert("RGB")
    colours = im.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # not a blank page


def test_replanned_sheet_names_the_depot_and_the_current_position(tmp_path: Path) -> None:
    stops = tiny_stops(6, seed=11)
    for c in ("tw_start", "tw_end"):
        stops[c] = [f"{m // 60:02d}:{m % 60:02d}" for m in stops[c]]
    stops["name"] = [f"Shop {i}" for i in range(6)]
    fleet = tiny_fleet(2).drop(columns=["depot_lat", "depot_lon"])
    depots = pd.DataFrame(
        {
            "depot_id": ["D1"],
            "name": ["Main | depot"],
            "lat": [tiny_fleet(1)["depot_lat"][0]],
            "lon": [tiny_fleet(1)["depot_lon"][0]],
        }
    )
    s, f, d = tmp_path / "stops.csv", tmp_path / "fleet.csv", tmp_path / "depots.csv"
    stops.to_csv(s, index=False)
    fleet.to_csv(f, index=False)
    depots.to_csv(d, index=False)
    out = tmp_path / "plan"
    r = _run(
        [
            *("route", "--stops", s, "--fleet", f, "--depots", d, "--roads", TINY_OSM),
            *("--time-limit", "1", "--engine", "ortools", "--deterministic", "--out", out),
        ]
    )
    assert r.exit_code == 0, r.output
    routes = pd.read_csv(out / "routes.csv", dtype=str)
    first = routes[routes["kind"] == "stop"].iloc[0]
    for md in (out / "drivers").glob("*.md"):
        text = md.read_text()
        assert "Main \\| depot (D1)" in text and "| start: depot Main \\| depot (D1) |" in text
        check_sheet(text, [])
    # re-plan after the first stop's departure: that vehicle starts where it is
    rp = tmp_path / "replan"
    r = _run(["route", "replan", "--plan", out, "--at", first["departure"], "--out", rp])
    assert r.exit_code == 0, r.output
    new = read_table(rp / "routes.csv")
    assert new["stop_id"].str.startswith("@").any()  # an internal start node in routes.csv
    sheets = "\n".join(p.read_text() for p in (rp / "drivers").glob("*.md"))
    assert "| start: current position |" in sheets
    assert "@V" not in sheets
    assert "end: depot Main \\| depot (D1)" in sheets
    assert "Shop " in sheets


def _decode(tier: dict) -> list[list[tuple[float, float]]]:
    y = x = 0
    out = []
    for d in tier["lines"]:
        pts = []
        for i in range(0, len(d), 2):
            y, x = y + d[i], x + d[i + 1]
            pts.append((y / 1e5, x / 1e5))
        out.append(pts)
    return out


def test_road_base_layer_decodes_onto_the_network_and_keeps_a_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shipahead.routing import outputs

    from tests.routing._netfix import tiny_network

    ids = [f"S{i}" for i in range(5)]
    full = check_page(
        (route_with_ids(tmp_path / "a", ids, [""] * 5, ["V1"], "D") / "routes.html").read_text()
    )
    tiers = full["roads"]
    assert tiers and all(t["lines"] for t in tiers)
    net = tiny_network()
    nodes = {(round(la, 5), round(lo, 5)) for la, lo in zip(net.lat, net.lon, strict=True)}
    ends = [(round(p[0][0], 5), round(p[0][1], 5)) for t in tiers for p in _decode(t)]
    assert sum(e in nodes for e in ends) >= 0.95 * len(ends)  # lines start at road nodes
    n_full = sum(len(line) for t in tiers for line in _decode(t))
    # over the budget, minor roads are left out (the major ones stay)
    monkeypatch.setattr(outputs, "MAX_ROAD_POINTS", n_full - 1)
    small = check_page(
        (route_with_ids(tmp_path / "b", ids, [""] * 5, ["V1"], "D") / "routes.html").read_text()
    )
    assert len(small["roads"]) == len(tiers) - 1
    assert small["roads"] == tiers[:-1]

"""The dispatcher console in headless Chromium (Debian's package, driven by Playwright).

A real ``shipahead serve`` process (SQLite in a temp folder, the sample road network and
traffic) serves the console; the browser opens it, submits the sample problem through the
page's file upload, sees the routes drawn over the road network it draws itself, cancels a
stop from the page's event form and sees the new revision without that stop. Nothing may
leave the machine (every request outside the server is refused and counted), the console
logs no error, the screenshots are not blank, and the print-all driver sheets print one page
per driver.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"
PROBLEM = SAMPLE / "dispatch_problem.json"
#: solver seconds per solve in this test (the sample problem asks for 10)
TIME_LIMIT_S = 2


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on this machine (.ci/run installs Debian's chromium)"
)


#: a job description that would run script if the console parsed data as HTML
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> & Co'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 10.0, headers: dict[str, str] | None = None) -> dict:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as res:
        return json.loads(res.read())


def _serve(tmp: Path, *extra: str) -> Iterator[str]:
    """A ``shipahead serve`` process on a free port (SQLite in ``tmp``); yields its base URL."""
    port = _free_port()
    exe = Path(sys.executable).with_name("shipahead")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "shipahead.cli.app"]
    cmd += ["--quiet", "serve", "--port", str(port), "--db", f"sqlite:///{tmp / 'dispatch.db'}"]
    cmd += [*extra, "--workers", "1"]
    token = extra[extra.index("--token") + 1] if "--token" in extra else None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    log = (tmp / "serve.log").open("w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp, env=os.environ)
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 240
        while True:
            if proc.poll() is not None:
                pytest.fail(f"shipahead serve exited {proc.returncode}:\n" + _tail(tmp))
            try:
                if _get(base + "health", timeout=2, headers=headers)["status"] == "ok":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("shipahead serve did not answer /health in 240 s:\n" + _tail(tmp))
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service on the sample road network and traffic profile, no token."""
    roads = str(SAMPLE / "roads" / "columbus_oh.osm.pbf")
    traffic = str(SAMPLE / "traffic.csv")
    tmp = tmp_path_factory.mktemp("serve")
    yield from _serve(tmp, "--roads", roads, "--traffic", traffic)


def _tail(tmp: Path) -> str:
    return (tmp / "serve.log").read_text(errors="replace")[-3000:]


def _not_blank(png: bytes, *, min_std: float = 12.0, min_colours: int = 16) -> tuple[float, int]:
    """Pixel standard deviation (grey levels) and colour count of a screenshot."""
    from PIL import Image, ImageStat

    img = Image.open(io.BytesIO(png)).convert("RGB")
    std = ImageStat.Stat(img.convert("L")).stddev[0]
    colours = len(img.getcolors(maxcolors=1 << 20) or [])
    assert std >= min_std and colours >= min_colours, (std, colours)
    return std, colours


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def test_console_submit_draw_cancel(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    problem = json.loads(PROBLEM.read_text())
    problem.setdefault("options", {})["time_limit_s"] = TIME_LIMIT_S
    hostile_id = problem["jobs"][0]["id"]
    problem["jobs"][0]["description"] = HOSTILE
    upload = tmp_path / "dispatch_problem.json"
    upload.write_text(json.dumps(problem))

    errors: list[str] = []
    outside: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on(
                "console",
                lambda m: (
                    errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None
                ),
            )
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))

            def only_local(route) -> None:  # offline: no CDN, no tile server
                if route.request.url.startswith(server):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", only_local)
            page.goto(server)
            page.wait_for_selector("body[data-ready='1']", timeout=60_000)
            # no --tiles: the console draws the served road network as its base map
            page.wait_for_function("Number(document.body.dataset.network || 0) > 0", timeout=60_000)
            assert page.locator("#map canvas").count() >= 1

            # submit the sample problem through the file upload
            page.set_input_files("#problem-file", str(upload))
            page.wait_for_function(
                "document.getElementById('problem-text').value.length > 100", timeout=10_000
            )
            page.click("#submit-problem")
            page.wait_for_selector(
                "body[data-status='finished'][data-revision='1']", timeout=240_000
            )
            plan_id = page.get_attribute("body", "data-plan")
            assert plan_id
            plan = _get(f"{server}v1/plans/{plan_id}")
            routes = plan["solution"]["routes"]
            assigned = [str(s["id"]) for r in routes for s in r["steps"] if s["type"] == "job"]
            assert len(routes) >= 2 and len(assigned) >= 60
            # the routes are drawn: one numbered marker per stop, one line per vehicle,
            # one timeline row per vehicle
            page.wait_for_function(
                f"document.querySelectorAll('.sa-stop').length === {len(assigned)}",
                timeout=10_000,
            )
            assert page.locator("path.leaflet-interactive").count() >= len(routes)
            assert page.locator(".tl-row").count() == len(routes)
            assert page.locator(".tl-eta").count() == len(assigned)
            assert page.locator("#plans li").count() == 1
            # names from the problem are text, never markup
            page.hover(f".sa-stop[data-job='{hostile_id}']")
            tip = page.locator(".leaflet-tooltip")
            tip.wait_for(timeout=5_000)
            assert HOSTILE in tip.inner_text()
            assert page.evaluate("window.__pwned") is None
            assert page.locator("#main img, #main script").count() == 0
            shot1 = page.screenshot(full_page=False)
            _not_blank(shot1)
            _not_blank(page.locator("#map").screenshot())

            # cancel a stop from the page
            victim = assigned[len(assigned) // 2]
            page.select_option("#ev-type", "stop_cancelled")
            page.select_option("#ev-job", victim)
            page.click("#send-event")
            page.wait_for_selector(
                "body[data-status='finished'][data-revision='2']", timeout=240_000
            )
            page.wait_for_function(
                "document.getElementById('changes-rev').textContent === '2'", timeout=10_000
            )
            after = _get(f"{server}v1/plans/{plan_id}")["solution"]
            now = [str(s["id"]) for r in after["routes"] for s in r["steps"] if s["type"] == "job"]
            assert set(now) == set(assigned) - {victim}
            # ... and the page shows the new revision without it
            assert page.locator(f".tl-eta[data-job='{victim}']").count() == 0
            page.wait_for_function(
                f"document.querySelectorAll('.sa-stop').length === {len(now)}", timeout=10_000
            )
            assert page.locator(f"#ev-job option[value='{victim}']").count() == 0
            changes = page.locator("#changes").inner_text()
            assert f"stop {victim}: cancelled" in changes
            assert victim in page.locator(".cancelled-list").inner_text()
            _not_blank(page.screenshot(full_page=False))

            # the print-all driver sheets: one printed page per driver
            sheets = browser.new_page()
            sheets.on("pageerror", lambda e: errors.append(f"sheets page error: {e}"))
            sheets.goto(f"{server}v1/plans/{plan_id}/sheets")
            n_sheets = sheets.locator("section.sheet").count()
            assert n_sheets == len(after["routes"])
            sheets.emulate_media(media="print")
            styles = sheets.evaluate(
                """() => ({
                  after: [...document.querySelectorAll('section.sheet')].map(
                    s => getComputedStyle(s).breakAfter),
                  rows: [...document.querySelectorAll('section.sheet tr')].map(
                    r => getComputedStyle(r).breakInside)})"""
            )
            # a new page after every driver but the last; no row split across pages
            assert styles["after"] == ["page"] * (n_sheets - 1) + ["auto"]
            assert set(styles["rows"]) == {"avoid"}
            pdf = sheets.pdf(prefer_css_page_size=True, print_background=True)
            most = max(sum(s["type"] == "job" for s in r["steps"]) for r in after["routes"])
            pages = _pdf_pages(pdf)
            assert pages >= n_sheets
            if most <= 12:  # a short sheet fits one A4 landscape page: one page per driver
                assert pages == n_sheets
        finally:
            browser.close()
    assert not errors, errors
    assert not outside, f"the console asked for something outside the server: {outside}"


#: a small problem with its own travel-time matrix (no road network needed); the jobs also
#: carry coordinates, which the console draws
MATRIX_PROBLEM = {
    "jobs": [
        {
            "id": 1,
            "location_index": 1,
            "location": [2.35, 48.86],
            "service": 300,
            "delivery": [1],
            "time_windows": [[28800, 36000]],
            "description": "North & <Sons>",
        },
        {"id": 2, "location_index": 2, "location": [2.36, 48.85], "service": 300, "delivery": [1]},
        {
            "id": 3,
            "location_index": 3,
            "location": [2.34, 48.84],
            "service": 300,
            "delivery": [1],
            "time_windows": [[28800, 30000]],
        },
        {"id": 4, "location_index": 4, "location": [2.33, 48.855], "service": 300, "delivery": [1]},
    ],
    "vehicles": [
        {
            "id": 7,
            "start_index": 0,
            "end_index": 0,
            "start": [2.345, 48.85],
            "end": [2.345, 48.85],
            "capacity": [3],
            "time_window": [28800, 64800],
        },
        {
            "id": 8,
            "start_index": 0,
            "end_index": 0,
            "start": [2.345, 48.85],
            "end": [2.345, 48.85],
            "capacity": [3],
            "time_window": [28800, 64800],
        },
    ],
    "matrices": {
        "car": {
            "durations": [
                [0, 600, 700, 650, 500],
                [600, 0, 400, 900, 800],
                [700, 400, 0, 600, 900],
                [650, 900, 600, 0, 450],
                [500, 800, 900, 450, 0],
            ]
        }
    },
    "options": {"time_limit_s": 1},
}


def test_console_with_token_and_matrices(tmp_path: Path) -> None:
    """A service that needs a token and has no road network: the console asks for the token,
    reads the stream with it (EventSource cannot send one) and works without a base map."""
    from playwright.sync_api import sync_playwright

    token = "console-test-token"
    errors: list[str] = []
    outside: list[str] = []
    gen = _serve(tmp_path, "--token", token)
    server = next(gen)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                page = browser.new_page(viewport={"width": 1200, "height": 800})
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(f"page error: {e}"))

                def only_local(route) -> None:
                    if route.request.url.startswith(server):
                        route.continue_()
                    else:
                        outside.append(route.request.url)
                        route.abort()

                page.route("**/*", only_local)
                page.goto(server)
                page.wait_for_selector("#token-form:not([hidden])", timeout=30_000)
                assert "token" in page.inner_text("#message")
                # before the token: the server's 401 answers, which the browser logs
                assert errors and all("401" in e for e in errors), errors
                errors.clear()
                page.fill("#token", token)
                page.click("#token-form button")
                page.wait_for_selector("body[data-ready='1']", timeout=30_000)
                page.wait_for_selector("body[data-network='0']", timeout=30_000)  # no --roads
                page.fill("#problem-text", json.dumps(MATRIX_PROBLEM))
                page.click("#submit-problem")
                page.wait_for_selector(
                    "body[data-status='finished'][data-revision='1']", timeout=120_000
                )
                page.wait_for_function(
                    "document.getElementById('conn').textContent === 'live'", timeout=10_000
                )
                assert page.locator(".sa-stop").count() == 4
                assert page.locator(".tl-eta").count() == 4
                page.hover(".sa-stop[data-job='1']")
                assert "North & <Sons>" in page.locator(".leaflet-tooltip").inner_text()
                page.select_option("#ev-type", "stop_cancelled")
                page.select_option("#ev-job", "2")
                page.click("#send-event")
                # the revision arrives through the token-carrying stream reader
                page.wait_for_selector(
                    "body[data-status='finished'][data-revision='2']", timeout=120_000
                )
                assert page.locator(".sa-stop").count() == 3
                assert page.locator(".tl-eta[data-job='2']").count() == 0
                _not_blank(page.screenshot(), min_std=8.0, min_colours=8)
            finally:
                browser.close()
    finally:
        gen.close()
    assert not errors, errors
    assert not outside, outside

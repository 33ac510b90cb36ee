"""report.html with a run store: accuracy over past runs and the placement orders' states.

Three `plan` runs of the hostile tiny scenario (every id a script/HTML/formula payload, no
routing) into one SQLite store: week -7 (forecast only), week -6 (forecast and placement; one of
its orders is then confirmed) and the full history. The last report scores the two earlier runs
against its history — the same figures `shipahead accuracy` gives, and a WAPE recomputed here by
hand — and lists every tracked order with its status and what this run did to it.
"""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from shipahead.cli.app import app
from shipahead.cli.io import read_table
from typer.testing import CliRunner

from .browser import dump_dom, find_chromium
from .test_hostile_plan import IDS, _hostile_scenario
from .test_route_outputs_escape import _fragment

runner = CliRunner()
USER = "=<b>bob</b>|`x`"  # an override's user: HTML, Markdown and a formula


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPAHEAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def _plan(toml: Path, out: Path, *args: str) -> None:
    res = runner.invoke(app, ["--quiet", "plan", str(toml), "--out", str(out), *args])
    assert res.exit_code == 0, res.output


def _json(*args: str) -> object:
    res = runner.invoke(app, ["--quiet", *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("loop")
    toml = _hostile_scenario(root / "scn")
    text = toml.read_text()
    text = text[: text.index("[routing]")].replace(
        "plot_top = 2\n",
        'plot_top = 1\njobs = 1\nmodels = "Naive,SeasonalNaive"\n'
        'challenger = { models = "Naive" }\n',
    )
    toml.write_text(text.replace("[inputs]\n", '[inputs]\noverrides = "ov.parquet"\n'))
    pd.DataFrame(
        {
            "region_id": [IDS["R1"], IDS["R2"]],
            "sku_id": [IDS["A"], IDS["B"]],
            "ds": pd.to_datetime(["2022-06-20", "2022-06-27"]),
            "value": [None, 30.0],
            "percent": [20.0, None],
            "user": [USER, "ann"],
            "comment": ["promo", ""],
        }
    ).to_parquet(root / "scn" / "ov.parquet", index=False)
    history = pd.read_parquet(root / "scn" / "history.parquet")
    dates = sorted(history["ds"].unique())
    url = f"sqlite:///{root / 'store.db'}"
    runs = {}
    for name, cut, only in (("w7", dates[-7], True), ("w6", dates[-6], False)):
        scn = root / f"scn-{name}"
        shutil.copytree(root / "scn", scn)
        history[history["ds"] <= cut].to_parquet(scn / "history.parquet", index=False)
        runs[name] = root / name
        _plan(scn / "scenario.toml", runs[name], "--store", url, *(["--only", "forecast"] * only))
    orders = _json("orders", "list", "--store", url)
    confirmed = max(orders, key=lambda o: (o["qty_units"], o["order_id"]))["order_id"]
    res = runner.invoke(app, ["--quiet", "orders", "confirm", "--store", url, confirmed])
    assert res.exit_code == 0, res.output
    runs["now"] = root / "now"
    _plan(toml, runs["now"], "--store", url)
    return {"url": url, "runs": runs, "toml": toml, "confirmed": confirmed}


class _Tables(HTMLParser):
    """The tables of a page: per table, its rows of cell texts (entities decoded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _section(page: str, sid: str) -> str:
    m = re.search(rf"<section id='{sid}'>(.*?)</section>", page, re.S)
    assert m is not None, sid
    return m.group(1)


def _tables(fragment: str) -> list[pd.DataFrame]:
    p = _Tables()
    p.feed(fragment)
    return [pd.DataFrame(t[1:], columns=t[0]) for t in p.tables]


def _csv(path: Path) -> pd.DataFrame:
    """An output CSV with its ids as written (formula guard removed) and numbers parsed."""
    df = read_table(path)
    for c in df.columns:
        if c not in ("run_id", "user", "level", "role", "as_of", "lag"):
            df[c] = pd.to_numeric(df[c])
    return df


def _text(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def test_first_run_says_there_is_nothing_to_score_yet(loop: dict[str, object]) -> None:
    page = (loop["runs"]["w7"] / "report.html").read_text()
    acc, orders = _section(page, "accuracy"), _section(page, "orders")
    assert "No past run of this scenario in the store yet" in acc and "<table" not in acc
    assert "The store tracks no placement order yet" in orders and "<table" not in orders


def test_report_scores_past_runs_as_the_accuracy_command(
    loop: dict[str, object], tmp_path: Path
) -> None:
    runs, url = loop["runs"], loop["url"]
    page = (runs["now"] / "report.html").read_text()
    acc = _section(page, "accuracy")
    assert (
        "2 of 2 past runs of this scenario (the latest, at most 52) have forecast periods"
        in _text(acc)
    )
    assert acc.count("data:image/png;base64,") == 1  # the trend chart
    trend, cc, va = _tables(acc)
    # the accuracy command over the same store and history gives the same figures
    out = tmp_path / "acc"
    history = loop["toml"].parent / "history.parquet"
    args = ["accuracy", "--store", url, "--actuals", str(history), "--out", str(out)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    by_run = _csv(out / "accuracy_by_run.csv")
    champ = by_run[by_run["role"] == "champion"]
    run_ids = sorted(champ["run_id"].unique(), key=lambda r: r.split("@")[1])
    assert trend["run_id"].tolist() == run_ids  # hostile run ids (scenario name) as text
    assert all(r.startswith("<script>alert('n')</script>@") for r in run_ids)
    names = {"sku_region": "SKU × region", "sku": "SKU", "region": "region", "network": "network"}
    for rid, row in zip(run_ids, trend.itertuples(index=False), strict=True):
        got = dict(zip(trend.columns, row, strict=True))
        for r in champ[champ["run_id"] == rid].itertuples(index=False):
            assert got[f"MASE {names[r.level]}"] == f"{r.mase:.3f}"
            assert got[f"WAPE {names[r.level]}"] == f"{r.wape:.1%}"
        assert got["periods scored"] == "16"  # 2 regions × 2 SKUs × 4 weeks
    # network WAPE of week -6 by hand: Σ|Σy − Σŷ| / ΣΣy over its four forecast weeks
    fc = pd.read_parquet(runs["w6"] / "forecast" / "forecast.parquet")
    hist = pd.read_parquet(history)
    y = hist.groupby(pd.to_datetime(hist["ds"]))["y"].sum()
    f = fc.groupby(pd.to_datetime(fc["ds"]))["mean"].sum()
    assert len(f) == 4 and f.index.isin(y.index).all()
    wape = float((y.reindex(f.index) - f).abs().sum() / y.reindex(f.index).sum())
    assert trend["WAPE network"].iloc[1] == f"{wape:.1%}"
    # champion vs challenger: the DM test over the two runs, as the command reports it
    ref = pd.read_csv(out / "champion_vs_challenger.csv")
    assert cc["lag"].tolist() == ref["lag"].astype(str).tolist()
    assert cc["p-value"].tolist() == [f"{p:.4f}" for p in ref["p_value"]]
    assert 0 <= float(cc["p-value"].iloc[0]) <= 1 and cc["runs"].iloc[0] == "2"
    winner = "challenger" if bool(ref["challenger_better"].iloc[0]) else "champion (kept)"
    assert cc["winner"].iloc[0] == winner
    verdict = "has beaten" if winner == "challenger" else "has not beaten"
    assert f"The challenger {verdict} the champion over the last 2 scored runs" in _text(acc)
    # value added per user: the hostile user's name shown as written
    ref_va = _csv(out / "value_added.csv")
    assert set(va["user"]) == {"all rows", USER, "ann"}
    for r in ref_va.itertuples(index=False):
        user = "all rows" if r.user == "*" else r.user
        row = va[(va["user"] == user) & (va["level"] == names[r.level])]
        assert row["periods"].item() == str(r.n)
        assert row["WAPE final"].item() == f"{r.wape_final:.1%}"
        assert row["value added by overrides"].item() == f"{r.fva_override:+.1%}"
    bob = va[va["user"] == USER].iloc[0]
    assert bob["WAPE baseline"] != bob["WAPE final"]  # the override changed the forecast


def test_report_lists_the_tracked_orders_and_this_runs_changes(loop: dict[str, object]) -> None:
    runs, url = loop["runs"], loop["url"]
    page = (runs["now"] / "report.html").read_text()
    counts, tracked = _tables(_section(page, "orders"))
    orders = {o["order_id"]: o for o in _json("orders", "list", "--store", url)}
    run_id = json.loads((runs["now"] / "manifest.json").read_text())["store"]["run_id"]
    shown = _json("runs", "show", run_id, "--store", url)
    change = {o["order_id"]: o["change"] for o in shown["orders"]}
    assert change and set(change.values()) == {"new"}
    by_status = pd.Series([o["status"] for o in orders.values()]).value_counts()
    assert counts["status"].tolist() == [
        "proposed",
        "approved",
        "confirmed",
        "received",
        "cancelled",
    ]
    assert counts["orders"].tolist() == [str(by_status.get(s, 0)) for s in counts["status"]]
    assert by_status["confirmed"] == 1
    assert sorted(tracked["order_id"]) == sorted(orders)  # every tracked order, once
    for r in tracked.to_dict("records"):
        o = orders[r["order_id"]]
        assert r["lane"] == f"{o['from_node']} → {o['to_fc_id']}"
        assert r["sku_id"] == o["sku_id"] and r["sku_id"] in (IDS["A"], IDS["B"])
        assert (r["qty_units"], r["status"]) == (str(o["qty_units"]), o["status"])
        assert r["this run"] == change.get(r["order_id"], "")
    # this run's orders first, then the open ones
    assert tracked["this run"].tolist()[: len(change)] == ["new"] * len(change)
    assert tracked[tracked["order_id"] == loop["confirmed"]]["status"].item() == "confirmed"


def test_store_report_escapes_ids_and_is_deterministic(loop: dict[str, object]) -> None:
    runs, url = loop["runs"], loop["url"]
    page = (runs["now"] / "report.html").read_text()
    doc = _fragment(page)
    tags = [t for t, _ in doc.tags]
    assert tags.count("script") == 1  # the report's own
    assert not {"svg", "iframe", "b", "i"} & set(tags)
    for t, attrs in doc.tags:
        assert not [a for a, _ in attrs if a.lower().startswith("on")], (t, attrs)
        if t == "img":
            assert dict(attrs)["src"].startswith("data:image/png;base64,")
    assert "=&lt;b&gt;bob&lt;/b&gt;|`x`" in page and "'=&lt;b&gt;bob" not in page
    assert not re.search(r"""(src|href)=['"]https?://""", page)
    # the same inputs and store state: the same bytes (steps skip, the store is re-written)
    _plan(loop["toml"], runs["now"], "--store", url)
    assert (runs["now"] / "report.html").read_text() == page
    manifest = json.loads((runs["now"] / "manifest.json").read_text())
    assert manifest["report"]["past_runs_scored"] == 2
    assert manifest["report"]["orders_tracked"] == _section(page, "orders").count("<td>PO-")
    binary = find_chromium()
    if binary is not None:
        dom, errors = dump_dom(binary, runs["now"] / "report.html")
        assert errors == []
        assert "data-pwned" not in re.findall(r"<body[^>]*>", dom)[0]
        total = int(re.search(r'data-images-total="(\d+)"', dom).group(1))
        assert int(re.search(r'data-images-rendered="(\d+)"', dom).group(1)) == total == 3


def test_no_store_report_says_so_in_one_line(loop: dict[str, object], tmp_path: Path) -> None:
    scn = tmp_path / "scn"
    shutil.copytree(loop["toml"].parent, scn)
    out = tmp_path / "run"
    _plan(scn / "scenario.toml", out, "--no-store", "--only", "forecast")
    page = (out / "report.html").read_text()
    for sid in ("accuracy", "orders"):
        sec = _section(page, sid)
        assert len(re.findall(r"<p\b", sec)) == 1 and "<table" not in sec
        assert "No run store (--no-store)" in sec
    assert not (tmp_path / "shipahead.db").exists()


def test_past_runs_without_actuals_yet_say_so_in_one_line(tmp_path: Path) -> None:
    from shipahead.cli.accuracy_cmd import score_tables
    from shipahead.cli.report import StoreView, build_report

    from .test_report import _tiny_run

    run, scenario, files = _tiny_run(tmp_path)
    # a past run whose forecast periods all lie after the history's last date
    fc = pd.read_parquet(run / "forecast" / "forecast.parquet").assign(
        run_id="past", as_of=pd.Timestamp("2022-07-25"), role="champion"
    )
    fc["baseline"], fc["override_user"] = fc["mean"], None
    hist = pd.read_csv(files["history"], dtype={"region_id": str, "sku_id": str})
    tables, facts = score_tables(fc, {"past": {"freq": "W-MON"}}, hist, last=12)
    orders = pd.DataFrame(columns=["order_id", "status", "qty_units", "change"])
    build_report(run, scenario, files, StoreView("now", 1, tables, facts, orders))
    page = (run / "report.html").read_text()
    acc = _section(page, "accuracy")
    assert len(re.findall(r"<p\b", acc)) == 1 and "<table" not in acc and "<img" not in acc
    assert "1 past run(s) of this scenario in the store; none of their forecast periods" in acc
    assert "The store tracks no placement order yet" in _section(page, "orders")

"""`report.html` of a run folder: one self-contained page that opens offline.

Charts and maps are drawn with matplotlib/geopandas and embedded as PNG data URIs (no tiles, no
CDN scripts), so the page shows the same thing on a laptop in a plane. Sections whose step did
not run say so. The page is deterministic: the same run folder gives the same bytes.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from shipahead.cli.io import unguard_csv_cell, write_text
from shipahead.cli.settings import DEFAULTS

__all__ = ["StoreView", "build_report", "read_store_view"]

_PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _img(uri: str, alt: str, cls: str = "chart") -> str:
    return f'<img class="{cls}" alt="{html.escape(alt)}" src="{uri}">'


def _table(df: pd.DataFrame, max_rows: int = 30) -> str:
    # escape=True: ids and names in cells are HTML-escaped (they come from input files)
    return df.head(max_rows).to_html(
        index=False,
        escape=True,
        border=0,
        classes="tbl",
        float_format=lambda v: f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}",
        na_rep="",
    )


def _read(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    df = pd.read_csv(
        path,
        dtype={
            c: str
            for c in (
                "region_id",
                "sku_id",
                "fc_id",
                "vehicle_id",
                "stop_id",
                "node_id",
                "from_node",
                "to_fc_id",
            )
        },
    )
    # text cells as written, without the spreadsheet guard of cli.io.write_table
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].map(unguard_csv_cell, na_action="ignore")
    return df


def _json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def _fan_charts(history: pd.DataFrame, fc: pd.DataFrame, top: int = 6) -> str:
    import matplotlib.pyplot as plt

    vol = (
        history.groupby(["region_id", "sku_id"])["y"]
        .sum()
        .sort_values(ascending=False, kind="stable")
    )
    keys = list(vol.index[:top])
    cols = 3
    rows = max(1, (len(keys) + cols - 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(13, 3.1 * rows), squeeze=False)
    for ax, (r, s) in zip(axes.ravel(), keys, strict=False):
        h = history[(history.region_id == r) & (history.sku_id == s)].sort_values("ds")
        h = h[h.ds >= h.ds.max() - pd.Timedelta(weeks=78)]
        f = fc[(fc.region_id == r) & (fc.sku_id == s)].sort_values("ds")
        ax.plot(h.ds, h.y, color="#333", lw=1, label="history")
        for lo, hi, a, lab in (
            ("q05", "q95", 0.15, "90%"),
            ("q10", "q90", 0.25, "80%"),
            ("q25", "q75", 0.4, "50%"),
        ):
            if lo in f and hi in f:
                ax.fill_between(f.ds, f[lo], f[hi], color="#1f77b4", alpha=a, lw=0, label=lab)
        ax.plot(f.ds, f["mean"], color="#1f77b4", lw=1.6, label="forecast mean")
        model = f["model"].iloc[0] if "model" in f and len(f) else ""
        ax.set_title(f"{r} · {s}\n{model}", fontsize=8, parse_math=False)
        ax.tick_params(labelsize=7)
        ax.set_ylabel("units / period", fontsize=7)
    for ax in axes.ravel()[len(keys) :]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return _png(fig)


def _network_map(
    regions: Any,
    fc_demand: pd.DataFrame | None,
    fcs: pd.DataFrame,
    supply: pd.DataFrame | None,
    orders: pd.DataFrame | None,
) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 7.5))
    g = regions.copy()
    if fc_demand is not None:
        g = g.merge(fc_demand, on="region_id", how="left")
        g.plot(
            ax=ax,
            column="forecast_units",
            cmap="Blues",
            edgecolor="#666",
            lw=0.6,
            legend=True,
            legend_kwds={"label": "forecast demand over the horizon (units)", "shrink": 0.6},
        )
    else:
        g.plot(ax=ax, color="#eef", edgecolor="#666", lw=0.6)
    for _, row in g.iterrows():
        c = row.geometry.representative_point()
        ax.annotate(
            str(row.get("name", row.region_id)),
            (c.x, c.y),
            fontsize=7,
            ha="center",
            color="#222",
            parse_math=False,
        )
    pos = {str(r.fc_id): (float(r.lon), float(r.lat)) for r in fcs.itertuples()}
    if supply is not None and {"lat", "lon"} <= set(supply.columns):
        s = supply.dropna(subset=["lat", "lon"]).drop_duplicates("node_id")
        for r in s.itertuples():
            pos.setdefault(str(r.node_id), (float(r.lon), float(r.lat)))
        _sites(ax, s, marker="s", s=60, color="#2ca02c", zorder=4, label="supply node")
    if orders is not None and len(orders):
        flows = orders.groupby(["from_node", "to_fc_id"], sort=True)["qty_units"].sum()
        top = max(float(flows.max()), 1.0)
        for (a, b), q in flows.items():
            if str(a) in pos and str(b) in pos:
                (x0, y0), (x1, y1) = pos[str(a)], pos[str(b)]
                ax.annotate(
                    "",
                    xy=(x1, y1),
                    xytext=(x0, y0),
                    arrowprops={
                        "arrowstyle": "-|>",
                        "color": "#ff7f0e",
                        "lw": 0.8 + 5 * float(q) / top,
                        "alpha": 0.8,
                    },
                )
    _sites(
        ax,
        fcs,
        marker="^",
        s=110,
        color="#d62728",
        edgecolor="k",
        zorder=5,
        label="fulfillment center",
    )
    for r in fcs.itertuples():
        ax.annotate(
            str(r.fc_id),
            (float(r.lon), float(r.lat)),
            xytext=(4, 4),
            textcoords="offset points",
            fontsize=8,
            weight="bold",
            parse_math=False,
        )
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(
        "Regions (forecast demand), FCs and placement flows (arrow width ∝ units)", fontsize=10
    )
    ax.set_aspect("equal", adjustable="datalim")
    return _png(fig)


def _sites(ax: Any, sites: pd.DataFrame, **style: Any) -> None:
    """Plot the ``lon``/``lat`` points of ``sites`` (degrees) with the matplotlib ``style``."""
    ax.scatter(sites.lon.astype(float), sites.lat.astype(float), **style)


def _route_map(
    routes_geo: Any, regions: Any | None, stops: pd.DataFrame | None, routes: pd.DataFrame | None
) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 8))
    minx, miny, maxx, maxy = routes_geo.total_bounds
    if stops is not None:
        minx, maxx = min(minx, stops.lon.min()), max(maxx, stops.lon.max())
        miny, maxy = min(miny, stops.lat.min()), max(maxy, stops.lat.max())
    padx, pady = (maxx - minx) * 0.05 + 1e-3, (maxy - miny) * 0.05 + 1e-3
    if regions is not None:
        regions.plot(ax=ax, color="#f4f4f4", edgecolor="#bbb", lw=0.6)
    vid_col = "vehicle_id" if "vehicle_id" in routes_geo.columns else routes_geo.columns[0]
    for i, (vid, part) in enumerate(routes_geo.groupby(vid_col, sort=True)):
        part.plot(ax=ax, color=_PALETTE[i % len(_PALETTE)], lw=2, label=_mpl_label(vid))
    if stops is not None:
        served = set(routes["stop_id"]) if routes is not None and "stop_id" in routes else set()
        s = stops.assign(served=stops.stop_id.isin(served))
        ax.scatter(s.lon[s.served], s.lat[s.served], s=18, color="k", zorder=5, label="stop")
        if (~s.served).any():
            ax.scatter(
                s.lon[~s.served],
                s.lat[~s.served],
                s=30,
                marker="x",
                color="#d62728",
                zorder=5,
                label="unassigned",
            )
    ax.set_xlim(minx - padx, maxx + padx)
    ax.set_ylim(miny - pady, maxy + pady)
    ax.set_aspect("equal", adjustable="box")
    ax.legend(fontsize=7, loc="best")
    ax.set_title("Delivery routes on the road network (one colour per vehicle)", fontsize=10)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    return _png(fig)


def _mpl_label(value: Any) -> str:
    """A legend label shown literally by matplotlib: ``$`` not read as math, a leading ``_``
    not taken as "hide this entry"."""
    text = str(value).replace("$", r"\$")
    return " " + text if text.startswith("_") else text


def _kpi_rows(manifest_steps: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for step, st in manifest_steps.items():
        kpis = st.get("kpis") or {}
        if not kpis:
            rows.append({"step": step, "kpi": "status", "value": st.get("status", "")})
        for k, v in kpis.items():
            if isinstance(v, dict | list):
                continue
            rows.append({"step": step, "kpi": k, "value": v})
    return pd.DataFrame(rows, columns=["step", "kpi", "value"])


# -- the run store: accuracy over past runs, placement orders ---------------------------------

#: runs the champion-vs-challenger test looks back over (as `shipahead accuracy --last`)
CHALLENGER_RUNS = 12
#: past runs of the scenario the report scores (the latest; `shipahead accuracy` scores all)
REPORT_RUNS = 52
#: rows of the tracked-orders table (the rest: `shipahead orders list`)
ORDER_ROWS = 50
_LEVEL_NAMES = {
    "sku_region": "SKU × region",
    "sku": "SKU",
    "region": "region",
    "network": "network",
}


@dataclass(frozen=True)
class StoreView:
    """What the report shows from the run store, read after this run was written to it.

    ``past_runs``: stored runs of the scenario other than this one; ``tables`` and ``facts``:
    :func:`shipahead.cli.accuracy_cmd.score_tables` of their forecasts against this run's
    history (empty when there is no past run); ``orders``: every tracked order with what this
    run did to it (``change``: new, changed, unchanged, dropped; blank = not in this run).
    """

    run_id: str
    past_runs: int
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    orders: pd.DataFrame = field(default_factory=pd.DataFrame)


def read_store_view(
    session: Any, run_id: str, scenario_name: str, history: Path, *, last: int = CHALLENGER_RUNS
) -> StoreView:
    """Read the store for the report: score the scenario's latest :data:`REPORT_RUNS` past
    runs against ``history`` (the actuals, this run's history file) and list the tracked
    orders with this run's changes."""
    from shipahead.cli.accuracy_cmd import score_tables
    from shipahead.cli.io import read_table
    from shipahead.store.accuracy import load_forecasts
    from shipahead.store.planner import orders_table
    from shipahead.store.runs import PlannerRunOrder
    from sqlalchemy import select

    fc, info = load_forecasts(session, last=REPORT_RUNS + 1, scenario=scenario_name)
    info.pop(run_id, None)
    if len(info) > REPORT_RUNS:  # this run was not among the latest: keep the latest others
        del info[next(iter(info))]
    fc = fc[fc["run_id"].isin(list(info))]
    tables: dict[str, pd.DataFrame] = {}
    facts: dict[str, Any] = {}
    if info:
        actuals = read_table(history, "history", check=False)
        tables, facts = score_tables(fc, info, actuals, last=last)
    orders = orders_table(session)
    ro = PlannerRunOrder
    changes = pd.DataFrame(
        session.execute(
            select(ro.order_id, ro.change, ro.previous_qty).where(ro.run_id == run_id)
        ).all(),
        columns=["order_id", "change", "previous_qty"],
    )
    orders = orders.merge(changes, on="order_id", how="left")
    return StoreView(run_id, len(info), tables, facts, orders)


def _fmt(v: Any, spec: str) -> str:
    """``v`` formatted (``–`` for a missing value)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return format(v, spec)


def _trend_chart(by_run: pd.DataFrame) -> str:
    """MASE and WAPE of the champion per run (x: the run's as_of) by level."""
    import matplotlib.pyplot as plt
    from matplotlib.dates import DateFormatter

    d = by_run[by_run["role"] == "champion"].copy()
    d["as_of"] = pd.to_datetime(d["as_of"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.4))
    for ax, col, label in (
        (axes[0], "mase", "MASE (scaled error; < 1 beats seasonal naive in-sample)"),
        (axes[1], "wape", "WAPE (share of the actual volume)"),
    ):
        for i, (level, name) in enumerate(_LEVEL_NAMES.items()):
            part = d[d["level"] == level].sort_values(["as_of", "run_id"], kind="stable")
            if part.empty:
                continue
            ax.plot(
                part["as_of"],
                part[col].astype(float),
                marker="o",
                ms=4,
                lw=1.4,
                color=_PALETTE[i],
                label=_mpl_label(name),
            )
        runs = sorted(d["as_of"].unique())
        if len(runs) <= 12:  # one tick per run
            ax.set_xticks(runs)
        ax.xaxis.set_major_formatter(DateFormatter("%Y-%m-%d"))
        ax.set_title(label, fontsize=9, parse_math=False)
        ax.set_xlabel("run (history up to)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_ylim(bottom=0)
    axes[0].legend(fontsize=7, loc="best")
    fig.autofmt_xdate()
    fig.tight_layout()
    return _png(fig)


def _accuracy_section(view: StoreView | None) -> str:
    head = "<section id='accuracy'><h2>Accuracy over past runs</h2>"
    if view is None:
        return (
            head + "<p class='note'>No run store (--no-store): accuracy over past runs needs "
            "<code>shipahead plan --store URL</code>.</p></section>"
        )
    if view.past_runs == 0:
        return (
            head + "<p class='note'>No past run of this scenario in the store yet: accuracy "
            "over past runs starts with the next run.</p></section>"
        )
    facts, tables = view.facts, view.tables
    by_run = tables["by_run"]
    champ = by_run[by_run["role"] == "champion"]
    if champ.empty:
        return (
            head + f"<p class='note'>{view.past_runs} past run(s) of this scenario in the store; "
            "none of their forecast periods has an actual in this run's history yet.</p></section>"
        )
    body = (
        f"<p>{facts['scored_runs']} of {view.past_runs} past runs of this scenario "
        f"(the latest, at most {REPORT_RUNS}) have "
        "forecast periods with actuals in this run's history (season length "
        f"{facts['season']} periods). The champion is the final forecast (after overrides); "
        "<code>shipahead accuracy</code> gives the same figures by lag and model.</p>"
    )
    body += _img(_trend_chart(by_run), "accuracy trend by level")
    wide = champ.pivot_table(
        index=["as_of", "run_id"], columns="level", values=["n", "mase", "wape"], sort=False
    )
    trend = champ[["as_of", "run_id"]].drop_duplicates().reset_index(drop=True)
    for metric, spec in (("mase", ".3f"), ("wape", ".1%")):
        for level, name in _LEVEL_NAMES.items():
            if (metric, level) in wide.columns:
                vals = wide[(metric, level)].reindex(pd.MultiIndex.from_frame(trend))
                trend[f"{metric.upper()} {name}"] = [_fmt(v, spec) for v in vals]
    n = champ[champ["level"] == "sku_region"].set_index(["as_of", "run_id"])["n"]
    trend.insert(
        2, "periods scored", [int(n.get(k, 0)) for k in zip(trend.as_of, trend.run_id, strict=True)]
    )
    shown = trend.tail(24)
    body += (
        f"<h3>Trend by level (champion; {len(shown)} of {len(trend)} scored runs, newest last)"
        "</h3>" + _table(shown, 24)
    )
    cc = tables["champion_vs_challenger"]
    body += "<h3>Champion vs challenger (Diebold–Mariano, statistical forecasts)</h3>"
    if cc.empty:
        body += (
            "<p class='note'>No past run has a challenger forecast with actuals "
            "(set <code>[forecast] challenger</code>).</p>"
        )
    else:
        top = cc.iloc[0]
        won = bool(top["challenger_better"])
        verdict = "has beaten" if won else "has not beaten"
        body += (
            f"<p><strong>The challenger {verdict} the champion</strong> over the last "
            f"{int(top['runs'])} scored runs: MASE {_fmt(top['challenger_mase'], '.3f')} vs "
            f"{_fmt(top['champion_mase'], '.3f')}, DM statistic "
            f"{_fmt(top['dm_statistic'], '.3f')}, p-value {_fmt(top['p_value'], '.4f')} "
            f"(one-sided, α = {facts['alpha']:g}).</p>"
        )
        show = pd.DataFrame(
            {
                "lag": cc["lag"].astype(str),
                "runs": cc["runs"].astype(int),
                "champion MASE": [_fmt(v, ".3f") for v in cc["champion_mase"]],
                "challenger MASE": [_fmt(v, ".3f") for v in cc["challenger_mase"]],
                "DM statistic": [_fmt(v, ".3f") for v in cc["dm_statistic"]],
                "p-value": [_fmt(v, ".4f") for v in cc["p_value"]],
                "winner": [
                    "challenger" if b else "champion (kept)" for b in cc["challenger_better"]
                ],
            }
        )
        body += _table(show)
    va = tables["value_added"]
    body += "<h3>Forecast value added by overrides (WAPE: naive → baseline → final)</h3>"
    if va.empty:
        body += "<p class='note'>Nothing scored.</p>"
    else:
        show = pd.DataFrame(
            {
                "level": [_LEVEL_NAMES.get(v, v) for v in va["level"]],
                "user": ["all rows" if u == "*" else u for u in va["user"]],
                "periods": va["n"].astype(int),
                **{
                    f"WAPE {name}": [_fmt(v, ".1%") for v in va[f"wape_{col}"]]
                    for name, col in (
                        ("naive", "naive"),
                        ("baseline", "baseline"),
                        ("final", "final"),
                    )
                },
                "value added by the model": [_fmt(v, "+.1%") for v in va["fva_model"]],
                "value added by overrides": [_fmt(v, "+.1%") for v in va["fva_override"]],
            }
        )
        body += _table(show, 60)
        if not (va["user"] != "*").any():
            body += "<p class='note'>No scored forecast was overridden.</p>"
    return head + body + "</section>"


def _orders_section(view: StoreView | None) -> str:
    from shipahead.store.runs import ORDER_STATUSES

    head = "<section id='orders'><h2>Placement orders</h2>"
    if view is None:
        return (
            head + "<p class='note'>No run store (--no-store): orders are tracked in a run "
            "store (<code>shipahead plan --store URL</code>).</p></section>"
        )
    o = view.orders
    if o.empty:
        return head + "<p class='note'>The store tracks no placement order yet.</p></section>"
    counts = (
        o.groupby("status")["qty_units"]
        .agg(["size", "sum"])
        .reindex(list(ORDER_STATUSES), fill_value=0)
        .reset_index()
    )
    counts.columns = ["status", "orders", "units"]
    by_change = o["change"].value_counts()
    changed_text = ", ".join(
        f"{int(by_change.get(k, 0))} {k}" for k in ("new", "changed", "unchanged", "dropped")
    )
    body = (
        f"<p>{len(o)} orders tracked in the store; this run: {changed_text}. Move them with "
        "<code>shipahead orders approve | confirm | receive | cancel</code>.</p>"
        "<h3>Orders by status</h3>" + _table(counts)
    )

    def this_run(r: Any) -> str:
        if not isinstance(r.change, str):
            return ""
        if r.change == "changed" and not pd.isna(r.previous_qty):
            return f"changed ({int(r.previous_qty)} → {int(r.qty_units)})"
        return r.change

    t = o.assign(
        _touched=o["change"].isna().astype(int),
        _open=(~o["status"].isin(["proposed", "approved", "confirmed"])).astype(int),
        _as_of=pd.to_datetime(o["as_of"]),
    )
    t = t.sort_values(
        ["_touched", "_open", "_as_of", "from_node", "to_fc_id", "sku_id", "ordinal"],
        ascending=[True, True, False, True, True, True, True],
        kind="stable",
    )
    table = pd.DataFrame(
        {
            "order_id": t["order_id"],
            "as_of": [str(v) for v in t["as_of"]],
            "lane": [f"{a} → {b}" for a, b in zip(t["from_node"], t["to_fc_id"], strict=True)],
            "sku_id": t["sku_id"],
            "qty_units": t["qty_units"].astype(int),
            "status": t["status"],
            "this run": [this_run(r) for r in t.itertuples(index=False)],
        }
    )
    shown = min(len(table), ORDER_ROWS)
    body += (
        f"<h3>Tracked orders ({shown} of {len(table)}: this run's first, then open ones, "
        "newest first)</h3>" + _table(table, ORDER_ROWS)
    )
    if len(table) > shown:
        body += "<p class='note'><code>shipahead orders list --store URL</code> lists all.</p>"
    return head + body + "</section>"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;
background:#fafafa}
header{background:#12355b;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;opacity:.85;font-size:13px}
main{padding:12px 28px 40px;max-width:1300px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:14px 18px;
margin:16px 0}
h2{font-size:17px;margin:0 0 10px} .note{color:#777;font-size:13px}
img.chart,img.map{max-width:100%;height:auto;display:block}
table.tbl{border-collapse:collapse;font-size:12.5px} table.tbl th,table.tbl td{
border-bottom:1px solid #eee;padding:3px 10px;text-align:right}
table.tbl th:first-child,table.tbl td:first-child{text-align:left}
footer{font-size:11.5px;color:#777;padding:0 28px 30px}
"""

_JS = """
window.addEventListener('load', function () {
  var imgs = document.querySelectorAll('img');
  var ok = 0;
  imgs.forEach(function (im) { if (im.complete && im.naturalWidth > 0) { ok += 1; } });
  document.body.setAttribute('data-images-total', String(imgs.length));
  document.body.setAttribute('data-images-rendered', String(ok));
});
"""


def build_report(
    run_dir: Path, scenario: Any, files: dict[str, Path], store: StoreView | None = None
) -> dict[str, Any]:
    """Write ``run_dir/report.html`` from the run's outputs and, with ``store`` (the run
    store as :func:`read_store_view` read it), accuracy over past runs and the placement
    orders' states; return what it contains."""
    import geopandas as gpd
    import matplotlib

    matplotlib.use("Agg")

    sections: list[str] = []
    shown: dict[str, Any] = {}
    manifest_steps: dict[str, Any] = {}
    for step in ("forecast", "placement", "routes"):
        marker = _json(run_dir / step / ".done.json")
        manifest_steps[step] = {
            "status": "ran" if marker else "not run",
            "kpis": (marker or {}).get("kpis", {}),
        }

    kpis = _kpi_rows(manifest_steps)
    sections.append("<section id='kpis'><h2>Key figures</h2>" + _table(kpis, 80) + "</section>")

    regions = gpd.read_file(files["regions"]) if "regions" in files else None
    if regions is not None:
        regions["region_id"] = regions["region_id"].astype(str)
    fcs = _read(files["fcs"]) if "fcs" in files else None

    # forecast
    fc = _read(run_dir / "forecast" / "forecast.parquet")
    fc_demand = None
    if fc is not None:
        fc["region_id"] = fc["region_id"].astype(str)
        fc["ds"] = pd.to_datetime(fc["ds"])
        hist = (
            pd.read_csv(files["history"], dtype={"region_id": str, "sku_id": str})
            if str(files["history"]).endswith((".csv", ".csv.gz"))
            else pd.read_parquet(files["history"])
        )
        for c in ("region_id", "sku_id"):  # ids as cli.io.read_table gives them
            hist[c] = hist[c].astype(str).map(unguard_csv_cell)
        hist["ds"] = pd.to_datetime(hist["ds"])
        top = int(getattr(scenario.forecast, "plot_top", 0) or DEFAULTS["plot_top"])
        body = _img(_fan_charts(hist, fc, top), "forecast fan charts")
        lb = _read(run_dir / "forecast" / "leaderboard.csv")
        if lb is not None:
            body += "<h3>Backtest leaderboard</h3>" + _table(lb)
        sections.append(
            "<section id='forecast'><h2>Forecast: top series by volume "
            "(bands 50/80/90%)</h2>" + body + "</section>"
        )
        fc_demand = (
            fc.groupby("region_id", as_index=False)["mean"]
            .sum()
            .rename(columns={"mean": "forecast_units"})
        )
        shown["fan_charts"] = top
    else:
        sections.append(
            "<section id='forecast'><h2>Forecast</h2><p class='note'>"
            "The forecast step did not run.</p></section>"
        )

    # network map + placement
    orders = _read(run_dir / "placement" / "placement_orders.csv")
    targets = _read(run_dir / "placement" / "stock_targets.csv")
    supply = _read(files["supply"]) if "supply" in files else None
    if regions is not None and fcs is not None:
        uri = _network_map(regions, fc_demand, fcs, supply, orders)
        body = _img(uri, "network map", "map")
        if targets is not None:
            by_fc = targets.groupby("fc_id", as_index=False)[
                ["target_units", "on_hand_units"]
            ].sum()
            body += "<h3>Stock targets by FC</h3>" + _table(by_fc)
        if orders is not None:
            body += f"<h3>Placement orders ({len(orders)})</h3>" + _table(orders, 15)
        sections.append(
            "<section id='network'><h2>Network: regions, FCs, placement</h2>" + body + "</section>"
        )
        shown["network_map"] = True

    # routes
    geo_path = run_dir / "routes" / "routes.geojson"
    if geo_path.exists():
        routes_geo = gpd.read_file(geo_path)
        stops = _read(files["stops"]) if "stops" in files else None
        routes = _read(run_dir / "routes" / "routes.csv")
        body = _img(_route_map(routes_geo, regions, stops, routes), "route map", "map")
        unassigned = _read(run_dir / "routes" / "unassigned.csv")
        if routes is not None:
            # stops = rows of kind "stop" (the start/end rows are the depot), as on the sheets
            is_stop = routes["kind"] == "stop" if "kind" in routes else True
            per_vehicle = (
                routes.assign(_stop=is_stop)
                .groupby("vehicle_id", as_index=False)
                .agg(stops=("_stop", "sum"), km=("leg_km", "sum"))
            )
            body += "<h3>Vehicles</h3>" + _table(per_vehicle)
        if unassigned is not None and len(unassigned):
            body += f"<h3>Unassigned stops ({len(unassigned)})</h3>" + _table(unassigned)
        body += (
            "<p class='note'>Interactive map with ETAs: <a href='routes/routes.html'>"
            "routes/routes.html</a> (opens offline; map tiles optional).</p>"
        )
        sections.append("<section id='routes'><h2>Routes</h2>" + body + "</section>")
        shown["route_map"] = True
    else:
        sections.append(
            "<section id='routes'><h2>Routes</h2><p class='note'>"
            "The routes step did not run.</p></section>"
        )

    sections.append(_accuracy_section(store))
    sections.append(_orders_section(store))
    if store is not None:
        shown["past_runs_scored"] = int(store.facts.get("scored_runs", 0))
        shown["orders_tracked"] = len(store.orders)

    name = html.escape(str(getattr(scenario.scenario, "name", "scenario")))
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>shipahead report — {name}</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<style>{_CSS}</style></head><body>"
        f"<header><h1>shipahead run report — {name}</h1>"
        "<p>forecast → placement → routes. All figures are in the run folder's CSV/Parquet "
        "files; manifest.json lists inputs, parameters and versions.</p></header><main>"
        + "".join(sections)
        + "</main><footer>"
        + ("Map data © OpenStreetMap contributors (ODbL). " if "roads" in files else "")
        + "Made with shipahead."
        f"</footer><script>{_JS}</script></body></html>\n"
    )
    write_text(page, run_dir / "report.html")
    return shown

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
from pathlib import Path
from typing import Any

import pandas as pd
from shipahead.cli.io import unguard_csv_cell, write_text
from shipahead.cli.settings import DEFAULTS

__all__ = ["build_report"]

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


def build_report(run_dir: Path, scenario: Any, files: dict[str, Path]) -> dict[str, Any]:
    """Write ``run_dir/report.html`` from the run's outputs; return what it contains."""
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

"""Build the shipahead sample scenario (Columbus, OH) from real open data.

Run from anywhere::

    python sample_data/build.py                      # sources: <repo>/../shared/sample-sources
    python sample_data/build.py --sources PATH       # another copy of sample-sources/
    python sample_data/build.py --check-osmnx        # also count the drive graph with osmnx

Reads the files named in ``sample_data/README.md`` (Iowa Liquor Sales, US Census county
polygons and population, the Amazon site list, NOAA Seattle daily weather, the derived hourly
traffic profile, the Columbus OpenStreetMap extract) and writes every table of the scenario
next to this script, plus ``scenario.toml``. Deterministic: one fixed seed, stable sort orders,
explicit rounding; two runs give byte-identical files. Every transformation is documented in
``sample_data/README.md``; the constants below are the rules it describes.

This is a maintenance script (file I/O is its job); the toolkit never imports it.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from routing.network import ROAD_CLASSES

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCES = HERE.parent.parent / "shared" / "sample-sources"

SEED = 42
METRO = "columbus_oh_msa"
N_WEEKS = 200
FIRST_WEEK = "2018-12-31"
LAST_WEEK = "2022-10-24"
WEATHER_START = "2018-12-31"
WEATHER_END = "2022-12-31"
N_SKUS = 25

# Iowa category names that are near-duplicates of another (same products, renamed by the State).
CATEGORY_MERGE = {
    "IMPORTED VODKA": "IMPORTED VODKAS",
    "IMPORTED CORDIALS & LIQUEURS": "IMPORTED CORDIALS & LIQUEUR",
    "AMERICAN CORDIALS & LIQUEURS": "AMERICAN CORDIALS & LIQUEUR",
    "IMPORTED DISTILLED SPIRITS SPECIALTY": "IMPORTED DISTILLED SPIRIT SPECIALTY",
}
# Categories that are not products one could stock in Ohio: unmapped lines, special orders and
# the Iowa-craft-distillery category.
CATEGORY_EXCLUDE = {"UNMAPPED ITEM", "SPECIAL ORDER ITEMS", "IOWA SPIRITS MANUFACTURERS"}

# Amazon sites used as FCs (codes in facilities/amazon_sites_us.csv.gz). UOH2 is the routing
# depot: street-level geocode inside the Columbus road extract.
FC_CODES = ("CMH1", "CMH2", "CMH4", "CMH6", "UOH2")
FC_PLACE = {
    "CMH1": "Etna, OH",
    "CMH2": "Groveport, OH",
    "CMH4": "West Jefferson, OH",
    "CMH6": "Lockbourne, OH",
    "UOH2": "Columbus (Interchange Rd), OH",
}
DEPOT_FC = "UOH2"
TIGHT_FC = "UOH2"  # its capacity is half an even share: placement has to spill to other FCs
CAPACITY_FACTOR = 1.30  # total FC capacity / expected 14-day demand
M3_SLACK = 1.15  # capacity_m3 = capacity_units x demand-weighted unit volume x this
PACKAGING_FACTOR = 1.9  # case volume per bottle / bottle volume (12 x 750 ml case = 0.017 m3)
HOLDING_RATE_PER_YEAR = 0.25  # of the state's bottle cost

# Inbound nodes (synthetic operators at real freight locations, coordinates city-level).
SUPPLY_NODES = (
    # node_id, lat, lon, share of supply, lead_days
    ("XDOCK-RICKENBACKER", 39.8138, -82.9278, 0.7, 1),
    ("VDC-CINCINNATI", 39.1031, -84.5120, 0.3, 2),
)
INBOUND_BASE_COST = 0.04  # USD per unit and lane
INBOUND_COST_PER_KM = 0.0015  # USD per unit-km of road distance
ROAD_DETOUR = 1.3  # road km / great-circle km

# Delivery stops: OSM features that plausibly receive a wholesale drinks delivery.
STOP_SHOP = {
    "supermarket",
    "convenience",
    "mall",
    "deli",
    "department_store",
    "greengrocer",
    "bakery",
    "chemist",
    "alcohol",
    "wine",
    "beverages",
}
STOP_AMENITY = {
    "restaurant",
    "bar",
    "pub",
    "cafe",
    "fuel",
    "pharmacy",
    "fast_food",
    "biergarten",
    "nightclub",
}
STOP_TOURISM = {"hotel", "motel"}
MAX_STOPS = 75
STOP_MIN_SPACING_M = 40.0  # closer features are one delivery point
STOP_MAX_SNAP_M = 250.0
DEPOT_MAX_SNAP_M = 300.0
LOAD_WINDOW = ("2022-10-03", "2022-10-28")  # Des Moines delivery rows the loads are drawn from
LOAD_MIN, LOAD_MAX = 6, 1500  # bottles per stop kept from those rows
TIME_WINDOWS = (("08:00", "12:00"), ("10:00", "16:00"), ("13:00", "18:00"))
TIME_WINDOW_P = (0.40, 0.35, 0.25)

# Fleet (generated; typical medium-duty box-truck figures, not from a source).
N_VEHICLES = 8
MIN_VEHICLES_BY_LOAD = 4  # capacity = total load / this, rounded up to 50
SHIFT = ("08:00", "19:00")
COST_PER_KM, COST_PER_HOUR, FIXED_COST = 0.85, 32.0, 120.0

# the same drivable classes as the routing package, so stops snap to the network it builds
DRIVE_HIGHWAYS = frozenset(ROAD_CLASSES)
FREEWAY_CLASSES = {"motorway", "motorway_link", "trunk", "trunk_link"}

EARTH_R_M = 6_371_008.8


# --------------------------------------------------------------------------- helpers
def slug(name: str) -> str:
    """Stable SKU id from a category name: upper case, runs of non-alphanumerics -> '-'."""
    return re.sub(r"[^A-Z0-9]+", "-", name.upper()).strip("-")


def haversine_m(lat1, lon1, lat2, lon2):
    """Great-circle distance in metres (numpy broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_R_M * np.arcsin(np.sqrt(a))


def write_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n")


def _round_coords(obj, nd: int = 6):
    if isinstance(obj, (list, tuple)):
        return [_round_coords(o, nd) for o in obj]
    if isinstance(obj, float):
        return round(obj, nd)
    return obj


# --------------------------------------------------------------------------- regions
def load_regions(src: Path):
    import geopandas as gpd

    g = gpd.read_parquet(src / "geo" / "us_counties.parquet")
    oh = g[g["sample_metro"] == METRO].copy()
    oh["population"] = oh["pop_2019_est"].astype("int64")
    oh = oh.sort_values("fips").reset_index(drop=True)
    ia = g[(g["state_fips"] == "19") & g["pop_2019_est"].notna()].copy()
    ia["population"] = ia["pop_2019_est"].astype("int64")
    return oh, ia


def match_counties(oh: pd.DataFrame, ia: pd.DataFrame) -> pd.DataFrame:
    """Each Columbus county (largest first) takes the unused Iowa county closest in log population.

    Returns one row per Columbus county: region_id, name, population, iowa_fips, iowa_name,
    iowa_population, scale (= population / iowa_population).
    """
    used: set[str] = set()
    rows = []
    ia_sorted = ia.sort_values(["population", "fips"], ascending=[False, True])
    for r in oh.sort_values(["population", "fips"], ascending=[False, True]).itertuples():
        cand = ia_sorted[~ia_sorted["fips"].isin(used)]
        d = np.abs(np.log(cand["population"].to_numpy() / r.population))
        best = cand.iloc[int(np.argmin(d))]
        used.add(best["fips"])
        rows.append(
            {
                "region_id": r.fips,
                "name": f"{r.name} County, OH",
                "population": int(r.population),
                "iowa_fips": best["fips"],
                "iowa_name": f"{best['name']} County, IA",
                "iowa_population": int(best["population"]),
                "scale": r.population / best["population"],
            }
        )
    return pd.DataFrame(rows).sort_values("region_id").reset_index(drop=True)


def write_regions_geojson(oh, path: Path) -> None:
    from shapely.geometry import mapping

    feats = []
    for r in oh.sort_values("fips").itertuples():
        geom = mapping(r.geometry)
        geom = {"type": geom["type"], "coordinates": _round_coords(geom["coordinates"])}
        feats.append(
            {
                "type": "Feature",
                "properties": {
                    "region_id": r.fips,
                    "name": f"{r.name} County, OH",
                    "population": int(r.population),
                },
                "geometry": geom,
            }
        )
    fc = {"type": "FeatureCollection", "features": feats}
    path.write_text(json.dumps(fc, separators=(",", ":")) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- demand
def load_iowa_weekly(src: Path) -> pd.DataFrame:
    d = pd.read_parquet(
        src / "demand-open" / "iowa_liquor_county_category_weekly.parquet",
        columns=["region_id", "sku_id", "ds", "y"],
    )
    d["sku_id"] = d["sku_id"].replace(CATEGORY_MERGE)
    d["ds"] = pd.to_datetime(d["ds"])
    return d


def pick_categories(d: pd.DataFrame) -> list[str]:
    tot = d[~d["sku_id"].isin(CATEGORY_EXCLUDE)].groupby("sku_id")["y"].sum()
    tot = tot.reset_index().sort_values(["y", "sku_id"], ascending=[False, True])
    return tot["sku_id"].head(N_SKUS).tolist()


def build_history(d: pd.DataFrame, match: pd.DataFrame, cats: list[str]):
    weeks = pd.date_range(FIRST_WEEK, LAST_WEEK, freq="W-MON")
    assert len(weeks) == N_WEEKS, len(weeks)
    sub = d[d["region_id"].isin(match["iowa_fips"]) & d["sku_id"].isin(cats)]
    agg = sub.groupby(["region_id", "sku_id", "ds"], as_index=False)["y"].sum()
    n_neg = int((agg["y"] < 0).sum())
    agg["y"] = agg["y"].clip(lower=0)
    idx = pd.MultiIndex.from_product(
        [sorted(match["iowa_fips"]), sorted(cats), weeks], names=["region_id", "sku_id", "ds"]
    )
    full = agg.set_index(["region_id", "sku_id", "ds"])["y"].reindex(idx)
    n_filled = int(full.isna().sum())
    full = full.fillna(0).reset_index()
    m = match.set_index("iowa_fips")
    full["scale"] = full["region_id"].map(m["scale"])
    full["y"] = np.rint(full["y"].to_numpy(dtype=float) * full["scale"].to_numpy()).astype("int64")
    full["region_id"] = full["region_id"].map(m["region_id"])
    full["sku_name"] = full["sku_id"]
    full["sku_id"] = full["sku_id"].map(slug)
    full = full.sort_values(["region_id", "sku_id", "ds"]).reset_index(drop=True)
    stats = {"negative_weeks_clipped": n_neg, "zero_filled_rows": n_filled}
    return full[["region_id", "sku_id", "ds", "y", "sku_name"]], stats


def build_skus(src: Path, cats: list[str]) -> pd.DataFrame:
    p = pd.read_csv(src / "demand-open" / "iowa_liquor_products.csv.gz")
    p["category"] = p["category"].replace(CATEGORY_MERGE)
    p = p[p["category"].isin(cats) & (p["bottles_2019_2022"] > 0)]
    rows = []
    for cat in cats:
        q = p[p["category"] == cat]
        w = q["bottles_2019_2022"].to_numpy(dtype=float)
        ml = float(np.average(q["bottle_ml"], weights=w))
        cost = float(np.average(q["state_bottle_cost_usd"], weights=w))
        retail = float(np.average(q["state_bottle_retail_usd"], weights=w))
        rows.append(
            {
                "sku_id": slug(cat),
                "name": cat,
                "unit_volume_m3": round(ml * PACKAGING_FACTOR / 1e6, 5),
                "holding_cost_per_unit_day": round(cost * HOLDING_RATE_PER_YEAR / 365, 5),
                "stockout_cost_per_unit": round(retail, 2),
                "_bottle_ml": ml,
                "_cost": cost,
            }
        )
    return pd.DataFrame(rows).sort_values("sku_id").reset_index(drop=True)


# --------------------------------------------------------------------------- weather
SOURCE_YEAR = {2018: 2015, 2019: 2013, 2020: 2012, 2021: 2014, 2022: 2015}


def build_weather(src: Path, regions: pd.DataFrame, centroids: pd.DataFrame) -> pd.DataFrame:
    w = pd.read_csv(src / "weather" / "seattle_daily_2012_2015.csv.gz")
    w["date"] = pd.to_datetime(w["date"], format="%Y/%m/%d")
    w = w.set_index("date")
    days = pd.date_range(WEATHER_START, WEATHER_END, freq="D")
    src_days = pd.to_datetime([f"{SOURCE_YEAR[d.year]}-{d.month:02d}-{d.day:02d}" for d in days])
    base = w.loc[src_days].reset_index(drop=True)
    tmean = (base["temp_max"] + base["temp_min"]) / 2

    rng = np.random.default_rng(SEED)
    ref_lat = float(centroids.loc["39049", "lat"])  # Franklin County
    out = []
    for r in regions.sort_values("region_id").itertuples():
        dt = -0.7 * (float(centroids.loc[r.region_id, "lat"]) - ref_lat)
        pf = float(rng.uniform(0.9, 1.1))
        precip = (base["precipitation"] * pf).round(1)
        t = (tmean + dt).round(1)
        sf = np.clip((3.0 - t) / 4.0, 0.0, 1.0)
        snow = np.where(base["weather"] == "snow", precip * sf, 0.0)
        out.append(
            pd.DataFrame(
                {
                    "region_id": r.region_id,
                    "ds": days.strftime("%Y-%m-%d"),
                    "precip_mm": precip.to_numpy(),
                    "snow_cm": np.round(snow, 1) + 0.0,
                    "temp_c": t.to_numpy() + 0.0,
                }
            )
        )
    return pd.concat(out, ignore_index=True)


# --------------------------------------------------------------------------- roads
def load_drive_graph(pbf: Path):
    """Directed drivable graph of the OSM file (unsimplified), largest SCC.

    Same filter as the roads README: first `highway` value in DRIVE_HIGHWAYS, `access` not
    private/no; oneway from `oneway`, motorway and roundabouts. Returns (graph, node coords
    {id: (lat, lon)}).
    """
    import networkx as nx
    import osmium

    G = nx.DiGraph()
    coords: dict[int, tuple[float, float]] = {}
    fp = osmium.FileProcessor(str(pbf), osmium.osm.NODE | osmium.osm.WAY).with_locations()
    for w in fp:
        if not w.is_way():
            continue
        tags = dict(w.tags)
        hw = tags.get("highway", "").split(";")[0]
        if hw not in DRIVE_HIGHWAYS or tags.get("access") in ("private", "no"):
            continue
        ow = tags.get("oneway", "")
        oneway = ow in ("yes", "true", "1") or (
            ow == "" and (hw == "motorway" or tags.get("junction") in ("roundabout", "circular"))
        )
        reverse = ow == "-1"
        ids = []
        for nd in w.nodes:
            if not nd.location.valid():
                continue
            coords[nd.ref] = (nd.location.lat, nd.location.lon)
            ids.append(nd.ref)
        for a, b in itertools.pairwise(ids):
            if reverse:
                G.add_edge(b, a, highway=hw)
            else:
                G.add_edge(a, b, highway=hw)
                if not oneway:
                    G.add_edge(b, a, highway=hw)
    scc = max(nx.strongly_connected_components(G), key=lambda c: (len(c), min(c)))
    H = G.subgraph(scc).copy()
    return H, {n: coords[n] for n in H.nodes}


def simplified_node_count(G) -> int:
    """Nodes an osmnx-style simplification keeps: all but plain pass-through chain nodes."""
    keep = 0
    for n in G.nodes:
        nb = set(G.predecessors(n)) | set(G.successors(n))
        if len(nb) != 2 or G.in_degree(n) != G.out_degree(n):
            keep += 1
    return keep


class Snapper:
    """Nearest drive-graph node by great-circle distance (KD-tree on local metric coords)."""

    def __init__(self, coords: dict[int, tuple[float, float]]):
        from scipy.spatial import cKDTree

        self.ids = np.array(sorted(coords), dtype=np.int64)
        ll = np.array([coords[i] for i in self.ids])
        self.lat0 = float(ll[:, 0].mean())
        self.tree = cKDTree(self._xy(ll[:, 0], ll[:, 1]))
        self.ll = ll

    def _xy(self, lat, lon):
        k = math.pi / 180 * EARTH_R_M
        return np.column_stack(
            [np.asarray(lon) * k * math.cos(math.radians(self.lat0)), np.asarray(lat) * k]
        )

    def snap(self, lat, lon):
        _, i = self.tree.query(self._xy(np.atleast_1d(lat), np.atleast_1d(lon)))
        d = haversine_m(np.atleast_1d(lat), np.atleast_1d(lon), self.ll[i, 0], self.ll[i, 1])
        return self.ids[i], d


def graph_bbox(coords: dict[int, tuple[float, float]]) -> tuple[float, float, float, float]:
    """(min lat, min lon, max lat, max lon) of the drivable network's nodes."""
    ll = np.array(list(coords.values()))
    return (
        float(ll[:, 0].min()),
        float(ll[:, 1].min()),
        float(ll[:, 0].max()),
        float(ll[:, 1].max()),
    )


def osm_candidates(pbf: Path) -> pd.DataFrame:
    """Shops / hospitality features of the OSM file: nodes at their location, ways at the mean
    of their distinct vertices."""
    import osmium

    rows = []
    for o in osmium.FileProcessor(str(pbf)).with_locations():
        if o.type_str() not in ("n", "w"):
            continue
        t = dict(o.tags)
        kind = None
        if t.get("shop") in STOP_SHOP:
            kind = "shop=" + t["shop"]
        elif t.get("amenity") in STOP_AMENITY:
            kind = "amenity=" + t["amenity"]
        elif t.get("tourism") in STOP_TOURISM:
            kind = "tourism=" + t["tourism"]
        if kind is None:
            continue
        if o.type_str() == "n":
            lat, lon = o.location.lat, o.location.lon
        else:
            pts = {
                (nd.ref, nd.location.lat, nd.location.lon) for nd in o.nodes if nd.location.valid()
            }
            if not pts:
                continue
            lat = float(np.mean([p[1] for p in pts]))
            lon = float(np.mean([p[2] for p in pts]))
        rows.append(
            {
                "osm": f"{o.type_str()}{o.id}",
                "kind": kind,
                "osm_name": t.get("name", ""),
                "street": t.get("addr:street", ""),
                "lat": lat,
                "lon": lon,
            }
        )
    return pd.DataFrame(rows)


def select_stops(cand: pd.DataFrame, snapper: Snapper) -> pd.DataFrame:
    node, dist = snapper.snap(cand["lat"].to_numpy(), cand["lon"].to_numpy())
    cand = cand.assign(snap_node=node, snap_m=dist)
    cand = cand[cand["snap_m"] <= STOP_MAX_SNAP_M]
    # named features first, then by OSM id: a stable priority for de-duplication
    cand = cand.assign(
        _named=(cand["osm_name"] == "").astype(int), _num=cand["osm"].str[1:].astype("int64")
    )
    cand = cand.sort_values(["_named", "osm", "_num"]).reset_index(drop=True)
    kept: list[int] = []
    for i, r in cand.iterrows():
        if kept:
            k = cand.loc[kept]
            d = haversine_m(r["lat"], r["lon"], k["lat"].to_numpy(), k["lon"].to_numpy())
            if (d < STOP_MIN_SPACING_M).any() or (k["snap_node"] == r["snap_node"]).any():
                continue
        kept.append(i)
    sel = cand.loc[kept]
    if len(sel) > MAX_STOPS:
        rng = np.random.default_rng(SEED + 1)
        sel = sel.iloc[np.sort(rng.choice(len(sel), MAX_STOPS, replace=False))]
    return sel.sort_values("osm").reset_index(drop=True)


def build_stops(src: Path, sel: pd.DataFrame) -> pd.DataFrame:
    d = pd.read_parquet(src / "demand-open" / "iowa_liquor_dsm_store_deliveries_daily.parquet")
    d["date"] = pd.to_datetime(d["date"])
    pool = (
        d[
            d["date"].between(*LOAD_WINDOW)
            & (d["date"].dt.weekday < 5)
            & d["bottles"].between(LOAD_MIN, LOAD_MAX)
        ]
        .sort_values(["date", "store_id"])
        .reset_index(drop=True)
    )
    rng = np.random.default_rng(SEED + 2)
    rows = pool.iloc[rng.choice(len(pool), len(sel), replace=False)].reset_index(drop=True)
    tw = rng.choice(len(TIME_WINDOWS), len(sel), p=TIME_WINDOW_P)
    names = []
    for r in sel.itertuples():
        label = r.osm_name or r.kind.split("=")[1].replace("_", " ")
        where = f", {r.street}" if r.street else ""
        names.append(f"{label}{where} (OSM {r.osm})")
    out = pd.DataFrame(
        {
            "stop_id": [f"S{i + 1:03d}" for i in range(len(sel))],
            "name": names,
            "lat": sel["lat"].round(6).to_numpy(),
            "lon": sel["lon"].round(6).to_numpy(),
            "demand_units": rows["bottles"].astype(int).to_numpy(),
            "tw_start": [TIME_WINDOWS[k][0] for k in tw],
            "tw_end": [TIME_WINDOWS[k][1] for k in tw],
            "service_min": np.clip(np.rint(5 + 0.4 * rows["n_lines"].to_numpy()), 5, 45).astype(
                int
            ),
        }
    )
    provenance = pd.DataFrame(
        {
            "stop_id": out["stop_id"],
            "osm": sel["osm"].to_numpy(),
            "kind": sel["kind"].to_numpy(),
            "snap_m": sel["snap_m"].round(1).to_numpy(),
            "load_store_id": rows["store_id"].to_numpy(),
            "load_date": rows["date"].dt.strftime("%Y-%m-%d").to_numpy(),
            "n_lines": rows["n_lines"].to_numpy(),
        }
    )
    return out, provenance, len(pool)


# --------------------------------------------------------------------------- FCs and stock
def load_fcs(src: Path) -> pd.DataFrame:
    f = pd.read_csv(src / "facilities" / "amazon_sites_us.csv.gz", dtype={"county_fips": str})
    f = f[f["code"].isin(FC_CODES)].drop_duplicates("code").set_index("code").loc[list(FC_CODES)]
    return f.reset_index()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sources",
        type=Path,
        default=DEFAULT_SOURCES,
        help="folder with the sample-sources tree (default: %(default)s)",
    )
    ap.add_argument("--out", type=Path, default=HERE, help="output folder (default: %(default)s)")
    ap.add_argument(
        "--check-osmnx",
        action="store_true",
        help="also load the road file with osmnx (slow, ~40 s) and count its graph",
    )
    args = ap.parse_args(argv)
    src: Path = args.sources.resolve()
    out: Path = args.out.resolve()
    if not (src / "demand-open").is_dir():
        print(
            f"error: {src} is not a sample-sources folder (no demand-open/); pass --sources PATH",
            file=sys.stderr,
        )
        return 2
    out.mkdir(parents=True, exist_ok=True)
    (out / "roads").mkdir(exist_ok=True)
    t0 = time.perf_counter()
    rng = np.random.default_rng(SEED)
    summary: dict[str, object] = {}

    # regions --------------------------------------------------------------
    oh, ia = load_regions(src)
    match = match_counties(oh, ia)
    write_regions_geojson(oh, out / "regions.geojson")
    cen = oh.to_crs(5070).centroid.to_crs(4326)
    centroids = pd.DataFrame(
        {"lat": cen.y.to_numpy(), "lon": cen.x.to_numpy()}, index=oh["fips"].to_numpy()
    )
    summary["county_match"] = match.assign(scale=match["scale"].round(3)).to_dict("records")

    # history / skus -------------------------------------------------------
    iowa = load_iowa_weekly(src)
    cats = pick_categories(iowa)
    hist, hstats = build_history(iowa, match, cats)
    summary.update(hstats)
    write_csv(
        hist.assign(ds=hist["ds"].dt.strftime("%Y-%m-%d"))[["region_id", "sku_id", "ds", "y"]],
        out / "history.csv",
    )
    skus = build_skus(src, cats)
    write_csv(skus.drop(columns=["_bottle_ml", "_cost"]), out / "skus.csv")

    # weather --------------------------------------------------------------
    weather = build_weather(src, match, centroids)
    write_csv(weather, out / "weather.csv")

    # traffic --------------------------------------------------------------
    prof = pd.read_csv(src / "traffic" / "hourly_speed_profile.csv")
    parts = []
    for cls in sorted(DRIVE_HIGHWAYS):
        col = "bpr_speed_factor" if cls in FREEWAY_CLASSES else "speed_factor"
        parts.append(
            pd.DataFrame(
                {
                    "hour": prof["hour"],
                    "weekday": prof["weekday"],
                    "road_class": cls,
                    "speed_factor": prof[col].round(3),
                }
            )
        )
    traffic = pd.concat(parts).sort_values(["road_class", "weekday", "hour"])
    write_csv(traffic[["hour", "weekday", "road_class", "speed_factor"]], out / "traffic.csv")

    # roads ----------------------------------------------------------------
    pbf_src = src / "roads" / "columbus_oh.osm.pbf"
    pbf = out / "roads" / "columbus_oh.osm.pbf"
    shutil.copyfile(pbf_src, pbf)
    G, coords = load_drive_graph(pbf)
    snapper = Snapper(coords)
    bbox = graph_bbox(coords)
    summary["road_scc_nodes_unsimplified"] = G.number_of_nodes()
    summary["road_scc_edges_unsimplified"] = G.number_of_edges()
    summary["road_scc_nodes_simplified"] = simplified_node_count(G)
    summary["drive_bbox_lat_lon"] = [round(v, 5) for v in bbox]

    # FCs ------------------------------------------------------------------
    sites = load_fcs(src)
    _, fc_snap = snapper.snap(sites["lat"].to_numpy(), sites["lng"].to_numpy())
    sites["snap_m"] = fc_snap
    # expected 14-day demand: the last 8 weeks' mean weekly demand x 2, per SKU
    last8 = hist[hist["ds"] > hist["ds"].max() - pd.Timedelta(weeks=8)]
    d14_sku = (last8.groupby("sku_id")["y"].sum() / 4).round().astype("int64").sort_index()
    d14 = int(d14_sku.sum())
    seasonal = hist[hist["ds"].isin(pd.to_datetime(["2021-11-01", "2021-11-08"]))]
    summary["expected_14d_demand_units"] = d14
    summary["same_weeks_2021_units"] = int(seasonal["y"].sum())
    base = rng.uniform(0.8, 1.2, len(sites))
    base = base * np.where(sites["code"] == TIGHT_FC, 0.5, 1.0)
    share = base / base.sum()
    cap_units = np.round(CAPACITY_FACTOR * d14 * share / 100) * 100
    vol = skus.set_index("sku_id")["unit_volume_m3"]
    mean_vol = float((d14_sku * vol.reindex(d14_sku.index)).sum() / d14)
    fcs = (
        pd.DataFrame(
            {
                "fc_id": sites["code"],
                "name": [f"Amazon {c} - {FC_PLACE[c]}" for c in sites["code"]],
                "lat": sites["lat"].round(6),
                "lon": sites["lng"].round(6),
                "capacity_units": cap_units.astype(int),
                "capacity_m3": np.round(cap_units * mean_vol * M3_SLACK, 1),
                "handling_cost_per_unit": np.round(rng.uniform(0.15, 0.35, len(sites)), 3),
            }
        )
        .sort_values("fc_id")
        .reset_index(drop=True)
    )
    write_csv(fcs, out / "fcs.csv")

    # inventory ------------------------------------------------------------
    inv_rows = []
    fc_share = dict(zip(sites["code"], share, strict=True))
    for fc in sorted(fc_share):
        for sku in d14_sku.index:
            frac = rng.uniform(0.15, 0.45)
            units = 0 if rng.random() < 0.1 else int(np.rint(d14_sku[sku] * fc_share[fc] * frac))
            inv_rows.append((fc, sku, units))
    inventory = pd.DataFrame(inv_rows, columns=["fc_id", "sku_id", "on_hand_units"])
    write_csv(inventory, out / "inventory.csv")

    # supply + inbound lanes ----------------------------------------------
    sup_rows = []
    for sku in d14_sku.index:
        total = d14_sku[sku] * rng.uniform(0.9, 1.2)
        for node_id, lat, lon, sh, _ in SUPPLY_NODES:
            sup_rows.append((node_id, sku, int(np.rint(total * sh)), lat, lon))
    supply = pd.DataFrame(sup_rows, columns=["node_id", "sku_id", "available_units", "lat", "lon"])
    supply = supply.sort_values(["node_id", "sku_id"]).reset_index(drop=True)
    write_csv(supply, out / "supply.csv")
    lanes = []
    for node_id, lat, lon, _, lead in SUPPLY_NODES:
        for r in fcs.itertuples():
            km = float(haversine_m(lat, lon, r.lat, r.lon)) / 1000 * ROAD_DETOUR
            lanes.append(
                (node_id, r.fc_id, round(INBOUND_BASE_COST + INBOUND_COST_PER_KM * km, 4), lead)
            )
    inbound = pd.DataFrame(lanes, columns=["node_id", "fc_id", "cost_per_unit", "lead_days"])
    write_csv(inbound.sort_values(["node_id", "fc_id"]), out / "inbound_lanes.csv")

    # stops ----------------------------------------------------------------
    cand = osm_candidates(pbf)
    sel = select_stops(cand, snapper)
    stops, prov, pool_n = build_stops(src, sel)
    write_csv(stops, out / "stops.csv")
    summary["stop_candidates"] = len(cand)
    summary["load_pool_rows"] = pool_n
    summary["stop_kinds"] = prov["kind"].value_counts().sort_index().to_dict()
    summary["stop_snap_m_max"] = float(prov["snap_m"].max())

    # fleet ----------------------------------------------------------------
    depot = fcs.set_index("fc_id").loc[DEPOT_FC]
    total_load = int(stops["demand_units"].sum())
    cap = max(
        int(math.ceil(total_load / MIN_VEHICLES_BY_LOAD / 50) * 50),
        int(stops["demand_units"].max()),
    )
    fleet = pd.DataFrame(
        {
            "vehicle_id": [f"V{i + 1:02d}" for i in range(N_VEHICLES)],
            "depot_id": DEPOT_FC,
            "depot_lat": depot["lat"],
            "depot_lon": depot["lon"],
            "capacity_units": cap,
            "shift_start": SHIFT[0],
            "shift_end": SHIFT[1],
            "cost_per_km": COST_PER_KM,
            "cost_per_hour": COST_PER_HOUR,
            "fixed_cost": FIXED_COST,
        }
    )
    write_csv(fleet, out / "fleet.csv")

    # scenario.toml --------------------------------------------------------
    (out / "scenario.toml").write_text(SCENARIO_TOML.format(depot=DEPOT_FC), encoding="utf-8")

    # checks ---------------------------------------------------------------
    summary.update(
        check(out, fcs, sites, stops, fleet, hist, skus, inventory, supply, weather, bbox)
    )
    summary["series"] = int(hist.groupby(["region_id", "sku_id"]).ngroups)
    summary["weeks"] = int(hist["ds"].nunique())
    summary["total_stop_load_units"] = total_load
    summary["vehicle_capacity_units"] = cap
    summary["fc_snap_m"] = dict(zip(sites["code"], np.round(fc_snap, 1).tolist(), strict=True))
    summary["provenance_stops"] = prov.to_dict("records")

    if args.check_osmnx:
        summary["osmnx"] = osmnx_counts(pbf)
    summary["files"] = {
        p.relative_to(out).as_posix(): {
            "bytes": p.stat().st_size,
            "rows": (sum(1 for _ in p.open("rb")) - 1) if p.suffix == ".csv" else None,
            "sha256": hashlib.sha256(p.read_bytes()).hexdigest()[:16],
        }
        for p in sorted(out.rglob("*"))
        if p.is_file()
        and p.suffix in (".csv", ".geojson", ".pbf", ".toml")
        and "cache" not in p.parts
    }
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    (out / "cache").mkdir(exist_ok=True)
    (out / "cache" / "build_summary.json").write_text(
        json.dumps(summary, indent=1, default=str) + "\n", encoding="utf-8"
    )
    for name, info in summary["files"].items():
        rows = "" if info["rows"] is None else f"{info['rows']:>7,} rows"
        print(f"{name:28s} {rows:>13s} {info['bytes']:>11,} B  sha256 {info['sha256']}")
    keys = (
        "series", "weeks", "road_scc_nodes_unsimplified", "road_scc_nodes_simplified",
        "expected_14d_demand_units", "total_stop_load_units", "vehicle_capacity_units",
        "min_vehicles_by_capacity", "stop_snap_m_max", "checks", "seconds",
    )  # fmt: skip
    for k in keys:
        print(f"{k}: {summary[k]}")
    if "osmnx" in summary:
        print(f"osmnx drive SCC (simplified): {summary['osmnx']}")
    print(f"full summary: {out / 'cache' / 'build_summary.json'}")
    return 0


def check(out, fcs, sites, stops, fleet, hist, skus, inventory, supply, weather, bbox) -> dict:
    """Coherence checks; raise AssertionError on any violation."""
    import geopandas as gpd

    lat0, lon0, lat1, lon1 = bbox
    hist_skus = set(hist["sku_id"])
    assert set(skus["sku_id"]) == hist_skus, "skus.csv and history disagree"
    assert set(inventory["sku_id"]) <= hist_skus and set(supply["sku_id"]) <= hist_skus
    reg = gpd.read_file(out / "regions.geojson")
    assert set(hist["region_id"]) == set(reg["region_id"].astype(str)), "regions != history"
    assert reg.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    assert stops["lat"].between(lat0, lat1).all() and stops["lon"].between(lon0, lon1).all()
    dep = fcs.set_index("fc_id").loc[DEPOT_FC]
    assert lat0 <= dep["lat"] <= lat1 and lon0 <= dep["lon"] <= lon1, "depot outside road bbox"
    dsnap = float(sites.set_index("code").loc[DEPOT_FC, "snap_m"])
    assert dsnap <= DEPOT_MAX_SNAP_M, f"depot snaps {dsnap:.0f} m from the road network"
    assert len(stops) >= 40, len(stops)
    wd = pd.to_datetime(weather["ds"])
    need_end = hist["ds"].max() + pd.Timedelta(weeks=8, days=6)
    assert wd.min() <= hist["ds"].min() and wd.max() >= need_end
    assert wd.max() >= pd.Timestamp("2022-11-01")
    assert weather.groupby("region_id").size().nunique() == 1
    per_fc = inventory.groupby("fc_id")["on_hand_units"].sum()
    cap = fcs.set_index("fc_id")["capacity_units"]
    assert (per_fc < cap.reindex(per_fc.index)).all(), "inventory above capacity"
    total = stops["demand_units"].sum()
    need = math.ceil(total / fleet["capacity_units"].iloc[0])
    assert need >= 3 and len(fleet) >= need, (need, len(fleet))
    assert (hist["y"] >= 0).all()
    nonzero = hist.groupby(["region_id", "sku_id"])["y"].apply(lambda s: int((s > 0).sum()))
    return {
        "checks": "ok",
        "min_vehicles_by_capacity": int(need),
        "series_nonzero_weeks_min": int(nonzero.min()),
        "series_nonzero_weeks_median": float(nonzero.median()),
        "inventory_over_capacity_pct": {
            k: round(100 * per_fc[k] / cap[k], 1) for k in per_fc.index
        },
    }


def osmnx_counts(pbf: Path) -> dict:
    """Drive SCC of the road file with osmnx (filter of roads/README.md) — for the README."""
    import osmium
    import osmnx as ox

    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "c.osm"
        with osmium.SimpleWriter(str(xml)) as wr:
            for o in osmium.FileProcessor(str(pbf)):
                wr.add(o)
        G = ox.graph_from_xml(xml, simplify=False, retain_all=True)
    drop = []
    for u, v, k, d in G.edges(keys=True, data=True):
        hw = d.get("highway")
        hw = hw[0] if isinstance(hw, list) else hw
        if hw not in DRIVE_HIGHWAYS or d.get("access") in ("private", "no"):
            drop.append((u, v, k))
    G.remove_edges_from(drop)
    G.remove_nodes_from([n for n in list(G.nodes) if G.degree(n) == 0])
    G = ox.simplify_graph(G)
    G = ox.truncate.largest_component(G, strongly=True)
    return {"nodes": G.number_of_nodes(), "edges": G.number_of_edges()}


SCENARIO_TOML = """\
# shipahead sample scenario: Columbus, OH (built by sample_data/build.py; see README.md)
[scenario]
name = "columbus-oh-sample"
seed = 42

[inputs]
history = "history.csv"
weather = "weather.csv"
regions = "regions.geojson"
fcs = "fcs.csv"
skus = "skus.csv"
inventory = "inventory.csv"
supply = "supply.csv"
inbound_lanes = "inbound_lanes.csv"
stops = "stops.csv"
fleet = "fleet.csv"
traffic = "traffic.csv"
roads = "roads/columbus_oh.osm.pbf"

[forecast]
horizon = 8          # periods (weeks)
freq = "W-MON"
country = "US"
windows = 3

[placement]
window_days = 14
promise_days = 2

[routing]
delivery_date = "2022-11-01"
depot_fc = "{depot}"
depart = "08:00"
time_limit_s = 10
"""

if __name__ == "__main__":
    raise SystemExit(main())

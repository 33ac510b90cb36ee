"""Contract tables → validated numpy arrays (`PlacementProblem`).

Everything downstream (model building, decomposition, rounding) works on these arrays only.
Index conventions: SKUs ``s`` (sorted ``sku_id``), FCs ``f`` (sorted ``fc_id``), supply nodes
``n``, regions ``r``, scenarios ``k`` (sorted scenario labels). Ragged structures are sorted
and carry CSR-like ``*_start`` pointer arrays so that blocks of consecutive SKUs are slices.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shipahead.tables import first_row, numeric_column, require_columns, require_frame

from .errors import InfeasibleError, InputError
from .settings import PlacementSettings

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class PlacementTables:
    """The contract tables of a placement (docs/data-formats.md).

    ``scenarios`` holds the demand totals over the window (units); the outbound ``lanes`` are
    given as a table or derived from the ``regions`` polygons (a GeoDataFrame, EPSG:4326);
    without ``inbound_lanes`` every supply node ships to every FC by distance.
    """

    scenarios: pd.DataFrame
    fcs: pd.DataFrame
    skus: pd.DataFrame
    inventory: pd.DataFrame
    supply: pd.DataFrame
    inbound_lanes: pd.DataFrame | None = None
    lanes: pd.DataFrame | None = None
    regions: pd.DataFrame | None = None


@dataclass(frozen=True)
class PlacementProblem:
    """The placement model as arrays (see docs/placement.md for symbols and units)."""

    sku_ids: np.ndarray  # (S,) str
    fc_ids: np.ndarray  # (F,) str
    node_ids: np.ndarray  # (N,) str
    region_ids: np.ndarray  # (R,) str
    scenarios: np.ndarray  # (K,) scenario labels
    prob: np.ndarray  # (K,) p_k
    vol: np.ndarray  # (S,) v_s, m³ per unit (1.0 when capacity is in units)
    hold: np.ndarray  # (S,) h_s * W, currency per unit over the window
    pen: np.ndarray  # (S,) pi_s, currency per unit unserved
    cap: np.ndarray  # (F,) Cap_f (m³ or units)
    cap_unit: str  # "m3" or "units"
    on_hand: np.ndarray  # (S, F) units
    # supply entries (sorted by s, n)
    sup_s: np.ndarray
    sup_n: np.ndarray
    sup_avail: np.ndarray  # A[s,n] units
    sku_sup_start: np.ndarray  # (S+1,)
    # inbound arcs n -> f (sorted by n, f)
    arc_n: np.ndarray
    arc_f: np.ndarray
    arc_cost: np.ndarray  # c_in, currency per unit
    arc_lead: np.ndarray  # lead days
    node_arc_start: np.ndarray  # (N+1,)
    # outbound lanes f -> r (sorted by r, f)
    lane_f: np.ndarray
    lane_r: np.ndarray
    lane_cost: np.ndarray  # c[f,r] currency per unit
    lane_late: np.ndarray  # late[f,r] currency per unit
    lane_transit: np.ndarray  # days
    lane_on_time: np.ndarray  # bool: transit <= promise (True when no promise)
    region_lane_start: np.ndarray  # (R+1,)
    # demand pairs (sorted by s, r) and scenario quantities
    dem_s: np.ndarray
    dem_r: np.ndarray
    demand: np.ndarray  # (P, K) units over the window
    sku_dem_start: np.ndarray  # (S+1,)
    #: inventory's inbound ``qty_units``: units counted as on hand and units left out (ETA
    #: after the plan date), see :func:`_inbound_units`; empty without inbound quantities
    inbound: dict = field(default_factory=dict)

    @property
    def n_skus(self) -> int:
        return len(self.sku_ids)

    @property
    def n_fcs(self) -> int:
        return len(self.fc_ids)

    @property
    def n_scenarios(self) -> int:
        return len(self.scenarios)

    def n_columns_estimate(self) -> int:
        """LP columns of the monolithic model (q + x + y + u)."""
        lanes_per_region = np.diff(self.region_lane_start)
        n_y = int(lanes_per_region[self.dem_r].sum()) * self.n_scenarios
        n_q = int(np.diff(self.node_arc_start)[self.sup_n].sum())
        return n_q + self.n_skus * self.n_fcs + n_y + len(self.dem_s) * self.n_scenarios


# --------------------------------------------------------------------------- helpers
def _require(df: pd.DataFrame, table: str, cols: list[str]) -> None:
    """``df`` is a DataFrame with ``cols`` (:func:`shipahead.tables.require_columns`)."""
    require_frame(df, table, message=f"{table} must be a table (DataFrame)")
    require_columns(df, table, cols)


def _ids(df: pd.DataFrame, table: str, col: str) -> pd.Series:
    s = df[col]
    bad = s.isna()
    if (row := first_row(bad)) is not None:
        raise InputError(
            f"{table} row {row}: {col} is empty",
            column=col,
            row=row,
            table=table,
            fix=f"fill {col}",
        )
    return s.astype(str)


#: Largest magnitude of any number in a placement table: above it a value is a unit mistake or
#: a corrupt cell, and the LP would lose all precision (HiGHS reports such models "Unknown").
MAX_MAGNITUDE = 1e12


def _num(
    df: pd.DataFrame,
    table: str,
    col: str,
    *,
    min_value: float | None = 0.0,
    strict: bool = False,
    allow_nan: bool = False,
) -> np.ndarray:
    """Numeric column ``col``: finite, at most :data:`MAX_MAGNITUDE`, ``>= min_value`` (``>``
    if ``strict``), empty cells only if ``allow_nan`` (:func:`shipahead.tables.numeric_column`)."""
    lower = {"gt" if strict else "ge": min_value} if min_value is not None else {}
    return numeric_column(
        df, table, col, allow_empty=allow_nan, max_magnitude=MAX_MAGNITUDE, **lower
    )


def _unique(df: pd.DataFrame, table: str, cols: list[str]) -> None:
    dup = df.duplicated(subset=cols, keep="first").to_numpy()
    if (row := first_row(dup)) is not None:
        key = ", ".join(f"{c}={df[c].iloc[row]!r}" for c in cols)
        raise InputError(
            f"{table} row {row}: duplicate key ({key})",
            row=row,
            table=table,
            fix=f"keep one row per {', '.join(cols)}",
        )


def _known(values: pd.Series, known: np.ndarray, table: str, col: str, ref: str) -> np.ndarray:
    idx = pd.Index(known).get_indexer(values)
    if (row := first_row(idx < 0)) is not None:
        raise InputError(
            f"{table} row {row}: {col}={values.iloc[row]!r} is not in {ref}",
            column=col,
            row=row,
            table=table,
            fix=f"add it to {ref} or remove the row",
        )
    return idx


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray):
    """Great-circle distance in km (arrays broadcast)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dl = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _latlon(df: pd.DataFrame, table: str) -> tuple[np.ndarray, np.ndarray]:
    lat = _num(df, table, "lat", min_value=-90.0)
    lon = _num(df, table, "lon", min_value=-180.0)
    for name, v, hi in (("lat", lat, 90.0), ("lon", lon, 180.0)):
        if (row := first_row(v > hi)) is not None:
            raise InputError(
                f"{table} row {row}: {name}={v[row]:g} is out of range",
                column=name,
                row=row,
                table=table,
            )
    return lat, lon


def region_centroids(regions) -> pd.DataFrame:
    """Region polygons (EPSG:4326) → ``region_id, lat, lon`` of their area centroids.

    Centroids are taken in an equal-area projection (EPSG:6933) and mapped back to degrees.
    """
    if "region_id" not in regions.columns:
        raise InputError("regions is missing column region_id", column="region_id", table="regions")
    if "geometry" not in regions.columns or regions.geometry.isna().any():
        raise InputError(
            "regions needs a polygon geometry for every region",
            column="geometry",
            table="regions",
            fix="use a GeoJSON/GeoParquet with one polygon per region_id",
        )
    gdf = regions
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    cent = gdf.to_crs(6933).geometry.centroid.to_crs(4326)
    return pd.DataFrame(
        {
            "region_id": _ids(gdf, "regions", "region_id").to_numpy(),
            "lat": cent.y.to_numpy(),
            "lon": cent.x.to_numpy(),
        }
    )


def _ragged_starts(keys: np.ndarray, n: int) -> np.ndarray:
    """CSR pointer for sorted integer keys in [0, n)."""
    counts = np.bincount(keys, minlength=n) if len(keys) else np.zeros(n, dtype=np.int64)
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=start[1:])
    return start


# --------------------------------------------------------------------------- table readers
@dataclass(frozen=True)
class _Fcs:
    """The fcs table sorted by ``fc_id``: capacity (in ``cap_unit``) and coordinates (deg)."""

    ids: np.ndarray  # (F,) object
    cap: np.ndarray  # (F,)
    cap_col: str  # "capacity_m3" or "capacity_units"
    cap_unit: str  # "m3" or "units"
    lat: np.ndarray  # (F,)
    lon: np.ndarray  # (F,)


def _read_fcs(fcs: pd.DataFrame) -> _Fcs:
    """Check the fcs table; capacity in m³ when every FC has ``capacity_m3``, else units."""
    _require(fcs, "fcs", ["fc_id", "lat", "lon"])
    fcs = fcs.reset_index(drop=True)
    if len(fcs) == 0:
        raise InputError("fcs is empty", table="fcs", fix="list at least one fulfillment center")
    _ids(fcs, "fcs", "fc_id")
    _unique(fcs.assign(fc_id=fcs["fc_id"].astype(str)), "fcs", ["fc_id"])
    if "capacity_m3" in fcs.columns and fcs["capacity_m3"].notna().all():
        cap_col, cap_unit = "capacity_m3", "m3"
    elif "capacity_units" in fcs.columns:
        cap_col, cap_unit = "capacity_units", "units"
    else:
        raise InputError(
            "fcs needs capacity_m3 (or capacity_units) for every FC",
            column="capacity_m3",
            table="fcs",
            fix="add a capacity_m3 or capacity_units column",
        )
    fcs = fcs.assign(fc_id=fcs["fc_id"].astype(str)).sort_values("fc_id", kind="stable")
    ids = fcs["fc_id"].to_numpy(dtype=object)
    cap = _num(fcs, "fcs", cap_col)
    lat, lon = _latlon(fcs, "fcs")
    return _Fcs(ids=ids, cap=cap, cap_col=cap_col, cap_unit=cap_unit, lat=lat, lon=lon)


@dataclass(frozen=True)
class _Skus:
    """The skus table sorted by ``sku_id``: volume (m³, 1 if capacity is in units) and costs."""

    ids: np.ndarray  # (S,) object
    vol: np.ndarray  # (S,)
    hold: np.ndarray  # (S,) holding cost per unit over the window
    pen: np.ndarray  # (S,) stock-out cost per unit


def _read_skus(skus: pd.DataFrame, cap_unit: str, window_days: float) -> _Skus:
    """Check the skus table (``unit_volume_m3`` is required when capacity is in m³)."""
    _require(
        skus,
        "skus",
        ["sku_id", "holding_cost_per_unit_day", "stockout_cost_per_unit"]
        + (["unit_volume_m3"] if cap_unit == "m3" else []),
    )
    skus = skus.reset_index(drop=True)
    _ids(skus, "skus", "sku_id")
    skus = skus.assign(sku_id=skus["sku_id"].astype(str))
    _unique(skus, "skus", ["sku_id"])
    skus = skus.sort_values("sku_id", kind="stable").reset_index(drop=True)
    ids = skus["sku_id"].to_numpy(dtype=object)
    vol = (
        _num(skus, "skus", "unit_volume_m3", strict=True)
        if cap_unit == "m3"
        else np.ones(len(skus))
    )
    hold = _num(skus, "skus", "holding_cost_per_unit_day") * float(window_days)
    pen = _num(skus, "skus", "stockout_cost_per_unit")
    return _Skus(ids=ids, vol=vol, hold=hold, pen=pen)


@dataclass(frozen=True)
class _Scenarios:
    """The scenarios table: one row per SKU, region and scenario id."""

    table: pd.DataFrame  # ids as str, in input order
    sku: np.ndarray  # (rows,) SKU index of each row
    k: np.ndarray  # (rows,) scenario index of each row
    qty: np.ndarray  # (rows,) units
    labels: np.ndarray  # (K,) scenario ids, sorted
    prob: np.ndarray  # (K,) probabilities, summing to 1


def _read_scenarios(scenarios: pd.DataFrame, sku_ids: np.ndarray) -> _Scenarios:
    """Check the scenarios table: known SKUs, one probability per scenario id, summing to 1."""
    _require(scenarios, "scenarios", ["sku_id", "region_id", "scenario", "prob", "qty_units"])
    sc = scenarios.reset_index(drop=True)
    if len(sc) == 0:
        raise InputError("scenarios is empty", table="scenarios", fix="give demand scenarios")
    sc = sc.assign(
        sku_id=_ids(sc, "scenarios", "sku_id"),
        region_id=_ids(sc, "scenarios", "region_id"),
        scenario=_ids(sc, "scenarios", "scenario"),
    )
    prob_v = _num(sc, "scenarios", "prob", strict=True)
    qty_v = _num(sc, "scenarios", "qty_units")
    if (row := first_row(prob_v > 1 + 1e-9)) is not None:
        raise InputError(
            f"scenarios row {row}: prob={prob_v[row]:g} is above 1",
            column="prob",
            row=row,
            table="scenarios",
        )
    _unique(sc, "scenarios", ["sku_id", "region_id", "scenario"])
    s_idx = _known(sc["sku_id"], sku_ids, "scenarios", "sku_id", "skus")
    scen_labels = np.array(sorted(sc["scenario"].unique()), dtype=object)
    k_idx = pd.Index(scen_labels).get_indexer(sc["scenario"])
    prob = np.full(len(scen_labels), np.nan)
    prob[k_idx] = prob_v
    mismatch = np.abs(prob_v - prob[k_idx]) > 1e-9
    if (row := first_row(mismatch)) is not None:
        raise InputError(
            f"scenarios row {row}: prob={prob_v[row]:g} differs from prob={prob[k_idx[row]]:g} "
            f"given to scenario {scen_labels[k_idx[row]]!r} in another row",
            column="prob",
            row=row,
            table="scenarios",
            fix="give each scenario id one probability across all sku/region keys",
        )
    if abs(prob.sum() - 1.0) > 1e-6:
        raise InputError(
            f"scenarios: probabilities of the {len(prob)} scenario ids sum to {prob.sum():.6g}, "
            "not 1",
            column="prob",
            table="scenarios",
            fix="rescale prob so that the distinct scenarios sum to 1",
        )
    return _Scenarios(
        table=sc, sku=s_idx, k=k_idx, qty=qty_v, labels=scen_labels, prob=prob / prob.sum()
    )


# --------------------------------------------------------------------------- outbound lanes
@dataclass(frozen=True)
class _RawLanes:
    """FC → region lanes in input order, before the promise filter."""

    region_ids: np.ndarray  # (R,) object, sorted
    fc: np.ndarray  # (L,) FC index
    region: np.ndarray  # (L,) region index
    cost: np.ndarray  # (L,) cost per unit
    days: np.ndarray  # (L,) transit days


def _lanes_from_table(lanes: pd.DataFrame, fc_ids: np.ndarray, region_names: list) -> _RawLanes:
    """Lanes as given (regions: those of the scenarios and of the lanes)."""
    _require(lanes, "lanes", ["fc_id", "region_id", "cost_per_unit", "transit_days"])
    ln = lanes.reset_index(drop=True)
    ln = ln.assign(fc_id=_ids(ln, "lanes", "fc_id"), region_id=_ids(ln, "lanes", "region_id"))
    _unique(ln, "lanes", ["fc_id", "region_id"])
    lf = _known(ln["fc_id"], fc_ids, "lanes", "fc_id", "fcs")
    l_cost = _num(ln, "lanes", "cost_per_unit")
    l_days = _num(ln, "lanes", "transit_days")
    region_ids = np.array(sorted(set(region_names) | set(ln["region_id"])), dtype=object)
    lr = pd.Index(region_ids).get_indexer(ln["region_id"])
    return _RawLanes(region_ids=region_ids, fc=lf, region=lr, cost=l_cost, days=l_days)


def _lanes_from_geometry(
    regions, sc: pd.DataFrame, region_names: list, fcs: _Fcs, settings: PlacementSettings
) -> _RawLanes:
    """Every FC to every region centroid, cost and days from the great-circle distance."""
    if regions is None:
        raise InputError(
            "no lanes table and no regions geometry: cannot derive FC → region lanes",
            table="lanes",
            fix="pass `lanes` lanes.csv or `regions` regions.geojson",
        )
    cent = region_centroids(regions)
    _unique(cent, "regions", ["region_id"])
    missing = sorted(set(region_names) - set(cent["region_id"]))
    if missing:
        row = int(np.flatnonzero(sc["region_id"].isin(missing).to_numpy())[0])
        raise InputError(
            f"scenarios row {row}: region_id={missing[0]!r} is not in regions",
            column="region_id",
            row=row,
            table="scenarios",
            fix="add the region polygon to regions or drop its scenarios",
        )
    region_ids = np.array(region_names, dtype=object)
    cent = cent.set_index("region_id").loc[region_names]
    km = haversine_km(
        fcs.lat[:, None],
        fcs.lon[:, None],
        cent["lat"].to_numpy()[None, :],
        cent["lon"].to_numpy()[None, :],
    )  # (F, R)
    lf, lr = np.meshgrid(np.arange(len(fcs.ids)), np.arange(len(region_ids)), indexing="ij")
    kmv = km.ravel()
    return _RawLanes(
        region_ids=region_ids,
        fc=lf.ravel(),
        region=lr.ravel(),
        cost=kmv * settings.outbound_cost_per_unit_km,
        days=np.maximum(1.0, np.ceil(kmv / settings.outbound_km_per_day)),
    )


@dataclass(frozen=True)
class _Lanes:
    """Lanes kept by the promise, sorted by region then FC, with the region pointer."""

    fc: np.ndarray
    region: np.ndarray
    cost: np.ndarray
    late: np.ndarray  # late cost per unit
    transit: np.ndarray  # days
    on_time: np.ndarray
    region_start: np.ndarray  # (R+1,) CSR pointer


def _promise_lanes(raw: _RawLanes, settings: PlacementSettings) -> _Lanes:
    """Late cost per lane from the promise; ``strict_promise`` drops the late lanes."""
    lf, lr, l_days = raw.fc, raw.region, raw.days
    if settings.promise_days is None:
        on_time = np.ones(len(lf), dtype=bool)
        late = np.zeros(len(lf))
    else:
        on_time = l_days <= settings.promise_days + 1e-9
        late = np.maximum(0.0, l_days - settings.promise_days) * settings.late_cost_per_unit_day
    keep = on_time if settings.strict_promise else np.ones(len(lf), dtype=bool)
    order = np.lexsort((lf[keep], lr[keep]))
    lane_r = np.asarray(lr[keep][order], dtype=np.int64)
    return _Lanes(
        fc=np.asarray(lf[keep][order], dtype=np.int64),
        region=lane_r,
        cost=np.asarray(raw.cost[keep][order], dtype=float),
        late=np.asarray(late[keep][order], dtype=float),
        transit=np.asarray(l_days[keep][order], dtype=float),
        on_time=np.asarray(on_time[keep][order], dtype=bool),
        region_start=_ragged_starts(lane_r, len(raw.region_ids)),
    )


# --------------------------------------------------------------------------- demand
@dataclass(frozen=True)
class _Demand:
    """Demand per (SKU, region) pair with any demand, sorted by SKU then region."""

    sku: np.ndarray  # (P,)
    region: np.ndarray  # (P,)
    qty: np.ndarray  # (P, K) units over the window
    sku_start: np.ndarray  # (S+1,) CSR pointer


def _demand_pairs(
    sc: _Scenarios,
    raw: _RawLanes,
    lanes: _Lanes,
    fc_ids: np.ndarray,
    sku_ids: np.ndarray,
    settings: PlacementSettings,
) -> _Demand:
    """Scenario rows → (pair × scenario) demand; every pair needs a lane that reaches it."""
    region_ids = raw.region_ids
    R = len(region_ids)
    r_idx = pd.Index(region_ids).get_indexer(sc.table["region_id"])
    pair_key = sc.sku.astype(np.int64) * R + r_idx
    pkeys, p_of_row = np.unique(pair_key, return_inverse=True)
    demand = np.zeros((len(pkeys), len(sc.prob)))
    demand[p_of_row, sc.k] = sc.qty
    nz = demand.sum(axis=1) > 0
    pkeys, demand = pkeys[nz], demand[nz]
    dem_s, dem_r = pkeys // R, pkeys % R
    no_lane = np.diff(lanes.region_start)[dem_r] == 0
    if (i := first_row(no_lane)) is not None:
        reg, sku = region_ids[dem_r[i]], sku_ids[dem_s[i]]
        lr, lf, l_days = raw.region, raw.fc, raw.days
        if settings.strict_promise:
            cand = (lr == dem_r[i]) if len(lr) else np.zeros(0, dtype=bool)
            if cand.any():
                j = int(np.flatnonzero(cand)[np.argmin(l_days[cand])])
                raise InfeasibleError(
                    f"region {reg!r} has demand for SKU {sku!r} but no lane reaches it within the "
                    f"{settings.promise_days:g}-day promise (fastest: FC {fc_ids[lf[j]]!r}, "
                    f"{l_days[j]:g} days); drop `strict_promise` or raise `promise_days`",
                    table="lanes",
                )
        raise InfeasibleError(
            f"region {reg!r} has demand for SKU {sku!r} but no lane from any FC reaches it; "
            "add lanes rows for it or drop its scenarios",
            table="lanes",
        )
    return _Demand(
        sku=np.asarray(dem_s, dtype=np.int64),
        region=np.asarray(dem_r, dtype=np.int64),
        qty=demand,
        sku_start=_ragged_starts(dem_s, len(sku_ids)),
    )


# --------------------------------------------------------------------------- stock and supply
def _inbound_units(inv: pd.DataFrame, plan_date: dt.date | None) -> tuple[np.ndarray, dict]:
    """Units of the inventory's optional inbound ``qty_units`` counted as on hand, per row, and
    what was counted: stock on its way counts when it is in position by ``plan_date`` (its
    ``eta`` blank or on/before that date; every row without a plan date). Units; ETA dates."""
    if "qty_units" not in inv.columns:
        return np.zeros(len(inv)), {}
    qty = np.nan_to_num(_num(inv, "inventory", "qty_units", allow_nan=True))
    eta = pd.Series(pd.NaT, index=inv.index, dtype="datetime64[ns]")
    if "eta" in inv.columns:
        raw = inv["eta"]
        eta = pd.to_datetime(raw, errors="coerce")
        bad = eta.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        if (r := first_row(bad.to_numpy())) is not None:
            raise InputError(
                f"inventory row {r}: eta {str(raw.iloc[r])!r} is not a date",
                table="inventory",
                row=r,
                column="eta",
                fix="write ISO dates (YYYY-MM-DD), or leave eta blank",
            )
    late = np.zeros(len(inv), dtype=bool)
    if plan_date is not None:
        late = (eta.notna() & (eta.dt.date > plan_date)).to_numpy()
    counted = np.where(late, 0.0, qty)
    if not (qty > 0).any():
        return counted, {}
    info = {
        "rows": int((qty > 0).sum()),
        "counted_units": float(counted.sum()),
        "not_counted_units": float(qty[late].sum()),
        "not_counted_rows": int((late & (qty > 0)).sum()),
        "in_position_by": None if plan_date is None else plan_date.isoformat(),
    }
    return counted, info


def _read_inventory(
    inventory: pd.DataFrame, fcs: _Fcs, skus: _Skus, plan_date: dt.date | None = None
) -> tuple[np.ndarray, dict]:
    """On-hand units (S, F), inbound stock in position by ``plan_date`` included, and the
    inbound summary (:func:`_inbound_units`); what is on hand must fit each FC's capacity."""
    _require(inventory, "inventory", ["fc_id", "sku_id", "on_hand_units"])
    inv = inventory.reset_index(drop=True)
    inv = inv.assign(fc_id=_ids(inv, "inventory", "fc_id"), sku_id=_ids(inv, "inventory", "sku_id"))
    _unique(inv, "inventory", ["fc_id", "sku_id"])
    i_f = _known(inv["fc_id"], fcs.ids, "inventory", "fc_id", "fcs")
    i_s = _known(inv["sku_id"], skus.ids, "inventory", "sku_id", "skus")
    on_hand = np.zeros((len(skus.ids), len(fcs.ids)))
    counted, inbound = _inbound_units(inv, plan_date)
    on_hand[i_s, i_f] = _num(inv, "inventory", "on_hand_units") + counted
    used = skus.vol @ on_hand
    cap, cap_col = fcs.cap, fcs.cap_col
    over = used > cap * (1 + 1e-9) + 1e-9
    if (f := first_row(over)) is not None:
        unit = "m³" if fcs.cap_unit == "m3" else "units"
        raise InfeasibleError(
            f"FC {fcs.ids[f]!r} already holds {used[f]:.6g} {unit} on hand (inventory), above its "
            f"{cap_col} of {cap[f]:.6g}: the capacity constraint cannot hold; raise {cap_col} "
            "or move stock out first",
            table="inventory",
        )
    return on_hand, inbound


@dataclass(frozen=True)
class _Supply:
    """The supply table in input order, with node and SKU indices."""

    table: pd.DataFrame
    node_ids: np.ndarray  # (N,) object, sorted
    node: np.ndarray  # (rows,) node index
    sku: np.ndarray  # (rows,) SKU index
    avail: np.ndarray  # (rows,) units


def _read_supply(supply: pd.DataFrame, sku_ids: np.ndarray) -> _Supply:
    """Check the supply table (known SKUs, one row per node and SKU)."""
    _require(supply, "supply", ["node_id", "sku_id", "available_units"])
    sup = supply.reset_index(drop=True)
    sup = sup.assign(node_id=_ids(sup, "supply", "node_id"), sku_id=_ids(sup, "supply", "sku_id"))
    _unique(sup, "supply", ["node_id", "sku_id"])
    sku = _known(sup["sku_id"], sku_ids, "supply", "sku_id", "skus")
    avail = _num(sup, "supply", "available_units")
    node_ids = np.array(sorted(sup["node_id"].unique()), dtype=object)
    node = pd.Index(node_ids).get_indexer(sup["node_id"])
    return _Supply(table=sup, node_ids=node_ids, node=node, sku=sku, avail=avail)


@dataclass(frozen=True)
class _Arcs:
    """Inbound arcs node → FC sorted by node then FC, with the node pointer."""

    node: np.ndarray
    fc: np.ndarray
    cost: np.ndarray  # per unit
    lead: np.ndarray  # days
    node_start: np.ndarray  # (N+1,) CSR pointer


def _arcs_from_table(inbound_lanes: pd.DataFrame, sup: _Supply, fc_ids: np.ndarray) -> tuple:
    """(node, fc, cost, lead) of the inbound lanes of nodes that have supply."""
    _require(inbound_lanes, "inbound_lanes", ["node_id", "fc_id", "cost_per_unit", "lead_days"])
    il = inbound_lanes.reset_index(drop=True)
    il = il.assign(
        node_id=_ids(il, "inbound_lanes", "node_id"), fc_id=_ids(il, "inbound_lanes", "fc_id")
    )
    _unique(il, "inbound_lanes", ["node_id", "fc_id"])
    a_f = _known(il["fc_id"], fc_ids, "inbound_lanes", "fc_id", "fcs")
    a_n = pd.Index(sup.node_ids).get_indexer(il["node_id"])
    a_c = _num(il, "inbound_lanes", "cost_per_unit")
    a_l = _num(il, "inbound_lanes", "lead_days")
    ok = a_n >= 0  # lanes of nodes without supply are irrelevant
    return a_n[ok], a_f[ok], a_c[ok], a_l[ok]


def _arcs_from_geometry(sup: _Supply, fcs: _Fcs, settings: PlacementSettings) -> tuple:
    """(node, fc, cost, lead) from every node to every other FC by great-circle distance.

    Node coordinates: supply lat/lon, or the FC of the same id (transfers between FCs).
    """
    node_ids, sup_n_all, tab = sup.node_ids, sup.node, sup.table
    N = len(node_ids)
    node_lat = np.full(N, np.nan)
    node_lon = np.full(N, np.nan)
    if "lat" in tab.columns and "lon" in tab.columns:
        la = pd.to_numeric(tab["lat"], errors="coerce").to_numpy(dtype=float)
        lo = pd.to_numeric(tab["lon"], errors="coerce").to_numpy(dtype=float)
        node_lat[sup_n_all] = np.where(np.isnan(la), node_lat[sup_n_all], la)
        node_lon[sup_n_all] = np.where(np.isnan(lo), node_lon[sup_n_all], lo)
    fc_pos = pd.Index(fcs.ids).get_indexer(node_ids)
    as_fc = (fc_pos >= 0) & np.isnan(node_lat)
    node_lat[as_fc] = fcs.lat[fc_pos[as_fc]]
    node_lon[as_fc] = fcs.lon[fc_pos[as_fc]]
    if np.isnan(node_lat).any() or np.isnan(node_lon).any():
        n = int(np.flatnonzero(np.isnan(node_lat) | np.isnan(node_lon))[0])
        row = int(np.flatnonzero(sup_n_all == n)[0])
        raise InputError(
            f"supply row {row}: node {node_ids[n]!r} has no lat/lon and there is no inbound "
            "lanes table to say how it reaches the FCs",
            column="lat",
            row=row,
            table="supply",
            fix="add lat, lon columns to supply or pass `inbound_lanes`",
        )
    km = haversine_km(node_lat[:, None], node_lon[:, None], fcs.lat[None, :], fcs.lon[None, :])
    a_n, a_f = np.meshgrid(np.arange(N), np.arange(len(fcs.ids)), indexing="ij")
    a_n, a_f, kmv = a_n.ravel(), a_f.ravel(), km.ravel()
    notself = ~((fc_pos[a_n] >= 0) & (fc_pos[a_n] == a_f))
    a_n, a_f, kmv = a_n[notself], a_f[notself], kmv[notself]
    a_c = kmv * settings.inbound_cost_per_unit_km
    a_l = np.maximum(1.0, np.ceil(kmv / settings.inbound_km_per_day))
    return a_n, a_f, a_c, a_l


def _inbound_arcs(
    inbound_lanes: pd.DataFrame | None, sup: _Supply, fcs: _Fcs, settings: PlacementSettings
) -> _Arcs:
    """Inbound arcs from the table if given, else from coordinates; sorted with the pointer."""
    if inbound_lanes is not None:
        a_n, a_f, a_c, a_l = _arcs_from_table(inbound_lanes, sup, fcs.ids)
    else:
        a_n, a_f, a_c, a_l = _arcs_from_geometry(sup, fcs, settings)
    order = np.lexsort((a_f, a_n))
    arc_n = np.asarray(a_n[order], dtype=np.int64)
    return _Arcs(
        node=arc_n,
        fc=np.asarray(a_f[order], dtype=np.int64),
        cost=np.asarray(a_c[order], dtype=float),
        lead=np.asarray(a_l[order], dtype=float),
        node_start=_ragged_starts(arc_n, len(sup.node_ids)),
    )


def _placeable_supply(
    sup: _Supply, arcs: _Arcs, fcs: _Fcs, skus: _Skus
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sku, node, units) of the positive supply rows sorted by SKU then node.

    Supply that cannot go anywhere (no arc, or a unit larger than every FC) is explained.
    """
    avail_all, sup_n_all, sup_s_all = sup.avail, sup.node, sup.sku
    pos = avail_all > 0
    stuck = pos & (np.diff(arcs.node_start)[sup_n_all] == 0)
    if (row := first_row(stuck)) is not None:
        raise InfeasibleError(
            f"supply row {row}: {avail_all[row]:g} units of SKU {skus.ids[sup_s_all[row]]!r} at "
            f"node {sup.node_ids[sup_n_all[row]]!r} cannot be placed: no inbound lane from that "
            "node to any FC; add inbound_lanes rows for it or drop the supply row",
            table="inbound_lanes",
        )
    too_big = pos & (skus.vol[sup_s_all] > fcs.cap.max(initial=0.0))
    if (row := first_row(too_big)) is not None:
        s = sup_s_all[row]
        raise InfeasibleError(
            f"supply row {row}: SKU {skus.ids[s]!r} (unit_volume_m3={skus.vol[s]:g}) fits in no "
            f"FC: every FC's {fcs.cap_col} is below one unit; fix unit_volume_m3 or drop the "
            "supply row",
            table="skus",
        )
    order = np.lexsort((sup_n_all[pos], sup_s_all[pos]))
    return (
        np.asarray(sup_s_all[pos][order], dtype=np.int64),
        np.asarray(sup_n_all[pos][order], dtype=np.int64),
        np.asarray(avail_all[pos][order], dtype=float),
    )


# --------------------------------------------------------------------------- main entry
def build_problem(tables: PlacementTables, settings: PlacementSettings) -> PlacementProblem:
    """Validate the contract tables and turn them into a `PlacementProblem` of arrays.

    The tables are checked in this order (the first fault is reported): fcs, skus, scenarios,
    lanes (or regions), demand reach, inventory, supply, inbound lanes, placeable supply.

    Raises
    ------
    InputError
        A column, row or key is wrong (message names it and the fix).
    InfeasibleError
        The data make the model infeasible (message names the FC/SKU/region and constraint).
    """
    fc = _read_fcs(tables.fcs)
    sk = _read_skus(tables.skus, fc.cap_unit, settings.window_days)
    sc = _read_scenarios(tables.scenarios, sk.ids)
    region_names = sorted(sc.table["region_id"].unique())
    if tables.lanes is not None:
        raw = _lanes_from_table(tables.lanes, fc.ids, region_names)
    else:
        raw = _lanes_from_geometry(tables.regions, sc.table, region_names, fc, settings)
    ln = _promise_lanes(raw, settings)
    dem = _demand_pairs(sc, raw, ln, fc.ids, sk.ids, settings)
    on_hand, inbound = _read_inventory(tables.inventory, fc, sk, settings.plan_date)
    sup = _read_supply(tables.supply, sk.ids)
    arcs = _inbound_arcs(tables.inbound_lanes, sup, fc, settings)
    sup_s, sup_n, sup_avail = _placeable_supply(sup, arcs, fc, sk)
    return PlacementProblem(
        sku_ids=sk.ids,
        fc_ids=fc.ids,
        node_ids=sup.node_ids,
        region_ids=raw.region_ids,
        scenarios=sc.labels,
        prob=sc.prob,
        vol=sk.vol,
        hold=sk.hold,
        pen=sk.pen,
        cap=fc.cap,
        cap_unit=fc.cap_unit,
        on_hand=on_hand,
        inbound=inbound,
        sup_s=sup_s,
        sup_n=sup_n,
        sup_avail=sup_avail,
        sku_sup_start=_ragged_starts(sup_s, len(sk.ids)),
        arc_n=arcs.node,
        arc_f=arcs.fc,
        arc_cost=arcs.cost,
        arc_lead=arcs.lead,
        node_arc_start=arcs.node_start,
        lane_f=ln.fc,
        lane_r=ln.region,
        lane_cost=ln.cost,
        lane_late=ln.late,
        lane_transit=ln.transit,
        lane_on_time=ln.on_time,
        region_lane_start=ln.region_start,
        dem_s=dem.sku,
        dem_r=dem.region,
        demand=dem.qty,
        sku_dem_start=dem.sku_start,
    )

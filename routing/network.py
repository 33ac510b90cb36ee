"""Road network: parsed OSM ways -> prepared, drivable, strongly connected graph.

The package is pure: the CLI reads the file (pyosmium for ``.osm``/``.osm.bz2``/``.osm.pbf``,
osmnx for GraphML) and hands the parsed ways to :func:`graph_from_ways`, or an osmnx-style
graph to :func:`prepare_graph`. Both end in a :class:`RoadNetwork`: a networkx
``MultiDiGraph`` plus the same network as numpy arrays (a CSR adjacency with one arc per
node pair) for compiled shortest paths.

Units: lengths in metres, speeds in km/h, travel times in seconds.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from .errors import InputError

log = logging.getLogger(__name__)

EARTH_RADIUS_M = 6_371_008.8

#: Drivable OSM ``highway`` classes, fastest first. The index is the road-class code.
ROAD_CLASSES: tuple[str, ...] = (
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "road",
)

#: Free-flow speed (km/h) used when an edge has no usable ``maxspeed`` tag. Values are the
#: car profile of OSRM (Project-OSRM/osrm-backend ``profiles/car.lua``, ``speed_profile``
#: table, v4/v5), also used by Itinero's car profile; ``road`` (unknown class) gets
#: OSRM's ``default`` of 10 km/h raised to the residential value, 25 km/h.
DEFAULT_SPEEDS_KPH: dict[str, float] = {
    "motorway": 90.0,
    "motorway_link": 45.0,
    "trunk": 85.0,
    "trunk_link": 40.0,
    "primary": 65.0,
    "primary_link": 30.0,
    "secondary": 55.0,
    "secondary_link": 25.0,
    "tertiary": 40.0,
    "tertiary_link": 20.0,
    "unclassified": 25.0,
    "residential": 25.0,
    "living_street": 10.0,
    "road": 25.0,
}

_NO_ACCESS = {"no", "private"}
_MPH = 1.609344
_SPEED_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$", re.IGNORECASE)


def parse_maxspeed(value: object) -> float | None:
    """Parse an OSM ``maxspeed`` value to km/h.

    Accepts ``"50"``, ``"30 mph"``, ``"50;70"`` (the lowest is used) and lists as osmnx
    stores them. Returns ``None`` for values without a number (``"none"``, ``"signals"``,
    ``"RU:urban"``).
    """
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        vals = [parse_maxspeed(v) for v in value]
        vals = [v for v in vals if v is not None]
        return min(vals) if vals else None
    if isinstance(value, (int, float)):
        return float(value) if value > 0 else None
    best: float | None = None
    for part in str(value).split(";"):
        m = _SPEED_RE.match(part)
        if not m:
            continue
        kph = float(m.group(1)) * (_MPH if (m.group(2) or "").lower() == "mph" else 1.0)
        if kph > 0 and (best is None or kph < best):
            best = kph
    return best


def _first(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return str(value[0]) if value else None
    return str(value)


def road_class_of(highway: object) -> str | None:
    """Return the drivable road class of an OSM ``highway`` value, or ``None``."""
    hw = _first(highway)
    return hw if hw in DEFAULT_SPEEDS_KPH else None


def _blocked(tags: Mapping[str, object]) -> bool:
    for key in ("access", "motor_vehicle", "motorcar", "vehicle"):
        v = _first(tags.get(key))
        if v is not None and v in _NO_ACCESS:
            # a more specific "yes" (e.g. access=no + motor_vehicle=yes) re-opens the way
            if key == "access" and (
                _first(tags.get("motor_vehicle")) in {"yes", "designated", "destination"}
                or _first(tags.get("motorcar")) in {"yes", "designated", "destination"}
            ):
                continue
            return True
    return _first(tags.get("area")) == "yes"


def haversine_m(lon1, lat1, lon2, lat2):
    """Great-circle distance in metres (numpy broadcasting)."""
    lon1, lat1, lon2, lat2 = (
        np.radians(np.asarray(a, dtype=float)) for a in (lon1, lat1, lon2, lat2)
    )
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _direction(tags: Mapping[str, object], road_class: str) -> int:
    """+1 forward only, -1 reverse only, 0 both ways."""
    ow = (_first(tags.get("oneway")) or "").lower()
    if ow in {"yes", "true", "1"}:
        return 1
    if ow in {"-1", "reverse"}:
        return -1
    if ow == "no":
        return 0
    if road_class in {"motorway", "motorway_link"}:
        return 1
    if (_first(tags.get("junction")) or "").lower() in {"roundabout", "circular"}:
        return 1
    return 0


def graph_from_ways(
    ways: Iterable[tuple[int, Sequence[tuple[int, float, float]], Mapping[str, object]]],
) -> nx.MultiDiGraph:
    """Build an osmnx-style road graph from parsed OSM ways.

    Parameters
    ----------
    ways
        ``(way_id, [(node_id, lon, lat), ...], tags)`` per way, as a reader such as
        pyosmium yields them (ways without a drivable ``highway`` are skipped here).

    Returns
    -------
    networkx.MultiDiGraph
        Nodes are OSM node ids with ``x`` (lon) and ``y`` (lat); only way ends and nodes
        shared by two or more drivable ways become graph nodes (the graph is simplified
        while it is built). Each edge carries ``osmid``, ``highway``, ``maxspeed`` (raw tag),
        ``length`` (m, along the geometry) and ``geometry`` (list of ``(lon, lat)``).
        One-way rules: ``oneway=yes/-1``, motorways and roundabouts.
    """
    kept: list[tuple[int, list[tuple[int, float, float]], dict, str, int]] = []
    uses: dict[int, int] = {}
    for way_id, refs, tags in ways:
        rc = road_class_of(tags.get("highway"))
        if rc is None or _blocked(tags):
            continue
        refs = [(int(n), float(x), float(y)) for n, x, y in refs]
        # drop consecutive duplicate references
        refs = [r for i, r in enumerate(refs) if i == 0 or r[0] != refs[i - 1][0]]
        if len(refs) < 2:
            continue
        kept.append((int(way_id), refs, dict(tags), rc, _direction(tags, rc)))
        for k, (n, _, _) in enumerate(refs):
            uses[n] = uses.get(n, 0) + (2 if k in (0, len(refs) - 1) else 1)

    G = nx.MultiDiGraph(crs="EPSG:4326")
    for way_id, refs, tags, rc, direction in kept:
        start = 0
        for k in range(1, len(refs)):
            if k < len(refs) - 1 and uses[refs[k][0]] < 2:
                continue
            seg = refs[start : k + 1]
            start = k
            u, v = seg[0][0], seg[-1][0]
            if u == v:
                continue
            xs = np.array([p[1] for p in seg])
            ys = np.array([p[2] for p in seg])
            length = float(haversine_m(xs[:-1], ys[:-1], xs[1:], ys[1:]).sum())
            geom = list(zip(xs.tolist(), ys.tolist(), strict=True))
            for a, _b, pts in ((u, v, seg[0]), (v, u, seg[-1])):
                G.add_node(a, x=pts[1], y=pts[2])
            attrs = {
                "osmid": way_id,
                "highway": rc,
                "maxspeed": tags.get("maxspeed"),
                "name": tags.get("name"),
                "length": length,
            }
            if direction >= 0:
                G.add_edge(u, v, geometry=geom, **attrs)
            if direction <= 0:
                G.add_edge(v, u, geometry=geom[::-1], **attrs)
    return G


@dataclass(frozen=True)
class NetworkReport:
    """What :func:`prepare_graph` kept and imputed."""

    nodes_in: int
    edges_in: int
    nodes: int
    edges: int
    dropped_not_drivable: int
    dropped_outside_scc: int
    imputed_speed_share: float  # share of kept edges whose speed came from the default table

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A prepared road network, as a graph and as arrays.

    Attributes
    ----------
    graph
        networkx ``MultiDiGraph`` (osmnx conventions) with per-edge ``length`` (m),
        ``road_class``, ``speed_kph``, ``travel_time_s`` (free flow) and ``geometry``.
    node_osmid, lon, lat
        Node arrays; node index ``i`` in every matrix is ``node_osmid[i]``.
    arc_tail, arc_head
        ``(A,)`` arcs, one per ordered node pair (the fastest of parallel edges), in CSR order.
    arc_length_m, arc_time_s, arc_class
        Per arc: length (m), free-flow time (s), index into :data:`ROAD_CLASSES`.
    indptr
        CSR row pointer (``N + 1``): arcs leaving node ``i`` are ``indptr[i]:indptr[i+1]``.
    arc_geometry
        Per arc, a ``(k, 2)`` float array of ``(lon, lat)`` from tail to head.
    report
        :class:`NetworkReport`.
    cut_geometry
        ``(k, 2)`` ``(lon, lat)`` arrays of the drivable edges dropped because they are
        outside the largest strongly connected component (one-way dead ends, roads cut off):
        snapping uses them to tell a stop that sits on such a road.
    """

    graph: nx.MultiDiGraph
    node_osmid: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    indptr: np.ndarray
    arc_tail: np.ndarray
    arc_head: np.ndarray
    arc_length_m: np.ndarray
    arc_time_s: np.ndarray
    arc_class: np.ndarray
    arc_geometry: tuple
    report: NetworkReport
    cut_geometry: tuple = ()
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_nodes(self) -> int:
        return len(self.node_osmid)

    @property
    def n_arcs(self) -> int:
        return len(self.arc_head)

    def csr(self, weights: np.ndarray) -> sp.csr_matrix:
        """CSR adjacency with the given per-arc weights (must be > 0)."""
        return sp.csr_matrix(
            (np.asarray(weights, dtype=np.float64), self.arc_head, self.indptr),
            shape=(self.n_nodes, self.n_nodes),
        )

    def arc_index(self, tail: np.ndarray, head: np.ndarray) -> np.ndarray:
        """Arc ids of the arcs ``tail[k] -> head[k]`` (raises if an arc does not exist)."""
        tail = np.asarray(tail, dtype=np.int64)
        head = np.asarray(head, dtype=np.int64)
        key = tail * self.n_nodes + head
        if "arc_key" not in self._cache:
            self._cache["arc_key"] = self.arc_tail.astype(np.int64) * self.n_nodes + self.arc_head
        arc_key = self._cache["arc_key"]
        pos = np.searchsorted(arc_key, key)
        pos = np.minimum(pos, len(arc_key) - 1)
        if not np.all(arc_key[pos] == key):
            raise ValueError("path uses an arc that is not in the network")
        return pos

    def bbox(self) -> tuple[float, float, float, float]:
        """``(min_lon, min_lat, max_lon, max_lat)``."""
        return (
            float(self.lon.min()),
            float(self.lat.min()),
            float(self.lon.max()),
            float(self.lat.max()),
        )


def prepare_graph(
    G: nx.MultiDiGraph,
    *,
    default_speeds_kph: Mapping[str, float] | None = None,
) -> RoadNetwork:
    """Filter, annotate and compile a road graph.

    Keeps edges whose first ``highway`` value is a drivable class (:data:`ROAD_CLASSES`)
    and whose ``access``/``motor_vehicle`` is not ``no``/``private``; sets ``road_class``,
    ``speed_kph`` (``maxspeed`` if parseable, else ``default_speeds_kph``, default
    :data:`DEFAULT_SPEEDS_KPH`) and free-flow ``travel_time_s``; keeps the largest strongly
    connected component.

    Parameters
    ----------
    G
        Graph with osmnx conventions (nodes ``x``/``y`` in degrees; edges ``highway``,
        ``length`` in metres, optional ``maxspeed``, ``geometry``) — e.g. from
        :func:`graph_from_ways` or ``osmnx.load_graphml``.
    default_speeds_kph
        Speed per road class for edges without a usable ``maxspeed``.

    Raises
    ------
    InputError
        If no drivable road remains.
    """
    speeds = dict(DEFAULT_SPEEDS_KPH)
    if default_speeds_kph:
        speeds.update(default_speeds_kph)
    nodes_in, edges_in = G.number_of_nodes(), G.number_of_edges()
    H = nx.MultiDiGraph()
    H.graph.update(G.graph)
    dropped = 0
    for u, v, k, d in G.edges(keys=True, data=True):
        rc = road_class_of(d.get("highway"))
        if rc is None or _blocked(d) or u == v:
            dropped += 1
            continue
        H.add_edge(u, v, k, **d)
    for n in H.nodes:
        H.nodes[n].update(G.nodes[n])
    if H.number_of_edges() == 0:
        raise InputError(
            "the road file has no drivable roads (highway=motorway … residential)",
            fix="use an OSM extract that contains the street network of the stops' area",
            table="roads",
        )

    nodes = list(H.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    tails, heads, lengths, times, classes, geoms, imputed = [], [], [], [], [], [], []
    for u, v, d in H.edges(data=True):
        rc = road_class_of(d.get("highway"))
        length = float(d.get("length") or 0.0)
        if not math.isfinite(length) or length <= 0:
            xu, yu, xv, yv = H.nodes[u]["x"], H.nodes[u]["y"], H.nodes[v]["x"], H.nodes[v]["y"]
            length = float(haversine_m(xu, yu, xv, yv))
        kph = parse_maxspeed(d.get("maxspeed"))
        imputed.append(kph is None)
        if kph is None:
            kph = speeds[rc]
        tt = max(length / (kph / 3.6), 0.1)
        d["road_class"] = rc
        d["length"] = length
        d["speed_kph"] = kph
        d["travel_time_s"] = tt
        tails.append(index[u])
        heads.append(index[v])
        lengths.append(length)
        times.append(tt)
        classes.append(ROAD_CLASSES.index(rc))
        geoms.append(_geometry_of(H, u, v, d))
    tails = np.asarray(tails, dtype=np.int64)
    heads = np.asarray(heads, dtype=np.int64)
    lengths = np.asarray(lengths)
    times = np.asarray(times)
    classes = np.asarray(classes, dtype=np.int16)
    imputed_arr = np.asarray(imputed, dtype=bool)

    # largest strongly connected component (compiled)
    n = len(nodes)
    adj = sp.csr_matrix((np.ones(len(tails)), (tails, heads)), shape=(n, n))
    _, labels = csgraph.connected_components(adj, directed=True, connection="strong")
    big = np.bincount(labels).argmax()
    keep_node = labels == big
    keep_edge = keep_node[tails] & keep_node[heads]
    new_index = -np.ones(n, dtype=np.int64)
    new_index[keep_node] = np.arange(int(keep_node.sum()))
    kept_nodes = [nodes[i] for i in np.flatnonzero(keep_node)]
    drop_nodes = [nodes[i] for i in np.flatnonzero(~keep_node)]
    H.remove_nodes_from(drop_nodes)

    tails = new_index[tails[keep_edge]]
    heads = new_index[heads[keep_edge]]
    lengths, times, classes = lengths[keep_edge], times[keep_edge], classes[keep_edge]
    cut_geometry = tuple(g for g, k in zip(geoms, keep_edge, strict=True) if not k)
    geoms = [g for g, k in zip(geoms, keep_edge, strict=True) if k]
    imputed_share = float(imputed_arr[keep_edge].mean()) if keep_edge.any() else 0.0

    # one arc per ordered pair: the fastest parallel edge; sorted by (tail, head) = CSR order
    order = np.lexsort((times, heads, tails))
    t_s, h_s = tails[order], heads[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (t_s[1:] != t_s[:-1]) | (h_s[1:] != h_s[:-1])
    sel = order[first]
    arc_tail, arc_head = tails[sel], heads[sel]
    n_keep = len(kept_nodes)
    indptr = np.zeros(n_keep + 1, dtype=np.int64)
    np.add.at(indptr, arc_tail + 1, 1)
    indptr = np.cumsum(indptr)

    lon = np.array([H.nodes[x]["x"] for x in kept_nodes], dtype=float)
    lat = np.array([H.nodes[x]["y"] for x in kept_nodes], dtype=float)
    report = NetworkReport(
        nodes_in=nodes_in,
        edges_in=edges_in,
        nodes=n_keep,
        edges=H.number_of_edges(),
        dropped_not_drivable=dropped,
        dropped_outside_scc=int((~keep_edge).sum()),
        imputed_speed_share=round(imputed_share, 4),
    )
    log.info("road network: %s", report)
    return RoadNetwork(
        graph=H,
        node_osmid=np.asarray(kept_nodes, dtype=np.int64),
        lon=lon,
        lat=lat,
        indptr=indptr,
        arc_tail=arc_tail.astype(np.int32),
        arc_head=arc_head.astype(np.int32),
        arc_length_m=lengths[sel],
        arc_time_s=times[sel],
        arc_class=classes[sel],
        arc_geometry=tuple(geoms[i] for i in sel),
        report=report,
        cut_geometry=cut_geometry,
    )


def _geometry_of(H: nx.MultiDiGraph, u, v, d: Mapping) -> np.ndarray:
    geom = d.get("geometry")
    if geom is None:
        pts = [(H.nodes[u]["x"], H.nodes[u]["y"]), (H.nodes[v]["x"], H.nodes[v]["y"])]
    elif hasattr(geom, "coords"):  # shapely LineString (osmnx / GraphML)
        pts = list(geom.coords)
    else:
        pts = list(geom)
    return np.asarray(pts, dtype=float)


#: a snap farther than this (m) is reported (a note in the plan's summary and a warning)
FAR_SNAP_M = 100.0


@dataclass(frozen=True)
class Snapped:
    """Stops snapped to the network: node index per stop and distance to the road (m).

    ``cut_m`` is the distance (m) to the nearest drivable road that is *not* in the network
    because it cannot be driven to and back from the rest (one-way dead end, cut off);
    ``inf`` when there is none. ``cut_m < distance_m`` means the point sits on such a road
    and was moved to the nearest road that can be reached both ways.
    """

    node: np.ndarray  # (k,) int node indices
    distance_m: np.ndarray  # (k,) metres from the point to the nearest road (±10 m)
    cut_m: np.ndarray | None = None  # (k,) metres to the nearest dropped road (±10 m)

    def trapped(self, i: int, tolerance_m: float = 20.0) -> bool:
        """Whether point ``i`` is on a road outside the network (nearer than any inside)."""
        return self.cut_m is not None and self.cut_m[i] + tolerance_m < self.distance_m[i]


def _project(lon, lat, lat0: float):
    k = math.radians(1.0) * EARTH_RADIUS_M
    return np.column_stack(
        (np.asarray(lon) * k * math.cos(math.radians(lat0)), np.asarray(lat) * k)
    )


def _snap_index(net: RoadNetwork, step_m: float = 20.0, geometry: tuple | None = None):
    """kd-tree over road points at most ``step_m`` apart, with their arc and position."""
    lat0 = float(np.mean(net.lat))
    geometry = net.arc_geometry if geometry is None else geometry
    n_arcs = len(geometry)
    lens = np.fromiter((len(g) for g in geometry), dtype=np.int64, count=n_arcs)
    pts = np.concatenate(geometry)
    arc_id = np.repeat(np.arange(n_arcs), lens)
    s_idx = np.flatnonzero(arc_id[:-1] == arc_id[1:])  # segment i -> i+1 inside one arc
    p0, p1 = pts[s_idx], pts[s_idx + 1]
    seg_len = haversine_m(p0[:, 0], p0[:, 1], p1[:, 0], p1[:, 1])
    k = np.maximum(1, np.ceil(seg_len / step_m)).astype(np.int64)
    rep = np.repeat(np.arange(len(s_idx)), k)
    j = np.arange(int(k.sum())) - np.repeat(np.cumsum(k) - k, k)
    t = j / np.repeat(k, k)
    dense = p0[rep] + (p1 - p0)[rep] * t[:, None]
    seg_arc = arc_id[s_idx]
    total = np.bincount(seg_arc, weights=seg_len, minlength=n_arcs)
    before = np.cumsum(seg_len) - seg_len
    _, first = np.unique(seg_arc, return_index=True)
    arc_start = np.zeros(n_arcs)
    arc_start[seg_arc[first]] = before[first]
    along = before[rep] - arc_start[seg_arc[rep]] + t * seg_len[rep]
    frac = along / np.where(total > 0, total, 1.0)[seg_arc[rep]]
    xy = _project(dense[:, 0], dense[:, 1], lat0)
    return cKDTree(xy), seg_arc[rep], frac, lat0


def snap_points(
    net: RoadNetwork,
    lon: Sequence[float],
    lat: Sequence[float],
    ids: Sequence[str],
    *,
    max_snap_m: float = 500.0,
    table: str = "stops",
    trapped_ok: bool = False,
) -> Snapped:
    """Snap points to the road network.

    Each point goes to the nearest point of any road (a kd-tree over the road geometries
    sampled every 20 m, in a local equirectangular projection; the distance is exact to
    within 10 m) and from there to the nearer end node of that road segment (matrices are
    between graph nodes). The network holds only roads that can be driven to and back from
    each other, so a point on a one-way dead end goes to the nearest such road; its
    distance to the dropped road is returned as ``cut_m``.

    Raises
    ------
    InputError
        Naming the first point farther than ``max_snap_m`` metres from any road of the
        network — unless ``trapped_ok`` and the point is within ``max_snap_m`` of a dropped
        road (the caller then reports it, e.g. as unassigned).
    """
    key = ("snap_tree",)
    if key not in net._cache:
        net._cache[key] = _snap_index(net)
    tree, arc_of, frac, lat0 = net._cache[key]
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dist, idx = tree.query(_project(lon, lat, lat0))
    arcs = arc_of[idx]
    node = np.where(frac[idx] <= 0.5, net.arc_tail[arcs], net.arc_head[arcs]).astype(np.int64)
    cut = np.full(len(dist), np.inf)
    if net.cut_geometry:
        ckey = ("snap_tree_cut",)
        if ckey not in net._cache:
            # a zero-length last segment samples each dropped road's far end (dead ends)
            ends = tuple(np.vstack([g, g[-1:]]) for g in net.cut_geometry)
            net._cache[ckey] = _snap_index(net, geometry=ends)
        cut = net._cache[ckey][0].query(_project(lon, lat, lat0))[0]
    bad = dist > max_snap_m
    if trapped_ok:
        bad &= ~(cut <= max_snap_m)
    far = np.flatnonzero(bad)
    if len(far):
        i = int(far[0])
        where = (
            f" (it is {cut[i]:,.0f} m from a road that cannot be driven to and back from the "
            "rest: one-way or cut off)"
            if cut[i] + 20.0 < dist[i]
            else ""
        )
        raise InputError(
            f"{ids[i]!s} at lat {lat[i]:.5f}, lon {lon[i]:.5f} is "
            f"{dist[i]:,.0f} m from the nearest road (limit {max_snap_m:,.0f} m){where}; "
            f"{len(far)} point(s) are too far",
            row=i,
            column="lat",
            fix="check the coordinates, use a road file that covers them, or raise `max_snap_m`",
            table=table,
        )
    return Snapped(node=node, distance_m=dist, cut_m=cut)

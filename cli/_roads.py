"""Road-network files for `shipahead route`: read OSM / GraphML, prepare, cache.

Reading is the CLI's job (the routing package is pure): ``.osm``, ``.osm.bz2``,
``.osm.gz`` and ``.osm.pbf`` are streamed with pyosmium (node locations resolved in
memory) into :func:`routing.graph_from_ways`; ``.graphml`` is read with osmnx.

Size bounds (checked while streaming, before the network is built): the decompressed size
of an OSM XML file (``SHIPAHEAD_ROADS_MAX_MB``, default 1024 MB) and the number of OSM
elements read — nodes, ways and node references of drivable ways
(``SHIPAHEAD_ROADS_MAX_ELEMENTS``, default 50,000,000). Beyond either: exit 2.

The prepared :class:`routing.RoadNetwork` is cached as one uncompressed ``.npz`` of plain
arrays (read with ``allow_pickle=False``: nothing in it can run as code) holding JSON
metadata — source sha256 and size, format and network versions, numpy/networkx versions.
A cache that does not match, is malformed, or is not owned by the user is ignored with a
warning and rebuilt. Cache folder: ``$SHIPAHEAD_CACHE_DIR/roads`` if that variable is set,
else ``~/.cache/shipahead/roads``.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import zipfile
from pathlib import Path

from shipahead.cli.errors import CliInputError

from shipahead.hashing import file_sha256

log = logging.getLogger("shipahead.cli.roads")

#: bump when graph preparation changes (invalidates every cached network)
NETWORK_VERSION = "1"
#: bump when the cache file layout changes
CACHE_FORMAT = "shipahead-roads-npz"
CACHE_FORMAT_VERSION = 2
ENV_MAX_MB = "SHIPAHEAD_ROADS_MAX_MB"
ENV_MAX_ELEMENTS = "SHIPAHEAD_ROADS_MAX_ELEMENTS"
DEFAULT_MAX_MB = 1024
DEFAULT_MAX_ELEMENTS = 50_000_000
ROAD_EXT = (".osm.pbf", ".osm.bz2", ".osm.gz", ".osm", ".pbf", ".graphml")


def road_suffix(path: Path) -> str:
    name = path.name.lower()
    for ext in ROAD_EXT:
        if name.endswith(ext):
            return ext
    return path.suffix.lower()


def cache_dir() -> Path:
    env = os.environ.get("SHIPAHEAD_CACHE_DIR")
    return (Path(env) if env else Path.home() / ".cache" / "shipahead") / "roads"


def _limit(name: str, default: int) -> int:
    """A size bound from the environment (``name``), else ``default``; bad values exit 2."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        value = -1
    if value <= 0:
        raise CliInputError(
            f"{name}={raw!r} must be a whole number > 0", fix=f"e.g. {name}={default}"
        )
    return value


def max_road_bytes() -> int:
    """Largest decompressed size (bytes) of a road file read as XML."""
    return _limit(ENV_MAX_MB, DEFAULT_MAX_MB) * 1024 * 1024


def max_road_elements() -> int:
    """Most OSM elements (nodes + ways + drivable ways' node references) read from a file."""
    return _limit(ENV_MAX_ELEMENTS, DEFAULT_MAX_ELEMENTS)


def _too_big(path: Path, what: str, limit: str, env: str, value: int) -> CliInputError:
    return CliInputError(
        f"{what} exceeds the limit of {limit}",
        file=path,
        fix=f"use a smaller extract of the stops' area, or raise the limit "
        f"(e.g. {env}={value * 4})",
    )


def check_road_size(path: Path, ext: str) -> None:
    """Bound the decompressed size of a road file, streaming (no memory), before parsing.

    ``.osm.bz2`` / ``.osm.gz`` are decompressed in 1 MB blocks and counted; ``.osm`` and
    ``.graphml`` are plain text, so their size on disk is checked. ``.pbf`` is bounded by
    the element count while it is read (its blocks are at most 32 MB each by format).
    """
    limit = max_road_bytes()
    mb = limit // (1024 * 1024)
    what = f"decompressed size of {path.name}"
    if ext in (".osm", ".graphml"):
        if path.stat().st_size > limit:
            raise _too_big(
                path, f"size ({path.stat().st_size / 2**20:,.0f} MB)", f"{mb:,} MB", ENV_MAX_MB, mb
            )
        return
    if ext not in (".osm.bz2", ".osm.gz"):
        return
    import bz2
    import gzip

    opener = bz2.open if ext == ".osm.bz2" else gzip.open
    total = 0
    try:
        with opener(path, "rb") as f:
            while block := f.read(1 << 20):
                total += len(block)
                if total > limit:
                    raise _too_big(path, what, f"{mb:,} MB", ENV_MAX_MB, mb)
    except (OSError, EOFError, ValueError) as exc:
        raise CliInputError(
            f"cannot be decompressed: {str(exc).splitlines()[0] if str(exc) else exc!r}",
            file=path,
            fix=f"check the file is a complete {ext} download",
        ) from None


def _osm_ways(path: Path, *, max_elements: int | None = None):
    """Yield ``(way_id, [(node_id, lon, lat), ...], tags)`` of the ``highway`` ways.

    Counts nodes, ways and the node references of ``highway`` ways as they stream and stops
    with exit 2 past ``max_elements`` (default :func:`max_road_elements`).
    """
    import osmium

    limit = max_road_elements() if max_elements is None else max_elements
    seen = 0
    try:
        fp = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
        for obj in fp:
            seen += 1
            if not isinstance(obj, osmium.osm.Way) or "highway" not in obj.tags:
                if seen > limit:
                    break
                continue
            refs = []
            for nd in obj.nodes:
                loc = nd.location
                if not loc.valid():
                    continue
                refs.append((nd.ref, loc.lon, loc.lat))
            seen += len(refs)
            if seen > limit:
                break
            yield obj.id, refs, dict(obj.tags)
    except RuntimeError as exc:
        raise CliInputError(
            f"cannot be read as OpenStreetMap data: {str(exc).splitlines()[0]}",
            file=path,
            fix="check the file is a complete .osm/.osm.pbf extract",
        ) from None
    if seen > limit:
        raise _too_big(
            path,
            "number of OSM elements (nodes, ways, road node references)",
            f"{limit:,}",
            ENV_MAX_ELEMENTS,
            limit,
        )


# ---- cache ------------------------------------------------------------------------------


def _versions() -> dict[str, str]:
    import networkx
    import numpy

    return {"numpy": numpy.__version__, "networkx": networkx.__version__}


def _cache_meta(sha: str, size: int) -> dict:
    return {
        "format": CACHE_FORMAT,
        "format_version": CACHE_FORMAT_VERSION,
        "network_version": NETWORK_VERSION,
        "source_sha256": sha,
        "source_size": size,
        "versions": _versions(),
    }


def _json_default(value: object) -> object:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _ragged(parts) -> tuple:
    """``(points (P, 2) float64, offsets (K+1,) int64)`` of a sequence of point lists."""
    import numpy as np

    arrays = [np.asarray(g, dtype=np.float64).reshape(-1, 2) for g in parts]
    lens = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    pts = np.concatenate(arrays) if arrays else np.zeros((0, 2))
    return pts, offsets


def save_network(net, cpath: Path, meta: dict) -> None:
    """Write ``net`` atomically to ``cpath`` (``.npz``, arrays + JSON metadata)."""
    import numpy as np

    G = net.graph
    index = {n: i for i, n in enumerate(G.nodes)}
    eu, ev, ekey, eattrs, egeo, ekind = [], [], [], [], [], []
    for u, v, k, d in G.edges(keys=True, data=True):
        eu.append(index[u])
        ev.append(index[v])
        ekey.append(k)
        geom = d.get("geometry")
        if geom is None:
            egeo.append(())
            ekind.append(0)
        elif hasattr(geom, "coords"):
            egeo.append(list(geom.coords))
            ekind.append(2)
        else:
            egeo.append(geom)
            ekind.append(1)
        eattrs.append({a: x for a, x in d.items() if a != "geometry"})
    nattrs = [{a: x for a, x in d.items() if a not in ("x", "y")} for _, d in G.nodes(data=True)]
    graph_json = json.dumps(
        {"graph": G.graph, "keys": ekey, "edges": eattrs, "nodes": nattrs},
        default=_json_default,
    )
    full = dict(meta, report=net.report.as_dict())
    apts, aoff = _ragged(net.arc_geometry)
    epts, eoff = _ragged(egeo)
    cpts, coff = _ragged(net.cut_geometry)
    arrays = {
        "meta": np.frombuffer(json.dumps(full).encode(), dtype=np.uint8),
        "graph_json": np.frombuffer(graph_json.encode(), dtype=np.uint8),
        "node_osmid": net.node_osmid,
        "lon": net.lon,
        "lat": net.lat,
        "indptr": net.indptr,
        "arc_tail": net.arc_tail,
        "arc_head": net.arc_head,
        "arc_length_m": net.arc_length_m,
        "arc_time_s": net.arc_time_s,
        "arc_class": net.arc_class,
        "arc_geom_pts": apts,
        "arc_geom_off": aoff,
        "edge_u": np.asarray(eu, dtype=np.int64),
        "edge_v": np.asarray(ev, dtype=np.int64),
        "edge_geom_kind": np.asarray(ekind, dtype=np.int8),
        "edge_geom_pts": epts,
        "edge_geom_off": eoff,
        "cut_geom_pts": cpts,
        "cut_geom_off": coff,
    }
    cpath.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=cpath.parent, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, cpath)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class CacheMismatch(ValueError):
    """The cache file is not a usable network for this source (reason in the message)."""


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise CacheMismatch(what)


def load_cached_network(cpath: Path, meta: dict):
    """Read a cache written by :func:`save_network`; raises :class:`CacheMismatch` if it
    does not match ``meta`` (source, versions) or is malformed. Never unpickles."""
    import networkx as nx
    import numpy as np
    from shipahead.routing.network import NetworkReport

    from shipahead import routing

    st = cpath.stat()
    if hasattr(os, "getuid"):
        _check(st.st_uid == os.getuid(), "not owned by the current user")
        _check(not st.st_mode & 0o022, "writable by other users")
    try:
        with np.load(cpath, allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise CacheMismatch(f"not a readable .npz ({str(exc).splitlines()[0][:80]})") from None
    need = {
        "meta", "graph_json", "node_osmid", "lon", "lat", "indptr", "arc_tail", "arc_head",
        "arc_length_m", "arc_time_s", "arc_class", "arc_geom_pts", "arc_geom_off",
        "edge_u", "edge_v", "edge_geom_kind", "edge_geom_pts", "edge_geom_off",
        "cut_geom_pts", "cut_geom_off",
    }  # fmt: skip
    _check(need <= set(a), f"missing arrays {sorted(need - set(a))[:3]}")
    try:
        full = json.loads(a["meta"].tobytes().decode())
        gj = json.loads(a["graph_json"].tobytes().decode())
    except (ValueError, UnicodeDecodeError):
        raise CacheMismatch("metadata is not JSON") from None
    _check(isinstance(full, dict) and isinstance(gj, dict), "metadata is not an object")
    for key, want in meta.items():
        _check(full.get(key) == want, f"{key} differs")
    n = len(a["node_osmid"])
    arcs = len(a["arc_head"])
    ints = ("node_osmid", "indptr", "arc_tail", "arc_head", "arc_class", "arc_geom_off",
            "edge_u", "edge_v", "edge_geom_kind", "edge_geom_off", "cut_geom_off")  # fmt: skip
    for k in ints:
        _check(a[k].ndim == 1 and a[k].dtype.kind == "i", f"{k} is not a 1-d integer array")
    for k in ("lon", "lat", "arc_length_m", "arc_time_s"):
        _check(a[k].ndim == 1 and a[k].dtype.kind == "f", f"{k} is not a 1-d float array")
        _check(bool(np.isfinite(a[k]).all()), f"{k} has non-finite values")
    for k in ("arc_geom_pts", "edge_geom_pts", "cut_geom_pts"):
        _check(a[k].ndim == 2 and a[k].shape[1] == 2 and a[k].dtype.kind == "f", f"{k} shape")
    _check(n > 0 and len(a["lon"]) == n and len(a["lat"]) == n, "node arrays differ in length")
    _check(len(a["indptr"]) == n + 1 and a["indptr"][0] == 0, "indptr has the wrong length")
    _check(bool((np.diff(a["indptr"]) >= 0).all()) and a["indptr"][-1] == arcs, "bad indptr")
    for k in ("arc_tail", "arc_length_m", "arc_time_s", "arc_class"):
        _check(len(a[k]) == arcs, f"{k} has the wrong length")
    for k in ("arc_tail", "arc_head", "edge_u", "edge_v"):
        _check(len(a[k]) == 0 or (a[k].min() >= 0 and a[k].max() < n), f"{k} out of range")
    _check(bool((a["arc_time_s"] > 0).all()), "arc_time_s not > 0")
    _check(
        a["arc_class"].min() >= 0 and a["arc_class"].max() < len(routing.ROAD_CLASSES),
        "arc_class out of range",
    )
    m = len(a["edge_u"])
    n_cut = len(a["cut_geom_off"]) - 1
    for pts, off, count in (("arc_geom_pts", "arc_geom_off", arcs),
                            ("edge_geom_pts", "edge_geom_off", m),
                            ("cut_geom_pts", "cut_geom_off", n_cut)):  # fmt: skip
        o = a[off]
        _check(len(o) == count + 1 and o[0] == 0 and o[-1] == len(a[pts]), f"{off} length")
        _check(bool((np.diff(o) >= 0).all()), f"{off} not increasing")
    _check(len(a["edge_v"]) == m and len(a["edge_geom_kind"]) == m, "edge arrays differ")
    edges, keys, nattrs = gj.get("edges"), gj.get("keys"), gj.get("nodes")
    _check(isinstance(edges, list) and len(edges) == m, "edge attributes")
    _check(isinstance(keys, list) and len(keys) == m, "edge keys")
    _check(isinstance(nattrs, list) and len(nattrs) == n, "node attributes")
    _check(isinstance(gj.get("graph"), dict), "graph attributes")
    try:
        report = NetworkReport(**full["report"])
    except (KeyError, TypeError):
        raise CacheMismatch("network report") from None

    G = nx.MultiDiGraph(**gj["graph"])
    osm = a["node_osmid"].tolist()
    for nid, x, y, d in zip(osm, a["lon"].tolist(), a["lat"].tolist(), nattrs, strict=True):
        _check(isinstance(d, dict), "node attributes")
        G.add_node(nid, **d, x=x, y=y)
    eoff = a["edge_geom_off"].tolist()
    ex = a["edge_geom_pts"][:, 0].tolist()
    ey = a["edge_geom_pts"][:, 1].tolist()
    kinds = a["edge_geom_kind"].tolist()
    linestring = None
    if 2 in kinds:
        from shapely.geometry import LineString as linestring
    eu, ev = a["edge_u"].tolist(), a["edge_v"].tolist()
    _check(all(isinstance(d, dict) for d in edges), "edge attributes")
    xy = list(zip(ex, ey, strict=True))
    for i, d in enumerate(edges):
        if kinds[i]:
            coords = xy[eoff[i] : eoff[i + 1]]
            d["geometry"] = linestring(coords) if kinds[i] == 2 else coords
    G.add_edges_from((osm[u], osm[v], k, d) for u, v, k, d in zip(eu, ev, keys, edges, strict=True))
    aoff = a["arc_geom_off"].tolist()
    apts = a["arc_geom_pts"]
    arc_geometry = tuple(apts[aoff[i] : aoff[i + 1]] for i in range(arcs))
    coff = a["cut_geom_off"].tolist()
    cpts = a["cut_geom_pts"]
    cut_geometry = tuple(cpts[coff[i] : coff[i + 1]] for i in range(len(coff) - 1))
    return routing.RoadNetwork(
        graph=G,
        node_osmid=a["node_osmid"].astype(np.int64),
        lon=a["lon"],
        lat=a["lat"],
        indptr=a["indptr"].astype(np.int64),
        arc_tail=a["arc_tail"].astype(np.int32),
        arc_head=a["arc_head"].astype(np.int32),
        arc_length_m=a["arc_length_m"],
        arc_time_s=a["arc_time_s"],
        arc_class=a["arc_class"].astype(np.int16),
        arc_geometry=arc_geometry,
        report=report,
        cut_geometry=cut_geometry,
    )


def cache_path(sha: str) -> Path:
    """Where the prepared network of a file with this sha256 is cached."""
    return cache_dir() / f"{sha}-v{NETWORK_VERSION}.npz"


def load_network(path: str | os.PathLike[str], *, use_cache: bool = True):
    """Read, prepare and cache a road network file; returns ``(RoadNetwork, info dict)``."""
    from shipahead import routing

    p = Path(path)
    if not p.exists():
        raise CliInputError("file not found", file=p, fix="check the --roads path")
    ext = road_suffix(p)
    if ext not in ROAD_EXT:
        raise CliInputError(
            f"unknown road network file type '{ext or p.name}'",
            file=p,
            fix="use .osm.pbf, .osm, .osm.bz2 or .graphml",
        )
    max_road_bytes(), max_road_elements()  # a bad limit setting is an error on every run
    sha = file_sha256(p)
    cpath = cache_path(sha)
    meta = _cache_meta(sha, p.stat().st_size)
    info = {"path": str(p), "sha256": sha, "cache": str(cpath), "cache_hit": False}
    if use_cache and cpath.exists():
        try:
            net = load_cached_network(cpath, meta)
            info["cache_hit"] = True
            return net, info
        except Exception as exc:  # nothing in it can run: any fault means rebuild
            log.warning("road cache %s ignored (%s); rebuilding it", cpath, exc)
    check_road_size(p, ext)
    if ext == ".graphml":
        import osmnx as ox

        try:
            G = ox.load_graphml(p)
        except Exception as exc:
            raise CliInputError(
                f"cannot be read as GraphML: {str(exc).splitlines()[0] if str(exc) else exc!r}",
                file=p,
                fix="write it with osmnx.save_graphml",
            ) from None
    else:
        G = routing.graph_from_ways(_osm_ways(p))
    net = routing.prepare_graph(G)
    if use_cache:
        try:
            if cpath.exists() or cpath.is_symlink():
                cpath.unlink()
            save_network(net, cpath, meta)
        except (OSError, TypeError, ValueError) as exc:  # caching is an optimisation only
            log.warning("could not write road cache %s: %s", cpath, exc)
    return net, info

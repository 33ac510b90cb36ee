"""Road-network files for `shipahead route`: read OSM / GraphML, prepare, cache.

Reading is the CLI's job (the routing package is pure): ``.osm``, ``.osm.bz2``,
``.osm.gz`` and ``.osm.pbf`` are streamed with pyosmium (node locations resolved in
memory) into :func:`routing.graph_from_ways`; ``.graphml`` is read with osmnx. The prepared
:class:`routing.RoadNetwork` is pickled to a cache keyed by the file's sha256 and the code
version, so a second run on the same file skips parsing. Cache folder:
``$SHIPAHEAD_CACHE_DIR/roads`` if that variable is set, else ``~/.cache/shipahead/roads``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from pathlib import Path

from cli.errors import CliInputError

log = logging.getLogger("cli.roads")

#: bump when graph preparation changes (invalidates every cached network)
NETWORK_VERSION = "1"
ROAD_EXT = (".osm.pbf", ".osm.bz2", ".osm.gz", ".osm", ".pbf", ".graphml")


def road_suffix(path: Path) -> str:
    name = path.name.lower()
    for ext in ROAD_EXT:
        if name.endswith(ext):
            return ext
    return path.suffix.lower()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_dir() -> Path:
    env = os.environ.get("SHIPAHEAD_CACHE_DIR")
    return (Path(env) if env else Path.home() / ".cache" / "shipahead") / "roads"


def _osm_ways(path: Path):
    import osmium

    try:
        fp = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
        for obj in fp:
            if not isinstance(obj, osmium.osm.Way) or "highway" not in obj.tags:
                continue
            refs = []
            for nd in obj.nodes:
                loc = nd.location
                if not loc.valid():
                    continue
                refs.append((nd.ref, loc.lon, loc.lat))
            yield obj.id, refs, dict(obj.tags)
    except RuntimeError as exc:
        raise CliInputError(
            f"cannot be read as OpenStreetMap data: {str(exc).splitlines()[0]}",
            file=path,
            fix="check the file is a complete .osm/.osm.pbf extract",
        ) from None


def load_network(path: str | os.PathLike[str], *, use_cache: bool = True):
    """Read, prepare and cache a road network file; returns ``(RoadNetwork, info dict)``."""
    import routing

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
    sha = file_sha256(p)
    key = f"{sha[:32]}-v{NETWORK_VERSION}.pkl"
    cpath = cache_dir() / key
    info = {"path": str(p), "sha256": sha, "cache": str(cpath), "cache_hit": False}
    if use_cache and cpath.exists():
        try:
            with open(cpath, "rb") as f:
                net = pickle.load(f)
            info["cache_hit"] = True
            return net, info
        except Exception:  # a stale or truncated cache is rebuilt
            log.warning("road cache %s unreadable; rebuilding", cpath)
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
            cpath.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cpath.parent, prefix=".tmp-", suffix=".pkl")
            with os.fdopen(fd, "wb") as f:
                pickle.dump(net, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, cpath)
        except OSError as exc:  # caching is an optimisation only
            log.warning("could not write road cache %s: %s", cpath, exc)
    return net, info

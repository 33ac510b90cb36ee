"""Road files: the prepared-network cache never runs code, is checked, and size bounds."""

from __future__ import annotations

import bz2
import logging
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from shipahead.cli import _roads
from shipahead.cli.app import app
from shipahead.cli.errors import CliInputError
from typer.testing import CliRunner

from shipahead import routing
from tests.routing._netfix import TINY_OSM, tiny_fleet, tiny_network, tiny_stops

runner = CliRunner()

SMALL_OSM = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6">
 <node id="1" lat="45.0" lon="-122.0"/>
 <node id="2" lat="45.0" lon="-121.99"/>
 <node id="3" lat="45.01" lon="-121.99"/>
 <way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/></way>
 <way id="11"><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/></way>
</osm>
"""


class _Payload:
    """Unpickling this creates ``marker`` (what a planted cache would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("SHIPAHEAD_CACHE_DIR", str(d))
    return d / "roads"


def _copy_tiny(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.osm.bz2"
    shutil.copy(TINY_OSM, p)
    return p


def _graph_dump(net):
    G = net.graph
    nodes = [(n, dict(d)) for n, d in G.nodes(data=True)]
    edges = [(u, v, k, dict(d)) for u, v, k, d in G.edges(keys=True, data=True)]
    return G.graph, nodes, edges


def test_round_trip_gives_an_identical_network(tmp_path, cache):
    p = _copy_tiny(tmp_path)
    net1, info1 = _roads.load_network(p)
    net2, info2 = _roads.load_network(p)
    assert not info1["cache_hit"] and info2["cache_hit"]
    assert info2["cache"].endswith(".npz")
    assert _graph_dump(net1) == _graph_dump(net2)
    for k in ("node_osmid", "lon", "lat", "indptr", "arc_tail", "arc_head", "arc_length_m",
              "arc_time_s", "arc_class"):  # fmt: skip
        a, b = getattr(net1, k), getattr(net2, k)
        assert a.dtype == b.dtype and np.array_equal(a, b), k
    assert len(net1.arc_geometry) == len(net2.arc_geometry)
    assert all(
        np.array_equal(a, b) for a, b in zip(net1.arc_geometry, net2.arc_geometry, strict=True)
    )
    assert net1.report == net2.report
    assert len(net1.cut_geometry) == len(net2.cut_geometry) > 0
    assert all(
        np.array_equal(a, b) for a, b in zip(net1.cut_geometry, net2.cut_geometry, strict=True)
    )
    # what routing computes from it is the same too
    sn1 = routing.snap_points(net1, net1.lon[:5], net1.lat[:5], list("abcde"))
    sn2 = routing.snap_points(net2, net2.lon[:5], net2.lat[:5], list("abcde"))
    assert np.array_equal(sn1.node, sn2.node)


@pytest.mark.parametrize("where", ["old", "new"])
def test_planted_pickle_never_executes(tmp_path, cache, caplog, where):
    p = _copy_tiny(tmp_path)
    sha = _roads.file_sha256(p)
    marker = tmp_path / "PWNED"
    cache.mkdir(parents=True)
    target = cache / f"{sha[:32]}-v1.pkl" if where == "old" else _roads.cache_path(sha)
    target.write_bytes(pickle.dumps(_Payload(marker)))
    with caplog.at_level(logging.WARNING, logger="shipahead.cli.roads"):
        net, info = _roads.load_network(p)
    assert not marker.exists()
    assert not info["cache_hit"] and net.n_nodes > 200
    if where == "new":
        assert "rebuilding" in caplog.text
    # the rebuilt cache is used next time, still without running anything
    _, info = _roads.load_network(p)
    assert info["cache_hit"] and not marker.exists()


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _wrong_keys(path: Path) -> None:
    np.savez(path, lon=np.zeros(3))


def _wrong_shape(path: Path) -> None:
    with np.load(path, allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    a["lon"] = a["lon"][:-1]
    with open(path, "wb") as f:
        np.savez(f, **a)


def _bad_meta(path: Path) -> None:
    with np.load(path, allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    a["meta"] = np.frombuffer(b"{not json", dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **a)


def _clashing_attrs(path: Path) -> None:
    import json

    with np.load(path, allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    gj = json.loads(a["graph_json"].tobytes())
    gj["nodes"][0] = {"x": 1.0}  # valid JSON, but clashes with the coordinates
    a["graph_json"] = np.frombuffer(json.dumps(gj).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **a)


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(4096))


@pytest.mark.parametrize(
    "spoil", [_truncate, _wrong_keys, _wrong_shape, _bad_meta, _clashing_attrs, _garbage]
)
def test_malformed_cache_is_rebuilt_with_a_warning(tmp_path, cache, caplog, spoil):
    p = _copy_tiny(tmp_path)
    ref, _ = _roads.load_network(p)
    cpath = _roads.cache_path(_roads.file_sha256(p))
    spoil(cpath)
    for _ in range(2):  # a bad file never breaks this or a later run
        with caplog.at_level(logging.WARNING, logger="shipahead.cli.roads"):
            net, info = _roads.load_network(p)
        assert np.array_equal(net.arc_time_s, ref.arc_time_s)
    assert "ignored" in caplog.text and "rebuilding" in caplog.text
    assert info["cache_hit"]  # the second run used the rebuilt file


def test_cache_of_another_source_is_not_used(tmp_path, cache, caplog):
    tiny = _copy_tiny(tmp_path)
    small = tmp_path / "small.osm"
    small.write_text(SMALL_OSM)
    big, _ = _roads.load_network(tiny)
    # plant the Portland network under the small file's name
    shutil.copy(
        _roads.cache_path(_roads.file_sha256(tiny)), _roads.cache_path(_roads.file_sha256(small))
    )
    with caplog.at_level(logging.WARNING, logger="shipahead.cli.roads"):
        net, info = _roads.load_network(small)
    assert not info["cache_hit"] and net.n_nodes == 3 != big.n_nodes
    assert "source_sha256 differs" in caplog.text


def test_cache_of_another_code_version_is_not_used(tmp_path, cache, monkeypatch):
    p = _copy_tiny(tmp_path)
    _roads.load_network(p)
    monkeypatch.setattr(_roads, "_versions", lambda: {"numpy": "0.0", "networkx": "0.0"})
    _, info = _roads.load_network(p)
    assert not info["cache_hit"]


def test_cache_writable_by_others_is_not_used(tmp_path, cache):
    p = _copy_tiny(tmp_path)
    _roads.load_network(p)
    cpath = _roads.cache_path(_roads.file_sha256(p))
    cpath.chmod(0o666)
    _, info = _roads.load_network(p)
    assert not info["cache_hit"]
    assert not cpath.stat().st_mode & 0o022  # rebuilt with the user's own mode


# ---- size bounds ------------------------------------------------------------------------


def _bomb(path: Path, mb: int = 3) -> Path:
    """A small .osm.bz2 whose XML is ``mb`` MB (repeated nodes)."""
    line = b' <node id="1" lat="45.0" lon="-122.0"/>\n'
    body = line * (mb * 2**20 // len(line))
    path.write_bytes(bz2.compress(b"<osm version='0.6'>\n" + body + b"</osm>\n", 9))
    return path


def test_bz2_bomb_stops_at_the_decompressed_limit(tmp_path, cache, monkeypatch):
    bomb = _bomb(tmp_path / "bomb.osm.bz2")
    assert bomb.stat().st_size < 20_000
    monkeypatch.setenv("SHIPAHEAD_ROADS_MAX_MB", "1")
    with pytest.raises(CliInputError) as ei:
        _roads.load_network(bomb)
    assert ei.value.file == str(bomb) and "1 MB" in ei.value.message
    assert "SHIPAHEAD_ROADS_MAX_MB" in ei.value.fix
    assert not list(cache.glob("*")) if cache.exists() else True


def test_element_limit(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("SHIPAHEAD_ROADS_MAX_ELEMENTS", "1000")
    with pytest.raises(CliInputError, match="number of OSM elements") as ei:
        _roads.load_network(_copy_tiny(tmp_path))
    assert "SHIPAHEAD_ROADS_MAX_ELEMENTS" in ei.value.fix


@pytest.mark.parametrize("value", ["0", "-5", "lots"])
def test_bad_limit_setting(tmp_path, cache, monkeypatch, value):
    monkeypatch.setenv("SHIPAHEAD_ROADS_MAX_MB", value)
    with pytest.raises(CliInputError, match="SHIPAHEAD_ROADS_MAX_MB"):
        _roads.load_network(_bomb(tmp_path / "b.osm.bz2", 1))


def test_route_cli_bomb_exit_2_one_line(tmp_path, cache, monkeypatch):
    bomb = _bomb(tmp_path / "bomb.osm.bz2")
    s, f = tmp_path / "stops.csv", tmp_path / "fleet.csv"
    st = tiny_stops(4)
    for c in ("tw_start", "tw_end"):
        st[c] = [f"{m // 60:02d}:{m % 60:02d}" for m in st[c]]
    st.to_csv(s, index=False)
    tiny_fleet(1).to_csv(f, index=False)
    out = tmp_path / "o"
    monkeypatch.setenv("SHIPAHEAD_ROADS_MAX_MB", "1")
    r = runner.invoke(
        app,
        ["--quiet", "route", "--stops", str(s), "--fleet", str(f), "--roads", str(bomb),
         "--out", str(out)],
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "bomb.osm.bz2" in lines[0]
    assert "SHIPAHEAD_ROADS_MAX_MB" in lines[0] and "1 MB" in lines[0]
    assert not out.exists() or not any(out.iterdir())


def test_load_network_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SHIPAHEAD_CACHE_DIR", str(tmp_path))
    net1, info1 = _roads.load_network(TINY_OSM)
    net2, info2 = _roads.load_network(TINY_OSM)
    assert not info1["cache_hit"] and info2["cache_hit"]
    assert net1.n_nodes == net2.n_nodes and np.array_equal(net1.arc_time_s, net2.arc_time_s)


def test_graphml_input(tmp_path, monkeypatch):
    import osmnx as ox
    from shapely.geometry import LineString

    monkeypatch.setenv("SHIPAHEAD_CACHE_DIR", str(tmp_path / "cache"))
    G = routing.graph_from_ways(_roads._osm_ways(TINY_OSM))
    for _, _, d in G.edges(data=True):
        d["geometry"] = LineString(d["geometry"])
        for k in [k for k, v in d.items() if v is None]:
            del d[k]
    path = tmp_path / "tiny.graphml"
    ox.save_graphml(G, path)
    net, _ = _roads.load_network(path)
    ref = tiny_network()
    assert net.n_nodes == ref.n_nodes
    assert np.allclose(np.sort(net.arc_time_s), np.sort(ref.arc_time_s))

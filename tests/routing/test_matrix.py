"""Compiled matrices agree with networkx; packed time/length weights are exact."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from shipahead.routing.matrix import packed_weights, path_nodes, path_predecessors, unpack

from shipahead import routing

from ._netfix import tiny_network


def test_pack_unpack_exact():
    t = np.array([0.0004, 1.2345, 3600.0])
    m = np.array([0.0, 12.34, 50000.0])
    w = packed_weights(t, m)
    tt, mm = unpack(w.sum(keepdims=True))
    assert tt[0] == pytest.approx(np.maximum(np.rint(t * 1000), 1).sum() / 1000)
    assert mm[0] == pytest.approx(np.rint(m * 10).sum() / 10)


def test_matrix_equals_networkx_on_tiny_graph():
    net = tiny_network()
    G = nx.DiGraph()
    for a in range(net.n_arcs):
        G.add_edge(int(net.arc_tail[a]), int(net.arc_head[a]), w=float(net.arc_time_s[a]))
    rng = np.random.default_rng(1)
    src = rng.choice(net.n_nodes, 12, replace=False)
    T, D = routing.shortest_path_matrices(net, src, workers=1)
    for i, s in enumerate(src):
        ref = nx.single_source_dijkstra_path_length(G, int(s), weight="w")
        got = T[i]
        exp = np.array([ref[int(t)] for t in src])
        # arc times are rounded to the millisecond inside the compiled run
        assert np.allclose(got, exp, atol=0.01 + 0.001 * 60)
        pred = path_predecessors(net, int(s))
        for j, t in enumerate(src):
            nodes = path_nodes(pred, int(s), int(t))
            arcs = net.arc_index(nodes[:-1], nodes[1:])
            assert D[i, j] == pytest.approx(
                net.arc_length_m[arcs].sum(), abs=0.05 * max(1, len(arcs))
            )
    assert np.all(np.diag(T) == 0)


def test_matrix_processes_equal_in_process():
    net = tiny_network()
    src = np.arange(0, net.n_nodes, 3)
    T1, D1 = routing.shortest_path_matrices(net, src, workers=1)
    T2, D2 = routing.shortest_path_matrices(net, src, workers=2, chunk=16, min_pool_work=0)
    assert np.array_equal(T1, T2) and np.array_equal(D1, D2)


def test_bucket_times_scale_with_factor():
    net = tiny_network()
    src = np.arange(10)
    T, _ = routing.shortest_path_matrices(net, src, workers=1)
    T2, _ = routing.shortest_path_matrices(net, src, arc_time_s=net.arc_time_s / 0.5, workers=1)
    assert np.allclose(T2, 2 * T, atol=0.05)
    with pytest.raises(routing.InputError):
        routing.shortest_path_matrices(net, src, arc_time_s=np.zeros(net.n_arcs))


def test_contracted_graph_gives_identical_matrices():
    net = tiny_network()
    rng = np.random.default_rng(4)
    src = rng.choice(net.n_nodes, 15, replace=False)
    tgt = rng.choice(net.n_nodes, 9, replace=False)
    T0, D0 = routing.shortest_path_matrices(net, src, tgt, workers=1, contract=False)
    T1, D1 = routing.shortest_path_matrices(net, src, tgt, workers=1, contract=True)
    assert np.array_equal(T0, T1) and np.array_equal(D0, D1)

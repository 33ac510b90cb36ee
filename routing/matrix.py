"""Many-to-many travel-time and distance matrices with compiled shortest paths.

One Dijkstra run per source with :func:`scipy.sparse.csgraph.dijkstra` gives both
matrices at once: every arc weight packs the travel time (integer milliseconds) above the
length (integer decimetres), ``w = time_ms * 2**24 + length_dm``, so that the sum along a
path stays an exact integer in float64 (< 2**53). The minimum is the fastest path (ties:
the shorter one) and the low bits are that path's length. Sources are split over worker
processes (scipy's Dijkstra holds the GIL, threads do not help).

Units: seconds and metres (float64 arrays); unreachable pairs raise :class:`InputError`.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from .errors import InputError
from .network import RoadNetwork

log = logging.getLogger(__name__)

_LEN_BITS = 24  # length in decimetres: paths up to 1,677 km
_LEN_SCALE = float(2**_LEN_BITS)
_TIME_LIMIT_MS = 2 ** (53 - _LEN_BITS)  # 536,870 s = 149 h per path

_WORKER_CSR: sp.csr_matrix | None = None


def _init_worker(csr: sp.csr_matrix) -> None:
    global _WORKER_CSR
    _WORKER_CSR = csr


def _rows(args: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    sources, targets = args
    assert _WORKER_CSR is not None
    return csgraph.dijkstra(_WORKER_CSR, directed=True, indices=sources)[:, targets]


def packed_weights(arc_time_s: np.ndarray, arc_length_m: np.ndarray) -> np.ndarray:
    """Pack per-arc time (s) and length (m) into one exact float64 weight."""
    t_ms = np.maximum(np.rint(np.asarray(arc_time_s) * 1000.0), 1.0)
    l_dm = np.rint(np.asarray(arc_length_m) * 10.0)
    return t_ms * _LEN_SCALE + l_dm


def unpack(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`packed_weights` for path sums: ``(time_s, length_m)``."""
    t_ms = np.floor(w / _LEN_SCALE)
    l_dm = w - t_ms * _LEN_SCALE
    return t_ms / 1000.0, l_dm / 10.0


def default_workers() -> int:
    """Worker processes for matrices: the CPUs this process may use (at most 8)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


def shortest_path_matrices(
    net: RoadNetwork,
    sources: Sequence[int] | np.ndarray,
    targets: Sequence[int] | np.ndarray | None = None,
    *,
    arc_time_s: np.ndarray | None = None,
    workers: int | None = None,
    chunk: int = 64,
    min_pool_work: int = 2_000_000,
    contract: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Travel times and distances along the fastest paths between graph nodes.

    Parameters
    ----------
    net
        Prepared network.
    sources, targets
        Node indices (``targets`` defaults to ``sources``). Duplicates are allowed.
    arc_time_s
        Per-arc travel time in seconds (default: free flow, ``net.arc_time_s``), e.g. the
        free-flow time divided by the speed factor of a time bucket.
    workers
        Processes for the Dijkstra runs (default :func:`default_workers`); 1 = in-process.
    chunk
        Sources per Dijkstra call.
    min_pool_work
        Below ``sources x nodes`` of this size the run stays in-process.
    contract
        First remove dead ends and contract pass-through nodes that are neither sources
        nor targets (:func:`contract_graph`; exact). ``None``: when there are > 256 sources.

    Returns
    -------
    (time_s, distance_m)
        ``(len(sources), len(targets))`` float64 arrays; ``distance_m`` is the length of
        the fastest path.

    Raises
    ------
    InputError
        If a target cannot be reached from a source.
    """
    src = np.asarray(sources, dtype=np.int64)
    tgt = src if targets is None else np.asarray(targets, dtype=np.int64)
    times = net.arc_time_s if arc_time_s is None else np.asarray(arc_time_s, dtype=float)
    if np.any(~np.isfinite(times)) or np.any(times <= 0):
        raise InputError("arc travel times must be finite and > 0 (check speed factors)")
    usrc, inv = np.unique(src, return_inverse=True)
    weights = packed_weights(times, net.arc_length_m)
    if contract is None:
        contract = len(usrc) > 256
    if contract:
        csr, index = contract_graph(
            net.n_nodes, net.arc_tail, net.arc_head, weights, np.union1d(usrc, tgt)
        )
        usrc_c, tgt_c = index[usrc], index[tgt]
    else:
        csr = net.csr(weights)
        usrc_c, tgt_c = usrc, tgt
    pieces = [usrc_c[i : i + chunk] for i in range(0, len(usrc_c), chunk)]
    n_workers = default_workers() if workers is None else max(1, int(workers))
    n_workers = min(n_workers, len(pieces))
    # a pool only pays for itself on real work
    if n_workers > 1 and len(usrc) * csr.shape[0] < min_pool_work:
        n_workers = 1
    if n_workers == 1:
        rows = [csgraph.dijkstra(csr, directed=True, indices=p)[:, tgt_c] for p in pieces]
    else:
        ctx = mp.get_context("fork")
        with ProcessPoolExecutor(
            n_workers, mp_context=ctx, initializer=_init_worker, initargs=(csr,)
        ) as ex:
            rows = list(ex.map(_rows, [(p, tgt_c) for p in pieces]))
    packed = np.vstack(rows)[inv]
    if not np.all(np.isfinite(packed)):
        i, j = np.argwhere(~np.isfinite(packed))[0]
        raise InputError(
            f"node {int(tgt[j])} cannot be reached from node {int(src[i])} on the road network",
            fix="check one-way/closed roads around the stop or use a larger road extract",
            table="roads",
        )
    if packed.max(initial=0.0) >= _TIME_LIMIT_MS * _LEN_SCALE:
        raise InputError("a fastest path is longer than 149 h; the road network is too large")
    t, d = unpack(packed)
    return t, d


def contract_graph(
    n: int,
    tail: np.ndarray,
    head: np.ndarray,
    weights: np.ndarray,
    keep: np.ndarray,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Exact reduction of a directed graph for shortest paths between ``keep`` nodes.

    Repeatedly removes nodes (not in ``keep``) with one neighbour (dead ends: no shortest
    path between other nodes passes them) and replaces nodes with exactly two neighbours
    by shortcut arcs ``x -> y`` of weight ``w(x, v) + w(v, y)`` (a shortest path through
    such a node enters from one neighbour and leaves to the other). Path weights between
    remaining nodes are unchanged, and packed weights (:func:`packed_weights`) stay exact
    because they are additive.

    Returns
    -------
    (csr, index)
        The reduced CSR matrix and ``index[old_node]`` -> new node (-1 if removed).
    """
    out: list[dict[int, float]] = [{} for _ in range(n)]
    inn: list[dict[int, float]] = [{} for _ in range(n)]
    for a, b, x in zip(tail.tolist(), head.tolist(), np.asarray(weights).tolist(), strict=True):
        if x < out[a].get(b, np.inf):
            out[a][b] = x
            inn[b][a] = x
    protected = np.zeros(n, dtype=bool)
    protected[np.asarray(keep, dtype=np.int64)] = True
    prot = protected.tolist()
    alive = [True] * n
    stack = list(range(n - 1, -1, -1))
    while stack:
        v = stack.pop()
        if not alive[v] or prot[v]:
            continue
        ov, iv = out[v], inn[v]
        nb = set(ov) | set(iv)
        if len(nb) > 2:
            continue
        for y in ov:
            del inn[y][v]
        for x in iv:
            del out[x][v]
        if len(nb) == 2:
            for x, wx in iv.items():
                for y, wy in ov.items():
                    if x != y:
                        w = wx + wy
                        if w < out[x].get(y, np.inf):
                            out[x][y] = w
                            inn[y][x] = w
        alive[v] = False
        out[v], inn[v] = {}, {}
        stack.extend(nb)
    kept = np.flatnonzero(np.asarray(alive))
    index = -np.ones(n, dtype=np.int64)
    index[kept] = np.arange(len(kept))
    t_l: list[int] = []
    h_l: list[int] = []
    w_l: list[float] = []
    for a in kept.tolist():
        ia = int(index[a])
        for b, x in out[a].items():
            t_l.append(ia)
            h_l.append(int(index[b]))
            w_l.append(x)
    m = len(kept)
    csr = sp.csr_matrix((np.asarray(w_l, dtype=np.float64), (t_l, h_l)), shape=(m, m))
    return csr, index


def path_predecessors(
    net: RoadNetwork, source: int, arc_time_s: np.ndarray | None = None
) -> np.ndarray:
    """Predecessor array of the fastest-path tree from ``source`` (same tie rule as matrices)."""
    times = net.arc_time_s if arc_time_s is None else arc_time_s
    csr = net.csr(packed_weights(times, net.arc_length_m))
    _, pred = csgraph.dijkstra(csr, directed=True, indices=int(source), return_predecessors=True)
    return pred


def path_nodes(pred: np.ndarray, source: int, target: int) -> np.ndarray:
    """Node sequence ``source … target`` from a predecessor array."""
    out = [int(target)]
    v = int(target)
    while v != source:
        v = int(pred[v])
        if v < 0:
            raise InputError(f"node {target} cannot be reached from node {source}")
        out.append(v)
    return np.asarray(out[::-1], dtype=np.int64)

"""Travel-time matrices between the problem's nodes, one per hourly speed bucket."""

from __future__ import annotations

import math
import time

import numpy as np

from .matrix import shortest_path_matrices
from .network import RoadNetwork
from .traffic import SpeedModel


class BucketMatrices:
    """Travel-time matrices between a fixed set of graph nodes, one per speed bucket."""

    def __init__(
        self, net: RoadNetwork, speed: SpeedModel, graph_nodes: np.ndarray, workers: int | None
    ) -> None:
        self.net = net
        self.speed = speed
        self.nodes, self.pos = np.unique(graph_nodes, return_inverse=True)
        self.workers = workers
        t0 = time.perf_counter()
        self.free_time, self.free_dist = shortest_path_matrices(net, self.nodes, workers=workers)
        self.seconds = time.perf_counter() - t0
        self._by_key: dict[tuple, np.ndarray] = {}
        self.dijkstra_runs = 1

    def key(self, t: float) -> tuple:
        h0 = math.floor(t / 3600.0) * 3600.0
        return self.speed.bucket_key(h0, h0 + 3600.0)

    def time_for(self, t: float) -> np.ndarray:
        """(u, u) travel times (s) for departures in the bucket of time ``t``."""
        key = self.key(t)
        if key not in self._by_key:
            h, inc = key
            f = self.speed.hourly[h]
            present = np.unique(self.net.arc_class)
            if not inc and np.allclose(f[present], f[present][0]):
                self._by_key[key] = self.free_time / float(f[present][0])
            else:
                t0 = time.perf_counter()
                arc_t = self.net.arc_time_s / self.speed.arc_factors_for_key(key, self.net)
                self._by_key[key], _ = shortest_path_matrices(
                    self.net, self.nodes, arc_time_s=arc_t, workers=self.workers
                )
                self.seconds += time.perf_counter() - t0
                self.dijkstra_runs += 1
        return self._by_key[key]

    def problem_rows(self, t_rows: np.ndarray) -> np.ndarray:
        """(n, n) int seconds between problem nodes; row i uses the bucket of ``t_rows[i]``."""
        n = len(self.pos)
        out = np.empty((n, n), dtype=np.int64)
        keys = [self.key(t) for t in t_rows]
        code = {k: i for i, k in enumerate(dict.fromkeys(keys))}
        key_of = np.fromiter((code[k] for k in keys), dtype=np.int64, count=len(keys))
        for i in range(len(code)):
            rows = np.flatnonzero(key_of == i)
            m = self.time_for(float(t_rows[rows[0]]))
            out[rows] = np.rint(m[self.pos[rows]][:, self.pos]).astype(np.int64)
        np.fill_diagonal(out, 0)
        return out

"""The stochastic placement LP of a block of consecutive SKUs, built from arrays.

Columns (in this order): ``q[m, a]`` placements (supply entry m of a SKU of the block, inbound
arc a leaving its node), ``x[s, f]`` positions, ``y[p, l, k]`` shipments (demand pair p, lane l
into p's region, scenario k), ``u[p, k]`` unserved. Rows: supply (≤ A), position
(``x - Σ q = on_hand``), stock (``Σ_r y - x ≤ 0`` per s, f, k), demand (``Σ_f y + u = D``) and,
optionally, FC capacity (``Σ_s v_s x ≤ Cap``). The matrix is assembled as COO triplets with
numpy and converted to CSC with scipy.sparse: no Python loop over variables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from shipahead.fields import shared_fields

from .inputs import PlacementProblem


def ragged(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand owners with ``counts[i]`` elements starting at ``starts[i]``.

    Returns ``(owner, element)`` arrays of length ``counts.sum()``.
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    if total == 0:
        return owner, np.zeros(0, dtype=np.int64)
    offs = np.cumsum(counts) - counts
    element = np.repeat(np.asarray(starts, dtype=np.int64), counts) + (
        np.arange(total, dtype=np.int64) - np.repeat(offs, counts)
    )
    return owner, element


class _ColumnCounts:
    """Sizes of the column groups q, x, y, u (in that column order) of a block."""

    q_m: np.ndarray
    x_s: np.ndarray
    y_p: np.ndarray
    u_p: np.ndarray

    @property
    def n_q(self) -> int:
        return len(self.q_m)

    @property
    def n_x(self) -> int:
        return len(self.x_s)

    @property
    def n_y(self) -> int:
        return len(self.y_p)

    @property
    def n_u(self) -> int:
        return len(self.u_p)


@dataclass
class BlockLP(_ColumnCounts):
    """One block's LP in CSC form plus the maps from columns/rows back to the model indices."""

    s0: int
    s1: int
    n_fcs: int
    n_scen: int
    # column groups
    q_m: np.ndarray  # global supply entry of each q column
    q_a: np.ndarray  # global inbound arc of each q column
    x_s: np.ndarray  # global sku of each x column
    y_p: np.ndarray  # global demand pair of each y column
    y_l: np.ndarray  # global lane of each y column
    y_k: np.ndarray
    u_p: np.ndarray
    u_k: np.ndarray
    col_sku: np.ndarray  # local sku (0..S_b-1) of every column
    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    matrix: sp.csc_matrix
    n_cap_rows: int
    q_sku_start: np.ndarray  # (S_b+1,) q columns of local sku i are q_sku_start[i]:[i+1]

    @property
    def x_cols(self) -> slice:
        return slice(self.n_q, self.n_q + self.n_x)

    @property
    def y_cols(self) -> slice:
        a = self.n_q + self.n_x
        return slice(a, a + self.n_y)

    @property
    def u_cols(self) -> slice:
        a = self.n_q + self.n_x + self.n_y
        return slice(a, a + self.n_u)

    @property
    def n_cols(self) -> int:
        return len(self.cost)

    @property
    def cap_rows(self) -> slice:
        n = len(self.row_lower)
        return slice(n - self.n_cap_rows, n)


@dataclass
class _Columns(_ColumnCounts):
    """The column groups of a block (global model indices), in column order."""

    s0: int  # the block's SKU range s0 <= s < s1
    s1: int
    m0: int  # first supply entry of the block
    m1: int
    p0: int  # first demand pair of the block
    p1: int
    q_m: np.ndarray
    q_a: np.ndarray
    q_s_loc: np.ndarray  # local sku of each q column
    q_sku_start: np.ndarray
    x_s: np.ndarray
    x_f: np.ndarray
    y_p: np.ndarray
    y_l: np.ndarray
    y_k: np.ndarray
    u_p: np.ndarray
    u_k: np.ndarray
    col_sku: np.ndarray  # local sku (0..S_b-1) of every column


@dataclass
class _Bounds:
    """Costs and bounds of a block's columns and rows."""

    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray


def _block_columns(pb: PlacementProblem, s0: int, s1: int) -> _Columns:
    """The q, x, y and u columns of SKUs ``s0 <= s < s1``."""
    F, K = pb.n_fcs, pb.n_scenarios
    Sb = s1 - s0
    # ---- q columns
    m0, m1 = int(pb.sku_sup_start[s0]), int(pb.sku_sup_start[s1])
    m_idx = np.arange(m0, m1)
    nodes = pb.sup_n[m0:m1]
    n_arcs = pb.node_arc_start[nodes + 1] - pb.node_arc_start[nodes]
    own, q_a = ragged(pb.node_arc_start[nodes], n_arcs)
    q_m = m_idx[own]
    q_s_loc = pb.sup_s[q_m] - s0
    q_sku_start = np.zeros(Sb + 1, dtype=np.int64)
    np.cumsum(np.bincount(q_s_loc, minlength=Sb), out=q_sku_start[1:])
    # ---- x columns
    x_s = np.repeat(np.arange(s0, s1, dtype=np.int64), F)
    x_f = np.tile(np.arange(F, dtype=np.int64), Sb)
    # ---- y columns: (pair, lane) × scenario
    p0, p1 = int(pb.sku_dem_start[s0]), int(pb.sku_dem_start[s1])
    regs = pb.dem_r[p0:p1]
    lanes_n = pb.region_lane_start[regs + 1] - pb.region_lane_start[regs]
    own, pl_l = ragged(pb.region_lane_start[regs], lanes_n)
    pl_p = np.arange(p0, p1, dtype=np.int64)[own]
    y_p = np.repeat(pl_p, K)
    y_l = np.repeat(pl_l, K)
    y_k = np.tile(np.arange(K, dtype=np.int64), len(pl_p))
    # ---- u columns
    n_pairs = p1 - p0
    u_p = np.repeat(np.arange(p0, p1, dtype=np.int64), K)
    u_k = np.tile(np.arange(K, dtype=np.int64), n_pairs)
    col_sku = np.concatenate([q_s_loc, x_s - s0, pb.dem_s[y_p] - s0, pb.dem_s[u_p] - s0])
    return _Columns(
        s0=s0,
        s1=s1,
        m0=m0,
        m1=m1,
        p0=p0,
        p1=p1,
        q_m=q_m,
        q_a=q_a,
        q_s_loc=q_s_loc,
        q_sku_start=q_sku_start,
        x_s=x_s,
        x_f=x_f,
        y_p=y_p,
        y_l=y_l,
        y_k=y_k,
        u_p=u_p,
        u_k=u_k,
        col_sku=col_sku.astype(np.int64),
    )


def _block_matrix(
    pb: PlacementProblem, c: _Columns, s0: int, s1: int, capacity_rows: bool
) -> sp.csc_matrix:
    """The block's constraint matrix (rows: supply, position, stock, demand, capacity)."""
    F, K = pb.n_fcs, pb.n_scenarios
    Sb = s1 - s0
    n_q, n_x, n_y, n_u = c.n_q, c.n_x, c.n_y, c.n_u
    q_m, y_p, y_k = c.q_m, c.y_p, c.y_k
    cq, cx, cy, cu = 0, n_q, n_q + n_x, n_q + n_x + n_y
    n_cols = cu + n_u
    # ---- rows
    r_sup = 0
    n_sup = c.m1 - c.m0
    r_pos = r_sup + n_sup
    r_st = r_pos + Sb * F
    r_dem = r_st + Sb * F * K
    r_cap = r_dem + (c.p1 - c.p0) * K
    n_rows = r_cap + (F if capacity_rows else 0)

    rows, cols, vals = [], [], []
    qc = np.arange(cq, cq + n_q)
    # supply: Σ_a q[m, a] ≤ A_m
    rows.append(r_sup + (q_m - c.m0))
    cols.append(qc)
    vals.append(np.ones(n_q))
    # position: x[s,f] - Σ q = on_hand
    xc = np.arange(cx, cx + n_x)
    rows.append(r_pos + np.arange(n_x))
    cols.append(xc)
    vals.append(np.ones(n_x))
    rows.append(r_pos + c.q_s_loc * F + pb.arc_f[c.q_a])
    cols.append(qc)
    vals.append(-np.ones(n_q))
    # stock: Σ_r y[s,f,r,k] - x[s,f] ≤ 0
    x_loc = np.arange(n_x)
    rows.append(r_st + np.repeat(x_loc * K, K) + np.tile(np.arange(K), n_x))
    cols.append(np.repeat(xc, K))
    vals.append(-np.ones(n_x * K))
    yc = np.arange(cy, cy + n_y)
    y_s_loc = pb.dem_s[y_p] - s0
    rows.append(r_st + (y_s_loc * F + pb.lane_f[c.y_l]) * K + y_k)
    cols.append(yc)
    vals.append(np.ones(n_y))
    # demand: Σ_f y + u = D
    rows.append(r_dem + (y_p - c.p0) * K + y_k)
    cols.append(yc)
    vals.append(np.ones(n_y))
    uc = np.arange(cu, cu + n_u)
    rows.append(r_dem + (c.u_p - c.p0) * K + c.u_k)
    cols.append(uc)
    vals.append(np.ones(n_u))
    if capacity_rows:
        rows.append(r_cap + c.x_f)
        cols.append(xc)
        vals.append(pb.vol[c.x_s])
    matrix = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows, n_cols),
    )
    matrix.sum_duplicates()
    matrix.sort_indices()
    return matrix


def _block_bounds(
    pb: PlacementProblem, c: _Columns, s0: int, s1: int, capacity_rows: bool
) -> _Bounds:
    """Column costs (currency per unit) and the column and row bounds (units)."""
    F, K = pb.n_fcs, pb.n_scenarios
    Sb = s1 - s0
    cx, n_x = c.n_q, c.n_x
    n_cols = c.n_q + c.n_x + c.n_y + c.n_u
    n_sup = c.m1 - c.m0
    cost = np.concatenate(
        [
            pb.arc_cost[c.q_a],
            pb.hold[c.x_s],
            pb.prob[c.y_k] * (pb.lane_cost[c.y_l] + pb.lane_late[c.y_l]),
            pb.prob[c.u_k] * pb.pen[pb.dem_s[c.u_p]],
        ]
    )
    oh = pb.on_hand[s0:s1].ravel()
    col_lower = np.zeros(n_cols)
    col_lower[cx : cx + n_x] = oh
    col_upper = np.full(n_cols, np.inf)
    dem = pb.demand[c.p0 : c.p1].ravel()
    row_lower = np.concatenate(
        [
            np.full(n_sup, -np.inf),
            oh,
            np.full(Sb * F * K, -np.inf),
            dem,
            np.full(F if capacity_rows else 0, -np.inf),
        ]
    )
    row_upper = np.concatenate(
        [
            pb.sup_avail[c.m0 : c.m1],
            oh,
            np.zeros(Sb * F * K),
            dem,
            pb.cap if capacity_rows else np.zeros(0),
        ]
    )
    return _Bounds(cost, col_lower, col_upper, row_lower, row_upper)


def build_block(pb: PlacementProblem, s0: int, s1: int, *, capacity_rows: bool) -> BlockLP:
    """Build the LP of SKUs ``s0 <= s < s1``.

    Parameters
    ----------
    pb
        The problem arrays.
    s0, s1
        SKU index range of the block.
    capacity_rows
        Add the FC capacity rows (monolithic model); without them the block is the Lagrangian
        subproblem whose capacity prices are put on the ``x`` costs by the caller.
    """
    c = _block_columns(pb, s0, s1)
    return BlockLP(
        n_fcs=pb.n_fcs,
        n_scen=pb.n_scenarios,
        matrix=_block_matrix(pb, c, s0, s1, capacity_rows),
        n_cap_rows=pb.n_fcs if capacity_rows else 0,
        **shared_fields(c, BlockLP),
        **shared_fields(_block_bounds(pb, c, s0, s1, capacity_rows), BlockLP),
    )


def q_index(pb: PlacementProblem) -> tuple[np.ndarray, np.ndarray]:
    """Global ``(q_m, q_a)`` of every placement column, in block order (by SKU, node, FC)."""
    nodes = pb.sup_n
    n_arcs = pb.node_arc_start[nodes + 1] - pb.node_arc_start[nodes]
    own, q_a = ragged(pb.node_arc_start[nodes], n_arcs)
    return own, q_a


def sku_q_start(pb: PlacementProblem) -> np.ndarray:
    """(S+1,) pointer: placement columns of SKU s are ``[start[s], start[s+1])`` globally."""
    nodes = pb.sup_n
    n_arcs = pb.node_arc_start[nodes + 1] - pb.node_arc_start[nodes]
    per_sku = np.bincount(pb.sup_s, weights=n_arcs, minlength=pb.n_skus).astype(np.int64)
    start = np.zeros(pb.n_skus + 1, dtype=np.int64)
    np.cumsum(per_sku, out=start[1:])
    return start

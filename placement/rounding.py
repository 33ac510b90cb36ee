"""Rounding LP placements to whole units without breaking any constraint.

Method ("floor, then capacity-checked largest remainder"):

1. Every placement ``q[s,n,f]`` is rounded down (a tolerance of 1e-7 absorbs solver noise).
   Rounding down can only loosen the supply rows (Σ_f q ≤ A) and the capacity rows
   (Σ_s v_s x ≤ Cap), and keeps q ≥ 0.
2. For each supply entry (s, n) the number of units to give back is
   ``round(Σ_f q_LP) - Σ_f floor(q)``, never above ``floor(A) - Σ_f floor(q)``.
3. Candidates (s, n, f) are visited in decreasing fractional part (ties: stable index order)
   and get one more unit while their supply entry still has units to give back and FC f still
   has room for ``v_s`` more m³.

The result satisfies supply, capacity and integrality by construction; positions are
``on_hand + Σ q``. The recourse (shipments, unserved) is then re-optimised for the integer
positions, so the integer plan's cost is exact and compared with the LP bound.
"""

from __future__ import annotations

import numpy as np

from .inputs import PlacementProblem


def round_placements(
    pb: PlacementProblem, q_m: np.ndarray, q_a: np.ndarray, q: np.ndarray
) -> np.ndarray:
    """Round global placements ``q`` (columns ``q_m, q_a``) to integers, keeping constraints.

    Returns
    -------
    numpy.ndarray
        Integer-valued float array, same shape as ``q`` (units).
    """
    q = np.maximum(np.asarray(q, dtype=float), 0.0)
    base = np.floor(q + 1e-7)
    n_m = len(pb.sup_avail)
    avail = np.floor(pb.sup_avail + 1e-9)
    s_of = pb.sup_s[q_m]
    f_of = pb.arc_f[q_a]
    F = pb.n_fcs
    # (1) safety: floor(q + eps) may overshoot a bound by eps — trim the largest entries
    placed = np.bincount(q_m, weights=base, minlength=n_m)
    for m in np.flatnonzero(placed > avail):
        idx = np.flatnonzero(q_m == m)
        while base[idx].sum() > avail[m]:
            base[idx[np.argmax(base[idx])]] -= 1
    used = pb.vol @ pb.on_hand + np.bincount(f_of, weights=base * pb.vol[s_of], minlength=F)
    for f in np.flatnonzero(used > pb.cap + 1e-9):
        idx = np.flatnonzero((f_of == f) & (base > 0))
        idx = idx[np.argsort(-(base[idx] - q[idx]), kind="stable")]
        for i in idx:
            while base[i] > 0 and used[f] > pb.cap[f] + 1e-9:
                base[i] -= 1
                used[f] -= pb.vol[s_of[i]]
    # (2) units to give back per supply entry
    placed = np.bincount(q_m, weights=base, minlength=n_m)
    want = np.floor(np.bincount(q_m, weights=q, minlength=n_m) + 0.5)
    give = np.clip(np.minimum(want, avail) - placed, 0, None)
    # (3) largest remainder, capacity-checked
    frac = q - base
    cand = np.flatnonzero((frac > 1e-7) & (give[q_m] > 0))
    cand = cand[np.argsort(-frac[cand], kind="stable")]
    room = pb.cap - used
    give = give.copy()
    for i in cand.tolist():
        m = q_m[i]
        if give[m] <= 0:
            continue
        f = f_of[i]
        v = pb.vol[s_of[i]]
        if room[f] + 1e-9 >= v:
            base[i] += 1.0
            give[m] -= 1.0
            room[f] -= v
    return base

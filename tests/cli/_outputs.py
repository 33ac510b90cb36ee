"""Shared assertion for plan/demo runs: every output table keeps its contract."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from shipahead.cli.contracts import CONTRACTS, check_table

#: output file (relative to the run folder) → its contract
PLAN_OUTPUTS = (
    ("forecast/forecast.parquet", "forecast"),
    ("placement/stock_targets.csv", "stock_targets"),
    ("placement/placement_orders.csv", "placement_orders"),
    ("routes/routes.csv", "routes"),
)


def assert_outputs_keep_contracts(run: Path) -> None:
    """Every output table of a ``shipahead plan`` run in ``run`` passes its contract check."""
    for rel, kind in PLAN_OUTPUTS:
        p = run / rel
        df = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p, dtype=str)
        assert check_table(df, CONTRACTS[kind]) == [], rel

"""Shared test configuration."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault(
    "SHIPAHEAD_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".shipahead-cache")
)

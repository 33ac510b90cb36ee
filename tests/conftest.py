"""Shared test configuration."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault(
    "SHIPAHEAD_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".shipahead-cache")
)

# Hypothesis: the same examples on every run (CI must not flip on a newly drawn example);
# run `pytest --hypothesis-profile=explore` to search with fresh random examples.
from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile("ci")

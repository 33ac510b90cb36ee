"""Shared test configuration."""

from __future__ import annotations

import multiprocessing
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

# Worker pools started inside the test process (statsforecast's n_jobs, placement's workers)
# come from a fork server instead of forking pytest itself: the test process runs threads
# (samplers, monitors, earlier tests' clients), and a fork taken while one of them holds a lock
# can leave a pool worker blocked for ever. Commands run as subprocesses keep their default.
multiprocessing.set_forkserver_preload(["numpy", "pandas", "statsforecast"])
multiprocessing.set_start_method("forkserver", force=True)

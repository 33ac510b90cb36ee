"""Engine adapters: one module per engine, each exposing ``solve(problem, settings)``."""

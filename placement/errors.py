"""Exceptions raised by the `placement` package: the shared ones of :mod:`shipahead.errors`."""

from shipahead.errors import InfeasibleError, InputError, SolverError

__all__ = ["InfeasibleError", "InputError", "SolverError"]

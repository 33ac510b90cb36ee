"""The shared error hierarchy: one set of classes, re-exported by every package."""

from __future__ import annotations

import pytest
import shipahead.forecasting as forecasting
import shipahead.placement as placement
import shipahead.routing as routing
from shipahead.cli.errors import EXIT_INPUT, EXIT_SOLVER, CliInputError, describe

from shipahead.errors import (
    InfeasibleError,
    InputError,
    LocatedError,
    ShipaheadError,
    SolverError,
)


@pytest.mark.parametrize("pkg", [forecasting, placement, routing])
def test_packages_reexport_the_core_classes(pkg) -> None:
    assert pkg.InputError is InputError
    assert pkg.InfeasibleError is InfeasibleError
    assert pkg.SolverError is SolverError


def test_hierarchy() -> None:
    assert issubclass(InputError, ValueError) and issubclass(InputError, ShipaheadError)
    assert issubclass(InfeasibleError, InputError)
    assert issubclass(SolverError, RuntimeError) and issubclass(SolverError, ShipaheadError)
    assert issubclass(CliInputError, LocatedError) and issubclass(InputError, LocatedError)
    assert not issubclass(CliInputError, ValueError)


def test_input_error_fields() -> None:
    exc = InputError("bad", column="y", row=3, fix="fill y", table="history")
    assert (exc.message, exc.column, exc.row, exc.fix, exc.table) == (
        "bad",
        "y",
        3,
        "fill y",
        "history",
    )
    assert str(exc) == "bad"


def test_describe_maps_core_classes() -> None:
    code, line = describe(InfeasibleError("demand exceeds capacity", table="fcs_test_only"))
    assert code == EXIT_INPUT
    assert line == "fcs_test_only: infeasible: demand exceeds capacity"
    code, line = describe(SolverError("time limit"))
    assert (code, line) == (EXIT_SOLVER, "solver gave no usable result: time limit")
    code, line = describe(CliInputError("file not found", file="a.csv", fix="check the path"))
    assert (code, line) == (EXIT_INPUT, "a.csv: file not found — fix: check the path")

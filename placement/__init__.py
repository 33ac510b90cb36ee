"""Anticipatory inventory placement across fulfillment centers.

A two-stage stochastic LP (placements and positions now; shipments and unserved demand per
demand scenario) built from numpy/scipy arrays and solved with HiGHS (highspy) or OR-Tools
(GLOP/PDLP; SCIP for the exact MIP). Large instances are solved by price decomposition on FC
capacity with SKU blocks fanned out over local processes, Dask or Ray; every result carries a
proven lower bound and gap and passes an independent checker. `design` solves capacitated
facility location (which FCs to open) as a MIP with OR-Tools.
"""

from .decomposition import WorkerPool as WorkerPool
from .decomposition import _DropPool as DropPool
from .decomposition import _sample_share as sample_share
from .design import DesignResult as DesignResult
from .design import design as design
from .errors import InfeasibleError as InfeasibleError
from .errors import InputError as InputError
from .errors import SolverError as SolverError
from .inputs import PlacementProblem as PlacementProblem
from .inputs import PlacementTables as PlacementTables
from .inputs import build_problem as build_problem
from .plan import PlacementResult as PlacementResult
from .plan import plan as plan
from .plan import solve_problem as solve_problem
from .settings import PlacementSettings as PlacementSettings
from .synthetic import Instance as Instance
from .synthetic import generate_instance as generate_instance

__all__ = [
    "DesignResult",
    "DropPool",
    "InfeasibleError",
    "InputError",
    "Instance",
    "PlacementProblem",
    "PlacementResult",
    "PlacementSettings",
    "PlacementTables",
    "SolverError",
    "WorkerPool",
    "build_problem",
    "design",
    "generate_instance",
    "plan",
    "sample_share",
    "solve_problem",
]

"""Vehicle routing over real road networks with time-of-day traffic and weather.

Road network (OSM ways or an osmnx graph) -> :func:`prepare_graph` -> compiled
travel-time/distance matrices -> one :class:`Problem` -> :func:`solve` (OR-Tools, PyVRP or
both) -> exact time-dependent simulation -> :class:`RoutePlan` (routes with simulated
ETAs, unassigned stops with reasons, KPIs). :func:`replan_routes` re-enters during the day.

Pure: DataFrames, numpy arrays, networkx graphs and frozen dataclasses in and out; no file
I/O. Units: metres, seconds (time of day = seconds from midnight), integer load units.
"""

from .check import check_solution as check_solution
from .check import explain_unassigned as explain_unassigned
from .errors import InfeasibleError as InfeasibleError
from .errors import InputError as InputError
from .errors import SolverError as SolverError
from .matrix import shortest_path_matrices as shortest_path_matrices
from .network import DEFAULT_SPEEDS_KPH as DEFAULT_SPEEDS_KPH
from .network import ROAD_CLASSES as ROAD_CLASSES
from .network import RoadNetwork as RoadNetwork
from .network import graph_from_ways as graph_from_ways
from .network import prepare_graph as prepare_graph
from .network import snap_points as snap_points
from .outputs import driver_sheets as driver_sheets
from .outputs import routes_geojson as routes_geojson
from .outputs import routes_map_html as routes_map_html
from .plan import RoutePlan as RoutePlan
from .plan import plan_routes as plan_routes
from .plan import resimulate as resimulate
from .problem import Break as Break
from .problem import Problem as Problem
from .problem import Solution as Solution
from .problem import SolveSettings as SolveSettings
from .problem import Vehicle as Vehicle
from .replan import ReplanResult as ReplanResult
from .replan import replan_routes as replan_routes
from .settings import PlanSettings as PlanSettings
from .simulate import RouteSim as RouteSim
from .simulate import Simulator as Simulator
from .solve import solve as solve
from .traffic import WEATHER_FACTORS as WEATHER_FACTORS
from .traffic import Incident as Incident
from .traffic import SpeedModel as SpeedModel

__all__ = [
    "DEFAULT_SPEEDS_KPH",
    "ROAD_CLASSES",
    "WEATHER_FACTORS",
    "Break",
    "Incident",
    "InfeasibleError",
    "InputError",
    "PlanSettings",
    "Problem",
    "ReplanResult",
    "RoadNetwork",
    "RoutePlan",
    "RouteSim",
    "Simulator",
    "Solution",
    "SolveSettings",
    "SpeedModel",
    "Vehicle",
    "check_solution",
    "driver_sheets",
    "explain_unassigned",
    "graph_from_ways",
    "plan_routes",
    "prepare_graph",
    "replan_routes",
    "resimulate",
    "routes_geojson",
    "routes_map_html",
    "shortest_path_matrices",
    "snap_points",
    "solve",
]

"""Vehicle routing over real road networks with time-of-day traffic and weather.

Road network (OSM ways or an osmnx graph) -> :func:`prepare_graph` -> compiled
travel-time/distance matrices -> one :class:`RoutingProblem` -> :func:`solve` (OR-Tools, PyVRP or
both) -> exact time-dependent simulation -> :class:`RoutePlan` (routes with simulated
ETAs, unassigned stops with reasons, KPIs). :func:`replan_routes` re-enters during the day.

Pure: DataFrames, numpy arrays, networkx graphs and frozen dataclasses in and out; no file
I/O. Units: metres, seconds (time of day = seconds from midnight), integer load units.
"""

from shipahead.timeofday import CLOCK_RULE as CLOCK_RULE
from shipahead.timeofday import format_clock as format_clock
from shipahead.timeofday import parse_clock as parse_clock

from .check import check_solution as check_solution
from .check import explain_unassigned as explain_unassigned
from .engines._common import drop_penalties as drop_penalties
from .engines._common import fixed_cost as fixed_cost
from .engines._common import per_metre_cost as per_metre_cost
from .engines._common import per_second_cost as per_second_cost
from .errors import InfeasibleError as InfeasibleError
from .errors import InputError as InputError
from .errors import SolverError as SolverError
from .events import EVENT_COLUMNS as EVENT_COLUMNS
from .events import EVENT_TYPES as EVENT_TYPES
from .exports import driver_sheets_html as driver_sheets_html
from .exports import network_geojson as network_geojson
from .exports import route_gpx as route_gpx
from .exports import route_kml as route_kml
from .instances import problem_from_vrplib as problem_from_vrplib
from .instances import reported_cost as reported_cost
from .instances import solution_text as solution_text
from .iterate import simulate_solution as simulate_solution
from .matrix import shortest_path_matrices as shortest_path_matrices
from .network import DEFAULT_SPEEDS_KPH as DEFAULT_SPEEDS_KPH
from .network import ROAD_CLASSES as ROAD_CLASSES
from .network import NetworkReport as NetworkReport
from .network import RoadNetwork as RoadNetwork
from .network import graph_from_ways as graph_from_ways
from .network import prepare_graph as prepare_graph
from .network import snap_points as snap_points
from .outputs import driver_sheets as driver_sheets
from .outputs import routes_geojson as routes_geojson
from .outputs import routes_map_html as routes_map_html
from .outputs import summary_dict as summary_dict
from .plan import RoutePlan as RoutePlan
from .plan import plan_routes as plan_routes
from .plan import resimulate as resimulate
from .problem import Break as Break
from .problem import RoutingProblem as RoutingProblem
from .problem import Solution as Solution
from .problem import SolveSettings as SolveSettings
from .problem import Vehicle as Vehicle
from .replan import ReplanResult as ReplanResult
from .replan import replan_routes as replan_routes
from .settings import PlanSettings as PlanSettings
from .simulate import RouteSim as RouteSim
from .simulate import Simulator as Simulator
from .solve import solve as solve
from .tables import hhmm as hhmm
from .tables import to_seconds as to_seconds
from .traffic import WEATHER_FACTORS as WEATHER_FACTORS
from .traffic import Incident as Incident
from .traffic import SpeedModel as SpeedModel
from .vroom import DispatchResult as DispatchResult
from .vroom import VroomLimits as VroomLimits
from .vroom import VroomProblem as VroomProblem
from .vroom import parse_events as parse_events
from .vroom import parse_vroom as parse_vroom
from .vroom import replan_vroom as replan_vroom
from .vroom import solve_vroom as solve_vroom

__all__ = [
    "CLOCK_RULE",
    "DEFAULT_SPEEDS_KPH",
    "EVENT_COLUMNS",
    "EVENT_TYPES",
    "ROAD_CLASSES",
    "WEATHER_FACTORS",
    "Break",
    "DispatchResult",
    "Incident",
    "InfeasibleError",
    "InputError",
    "NetworkReport",
    "PlanSettings",
    "ReplanResult",
    "RoadNetwork",
    "RoutePlan",
    "RouteSim",
    "RoutingProblem",
    "Simulator",
    "Solution",
    "SolveSettings",
    "SpeedModel",
    "Vehicle",
    "VroomLimits",
    "VroomProblem",
    "check_solution",
    "driver_sheets",
    "driver_sheets_html",
    "drop_penalties",
    "explain_unassigned",
    "fixed_cost",
    "format_clock",
    "graph_from_ways",
    "hhmm",
    "network_geojson",
    "parse_clock",
    "parse_events",
    "parse_vroom",
    "per_metre_cost",
    "per_second_cost",
    "plan_routes",
    "prepare_graph",
    "problem_from_vrplib",
    "replan_routes",
    "replan_vroom",
    "reported_cost",
    "resimulate",
    "route_gpx",
    "route_kml",
    "routes_geojson",
    "routes_map_html",
    "shortest_path_matrices",
    "simulate_solution",
    "snap_points",
    "solution_text",
    "solve",
    "solve_vroom",
    "summary_dict",
    "to_seconds",
]

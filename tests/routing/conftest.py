"""Fixtures of the routing tests: the tiny re-plan day's base plan."""

from __future__ import annotations

import pytest
from shipahead.routing.traffic import SpeedModel

from shipahead import routing

from ._netfix import FAST, rush_profile, tiny_fleet, tiny_network, tiny_stops


@pytest.fixture(scope="module")
def base():
    """(stops, fleet, speed, plan) of 10 stops without windows, 2 vans, rush-hour traffic."""
    stops, fleet = tiny_stops(10, seed=21, tw=False), tiny_fleet(2)
    speed = SpeedModel.from_tables(rush_profile())
    plan = routing.plan_routes(stops, fleet, tiny_network(), speed=speed, settings=FAST)
    return stops, fleet, speed, plan

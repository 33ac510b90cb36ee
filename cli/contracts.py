"""File contracts (docs/data-formats.md) and the checker behind `shipahead validate`.

Every table users hand to shipahead is described here once, as data: columns with type, unit,
whether required, allowed range and an example. The same description

* checks files (`check_table`): every problem found, up to a limit, each with its row and
  column and the fix, not just the first;
* parses them for the commands (`coerce_table`): ids stay strings (FIPS ``"39049"`` keeps its
  leading digits), dates become timestamps, numbers become numbers;
* renders `docs/data-formats.md` (`contracts_markdown`).

Checks run in two stages: first each column is parsed to its type (unparseable cells are
reported by row), then a pandera schema built from the contract checks ranges, empties and
duplicate keys on the parsed values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import pandas as pd

__all__ = [
    "CONTRACTS",
    "Column",
    "Contract",
    "Problem",
    "check_table",
    "coerce_table",
    "contracts_markdown",
]


@dataclass(frozen=True)
class Column:
    """One column of a contract.

    ``kind`` is one of ``id`` (text key), ``text``, ``int``, ``float``, ``date``
    (``YYYY-MM-DD``), ``hhmm`` (local time of day ``HH:MM``, 24:00–47:59 = the next day,
    see :mod:`shipahead.timeofday`), ``bool``, ``geometry``.
    ``ge``/``gt``/``le`` bound numeric values (in the column's unit).
    """

    name: str
    kind: str
    unit: str = ""
    required: bool = True
    desc: str = ""
    example: str = ""
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    nullable: bool = False
    choices: tuple[str, ...] = ()  # allowed values of a text column (case-insensitive)

    @property
    def upper(self) -> float | None:
        """Upper bound of a numeric column: ``le`` or the default of its unit (`MAX_BY_UNIT`)."""
        if self.le is not None or self.kind not in ("int", "float"):
            return self.le
        return MAX_BY_UNIT.get(self.unit)


#: Largest plausible value of a numeric column by unit, where the column sets no ``le``: a
#: value above it is a unit mistake or a corrupt cell, rejected at the contract.
MAX_BY_UNIT: dict[str, float] = {
    "units": 1e9,
    "units on board after the stop": 1e9,
    "people": 1e10,
    "m³": 1e9,
    "m³/unit": 1e3,
    "currency": 1e9,
    "currency/day": 1e6,
    "currency/unit": 1e6,
    "currency/unit/day": 1e6,
    "currency/km": 1e4,
    "currency/h": 1e5,
    "mm/day": 2000,
    "cm/day": 500,
    "days": 3650,
    "minutes": 2880,
    "km": 1e5,
}


@dataclass(frozen=True)
class Contract:
    """A table: its columns, its key (unique together) and cross-column rules."""

    name: str
    title: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    # (column_a, column_b, message): rows where a > b are problems (e.g. tw_start > tw_end)
    ordered: tuple[tuple[str, str, str], ...] = ()
    # groups of which at least one column must be present
    one_of: tuple[tuple[str, ...], ...] = ()
    geo: bool = False
    note: str = ""
    # fewest data rows the table may have (e.g. a fleet needs a vehicle)
    min_rows: int = 0
    # name of the `cli.limits` limit on the number of rows (None: unbounded)
    max_rows: str | None = None

    def column(self, name: str) -> Column | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None


@dataclass(frozen=True)
class Problem:
    """One problem in a table: ``row`` is the 0-based data row (None = whole column/table)."""

    column: str | None
    row: int | None
    message: str
    fix: str
    value: str | None = field(default=None)


def _lat(required: bool = True, desc: str = "latitude", example: str = "39.96") -> Column:
    return Column("lat", "float", "degrees (WGS84)", required, desc, example, ge=-90, le=90)


def _lon(required: bool = True, desc: str = "longitude", example: str = "-82.99") -> Column:
    return Column("lon", "float", "degrees (WGS84)", required, desc, example, ge=-180, le=180)


#: the example value of each id column that several tables share
_ID_EXAMPLES: dict[str, str] = {
    "region_id": "39049",
    "sku_id": "AMERICAN-VODKAS",
    "fc_id": "CMH1",
    "node_id": "XDOCK-1",
    "scenario": "s3",
    "order_id": "PO-000001",
    "from_node": "XDOCK-1",
    "to_fc_id": "CMH1",
    "stop_id": "S001",
    "vehicle_id": "VAN-1",
}


def _ids(*names: str) -> tuple[Column, ...]:
    """Required id columns ``names``, each with its example (`_ID_EXAMPLES`)."""
    return tuple(Column(name, "id", example=_ID_EXAMPLES[name]) for name in names)


_Q = ("q05", "q10", "q25", "q50", "q75", "q90", "q95")

CONTRACTS: dict[str, Contract] = {
    c.name: c
    for c in (
        Contract(
            "history",
            "Demand history",
            (
                Column("region_id", "id", desc="demand region", example="39049"),
                Column("sku_id", "id", desc="stock-keeping unit", example="AMERICAN-VODKAS"),
                Column(
                    "ds",
                    "date",
                    desc="period start (day, or week's first day)",
                    example="2022-10-24",
                ),
                Column("y", "float", "units", desc="demand in the period", example="1250", ge=0),
            ),
            key=("region_id", "sku_id", "ds"),
            min_rows=1,
            note="One row per key and period. Gaps are errors unless `--fill-gaps zero`.",
        ),
        Contract(
            "weather",
            "Weather (optional)",
            (
                Column(
                    "region_id", "id", desc="region the observation belongs to", example="39049"
                ),
                Column("ds", "date", desc="day", example="2022-11-01"),
                Column("precip_mm", "float", "mm/day", desc="precipitation", example="2.5", ge=0),
                Column("snow_cm", "float", "cm/day", desc="snowfall", example="0", ge=0),
                Column(
                    "temp_c", "float", "°C", desc="mean temperature", example="8.1", ge=-70, le=60
                ),
            ),
            key=("region_id", "ds"),
            note="Must also cover the forecast horizon (future regressor values).",
        ),
        Contract(
            "events",
            "Events / promotions (optional)",
            (
                Column("ds", "date", desc="day or period of the event", example="2022-11-25"),
                Column(
                    "region_id",
                    "id",
                    required=False,
                    nullable=True,
                    desc="region (blank = all)",
                    example="39049",
                ),
                Column(
                    "sku_id",
                    "id",
                    required=False,
                    nullable=True,
                    desc="SKU (blank = all)",
                    example="AMERICAN-VODKAS",
                ),
                Column(
                    "promo",
                    "float",
                    "0–1",
                    required=False,
                    desc="promotion intensity",
                    example="1",
                    ge=0,
                    le=1,
                ),
                Column(
                    "holiday",
                    "float",
                    "0/1",
                    required=False,
                    desc="holiday flag",
                    example="0",
                    ge=0,
                    le=1,
                ),
            ),
        ),
        Contract(
            "forecast",
            "Forecast",
            (
                *_ids("region_id", "sku_id"),
                Column("ds", "date", desc="future period", example="2022-10-31"),
                Column("model", "text", desc="model that produced the row", example="AutoETS"),
                Column("mean", "float", "units", desc="expected demand", example="1180.4", ge=0),
                *(
                    Column(
                        q, "float", "units", desc=f"{int(q[1:])}% quantile", example="1100", ge=0
                    )
                    for q in _Q
                ),
            ),
            key=("region_id", "sku_id", "ds"),
            min_rows=1,
            ordered=tuple((a, b, f"quantile {a} is above {b}") for a, b in pairwise(_Q)),
        ),
        Contract(
            "overrides",
            "Forecast overrides (optional)",
            (
                Column("region_id", "id", example="39049"),
                Column("sku_id", "id", example="AMERICAN-VODKAS"),
                Column("ds", "date", desc="forecast period overridden", example="2022-11-21"),
                Column(
                    "value",
                    "float",
                    "units",
                    required=False,
                    nullable=True,
                    desc="final forecast of the period (or give percent)",
                    example="1500",
                    ge=0,
                ),
                Column(
                    "percent",
                    "float",
                    "%",
                    required=False,
                    nullable=True,
                    desc="change of the statistical forecast (or give value)",
                    example="20",
                    ge=-100,
                    le=1000,
                ),
                Column("user", "text", desc="who made the override", example="ann"),
                Column("comment", "text", required=False, nullable=True, example="store opening"),
            ),
            key=("region_id", "sku_id", "ds"),
            one_of=(("value", "percent"),),
            max_rows="override_rows",
            note="One row per key and period, `value` or `percent` (not both). Applied after "
            "the statistical forecast: final = override where present, else the baseline; "
            "quantiles scale by final / baseline (shift by the value where the baseline is "
            "0). Rows dated outside the run's forecast periods do not apply to it (a warning).",
        ),
        Contract(
            "regions",
            "Regions",
            (
                *_ids("region_id"),
                Column("name", "text", example="Franklin"),
                Column("population", "float", "people", required=False, example="1316756", ge=0),
                Column(
                    "geometry",
                    "geometry",
                    "EPSG:4326",
                    desc="polygon or multipolygon",
                    example="POLYGON((…))",
                ),
            ),
            key=("region_id",),
            min_rows=1,
            geo=True,
        ),
        Contract(
            "fcs",
            "Fulfillment centers",
            (
                *_ids("fc_id"),
                Column("name", "text", example="Etna, OH"),
                _lat(),
                _lon(),
                Column(
                    "capacity_units",
                    "float",
                    "units",
                    required=False,
                    desc="storage capacity",
                    example="250000",
                    ge=0,
                ),
                Column(
                    "capacity_m3",
                    "float",
                    "m³",
                    required=False,
                    desc="storage capacity",
                    example="1800",
                    ge=0,
                ),
                Column(
                    "handling_cost_per_unit",
                    "float",
                    "currency/unit",
                    required=False,
                    example="0.12",
                    ge=0,
                ),
                Column(
                    "fixed_cost",
                    "float",
                    "currency",
                    required=False,
                    desc="cost of opening (network design)",
                    example="50000",
                    ge=0,
                ),
            ),
            key=("fc_id",),
            min_rows=1,
            one_of=(("capacity_units", "capacity_m3"),),
        ),
        Contract(
            "skus",
            "SKUs",
            (
                *_ids("sku_id"),
                Column("name", "text", required=False, example="AMERICAN VODKAS"),
                Column("unit_volume_m3", "float", "m³/unit", example="0.0012", gt=0),
                Column(
                    "holding_cost_per_unit_day", "float", "currency/unit/day", example="0.01", ge=0
                ),
                Column("stockout_cost_per_unit", "float", "currency/unit", example="4.5", ge=0),
            ),
            key=("sku_id",),
            min_rows=1,
        ),
        Contract(
            "inventory",
            "Inventory on hand",
            (
                *_ids("fc_id", "sku_id"),
                Column("on_hand_units", "float", "units", example="1200", ge=0),
                Column(
                    "qty_units",
                    "float",
                    "units",
                    required=False,
                    desc="inbound quantity on its way: counted as on hand when its eta is "
                    "blank or on/before the plan date (later: left out, reported in summary.json)",
                    example="300",
                    ge=0,
                ),
                Column(
                    "eta",
                    "date",
                    required=False,
                    nullable=True,
                    desc="arrival date of qty_units",
                    example="2022-11-03",
                ),
            ),
            key=("fc_id", "sku_id"),
        ),
        Contract(
            "supply",
            "Supply",
            (
                Column("node_id", "id", desc="vendor / inbound cross-dock", example="XDOCK-1"),
                *_ids("sku_id"),
                Column("available_units", "float", "units", example="50000", ge=0),
                _lat(required=False),
                _lon(required=False),
            ),
            key=("node_id", "sku_id"),
            min_rows=1,
        ),
        Contract(
            "inbound_lanes",
            "Inbound lanes (optional)",
            (
                *_ids("node_id", "fc_id"),
                Column("cost_per_unit", "float", "currency/unit", example="0.35", ge=0),
                Column("lead_days", "float", "days", example="2", ge=0),
            ),
            key=("node_id", "fc_id"),
        ),
        Contract(
            "lanes",
            "Outbound lanes (optional)",
            (
                *_ids("fc_id", "region_id"),
                Column("cost_per_unit", "float", "currency/unit", example="0.80", ge=0),
                Column("transit_days", "float", "days", example="1", ge=0),
            ),
            key=("fc_id", "region_id"),
        ),
        Contract(
            "scenarios",
            "Demand scenarios",
            (
                *_ids("sku_id", "region_id", "scenario"),
                Column("prob", "float", "probability", example="0.2", ge=0, le=1),
                Column(
                    "qty_units",
                    "float",
                    "units",
                    desc="demand total over the window",
                    example="2400",
                    ge=0,
                ),
            ),
            key=("sku_id", "region_id", "scenario"),
            min_rows=1,
            note="Probabilities of a scenario id are the same for every key and sum to 1.",
        ),
        Contract(
            "stock_targets",
            "Stock targets (output)",
            (
                *_ids("fc_id", "sku_id"),
                Column("target_units", "int", "units", example="1800", ge=0),
                Column("on_hand_units", "float", "units", example="1200", ge=0),
                Column(
                    "expected_fill_rate",
                    "float",
                    "share 0–1",
                    nullable=True,
                    desc="expected share of demand served in the regions this FC is the "
                    "cheapest source for (blank: it is no region's cheapest source)",
                    example="0.97",
                    ge=0,
                    le=1,
                ),
            ),
            key=("fc_id", "sku_id"),
        ),
        Contract(
            "placement_orders",
            "Placement orders (output)",
            (
                *_ids("order_id", "sku_id", "from_node", "to_fc_id"),
                Column("qty_units", "int", "units", example="600", gt=0),
                Column("ship_by", "date", example="2022-10-30"),
            ),
            key=("order_id",),
        ),
        Contract(
            "stops",
            "Delivery stops",
            (
                *_ids("stop_id"),
                Column("name", "text", required=False, example="Kroger, N High St"),
                _lat(),
                _lon(),
                Column("demand_units", "float", "units", example="240", ge=0),
                Column("tw_start", "hhmm", "local time", desc="earliest arrival", example="08:00"),
                Column("tw_end", "hhmm", "local time", desc="latest arrival", example="12:00"),
                Column("service_min", "float", "minutes", desc="time on site", example="15", ge=0),
            ),
            key=("stop_id",),
            min_rows=1,
            max_rows="stops",
            ordered=(("tw_start", "tw_end", "time window ends before it starts"),),
        ),
        Contract(
            "fleet",
            "Fleet",
            (
                *_ids("vehicle_id"),
                Column("depot_id", "id", desc="FC the vehicle starts and ends at", example="OSU1"),
                Column("capacity_units", "float", "units", example="3000", gt=0),
                Column("shift_start", "hhmm", "local time", example="07:30"),
                Column("shift_end", "hhmm", "local time", example="17:30"),
                Column("cost_per_km", "float", "currency/km", example="0.65", ge=0),
                Column("cost_per_hour", "float", "currency/h", example="28", ge=0),
                Column("fixed_cost", "float", "currency/day", required=False, example="80", ge=0),
                Column(
                    "depot_lat", "float", "degrees", required=False, example="39.98", ge=-90, le=90
                ),
                Column(
                    "depot_lon",
                    "float",
                    "degrees",
                    required=False,
                    example="-83.01",
                    ge=-180,
                    le=180,
                ),
                Column("max_duration_min", "float", "minutes", required=False, example="540", gt=0),
                Column(
                    "break_start",
                    "hhmm",
                    "local time",
                    required=False,
                    nullable=True,
                    desc="earliest break start",
                    example="11:30",
                ),
                Column(
                    "break_end",
                    "hhmm",
                    "local time",
                    required=False,
                    nullable=True,
                    desc="latest break start",
                    example="13:30",
                ),
                Column("break_min", "float", "minutes", required=False, example="30", ge=0),
            ),
            key=("vehicle_id",),
            min_rows=1,
            max_rows="vehicles",
            ordered=(("shift_start", "shift_end", "shift ends before it starts"),),
        ),
        Contract(
            "traffic",
            "Traffic profile",
            (
                Column("hour", "int", "hour of day 0–23", example="8", ge=0, le=23),
                Column("weekday", "int", "0=Mon … 6=Sun", required=False, example="1", ge=0, le=6),
                Column(
                    "road_class",
                    "id",
                    required=False,
                    desc="OSM highway class or `all`",
                    example="primary",
                ),
                Column("speed_factor", "float", "× free-flow speed", example="0.82", gt=0, le=5),
            ),
            key=("weekday", "road_class", "hour"),
            min_rows=1,
        ),
        Contract(
            "routes",
            "Route plan (output)",
            (
                *_ids("vehicle_id"),
                Column("seq", "int", desc="1 = first stop", example="1", ge=0, le=1e6),
                *_ids("stop_id"),
                Column("arrival", "hhmm", "local time", example="08:41"),
                Column("departure", "hhmm", "local time", example="08:56"),
                Column(
                    "load_units", "float", "units on board after the stop", example="1800", ge=0
                ),
                Column("leg_km", "float", "km", example="6.4", ge=0),
                Column("leg_min", "float", "minutes", example="12.5", ge=0),
                Column("kind", "text", "", False, "start, stop or end", "stop"),
                _lat(required=False),
                _lon(required=False, example="-83.00"),
                Column(
                    "tw_start", "hhmm", "local time", False, "stop's window", "08:00", nullable=True
                ),
                Column(
                    "tw_end", "hhmm", "local time", False, "stop's window", "12:00", nullable=True
                ),
                Column("service_min", "float", "minutes", False, "service time", "7", ge=0),
                Column("wait_min", "float", "minutes", False, "waiting for the window", "0", ge=0),
                Column(
                    "break_min", "float", "minutes", False, "driver break on the leg", "0", ge=0
                ),
                Column(
                    "break_start",
                    "hhmm",
                    "local time",
                    False,
                    "when the break on the leg to this row starts",
                    "11:30",
                    nullable=True,
                ),
                Column("late_min", "float", "minutes", False, "after the window's end", "0", ge=0),
                Column("on_time", "bool", "", False, "simulated arrival within the window", "True"),
            ),
            key=("vehicle_id", "seq"),
        ),
        Contract(
            "replan-events",
            "Re-plan events (`shipahead route replan --events`)",
            (
                Column(
                    "type",
                    "text",
                    desc="what happened",
                    example="done",
                    choices=("done", "add", "cancel", "position", "delay", "incident"),
                ),
                Column(
                    "stop_id",
                    "id",
                    required=False,
                    nullable=True,
                    desc="done, add, cancel",
                    example="S001",
                ),
                Column(
                    "vehicle_id",
                    "id",
                    required=False,
                    nullable=True,
                    desc="position, delay (opt. done)",
                    example="VAN-1",
                ),
                _lat(required=False, desc="add, position"),
                _lon(required=False, desc="add, position", example="-83.00"),
                Column("demand_units", "float", "units", False, "add", "240", ge=0),
                Column("tw_start", "hhmm", "local time", False, "add", "08:00", nullable=True),
                Column(
                    "tw_end",
                    "hhmm",
                    "local time",
                    False,
                    "add (blank = open)",
                    "12:00",
                    nullable=True,
                ),
                Column("service_min", "float", "minutes", False, "add", "10", ge=0),
                Column("delay_min", "float", "minutes", False, "delay", "25", ge=0),
                Column("factor", "float", "× speed", False, "incident", "0.5", gt=0, le=1),
                Column(
                    "road_class",
                    "id",
                    "",
                    False,
                    "incident (OSM highway class)",
                    "primary",
                    nullable=True,
                ),
                Column(
                    "area_lat", "float", "degrees", False, "incident area", "39.97", ge=-90, le=90
                ),
                Column(
                    "area_lon", "float", "degrees", False, "incident area", "-83.0", ge=-180, le=180
                ),
                Column(
                    "area_radius_m", "float", "m", False, "incident area", "800", gt=0, le=100_000
                ),
                Column(
                    "start",
                    "hhmm",
                    "local time",
                    False,
                    "incident (blank = --at)",
                    "09:30",
                    nullable=True,
                ),
                Column(
                    "end",
                    "hhmm",
                    "local time",
                    False,
                    "incident (blank = open)",
                    "11:00",
                    nullable=True,
                ),
            ),
            note="One row per event; columns that none of the file's event types use may be "
            "left out, cells a type does not use may be blank. `shipahead validate` picks this "
            "contract for a file with a `type` column and no `ds` column.",
        ),
        Contract(
            "order_status",
            "Order statuses from an ERP (`shipahead orders import`)",
            (
                Column(
                    "order_id", "id", desc="the planner's order id", example="PO-3F2A9C1B7E5D4A60"
                ),
                Column(
                    "status",
                    "text",
                    desc="new status (forward only)",
                    example="confirmed",
                    choices=("approved", "confirmed", "received", "cancelled"),
                ),
                Column(
                    "quantity",
                    "int",
                    "units",
                    required=False,
                    nullable=True,
                    desc="quantity the ERP confirmed (blank: unchanged)",
                    example="600",
                    ge=0,
                ),
            ),
            key=("order_id",),
            max_rows="order_status_rows",
            note="One row per order; a row repeating an order's current status changes nothing, "
            "so the same export may be imported twice. A status that would go backwards "
            "(e.g. received → confirmed) rejects the whole file.",
        ),
    )
}

#: kinds that `shipahead validate --kind` accepts
KINDS: tuple[str, ...] = tuple(CONTRACTS)


def _is_blank(s: pd.Series) -> pd.Series:
    return s.isna() | (s.astype(str).str.strip() == "")


def _parse(col: Column, s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse a raw column; returns (values, mask of cells that did not parse)."""
    blank = _is_blank(s)
    if col.kind in ("id", "text"):
        out = s.where(blank, s.astype(str).str.strip())
        return out, pd.Series(False, index=s.index)
    if col.kind in ("int", "float"):
        out = pd.to_numeric(s, errors="coerce")
        if not pd.api.types.is_numeric_dtype(out) or pd.api.types.is_bool_dtype(out):
            out = pd.to_numeric(out.astype(object), errors="coerce").astype(float)
        # inf, -inf and overflowing numbers such as 1e999 are not values of any column
        nonfinite = out.notna() & ~np.isfinite(out.astype(float))
        out = out.where(~nonfinite)
        bad = (out.isna() & ~blank) | nonfinite
        if col.kind == "int":
            frac = out.notna() & (out != np.floor(out.fillna(0)))
            bad |= frac
        return out, bad
    if col.kind == "bool":
        m = s.astype(str).str.strip().str.lower()
        out = m.map({"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False})
        return out, out.isna() & ~blank
    if col.kind == "date":
        if pd.api.types.is_datetime64_any_dtype(s):
            return s, pd.Series(False, index=s.index)
        out = pd.to_datetime(s.astype(str).str.strip(), errors="coerce", format="mixed")
        return out, out.isna() & ~blank
    if col.kind == "hhmm":
        from shipahead.timeofday import parse_clock  # the one rule, shared with the outputs

        def minutes(x: object) -> float:
            try:
                t = parse_clock(str(x))
            except ValueError:
                return np.nan
            return np.nan if t is None else t / 60.0

        out = pd.Series(
            [np.nan if b else minutes(x) for x, b in zip(s, blank, strict=True)],
            index=s.index,
            dtype=float,
        )
        return out, out.isna() & ~blank
    return s, pd.Series(False, index=s.index)


def _is_nonfinite(raw: object) -> bool:
    """Does ``raw`` read as a number that is not finite (``inf``, ``nan``, ``1e999``)?"""
    try:
        return not np.isfinite(float(str(raw).strip()))
    except ValueError:
        return False


_KIND_TEXT = {
    "int": "a whole number",
    "float": "a number",
    "date": "a date (YYYY-MM-DD)",
    "hhmm": "a time of day (HH:MM, 00:00–47:59; 24:00–47:59 = the next day)",
    "bool": "true/false",
}


def _range_text(col: Column) -> str:
    parts = []
    if col.gt is not None:
        parts.append(f"> {col.gt:g}")
    if col.ge is not None:
        parts.append(f"≥ {col.ge:g}")
    if col.upper is not None:
        parts.append(f"≤ {col.upper:g}")
    unit = f" {col.unit}" if col.unit else ""
    return " and ".join(parts) + unit


def _schema(contract: Contract, present: list[str]):
    """A pandera schema for the parsed frame (ranges, empties, duplicate keys)."""
    import pandera.pandas as pa

    cols = {}
    for col in contract.columns:
        if col.name not in present or col.kind == "geometry":
            continue
        checks = []
        if col.ge is not None:
            checks.append(pa.Check.ge(col.ge))
        if col.gt is not None:
            checks.append(pa.Check.gt(col.gt))
        if col.upper is not None:
            checks.append(pa.Check.le(col.upper))
        cols[col.name] = pa.Column(
            checks=checks or None,
            nullable=col.nullable or not col.required,
            required=False,
        )
    key = [k for k in contract.key if k in present]
    required_key = [k for k in contract.key if (c := contract.column(k)) and c.required]
    complete = bool(key) and all(k in present for k in required_key)
    return pa.DataFrameSchema(
        cols,
        unique=key if complete else None,
        report_duplicates="exclude_first",
    )


def coerce_table(df: pd.DataFrame, contract: Contract) -> tuple[pd.DataFrame, list[Problem]]:
    """Parse every contract column of ``df`` to its type; list the cells that do not parse.

    Columns not in the contract are kept unchanged. Times of day (``hhmm``) become minutes
    from midnight (float) in a column of the same name.
    """
    out = df.copy()
    problems: list[Problem] = []
    for col in contract.columns:
        if col.name not in out.columns or col.kind == "geometry":
            continue
        values, bad = _parse(col, out[col.name])
        for i in np.flatnonzero(bad.to_numpy())[:1000]:
            raw = out[col.name].iloc[i]
            what = f"{str(raw)!r} is not {_KIND_TEXT.get(col.kind, col.kind)}"
            if col.kind in ("int", "float") and _is_nonfinite(raw):
                what += " (infinite, NaN or too large: values must be finite)"
            problems.append(
                Problem(
                    col.name,
                    int(i),
                    what,
                    f"write {_KIND_TEXT.get(col.kind, col.kind)}, e.g. {col.example}",
                    str(raw),
                )
            )
        out[col.name] = values
    return out, problems


def check_table(df: pd.DataFrame, contract: Contract, limit: int = 50) -> list[Problem]:
    """Every problem of ``df`` against ``contract`` (at most ``limit``), in a stable order."""
    import pandera.pandas as pa
    from shipahead.cli.limits import env_name
    from shipahead.cli.limits import limit as size_limit

    problems: list[Problem] = []
    present = [c for c in df.columns]
    if len(df) < contract.min_rows:
        problems.append(
            Problem(
                None,
                None,
                f"has no data rows ({contract.title.lower()} needs at least {contract.min_rows})",
                "add at least one row below the header",
            )
        )
    if contract.max_rows is not None and len(df) > (most := size_limit(contract.max_rows)):
        problems.append(
            Problem(
                None,
                None,
                f"has {len(df):,} rows, above the limit of {most:,.0f} {contract.max_rows}",
                f"split the input, or raise the limit with {env_name(contract.max_rows)}=N",
            )
        )
        return problems
    for col in contract.columns:
        if col.required and col.name not in present:
            if col.kind == "geometry":
                fix = "give a file with polygon geometries (GeoJSON or GeoParquet)"
            else:
                fix = f"add a column '{col.name}' ({col.unit or col.kind}), e.g. {col.example}"
            problems.append(Problem(col.name, None, "required column is missing", fix))
    for group in contract.one_of:
        if not any(g in present for g in group):
            problems.append(
                Problem(
                    None, None, f"needs one of the columns {', '.join(group)}", f"add '{group[0]}'"
                )
            )
    if contract.geo and "geometry" in present:
        geom = df["geometry"]
        for i, g in enumerate(geom):
            if (
                g is None
                or getattr(g, "is_empty", True)
                or g.geom_type not in ("Polygon", "MultiPolygon")
            ):
                problems.append(
                    Problem(
                        "geometry",
                        i,
                        "is not a polygon",
                        "give each region a Polygon or MultiPolygon",
                    )
                )
    parsed, parse_problems = coerce_table(df, contract)
    problems.extend(parse_problems)
    bad_cells = {(p.column, p.row) for p in parse_problems}

    for col in contract.columns:
        if col.name in present and not (col.nullable or not col.required):
            blank = _is_blank(df[col.name]) if col.kind != "geometry" else df[col.name].isna()
            for i in np.flatnonzero(blank.to_numpy())[:limit]:
                problems.append(
                    Problem(col.name, int(i), "is empty", f"fill in a value, e.g. {col.example}")
                )
                bad_cells.add((col.name, int(i)))

    for col in contract.columns:
        if col.choices and col.name in present:
            v = df[col.name].astype(str).str.strip().str.lower()
            bad = ~v.isin(col.choices) & ~_is_blank(df[col.name])
            for i in np.flatnonzero(bad.to_numpy())[:limit]:
                problems.append(
                    Problem(
                        col.name,
                        int(i),
                        f"{df[col.name].iloc[i]!r} is not one of {', '.join(col.choices)}",
                        f"use one of {', '.join(col.choices)}",
                    )
                )

    schema = _schema(contract, present)
    try:
        schema.validate(parsed.drop(columns=["geometry"], errors="ignore"), lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        for rec in fc.itertuples(index=False):
            check = str(rec.check)
            row = None if pd.isna(rec.index) else int(rec.index)
            column = None if rec.column is None or pd.isna(rec.column) else str(rec.column)
            if check in ("not_nullable",):
                continue  # reported as "is empty" above, with the raw value
            if "uniqueness" in check or check == "duplicates":
                cols_k = [k for k in contract.key if k in present]
                key = ", ".join(cols_k)
                vals = (
                    ", ".join(str(df.iloc[row][k]) for k in cols_k)
                    if row is not None
                    else str(rec.failure_case)
                )
                problems.append(
                    Problem(key, row, f"duplicate key ({vals})", f"keep one row per ({key})")
                )
                continue
            if (column, row) in bad_cells:
                continue
            col = contract.column(column) if column else None
            if col is None:
                continue
            raw = df.iloc[row][column] if row is not None else rec.failure_case
            problems.append(
                Problem(
                    column,
                    row,
                    f"value {raw} is out of range",
                    f"must be {_range_text(col)}",
                    str(raw),
                )
            )
    # uniqueness on a frame may be reported once per column set: de-duplicate
    flagged = {(p.column, p.row) for p in problems}
    for a, b, msg in contract.ordered:
        if a in parsed.columns and b in parsed.columns:
            va = pd.to_numeric(parsed[a], errors="coerce")
            vb = pd.to_numeric(parsed[b], errors="coerce")
            for i in np.flatnonzero((va > vb).to_numpy())[:limit]:
                if (a, int(i)) in flagged or (b, int(i)) in flagged:
                    continue  # a cell out of range is reported once, not again as disorder
                problems.append(Problem(f"{a}/{b}", int(i), msg, f"make {a} ≤ {b}"))
    seen: set[tuple] = set()
    unique: list[Problem] = []
    for p in sorted(problems, key=lambda p: (-1 if p.row is None else p.row, p.column or "")):
        k = (p.column, p.row, p.message)
        if k not in seen:
            seen.add(k)
            unique.append(p)
    return unique[:limit]


def contracts_markdown() -> str:
    """The data-format reference (docs/data-formats.md body) rendered from `CONTRACTS`."""
    from shipahead.cli.limits import LIMITS, env_name

    lines: list[str] = []
    for c in CONTRACTS.values():
        lines.append(f"## {c.title} — `{c.name}`\n")
        if c.key:
            lines.append(f"Key (unique together): `{', '.join(c.key)}`.")
        if c.note:
            lines.append(c.note)
        for group in c.one_of:
            lines.append(f"At least one of: {', '.join(f'`{g}`' for g in group)}.")
        for a, b, msg in c.ordered:
            lines.append(f"Rule: `{a}` ≤ `{b}` ({msg} otherwise).")
        if c.min_rows:
            lines.append(f"At least {c.min_rows} data row.")
        if c.max_rows:
            lines.append(
                f"At most {LIMITS[c.max_rows].default:,.0f} rows (limit `{c.max_rows}`, "
                f"`{env_name(c.max_rows)}`)."
            )
        lines.append("")
        lines.append("| column | type | unit | required | allowed | example | meaning |")
        lines.append("|---|---|---|---|---|---|---|")
        for col in c.columns:
            rng = _range_text(col) if (col.ge, col.gt, col.upper) != (None, None, None) else ""
            if col.choices:
                rng = ", ".join(f"`{c}`" for c in col.choices)
            lines.append(
                f"| `{col.name}` | {col.kind} | {col.unit} | {'yes' if col.required else 'no'} "
                f"| {rng} | `{col.example}` | {col.desc} |"
            )
        lines.append("")
    return "\n".join(lines)


if (
    __name__ == "__main__"
):  # pragma: no cover - `python -m shipahead.cli.contracts` prints the reference
    print(contracts_markdown())

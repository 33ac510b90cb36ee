"""The planner's accuracy tables: planners' overrides per run, and reading stored forecasts back
for scoring.

``planner_overrides`` holds, per run, every forecast row a planner overrode: the statistical
``baseline``, the ``final`` value the run used, who and why (units of the history). Together
with the run's forecasts (``planner_forecasts``: variant ``final`` = the champion after
overrides, ``challenger`` = the challenger, stored but not used) they are what
``shipahead accuracy`` scores once the actuals arrive.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pandas as pd
from shipahead.store.runs import PlannerForecast, PlannerKpi, PlannerRun
from shipahead.store.schema import Base
from sqlalchemy import Date, Float, ForeignKey, String, Text, delete, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

__all__ = [
    "CHALLENGER",
    "PlannerOverride",
    "load_forecasts",
    "write_challenger",
    "write_forecast_extras",
    "write_overrides",
]

#: ``planner_forecasts.variant`` of the challenger's forecast.
CHALLENGER = "challenger"
_Q = ("q05", "q10", "q25", "q50", "q75", "q90", "q95")
_ID = 128


class PlannerOverride(Base):
    """A planner's override of one forecast row of a run (units; who, why)."""

    __tablename__ = "planner_overrides"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("planner_runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    region_id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    sku_id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    ds: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    baseline: Mapped[float] = mapped_column(Float)
    final: Mapped[float] = mapped_column(Float)
    user: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _text(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    s = str(v)
    return s if s.strip() else None


def write_overrides(session: Session, run_id: str, as_of: dt.date, forecast: pd.DataFrame) -> int:
    """Replace the run's overrides by the overridden rows of ``forecast`` (the forecast with
    ``baseline``, ``override_user`` and ``override_comment``); returns the rows written."""
    session.execute(delete(PlannerOverride).where(PlannerOverride.run_id == run_id))
    if "override_user" not in forecast:
        return 0
    hit = forecast[forecast["override_user"].notna()]
    rows = [
        {
            "run_id": run_id,
            "region_id": str(r["region_id"]),
            "sku_id": str(r["sku_id"]),
            "ds": pd.Timestamp(r["ds"]).date(),
            "as_of": as_of,
            "baseline": _num(r["baseline"]),
            "final": _num(r["mean"]),
            "user": str(r["override_user"]),
            "comment": _text(r.get("override_comment")),
        }
        for r in hit.to_dict("records")
    ]
    if rows:
        session.execute(insert(PlannerOverride), rows)
    return len(rows)


def write_challenger(
    session: Session, run_id: str, as_of: dt.date, challenger: pd.DataFrame | None
) -> int:
    """Replace the run's challenger forecast (``planner_forecasts`` variant ``challenger``);
    ``lag`` counts periods ahead per key as for the champion. Returns the rows written."""
    session.execute(
        delete(PlannerForecast).where(
            PlannerForecast.run_id == run_id, PlannerForecast.variant == CHALLENGER
        )
    )
    if challenger is None or challenger.empty:
        return 0
    fc = challenger.copy()
    fc["ds"] = pd.to_datetime(fc["ds"])
    fc = fc.sort_values(["region_id", "sku_id", "ds"], kind="stable")
    fc["lag"] = fc.groupby(["region_id", "sku_id"], sort=False).cumcount() + 1
    rows = [
        {
            "run_id": run_id,
            "variant": CHALLENGER,
            "region_id": str(r["region_id"]),
            "sku_id": str(r["sku_id"]),
            "ds": r["ds"].date(),
            "as_of": as_of,
            "lag": int(r["lag"]),
            "model": _text(r.get("model")),
            "mean": _num(r["mean"]),
            **{q: _num(r.get(q)) for q in _Q},
        }
        for r in fc.to_dict("records")
    ]
    session.execute(insert(PlannerForecast), rows)
    return len(rows)


def write_forecast_extras(
    session: Session, run_id: str, as_of: dt.date, forecast_dir: Path
) -> dict[str, int]:
    """Store what the forecast step in ``forecast_dir`` wrote beside the champion: the
    overrides (from ``forecast.parquet``) and the challenger (``challenger.parquet``), in the
    caller's transaction. Returns the rows written per table."""
    fc_path = forecast_dir / "forecast.parquet"
    ch_path = forecast_dir / "challenger.parquet"
    fc = pd.read_parquet(fc_path) if fc_path.is_file() else pd.DataFrame()
    ch = pd.read_parquet(ch_path) if ch_path.is_file() else None
    return {
        "overrides": write_overrides(session, run_id, as_of, fc),
        "challenger": write_challenger(session, run_id, as_of, ch),
    }


def load_forecasts(
    session: Session, *, last: int | None = None, scenario: str | None = None
) -> tuple[pd.DataFrame, dict]:
    """Stored forecasts of the last ``last`` runs (by ``as_of``, then write order) for scoring;
    with ``scenario``, only the runs of the scenario of that name.

    Returns
    -------
    (DataFrame, dict)
        ``run_id, as_of, role (champion | challenger), region_id, sku_id, ds, model, mean,
        q05 … q95, baseline, override_user`` and per run ``{"freq": …, "season_length": …}``
        (from the run's record and its forecast KPIs; ``None`` where not stored).
    """
    q = select(PlannerRun.run_id, PlannerRun.as_of, PlannerRun.seq, PlannerRun.freq).order_by(
        PlannerRun.as_of, PlannerRun.seq
    )
    if scenario is not None:
        q = q.where(PlannerRun.scenario == scenario)
    runs = session.execute(q).all()
    if last is not None:
        runs = runs[-last:] if last > 0 else []
    ids = [r.run_id for r in runs]
    info: dict[str, dict[str, Any]] = {r.run_id: {"freq": r.freq} for r in runs}
    cols = ["run_id", "as_of", "role", "region_id", "sku_id", "ds", "model", "mean", *_Q]
    if not ids:
        return pd.DataFrame(columns=[*cols, "baseline", "override_user"]), info
    for run_id, value in session.execute(
        select(PlannerKpi.run_id, PlannerKpi.value).where(
            PlannerKpi.run_id.in_(ids),
            PlannerKpi.step == "forecast",
            PlannerKpi.name == "season_length",
        )
    ):
        info[run_id]["season_length"] = None if value is None else int(value)
    f = PlannerForecast
    stmt = select(
        f.run_id,
        f.as_of,
        f.variant,
        f.region_id,
        f.sku_id,
        f.ds,
        f.model,
        f.mean,
        *(getattr(f, q) for q in _Q),
    ).where(f.run_id.in_(ids), f.variant.in_(("final", CHALLENGER)))
    fc = pd.DataFrame(
        session.execute(stmt).all(), columns=["run_id", "as_of", "variant", *cols[3:]]
    )
    fc["role"] = fc.pop("variant").map({"final": "champion", CHALLENGER: "challenger"})
    o = PlannerOverride
    ov = pd.DataFrame(
        session.execute(
            select(o.run_id, o.region_id, o.sku_id, o.ds, o.baseline, o.user).where(
                o.run_id.in_(ids)
            )
        ).all(),
        columns=["run_id", "region_id", "sku_id", "ds", "baseline", "override_user"],
    ).assign(role="champion")
    fc = fc.merge(ov, on=["run_id", "role", "region_id", "sku_id", "ds"], how="left")
    fc["baseline"] = fc["baseline"].astype(float).fillna(fc["mean"].astype(float))
    for c in ("as_of", "ds"):
        fc[c] = pd.to_datetime(fc[c])
    fc = fc.sort_values(["as_of", "run_id", "role", "region_id", "sku_id", "ds"], kind="stable")
    return fc[[*cols, "baseline", "override_user"]].reset_index(drop=True), info

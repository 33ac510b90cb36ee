"""The accuracy tables of the store: overrides and challenger rows round-trip; the migrations
match the models."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from shipahead.store import open_store
from shipahead.store.accuracy import load_forecasts, write_challenger, write_overrides
from shipahead.store.runs import PlannerForecast, PlannerRun
from shipahead.store.schema import Base, load_models

Q = ("q05", "q10", "q25", "q50", "q75", "q90", "q95")
KEY = ["run_id", "variant", "region_id", "sku_id", "ds", "as_of", "lag", "model"]


def _fc(mean: float, user: str | None = None) -> pd.DataFrame:
    ds = pd.date_range("2024-03-04", periods=2, freq="W-MON")
    f = pd.DataFrame({"region_id": "R1", "sku_id": "A", "ds": ds, "model": "M", "mean": mean})
    for i, q in enumerate(Q):
        f[q] = mean - 3 + i
    f["baseline"] = 10.0
    f["override_user"] = [user, None]
    f["override_comment"] = ["promo" if user else None, None]
    return f


def _write(store, run_id: str, as_of: dt.date, fc: pd.DataFrame, ch: pd.DataFrame) -> None:
    with store.session() as s:
        if s.get(PlannerRun, run_id) is None:
            s.add(
                PlannerRun(
                    run_id=run_id,
                    as_of=as_of,
                    seq=int(run_id[-1]),
                    scenario="t",
                    scenario_sha256="0" * 64,
                    freq="W-MON",
                    manifest="{}",
                )
            )
            s.flush()
        s.execute(PlannerForecast.__table__.delete().where(PlannerForecast.run_id == run_id))
        rows = fc.assign(run_id=run_id, variant="final", as_of=as_of, lag=[1, 2])
        rows["ds"] = rows["ds"].dt.date
        s.execute(
            PlannerForecast.__table__.insert(),
            rows[[*KEY, "mean", *Q]].to_dict("records"),
        )
        write_overrides(s, run_id, as_of, fc)
        write_challenger(s, run_id, as_of, ch)


def test_overrides_and_challenger_round_trip_and_upsert(tmp_path: Path) -> None:
    _round_trip(open_store(f"sqlite:///{tmp_path / 's.db'}"))


def test_round_trip_on_postgres(pg_url: str) -> None:
    _round_trip(open_store(pg_url))


def _round_trip(store) -> None:
    as_of = dt.date(2024, 2, 26)
    for _ in range(2):  # written twice: the same rows
        _write(store, "run1", as_of, _fc(12.0, "ann"), _fc(9.0).drop(columns="baseline"))
    with store.session() as s:
        fc, info = load_forecasts(s)
    assert info["run1"]["freq"] == "W-MON"
    assert len(fc) == 4
    champ = fc[fc["role"] == "champion"]
    assert list(champ["mean"]) == [12.0, 12.0]
    assert list(champ["baseline"]) == [10.0, 12.0]  # not overridden: baseline = final
    assert list(champ["override_user"].fillna("")) == ["ann", ""]
    assert list(fc[fc["role"] == "challenger"]["mean"]) == [9.0, 9.0]
    with store.session() as s:
        assert load_forecasts(s, last=0)[0].empty
    store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_match_the_models(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    if backend == "postgresql":
        url = request.getfixturevalue("pg_url")
    store = open_store(url)
    load_models()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    mine = [d for d in diff if "planner_overrides" in repr(d)]
    assert mine == []

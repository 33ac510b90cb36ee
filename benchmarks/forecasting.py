"""Forecasting benchmark on real weekly Walmart store × department sales (issue 3 figures).

Data: ``../shared/sample-sources/demand/walmart_store_dept_weekly.parquet`` (Kaggle "Walmart
Recruiting – Store Sales Forecasting"; read, never copied into the repo). Series with all 135
weeks (1,876 of 2,284); ``--max-series N`` takes an evenly spaced sample of N of them.

Accuracy — rolling origin, 3 outer windows of 8 weeks (the last 24 weeks), season 52:

* baselines and every candidate model: one statsforecast ``cross_validation`` over the outer
  windows (80/90 % intervals as the model gives them; conformal for the intermittent models);
* ``auto``: for each outer window, ``forecasting.forecast`` is run on the history *before* the
  window (its own 3-window inner backtest selects models and calibrates intervals), and its
  forecast is scored on the window — a nested, honest evaluation;
* MASE = MAE / in-sample seasonal-naive MAE (lag 52) of the history before the window; coverage
  = share of actuals inside the interval; window totals = sums over the first ``W`` days
  (W = 14 → 2 weeks; W = 28 → 4 weeks), coverage of their 80/90 % intervals by the backtested
  method (:func:`forecasting.window_total_quantiles`) and by the contract-only method
  (:func:`forecasting.window_quantiles_from_forecast`, comonotonic and independent).

Speed — the full ``auto`` pipeline (backtest + final fit) on the whole history: series per
second, and its overhead over calling statsforecast directly with the same models and calls.

Usage::

    python benchmarks/forecasting.py [--max-series N] [--jobs 2] [--arima-sample 60]
        [--out docs/benchmarks/forecasting.md]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from shipahead.forecasting import seasonal_scales

from shipahead import forecasting as F

ROOT = Path(__file__).resolve().parents[1]

DATA = ROOT.parent / "shared" / "sample-sources" / "demand" / "walmart_store_dept_weekly.parquet"
H, WINDOWS, SEASON, FREQ = 8, 3, 52, "W-FRI"


def load(max_series: int | None) -> pd.DataFrame:
    d = pd.read_parquet(DATA, columns=["region_id", "sku_id", "ds", "y"])
    d["ds"] = pd.to_datetime(d["ds"])
    n = d.groupby(["region_id", "sku_id"]).size()
    full = n[n == n.max()].index
    d = d.set_index(["region_id", "sku_id"]).loc[full].reset_index()
    if max_series and max_series < len(full):
        # an evenly spaced (deterministic) sample of the sorted keys
        keys = sorted(full)
        idx = np.linspace(0, len(keys) - 1, max_series).round().astype(int)
        keep = [keys[i] for i in sorted(set(idx))]
        d = d.set_index(["region_id", "sku_id"]).loc[keep].reset_index()
    return d.sort_values(["region_id", "sku_id", "ds"]).reset_index(drop=True)


def _uid(df: pd.DataFrame) -> pd.Series:
    return df["region_id"] + "/" + df["sku_id"]


def _score(pred: pd.DataFrame, hist: pd.DataFrame, cutoff) -> pd.DataFrame:
    """Per-series MASE and interval hits for forecasts ``uid, ds, mean, q05, q10, q90, q95``."""
    train = hist[hist["ds"] <= cutoff]
    sc = seasonal_scales(
        train.assign(unique_id=_uid(train))[["unique_id", "ds", "y"]], [None], SEASON, "mase"
    ).set_index("unique_id")["scale"]
    act = hist.assign(unique_id=_uid(hist))[["unique_id", "ds", "y"]]
    m = pred.merge(act, on=["unique_id", "ds"], how="inner")
    m["ae"] = (m["mean"] - m["y"]).abs()
    m["in80"] = (m["y"] >= m["q10"]) & (m["y"] <= m["q90"])
    m["in90"] = (m["y"] >= m["q05"]) & (m["y"] <= m["q95"])
    g = m.groupby("unique_id").agg(mae=("ae", "mean"), c80=("in80", "mean"), c90=("in90", "mean"))
    g["mase"] = g["mae"] / sc.reindex(g.index)
    return g


def baselines(hist: pd.DataFrame, jobs: int, arima_sample: int) -> tuple[pd.DataFrame, dict]:
    """Every statsforecast model over the 3 outer windows; per-model time per series-fit."""
    from statsforecast import StatsForecast
    from statsforecast.models import Naive

    df = hist.assign(unique_id=_uid(hist))[["unique_id", "ds", "y"]]
    n = df["unique_id"].nunique()
    names = [
        "Naive",
        "SeasonalNaive",
        "AutoETS",
        "AutoTheta",
        "MSTL",
        "MSTL_SES",
        "MSTL_SES_log",
        "CrostonOptimized",
        "ADIDA",
        "IMAPA",
        "TSB",
    ]
    rows, cost = [], {}
    cvs = {}
    for name in [*names, "AutoARIMA"]:
        sub = df
        if name == "AutoARIMA":
            if arima_sample <= 0:
                continue
            ids = sorted(df["unique_id"].unique())[:: max(1, n // arima_sample)][:arima_sample]
            sub = df[df["unique_id"].isin(ids)]
        (m,) = F.models.make_models(
            (name,), season_length=SEASON, freq_days=7, n_min=135 - H * WINDOWS, horizon=H
        )
        sf = StatsForecast(models=[m], freq=FREQ, n_jobs=jobs, fallback_model=Naive())
        t = time.perf_counter()
        cv = sf.cross_validation(
            df=sub, h=H, n_windows=WINDOWS, step_size=H, level=[80, 90], refit=True
        )
        dt = time.perf_counter() - t
        ns = sub["unique_id"].nunique()
        cost[name] = dt * jobs / (ns * WINDOWS)  # core-seconds per series and fit
        cvs[name] = cv
        print(f"  {name}: {dt:.1f}s for {ns} series × {WINDOWS} fits", flush=True)
    # the global model (one LightGBM across the series) over the outer windows
    t = time.perf_counter()
    gm = F.global_model.GlobalModel(
        F.ForecastSettings(horizon=H, windows=WINDOWS, jobs=jobs), FREQ, SEASON, 7.0
    )
    cvs["GlobalLGBM"] = gm.cross_validation(df, 135 - H * WINDOWS)
    cost["GlobalLGBM"] = (time.perf_counter() - t) * jobs / (n * WINDOWS)
    print(f"  GlobalLGBM: {time.perf_counter() - t:.1f}s for {n} series", flush=True)
    # TopDown: share of the SKU total (over the sample's stores) × MSTL_SES_log of the total,
    # computed by the pipeline's own code over the outer windows
    t = time.perf_counter()
    cvs["TopDown"] = top_down_cv(df, cvs["MSTL_SES_log"], jobs)
    cost["TopDown"] = (time.perf_counter() - t) * jobs / (n * WINDOWS)
    # the fixed mean ensemble named in the issue
    ens = cvs["SeasonalNaive"][["unique_id", "ds", "cutoff", "y"]].copy()
    parts = ("SeasonalNaive", "AutoTheta", "MSTL")
    for col in ("", "-lo-80", "-hi-80", "-lo-90", "-hi-90"):
        ens[f"Mean(SN,Theta,MSTL){col}"] = np.mean(
            [cvs[p][f"{p}{col}"].to_numpy() for p in parts], axis=0
        )
    cvs["Mean(SN,Theta,MSTL)"] = ens
    # the plain average of MSTL and the global model named in issue 18
    mg = cvs["MSTL"][["unique_id", "ds", "cutoff", "y"]].copy()
    mg["cutoff"] = pd.to_datetime(mg["cutoff"])
    g = cvs["GlobalLGBM"].drop(columns="y")
    mg = mg.merge(
        cvs["MSTL"].drop(columns="y").assign(cutoff=mg["cutoff"]), on=["unique_id", "ds", "cutoff"]
    ).merge(g, on=["unique_id", "ds", "cutoff"], how="left")
    for col in ("", "-lo-80", "-hi-80", "-lo-90", "-hi-90"):
        mg[f"Mean(MSTL,GlobalLGBM){col}"] = (mg[f"MSTL{col}"] + mg[f"GlobalLGBM{col}"]) / 2
    cvs["Mean(MSTL,GlobalLGBM)"] = mg
    for name, cv in cvs.items():
        for cut, w in cv.groupby("cutoff"):
            pred = pd.DataFrame(
                {
                    "unique_id": w["unique_id"],
                    "ds": w["ds"],
                    "mean": np.maximum(w[name], 0),
                    "q10": w.get(f"{name}-lo-80", w[name]),
                    "q90": w.get(f"{name}-hi-80", w[name]),
                    "q05": w.get(f"{name}-lo-90", w[name]),
                    "q95": w.get(f"{name}-hi-90", w[name]),
                }
            )
            g = _score(pred, hist, cut)
            g["model"] = name
            g["cutoff"] = cut
            rows.append(g.reset_index())
    return pd.concat(rows, ignore_index=True), cost


def top_down_cv(df: pd.DataFrame, base_cv: pd.DataFrame, jobs: int) -> pd.DataFrame:
    """The ``TopDown`` candidate over the outer windows (pipeline code, outer cutoffs)."""
    from shipahead.forecasting import ForecastCore, TopDownCandidate

    core = ForecastCore(
        F.ForecastSettings(horizon=H, windows=WINDOWS, jobs=jobs), FREQ, SEASON, 7.0
    )
    core.sku_of = pd.Series(df["unique_id"].str.split("/").str[1].to_numpy(), index=df["unique_id"])
    core.sku_of = core.sku_of[~core.sku_of.index.duplicated()]
    td = TopDownCandidate.make(core, df, ["TopDown", "MSTL_SES_log"])
    kw = {"season_length": SEASON, "freq_days": 7, "horizon": H}
    cv = base_cv.copy()
    cv["cutoff"] = pd.to_datetime(cv["cutoff"])
    out = td.backtest(cv, 135 - H * WINDOWS, kw)
    keep = ["unique_id", "ds", "cutoff", "y", "TopDown"]
    keep += [f"TopDown-{b}" for b in ("lo-80", "hi-80", "lo-90", "hi-90")]
    return out[keep]


def nested_auto(hist: pd.DataFrame, jobs: int, windows_days=(14, 28), **overrides):
    """``forecasting.forecast`` on the history before each outer window, scored on it."""
    dates = np.sort(hist["ds"].unique())
    cutoffs = [dates[-1 - H * k] for k in range(WINDOWS, 0, -1)]
    rows, wrows, times, selected, labels = [], [], [], [], []
    p = np.array([0.05, 0.10, 0.90, 0.95])
    for cut in cutoffs:
        train = hist[hist["ds"] <= cut]
        t = time.perf_counter()
        res = F.forecast(
            train,
            F.ForecastSettings(horizon=H, freq=FREQ, windows=WINDOWS, jobs=jobs, **overrides),
        )
        times.append(time.perf_counter() - t)
        fc = res.forecast.assign(unique_id=_uid(res.forecast))
        g = _score(fc, hist, cut)
        g["model"] = "auto"
        g["cutoff"] = cut
        rows.append(g.reset_index())
        picked = res.forecast.drop_duplicates(["region_id", "sku_id"])["model"]
        selected.append(picked)
        labels.append((pd.Timestamp(cut), picked.value_counts().to_dict()))
        fut = hist[hist["ds"] > cut]
        for wd in windows_days:
            k = wd // 7
            first = np.sort(fut["ds"].unique())[:k]
            act = (
                fut[fut["ds"].isin(first)].groupby(["region_id", "sku_id"])["y"].sum().rename("act")
            )
            methods = {
                "backtested": F.window_total_quantiles(res, wd, p),
                "contract/comonotonic": F.window_quantiles_from_forecast(
                    res.forecast, wd, p, freq=FREQ
                ),
                "contract/independent": F.window_quantiles_from_forecast(
                    res.forecast, wd, p, freq=FREQ, dependence="independent"
                ),
            }
            for meth, q in methods.items():
                m = q.merge(act.reset_index(), on=["region_id", "sku_id"], how="inner")
                wrows.append(
                    {
                        "window_days": wd,
                        "method": meth,
                        "cutoff": cut,
                        "cov80": float(((m["act"] >= m[0.10]) & (m["act"] <= m[0.90])).mean()),
                        "cov90": float(((m["act"] >= m[0.05]) & (m["act"] <= m[0.95])).mean()),
                    }
                )
    sel = pd.concat(selected).str.replace(r"\(.*\)", "", regex=True).value_counts()
    return pd.concat(rows, ignore_index=True), pd.DataFrame(wrows), times, (sel, labels)


def _global_weight(labels) -> tuple[float, int, int]:
    """Mean weight of GlobalLGBM in the chosen ensembles (1/k in a mean of k members; in a
    median of 3–5, counted as 1/k too), the series whose ensemble holds it, and all series."""
    w, n_in, n = [], 0, 0
    for label, count in labels.items():
        n += int(count)
        if not label.startswith("Ensemble("):
            continue
        members = label[len("Ensemble(") : -1].removeprefix("median:").split("+")
        if "GlobalLGBM" in members:
            n_in += int(count)
            w.append((1 / len(members), int(count)))
    mean_w = sum(a * c for a, c in w) / n_in if n_in else 0.0
    return mean_w, n_in, n


def _labels(res) -> dict[str, int]:
    return res.forecast.drop_duplicates(["region_id", "sku_id"])["model"].value_counts().to_dict()


def _class_choice(res) -> dict[str, str]:
    """The candidate each demand class chose (the most frequent label among its series)."""
    fc = res.forecast.drop_duplicates(["region_id", "sku_id"])
    cls = res.series_class
    m = fc.merge(cls, on=["region_id", "sku_id"], how="inner")
    return {c: g["model"].value_counts().index[0] for c, g in m.groupby("demand_class")}


def scale_and_sample(
    hist: pd.DataFrame, jobs: int, modes=("sample", "all"), repeat: int = 1
) -> dict:
    """On every complete series, history to 8 weeks before the end: one plain statsforecast
    MSTL fit + forecast (80/90 % intervals), the full ``auto`` (backtest on the sample) and
    ``auto`` with ``backtest="all"``; both autos are scored on the 8 held-out weeks. With
    ``repeat`` > 1 the MSTL pass and the ``auto`` (sample) pass are timed ``repeat`` times,
    alternating, and the median ratio is the figure (wall times on 2 cores vary by ±10 %)."""
    from statsforecast import StatsForecast
    from statsforecast.models import MSTL

    dates = np.sort(hist["ds"].unique())
    cut = dates[-1 - H]
    train = hist[hist["ds"] <= cut]
    n = train.groupby(["region_id", "sku_id"]).ngroups
    df = train.assign(unique_id=_uid(train))[["unique_id", "ds", "y"]]
    out: dict = {"series": n, "cutoff": pd.Timestamp(cut), "load": [os.getloadavg()[0]]}

    def mstl_pass() -> float:
        t = time.perf_counter()
        StatsForecast(models=[MSTL(season_length=SEASON)], freq=FREQ, n_jobs=jobs).forecast(
            df=df, h=H, level=[80, 90]
        )
        return time.perf_counter() - t

    out["mstl_s"] = mstl_pass()
    out["load"].append(os.getloadavg()[0])
    print(f"  MSTL fit + forecast: {out['mstl_s']:.1f} s", flush=True)
    out["pairs"] = []
    for _ in range(repeat - 1):
        t = time.perf_counter()
        F.forecast(train, F.ForecastSettings(horizon=H, freq=FREQ, windows=WINDOWS, jobs=jobs))
        a_s = time.perf_counter() - t
        out["pairs"].append((mstl_pass(), a_s))
        print(f"  repeat: auto {a_s:.1f} s, MSTL {out['pairs'][-1][0]:.1f} s", flush=True)
    for mode in modes:
        t = time.perf_counter()
        res = F.forecast(
            train,
            F.ForecastSettings(horizon=H, freq=FREQ, windows=WINDOWS, jobs=jobs, backtest=mode),
        )
        wall = time.perf_counter() - t
        out["load"].append(os.getloadavg()[0])
        fc = res.forecast.assign(unique_id=_uid(res.forecast))
        g = _score(fc, hist, cut)
        lb = res.leaderboard[res.leaderboard["model"] == "auto"].set_index("demand_class")
        out[mode] = {
            "wall_s": wall,
            "timings": res.timings.rows(),
            "choice": _class_choice(res),
            "labels": _labels(res),
            "backtested": int(res.backtest.groupby(["region_id", "sku_id"]).ngroups),
            "bt_cov": lb[["coverage_80", "coverage_90", "n_series"]].to_dict("index"),
            "held_out": {
                "mase": float(g["mase"].mean()),
                "cov80": float(g["c80"].mean()),
                "cov90": float(g["c90"].mean()),
            },
        }
        print(f"  auto backtest={mode}: {wall:.1f} s, {out[mode]['choice']}", flush=True)
    return out


def speed(hist: pd.DataFrame, jobs: int) -> dict:
    """Full auto pipeline vs the same statsforecast calls made directly."""
    from statsforecast import StatsForecast
    from statsforecast.models import Naive

    n = hist.groupby(["region_id", "sku_id"]).ngroups
    t = time.perf_counter()
    res = F.forecast(hist, F.ForecastSettings(horizon=H, freq=FREQ, windows=WINDOWS, jobs=jobs))
    t_auto = time.perf_counter() - t
    df = hist.assign(unique_id=_uid(hist))[["unique_id", "ds", "y"]]
    names = ("Naive", "SeasonalNaive", "AutoETS", "AutoTheta", "MSTL", "MSTL_SES", "MSTL_SES_log")
    used = set()
    for m in res.forecast["model"].unique():
        if m.startswith("Ensemble("):
            used |= set(m[len("Ensemble(") : -1].removeprefix("median:").split("+"))
        else:
            used.add(m)
    mk = lambda ns: F.models.make_models(  # noqa: E731
        tuple(ns), season_length=SEASON, freq_days=7, n_min=135 - H * WINDOWS, horizon=H
    )
    t = time.perf_counter()
    sf = StatsForecast(models=mk(names), freq=FREQ, n_jobs=jobs, fallback_model=Naive())
    sf.cross_validation(df=df, h=H, n_windows=WINDOWS, step_size=H, level=[50, 80, 90], refit=False)
    sf = StatsForecast(
        models=mk([x for x in names if x in used]), freq=FREQ, n_jobs=jobs, fallback_model=Naive()
    )
    sf.forecast(df=df, h=H, level=[50, 80, 90])
    # TopDown's statsforecast calls: MSTL_SES_log on the SKU totals (backtest, and final fit
    # when used)
    tot = (
        df.assign(unique_id=df["unique_id"].str.split("/").str[1])
        .groupby(["unique_id", "ds"], as_index=False)["y"]
        .sum()
    )
    sf = StatsForecast(models=mk(["MSTL_SES_log"]), freq=FREQ, n_jobs=jobs, fallback_model=Naive())
    sf.cross_validation(
        df=tot, h=H, n_windows=WINDOWS, step_size=H, level=[50, 80, 90], refit=False
    )
    if "TopDown" in used:
        sf.forecast(df=tot, h=H, level=[50, 80, 90])
    t_sf = time.perf_counter() - t
    return {
        "series": n,
        "auto_s": t_auto,
        "statsforecast_s": t_sf,
        "series_per_s": n / t_auto,
        "overhead": t_auto / t_sf - 1,
    }


def dask_scale(n_series: int, workers: int, backend: str = "dask") -> dict:
    """The auto pipeline through ``backend="dask"`` (local cluster, one process per worker) or
    ``backend="local"`` (``workers`` processes) on ``n_series`` series: the Walmart complete
    series replicated with a per-copy scale factor."""
    import threading

    import psutil
    from distributed import Client, LocalCluster

    base = load(None)
    keys = base[["region_id", "sku_id"]].drop_duplicates().reset_index(drop=True)
    copies = int(np.ceil(n_series / len(keys)))
    parts = []
    for c in range(copies):
        d = base.copy()
        d["region_id"] = d["region_id"] + f"-c{c}"
        d["y"] = d["y"] * (1 + 0.05 * c)
        parts.append(d)
    hist = pd.concat(parts, ignore_index=True)
    ks = hist[["region_id", "sku_id"]].drop_duplicates().head(n_series)
    hist = hist.merge(ks, on=["region_id", "sku_id"])
    peak = {"rss": 0}
    stop = threading.Event()

    def watch():
        me = psutil.Process()
        while not stop.is_set():
            procs = [me, *me.children(recursive=True)]
            rss = 0
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    rss += p.memory_info().rss
            peak["rss"] = max(peak["rss"], rss)
            stop.wait(0.5)

    th = threading.Thread(target=watch, daemon=True)
    th.start()
    load0 = os.getloadavg()[0]
    if backend == "local":
        t = time.perf_counter()
        res = F.forecast(
            hist,
            F.ForecastSettings(horizon=H, freq=FREQ, windows=WINDOWS, jobs=workers),
            stage_progress=_stage_log,
        )
        wall = time.perf_counter() - t
    else:
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                host="127.0.0.1",
            ) as cluster,
            Client(cluster),
        ):
            t = time.perf_counter()  # the cluster's start is not the pipeline's time
            res = F.forecast(
                hist, F.ForecastSettings(horizon=H, freq=FREQ, windows=WINDOWS, backend="dask")
            )
            wall = time.perf_counter() - t
    stop.set()
    th.join()
    return {
        "series": int(ks.shape[0]),
        "wall_s": wall,
        "series_per_s": ks.shape[0] / wall,
        "peak_rss_gb": peak["rss"] / 1e9,
        "rows": len(res.forecast),
        "timings": res.timings.rows(),
        "load": (load0, os.getloadavg()[0]),
        "labels": _labels(res),
    }


def _stage_log(stage: str, done: int, total: int, _seen: dict = {}) -> None:  # noqa: B006
    """Print a stage's progress at its start and end (benchmark logs)."""
    key = (stage, done >= total)
    if key not in _seen:
        _seen[key] = time.perf_counter()
        print(f"  [{time.strftime('%H:%M:%S')}] stage {stage}: {done}/{total}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-series", type=int, default=None)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--arima-sample", type=int, default=60)
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "forecasting.md"))
    ap.add_argument(
        "--selection",
        default="class,series",
        help="auto's selection mode(s), comma list (class, series, hybrid); the first is 'auto'",
    )
    ap.add_argument(
        "--ablate",
        default="",
        help="extra nested auto runs with these boolean settings off, comma list "
        "(e.g. top_down,ensemble), to show what each part adds",
    )
    ap.add_argument(
        "--dask-series",
        type=int,
        default=0,
        help="only run the Dask scale test on this many (replicated) series and print it",
    )
    ap.add_argument(
        "--local-series",
        type=int,
        default=0,
        help="only run the local (two-process) scale test on this many replicated series",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="time the MSTL pass and the auto (sample) pass this many times, alternating, and "
        "report the median ratio",
    )
    ap.add_argument(
        "--skip-scale",
        action="store_true",
        help="leave out the speed and sample-vs-all runs on all 1,876 complete series",
    )
    ap.add_argument(
        "--only-scale",
        default="",
        help="only the runs on every complete series, for these backtest modes (comma list: "
        "sample,all); prints the results as JSON",
    )
    args = ap.parse_args()
    if args.only_scale:
        import json

        r = scale_and_sample(load(None), args.jobs, tuple(args.only_scale.split(",")), args.repeat)
        print(json.dumps(r, default=str, indent=1))
        return
    if args.local_series:
        r = dask_scale(args.local_series, max(1, args.jobs), backend="local")
        print(
            f"local: {r['series']} series in {r['wall_s']:.1f} s ({r['wall_s'] / 60:.1f} min) → "
            f"{r['series_per_s']:.2f} series/s, peak RSS (process + workers) "
            f"{r['peak_rss_gb']:.2f} GB, {r['rows']} forecast rows; load {r['load'][0]:.1f} → "
            f"{r['load'][1]:.1f}"
        )
        for row in r["timings"]:
            print("  stage", row)
        print("  chosen:", r["labels"])
        return
    if args.dask_series:
        r = dask_scale(args.dask_series, max(1, args.jobs))
        print(
            f"dask: {r['series']} series in {r['wall_s']:.1f} s → {r['series_per_s']:.2f} "
            f"series/s, peak RSS (driver + workers) {r['peak_rss_gb']:.2f} GB, "
            f"{r['rows']} forecast rows"
        )
        return
    hist = load(args.max_series)
    n = hist.groupby(["region_id", "sku_id"]).ngroups
    print(f"{n} series × {hist['ds'].nunique()} weeks", flush=True)
    t0 = time.perf_counter()
    print("candidate models over the outer windows …", flush=True)
    base, cost = baselines(hist, args.jobs, args.arima_sample)
    print("nested auto …", flush=True)
    autos = []
    runs = [("selection", m) for m in args.selection.split(",")]
    runs += [(v, False) for v in args.ablate.split(",") if v]
    for i, (key, val) in enumerate(runs):
        a, wt_i, times_i, sel_i = nested_auto(hist, args.jobs, **{key: val})
        a["model"] = "auto" if i == 0 else f"auto[{key}={val}]"
        if i == 0:
            wtot, auto_times, sel = wt_i, times_i, sel_i
        autos.append(a)
    auto = pd.concat(autos, ignore_index=True)
    print("speed and sample vs all on every complete series …", flush=True)
    sp = None if args.skip_scale else scale_and_sample(load(None), args.jobs, repeat=args.repeat)
    allres = pd.concat([base, auto], ignore_index=True)
    arima_ids = set(base.loc[base["model"] == "AutoARIMA", "unique_id"])
    table = (
        allres.groupby("model")
        .agg(mase=("mase", "mean"), cov80=("c80", "mean"), cov90=("c90", "mean"))
        .sort_values("mase")
    )
    sn = table.loc["SeasonalNaive", "mase"]
    table["vs_SeasonalNaive"] = table["mase"] / sn - 1
    table["series"] = allres.groupby("model")["unique_id"].nunique()
    table["core_s_per_series_fit"] = pd.Series(cost)
    singles = table[~table.index.str.startswith("auto") & ~table.index.str.startswith("Mean(")]
    singles = singles[singles["series"] == n]
    best_single = singles["mase"].idxmin()
    wt = wtot.groupby(["window_days", "method"])[["cov80", "cov90"]].mean()
    sub = None
    if arima_ids:
        sub = (
            allres[allres["unique_id"].isin(arima_ids)]
            .groupby("model")
            .agg(mase=("mase", "mean"), cov80=("c80", "mean"), cov90=("c90", "mean"))
            .sort_values("mase")
        )
    wall = time.perf_counter() - t0
    md = report(args, n, table, best_single, wt, sp, auto_times, sel, sub, cost, wall)
    md += scale_report(sp, sel)
    print(md)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(md)
    print(f"wrote {args.out}")


def report(args, n, table, best_single, wt, sp, auto_times, sel, sub, cost, wall) -> str:
    auto = table.loc["auto"]
    sn = table.loc["SeasonalNaive"]
    best = table.loc[best_single]
    cmd = (
        "python benchmarks/forecasting.py"
        + (f" --max-series {args.max_series}" if args.max_series else "")
        + f" --jobs {args.jobs} --arima-sample {args.arima_sample} --selection {args.selection}"
        + (f" --ablate {args.ablate}" if args.ablate else "")
    )
    lines = [
        "# Forecasting benchmark (issues 3 and 18)",
        "",
        f"Command: `{cmd}` — machine: {os.cpu_count()} cores, "
        f"{platform.machine()}, Python {platform.python_version()}, shared with other jobs "
        f"(load average at the end {os.getloadavg()[0]:.1f}); total wall {wall / 60:.1f} min.",
        "",
        f"Data: Walmart weekly store × department sales (Kaggle 2014), {n} series with all "
        "135 weeks (2010-02-05 … 2012-08-31; an evenly spaced sample of the 1,876 complete "
        "ones when fewer), y = USD sales clipped at 0. Rolling origin: 3 "
        "windows × 8 weeks (the last 24 weeks), season 52. `auto` is evaluated nested: "
        "`forecasting.forecast` sees only the history before each window (its own 3-window "
        "inner backtest selects and calibrates) and is scored on the window.",
        "",
        "## Accuracy and interval coverage (mean over series and windows)",
        "",
        "| model | mean MASE | vs SeasonalNaive | 80% coverage | 90% coverage | series | "
        "core-s per series-fit |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in table.iterrows():
        c = r["core_s_per_series_fit"]
        lines.append(
            f"| {name} | {r['mase']:.3f} | {r['vs_SeasonalNaive']:+.1%} | {r['cov80']:.1%} | "
            f"{r['cov90']:.1%} | {int(r['series'])} | {'' if pd.isna(c) else f'{c:.3f}'} |"
        )
    lines += [
        "",
        f"- `auto` mean MASE {auto['mase']:.3f}: {1 - auto['mase'] / sn['mase']:.1%} below "
        f"SeasonalNaive ({sn['mase']:.3f}); best single model in hindsight: {best_single} "
        f"({best['mase']:.3f}) → auto is {1 - auto['mase'] / best['mase']:+.1%} below it.",
        f"- `auto` interval coverage: 80% → {auto['cov80']:.1%}, 90% → {auto['cov90']:.1%} "
        "(target within ±4 points of nominal).",
        "- Models `auto` selected (series × outer windows): "
        + ", ".join(f"{k} {v}" for k, v in sel[0].items())
        + "; per outer window (chosen by its inner backtest, series):",
    ]
    for cut, counts in sel[1]:
        lines.append(
            f"  - history to {cut:%Y-%m-%d}: "
            + "; ".join(f"`{k}` {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
        )
    if sub is not None:
        lines += [
            "",
            f"AutoARIMA (season 52) is too slow for every series (≈{cost.get('AutoARIMA', 0):.2f}"
            " core-s per series-fit); on its sample of "
            f"{int(table.loc['AutoARIMA', 'series'])} series the models compare as:",
            "",
            "| model | mean MASE | 80% cov | 90% cov |",
            "|---|---:|---:|---:|",
        ]
        for name, r in sub.iterrows():
            lines.append(f"| {name} | {r['mase']:.3f} | {r['cov80']:.1%} | {r['cov90']:.1%} |")
    ab = [i for i in table.index if i.startswith("auto[")]
    if ab:
        lines += ["", "Other `auto` settings, nested the same way (to show what each part adds):"]
        for i in ab:
            r = table.loc[i]
            lines.append(
                f"- `{i}`: MASE {r['mase']:.3f} ({r['vs_SeasonalNaive']:+.1%} vs SeasonalNaive), "
                f"coverage {r['cov80']:.1%} / {r['cov90']:.1%}"
            )
    lines += [
        "",
        "## Coverage of window totals (demand summed over the first W days)",
        "",
        "| W days | method | 80% coverage | 90% coverage |",
        "|---:|---|---:|---:|",
    ]
    for (wd, meth), r in wt.iterrows():
        lines.append(f"| {wd} | {meth} | {r['cov80']:.1%} | {r['cov90']:.1%} |")
    lines += [
        "",
        "## Nested run times",
        "",
        "- Nested runs on the sample (history before each outer window): "
        + ", ".join(f"{t:.1f} s" for t in auto_times)
        + ".",
        "- 30,000-series Dask run: not part of this run (`--dask-series 30000`).",
        "",
    ]
    gain = 1 - auto["mase"] / sn["mase"]
    below = 1 - auto["mase"] / best["mase"]
    ok = lambda c: "met" if c else "**not met**"  # noqa: E731
    wt_rows = [
        f"W = {wd} d: {r['cov80']:.1%} / {r['cov90']:.1%}"
        for (wd, meth), r in wt.iterrows()
        if meth == "backtested"
    ]
    wt_ok = all(
        abs(r["cov80"] - 0.8) <= 0.04 and abs(r["cov90"] - 0.9) <= 0.04
        for (_, meth), r in wt.iterrows()
        if meth == "backtested"
    )
    cov_ok = abs(auto["cov80"] - 0.8) <= 0.04 and abs(auto["cov90"] - 0.9) <= 0.04
    lines += [
        "## Against the issue's targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
        f"| `auto` mean MASE ≥ 24 % below SeasonalNaive | {gain:.1%} below | {ok(gain >= 0.24)} |",
        f"| `auto` below the best single model in hindsight ({best_single}) | "
        f"{auto['mase']:.3f} vs {best['mase']:.3f} ({below:.1%} below) | {ok(below > 0)} |",
        f"| 80 % / 90 % intervals within ±4 points | {auto['cov80']:.1%} / {auto['cov90']:.1%} | "
        f"{ok(cov_ok)} |",
        f"| window totals within ±4 points | {'; '.join(wt_rows)} | {ok(wt_ok)} |",
        "",
    ]
    return "\n".join(lines)


def scale_report(sp: dict | None, sel) -> str:
    """The speed, sample-vs-all and global-model sections (issue 18)."""
    ok = lambda c: "met" if c else "**not met**"  # noqa: E731
    nested = {}
    for _, counts in sel[1]:
        for k, v in counts.items():
            nested[k] = nested.get(k, 0) + v
    w_n, in_n, all_n = _global_weight(nested)
    lines = [
        "## The global model in the chosen ensembles",
        "",
        f"- Nested runs (300 series × 3 outer windows): GlobalLGBM is in the chosen candidate of "
        f"{in_n} of {all_n} series-windows, with mean weight {w_n:.2f} there.",
    ]
    if sp is None:
        return "\n".join([*lines, ""])
    s, a = sp["sample"], sp["all"]
    # every timed pair: the first MSTL pass with the auto(sample) pass, then the repeats
    ratios = [s["wall_s"] / sp["mstl_s"]] + [a / m for m, a in sp.get("pairs", [])]
    ratio = float(np.median(ratios))
    w_s, in_s, all_s = _global_weight(s["labels"])
    lines += [
        f"- All {sp['series']} complete series (history to {sp['cutoff']:%Y-%m-%d}): in "
        f"{in_s} of {all_s} series, mean weight {w_s:.2f}.",
        "",
        f"## Speed and the backtest sample on all {sp['series']} complete series",
        "",
        f"History to {sp['cutoff']:%Y-%m-%d} (the last 8 weeks held out); `--jobs` "
        f"{'/'.join(str(x) for x in [2])}; load average (1 min) before MSTL / after MSTL / after "
        f"auto(sample) / after auto(all): {' / '.join(f'{x:.1f}' for x in sp['load'])}.",
        "",
        f"- One plain statsforecast MSTL (season 52) fit + forecast with 80/90 % intervals: "
        f"**{sp['mstl_s']:.1f} s**.",
        f"- Full `auto` (backtest on the sample, final fits of the chosen members): "
        f"**{s['wall_s']:.1f} s** → {s['wall_s'] / sp['mstl_s']:.2f}× MSTL; "
        f"`--backtest all`: {a['wall_s']:.1f} s ({a['wall_s'] / sp['mstl_s']:.2f}×).",
        f"- Timed pairs (MSTL s, auto s): ({sp['mstl_s']:.1f}, {s['wall_s']:.1f})"
        + "".join(f", ({m:.1f}, {x:.1f})" for m, x in sp.get("pairs", []))
        + f" → ratios {', '.join(f'{r:.2f}' for r in ratios)}; **median {ratio:.2f}×** "
        "(target ≤ 3.5×).",
        "",
        "| stage | sample: s | series | series/s | peak RSS GB | all: s | series | series/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    at = {r["stage"]: r for r in a["timings"]}
    for r in s["timings"]:
        o = at.get(r["stage"], {})
        lines.append(
            f"| {r['stage']} | {r['seconds']:.1f} | {r['series']} | {r['series_per_s']:.1f} | "
            f"{r['peak_rss_gb']:.2f} | {o.get('seconds', 0):.1f} | {o.get('series', 0)} | "
            f"{o.get('series_per_s', 0):.1f} |"
        )
    same = s["choice"] == a["choice"]
    lines += [
        "",
        "| | backtest sample | backtest all |",
        "|---|---|---|",
        f"| series backtested | {s['backtested']} | {a['backtested']} |",
    ]
    for c in sorted(set(s["choice"]) | set(a["choice"])):
        lines.append(f"| chosen for {c} | `{s['choice'].get(c)}` | `{a['choice'].get(c)}` |")
    dcov = []
    for c in sorted(set(s["bt_cov"]) & set(a["bt_cov"])):
        x, y = s["bt_cov"][c], a["bt_cov"][c]
        lines.append(
            f"| backtest coverage 80/90 %, {c} | {x['coverage_80']:.1%} / {x['coverage_90']:.1%} "
            f"| {y['coverage_80']:.1%} / {y['coverage_90']:.1%} |"
        )
    hs, ha = s["held_out"], a["held_out"]
    dcov = [abs(hs["cov80"] - ha["cov80"]), abs(hs["cov90"] - ha["cov90"])]
    lines += [
        f"| held-out 8 weeks: MASE | {hs['mase']:.3f} | {ha['mase']:.3f} |",
        f"| held-out 8 weeks: coverage 80 / 90 % | {hs['cov80']:.1%} / {hs['cov90']:.1%} | "
        f"{ha['cov80']:.1%} / {ha['cov90']:.1%} |",
        "",
        "| target | measured | |",
        "|---|---|---|",
        f"| full `auto` ≤ 3.5 × one MSTL fit + forecast | {ratio:.2f}× | {ok(ratio <= 3.5)} |",
        f"| sample and all choose the same members | {'same' if same else 'different'} | "
        f"{ok(same)} |",
        f"| held-out coverage, sample vs all, within ±1 point | "
        f"{max(dcov) * 100:.1f} points apart | {ok(max(dcov) <= 0.01)} |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

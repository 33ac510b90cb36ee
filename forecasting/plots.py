"""Fan charts (history, forecast mean, 50/80/90 % bands) as matplotlib Figures (Agg, no pyplot)."""

from __future__ import annotations

import pandas as pd

__all__ = ["fan_chart", "fan_charts", "top_series"]


def top_series(history: pd.DataFrame, n: int) -> list[tuple[str, str]]:
    """The ``n`` keys ``(region_id, sku_id)`` with the largest total history volume."""
    tot = history.groupby(["region_id", "sku_id"])["y"].sum().reset_index()
    tot = tot.sort_values(["y", "region_id", "sku_id"], ascending=[False, True, True])
    return list(zip(tot["region_id"].head(n), tot["sku_id"].head(n), strict=True))


def fan_chart(history: pd.DataFrame, forecast_df: pd.DataFrame, region_id: str, sku_id: str):
    """Fan chart of one key.

    Parameters
    ----------
    history
        ``region_id, sku_id, ds, y`` (units).
    forecast_df
        Forecast contract rows (units).
    region_id, sku_id
        The key to draw.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    h = history[(history["region_id"] == region_id) & (history["sku_id"] == sku_id)]
    f = forecast_df[(forecast_df["region_id"] == region_id) & (forecast_df["sku_id"] == sku_id)]
    h = h.sort_values("ds")
    f = f.sort_values("ds")
    fig = Figure(figsize=(8, 3.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(pd.to_datetime(h["ds"]), h["y"], color="#444444", lw=1.0, label="history")
    x = pd.to_datetime(f["ds"])
    for lo, hi, alpha, lab in (
        ("q05", "q95", 0.18, "90%"),
        ("q10", "q90", 0.28, "80%"),
        ("q25", "q75", 0.40, "50%"),
    ):
        ax.fill_between(x, f[lo], f[hi], color="#1f77b4", alpha=alpha, lw=0, label=lab)
    ax.plot(x, f["mean"], color="#1f77b4", lw=1.6, label="forecast mean")
    model = str(f["model"].iloc[0]) if len(f) else ""
    ax.set_title(f"region {region_id} · SKU {sku_id} · {model}", fontsize=9, parse_math=False)
    ax.set_ylabel("units per period")
    ax.legend(loc="upper left", fontsize=7, ncol=5, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def fan_charts(history: pd.DataFrame, forecast_df: pd.DataFrame, top_n: int = 6) -> list:
    """Fan charts of the ``top_n`` keys by history volume: list of ``((region, sku), Figure)``."""
    return [((r, s), fan_chart(history, forecast_df, r, s)) for r, s in top_series(history, top_n)]

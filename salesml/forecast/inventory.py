"""Reorder points, days of cover and low-stock alerts per product and warehouse.

Inputs: the latest inventory snapshot of each product and warehouse
(:func:`latest_inventory`) and a daily forecast of each product's demand **in units**
(``unique_id`` = product_id, ``ds, yhat, lo, hi`` at ``level`` %, starting the day after
the snapshot; :func:`demand_panel` gives the history to forecast from).

Per product and warehouse (:func:`reorder_table`):

* **lead time** L: the snapshot's ``lead_time_days``, or ``default_lead_time_days`` of the
  settings when the snapshot has none (``lead_time_source`` says which);
* **demand over the lead time**: the product's forecast summed over its first L days (past
  the forecast's horizon, the remaining days at its mean daily demand and variance), times
  the warehouse's share s of the product's demand;
* **σ over the lead time**: each forecast day's σ from its interval
  (:func:`salesml.forecast.landing.sigma_from_interval`), days independent, so the
  product's variance over the lead time is V = Σ σ_d². A warehouse that gets each unit of
  demand with probability s has variance s² V + s (1 − s) D (binomial thinning of the
  product's demand D over the lead time: its own demand is noisier, relative to its size,
  than the product's). ``sigma_daily`` = √(variance / L), the daily σ that, over L
  independent days, gives that variance;
* **safety stock** = z(service_level) × sigma_daily × √L, z the standard normal quantile
  of the cycle service level;
* **reorder point** = demand over the lead time + safety stock;
* **days of cover** = on_hand / the warehouse's mean forecast daily demand (over the whole
  forecast): infinite when no demand is forecast;
* **alert** when on_hand + on_order (the inventory position) is below the reorder point;
  ``shortfall`` = reorder point − position (negative = headroom).

Demand split across warehouses: the ledger knows where a product was sold, not which
warehouse shipped it, so by default a product's demand is split **equally** among the
warehouses that stock it. Splitting by stock (on_hand + on_order) would be circular — a
warehouse running low would be assigned less demand and hide the very shortfall the alert
is for. Known shares (e.g. from shipments or a region → warehouse map) can be passed as
``demand_shares``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from statistics import NormalDist

import duckdb
import numpy as np
import pandas as pd

from salesml.config import ForecastSettings, InventorySettings, Settings
from salesml.errors import SalesmlError
from salesml.forecast.auto import forecast_and_backtest
from salesml.forecast.landing import sigma_from_interval
from salesml.forecast.panels import panel
from salesml.warehouse import table_exists

COLUMNS = [
    "product_id", "warehouse", "snapshot_date", "on_hand", "on_order", "position", "lead_time_days",
    "lead_time_source", "demand_share", "mean_daily_demand", "demand_lead_time", "sigma_daily",
    "safety_stock", "reorder_point", "shortfall", "days_of_cover", "alert", "note",
]
_SNAPSHOT = {"product_id", "warehouse", "on_hand", "on_order", "lead_time_days"}
_FORECAST = {"unique_id", "ds", "yhat", "lo", "hi"}


class InventoryError(SalesmlError, ValueError):
    """Reorder points cannot be computed as asked; the message says why."""


def latest_inventory(con: duckdb.DuckDBPyConnection, as_of=None) -> pd.DataFrame:
    """The latest snapshot (up to ``as_of``, default all) of each product and warehouse:
    ``product_id, warehouse, snapshot_date, on_hand, on_order, lead_time_days``.

    Each pair keeps its own latest row, so a pair missing from the newest snapshot still
    shows — with its older ``snapshot_date`` to tell."""
    cond = "WHERE snapshot_date <= $as_of" if as_of is not None else ""
    df = con.execute(
        f"""
        SELECT product_id, warehouse, snapshot_date, on_hand::DOUBLE AS on_hand, on_order::DOUBLE AS on_order,
               lead_time_days
        FROM inventory {cond}
        QUALIFY row_number() OVER (PARTITION BY product_id, warehouse ORDER BY snapshot_date DESC) = 1
        ORDER BY product_id, warehouse
        """,
        {"as_of": pd.Timestamp(as_of).date()} if as_of is not None else {},
    ).df()
    if df.empty:
        when = f" up to {pd.Timestamp(as_of):%Y-%m-%d}" if as_of is not None else ""
        raise InventoryError(f"no inventory snapshots{when}: load an inventory table to get reorder points")
    df["snapshot_date"] = pd.to_datetime(df["snapshot_date"])
    df["lead_time_days"] = df["lead_time_days"].astype("Int64")
    return df


def demand_panel(con: duckdb.DuckDBPyConnection, settings: InventorySettings | None = None, end=None) -> pd.DataFrame:
    """``unique_id`` (= product_id), ``ds, y``: net units sold per product and day over the
    last ``history_days`` up to ``end`` (default: the ledger's last day), to forecast from."""
    settings = settings or InventorySettings()
    if end is None:
        last = con.execute("SELECT max(credit_date) FROM ledger").fetchall()[0][0]
        if last is None:
            raise InventoryError("the ledger is empty: load sales and post them first")
        end = last
    end = pd.Timestamp(end)
    start = end - pd.Timedelta(days=settings.history_days - 1)
    return panel(con, "product", "D", measure="quantity", start=f"{start:%Y-%m-%d}", end=f"{end:%Y-%m-%d}")


def _shares(snapshot: pd.DataFrame, demand_shares: pd.DataFrame | None) -> tuple[pd.Series, pd.Series]:
    """(share of its product's demand, how it was set) for every snapshot row."""
    n = snapshot.groupby("product_id")["warehouse"].transform("size")
    equal = 1.0 / n
    if demand_shares is None:
        return equal, pd.Series("equal split", index=snapshot.index)
    missing = {"product_id", "warehouse", "share"} - set(demand_shares.columns)
    if missing:
        raise InventoryError(f"demand_shares need columns product_id, warehouse, share; missing {', '.join(sorted(missing))}")
    if (demand_shares["share"] < 0).any():
        raise InventoryError("demand_shares must not be negative")
    given = snapshot[["product_id", "warehouse"]].merge(demand_shares, on=["product_id", "warehouse"], how="left")["share"]
    given.index = snapshot.index
    total = given.fillna(0.0).groupby(snapshot["product_id"]).transform("sum")
    use = total > 0
    share = (given.fillna(0.0) / total).where(use, equal)
    return share, pd.Series(np.where(use, "given share", "equal split"), index=snapshot.index)


def _product_demand(forecasts: pd.DataFrame, lead: pd.DataFrame, level: float) -> pd.DataFrame:
    """Per (product, lead time): demand and variance over the lead time, mean daily demand
    and how many forecast days there were."""
    fc = forecasts.sort_values(["unique_id", "ds"])
    fc = fc.assign(
        yhat=fc["yhat"].clip(lower=0),
        var=sigma_from_interval(fc["yhat"], fc["lo"], fc["hi"], level) ** 2,
        day=fc.groupby("unique_id").cumcount() + 1,
    )
    groups = dict(tuple(fc.groupby("unique_id", sort=False)))
    rows = []
    for product, days in lead.itertuples(index=False):
        f = groups.get(product)
        if f is None:
            continue
        within = f[f["day"] <= days]
        beyond = max(days - len(f), 0)
        mean_yhat, mean_var = float(f["yhat"].mean()), float(f["var"].mean())
        rows.append(
            {
                "product_id": product,
                "lead_time_days": days,
                "horizon": len(f),
                "mean_daily_demand": mean_yhat,
                "demand": float(within["yhat"].sum()) + beyond * mean_yhat,
                # NaN when a day has no interval: no safety stock rather than a made-up one
                "variance": float(within["var"].sum(min_count=len(within))) + beyond * mean_var,
            }
        )
    columns = ["product_id", "lead_time_days", "horizon", "mean_daily_demand", "demand", "variance"]
    return pd.DataFrame(rows, columns=columns)


def reorder_table(
    inventory_snapshot: pd.DataFrame,
    product_forecasts: pd.DataFrame,
    settings: InventorySettings | None = None,
    *,
    level: float | None = None,
    demand_shares: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Reorder point, safety stock, days of cover and alert per product and warehouse. Pure.

    ``inventory_snapshot``: ``product_id, warehouse, on_hand, on_order, lead_time_days``
    (+ ``snapshot_date``), one row per pair (see :func:`latest_inventory`).
    ``product_forecasts``: daily ``unique_id, ds, yhat, lo, hi`` in units, at ``level`` %
    (default ``ForecastSettings().level``). ``demand_shares``: optional ``product_id,
    warehouse, share`` (normalised per product; products without any keep the equal split).

    Returns :data:`COLUMNS`, one row per snapshot row; see the module docstring for the
    arithmetic. A product without a forecast, or a row without ``on_hand``, gets no alert
    and a ``note`` saying why; a missing ``on_order`` counts as 0 (with a note).
    """
    settings = settings or InventorySettings()
    level = ForecastSettings().level if level is None else level
    for what, df, cols in (("the inventory snapshot", inventory_snapshot, _SNAPSHOT), ("the product forecasts", product_forecasts, _FORECAST)):
        missing = cols - set(df.columns)
        if missing:
            raise InventoryError(f"{what} needs columns {', '.join(sorted(cols))}; missing {', '.join(sorted(missing))}")
    if inventory_snapshot.duplicated(["product_id", "warehouse"]).any():
        raise InventoryError("the inventory snapshot has more than one row per product and warehouse: take the latest (latest_inventory)")
    if product_forecasts.duplicated(["unique_id", "ds"]).any():
        raise InventoryError("the product forecasts have duplicate (unique_id, ds) rows")
    if not 0 < settings.service_level < 1:
        raise InventoryError(f"service_level must be between 0 and 1, got {settings.service_level}")

    snap = inventory_snapshot.reset_index(drop=True)
    out = pd.DataFrame({"product_id": snap["product_id"], "warehouse": snap["warehouse"]})
    out["snapshot_date"] = snap["snapshot_date"] if "snapshot_date" in snap.columns else pd.NaT
    out["on_hand"] = snap["on_hand"].astype("float64")
    out["on_order"] = snap["on_order"].astype("float64").fillna(0.0)
    out["position"] = out["on_hand"] + out["on_order"]
    lead = pd.to_numeric(snap["lead_time_days"], errors="coerce")
    out["lead_time_source"] = np.where(lead.isna(), "default", "snapshot")
    out["lead_time_days"] = lead.fillna(settings.default_lead_time_days).astype("int64")
    share, share_how = _shares(snap, demand_shares)
    out["demand_share"] = share

    demand = _product_demand(product_forecasts, out[["product_id", "lead_time_days"]].drop_duplicates(), level)
    merged = out[["product_id", "lead_time_days"]].merge(demand, on=["product_id", "lead_time_days"], how="left")
    s = out["demand_share"]
    out["mean_daily_demand"] = s * merged["mean_daily_demand"]
    out["demand_lead_time"] = s * merged["demand"]
    variance = s**2 * merged["variance"] + s * (1 - s) * merged["demand"]
    days = out["lead_time_days"]
    out["sigma_daily"] = np.sqrt(variance / days).where(days > 0, 0.0).where(merged["demand"].notna())
    z = NormalDist().inv_cdf(settings.service_level)
    out["safety_stock"] = z * out["sigma_daily"] * np.sqrt(days)
    out["reorder_point"] = out["demand_lead_time"] + out["safety_stock"]
    out["shortfall"] = out["reorder_point"] - out["position"]
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = out["on_hand"] / out["mean_daily_demand"]
    out["days_of_cover"] = cover.where(out["mean_daily_demand"] != 0, np.inf).where(out["mean_daily_demand"].notna() & out["on_hand"].notna())
    out["alert"] = (out["shortfall"] > 0) & out["on_hand"].notna()

    notes = [[] for _ in range(len(out))]
    for i in np.flatnonzero(merged["demand"].isna()):
        notes[i].append("no forecast for this product: no reorder point")
    for i in np.flatnonzero(merged["demand"].notna() & merged["variance"].isna()):
        notes[i].append("forecast without an interval: no safety stock or reorder point")
    for i in np.flatnonzero(out["on_hand"].isna()):
        notes[i].append("on_hand unknown: no alert")
    for i in np.flatnonzero(snap["on_order"].isna()):
        notes[i].append("on_order unknown: taken as 0")
    for i in np.flatnonzero(out["lead_time_source"] == "default"):
        notes[i].append(f"no lead time in the snapshot: default {settings.default_lead_time_days} days")
    for i in np.flatnonzero(merged["horizon"] < out["lead_time_days"]):
        notes[i].append(f"lead time beyond the {int(merged['horizon'].iloc[i])}-day forecast: extrapolated at its mean")
    for i in np.flatnonzero((out["mean_daily_demand"] == 0).to_numpy()):
        notes[i].append("zero demand forecast: cover is unlimited")
    for i in np.flatnonzero((share_how == "given share").to_numpy() & (share == 0).to_numpy()):
        notes[i].append("no share of the product's demand given for this warehouse")
    out["note"] = ["; ".join(n) for n in notes]
    return out[COLUMNS]


def alerts(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a :func:`reorder_table` whose inventory position is below the reorder
    point, largest shortfall first."""
    hits = table[table["alert"]]
    return hits.sort_values(["shortfall", "product_id", "warehouse"], ascending=[False, True, True]).reset_index(drop=True)


# ----------------------------------------------------------------------------- from the warehouse to alerts


def reorder_inputs(con: duckdb.DuckDBPyConnection, settings: Settings, as_of=None):
    """``((latest snapshot, product demand history), "")`` up to ``as_of`` (default: the
    latest), or ``(None, the reason there is none)``."""
    if not table_exists(con, "inventory"):
        return None, "no inventory loaded: reorder alerts skipped"
    try:
        snapshot = latest_inventory(con, as_of)
    except InventoryError as e:
        return None, f"no inventory loaded: reorder alerts skipped ({e})"
    return (snapshot, demand_panel(con, settings.inventory, end=as_of)), ""


@dataclass(frozen=True)
class Reorder:
    """Reorder points of the company's products: :func:`reorder_table`
    and the status of each product's demand forecast."""

    table: pd.DataFrame
    statuses: pd.DataFrame
    errors: pd.DataFrame
    horizon: int
    models: tuple[str, ...]

    @property
    def alerts(self) -> pd.DataFrame:
        return alerts(self.table)


def forecast_reorder(
    snapshot: pd.DataFrame, demand: pd.DataFrame, settings: Settings, workers: int | None = None,
    models: tuple[str, ...] | None = None, progress: bool = False, honest: bool = False, run=forecast_and_backtest,
) -> Reorder:
    """Forecast the daily demand (units) of the products in ``snapshot`` over the longest
    lead time with ``models`` as the candidates (default ``[forecast] product_models``),
    and their reorder table (``honest``: with the honest backtest of the demand forecasts,
    :func:`salesml.forecast.auto.forecast_and_backtest`, or ``run``, a function like it). Pure
    unless ``run`` keeps its results."""
    fs = dataclasses.replace(settings.forecast, models=tuple(models or settings.forecast.product_models), choice=settings.forecast.product_choice)
    lead = pd.to_numeric(snapshot["lead_time_days"], errors="coerce").fillna(settings.inventory.default_lead_time_days)
    horizon = max(int(lead.max()), 1) if len(lead) else settings.inventory.default_lead_time_days
    wanted = demand[demand["unique_id"].isin(set(snapshot["product_id"]))]
    ev = run(wanted, horizon, "D", fs, workers, progress, honest=honest)
    table = reorder_table(snapshot, ev.forecasts, settings.inventory, level=fs.level)
    return Reorder(table, ev.statuses, ev.errors, horizon, fs.models)

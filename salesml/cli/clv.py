"""CLI commands: customer lifetime value (BG/NBD, Gamma-Gamma). Registered on ``salesml.cli.app`` when salesml.cli is imported."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

from salesml.cli.base import ConfigOpt, Fmt, _fail, _post, _settings, app, emit, err, out

if TYPE_CHECKING:
    import pandas as pd


@app.command()
def clv(
    as_of: Annotated[str | None, typer.Option("--as-of", help="date YYYY-MM-DD (default: last day of the latest complete month)")] = None,
    horizon_days: Annotated[int | None, typer.Option("--horizon-days", help="days ahead (default: [clv] horizon_days)")] = None,
    scope: Annotated[str, typer.Option(help="company, region:NAME, team:ID or rep:ID")] = "company",
    fit_only: Annotated[bool, typer.Option("--fit-only", help="print the fitted model parameters instead of customers")] = False,
    top: Annotated[int | None, typer.Option("--top", help="customers shown in table format (default: [report] top_n)")] = None,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    config: ConfigOpt = None,
) -> None:
    """Customer lifetime value per customer: BG/NBD purchases x Gamma-Gamma spend, discounted.

    Per customer: frequency, recency, T, monetary, P(alive), P(no purchase in the horizon),
    expected purchases, expected spend and CLV over the horizon. Table: the top customers
    and a summary. --fit-only: the fitted parameters, log-likelihoods and customer counts.
    Anonymous (walk-in / guest) sales are nobody's purchases: how many order lines and how
    much revenue the models leave out is said on stderr (and under "anonymous" in the
    --fit-only JSON).
    """
    import pandas as pd
    day = None
    if as_of:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            _fail(f"--as-of {as_of!r} is not a date of the form YYYY-MM-DD")
    if horizon_days is not None and horizon_days <= 0:
        _fail(f"--horizon-days must be a positive number of days, got {horizon_days}")
    from salesml import warehouse
    from salesml.customers import clv as model

    settings = _settings(config)
    _post(settings)
    horizon = horizon_days if horizon_days is not None else settings.clv.horizon_days
    with warehouse.open(settings, read_only=True) as con:
        if day is None:
            day = model.default_as_of(con)
            if fmt == Fmt.table:
                err.print(f"as of {day} (last day of the latest complete month)", highlight=False)
        bg, gg, summary = model.fit(con, day, settings)
        if getattr(bg, "refit_", None):
            err.print(bg.refit_, highlight=False)
        df = None if fit_only else model.customer_clv(con, day, horizon, settings, scope, models=(bg, gg))
        anonymous = model.left_out(con, day, None if fit_only else scope, settings)
    if anonymous:
        where = "company" if fit_only else scope
        err.print(f"{anonymous.text('the lifetime values')} (as of {day}, {where})", highlight=False)

    if fit_only:
        _print_fit(bg, gg, summary, day, settings.clv, fmt, anonymous)
        return
    if fmt != Fmt.table:
        emit(df, fmt.value)
        return
    n = top if top is not None else settings.report.top_n
    shown = df.drop(columns=["T"]).head(n)
    readable = shown.assign(
        frequency=shown["frequency"].astype(int),
        **{c: shown[c].map(lambda v: f"{v:.3f}") for c in ("p_alive", "p_no_purchase_h")},
    )
    unit = settings.clv.time_unit
    emit(readable, "table", title=f"customer lifetime value, {scope}, as of {day}, next {horizon} days "
                               f"(top {len(shown)} of {len(df):,}; recency in {unit}; all columns: --format csv|json)")
    total = float(df["clv"].sum())
    summary_row = pd.DataFrame([{
        "customers": len(df),
        "likely_active": int((df["p_alive"] >= 0.5).sum()),
        "expected_purchases": float(df["expected_purchases"].sum()),
        "clv_total": total,
        "clv_mean": float(df["clv"].mean()) if len(df) else float("nan"),
        "top_share_pct": 100.0 * float(shown["clv"].sum()) / total if total > 0 else float("nan"),
    }])
    emit(summary_row, "table", title=f"summary ({scope}; likely active = P(alive) >= 0.5; top share = CLV of the top {len(shown)})")
    p, q = bg.params_, gg.params_
    out.print(
        f"BG/NBD r={p['r']:.4g} alpha={p['alpha']:.4g} a={p['a']:.4g} b={p['b']:.4g} ({bg.n_customers_:,} customers, {unit}); "
        f"Gamma-Gamma p={q['p']:.4g} q={q['q']:.4g} gamma={q['gamma']:.4g} ({gg.n_customers_:,} repeat customers); "
        f"discount {settings.clv.discount_rate:.1%}/year, margin ratio {settings.clv.margin_ratio:g}",
        highlight=False,
    )


def _print_fit(bg, gg, summary: pd.DataFrame, day: date, clv_settings, fmt: Fmt, anonymous) -> None:
    import pandas as pd
    rep = summary[summary["frequency"] > 0]
    corr = float(rep["frequency"].corr(rep["monetary"])) if len(rep) > 2 else float("nan")
    payload = {
        "as_of": day.isoformat(),
        "time_unit": clv_settings.time_unit,
        "n_customers": len(summary),
        "n_repeat_customers": len(rep),
        "bg_nbd": bg.to_dict(),
        "gamma_gamma": gg.to_dict(),
        # the Gamma-Gamma model assumes spend independent of frequency: a strong correlation is a warning sign
        "frequency_monetary_corr": corr if corr == corr else None,
        # walk-in / guest sales the models leave out (order lines, orders, revenue and its share)
        "anonymous": anonymous.to_dict("the lifetime-value models"),
    }
    if fmt == Fmt.json:
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    rows = [
        {"model": name, "parameter": k, "value": v}
        for name, m in (("bg_nbd", payload["bg_nbd"]), ("gamma_gamma", payload["gamma_gamma"]))
        for k, v in [*m["params"].items(), ("log_likelihood", m["log_likelihood"]), ("n_customers", m["n_customers"])]
    ]
    df = pd.DataFrame({
        "model": [r["model"] for r in rows],
        "parameter": [r["parameter"] for r in rows],
        "value": pd.Series([r["value"] for r in rows], dtype=object),  # counts stay integers
    })
    if fmt == Fmt.csv:
        emit(df, "csv")
        return
    emit(df.assign(value=df["value"].map(lambda v: f"{v:,.6g}")), "table",
         title=f"lifetime-value models as of {payload['as_of']} ({payload['time_unit']}; {payload['n_customers']:,} customers, "
               f"{payload['n_repeat_customers']:,} with repeat purchases)")
    if payload["frequency_monetary_corr"] is not None:
        out.print(f"correlation of frequency and spend among repeat customers: {corr:.2f} "
                  "(the Gamma-Gamma model assumes none)", highlight=False)


"""CLI commands: model training, scoring and the registry. Registered on ``salesml.cli.app`` when salesml.cli is imported.

* ``salesml train churn [--as-of DATE] [--format json]``: fit, evaluate on the time-based
  holdout against the baselines, refit on all data up to the as-of date, save a version;
* ``salesml score churn [--version V] [--as-of DATE]``: risk scores into ``churn_scores``;
* ``salesml models list [--kind K]`` / ``salesml models compare KIND V1 V2``: the registry.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

from salesml.cli.base import (
    ConfigOpt,
    Fmt,
    JsonOrTable,
    LightGroup,
    _fail,
    _jsonable,
    _log,
    _post,
    _settings,
    app,
    audited,
    emit,
    err,
    out,
)

if TYPE_CHECKING:
    import pandas as pd

train_app = typer.Typer(cls=LightGroup, help="Train a model, evaluate it on a time-based holdout against baselines, save a new version.", no_args_is_help=True)
score_app = typer.Typer(cls=LightGroup, help="Score with a stored model version and write the scores to the warehouse.", no_args_is_help=True)
models_app = typer.Typer(cls=LightGroup, help="The model registry: stored versions, their manifests and metrics.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(score_app, name="score")
app.add_typer(models_app, name="models")

AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD: use the data up to this day (default: the last day of sales)", show_default=False)]
METRICS = ("roc_auc", "pr_auc", "brier", "lift_top_decile")


def _as_of(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"--as-of {value!r} is not a date of the form YYYY-MM-DD")
    return None


def _metric_table(model: dict, baselines: dict) -> pd.DataFrame:
    import pandas as pd

    from salesml.customers.churn_scorers import NAMES

    rows = [{"scorer": NAMES["model"], **{m: model.get(m) for m in METRICS}}]
    for key, metrics in baselines.items():
        rows.append({"scorer": NAMES.get(key, key), **{m: metrics.get(m) for m in METRICS}})
    return pd.DataFrame(rows)


@train_app.command("crosssell")
def train_crosssell(
    fmt: Annotated[JsonOrTable, typer.Option("--format")] = JsonOrTable.table,
    config: ConfigOpt = None,
) -> None:
    """Cross-sell: backtest the suggestions of [crosssell] on the last horizon_days of data
    against best-sellers (hit rate, precision), learn the rules from all baskets and save a
    new version (the reports quote its backtest)."""
    import pandas as pd

    from salesml.customers import crosssell

    settings = _settings(config)
    _post(settings)
    with audited(settings, "train crosssell", {}) as what:
        result = crosssell.train(settings, log=_log)
        what["params"] = {"version": result["version"]}
    if fmt == JsonOrTable.json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2, default=str) + "\n")
        return
    bt = result["backtest"]
    rows = pd.DataFrame(bt["rows"])[["method", "customers", "hit_rate", "precision_at_k", "recall_at_k", "hit_rate_gain", "gain_low", "gain_high"]]
    emit(rows, "table", title=f"crosssell {result['version']}: backtest from {bt['cutoff']}, {bt['horizon_days']} days, {bt['k']} suggestions a customer")
    out.print(f"saved crosssell {result['version']}: {result['rules']:,} rules from {result['baskets']:,} baskets up to {result['data_end']}", highlight=False)


@train_app.command("churn")
def train_churn(
    as_of: AsOfOpt = None,
    fmt: Annotated[JsonOrTable, typer.Option("--format")] = JsonOrTable.table,
    config: ConfigOpt = None,
) -> None:
    """Churn: fit on monthly cutoffs, evaluate on the later holdout (model vs recency and
    BG/NBD), refit on all data up to the as-of date and save a new version. Anonymous
    (walk-in / guest) sales are left out: how many is said on stderr (JSON: "anonymous")."""
    import pandas as pd

    from salesml.customers import churn

    settings = _settings(config)
    day = _as_of(as_of)
    _post(settings)
    with audited(settings, "train churn", {"as_of": day}) as what:
        result = churn.train(settings, day, log=_log)
        what["params"] = {"version": result["version"]}
    payload = {k: v for k, v in result.items() if k not in ("manifest", "pipeline")}
    if result["anonymous"]["lines"]:
        _log(result["anonymous"]["note"])
    if fmt == JsonOrTable.json:
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n")
        return
    shown = _metric_table(result["model"], result["baselines"])
    shown[list(METRICS)] = shown[list(METRICS)].map(lambda v: "" if v is None or pd.isna(v) else f"{v:.4f}")
    emit(shown, "table",
         title=f"churn {result['version']}: holdout {', '.join(result['cutoffs']['test'])} "
               f"({result['holdout']['examples']:,} customers, {result['holdout']['churn_rate']:.1%} churned)")
    drivers = pd.DataFrame(result["drivers"])
    if len(drivers):
        drivers[["importance", "std"]] = drivers[["importance", "std"]].map(lambda v: f"{v:.4f}")
        emit(drivers, "table", title="drivers (permutation importance on the holdout: drop in ROC-AUC)")
    out.print(f"training cutoffs: {', '.join(result['cutoffs']['train'])}", highlight=False)
    out.print(result["refit"], highlight=False)
    out.print(f"scorer of this version: {result['scorer']['label']} — {result['scorer']['why']}", highlight=False)
    for note in result["notes"]:
        if note != result["anonymous"]["note"]:  # said on stderr
            out.print(f"note: {note}", highlight=False)
    out.print(f"saved churn model {result['version']} in {result['seconds']:.0f}s", highlight=False)


@score_app.command("churn")
def score_churn(
    version: Annotated[str | None, typer.Option("--version", help="model version, e.g. v0003 (default: the latest)")] = None,
    as_of: AsOfOpt = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table: a summary and the riskiest customers; json: the summary; csv: every score")] = Fmt.table,
    top: Annotated[int, typer.Option(help="riskiest customers shown in table format")] = 15,
    allow_lookahead: Annotated[bool, typer.Option("--allow-lookahead", help="score as of a date before the model's training labels end (a deliberate backfill; recorded with the scores)")] = False,
    config: ConfigOpt = None,
) -> None:
    """Churn risk of every active customer (risk, top reasons, value at risk), written to
    the warehouse table churn_scores (replacing the rows of the same as-of date and version).
    Anonymous (walk-in / guest) sales are not scored: how many order lines and how much
    revenue of the lookback window that leaves out is said on stderr (JSON: "anonymous").
    An --as-of date before the end of the model's training labels is refused (the model has
    seen what happened next): train a model as of that date, or --allow-lookahead."""
    import pandas as pd

    from salesml.customers import churn

    settings = _settings(config)
    day = _as_of(as_of)
    _post(settings)
    scores, manifest = churn.score(settings, version, day, allow_lookahead=allow_lookahead)
    if scores.empty:
        _fail(f"no customer with a purchase in the {manifest.get('feature_settings', {}).get('lookback_days', '')} days up to the as-of date: nothing to score")
    as_of_day = scores["as_of"].iloc[0]
    written = churn.write_scores(settings, scores, as_of_day, manifest["version"])
    anonymous = churn.scoring_left_out(settings, manifest, as_of_day)
    lookback = churn.feature_settings(settings, manifest).lookback_days
    what = f"the churn scores (the {lookback} days up to {as_of_day})"
    if anonymous:
        _log(anonymous.text(what))
    lookahead = bool(scores["lookahead"].any())
    if lookahead:
        _log(f"lookahead: model {manifest['version']} was trained on labels up to {manifest['data_window']['last']}, after {as_of_day} "
             "(--allow-lookahead): these scores are a backfill, not what could have been known then; churn_scores records it")
    summary = {"version": manifest["version"], "as_of": str(as_of_day), **churn.summarize(scores, settings.churn),
               "rows_written": written["rows"], "rows_replaced": written["replaced"], "lookahead": lookahead,
               "anonymous": anonymous.to_dict(what)}
    if fmt == Fmt.json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2, default=str) + "\n")
        return
    if fmt == Fmt.csv:
        emit(scores, "csv")
        return
    emit(pd.DataFrame([{k: v for k, v in summary.items() if k != "anonymous"}]), "table",
         title=f"churn scores {manifest['version']} as of {as_of_day}")
    shown = scores.head(top)[["customer_id", "owner_rep_id", "risk", "value_at_risk", "top_reasons"]]
    emit(shown, "table", title=f"riskiest {len(shown)} of {len(scores):,} customers")
    out.print(f"written to churn_scores ({written['rows']:,} rows; {written['replaced']:,} replaced)", highlight=False)


@models_app.command("list")
def models_list(
    kind: Annotated[str | None, typer.Option("--kind", help="only this kind, e.g. churn")] = None,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    config: ConfigOpt = None,
) -> None:
    """Stored model versions with their data window, the scorer a churn version uses, and
    headline metrics (the table: ROC-AUC of the model and each baseline; all: --format csv|json)."""
    from salesml import registry

    settings = _settings(config)
    df = registry.list_versions(settings, kind)
    if df.empty:
        err.print(f"no {kind + ' ' if kind else ''}model versions in {registry.models_root(settings)}", highlight=False)
        if fmt == Fmt.json:
            sys.stdout.write("[]\n")
        return
    if "data_window" in df:
        df["data_window"] = df["data_window"].map(_window_text)
    if fmt == Fmt.json:
        sys.stdout.write(json.dumps(_jsonable(df), ensure_ascii=False, indent=2) + "\n")
        return
    if fmt == Fmt.table:
        # the table: ROC-AUC of the model and each baseline (every metric: --format csv|json)
        keep = [c for c in df.columns if not c.startswith("metric:") or c.split(".")[-1] == "roc_auc"]
        df = df[keep].rename(columns=lambda c: c.removeprefix("metric:"))
    emit(df, fmt.value, title=f"models ({registry.models_root(settings)})")


def _window_text(w) -> str | None:
    import pandas as pd
    if isinstance(w, dict):
        return f"{w.get('first', '')} .. {w.get('last', '')}"
    return None if w is None or (isinstance(w, float) and pd.isna(w)) else str(w)


@models_app.command("compare")
def models_compare(
    kind: Annotated[str, typer.Argument(help="model kind, e.g. churn")],
    v1: Annotated[str, typer.Argument(help="a version, e.g. v0001")],
    v2: Annotated[str, typer.Argument(help="another version, e.g. v0002")],
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    config: ConfigOpt = None,
) -> None:
    """Metrics and parameters of two versions side by side, with the change."""
    from salesml import registry

    settings = _settings(config)
    df = registry.compare(settings, kind, v1, v2)
    emit(df, fmt.value, title=f"{kind}: {v1} vs {v2}")

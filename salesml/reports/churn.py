"""The churn risk report: what ``notebooks/churn_risk.ipynb`` shows.

The model comes from the registry (the latest version, or the one asked for); the report
never trains. Without a stored version it says so and how to train one. Scores are
computed for the report's as-of date from the customers of its scope only: the warehouse
queries read the customers the scope's reps own (customers.owner_rep_id) and nothing else,
so a rep's report holds no other rep's customers. The model quality figures (holdout
metrics, curves, drivers) are the company-wide aggregates stored with the model: they
describe the model and carry no customer's data.

Anonymous (walk-in / guest) sales have no customer and no owner: they are never scored. The
report says how many order lines and how much revenue of the scoring's lookback window that
leaves out (the sales the ledger credits to the scope; :func:`salesml.customers.churn.scoring_left_out`).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from salesml import registry
from salesml.accounting import performance as perf
from salesml.anonymous import LeftOut
from salesml.customers import churn
from salesml.customers.churn_scorers import NAMES
from salesml.reports import html as H
from salesml.reports.performance import report_settings, warehouse_connect
from salesml.scope import Scope, check_scope, parse_scope

METRICS = ("roc_auc", "pr_auc", "brier", "lift_top_decile")
METRIC_LABELS = {"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "brier": "Brier score", "lift_top_decile": "lift, top decile"}
COLORS = {"model": "#0969da", "recency": "#bf8700", "bgnbd": "#8250df", "logistic": "#1a7f37"}


def risk_text(v) -> str:
    """A churn risk as shown: a percentage, "very likely" above 99% (never a certain 100%)."""
    return "very likely (>99%)" if float(v) > 0.99 else H.fmt_pct(100 * float(v))


class ChurnRiskReport:
    """Holdout quality vs baselines, calibration, drivers, and the at-risk customers per rep."""

    def __init__(self, as_of: str = "", scope: str = "company", version: str = "", config_path: str = "", warehouse: str = "",
                 allow_lookahead: bool = False):
        self.settings = report_settings(config_path, warehouse)
        self.scope: Scope = parse_scope(scope)
        self.version = version or None
        self.missing = ""
        self.manifest: dict = {}
        self.curves: dict = {}
        self.scores = pd.DataFrame(columns=churn.SCORE_COLUMNS)
        self.anonymous = LeftOut()
        self.lookahead = False
        with warehouse_connect(self.settings) as con:
            check_scope(con, self.scope)
            self.currency = perf.main_currency(con)
        try:
            self.pipeline, self.manifest = registry.load_estimator(self.settings, churn.KIND, self.version)
        except registry.RegistryError as e:
            self.pipeline = None
            self.missing = str(e)
            self.as_of = as_of or ""
            return
        self.curves = churn.evaluation(self.settings, self.manifest["version"])
        sql, params = churn.scope_customers(self.scope)
        self.scores, _ = churn.score(
            self.settings, as_of=as_of or None, customers_sql=sql, params=params, model=(self.pipeline, self.manifest),
            allow_lookahead=allow_lookahead,
        )
        self.lookahead = bool(self.scores["lookahead"].any()) if len(self.scores) else False
        self.as_of = str(self.scores["as_of"].iloc[0]) if len(self.scores) else (as_of or "")
        if self.as_of:
            self.anonymous = churn.scoring_left_out(self.settings, self.manifest, self.as_of, self.scope)
        self.people = self._people(sql, params)

    def _people(self, sql: str, params: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Names of the scope's customers and of their owner reps (nobody else's)."""
        only = f"WHERE customer_id IN ({sql})" if sql else ""
        with warehouse_connect(self.settings) as con:
            customers = con.execute(f"SELECT customer_id, name AS customer_name FROM customers {only}", params).df()
            owners = sorted({str(r) for r in self.scores["owner_rep_id"].dropna()})
            reps = pd.DataFrame(columns=["rep_id", "rep_name"])
            if owners:
                marks = ", ".join("?" * len(owners))
                reps = con.execute(
                    f"SELECT rep_id, arg_max(name, valid_from) AS rep_name FROM reps WHERE rep_id IN ({marks}) GROUP BY rep_id",
                    owners,
                ).df()
        return customers, reps

    # ------------------------------------------------------------------ figures

    @property
    def metrics(self) -> dict:
        m = self.manifest.get("metrics", {})
        return {"model": m.get("model", {}), **m.get("baselines", {})}

    @property
    def scorer(self) -> str:
        """What this version scores with: "model", or the baseline it fell back to."""
        return self.manifest.get("scorer", {}).get("name", "model")

    @property
    def scorer_label(self) -> str:
        return NAMES.get(self.scorer, self.scorer)

    @property
    def at_risk(self) -> pd.DataFrame:
        s = self.scores
        return s[s["risk"] >= self.settings.churn.at_risk_threshold] if len(s) else s

    @property
    def headline_figures(self) -> dict:
        figures = {"model_version": self.manifest.get("version"), "as_of": self.as_of or None, "scope": str(self.scope),
                   "scorer": self.scorer if self.manifest else None, "lookahead": self.lookahead}
        for scorer, values in self.metrics.items():
            prefix = "" if scorer == "model" else f"{scorer}_"
            for k in METRICS:
                figures[prefix + k] = values.get(k)
        figures.update(
            customers_scored=len(self.scores),
            at_risk=len(self.at_risk),
            value_at_risk=round(float(self.at_risk["value_at_risk"].sum()), 2) if len(self.at_risk) else 0.0,
            anonymous_lines=self.anonymous.lines,
            anonymous_orders=self.anonymous.orders,
            anonymous_revenue=self.anonymous.revenue,
            anonymous_revenue_share_pct=self.anonymous.share_pct,
        )
        return figures

    @property
    def anonymous_note(self) -> str:
        """What the scores leave out: anonymous (walk-in / guest) sales of the lookback window."""
        if not self.anonymous or self.pipeline is None:
            return ""
        s = churn.feature_settings(self.settings, self.manifest)
        symbol = H.currency_symbol(self.currency)
        where = "" if self.scope.level == "company" else " credited to this scope"
        return (
            f"Walk-in / guest sales have no customer and no owner: of the sales{where} in the {s.lookback_days} days "
            f"up to {self.as_of}, "
            + self.anonymous.text("the churn scores", money=lambda v: symbol + H.fmt_exact_money(v))
            + "."
        )

    def money(self, v) -> str:
        return H.fmt_money(v, H.currency_symbol(self.currency))

    # ------------------------------------------------------------------ blocks

    def title(self) -> H.Block:
        who = {"company": "Whole company", "region": f"Region {self.scope.value}", "team": f"Team {self.scope.value}",
               "rep": f"Rep {self.scope.value}: your customers"}[self.scope.level]
        head = H.style() + H.heading(f"Churn risk{' as of ' + self.as_of if self.as_of else ''}", 1)
        if self.pipeline is None:
            return head + H.note(f"{who}. No churn model to score with: {self.missing}.") + H.note(
                "Train one with `salesml train churn` (it is evaluated on a time-based holdout against the "
                "recency and BG/NBD baselines and saved in the model registry); this report then loads it."
            )
        m = self.manifest
        s = churn.feature_settings(self.settings, m)
        return head + H.note(
            f"{who}. Model {m['version']} trained {m.get('created_at', '')[:10]} on data from {m['data_window']['first']} to "
            f"{m['data_window']['last']}. Risk = the {self.scorer_label}'s probability that a customer who bought in the last "
            f"{s.lookback_days} days makes no purchase in the next {s.horizon_days} days."
        ) + (H.note(
            f"Lookahead: this model was trained on labels up to {m['data_window']['last']}, after the as-of date {self.as_of}. "
            "These scores are a backfill made with knowledge of what happened next (allowed by the allow_lookahead "
            f"parameter), not what could have been known on {self.as_of}."
        ) if self.lookahead else _empty())

    def headline(self) -> H.Block:
        f = self.headline_figures
        if self.pipeline is None:
            return H.figures(f)
        model, bg, rec, logit = (self.metrics.get(k, {}) for k in ("model", "bgnbd", "recency", "logistic"))
        cards = [
            {"label": "Customers scored", "value": H.fmt_int(f["customers_scored"]), "sub": "active in the lookback window"},
            {"label": "At risk", "value": H.fmt_int(f["at_risk"]), "sub": f"risk ≥ {self.settings.churn.at_risk_threshold:.0%}"},
            {"label": "Value at risk", "value": self.money(f["value_at_risk"]), "sub": "risk × last year's net revenue, at-risk customers"},
            {"label": "Model ROC-AUC", "value": _fmt(model.get("roc_auc")),
             "sub": f"recency {_fmt(rec.get('roc_auc'))} · BG/NBD {_fmt(bg.get('roc_auc'))} · log RFM {_fmt(logit.get('roc_auc'))}",
             "trend": _beats(model, (rec, bg, logit), "roc_auc")},
            {"label": "Scores by", "value": "the model" if self.scorer == "model" else self.scorer_label.removeprefix("baseline: "),
             "sub": "beats the baselines beyond the noise" if self.scorer == "model" else "the model did not beat it"},
        ]
        block = H.cards(cards)
        if self.anonymous:
            block = block + H.note(self.anonymous_note)
        return block + H.figures(f)

    def holdout_metrics(self) -> H.Block:
        if self.pipeline is None:
            return _empty()
        rows = [{"scorer": NAMES.get(k, k), **{METRIC_LABELS[m]: v.get(m) for m in METRICS}} for k, v in self.metrics.items()]
        df = pd.DataFrame(rows)
        h = self.manifest["metrics"].get("holdout", {})
        cut = self.manifest["cutoffs"]
        model = self.metrics.get("model", {})
        others = [v for k, v in self.metrics.items() if k != "model"]
        beaten = _beats(model, others, "roc_auc")
        verdict = (
            "The model ranks churners better than every baseline (ROC-AUC)." if beaten and beaten > 0
            else "On this holdout the model does NOT rank churners better than every baseline (ROC-AUC)."
        )
        why = self.manifest.get("scorer", {}).get("why")
        if why:
            verdict += f" Scores of this version: {self.scorer_label} — {why}."
        return H.heading("Holdout: model vs baselines", 2,
                         f"Trained on cutoffs {cut['train'][0]} … {cut['train'][-1]}; measured on the later "
                         f"cutoff(s) {', '.join(cut['test'])}: {H.fmt_int(h.get('examples'))} customers, "
                         f"{H.fmt_pct(100 * h['churn_rate']) if h.get('churn_rate') is not None else '–'} of them churned. "
                         "The label windows of the holdout start after the training ones end. Company-wide figures.") + H.table(
            df, formats={METRIC_LABELS[m]: _fmt for m in METRICS}) + H.note(
            verdict + " Higher is better except for the Brier score (mean squared error of the probabilities). "
            "Recency ranks by days since the last purchase; BG/NBD by its probability of no purchase in the horizon; "
            "the logistic regression by log(1 + recency, orders, net revenue, tenure)."
        )

    def roc_chart(self) -> H.Block:
        if not self.curves:
            return _empty()
        fig = go.Figure()
        for key, label in NAMES.items():
            c = self.curves.get(key, {}).get("roc")
            if c:
                auc = self.metrics.get(key, {}).get("roc_auc")
                fig.add_scatter(x=c["fpr"], y=c["tpr"], mode="lines", name=f"{label} ({_fmt(auc)})", line=dict(color=COLORS[key]))
        fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line=dict(color="#8c959f", dash="dot"))
        fig.update_layout(title="ROC curve on the holdout", xaxis_title="false positive rate (stayers flagged)",
                          yaxis_title="true positive rate (churners caught)", height=420, template="plotly_white",
                          margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.2))
        return H.heading("ROC and lift", 2) + H.chart(fig)

    def lift_chart(self) -> H.Block:
        if not self.curves:
            return _empty()
        fig = go.Figure()
        xs = [f"top {10 * (i + 1)}%" for i in range(10)]
        for key, label in NAMES.items():
            gains = self.curves.get(key, {}).get("gains")
            if gains:
                fig.add_scatter(x=xs, y=gains, mode="lines+markers", name=label, line=dict(color=COLORS[key]))
        fig.add_scatter(x=xs, y=[1.0] * 10, mode="lines", name="no model", line=dict(color="#8c959f", dash="dot"))
        fig.update_layout(title="Cumulative lift: churn rate among the riskiest customers vs overall", yaxis_title="lift",
                          height=380, template="plotly_white", margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.2))
        return H.chart(fig)

    def calibration_chart(self) -> H.Block:
        if not self.curves:
            return _empty()
        fig = go.Figure()
        for key in ("model", "bgnbd", "logistic"):
            rel = self.curves.get(key, {}).get("reliability")
            if rel:
                fig.add_scatter(x=rel["predicted"], y=rel["observed"], mode="lines+markers", name=NAMES[key],
                                line=dict(color=COLORS[key]), customdata=rel["count"],
                                hovertemplate="predicted %{x:.2f}<br>observed %{y:.2f}<br>%{customdata} customers<extra></extra>")
        fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line=dict(color="#8c959f", dash="dot"))
        fig.update_layout(title="Reliability: predicted vs observed churn (tenths of the holdout by predicted risk)",
                          xaxis_title="predicted probability", yaxis_title="observed churn rate", height=420,
                          template="plotly_white", margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.2))
        return H.heading("Calibration", 2, "When the model says 30%, about 30% should churn: points near the diagonal.") + H.chart(fig)

    def drivers(self) -> H.Block:
        if self.pipeline is None:
            return _empty()
        imp = pd.DataFrame(self.manifest.get("importance", [])).head(15)
        if imp.empty:
            return H.note("No permutation importance stored with this model.")
        imp = imp.iloc[::-1]
        fig = go.Figure(go.Bar(x=imp["importance"], y=[f"{f} ({g})" for f, g in zip(imp["feature"], imp["group"], strict=True)],
                               orientation="h", marker_color="#0969da", error_x=dict(type="data", array=imp["std"])))
        fig.update_layout(title="Drivers: drop in holdout ROC-AUC when a feature is shuffled", height=max(320, 26 * len(imp) + 120),
                          template="plotly_white", margin=dict(l=10, r=10, t=50, b=10))
        return H.heading("Drivers", 2, "Permutation importance on the holdout (company-wide).") + H.chart(fig)

    def follow_up(self) -> H.Block:
        """The at-risk customers of each owner rep, most value at risk first: the follow-up list."""
        if self.pipeline is None:
            return _empty()
        top_n = self.settings.report.top_n
        risky = self.at_risk
        head = H.heading(
            "Follow-up list", 2,
            f"Customers with a risk of {self.settings.churn.at_risk_threshold:.0%} or more, per owner rep, most value at risk "
            f"first (value at risk = risk × net revenue of the last year); at most {top_n} per rep.",
        )
        if risky.empty:
            return head + H.note("No customer at risk in this scope.")
        customers, reps = self.people
        df = risky.merge(customers, on="customer_id", how="left").merge(reps, left_on="owner_rep_id", right_on="rep_id", how="left")
        df["owner_rep_id"] = df["owner_rep_id"].fillna("(no owner)")
        summary = (
            df.groupby("owner_rep_id", dropna=False)
            .agg(rep_name=("rep_name", "first"), at_risk=("customer_id", "size"), value_at_risk=("value_at_risk", "sum"))
            .reset_index()
            .sort_values(["value_at_risk", "owner_rep_id"], ascending=[False, True], kind="mergesort")
        )
        block = head
        if len(summary) > 1:
            block = block + H.table(summary, formats={"at_risk": H.fmt_int, "value_at_risk": H.fmt_exact_money},
                                    labels={"owner_rep_id": "rep", "rep_name": "name", "at_risk": "customers at risk", "value_at_risk": "value at risk"})
        for rep_id in summary["owner_rep_id"]:
            part = df[df["owner_rep_id"] == rep_id].sort_values(["value_at_risk", "risk"], ascending=False, kind="mergesort")
            name = part["rep_name"].dropna()
            title = f"{rep_id}{' — ' + str(name.iloc[0]) if len(name) else ''}: {len(part)} at risk"
            shown = part.head(top_n)[["customer_id", "customer_name", "risk", "value_at_risk", "revenue_lookback", "top_reasons"]]
            block = block + H.heading(title, 3) + H.table(
                shown,
                formats={"risk": risk_text, "value_at_risk": H.fmt_exact_money, "revenue_lookback": H.fmt_exact_money},
                labels={"customer_id": "customer", "customer_name": "name", "value_at_risk": "value at risk",
                        "revenue_lookback": "revenue last year", "top_reasons": "why"},
            )
        return block

    def notes(self) -> H.Block:
        if self.pipeline is None:
            return _empty()
        m = self.manifest
        extra = [*m.get("notes", [])]
        text = (
            f"Label: {m['label']['definition']}. {m['refit']}. The at-risk list is scored as of {self.as_of} from the "
            "customers' own purchases, returns and tickets up to that day. Reasons: the feature groups whose typical values "
            "(the training population's medians) would lower a customer's risk most, in their own figures. "
            f"Features: {', '.join(m['feature_groups'])}."
        )
        if extra:
            text += " Notes: " + "; ".join(extra) + "."
        return H.heading("How these figures are made", 3) + H.note(text + f" Generated by salesml from {self.settings.warehouse_path.name}.")


def _fmt(v) -> str:
    return "–" if v is None or pd.isna(v) else f"{float(v):.3f}"


def _beats(model: dict, others, key: str) -> float | None:
    """How much the model's metric exceeds the best baseline's (None when unknown)."""
    mine = model.get(key)
    theirs = [o.get(key) for o in others if o.get(key) is not None]
    if mine is None or not theirs:
        return None
    return float(mine) - max(float(v) for v in theirs)


def _empty() -> H.Block:
    return H.Block("", text="")

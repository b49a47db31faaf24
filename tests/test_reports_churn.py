"""The churn_risk report: rendered from a stored model, figures = the registry's, rep scope holds only the rep's customers,
walk-in / guest sales are never scored and the page says how many there were."""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest

from salesml import registry
from salesml.config import load_settings
from salesml.customers import churn
from salesml.reports.churn import ChurnRiskReport, reason_groups, reason_parts, reasons_text
from salesml.reports.runner import ReportError, render
from tests import anonymous_company
from tests.test_reports_runner import with_notebooks

FAST = {"train_cutoffs": 3, "max_iter": 30, "importance_repeats": 1, "calibration_folds": 2, "min_samples_leaf": 20,
        "min_train_examples": 100, "min_test_examples": 30}


@pytest.fixture(scope="module")
def guests(small_demo, tmp_path_factory):
    """A copy of the small demo with a quarter of anonymous lines (tests/anonymous_company.py)."""
    return anonymous_company.build(small_demo, tmp_path_factory.mktemp("churn_report"))


@pytest.fixture(scope="module")
def trained(guests):
    """The small demo with walk-in / guest sales and one churn model version in its registry."""
    root = guests.settings.root
    # the report notebook reads its settings (the models' folder, the guest id) from the config file
    churn_toml = "\n".join(f"{k} = {v}" for k, v in FAST.items())
    (root / "salesml.toml").write_text(
        f'[warehouse]\npath = "warehouse.duckdb"\n\n[models]\ndir = "models"\n\n[churn]\n{churn_toml}\n\n'
        '[sources.shop]\nanonymous_customer = "GUEST"\n',
        encoding="utf-8",
    )
    s = with_notebooks(load_settings(root / "salesml.toml"))
    churn.train(s)
    return s


def customer_ids(page: str) -> set[str]:
    return set(re.findall(r"\bC\d{6}\b", page))


@pytest.mark.notebook
def test_report_shows_the_registry_metrics_and_charts(trained, guests):
    result = render(trained, "churn_risk", {"as_of": "2026-06-30"})
    manifest = registry.manifest(trained, "churn")
    f = result.figures
    assert f["model_version"] == manifest["version"] == "v0001"
    metrics = manifest["metrics"]
    for m in ("roc_auc", "pr_auc", "brier", "lift_top_decile"):
        assert f[m] == metrics["model"][m]
        assert f[f"recency_{m}"] == metrics["baselines"]["recency"][m]
        assert f[f"bgnbd_{m}"] == metrics["baselines"]["bgnbd"][m]
    assert f["customers_scored"] > 100 and 0 < f["at_risk"] <= f["customers_scored"]
    page = result.html_path.read_text(encoding="utf-8")
    assert page.count("Plotly.newPlot") >= 4  # ROC, lift, reliability, drivers
    assert "Follow-up list" in page and "Holdout: model vs baselines" in page
    assert "ChurnRiskReport(" not in page
    # walk-in / guest sales of the lookback window (365 days to the as-of day) are not scored, and it says so
    end = date(2026, 6, 30)
    e = guests.expected(guests.happened(end - timedelta(days=365), end))
    assert (f["anonymous_lines"], f["anonymous_orders"]) == (e["lines"], e["orders"]) and e["lines"] > 100
    assert Decimal(str(f["anonymous_revenue"])) == e["revenue"]
    assert f"{e['lines']:,} anonymous order lines in {e['orders']:,} orders (¥{e['revenue']:,.2f}" in page
    assert "are not in the churn scores" in page


@pytest.mark.notebook
def test_a_reps_report_holds_only_their_customers(trained, guests):
    scores, _ = churn.score(trained, as_of="2026-06-30")
    risky = scores[scores["risk"] >= trained.churn.at_risk_threshold]
    rep = risky["owner_rep_id"].value_counts().index[0]
    with duckdb.connect(str(trained.warehouse_path), read_only=True) as con:
        own = {r[0] for r in con.execute("SELECT customer_id FROM customers WHERE owner_rep_id = ?", [rep]).fetchall()}
    result = render(trained, "churn_risk", {"as_of": "2026-06-30", "scope": f"rep:{rep}"})
    page = result.html_path.read_text(encoding="utf-8")
    shown = customer_ids(page)
    assert shown and shown <= own  # their at-risk customers, and nobody else's
    assert set(risky.loc[risky["owner_rep_id"] == rep, "customer_id"]) <= shown
    assert result.figures["customers_scored"] == int((scores["owner_rep_id"] == rep).sum())
    others = set(scores["customer_id"]) - own
    assert not others & shown
    assert not set(scores["customer_id"]) & {None, anonymous_company.GUEST}  # GUEST has an owner, but is nobody
    # the walk-in sales credited to the rep in the lookback window
    end = date(2026, 6, 30)
    e = guests.expected(guests.happened(end - timedelta(days=365), end, rep=rep))
    assert result.figures["anonymous_lines"] == e["lines"] and Decimal(str(result.figures["anonymous_revenue"])) == e["revenue"]
    if e["lines"]:
        assert "of the sales credited to this scope" in page


@pytest.mark.notebook
def test_without_a_model_the_report_says_so(trained, tmp_path):
    shutil.copy(trained.warehouse_path, tmp_path / "warehouse.duckdb")
    (tmp_path / "salesml.toml").write_text('[warehouse]\npath = "warehouse.duckdb"\n\n[models]\ndir = "no_models"\n', encoding="utf-8")
    s = with_notebooks(load_settings(tmp_path / "salesml.toml"))
    result = render(s, "churn_risk", {"as_of": "2026-06-30"})
    page = result.html_path.read_text(encoding="utf-8")
    assert "No churn model to score with" in page and "salesml train churn" in page
    assert result.figures["model_version"] is None
    assert not customer_ids(page)


@pytest.mark.notebook
def test_a_report_before_the_models_labels_end_is_refused_unless_a_backfill(trained):
    """The model's labels end on 2026-06-30: a report as of 2026-03-31 would show scores from a
    model that has seen the next three months. It is refused with both dates and the command
    that trains an honest model; allow_lookahead renders it and says so on the page."""
    with pytest.raises(ReportError) as e:
        render(trained, "churn_risk", {"as_of": "2026-03-31"})
    said = " ".join(str(e.value).split())
    assert "trained on labels up to 2026-06-30, after the as-of date 2026-03-31" in said
    assert "salesml train churn --as-of 2026-03-31" in said and "Traceback" not in said
    result = render(trained, "churn_risk", {"as_of": "2026-03-31", "allow_lookahead": "true"})
    page = result.html_path.read_text(encoding="utf-8")
    assert result.figures["lookahead"] is True and "Lookahead: this model was trained on labels up to 2026-06-30" in page
    manifest = registry.manifest(trained, "churn")
    assert result.figures["scorer"] == manifest["scorer"]["name"]
    assert result.figures["logistic_roc_auc"] == manifest["metrics"]["baselines"]["logistic"]["roc_auc"]
    assert manifest["scorer"]["why"] in " ".join(page.split())


# --------------------------------------------------------------------------- summary, warnings, languages

_rendered: dict = {}


def rendered(settings, **params):
    """A page rendered once per test module and parameters (renders cost seconds)."""
    key = (str(settings.root), tuple(sorted(params.items())))
    if key not in _rendered:
        _rendered[key] = render(settings, "churn_risk", params)
    return _rendered[key]


def without_plotly_js(page: str) -> str:
    return re.sub(r"<script type=\"text/javascript\">/\*\*\s*\* plotly\.js.*?</script>", "", page, count=1, flags=re.S)


@pytest.mark.notebook
@pytest.mark.parametrize("lang,scope", [("en", "company"), ("zh", "company"), ("zh", "rep")])
def test_the_page_opens_with_its_summary_and_warnings_in_either_language(trained, lang, scope):
    if scope == "rep":
        scores, _ = churn.score(trained, as_of="2026-06-30")
        risky = scores[scores["risk"] >= trained.churn.at_risk_threshold]
        scope = "rep:" + risky["owner_rep_id"].value_counts().index[0]
    result = rendered(trained, as_of="2026-06-30", lang=lang, scope=scope)
    f = result.figures
    assert f["lang"] == lang and f["untranslated"] == []  # every label and sentence of the page is in its language
    assert f["reasons_untranslated"] == []  # and every customer's reasons
    assert 3 <= len(f["summary"]) <= 6 and 1 <= len(f["actions"]) <= 5
    page = result.html_path.read_text(encoding="utf-8")
    order = [page.index(f'id="{a}"') for a in ("summary", "warnings", "figures", "reasons", "follow-up", "holdout", "drivers", "notes")]
    assert order == sorted(order)  # the summary and the warnings before the detail
    for link in ("holdout", "figures", "follow-up", "reasons"):
        assert f'href="#{link}"' in page, link
    assert "00:00:00" not in without_plotly_js(page)
    # the summary says how good the scorer is against the baselines, who has the most at risk and the reasons
    text = " ".join(f["summary"])
    assert f"{f['roc_auc']:.3f}" in text and f"{f['bgnbd_roc_auc']:.3f}" in text
    if lang == "zh":
        assert "摘要" in page and "风险预警" in page and "跟进名单" in page and "留出集" in page
        for english in (">Summary<", ">Early warnings<", ">Follow-up list<", ">Holdout: model vs baselines<", ">Customers at risk<",
                        ">Why<", ">Value at risk<", "Customers scored", "very likely", "their purchase history", "in the last year"):
            assert english not in page, english
        assert "万" in " ".join(f["summary"]) or "¥" in " ".join(f["summary"])
        assert result.html_path.name.endswith("_zh.html")  # beside the English page, not over it
    else:
        assert ">Summary<" in page and ">Early warnings<" in page and "The reasons given most often" in text
    if scope == "company":
        assert any(a.startswith(("Call the", "先联系")) for a in f["actions"])  # the owner with the most value at risk first
        assert f["reason_kinds"] and sum(f["reason_kinds"].values()) >= f["at_risk"] > 0
    else:  # a rep's own page names their customers and nobody else's owner
        assert any(a.startswith("联系你的") for a in f["actions"])


@pytest.mark.notebook
def test_without_a_model_the_page_opens_with_how_to_train_one_in_chinese(trained, tmp_path):
    shutil.copy(trained.warehouse_path, tmp_path / "warehouse.duckdb")
    (tmp_path / "salesml.toml").write_text('[warehouse]\npath = "warehouse.duckdb"\n\n[models]\ndir = "no_models"\n', encoding="utf-8")
    s = with_notebooks(load_settings(tmp_path / "salesml.toml"))
    result = render(s, "churn_risk", {"as_of": "2026-06-30", "lang": "zh"})
    f = result.figures
    assert f["untranslated"] == [] and 1 <= len(f["summary"]) <= 6
    assert any("salesml train churn" in t for t in f["summary"]) and "salesml train churn" in f["actions"][0]
    assert f["warning_kinds"] == ["no_model"]
    page = result.html_path.read_text(encoding="utf-8")
    assert page.index('id="summary"') < page.index('id="warnings"') and "没有流失模型" in page and not customer_ids(page)


def report_object(trained, **kwargs) -> ChurnRiskReport:
    return ChurnRiskReport(config_path=str(trained.root / "salesml.toml"), **kwargs)


def fresh(report: ChurnRiskReport, **warnings) -> list[str]:
    """The warning kinds of ``report`` under other [warnings] settings."""
    report.settings = report.settings.with_overrides(warnings=warnings) if warnings else report.settings
    report.__dict__.pop("_checks", None)
    return [c.kind for c in report.checks()]


def test_the_warnings_say_when_the_model_is_old_the_data_stops_or_the_scores_are_weak(trained):
    """Scores as of 200 days after the last sale: the data stops (missing sales look like
    silence) and the model is old for them; the summary says to read the scores with care and
    the actions to load the sales and to retrain."""
    late = (date(2026, 6, 30) + timedelta(days=200)).isoformat()
    r = report_object(trained, as_of=late)
    kinds = fresh(r)
    assert {"data_gap", "old_model"} <= set(kinds)
    sentences, actions = r.summary_sentences()
    assert "Read these scores with care" in sentences[-1].text and sentences[-1].link == "warnings"
    assert any("salesml train churn" in a.text for a in actions) and any(a.text.startswith(f"Load the sales after {r.last_sale}") for a in actions)
    # thresholds come from [warnings]: a demanding ROC-AUC and calibration make them warnings too
    assert {"weak", "calibration"} <= set(fresh(r, churn_min_auc=0.999, churn_calibration_gap_pts=0.0))
    assert not {"data_gap", "old_model", "weak", "calibration"} & set(
        fresh(r, churn_min_auc=0.0, churn_calibration_gap_pts=100.0, churn_data_gap_days=1000, churn_model_age_days=1000))


def test_a_version_that_fell_back_to_a_baseline_says_so_honestly(trained):
    r = report_object(trained, as_of="2026-06-30")
    r.manifest = {**r.manifest, "scorer": {**r.manifest["scorer"], "name": "bgnbd", "against": "bgnbd",
                                            "auc_gain": {"gain": -0.004, "low": -0.02, "high": 0.01, "resamples": 200}}}
    assert "fallback" in fresh(r)
    sentences, _ = r.summary_sentences()
    said = " ".join(s.text for s in sentences)
    assert "The simple baseline BG/NBD does better than the model here" in said and "scores with BG/NBD" in said
    fallback = next(c for c in r.checks() if c.kind == "fallback")
    assert "scores with the BG/NBD baseline, not the model" in fallback.text and "min_auc_gain" in fallback.evidence


def test_high_value_customers_at_risk_are_warned_about_with_their_reasons(trained):
    r = report_object(trained, as_of="2026-06-30", lang="zh")
    hv, threshold = r.high_value()
    checks = r.checks()
    if hv.empty:
        assert "high_value" not in [c.kind for c in checks]
        return
    assert (hv["revenue_lookback"] >= threshold).all() and (hv["risk"] >= trained.churn.at_risk_threshold).all()
    customers = [c for c in checks if c.kind == "high_value_customer"]
    assert 1 <= len(customers) <= trained.warnings.max_items
    assert customers[0].text.startswith(str(hv.iloc[0]["customer_id"]))  # the most value at risk first
    assert all(not re.search(r"[a-z]{4,}", c.evidence.replace("BG/NBD", "")) for c in customers)  # their reasons, in Chinese


# --------------------------------------------------------------------------- reasons read back by their forms

_ROW = dict(orders_lookback=6, revenue_lookback=8924.6, recency_days=32, spend_prior=1536.9, spend_recent=1130.0, orders_prior=3,
            orders_recent=2, mean_gap_days=35.7, overdue_ratio=1.9, orders_per_month=0.75, silence_prob=0.05, quiet_prob_lifetime=0.3,
            tenure_days=574, orders_total=12, return_rate=0.12, returns_lookback=2, promo_share=0.33, mean_discount=0.05,
            products_lookback=4, categories_lookback=3, tickets_recent=2, low_scores_lookback=1, mean_satisfaction=2.5, open_tickets=1,
            tickets_lookback=3, segment="Consumer", region="East China", acquisition_channel="Social Media", bgnbd_p_no_purchase=0.82,
            reps_lookback=2, rep_switches=1)
_VARIANTS = [
    {}, {"orders_lookback": 1, "revenue_lookback": -120.0, "recency_days": 1}, {"spend_prior": 0.0, "spend_recent": 300.0, "orders_recent": 1},
    {"spend_prior": 0.0, "spend_recent": 0.0}, {"spend_recent": 2500.0}, {"mean_gap_days": float("nan")},
    {"orders_per_month": float("nan")}, {"silence_prob": 0.5, "quiet_prob_lifetime": 0.001}, {"silence_prob": 0.5, "quiet_prob_lifetime": 0.995},
    {"orders_per_month": 25.0}, {"tenure_days": float("nan")}, {"tenure_days": 100, "orders_total": 1}, {"return_rate": float("nan")},
    {"promo_share": float("nan")}, {"promo_share": float("nan"), "mean_discount": float("nan")}, {"products_lookback": 1, "categories_lookback": 1},
    {"tickets_recent": 0, "low_scores_lookback": 0, "mean_satisfaction": float("nan"), "open_tickets": 0},
    {"tickets_recent": 0, "low_scores_lookback": 0, "mean_satisfaction": float("nan"), "open_tickets": 0, "tickets_lookback": 0},
    {"tickets_recent": 1, "low_scores_lookback": 3}, {"bgnbd_p_no_purchase": 0.001}, {"bgnbd_p_no_purchase": 0.995}, {"rep_switches": 0},
]


def test_every_form_of_the_customers_reasons_is_read_back_and_translated():
    """The reasons of salesml.customers.churn (every text function, every branch, several windows)
    are read back by the report's forms: the right kind of reason, and Chinese words for each."""
    import pandas as pd

    from salesml.config import ChurnSettings
    from salesml.reports.lang import Lang

    L = Lang("zh")
    seen = set()
    for lookback, recent in ((365, 90), (180, 30), (120, 45)):
        s = ChurnSettings(lookback_days=lookback, recent_days=recent)
        for change in _VARIANTS:
            row = pd.Series({**_ROW, **change})
            for group, make in churn.REASON_TEXT.items():
                texts = [make(row, s)] + ([churn._text_rfm(row, s, recency=False)] if group == "rfm" else [])
                for text in texts:
                    parts = reason_parts(text)
                    assert parts and {p.group for p in parts} == {group}, (group, text, parts)
                    assert all(p.zh for p in parts), (text, parts)
                    seen.add(text)
                    zh = reasons_text(text, L)
                    left = re.sub(r"BG/NBD|Consumer|East China|Social Media", "", zh)
                    assert not re.search(r"[A-Za-z]{3,}", left), (text, zh)
    # several reasons joined as the scores store them, a ticket reason with its parts, and a form nobody knows
    joined = "; ".join(sorted(seen)[:6]) + "; a reason from a future version"
    missing: set[str] = set()
    out = reasons_text(joined, L, missing)
    assert missing == {"a reason from a future version"} and out.count("；") == joined.count("; ")
    assert reason_groups("something new") == {"other"}

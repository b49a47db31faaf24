"""The churn risk report: what ``notebooks/churn_risk.ipynb`` shows.

The model comes from the registry (the latest version, or the one asked for); the report
never trains. Without a stored version it says so and how to train one. Scores are
computed for the report's as-of date from the customers of its scope only: the warehouse
queries read the customers the scope's reps own (customers.owner_rep_id) and nothing else,
so a rep's report holds no other rep's customers. The model quality figures (holdout
metrics, curves, drivers) are the company-wide aggregates stored with the model: they
describe the model and carry no customer's data.

The page opens with a summary written from these figures (how good the scorer is on its
time-based holdout against the simple baselines and which one scores, how many customers are
at risk and what they are worth, whose they are, their most common reasons, what to do) and the
early warnings, each with its evidence: high-value customers at risk, at-risk customers without
an owner, scores backfilled with lookahead, a model old relative to the data, sales data that
ends before the as-of date, a scorer that fell back to a baseline, a weak ranking, percentages
the holdout does not bear out (``[warnings] churn_*``). English or Chinese
(:class:`salesml.reports.lang.Lang`: ``lang`` parameter, else ``[report] lang``).

The customers' reasons (``top_reasons``) are English sentences made in
:mod:`salesml.customers.churn` from a fixed set of forms; :func:`reason_parts` reads them back
by those forms, which gives each reason its feature group (counted in the summary) and its
Chinese wording. A reason in no known form stays as it is (recorded in ``reasons_untranslated``).

Anonymous (walk-in / guest) sales have no customer and no owner: they are never scored. The
report says how many order lines and how much revenue of the scoring's lookback window that
leaves out (the sales the ledger credits to the scope; :func:`salesml.customers.churn.scoring_left_out`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from salesml import registry
from salesml.accounting import performance as perf
from salesml.anonymous import LeftOut
from salesml.config import notebook_settings
from salesml.customers import churn
from salesml.customers.churn_scorers import NAMES
from salesml.customers.scores import scope_customers
from salesml.reports import html as H
from salesml.reports import summary as S
from salesml.reports.lang import Lang, add_columns, add_text
from salesml.reports.performance import warehouse_connect
from salesml.scope import Scope, check_scope, parse_scope

METRICS = ("roc_auc", "pr_auc", "brier", "lift_top_decile")
#: one colour per scorer, from the reports' palette
COLORS = {"model": H.COLORS["revenue"], "recency": H.COLORS["pipeline"], "bgnbd": H.COLORS["forecast"], "logistic": H.COLORS["margin"]}
REFERENCE_LINE = "#8c959f"

add_columns(
    {
        "scorer": ("text", "Scorer", "评分器"),
        "roc_auc": ("score", "ROC-AUC", "ROC-AUC"),
        "pr_auc": ("score", "PR-AUC", "PR-AUC"),
        "brier": ("score", "Brier score", "Brier 分数"),
        "lift_top_decile": ("times", "Lift, top decile", "前 10% 提升度"),
        "at_risk": ("count", "Customers at risk", "高风险客户数"),
        "at_risk_share_pct": ("pct", "Share of customers at risk", "占高风险客户比例"),
        "revenue_lookback": ("money", "Revenue (lookback)", "回看期收入"),
        "top_reasons": ("text", "Why", "原因"),
    }
)

add_text(
    {
        # title
        "churn_title": ("Churn risk", "流失风险"),
        "churn_title_as_of": ("Churn risk as of {as_of}", "流失风险（截至 {as_of}）"),
        "churn_your_customers": ("{who}: your customers", "{who}：你的客户"),
        "churn_no_model_note": ("{who}. No churn model to score with: {why}.", "{who}。没有可用于评分的流失模型：{why}。"),
        "churn_train_hint": (
            "Train one with `salesml train churn` (it is evaluated on a time-based holdout against the recency and BG/NBD "
            "baselines and saved in the model registry); this report then loads it.",
            "请用 `salesml train churn` 训练一个模型（它会在按时间切分的留出集上与近度和 BG/NBD 基线比较，并保存到模型库）；本报告随后会加载它。",
        ),
        "churn_model_note": (
            "{who}. Model {version} trained {created} on data from {first} to {last}. Risk = the {scorer}'s probability that a "
            "customer who bought in the last {lookback} days makes no purchase in the next {horizon} days.",
            "{who}。模型 {version} 于 {created} 训练，数据期间 {first} 至 {last}。风险 = {scorer}给出的概率：近 {lookback} 天内有购买的客户在"
            "之后 {horizon} 天内不再购买。",
        ),
        "churn_lookahead_note": (
            "Lookahead: this model was trained on labels up to {end}, after the as-of date {as_of}. These scores are a backfill made "
            "with knowledge of what happened next (allowed by the allow_lookahead parameter), not what could have been known on {as_of}.",
            "前视：该模型训练所用的标签截至 {end}，晚于评分日 {as_of}。这些评分是在已知后来发生之事的情况下补算的（由 allow_lookahead 参数允许），"
            "并非 {as_of} 当天所能知道的。",
        ),
        "churn_registry_none": ("no churn model in {folder}: train one first (salesml train churn)", "{folder} 中没有流失模型：请先训练（salesml train churn）"),
        "churn_registry_version": ("no churn model version {version}; versions: {versions}", "没有流失模型版本 {version}；现有版本：{versions}"),
        # scorers
        "churn_scorer_model": ("model (gradient boosting)", "模型（梯度提升）"),
        "churn_scorer_recency": ("baseline: recency", "基线：近度（距上次购买天数）"),
        "churn_scorer_bgnbd": ("baseline: BG/NBD P(no purchase)", "基线：BG/NBD 不再购买概率"),
        "churn_scorer_logistic": ("baseline: logistic regression on log RFM + tenure", "基线：对数 RFM 与客户时长的逻辑回归"),
        "churn_short_model": ("the model", "模型"),
        "churn_short_recency": ("recency", "近度"),
        "churn_short_bgnbd": ("BG/NBD", "BG/NBD"),
        "churn_short_logistic": ("log RFM regression", "对数 RFM 回归"),
        "churn_in_use": ("{name} (scores)", "{name}（用于评分）"),
        # cards
        "churn_card_scored": ("Customers scored", "被评分客户"),
        "churn_card_scored_sub": ("active in the last {days} days", "近 {days} 天内有购买"),
        "churn_card_at_risk": ("At risk", "高风险客户"),
        "churn_card_at_risk_sub": ("risk ≥ {pct}", "风险 ≥ {pct}"),
        "churn_card_value": ("Value at risk", "风险价值"),
        "churn_card_value_sub": ("risk × net revenue of the last {days} days, at-risk customers", "高风险客户的风险 × 近 {days} 天净收入"),
        "churn_card_auc": ("Holdout ROC-AUC", "留出集 ROC-AUC"),
        "churn_card_auc_model": ("model {auc}", "模型 {auc}"),
        "churn_card_scores_by": ("Scores by", "评分方式"),
        "churn_card_beats": ("beats the baselines beyond the noise", "超出噪声地优于各基线"),
        "churn_card_fell_back": ("the model did not beat it", "模型未能胜过它"),
        "churn_very_likely": ("very likely (>99%)", "很可能（>99%）"),
        # summary
        "churn_s_holdout": (
            "On its time-based holdout ({n} customers, {rate} of them churned) the model's ROC-AUC is {auc}; the best baseline, {best}, reaches {best_auc}",
            "在按时间切分的留出集上（{n} 个客户，其中 {rate} 流失），模型的 ROC-AUC 为 {auc}；最好的基线 {best} 为 {best_auc}",
        ),
        "churn_s_holdout_recency": (" and recency {auc}", "，近度基线为 {auc}"),
        "churn_s_holdout_alone": (
            "On its time-based holdout ({n} customers, {rate} of them churned) the model's ROC-AUC is {auc}; no baseline could be measured",
            "在按时间切分的留出集上（{n} 个客户，其中 {rate} 流失），模型的 ROC-AUC 为 {auc}；没有可衡量的基线",
        ),
        "churn_s_scores_model": (
            "This version scores with the model: its gain over {best}, {gain} (90% interval {low} to {high}), is beyond the noise.",
            "本版本用模型评分：它相对 {best} 基线的提升为 {gain}（90% 区间 {low} 至 {high}），超出了噪声。",
        ),
        "churn_s_scores_as_good": (
            "The simple baseline {best} is as good as the model here (gain {gain}, 90% interval {low} to {high}: not beyond the noise), so this version scores with {best}.",
            "在这个留出集上，简单基线 {best} 与模型一样好（提升 {gain}，90% 区间 {low} 至 {high}，未超出噪声），因此本版本用 {best} 基线评分。",
        ),
        "churn_s_scores_better": (
            "The simple baseline {best} does better than the model here (gain {gain}, 90% interval {low} to {high}), so this version scores with {best}.",
            "在这个留出集上，简单基线 {best} 比模型更好（提升 {gain}，90% 区间 {low} 至 {high}），因此本版本用 {best} 基线评分。",
        ),
        "churn_s_scores_unchecked": ("This version scores with the model, unchecked against any baseline.", "本版本用模型评分，未与任何基线比较。"),
        "churn_s_at_risk": (
            "{n} of the {total} customers scored are at high risk (≥ {threshold}), with {value} of value at risk",
            "{total} 个被评分客户中有 {n} 个流失风险高（≥ {threshold}），风险价值 {value}",
        ),
        "churn_s_at_risk_one": (
            "1 of the {total} customers scored is at high risk (≥ {threshold}), with {value} of value at risk",
            "{total} 个被评分客户中有 1 个流失风险高（≥ {threshold}），风险价值 {value}",
        ),
        "churn_s_high_value": ("; {n} of them are high-value customers ({value} at risk)", "；其中 {n} 个是高价值客户（风险价值 {value}）"),
        "churn_s_high_value_one": ("; 1 of them is a high-value customer ({value} at risk)", "；其中 1 个是高价值客户（风险价值 {value}）"),
        "churn_s_none_at_risk": ("None of the {total} customers scored is at high risk (≥ {threshold}).", "{total} 个被评分客户中没有流失风险高（≥ {threshold}）的客户。"),
        "churn_s_nobody": (
            "No customer of this scope bought in the {days} days up to {as_of}: there is nobody to score.",
            "截至 {as_of} 的 {days} 天内本范围没有客户购买：没有可评分的客户。",
        ),
        "churn_s_owner": ("{owner} has the most value at risk: {k} customers worth {value}", "风险价值最高的负责人是 {owner}：{k} 个客户，{value}"),
        "churn_s_owner_one": ("{owner} has the most value at risk: 1 customer worth {value}", "风险价值最高的负责人是 {owner}：1 个客户，{value}"),
        "churn_s_owners": ("; the at-risk customers belong to {owners} owners", "；高风险客户分属 {owners} 位负责人"),
        "churn_s_unowned": ("; {n} have no owner", "；{n} 个没有负责人"),
        "churn_s_unowned_one": ("; 1 has no owner", "；1 个没有负责人"),
        "churn_s_top_customer": (
            "The most value at risk is {customer}'s: {value} (risk {risk}).",
            "风险价值最高的是 {customer}：{value}（风险 {risk}）。",
        ),
        "churn_s_reasons": ("The reasons given most often are {reasons}.", "最常见的原因：{reasons}。"),
        "churn_reason_count": ("{reason} ({n} customers)", "{reason}（{n} 个客户）"),
        "churn_reason_count_one": ("{reason} (1 customer)", "{reason}（1 个客户）"),
        "churn_reason_count_short": ("{reason} ({n})", "{reason}（{n} 个）"),
        "churn_s_care": ("Read these scores with care: {issues}.", "请谨慎解读这些评分：{issues}。"),
        "churn_issue_lookahead": ("they are a backfill made with lookahead", "它们是带前视的补算"),
        "churn_issue_data_gap": ("the sales data ends {days} days before the as-of date", "销售数据在评分日前 {days} 天就结束了"),
        "churn_issue_old": ("the model's data ends {days} days before them", "模型的数据比评分日早 {days} 天结束"),
        "churn_issue_weak": ("the ranking is weak (ROC-AUC {auc})", "排序能力弱（ROC-AUC {auc}）"),
        "churn_issue_calibration": ("the percentages were {gap} points off on the holdout", "在留出集上百分比平均偏差 {gap} 个百分点"),
        "churn_s_no_model": ("There is no churn model to score with yet: {why}.", "还没有可用于评分的流失模型：{why}。"),
        "churn_s_no_model_train": (
            "Run `salesml train churn`: it trains the model, measures it on a time-based holdout against the recency and BG/NBD baselines and saves it; this page then scores the customers with it.",
            "请运行 `salesml train churn`：它会训练模型，在按时间切分的留出集上与近度和 BG/NBD 基线比较并保存；之后本页会用它为客户评分。",
        ),
        "churn_s_no_model_nothing": ("Until then this page shows no risk, no customer and no model figures.", "在此之前，本页不显示风险、客户和模型指标。"),
        # actions
        "churn_a_owner": ("Call the {k} at-risk customers of {owner} worth {value} first, the highest value first.", "先联系 {owner} 名下 {k} 个高风险客户（风险价值 {value}），价值高者优先。"),
        "churn_a_owner_one": ("Call the at-risk customer of {owner} worth {value} first.", "先联系 {owner} 名下的高风险客户（风险价值 {value}）。"),
        "churn_a_rep": ("Call your {n} at-risk customers, starting with {customer} ({value} at risk).", "联系你的 {n} 个高风险客户，从 {customer} 开始（风险价值 {value}）。"),
        "churn_a_rep_one": ("Call your at-risk customer {customer} ({value} at risk).", "联系你的高风险客户 {customer}（风险价值 {value}）。"),
        "churn_a_high_value": (
            "Plan a personal call for each of the {n} high-value customers at risk (list under Early warnings).",
            "为 {n} 个高价值的高风险客户逐一安排电话回访（名单见“风险预警”）。",
        ),
        "churn_a_high_value_one": ("Plan a personal call for the high-value customer at risk (under Early warnings).", "为高价值的高风险客户安排电话回访（见“风险预警”）。"),
        "churn_a_unowned": ("Give the {n} at-risk customers without an owner one ({value} at risk).", "为 {n} 个没有负责人的高风险客户指定负责人（风险价值 {value}）。"),
        "churn_a_unowned_one": ("Give the at-risk customer without an owner one ({value} at risk).", "为没有负责人的高风险客户指定负责人（风险价值 {value}）。"),
        "churn_a_lookahead": (
            "Do not act on these backfilled scores as if known on {day}: train an honest model with `salesml train churn --as-of {as_of}`.",
            "不要把这些补算的评分当作 {day} 当天已知的结果：请用 `salesml train churn --as-of {as_of}` 训练一个没有前视的模型。",
        ),
        "churn_a_data_gap": ("Load the sales after {last} before acting on these scores, or score as of {last}.", "在依据这些评分行动之前，先导入 {last} 之后的销售，或改为截至 {last} 评分。"),
        "churn_a_retrain": ("Retrain the model with `salesml train churn`: its data ends {days} days before these scores.", "用 `salesml train churn` 重新训练模型：它的数据比这些评分早 {days} 天结束。"),
        "churn_a_ranking": ("Read the risks as a ranking, not as percentages: they were {gap} points off on the holdout.", "把风险当作排序而不是百分比来看：在留出集上平均偏差 {gap} 个百分点。"),
        "churn_a_train": ("Run `salesml train churn`, then render this report again.", "运行 `salesml train churn`，然后重新生成本报告。"),
        # warnings
        "churn_w_lookahead": (
            "Scores backfilled with lookahead: model {version} was trained on labels up to {end}, after the as-of date {as_of}",
            "带前视的补算评分：模型 {version} 的训练标签截至 {end}，晚于评分日 {as_of}",
        ),
        "churn_w_lookahead_evidence": (
            "allowed by the allow_lookahead parameter; an honest model: salesml train churn --as-of {as_of}",
            "由 allow_lookahead 参数允许；无前视的模型：salesml train churn --as-of {as_of}",
        ),
        "churn_w_data_gap": (
            "The sales data ends on {last}, {days} days before the as-of date {as_of}: missing sales look like silence and raise the risks",
            "销售数据截至 {last}，比评分日 {as_of} 早 {days} 天：缺失的销售看起来像沉寂，会抬高风险",
        ),
        "churn_w_data_gap_evidence": ("last order date in the warehouse; [warnings] churn_data_gap_days = {limit}", "仓库中最后的订单日期；[warnings] churn_data_gap_days = {limit}"),
        "churn_w_old": (
            "Model {version} is old for these data: its training data ends {end}, {days} days before the as-of date {as_of}",
            "模型 {version} 相对数据已过时：其训练数据截至 {end}，比评分日 {as_of} 早 {days} 天",
        ),
        "churn_w_old_evidence": ("trained {created}; retrain with salesml train churn; [warnings] churn_model_age_days = {limit}", "训练于 {created}；请用 salesml train churn 重新训练；[warnings] churn_model_age_days = {limit}"),
        "churn_w_fallback": (
            "This version scores with the {scorer} baseline, not the model: the model did not beat it beyond the noise on the holdout",
            "本版本用 {scorer} 基线评分而不是模型：模型在留出集上未能超出噪声地胜过它",
        ),
        "churn_w_fallback_evidence": (
            "holdout ROC-AUC model {auc} vs {scorer} {best_auc}; gain {gain}, 90% interval {low} to {high}; [churn] min_auc_gain = {min_gain}",
            "留出集 ROC-AUC：模型 {auc}，{scorer} {best_auc}；提升 {gain}，90% 区间 {low} 至 {high}；[churn] min_auc_gain = {min_gain}",
        ),
        "churn_w_weak": ("The scorer in use ranks churners weakly: holdout ROC-AUC {auc}, below {limit}", "当前评分器对流失客户的排序能力弱：留出集 ROC-AUC {auc}，低于 {limit}"),
        "churn_w_weak_evidence": ("holdout of {n} customers; [warnings] churn_min_auc = {limit}", "留出集 {n} 个客户；[warnings] churn_min_auc = {limit}"),
        "churn_w_calibration": (
            "The risk percentages were {gap} points off on the holdout (predicted vs observed churn, on average)",
            "风险百分比在留出集上平均偏差 {gap} 个百分点（预测与实际流失率之差）",
        ),
        "churn_w_calibration_evidence": (
            "largest gap: predicted {predicted}, observed {observed} ({n} customers); [warnings] churn_calibration_gap_pts = {limit}",
            "最大偏差：预测 {predicted}，实际 {observed}（{n} 个客户）；[warnings] churn_calibration_gap_pts = {limit}",
        ),
        "churn_w_high_value": (
            "{n} high-value customers at risk (the top {pct} of this page's customers by revenue of the last {days} days: {threshold} or more), {value} at risk",
            "{n} 个高价值客户流失风险高（按近 {days} 天收入排在本页客户前 {pct}：{threshold} 及以上），风险价值 {value}",
        ),
        "churn_w_high_value_one": (
            "1 high-value customer at risk (the top {pct} of this page's customers by revenue of the last {days} days: {threshold} or more), {value} at risk",
            "1 个高价值客户流失风险高（按近 {days} 天收入排在本页客户前 {pct}：{threshold} 及以上），风险价值 {value}",
        ),
        "churn_w_customer": ("{customer}{owner}: risk {risk}, {value} at risk ({revenue} in the last {days} days)",
                             "{customer}{owner}：风险 {risk}，风险价值 {value}（近 {days} 天收入 {revenue}）"),
        "churn_w_owner": (" (owner {owner})", "（负责人 {owner}）"),
        "churn_w_no_owner": (" (no owner)", "（无负责人）"),
        "churn_w_more": ("and {n} more (see the follow-up list)", "另有 {n} 个（见跟进名单）"),
        "churn_w_unowned": ("{n} customers at risk have no owner rep ({value} at risk): nobody follows them up", "{n} 个高风险客户没有负责人（风险价值 {value}）：无人跟进"),
        "churn_w_unowned_one": ("1 customer at risk has no owner rep ({value} at risk): nobody follows them up", "1 个高风险客户没有负责人（风险价值 {value}）：无人跟进"),
        "churn_w_unowned_evidence": ("customers.owner_rep_id is empty", "客户表 owner_rep_id 为空"),
        "churn_w_no_model": ("No churn model is stored: nothing is scored", "没有保存的流失模型：没有评分"),
        "churn_no_warnings": (
            "No warnings for the scores as of {as_of}: no high-value customer at risk, the model is recent and ranks well on its holdout.",
            "截至 {as_of} 的评分没有预警：没有高价值的高风险客户，模型较新且在留出集上排序良好。",
        ),
        "churn_skip_outcome": (
            "whether these customers will churn (their {days} days are still ahead: the holdout is the latest measured evidence)",
            "这些客户是否真的会流失（他们的 {days} 天尚未过去：留出集是最近的实测依据）",
        ),
        "churn_skip_drift": ("whether today's customers resemble the training ones (no drift check)", "当前客户是否与训练时相似（未做漂移检查）"),
        "churn_skip_calibration": ("calibration (no holdout curves stored with the model)", "校准（模型未保存留出集曲线）"),
        "churn_skip_all": ("the model and the customers at risk (no churn model: run salesml train churn)", "模型与高风险客户（没有流失模型：请运行 salesml train churn）"),
        # sections
        "churn_holdout": ("Holdout: model vs baselines", "留出集：模型与基线对比"),
        "churn_holdout_note": (
            "Trained on cutoffs {first} … {last}; measured on the later cutoff(s) {test}: {n} customers, {rate} of them churned. The label "
            "windows of the holdout start after the training ones end. Company-wide figures.",
            "在截止日 {first} … {last} 上训练；在更晚的截止日 {test} 上衡量：{n} 个客户，其中 {rate} 流失。留出集的标签窗口在训练窗口结束之后才开始。全公司数字。",
        ),
        "churn_verdict_beats": ("The model ranks churners better than every baseline (ROC-AUC).", "模型对流失客户的排序优于所有基线（ROC-AUC）。"),
        "churn_verdict_not": (
            "On this holdout the model does NOT rank churners better than every baseline (ROC-AUC).",
            "在这个留出集上，模型对流失客户的排序并不优于所有基线（ROC-AUC）。",
        ),
        "churn_verdict_why": (" Scores of this version: {scorer} — {why}.", "本版本的评分器是“{scorer}”——{why}。"),
        "churn_holdout_explain": (
            " Higher is better except for the Brier score (mean squared error of the probabilities). Recency ranks by days since the "
            "last purchase; BG/NBD by its probability of no purchase in the horizon; the logistic regression by log(1 + recency, "
            "orders, net revenue, tenure).",
            "除 Brier 分数（概率的均方误差）外，数值越高越好。近度基线按距上次购买的天数排序；BG/NBD 按其在预测期内不再购买的概率排序；"
            "逻辑回归基于 log(1 + 近度、订单数、净收入、客户时长)。",
        ),
        "churn_why_none": ("no baseline could be measured on the holdout: the model scores", "留出集上无法衡量任何基线：用模型评分"),
        "churn_why_model": (
            "the model beats the best baseline beyond the noise: ROC-AUC {auc} vs {best} {best_auc} (gain {gain}, 90% interval {low} to {high})",
            "模型超出噪声地优于最好的基线：ROC-AUC {auc} 对 {best} 基线 {best_auc}（提升 {gain}，90% 区间 {low} 至 {high}）",
        ),
        "churn_why_baseline": (
            "the model does not beat the best baseline beyond the noise (ROC-AUC {auc} vs {best} {best_auc}; gain {gain}, 90% interval "
            "{low} to {high}; [churn] min_auc_gain = {min_gain}): this version scores with {best}",
            "模型未能超出噪声地优于最好的基线（ROC-AUC {auc} 对 {best} 基线 {best_auc}；提升 {gain}，90% 区间 {low} 至 {high}；"
            "[churn] min_auc_gain = {min_gain}）：本版本用 {best} 基线评分",
        ),
        "churn_roc_and_lift": ("ROC and lift", "ROC 与提升度"),
        "churn_roc_title": ("ROC curve on the holdout", "留出集上的 ROC 曲线"),
        "churn_roc_x": ("false positive rate (stayers flagged)", "假阳性率（被误报的留存客户）"),
        "churn_roc_y": ("true positive rate (churners caught)", "真阳性率（被识别的流失客户）"),
        "churn_chance": ("chance", "随机"),
        "churn_lift_title": ("Cumulative lift: churn rate among the riskiest customers vs overall", "累计提升度：风险最高客户的流失率与总体之比"),
        "churn_lift_x": ("top {pct}", "前 {pct}"),
        "churn_lift_y": ("lift", "提升度"),
        "churn_no_model_line": ("no model", "无模型"),
        "churn_calibration": ("Calibration", "校准"),
        "churn_calibration_note": ("When the model says 30%, about 30% should churn: points near the diagonal.", "模型说 30% 时，应当约有 30% 的客户流失：点应靠近对角线。"),
        "churn_calibration_title": ("Reliability: predicted vs observed churn (tenths of the holdout by predicted risk)", "可靠性：预测与实际流失率（按预测风险将留出集分为十组）"),
        "churn_predicted": ("predicted probability", "预测概率"),
        "churn_observed": ("observed churn rate", "实际流失率"),
        "churn_perfect": ("perfect", "完全校准"),
        "churn_hover_reliability": ("predicted %{x:.2f}<br>observed %{y:.2f}<br>%{customdata} customers", "预测 %{x:.2f}<br>实际 %{y:.2f}<br>%{customdata} 个客户"),
        "churn_drivers": ("Drivers", "驱动因素"),
        "churn_drivers_note": ("Permutation importance on the holdout (company-wide).", "留出集上的置换重要性（全公司）。"),
        "churn_drivers_title": ("Drivers: drop in holdout ROC-AUC when a feature is shuffled", "驱动因素：打乱某个特征后留出集 ROC-AUC 的下降"),
        "churn_no_importance": ("No permutation importance stored with this model.", "该模型没有保存置换重要性。"),
        "churn_reasons": ("Why they are at risk", "高风险的原因"),
        "churn_reasons_note": (
            "How many at-risk customers each kind of reason is given for (a customer has up to {n}): the feature groups whose typical "
            "values would lower their risk most.",
            "每类原因涉及的高风险客户数（每个客户最多 {n} 条）：把该组特征换成典型值时，客户风险下降最多的特征组。",
        ),
        "churn_no_reasons": ("No customer at risk: no reasons to show.", "没有高风险客户：没有可显示的原因。"),
        "churn_follow_up": ("Follow-up list", "跟进名单"),
        "churn_follow_up_note": (
            "Customers with a risk of {threshold} or more, per owner rep, most value at risk first (value at risk = risk × net "
            "revenue of the last {days} days); at most {top} per rep.",
            "风险 {threshold} 及以上的客户，按负责人分组，风险价值高者在前（风险价值 = 风险 × 近 {days} 天净收入）；每位代表最多 {top} 个。",
        ),
        "churn_no_one_at_risk": ("No customer at risk in this scope.", "本范围没有高风险客户。"),
        "churn_fold_note": ("Each owner's list opens with a click, the most value at risk first.", "点击负责人可展开其名单，风险价值高者在前。"),
        "churn_rep_heading": ("{rep}: {n} at risk, {value}", "{rep}：{n} 个高风险客户，风险价值 {value}"),
        "churn_no_owner": ("(no owner)", "（无负责人）"),
        "churn_revenue_days": ("Revenue, last {days} days", "近 {days} 天收入"),
        "churn_anonymous": (
            "Walk-in / guest sales have no customer and no owner: of the sales{where} in the {days} days up to {as_of}, {lines} anonymous "
            "{noun} in {orders} {orders_noun} ({amount}{share}) {verb} not in the churn scores.",
            "散客/游客销售没有客户也没有负责人：截至 {as_of} 的 {days} 天内{where}的销售中，有 {lines} 个匿名订单行（{orders} 个订单，"
            "{amount}{share}）不在流失评分之内。",
        ),
        "churn_anonymous_scope": (" credited to this scope", "计入本范围"),
        "churn_anonymous_share": (", {pct} of revenue", "，占收入 {pct}"),
        "churn_how_made": ("How these figures are made", "数字的计算方法"),
        "churn_how_made_text": (
            "Label: {label}. {refit}. The at-risk list is scored as of {as_of} from the customers' own purchases, returns and tickets "
            "up to that day. Reasons: the feature groups whose typical values (the training population's medians) would lower a "
            "customer's risk most, in their own figures. Features: {groups}.",
            "标签：{label}。{refit}。高风险名单截至 {as_of} 评分，依据客户截至当天自己的购买、退货和工单。原因：把该组特征换成典型值"
            "（训练人群的中位数）时客户风险下降最多的特征组，用客户自己的数字表述。特征组：{groups}。",
        ),
        "churn_label_def": (
            "active = a purchase in the {lookback} days up to the cutoff; churned = no purchase in the {horizon} days after it",
            "活跃 = 截止日前 {lookback} 天内有购买；流失 = 截止日后 {horizon} 天内没有购买",
        ),
        "churn_refit": (
            "The metrics are those of the scorers fitted on the {train} training cutoffs and scored on the holdout; the saved {scorer} "
            "was then refitted on all {refit} cutoffs from {first} to {last} (every label window ending by {end})",
            "指标来自在 {train} 个训练截止日上拟合、在留出集上评分的各评分器；保存的{scorer}随后在全部 {refit} 个截止日（{first} 至 {last}，"
            "每个标签窗口都在 {end} 之前结束）上重新拟合",
        ),
        "churn_model_notes": (" Notes: {notes}.", "训练说明（英文原文）：{notes}。"),
        "churn_generated": (" Generated by salesml from {file}.", "由 salesml 根据 {file} 生成。"),
        # reason kinds (the feature groups of salesml.customers.churn)
        "churn_reason_rfm": ("recent orders and spend", "近期订单与金额"),
        "churn_reason_trend": ("spend down on the period before", "消费较前期下降"),
        "churn_reason_gaps": ("longer than usual since the last purchase", "距上次购买比平时久"),
        "churn_reason_pace": ("buys rarely or has gone quiet", "购买稀少或异常沉寂"),
        "churn_reason_tenure": ("new or short-tenure customer", "新客户或合作时间短"),
        "churn_reason_returns": ("returns", "退货"),
        "churn_reason_discount": ("buys on discount", "依赖折扣"),
        "churn_reason_breadth": ("buys few products", "购买产品少"),
        "churn_reason_tickets": ("service tickets and low satisfaction", "服务工单与低满意度"),
        "churn_reason_profile": ("segment, region and channel", "客户分群、区域与渠道"),
        "churn_reason_bgnbd": ("BG/NBD purchase history", "BG/NBD 购买历史"),
        "churn_reason_owners": ("changes of rep", "更换销售代表"),
        "churn_reason_calendar": ("time of year", "季节"),
        "churn_reason_other": ("other reasons", "其他原因"),
    }
)

#: the features' names in words (the drivers chart); a feature not listed shows its own name
FEATURES: dict[str, tuple[str, str]] = {
    "recency_days": ("Days since the last purchase", "距上次购买天数"),
    "orders_lookback": ("Orders, lookback window", "回看期订单数"),
    "revenue_lookback": ("Net revenue, lookback window", "回看期净收入"),
    "avg_order_value": ("Average order value", "平均客单价"),
    "orders_recent": ("Orders, recent window", "近期订单数"),
    "orders_prior": ("Orders, window before", "前期订单数"),
    "spend_recent": ("Spend, recent window", "近期消费"),
    "spend_prior": ("Spend, window before", "前期消费"),
    "spend_change": ("Spend change", "消费变化"),
    "orders_change": ("Orders change", "订单数变化"),
    "recent_vs_pace": ("Recent orders vs usual pace", "近期订单与常规节奏之比"),
    "mean_gap_days": ("Mean days between purchases", "平均购买间隔天数"),
    "std_gap_days": ("Spread of days between purchases", "购买间隔波动"),
    "overdue_ratio": ("Days since last purchase / usual gap", "距上次购买天数 / 常规间隔"),
    "orders_per_month": ("Orders per month", "月均订单数"),
    "quiet_prob_lookback": ("Chance of a quiet horizon (recent pace)", "按近期节奏的沉寂概率"),
    "quiet_prob_lifetime": ("Chance of a quiet horizon (lifetime pace)", "按全部历史节奏的沉寂概率"),
    "silence_prob": ("Chance of the current silence at their pace", "按其节奏出现当前沉寂的概率"),
    "tenure_days": ("Days since the first purchase", "首次购买至今天数"),
    "orders_total": ("Orders, all time", "累计订单数"),
    "return_rate": ("Return rate", "退货率"),
    "returns_lookback": ("Returns, lookback window", "回看期退货数"),
    "mean_discount": ("Average discount", "平均折扣"),
    "discount_share": ("Share of lines discounted", "打折行占比"),
    "promo_share": ("Share of spend on promotion", "促销消费占比"),
    "products_lookback": ("Products bought", "购买产品数"),
    "categories_lookback": ("Categories bought", "购买品类数"),
    "tickets_recent": ("Tickets, recent window", "近期工单数"),
    "tickets_lookback": ("Tickets, lookback window", "回看期工单数"),
    "mean_satisfaction": ("Mean satisfaction", "平均满意度"),
    "low_scores_lookback": ("Low satisfaction scores", "低满意度评分数"),
    "open_tickets": ("Open tickets", "未关闭工单数"),
    "segment": ("Segment", "客户分群"),
    "region": ("Region", "区域"),
    "acquisition_channel": ("Acquisition channel", "获客渠道"),
    "reps_lookback": ("Reps credited", "经手销售代表数"),
    "rep_switches": ("Rep changes", "更换销售代表次数"),
    "cutoff_month": ("Month of the year", "月份（季节）"),
    "bgnbd_p_no_purchase": ("BG/NBD chance of no purchase", "BG/NBD 不再购买概率"),
    "bgnbd_p_alive": ("BG/NBD chance still active", "BG/NBD 仍活跃概率"),
}


# --------------------------------------------------------------------------- reasons
# The forms of salesml.customers.churn's reason sentences (REASON_TEXT), read back: each gives
# the reason's feature group and its Chinese wording. Kept in step with that module by the tests.

_N = r"\d[\d,]*"
_W = r"quarter|year|month|half-year|\d+ days"
_CHANCE = r"under 1% chance|very likely|\d+% chance"
_LAST = {"quarter": "近一个季度", "year": "近一年", "month": "近一个月", "half-year": "近半年"}
_BEFORE = {"quarter": "前一个季度", "year": "前一年", "month": "前一个月", "half-year": "前半年"}
_TWO = {"quarter": "近两个季度", "year": "近两年", "month": "近两个月"}


def _last(w: str) -> str:
    return _LAST.get(w) or f"近 {w.split()[0]} 天"


def _before(w: str) -> str:
    return _BEFORE.get(w) or f"之前的 {w.split()[0]} 天"


def _chance(c: str) -> str:
    if c.startswith("under"):
        return "可能性不到 1%"
    if c == "very likely":
        return "可能性 >99%"
    return f"可能性 {c.split()[0]}"


def _usual(g: dict) -> str:
    return f"每 {g['every']} 天一单" if g.get("every") else f"每月 {g['per_month']} 单"


_USUAL = rf"(?:an order every (?P<every>{_N}) days?|(?P<per_month>\d+) orders a month)"

#: (feature group, form, Chinese wording of a match)
_FORMS: list[tuple[str, str, Callable[[dict], str]]] = [
    ("rfm", rf"(?P<o>{_N}) orders? \((?P<m>-?{_N})\) in the last (?P<w>{_W})(?:, the last one (?P<d>{_N}) days? ago)?",
     lambda g: f"{_last(g['w'])} {g['o']} 笔订单（{g['m']}）" + (f"，最近一次在 {g['d']} 天前" if g["d"] else "")),
    ("trend", rf"spend (?P<way>down|up) (?P<p>\d+)% vs the (?P<w>{_W}) before \((?P<a>-?{_N}) → (?P<b>-?{_N}); orders (?P<oa>{_N}) → (?P<ob>{_N})\)",
     lambda g: f"消费较{_before(g['w'])}{'下降' if g['way'] == 'down' else '上升'} {g['p']}%（{g['a']} → {g['b']}；订单 {g['oa']} → {g['ob']}）"),
    ("trend", rf"new spend this (?P<w>{_W}) after none the (?P=w) before \((?P<o>{_N}) orders?\)",
     lambda g: f"{_last(g['w'])}有新消费，{_before(g['w'])}没有（{g['o']} 笔订单）"),
    ("trend", r"no purchase in the last two (?P<w>quarter|month|year)s", lambda g: f"{_TWO[g['w']]}没有购买"),
    ("trend", r"no purchase in the last (?P<n>\d+) days", lambda g: f"近 {g['n']} 天没有购买"),
    ("gaps", r"has bought on one day only so far", lambda g: "至今只在一天有过购买"),
    ("gaps", rf"no purchase for (?P<d>{_N}) days?, usually every (?P<e>{_N}) days?", lambda g: f"已 {g['d']} 天没有购买，平时每 {g['e']} 天一次"),
    ("pace", r"no purchase pace yet", lambda g: "尚无购买节奏"),
    ("pace", rf"a silence this long is unusual at their pace \({_USUAL}; (?P<c>{_CHANCE})\)",
     lambda g: f"按其购买节奏，这么久没有购买很反常（{_usual(g)}；{_chance(g['c'])}）"),
    ("pace", rf"buys rarely \({_USUAL}\): (?P<c>{_CHANCE}) of no order in (?P<h>\d+) days even at that pace",
     lambda g: f"很少购买（{_usual(g)}）：即使按此节奏，{g['h']} 天内不下单的{_chance(g['c'])}"),
    ("tenure", r"tenure unknown", lambda g: "客户时长未知"),
    ("tenure", rf"new customer: first purchase (?P<d>{_N}) days? ago \((?P<o>{_N}) orders? so far\)",
     lambda g: f"新客户：首次购买在 {g['d']} 天前（至今 {g['o']} 笔订单）"),
    ("tenure", rf"customer for (?P<y>[\d.]+) years \((?P<o>{_N}) orders?\)", lambda g: f"合作 {g['y']} 年的客户（共 {g['o']} 笔订单）"),
    ("returns", rf"returned (?P<p>\d+)% of purchases in the last (?P<w>{_W}) \((?P<r>{_N}) returns?\)",
     lambda g: f"{_last(g['w'])}退货率 {g['p']}%（{g['r']} 次退货）"),
    ("returns", rf"returns in the last (?P<w>{_W}) \((?P<r>{_N}) returns?\)", lambda g: f"{_last(g['w'])}有退货（{g['r']} 次退货）"),
    ("discount", r"(?P<p>\d+)% of spend bought on promotion", lambda g: f"{g['p']}% 的消费在促销时购买"),
    ("discount", r"average discount (?P<p>\d+)%", lambda g: f"平均折扣 {g['p']}%"),
    ("discount", r"discount dependence", lambda g: "依赖折扣"),
    ("breadth", rf"buys (?P<p>{_N}) products? in (?P<c>{_N}) (?:category|categories)", lambda g: f"购买 {g['p']} 种产品，涉及 {g['c']} 个品类"),
    ("tickets", rf"(?P<t>{_N}) tickets? last (?P<w>quarter|month|year)", lambda g: f"{_last(g['w'])} {g['t']} 张工单"),
    ("tickets", rf"(?P<t>{_N}) tickets? in the last (?P<n>\d+) days", lambda g: f"近 {g['n']} 天 {g['t']} 张工单"),
    ("tickets", rf"(?P<n>{_N}) low satisfaction scores? this (?P<w>{_W})", lambda g: f"{_last(g['w'])} {g['n']} 次低满意度评分"),
    ("tickets", r"mean satisfaction (?P<s>[\d.]+)/5", lambda g: f"平均满意度 {g['s']}/5"),
    ("tickets", rf"(?P<t>{_N}) tickets? still open", lambda g: f"{g['t']} 张工单仍未关闭"),
    ("tickets", rf"(?P<t>{_N}) tickets? this (?P<w>{_W})", lambda g: f"{_last(g['w'])} {g['t']} 张工单"),
    ("tickets", rf"no service ticket this (?P<w>{_W})", lambda g: f"{_last(g['w'])}没有服务工单"),
    ("bgnbd", rf"their purchase history gives (?P<c>{_CHANCE}) of no purchase in (?P<h>\d+) days \(BG/NBD\)",
     lambda g: f"按其购买历史，{g['h']} 天内不再购买的{_chance(g['c'])}（BG/NBD）"),
    ("owners", rf"(?P<r>{_N}) reps? credited in the last (?P<w>{_W})(?:, rep changed (?P<t>{_N}) times?)?",
     lambda g: f"{_last(g['w'])}由 {g['r']} 位销售代表经手" + (f"，更换过 {g['t']} 次销售代表" if g["t"] else "")),
    ("profile", r"(?P<seg>.+?) customer in (?P<reg>.+?), acquired via (?P<ch>.+?)", lambda g: f"{g['reg']} 的 {g['seg']} 客户，获客渠道：{g['ch']}"),
    # a reason whose words could not be made is given as its group's name
    *[(g, g, (lambda k: lambda _: f"{k}")(g)) for g in ("rfm", "trend", "gaps", "pace", "tenure", "returns", "discount", "breadth",
                                                          "tickets", "profile", "bgnbd", "owners", "calendar")],
]
_COMPILED = [(group, re.compile(form + r"(?=; |, |$)"), zh) for group, form, zh in _FORMS]


@dataclass(frozen=True)
class ReasonPart:
    """One reason (or one part of a ticket reason) of a customer: its feature group (None when
    its form is unknown), the English text, the Chinese text (None when unknown) and the
    separator before it ("", "; " or ", ")."""

    group: str | None
    en: str
    zh: str | None
    sep: str = ""


def reason_parts(text: str) -> list[ReasonPart]:
    """A customer's ``top_reasons`` read back by the forms of :mod:`salesml.customers.churn`."""
    out: list[ReasonPart] = []
    text = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
    pos, sep = 0, ""
    while pos < len(text):
        for group, rx, zh in _COMPILED:
            m = rx.match(text, pos)
            if m:
                words = zh(m.groupdict())
                out.append(ReasonPart(group, m.group(0), _GROUP_ZH.get(words, words), sep))
                pos = m.end()
                break
        else:
            end = text.find("; ", pos)
            end = len(text) if end < 0 else end
            out.append(ReasonPart(None, text[pos:end], None, sep))
            pos = end
        sep = text[pos:pos + 2] if text.startswith(("; ", ", "), pos) else ""
        pos += len(sep)
    return out


#: the feature groups of salesml.customers.churn in words (drivers, notes, a reason given as its group's name)
GROUPS: dict[str, tuple[str, str]] = {
    "rfm": ("recency, orders and spend", "最近购买、订单与金额"),
    "trend": ("spend trend", "消费趋势"),
    "gaps": ("gaps between purchases", "购买间隔"),
    "pace": ("purchase pace", "购买节奏"),
    "tenure": ("tenure", "客户时长"),
    "returns": ("returns", "退货"),
    "discount": ("discounts", "折扣"),
    "breadth": ("breadth of purchases", "购买广度"),
    "tickets": ("service tickets", "服务工单"),
    "profile": ("profile (segment, region, channel)", "客户画像（分群、区域、渠道）"),
    "owners": ("owner reps", "负责销售代表"),
    "calendar": ("time of year", "季节"),
    "bgnbd": ("BG/NBD", "BG/NBD"),
}
_GROUP_ZH = {g: zh for g, (_, zh) in GROUPS.items()}


def group_name(g, L: Lang) -> str:
    pair = GROUPS.get(str(g))
    return pair[1 if L.zh else 0] if pair else str(g)


def reasons_text(text: str, L: Lang, untranslated: set[str] | None = None) -> str:
    """A customer's reasons in the page's language (an unknown form stays English and is
    added to ``untranslated``)."""
    if not L.zh:
        return "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
    out = []
    for p in reason_parts(text):
        if p.zh is None and untranslated is not None:
            untranslated.add(p.en)
        out.append({"; ": "；", ", ": "，"}.get(p.sep, "") + (p.zh if p.zh is not None else p.en))
    return "".join(out)


def reason_groups(text: str) -> set[str]:
    """The kinds of reason (feature groups) a customer's ``top_reasons`` gives ("other" for an unknown form)."""
    return {p.group or "other" for p in reason_parts(text)}


# --------------------------------------------------------------------------- helpers


def risk_text(v, L: Lang | None = None) -> str:
    """A churn risk as shown: a percentage, "very likely" above 99% (never a certain 100%)."""
    L = L or Lang()
    if v is None or pd.isna(v):
        return "–"
    return L.t("churn_very_likely") if float(v) > 0.99 else L.ratio(float(v))


def risk_short(v, L: Lang) -> str:
    """A churn risk in a sentence: ">99%" above 99%."""
    return ">99%" if float(v) > 0.99 else L.ratio(float(v))


def _day(v) -> date | None:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v == "":
        return None
    return pd.Timestamp(v).date()


def _signed3(v) -> str:
    return "–" if v is None else f"{float(v):+.3f}".replace("-", "−")


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


#: the follow-up lists: customer ids and risks on one line
_STYLE = "<style>.salesml-churn-list td:first-child,.salesml-churn-list td:nth-child(3){white-space:nowrap}</style>"


def _fold(title: str, body: H.Block) -> H.Block:
    """``body`` folded under ``title`` (a click opens it)."""
    return H.Block(f'<details class="salesml-more"><summary>{H.esc(title)}</summary>{body.html}</details>', body.extra, text=body.text)


@dataclass
class Check:
    """One early warning: its kind, sentence and evidence."""

    kind: str
    text: str
    evidence: str = ""


class ChurnRiskReport:
    """Holdout quality vs baselines, calibration, drivers, and the at-risk customers per rep."""

    def __init__(self, as_of: str = "", scope: str = "company", version: str = "", config_path: str = "", warehouse: str = "",
                 allow_lookahead: bool = False, lang: str = ""):
        self.settings = notebook_settings(config_path, warehouse)
        self.scope: Scope = parse_scope(scope)
        self.version = version or None
        self.missing = ""
        self.manifest: dict = {}
        self.curves: dict = {}
        self.scores = pd.DataFrame(columns=churn.SCORE_COLUMNS)
        self.anonymous = LeftOut()
        self.lookahead = False
        self.people = (pd.DataFrame(columns=["customer_id", "customer_name"]), pd.DataFrame(columns=["rep_id", "rep_name"]))
        #: reasons left in English on a Chinese page (forms this layer does not know)
        self.untranslated_reasons: set[str] = set()
        with warehouse_connect(self.settings) as con:
            check_scope(con, self.scope)
            self.currency = perf.main_currency(con)
            self.last_sale = _day(con.execute("SELECT max(order_date) FROM order_lines").fetchone()[0])
        self.L = Lang(lang or self.settings.report.lang, self.currency, self.settings.report.zh_wan_units)
        self.local_regions = self.settings.local_names.get("region", {})
        try:
            self.pipeline, self.manifest = registry.load_estimator(self.settings, churn.KIND, self.version)
        except registry.RegistryError as e:
            self.pipeline = None
            self.missing = str(e)
            self.as_of = as_of or ""
            return
        self.curves = churn.evaluation(self.settings, self.manifest["version"])
        sql, params = scope_customers(self.scope)
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

    def scorer_name(self, key: str, short: bool = False) -> str:
        """A scorer in the page's language ("baseline: recency" / "recency")."""
        if key not in NAMES:
            return str(key)
        return self.L.t(f"churn_{'short' if short else 'scorer'}_{key}")

    @property
    def feature_settings(self):
        return churn.feature_settings(self.settings, self.manifest)

    @property
    def at_risk(self) -> pd.DataFrame:
        s = self.scores
        return s[s["risk"] >= self.settings.churn.at_risk_threshold] if len(s) else s

    @cached_property
    def risky(self) -> pd.DataFrame:
        """The at-risk customers with their names and their owner's, most value at risk first."""
        customers, reps = self.people
        df = self.at_risk.merge(customers, on="customer_id", how="left").merge(
            reps, left_on="owner_rep_id", right_on="rep_id", how="left"
        )
        return df.sort_values(["value_at_risk", "risk", "customer_id"], ascending=[False, False, True], kind="mergesort").reset_index(drop=True)

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
        L, a = self.L, self.anonymous
        share = L.t("churn_anonymous_share", pct=L.pct(a.share_pct)) if a.share_pct is not None else ""
        return L.t(
            "churn_anonymous", where="" if self.scope.level == "company" else L.t("churn_anonymous_scope"),
            days=self.feature_settings.lookback_days, as_of=L.date(_day(self.as_of)), lines=f"{a.lines:,}",
            noun="order line" if a.lines == 1 else "order lines", orders=f"{a.orders:,}", orders_noun="order" if a.orders == 1 else "orders",
            amount=L.cents(a.revenue), share=share, verb="is" if a.lines == 1 else "are",
        )

    def money(self, v) -> str:
        return self.L.money(v)

    def who(self) -> str:
        sc = self.scope
        name = self.region_label(sc.value) if sc.level == "region" else sc.value
        if sc.level != "rep":
            return self.L.who(sc.level, name)
        reps = self.people[1]
        known = reps.loc[reps["rep_id"] == sc.value, "rep_name"].dropna() if len(reps) else pd.Series(dtype=object)
        return self.L.t("churn_your_customers", who=self.L.who("rep", f"{sc.value} {known.iloc[0]}" if len(known) else name))

    def region_label(self, region) -> str:
        local = self.local_regions.get(region)
        return f"{region} · {local}" if local else str(region)

    @staticmethod
    def named(id_, name) -> str:
        """"R017 Wang Fang" (the id alone when the name is unknown)."""
        return f"{id_} {name}" if name is not None and not pd.isna(name) and str(name) else str(id_)

    def registry_message(self) -> str:
        """Why no model could be loaded, in the page's language (the registry's words when their form is unknown)."""
        text = self.missing
        if not self.L.zh:
            return text
        m = re.fullmatch(r"no churn model in (.+): train one first \(salesml train churn\)", text)
        if m:
            return self.L.t("churn_registry_none", folder=m.group(1))
        m = re.fullmatch(r"no churn model version '(.+)'; versions: (.+)", text)
        if m:
            return self.L.t("churn_registry_version", version=m.group(1), versions=m.group(2))
        return text

    def why_text(self) -> str:
        """Why this version scores with what it scores with (the manifest's words in English, made from its figures in Chinese)."""
        sc = self.manifest.get("scorer", {})
        why = sc.get("why", "")
        if not self.L.zh:
            return why
        gain, best = sc.get("auc_gain") or {}, sc.get("against")
        if not best or gain.get("low") is None:
            return self.L.t("churn_why_none")
        values = dict(auc=_fmt(self.metrics.get("model", {}).get("roc_auc")), best=self.scorer_name(best, short=True),
                      best_auc=_fmt(self.metrics.get(best, {}).get("roc_auc")), gain=_signed3(gain.get("gain")),
                      low=_signed3(gain.get("low")), high=_signed3(gain.get("high")), min_gain=f"{sc.get('min_auc_gain', 0):g}")
        return self.L.t("churn_why_model" if sc.get("name") == "model" else "churn_why_baseline", **values)

    # ------------------------------------------------------------------ the checks behind the warnings

    def scorer_auc(self) -> float | None:
        v = self.metrics.get(self.scorer, {}).get("roc_auc")
        return None if v is None else float(v)

    def calibration_gap(self) -> tuple[float, dict] | None:
        """The scorer's mean gap between predicted and observed churn on the holdout, in points
        (weighted by customers), and its largest bin; None without curves."""
        rel = self.curves.get(self.scorer, {}).get("reliability")
        if not rel or not rel.get("count"):
            return None
        p, o, n = (np.asarray(rel[k], dtype=float) for k in ("predicted", "observed", "count"))
        if n.sum() <= 0:
            return None
        gaps = np.abs(p - o)
        worst = int(np.argmax(gaps))
        return float((gaps * n).sum() / n.sum() * 100), {"predicted": p[worst], "observed": o[worst], "n": int(n[worst])}

    def high_value(self) -> tuple[pd.DataFrame, float | None]:
        """The at-risk customers in the top ``churn_high_value_pct`` % of the page's scored
        customers by revenue of the lookback window, and that revenue threshold."""
        s = self.scores
        pct = self.settings.warnings.churn_high_value_pct
        if s.empty or pct <= 0:
            return self.risky.iloc[0:0], None
        revenue = s["revenue_lookback"].astype(float).sort_values(ascending=False, kind="mergesort")
        k = max(1, math.ceil(len(revenue) * pct / 100))
        threshold = float(revenue.iloc[k - 1])
        r = self.risky
        hv = r[(r["revenue_lookback"].astype(float) >= threshold) & (r["revenue_lookback"].astype(float) > 0)]
        return hv, threshold

    def checks(self) -> list[Check]:
        """The early warnings of this page, each with its evidence (most serious first)."""
        if hasattr(self, "_checks"):
            return self._checks
        L, w, m = self.L, self.settings.warnings, self.manifest
        out: list[Check] = []
        if self.pipeline is None:
            self._checks = [Check("no_model", L.t("churn_w_no_model"), self.registry_message())]
            return self._checks
        as_of = _day(self.as_of)
        end = _day(m.get("data_window", {}).get("last"))
        if self.lookahead:
            out.append(Check("lookahead", L.t("churn_w_lookahead", version=m["version"], end=L.date(end), as_of=L.date(as_of)),
                             L.t("churn_w_lookahead_evidence", as_of=self.as_of)))
        if as_of and self.last_sale and (as_of - self.last_sale).days > w.churn_data_gap_days:
            out.append(Check("data_gap", L.t("churn_w_data_gap", last=L.date(self.last_sale), days=L.count((as_of - self.last_sale).days),
                                             as_of=L.date(as_of)),
                             L.t("churn_w_data_gap_evidence", limit=w.churn_data_gap_days)))
        if as_of and end and (as_of - end).days > w.churn_model_age_days:
            out.append(Check("old_model", L.t("churn_w_old", version=m["version"], end=L.date(end), days=L.count((as_of - end).days),
                                              as_of=L.date(as_of)),
                             L.t("churn_w_old_evidence", created=L.date(_day(m.get("created_at", "")[:10])), limit=w.churn_model_age_days)))
        sc = m.get("scorer", {})
        if self.scorer != "model":
            gain = sc.get("auc_gain") or {}
            out.append(Check("fallback", L.t("churn_w_fallback", scorer=self.scorer_name(self.scorer, short=True)),
                             L.t("churn_w_fallback_evidence", scorer=self.scorer_name(self.scorer, short=True), auc=_fmt(self.metrics["model"].get("roc_auc")), best_auc=_fmt(self.scorer_auc()),
                                 gain=_signed3(gain.get("gain")), low=_signed3(gain.get("low")), high=_signed3(gain.get("high")),
                                 min_gain=f"{sc.get('min_auc_gain', 0):g}")))
        auc = self.scorer_auc()
        if auc is not None and auc < w.churn_min_auc:
            out.append(Check("weak", L.t("churn_w_weak", auc=_fmt(auc), limit=f"{w.churn_min_auc:g}"),
                             L.t("churn_w_weak_evidence", n=L.count(m.get("metrics", {}).get("holdout", {}).get("examples")),
                                 limit=f"{w.churn_min_auc:g}")))
        gap = self.calibration_gap()
        if gap and gap[0] > w.churn_calibration_gap_pts:
            worst = gap[1]
            out.append(Check("calibration", L.t("churn_w_calibration", gap=f"{gap[0]:.1f}"),
                             L.t("churn_w_calibration_evidence", predicted=L.ratio(worst["predicted"]), observed=L.ratio(worst["observed"]),
                                 n=L.count(worst["n"]), limit=f"{w.churn_calibration_gap_pts:g}")))
        hv, threshold = self.high_value()
        if len(hv):
            out.append(Check("high_value", L.t("churn_w_high_value", n=L.count(len(hv)), pct=f"{w.churn_high_value_pct:g}%",
                                               days=self.feature_settings.lookback_days, threshold=L.money(threshold),
                                               value=L.money(hv["value_at_risk"].sum()))))
            for _, r in hv.head(w.max_items).iterrows():
                owner = (L.t("churn_w_owner", owner=self.named(r["owner_rep_id"], r.get("rep_name"))) if pd.notna(r["owner_rep_id"])
                         else L.t("churn_w_no_owner"))
                owner = "" if self.scope.level == "rep" else owner
                out.append(Check("high_value_customer",
                                 L.t("churn_w_customer", customer=self.named(r["customer_id"], r.get("customer_name")), owner=owner,
                                     risk=risk_short(r["risk"], L), value=L.money(r["value_at_risk"]), revenue=L.money(r["revenue_lookback"]),
                                     days=self.feature_settings.lookback_days),
                                 reasons_text(r["top_reasons"], L, self.untranslated_reasons)))
            if len(hv) > w.max_items:
                out.append(Check("more", L.t("churn_w_more", n=L.count(len(hv) - w.max_items))))
        unowned = self.risky[self.risky["owner_rep_id"].isna()] if len(self.risky) else self.risky
        if len(unowned):
            out.append(Check("unowned", L.t("churn_w_unowned", n=L.count(len(unowned)), value=L.money(unowned["value_at_risk"].sum())),
                             L.t("churn_w_unowned_evidence")))
        self._checks = out
        return out

    def skipped(self) -> list[str]:
        """What the warnings cannot check, and why."""
        L = self.L
        if self.pipeline is None:
            return [L.t("churn_skip_all")]
        out = [L.t("churn_skip_outcome", days=self.feature_settings.horizon_days), L.t("churn_skip_drift")]
        if self.calibration_gap() is None:
            out.append(L.t("churn_skip_calibration"))
        return out

    def top_owner(self) -> tuple[str, int, float] | None:
        """The owner with the most value at risk (ties: more customers at risk, then the id)."""
        r = self.risky
        r = r[r["owner_rep_id"].notna()] if len(r) else r
        if r.empty:
            return None
        g = (r.groupby("owner_rep_id").agg(n=("customer_id", "size"), value=("value_at_risk", "sum"), name=("rep_name", "first"))
             .reset_index().sort_values(["value", "n", "owner_rep_id"], ascending=[False, False, True], kind="mergesort"))
        top = g.iloc[0]
        return self.named(top["owner_rep_id"], top["name"]), int(top["n"]), float(top["value"])

    def reason_counts(self) -> pd.DataFrame:
        """Per kind of reason: the at-risk customers it is given for, their share and value at risk."""
        r = self.risky
        cols = ["group", "reason", "customers", "at_risk_share_pct", "value_at_risk"]
        if r.empty:
            return pd.DataFrame(columns=cols)
        rows = [(g, v) for text, v in zip(r["top_reasons"], r["value_at_risk"].astype(float), strict=True) for g in reason_groups(text)]
        df = pd.DataFrame(rows, columns=["group", "value_at_risk"])
        out = df.groupby("group").agg(customers=("group", "size"), value_at_risk=("value_at_risk", "sum")).reset_index()
        out["reason"] = [self.L.t(f"churn_reason_{g}") if f"churn_reason_{g}" in _REASON_KEYS else g for g in out["group"]]
        out["at_risk_share_pct"] = out["customers"] / len(r) * 100
        return out.sort_values(["customers", "value_at_risk"], ascending=False, kind="mergesort")[cols].reset_index(drop=True)

    # ------------------------------------------------------------------ blocks

    def title(self) -> H.Block:
        L = self.L
        as_of = _day(self.as_of)
        head = H.style() + H.Block(_STYLE, text="") + H.heading(L.t("churn_title_as_of", as_of=L.date(as_of)) if as_of else L.t("churn_title"), 1) + H.anchor("model")
        if self.pipeline is None:
            return head + H.note(L.t("churn_no_model_note", who=self.who(), why=self.registry_message())) + H.note(L.t("churn_train_hint"))
        m, s = self.manifest, self.feature_settings
        note = H.note(L.t("churn_model_note", who=self.who(), version=m["version"], created=L.date(_day(m.get("created_at", "")[:10])),
                          first=L.date(_day(m["data_window"]["first"])), last=L.date(_day(m["data_window"]["last"])),
                          scorer=self.scorer_name(self.scorer), lookback=s.lookback_days, horizon=s.horizon_days))
        if self.lookahead:
            note = note + H.note(L.t("churn_lookahead_note", end=L.date(_day(m["data_window"]["last"])), as_of=L.date(as_of)))
        return head + note

    def summary_sentences(self) -> tuple[list[S.Sentence], list[S.Sentence]]:
        """Three to six sentences and at most five actions, written from the figures on this page."""
        L = self.L
        out: list[S.Sentence] = []
        actions: list[S.Sentence] = []
        if self.pipeline is None:
            out = [S.Sentence(L.t("churn_s_no_model", why=self.registry_message()), "model"),
                   S.Sentence(L.t("churn_s_no_model_train"), "model"),
                   S.Sentence(L.t("churn_s_no_model_nothing"), "warnings")]
            return out, [S.Sentence(L.t("churn_a_train"), "model")]
        m, s = self.manifest, self.feature_settings
        threshold = L.ratio(self.settings.churn.at_risk_threshold)
        # how good: the holdout against the baselines, and which scorer this version uses
        h = m.get("metrics", {}).get("holdout", {})
        base = dict(n=L.count(h.get("examples")), rate=L.ratio(h.get("churn_rate")), auc=_fmt(self.metrics["model"].get("roc_auc")))
        sc = m.get("scorer", {})
        best = sc.get("against")
        if best:
            text = L.t("churn_s_holdout", best=self.scorer_name(best, short=True), best_auc=_fmt(self.metrics.get(best, {}).get("roc_auc")), **base)
            rec = self.metrics.get("recency", {}).get("roc_auc")
            if best != "recency" and rec is not None:
                text += L.t("churn_s_holdout_recency", auc=_fmt(rec))
            out.append(S.Sentence(text + L.t("end"), "holdout"))
        else:
            out.append(S.Sentence(L.t("churn_s_holdout_alone", **base) + L.t("end"), "holdout"))
        gain = sc.get("auc_gain") or {}
        if best and gain.get("low") is not None:
            words = dict(best=self.scorer_name(best, short=True), gain=_signed3(gain.get("gain")), low=_signed3(gain.get("low")),
                         high=_signed3(gain.get("high")))
            key = "churn_s_scores_model" if self.scorer == "model" else "churn_s_scores_better" if gain["gain"] < 0 else "churn_s_scores_as_good"
            out.append(S.Sentence(L.t(key, **words), "holdout"))
        else:
            out.append(S.Sentence(L.t("churn_s_scores_unchecked"), "holdout"))
        # how many, how much, whose
        r, total = self.risky, L.count(len(self.scores))
        if self.scores.empty:
            out.append(S.Sentence(L.t("churn_s_nobody", days=s.lookback_days, as_of=L.date(_day(self.as_of))), "figures"))
        elif r.empty:
            out.append(S.Sentence(L.t("churn_s_none_at_risk", total=total, threshold=threshold), "figures"))
        else:
            text = L.t("churn_s_at_risk", n=L.count(len(r)), total=total, threshold=threshold, value=L.money(r["value_at_risk"].sum()))
            hv, _ = self.high_value()
            if len(hv):
                text += L.t("churn_s_high_value", n=L.count(len(hv)), value=L.money(hv["value_at_risk"].sum()))
            out.append(S.Sentence(text + L.t("end"), "figures"))
            top = r.iloc[0]
            first = self.named(top["customer_id"], top.get("customer_name"))
            owner = self.top_owner()
            if self.scope.level != "rep" and owner:
                text = L.t("churn_s_owner", owner=owner[0], k=L.count(owner[1]), n=L.count(owner[1]), value=L.money(owner[2]))
                owners = r["owner_rep_id"].dropna().nunique()
                if owners > 1:
                    text += L.t("churn_s_owners", owners=L.count(owners))
                unowned = int(r["owner_rep_id"].isna().sum())
                if unowned:
                    text += L.t("churn_s_unowned", n=L.count(unowned))
                out.append(S.Sentence(text + L.t("end"), "follow-up"))
                actions.append(S.Sentence(L.t("churn_a_owner", owner=owner[0], k=L.count(owner[1]), n=L.count(owner[1]), value=L.money(owner[2])), "follow-up"))
            else:
                out.append(S.Sentence(L.t("churn_s_top_customer", customer=first, value=L.money(top["value_at_risk"]),
                                          risk=risk_short(top["risk"], L)), "follow-up"))
                actions.append(S.Sentence(L.t("churn_a_rep", n=L.count(len(r)), customer=first, value=L.money(top["value_at_risk"])), "follow-up"))
            reasons = self.reason_counts().head(3)
            if len(reasons):
                items = [L.t("churn_reason_count" if i == 0 else "churn_reason_count_short", reason=row["reason"], n=L.count(row["customers"]))
                         for i, (_, row) in enumerate(reasons.iterrows())]
                out.append(S.Sentence(L.t("churn_s_reasons", reasons=S.join(items, L)), "reasons"))
        # the warnings that change how to read the scores, and what they ask for
        checks = {c.kind: c for c in self.checks()}
        issues = []
        if "lookahead" in checks:
            issues.append(L.t("churn_issue_lookahead"))
            actions.append(S.Sentence(L.t("churn_a_lookahead", as_of=self.as_of, day=L.date(_day(self.as_of))), "warnings"))
        if "data_gap" in checks:
            days = (_day(self.as_of) - self.last_sale).days
            issues.append(L.t("churn_issue_data_gap", days=L.count(days)))
            actions.append(S.Sentence(L.t("churn_a_data_gap", last=L.date(self.last_sale)), "warnings"))
        if "old_model" in checks:
            days = (_day(self.as_of) - _day(m["data_window"]["last"])).days
            issues.append(L.t("churn_issue_old", days=L.count(days)))
            actions.append(S.Sentence(L.t("churn_a_retrain", days=L.count(days)), "warnings"))
        if "weak" in checks:
            issues.append(L.t("churn_issue_weak", auc=_fmt(self.scorer_auc())))
        if "calibration" in checks:
            gap = f"{self.calibration_gap()[0]:.1f}"
            issues.append(L.t("churn_issue_calibration", gap=gap))
            actions.append(S.Sentence(L.t("churn_a_ranking", gap=gap), "warnings"))
        hv, _ = self.high_value()
        if "high_value" in checks and not (self.scope.level == "rep" and len(hv) == 1):  # a rep's one is their first call already
            actions.insert(1, S.Sentence(L.t("churn_a_high_value", n=L.count(len(hv))), "warnings"))
        if "unowned" in checks:
            unowned = r[r["owner_rep_id"].isna()]
            actions.append(S.Sentence(L.t("churn_a_unowned", n=L.count(len(unowned)), value=L.money(unowned["value_at_risk"].sum())), "warnings"))
        if issues:
            out.append(S.Sentence(L.t("churn_s_care", issues=S.join(issues, L)), "warnings"))
        return out[:6], actions[:5]

    def summary(self) -> H.Block:
        """Three to six sentences and an action list, each linked to the section behind it."""
        sentences, actions = self.summary_sentences()
        return S.block(sentences, actions, self.L) + H.figures({"summary": [s.text for s in sentences], "actions": [a.text for a in actions]})

    def early_warnings(self) -> H.Block:
        """The early warnings, each with its evidence; what cannot be checked says why."""
        L = self.L
        checks = self.checks()
        as_of = _day(self.as_of)
        none = L.t("churn_no_warnings", as_of=L.date(as_of) if as_of else "–")
        body = S.warning_list([(c.text, c.evidence) for c in checks], L, none, self.skipped())
        counted = [c for c in checks if c.kind not in ("high_value_customer", "more")]
        return H.heading(L.t("warnings"), 2, anchor="warnings") + body + H.figures(
            {"warnings": len(counted), "warning_kinds": [c.kind for c in counted]}
        )

    def headline(self) -> H.Block:
        L, f = self.L, self.headline_figures
        if self.pipeline is None:
            return H.figures(f)
        model, bg, rec, logit = (self.metrics.get(k, {}) for k in ("model", "bgnbd", "recency", "logistic"))
        s = self.feature_settings
        others = " · ".join(f"{self.scorer_name(k, short=True)} {_fmt(v.get('roc_auc'))}" for k, v in (("recency", rec), ("bgnbd", bg), ("logistic", logit)))
        cards = [
            {"label": L.t("churn_card_scored"), "value": L.count(f["customers_scored"]), "sub": L.t("churn_card_scored_sub", days=s.lookback_days)},
            {"label": L.t("churn_card_at_risk"), "value": L.count(f["at_risk"]),
             "sub": L.t("churn_card_at_risk_sub", pct=L.ratio(self.settings.churn.at_risk_threshold))},
            {"label": L.t("churn_card_value"), "value": L.money(f["value_at_risk"]), "sub": L.t("churn_card_value_sub", days=s.lookback_days)},
            {"label": L.t("churn_card_auc"), "value": _fmt(self.scorer_auc()),
             "sub": (L.t("churn_card_auc_model", auc=_fmt(model.get("roc_auc"))) + " · " if self.scorer != "model" else "") + others,
             "trend": _beats(model, (rec, bg, logit), "roc_auc")},
            {"label": L.t("churn_card_scores_by"), "value": self.scorer_name(self.scorer, short=True),
             "sub": L.t("churn_card_beats") if self.scorer == "model" else L.t("churn_card_fell_back")},
        ]
        block = H.anchor("figures") + H.cards(cards)
        if self.anonymous:
            block = block + H.note(self.anonymous_note)
        return block + H.figures(f)

    def holdout_metrics(self) -> H.Block:
        if self.pipeline is None:
            return _empty()
        L = self.L
        rows = [{"scorer": L.t("churn_in_use", name=self.scorer_name(k)) if k == self.scorer else self.scorer_name(k),
                 **{m: v.get(m) for m in METRICS}} for k, v in self.metrics.items()]
        df = pd.DataFrame(rows, columns=["scorer", *METRICS])
        h = self.manifest["metrics"].get("holdout", {})
        cut = self.manifest["cutoffs"]
        model = self.metrics.get("model", {})
        others = [v for k, v in self.metrics.items() if k != "model"]
        beaten = _beats(model, others, "roc_auc")
        verdict = L.t("churn_verdict_beats" if beaten and beaten > 0 else "churn_verdict_not")
        if self.manifest.get("scorer", {}).get("why"):
            verdict += L.t("churn_verdict_why", scorer=self.scorer_name(self.scorer), why=self.why_text())
        note = L.t("churn_holdout_note", first=L.date(_day(cut["train"][0])), last=L.date(_day(cut["train"][-1])),
                   test=L.t("join_comma").join(L.date(_day(c)) for c in cut["test"]), n=L.count(h.get("examples")),
                   rate=L.ratio(h.get("churn_rate")))
        three = {m: _fmt for m in ("roc_auc", "pr_auc", "brier")}
        return H.heading(L.t("churn_holdout"), 2, note, anchor="holdout") + H.view(df, L, formats=three) + H.note(verdict + L.t("churn_holdout_explain"))

    def _layout(self, fig: go.Figure, title: str, height: int, **extra) -> None:
        fig.update_layout(title=dict(text=title, y=0.98), height=height, margin=dict(l=10, r=10, t=60, b=10), **extra)

    def roc_chart(self) -> H.Block:
        if not self.curves:
            return _empty()
        L = self.L
        fig = go.Figure()
        for key in NAMES:
            c = self.curves.get(key, {}).get("roc")
            if c:
                auc = self.metrics.get(key, {}).get("roc_auc")
                fig.add_scatter(x=c["fpr"], y=c["tpr"], mode="lines", name=f"{self.scorer_name(key)} ({_fmt(auc)})", line=dict(color=COLORS[key]))
        fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name=L.t("churn_chance"), line=dict(color=REFERENCE_LINE, dash="dot"))
        self._layout(fig, L.t("churn_roc_title"), 440, xaxis_title=L.t("churn_roc_x"), yaxis_title=L.t("churn_roc_y"),
                     legend=dict(orientation="h", y=-0.2))
        return H.heading(L.t("churn_roc_and_lift"), 2, anchor="curves") + H.chart(fig)

    def lift_chart(self) -> H.Block:
        if not self.curves:
            return _empty()
        L = self.L
        fig = go.Figure()
        xs = [L.t("churn_lift_x", pct=f"{10 * (i + 1)}%") for i in range(10)]
        for key in NAMES:
            gains = self.curves.get(key, {}).get("gains")
            if gains:
                fig.add_scatter(x=xs, y=gains, mode="lines+markers", name=self.scorer_name(key), line=dict(color=COLORS[key]))
        fig.add_scatter(x=xs, y=[1.0] * 10, mode="lines", name=L.t("churn_no_model_line"), line=dict(color=REFERENCE_LINE, dash="dot"))
        self._layout(fig, L.t("churn_lift_title"), 400, yaxis_title=L.t("churn_lift_y"), xaxis=dict(type="category"),
                     legend=dict(orientation="h", y=-0.2))
        return H.chart(fig)

    def calibration_chart(self) -> H.Block:
        if not self.curves:
            return _empty()
        L = self.L
        fig = go.Figure()
        for key in ("model", "bgnbd", "logistic"):
            rel = self.curves.get(key, {}).get("reliability")
            if rel:
                fig.add_scatter(x=rel["predicted"], y=rel["observed"], mode="lines+markers", name=self.scorer_name(key),
                                line=dict(color=COLORS[key]), customdata=rel["count"],
                                hovertemplate=L.t("churn_hover_reliability") + "<extra></extra>")
        fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name=L.t("churn_perfect"), line=dict(color=REFERENCE_LINE, dash="dot"))
        self._layout(fig, L.t("churn_calibration_title"), 440, xaxis_title=L.t("churn_predicted"), yaxis_title=L.t("churn_observed"),
                     legend=dict(orientation="h", y=-0.2))
        return H.heading(L.t("churn_calibration"), 2, L.t("churn_calibration_note"), anchor="calibration") + H.chart(fig)

    def drivers(self) -> H.Block:
        if self.pipeline is None:
            return _empty()
        L = self.L
        imp = pd.DataFrame(self.manifest.get("importance", [])).head(15)
        head = H.heading(L.t("churn_drivers"), 2, L.t("churn_drivers_note"), anchor="drivers")
        if imp.empty:
            return head + H.note(L.t("churn_no_importance"))
        imp = imp.iloc[::-1]
        names = [FEATURES[f][1 if L.zh else 0] if f in FEATURES else str(f) for f in imp["feature"]]
        groups = [group_name(g, L) for g in imp["group"]]
        fig = go.Figure(go.Bar(x=imp["importance"], y=[H.esc(n) for n in names], orientation="h", marker_color=H.COLORS["revenue"],
                               error_x=dict(type="data", array=imp["std"]), customdata=[H.esc(g) for g in groups],
                               hovertemplate="%{y} (%{customdata}): %{x:.4f}<extra></extra>"))
        self._layout(fig, L.t("churn_drivers_title"), max(320, 26 * len(imp) + 130), yaxis=dict(type="category"))
        return head + H.chart(fig)

    def reasons(self) -> H.Block:
        """How many at-risk customers each kind of reason is given for."""
        if self.pipeline is None:
            return _empty()
        L = self.L
        head = H.heading(L.t("churn_reasons"), 2, L.t("churn_reasons_note", n=self.settings.churn.top_reasons), anchor="reasons")
        df = self.reason_counts()
        if df.empty:
            return head + H.note(L.t("churn_no_reasons"))
        return head + H.view(df, L, ["reason", "customers", "at_risk_share_pct", "value_at_risk"], labels={"customers": L.label("at_risk")}) + H.figures(
            {"reason_kinds": {g: int(n) for g, n in zip(df["group"], df["customers"], strict=True)}}
        )

    def follow_up(self) -> H.Block:
        """The at-risk customers of each owner rep, most value at risk first: the follow-up list."""
        if self.pipeline is None:
            return _empty()
        L = self.L
        top_n = self.settings.report.top_n
        days = self.feature_settings.lookback_days
        head = H.heading(L.t("churn_follow_up"), 2, L.t("churn_follow_up_note", threshold=L.ratio(self.settings.churn.at_risk_threshold),
                                                         days=days, top=top_n), anchor="follow-up")
        df = self.risky
        if df.empty:
            return head + H.note(L.t("churn_no_one_at_risk"))
        df = df.assign(owner_rep_id=df["owner_rep_id"].fillna(L.t("churn_no_owner")))
        summary = (
            df.groupby("owner_rep_id", dropna=False)
            .agg(rep_name=("rep_name", "first"), at_risk=("customer_id", "size"), value_at_risk=("value_at_risk", "sum"))
            .reset_index()
            .sort_values(["value_at_risk", "owner_rep_id"], ascending=[False, True], kind="mergesort")
        )
        block = head
        if len(summary) > 1:
            block = block + H.view(summary.rename(columns={"owner_rep_id": "owner"}), L, ["owner", "rep_name", "at_risk", "value_at_risk"], top=top_n)
        labels = {"risk": L.label("churn_probability"), "revenue_lookback": L.t("churn_revenue_days", days=days)}
        formats = {"risk": lambda v: risk_text(v, L), "top_reasons": lambda v: reasons_text(v, L, self.untranslated_reasons)}
        fold = len(summary) > 1
        if fold:
            block = block + H.note(L.t("churn_fold_note"))
        for rep_id in summary["owner_rep_id"]:
            part = df[df["owner_rep_id"] == rep_id]
            title = L.t("churn_rep_heading", rep=self.named(rep_id, part["rep_name"].dropna().iloc[0] if part["rep_name"].notna().any() else None),
                        n=L.count(len(part)), value=L.money(part["value_at_risk"].sum()))
            table = H.view(part, L, ["customer_id", "customer_name", "risk", "value_at_risk", "revenue_lookback", "top_reasons"], top=top_n,
                           labels=labels, formats=formats)
            table = H.Block(f'<div class="salesml-churn-list">{table.html}</div>', text=table.text)
            block = block + (_fold(title, table) if fold else H.heading(title, 3) + table)
        return block

    def notes(self) -> H.Block:
        """How the figures are made, and the labels this page lacked in its language (none)."""
        L = self.L
        record = H.figures({"lang": L.code, "untranslated": sorted(L.missing), "reasons_untranslated": sorted(self.untranslated_reasons)[:20]})
        if self.pipeline is None:
            return record
        m = self.manifest
        s = self.feature_settings
        extra = [*m.get("notes", [])]
        if L.zh:
            cut = m["cutoffs"]
            label = L.t("churn_label_def", lookback=s.lookback_days, horizon=s.horizon_days)
            refit = L.t("churn_refit", train=len(cut["train"]), refit=len(cut["refit"]), first=L.date(_day(cut["refit"][0])),
                        last=L.date(_day(cut["refit"][-1])), end=L.date(_day(m["data_window"]["last"])),
                        scorer=self.scorer_name(self.scorer, short=True))
        else:
            label, refit = m["label"]["definition"], m["refit"]
        groups = [group_name(g, L) for g in m.get("feature_groups", {})]
        text = L.t("churn_how_made_text", label=label, refit=refit, as_of=L.date(_day(self.as_of)), groups=L.t("join_comma").join(groups))
        if extra:
            text += L.t("churn_model_notes", notes="; ".join(extra))
        text += L.t("churn_generated", file=self.settings.warehouse_path.name)
        return H.heading(L.t("churn_how_made"), 3, anchor="notes") + H.note(text) + record


#: the kinds of reason that have words
_REASON_KEYS = {f"churn_reason_{g}" for g in ("rfm", "trend", "gaps", "pace", "tenure", "returns", "discount", "breadth", "tickets",
                                               "profile", "bgnbd", "owners", "calendar", "other")}

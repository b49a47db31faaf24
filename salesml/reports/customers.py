"""The customer segments report: what ``notebooks/customer_segments.ipynb`` shows.

RFM segments as of a day (sizes and value, the R x F heat map), the customers to win back,
k-means clusters and their profiles, the migration between segments since
``[segments] migration_months`` earlier, and the distribution of customer lifetime value.
The page opens with a summary written from those figures and the early warnings, in English
or Chinese (:class:`salesml.reports.lang.Lang`: ``lang`` parameter, else ``[report] lang``).

Summary (each sentence links to its section): how many customers bought how much and which
segments hold the revenue; what the ``[segments] win_back`` segments hold; who moved since the
comparison date (customers who slipped from a valuable segment into a risk one, those who moved
up); where the lifetime value is (the top 10% of customers, the segment holding most); and the
warnings in a sentence. Actions: call the customers who slipped, win back the largest
win-back segment (each with the owner holding most of them, where the owner is in the scope),
ask the big customers who went silent, record customers on walk-in sales.

Early warnings (``[warnings] seg_*``), each with its evidence:

* **slipped**: customers in a *valuable* segment on the comparison date (every (R, FM) cell of
  the segment has R >= ``seg_valuable_r`` and FM >= ``seg_valuable_fm``: Champions, Loyal by
  default) who are in a *risk* segment now (every cell R <= ``seg_risk_r``: Can't lose, At risk,
  Hibernating, Lost). Segment names are data (``[segments] rules``): which ones are valuable or
  at risk is read from the map, never from the names.
* **went silent**: big customers (M score >= ``seg_big_m_score``, at least
  ``seg_silent_min_orders`` purchases) with no purchase for ``seg_silent_factor`` times their
  usual interval and at least ``seg_silent_min_days`` days, who had bought within that on the
  comparison date (they stopped since).
* **anonymous revenue**: walk-in / guest sales above ``seg_anonymous_pct`` % of the scope's
  revenue are in no segment.

Not checked here: churn risk (the churn model's scores are the churn risk report's).

Segment names are shown as configured; on a Chinese page a name with a ``[local_names.segment]``
entry is shown by that name. Every word around them is in the page's language.

Scope: a region / team / rep report holds the customers whose sales are credited to that
scope, measured on those sales only (see :mod:`salesml.customers.rfm`); every query is
filtered in the warehouse, so nothing of another rep's customers is read, charted or
rendered. Owners are shown only where the owner is in the scope (a rep's page names nobody
else). The lifetime-value models are fitted on the whole company (their parameters are
aggregates) and score the scope's customers on the scope's purchases
(:func:`salesml.customers.clv.customer_clv`).

Anonymous (walk-in / guest) sales are nobody's: they are in no segment, cluster, migration or
lifetime value, and the report says how many order lines and how much revenue of the scope
that leaves out (:func:`salesml.customers.rfm.left_out`), at the as-of date and at the
migration's first date.
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from salesml import warehouse
from salesml.accounting import performance as perf
from salesml.anonymous import LeftOut
from salesml.config import SegmentSettings, WarningsSettings, notebook_settings
from salesml.customers.clv import customer_clv
from salesml.customers.clv import fit as fit_clv
from salesml.customers.rfm import default_as_of, left_out, parse_as_of, rfm, score_matrix
from salesml.customers.segments import (
    GONE,
    NEW,
    ClusterSegmenter,
    cluster_profiles,
    migration_matrix,
    segment_summary,
)
from salesml.reports import html as H
from salesml.reports import summary as S
from salesml.reports.lang import Lang, add_columns, add_text
from salesml.reports.performance import warehouse_connect
from salesml.scope import Scope, parse_scope

#: CLV columns shown per customer when the lifetime-value model is available
_CLV_COLUMNS = ["customer_id", "clv", "p_alive", "expected_purchases", "expected_spend"]

#: the share of customers (by lifetime value) whose share of the value the summary states
TOP_SHARE = 10

# the words salesml.customers.segments writes (cluster labels, the migration's rows and columns):
# translated here, not through the shared catalogue, so no other report's words can clash
_WORDS: dict[str, tuple[str, str]] = {
    NEW: (NEW, "（新客户）"),
    GONE: (GONE, "（已不在本范围）"),
    "recent": ("recent", "近期购买"),
    "lapsing": ("lapsing", "渐少购买"),
    "lapsed": ("lapsed", "久未购买"),
    "frequent": ("frequent", "高频"),
    "occasional": ("occasional", "偶尔"),
    "infrequent": ("infrequent", "低频"),
    "high spend": ("high spend", "高消费"),
    "mid spend": ("mid spend", "中等消费"),
    "low spend": ("low spend", "低消费"),
}

#: column headings break between words, never inside one ("Custome / r"): a table wider than
#: the page scrolls sideways in its box instead

#: the lifetime-value module's note on a refitted BG/NBD model
_REFIT = re.compile(r"the BG/NBD fit ended on the boundary \((.*)\); refitted with penalizer (\S+) \((.*)\)")

# columns only this report shows (prefixed so that no other report's labels can clash)
add_columns(
    {
        "cs_recency_days": ("days", "Days since last purchase", "距上次购买天数"),
        "cs_recency_median": ("days", "Median days since last purchase", "距上次购买天数中位数"),
        "cs_recency_mean": ("days", "Mean days since last purchase", "距上次购买天数均值"),
        "cs_orders_median": ("number", "Median orders", "订单数中位数"),
        "cs_orders_mean": ("number", "Mean orders", "订单数均值"),
        "cs_revenue_median": ("money", "Median revenue", "净收入中位数"),
        "cs_revenue_mean": ("money", "Mean revenue", "净收入均值"),
        "cs_usual_days": ("days", "Usual days between purchases", "通常购买间隔（天）"),
        "cs_p_alive": ("ratio", "Chance still active", "仍活跃概率"),
        "cs_p_alive_mean": ("ratio", "Mean chance still active", "平均仍活跃概率"),
        "cs_clv_total": ("money", "Total lifetime value", "终身价值合计"),
        "cs_clv_share": ("pct", "Share of lifetime value", "终身价值占比"),
        "cs_clv_mean": ("money", "Mean lifetime value", "终身价值均值"),
        "cs_clv_median": ("money", "Median lifetime value", "终身价值中位数"),
        "cs_cluster": ("count", "Cluster", "聚类"),
        "cs_cluster_label": ("text", "Description", "描述"),
        "cs_from": ("text", "Segment then", "原分群"),
        "cs_to": ("text", "Segment now", "现分群"),
    }
)

add_text(
    {
        # title
        "cs_title": ("Customer segments as of {date}", "客户分群（截至 {date}）"),
        "cs_scope_note": (" Customers whose sales are credited to this scope, measured on those sales only.",
                          "客户为业绩计入本范围的客户，只按这些销售计算。"),
        "cs_title_note": ("{who}.{scope} Amounts{currency}, net of returns.", "{who}。{scope}金额{currency}，已扣除退货。"),
        "cs_in_currency": (" in {code}", "单位 {code}"),
        # anonymous sales
        "cs_anon_note": (
            "Walk-in / guest sales have no customer: {n} anonymous order lines in {orders} ({amount}) are not in the "
            "segments, clusters, migration or lifetime values (sales up to {date}{scoped}; they do count in revenue and performance).",
            "散客 / 访客销售没有客户：{n} 条匿名订单行（{orders}，{amount}）不计入分群、聚类、迁移和客户终身价值"
            "（截至 {date} 的销售{scoped}；它们计入收入和业绩）。",
        ),
        "cs_anon_note_one": (
            "Walk-in / guest sales have no customer: 1 anonymous order line in {orders} ({amount}) is not in the "
            "segments, clusters, migration or lifetime values (sales up to {date}{scoped}; they do count in revenue and performance).",
            "散客 / 访客销售没有客户：1 条匿名订单行（{orders}，{amount}）不计入分群、聚类、迁移和客户终身价值"
            "（截至 {date} 的销售{scoped}；它们计入收入和业绩）。",
        ),
        "cs_orders": ("{n} orders", "{n} 个订单"),
        "cs_orders_one": ("1 order", "1 个订单"),
        "cs_amount_share": ("{amount}, {pct} of revenue", "{amount}，占收入的 {pct}"),
        "cs_credited": (" credited to this scope", "中计入本范围的部分"),
        "cs_anon_on": ("on {date}: {n} anonymous order lines ({amount})", "{date}：{n} 条匿名订单行（{amount}）"),
        "cs_anon_on_one": ("on {date}: 1 anonymous order line ({amount})", "{date}：1 条匿名订单行（{amount}）"),
        "cs_anon_migration": (" Not in either table (walk-in / guest sales) {parts}.", "两张表都不含散客 / 访客销售：{parts}。"),
        # segments
        "cs_segments": ("Segments", "客户分群"),
        "cs_segments_note": (
            "RFM segments from the [segments] map of salesml.toml: recency (R), frequency (F) and net revenue (M) "
            "scored 1-5 among the whole company's customers, higher = better.",
            "按 salesml.toml 中 [segments] 的规则分群：最近购买（R）、购买频次（F）和净收入（M）在全公司客户中评 1-5 分，分数越高越好。",
        ),
        "cs_no_customers_by": ("No customers with a purchase by {date} in this scope.", "截至 {date}，本范围没有有购买的客户。"),
        "cs_card_customers": ("Customers", "客户数"),
        "cs_with_purchase_by": ("with a purchase by {date}", "截至 {date} 有购买"),
        "cs_card_revenue": ("Net revenue", "净收入"),
        "cs_all_purchases": ("all their purchases", "全部购买"),
        "cs_card_recency": ("Median days since last purchase", "距上次购买天数中位数"),
        "cs_tenure": ("median customer for {days} days", "客户时长中位数 {days} 天"),
        "cs_card_orders": ("Median orders", "订单数中位数"),
        "cs_median_spend": ("median spend {value}", "消费中位数 {value}"),
        "cs_sizes_chart": ("Customers and share of revenue by segment", "各分群的客户数与收入占比"),
        "cs_revenue_pct": ("Share of revenue (%)", "收入占比（%）"),
        # heat map
        "cs_heat": ("R x F heat map", "R × F 热力图"),
        "cs_heat_note": (
            "Customers and their net revenue by recency score (rows, 5 = most recent) and frequency score (columns, 5 = most orders).",
            "按最近购买得分（行，5 = 最近）和购买频次得分（列，5 = 订单最多）统计的客户数和净收入。",
        ),
        "cs_no_customers": ("No customers.", "没有客户。"),
        # win back
        "cs_win_back": ("Customers to win back", "需要挽回的客户"),
        "cs_win_back_note": (
            "The most valuable customers in {segments} (by net revenue; [segments] win_back in salesml.toml).",
            "{segments} 中最有价值的客户（按净收入；见 salesml.toml 的 [segments] win_back）。",
        ),
        "cs_nobody": ("Nobody in these segments.", "这些分群中没有客户。"),
        # clusters
        "cs_clusters": ("Clusters", "聚类"),
        "cs_clusters_note": (
            "k-means on log1p and standardised recency, frequency and net revenue of the whole company's customers; "
            "the number of clusters ({low}-{high}) with the best silhouette wins.",
            "对全公司客户的最近购买、购买频次和净收入取 log1p 并标准化后做 k-means；在 {low}-{high} 个聚类中取轮廓系数最好者。",
        ),
        "cs_clusters_scope": (" This scope's customers are shown in the cluster nearest to them.", "本范围的客户归入离其最近的聚类。"),
        "cs_no_clusters": ("No clusters: {why}.", "无法聚类：{why}。"),
        "cs_clusters_found": (
            "{k} clusters; silhouette {tried}. Labels describe the mean R, F and M scores of the customers shown.",
            "{k} 个聚类；轮廓系数 {tried}。描述依据所示客户的平均 R、F、M 得分。",
        ),
        "cs_clusters_chart": ("Clusters: median days since last purchase vs median orders (size = customers)",
                              "聚类：距上次购买天数中位数与订单数中位数（气泡大小 = 客户数）"),
        "cs_clusters_hover": (
            "%{text}<br>customers %{customdata[0]:,}<br>median days since last purchase %{x:,.0f}"
            "<br>median orders %{y:g}<br>median revenue %{customdata[1]:,.0f}<extra></extra>",
            "%{text}<br>客户数 %{customdata[0]:,}<br>距上次购买天数中位数 %{x:,.0f}"
            "<br>订单数中位数 %{y:g}<br>净收入中位数 %{customdata[1]:,.0f}<extra></extra>",
        ),
        # migration
        "cs_migration": ("Migration since {date}", "自 {date} 以来的分群迁移"),
        "cs_migration_note": (
            "Customers by segment on {before} (rows) and on {as_of} (columns); {new} = first purchase after {before}{gone}.",
            "{before}（行）和 {as_of}（列）各分群的客户数；{new} = {before} 之后首次购买{gone}。",
        ),
        "cs_gone": ("; {gone} = no longer a customer of this scope", "；{gone} = 已不是本范围的客户"),
        "cs_no_customers_either": ("No customers at either date.", "两个日期都没有客户。"),
        "cs_stayed": ("{stayed} of {before} customers{share} stayed in their segment; {new} new customers.",
                      "{before} 个客户中 {stayed} 个{share}留在原分群；新客户 {new} 个。"),
        "cs_share_paren": (" ({pct})", "（{pct}）"),
        "cs_segment_on": ("Segment on {date}", "{date} 的分群"),
        "cs_from_to": ("from \\ to", "从 \\ 到"),
        "cs_migration_hover": ("from %{y} to %{x}: %{z}<extra></extra>", "从 %{y} 到 %{x}：%{z}<extra></extra>"),
        "cs_migration_chart": ("Customers from segment to segment", "客户在分群之间的迁移"),
        # lifetime value
        "cs_clv": ("Customer lifetime value", "客户终身价值"),
        "cs_clv_note": (
            "BG/NBD purchases and Gamma-Gamma spend ([clv] in salesml.toml): discounted value of the next {days} days.",
            "BG/NBD 预测购买次数、Gamma-Gamma 预测消费金额（salesml.toml 的 [clv]）：未来 {days} 天的折现价值。",
        ),
        "cs_clv_unavailable": ("CLV model not available: {why}", "客户终身价值模型不可用：{why}"),
        "cs_no_clv": ("No customers with a purchase: no lifetime values.", "没有有购买的客户：没有客户终身价值。"),
        "cs_no_value": ("No customers to value.", "没有可估值的客户。"),
        "cs_refit": ("The BG/NBD fit ended on the boundary ({why}); refitted with penalizer {p} ({setting}).",
                     "BG/NBD 拟合落在参数边界上（{why}），已用惩罚系数 {p} 重新拟合（{setting}）。"),
        "cs_clv_chart": ("Where the lifetime value is", "客户终身价值的集中度"),
        "cs_curve_x": ("Customers, highest value first (% of customers)", "客户（价值高者在前，占客户的 %）"),
        "cs_curve_y": ("Share of the total lifetime value", "占终身价值合计的比例"),
        "cs_curve_hover": ("top %{x:.0f}% of customers: %{y:.1f}% of the value<extra></extra>",
                           "前 %{x:.0f}% 的客户：占价值的 %{y:.1f}%<extra></extra>"),
        "cs_curve_mark": ("top {top}%: {pct}", "前 {top}%：{pct}"),
        "cs_clv_col": ("Lifetime value", "终身价值"),
        "cs_even": ("Evenly spread", "平均分布"),
        "cs_card_clv_total": ("Total CLV", "终身价值合计"),
        "cs_n_customers": ("{n} customers", "{n} 个客户"),
        "cs_card_clv_median": ("Median CLV", "终身价值中位数"),
        "cs_mean_of": ("mean {value}", "均值 {value}"),
        "cs_card_top": ("Top {pct}% of customers", "前 {pct}% 的客户"),
        "cs_of_total_clv": ("of the total CLV", "占终身价值合计"),
        # notes
        "cs_how_made": ("How these figures are made", "数字的计算方法"),
        "cs_fm_mean": ("the mean of F and M, rounded half up", "F 与 M 的均值，四舍五入"),
        "cs_fm_f": ("F", "F"),
        "cs_how_made_text": (
            "As of {date}: a purchase is an order whose ledger entries (sales, returns on the order they reverse, "
            "corrections) known by that day add up to more than zero. Recency = days since the last purchase, "
            "frequency = purchases, monetary = net revenue, returns netted{scoped}. Anonymous order lines (no customer, "
            "or a source's anonymous_customer id such as a walk-in / guest code) belong to nobody and are left out of every "
            "customer figure here. Scores 1-5 are quintiles of the ranks among the whole company's customers (tied customers "
            "share a score). The segment is the first rule of the [segments] map that holds the R score and the FM score "
            "({fm}). Generated by salesml from {file}.",
            "截至 {date}：购买指当日已知的台账分录（销售、冲回原订单的退货、更正）合计大于零的订单。最近购买 = 距上次购买的天数，"
            "频次 = 购买次数，金额 = 扣除退货后的净收入{scoped}。匿名订单行（没有客户，或来源的 anonymous_customer 编码，如散客 / 访客）"
            "不属于任何客户，不计入本页任何客户数字。1-5 分为在全公司客户中排名的五分位（并列客户同分）。分群取 [segments] 规则中"
            "第一条同时满足 R 分和 FM 分（{fm}）的规则。由 salesml 根据 {file} 生成。",
        ),
        "cs_how_scoped": (", of the sales credited to this scope", "，只计入本范围的销售"),
        # summary
        "cs_s_sizes": ("{n} customers bought {revenue} by {date}; {parts}", "截至 {date}，{n} 个客户共购买 {revenue}；{parts}"),
        "cs_s_sizes_one": ("1 customer bought {revenue} by {date}; {parts}", "截至 {date}，1 个客户共购买 {revenue}；{parts}"),
        "cs_s_seg_share": ("{segment} are {c} of customers and {r} of revenue", "{segment} 占客户的 {c}、收入的 {r}"),
        "cs_s_seg_share_next": ("{segment} {c} and {r}", "{segment} 占 {c} 和 {r}"),
        "cs_s_win_back": ("{segments} hold {n} customers ({c}) who bought {revenue} ({r} of revenue)",
                          "{segments} 共有 {n} 个客户（占 {c}），累计购买 {revenue}（占收入的 {r}）"),
        "cs_s_win_back_one": ("{segments} hold 1 customer ({c}) who bought {revenue} ({r} of revenue)",
                              "{segments} 有 1 个客户（占 {c}），累计购买 {revenue}（占收入的 {r}）"),
        "cs_s_slipped": ("Since {date}, {n} customers slipped from {from_} into {to} ({value} bought to date)",
                         "自 {date} 以来，{n} 个客户从 {from_} 滑落到 {to}（累计购买 {value}）"),
        "cs_s_slipped_one": ("Since {date}, 1 customer slipped from {from_} into {to} ({value} bought to date)",
                             "自 {date} 以来，1 个客户从 {from_} 滑落到 {to}（累计购买 {value}）"),
        "cs_s_no_slip": ("Since {date}, no customer slipped from {from_} into {to}", "自 {date} 以来，没有客户从 {from_} 滑落到 {to}"),
        "cs_s_moved_up": ("{n} moved up into {to}", "{n} 个客户升入 {to}"),
        "cs_s_stayed": ("{pct} stayed in their segment", "{pct} 的客户留在原分群"),
        "cs_s_migration": ("Since {date}, {stayed} of {before} customers ({pct}) stayed in their segment and {new} are new",
                           "自 {date} 以来，{before} 个客户中 {stayed} 个（{pct}）留在原分群，新客户 {new} 个"),
        "cs_s_clv": ("The top {top}% of customers ({n}) hold {pct} of the {total} expected over the next {days} days",
                     "前 {top}% 的客户（{n} 个）占未来 {days} 天预期价值 {total} 的 {pct}"),
        "cs_s_clv_seg": ("{segment} hold {pct} of it", "{segment} 占其中的 {pct}"),
        "cs_s_silent": ("{n} big customers went silent since {date} ({value} bought to date)",
                        "自 {date} 以来 {n} 个大客户停止购买（累计购买 {value}）"),
        "cs_s_silent_one": ("1 big customer went silent since {date} ({value} bought to date)",
                            "自 {date} 以来 1 个大客户停止购买（累计购买 {value}）"),
        "cs_s_anonymous": ("walk-in / guest sales of {value} ({pct} of revenue) are in no segment",
                           "散客 / 访客销售 {value}（占收入的 {pct}）不在任何分群中"),
        "cs_a_slipped": ("Call the {n} customers who slipped from {from_}, highest value first ({value} bought to date)",
                         "联系从 {from_} 滑落的 {n} 个客户，价值高者优先（累计购买 {value}）"),
        "cs_a_slipped_one": ("Call the customer who slipped from {from_} ({value} bought to date)",
                             "联系从 {from_} 滑落的客户（累计购买 {value}）"),
        "cs_a_win_back": ("Win back the {n} {segment} customers who bought {value}, the most valuable first (list under Customers to win back)",
                          "挽回 {n} 个 {segment} 客户（累计购买 {value}），价值高者优先（名单见“需要挽回的客户”）"),
        "cs_a_win_back_one": ("Win back the {segment} customer who bought {value} (under Customers to win back)",
                              "挽回 {segment} 中的客户（累计购买 {value}，见“需要挽回的客户”）"),
        "cs_a_owner": ("; {k} of them belong to {owner}", "，其中 {k} 个属于 {owner}"),
        "cs_a_owner_most": ("; owned by {owners} reps, {owner} with the most ({k})", "，分属 {owners} 位销售代表，{owner} 名下最多（{k} 个）"),
        "cs_a_owner_it": ("; the owner is {owner}", "，负责人为 {owner}"),
        "cs_a_owner_all": ("; all belong to {owner}", "，都属于 {owner}"),
        "cs_a_silent": ("Ask the {n} big customers who went silent why they stopped, starting with {top} ({value})",
                        "询问 {n} 个停止购买的大客户原因，从 {top}（{value}）开始"),
        "cs_a_silent_one": ("Ask {top} ({value}) why they stopped buying", "询问 {top}（{value}）为何停止购买"),
        "cs_a_anonymous": ("Record the customer on walk-in / guest sales: {pct} of revenue is in no segment",
                           "为散客 / 访客销售登记客户：{pct} 的收入不在任何分群中"),
        "cs_or": (" or ", " 或 "),
        # warnings
        "cs_w_slipped": ("{n} customers slipped from {from_} into {to} since {date}; they bought {value} to date",
                         "自 {date} 以来 {n} 个客户从 {from_} 滑落到 {to}，累计购买 {value}"),
        "cs_w_slipped_one": ("1 customer slipped from {from_} into {to} since {date}; it bought {value} to date",
                             "自 {date} 以来 1 个客户从 {from_} 滑落到 {to}，累计购买 {value}"),
        "cs_w_slip_item": ("{who} ({from_} → {to}, {value}, last purchase {last})", "{who}（{from_} → {to}，{value}，最近购买 {last}）"),
        "cs_w_largest": ("largest: {items}", "最大的：{items}"),
        "cs_w_silent": (
            "{n} big customers (M score ≥ {m}) went silent since {date}: no purchase for {factor}× their usual interval "
            "and at least {days} days; they bought {value} to date",
            "自 {date} 以来 {n} 个大客户（M 得分 ≥ {m}）停止购买：超过通常购买间隔的 {factor} 倍且至少 {days} 天没有购买，累计购买 {value}",
        ),
        "cs_w_silent_one": (
            "1 big customer (M score ≥ {m}) went silent since {date}: no purchase for {factor}× its usual interval "
            "and at least {days} days; it bought {value} to date",
            "自 {date} 以来 1 个大客户（M 得分 ≥ {m}）停止购买：超过通常购买间隔的 {factor} 倍且至少 {days} 天没有购买，累计购买 {value}",
        ),
        "cs_w_silent_item": ("{who} (last purchase {last}, {days} days ago, usually every {usual} days, {value})",
                             "{who}（最近购买 {last}，{days} 天前，通常每 {usual} 天一次，{value}）"),
        "cs_w_anonymous": (
            "{pct} of revenue ({value}, {lines} order lines) is walk-in / guest sales with no customer: it is in no segment, "
            "cluster or lifetime value",
            "{pct} 的收入（{value}，{lines} 条订单行）来自没有客户的散客 / 访客销售：不在任何分群、聚类或客户终身价值中",
        ),
        "cs_w_anonymous_ev": ("sales up to {date}; {before_pct} on {before}; a warning above {threshold}",
                              "截至 {date} 的销售；{before} 时为 {before_pct}；超过 {threshold} 时预警"),
        "cs_no_warnings": (
            "No warnings as of {date}: no valuable customer slipped into a risk segment, no big customer went silent, "
            "and walk-in / guest sales are below {pct} of revenue.",
            "截至 {date} 没有预警：没有重要客户滑落到风险分群，没有大客户停止购买，散客 / 访客销售低于收入的 {pct}。",
        ),
        "cs_skip_map": (
            "customers who slipped (no segment of the [segments] map has only cells with R ≥ {r} and FM ≥ {fm}, or none only cells with R ≤ {risk})",
            "滑落客户（[segments] 规则中没有全部格子都是 R ≥ {r} 且 FM ≥ {fm} 的分群，或没有全部格子都是 R ≤ {risk} 的分群）",
        ),
        "cs_skip_before": ("customers who slipped (no customers on {date})", "滑落客户（{date} 没有客户）"),
        "cs_skip_churn": ("churn risk (the churn model's scores are in the churn risk report)", "流失风险（流失模型的评分见流失风险报告）"),
        "cs_slipped_top": ("Customers who slipped, highest value first", "滑落客户（价值高者在前）"),
        "cs_silent_top": ("Big customers who went silent, highest value first", "停止购买的大客户（价值高者在前）"),
    }
)


def months_before(day: date, months: int) -> date:
    """The same day ``months`` earlier; a month's last day maps to that month's last day."""
    ts = pd.Timestamp(day)
    earlier = ts - pd.DateOffset(months=months)
    if ts.is_month_end:
        earlier = earlier + pd.offsets.MonthEnd(0)
    return earlier.date()


def segment_groups(seg: SegmentSettings, ws: WarningsSettings) -> tuple[list[str], list[str]]:
    """The valuable and the risk segments of the map, in the order of its rules: a segment is
    valuable when every (R, FM) cell it wins has R >= ``seg_valuable_r`` and FM >=
    ``seg_valuable_fm``, at risk when every cell has R <= ``seg_risk_r``."""
    cells: dict[str, list[tuple[int, int]]] = {}
    for (r, fm), name in seg.score_grid().items():
        cells.setdefault(name, []).append((r, fm))
    names = [n for n in seg.segment_names() if n in cells]
    valuable = [n for n in names if all(r >= ws.seg_valuable_r and fm >= ws.seg_valuable_fm for r, fm in cells[n])]
    risk = [n for n in names if all(r <= ws.seg_risk_r for r, _ in cells[n])]
    return valuable, risk


def slipped_customers(before: pd.DataFrame, now: pd.DataFrame, valuable: list[str], risk: list[str]) -> pd.DataFrame:
    """Customers in a valuable segment in ``before`` and in a risk segment in ``now`` (RFM
    tables): their row of ``now`` with ``from_segment``; highest net revenue first."""
    then = before[["customer_id", "segment"]].rename(columns={"segment": "from_segment"})
    df = now.merge(then, on="customer_id", how="inner")
    df = df[df["from_segment"].isin(valuable) & df["segment"].isin(risk)]
    return df.sort_values(["monetary", "customer_id"], ascending=[False, True]).reset_index(drop=True)


def silent_customers(table: pd.DataFrame, days_since_before: int, ws: WarningsSettings) -> pd.DataFrame:
    """Big customers who went silent within the last ``days_since_before`` days (see the
    module docs): their rows with ``usual_days`` (mean days between purchases); highest net
    revenue first."""
    t = table[(table["m_score"] >= ws.seg_big_m_score) & (table["frequency"] >= max(2, ws.seg_silent_min_orders))]
    usual = (t["tenure_days"] - t["recency_days"]) / (t["frequency"] - 1)
    line = (usual * ws.seg_silent_factor).clip(lower=ws.seg_silent_min_days)
    hit = (t["recency_days"] >= line) & (t["recency_days"] - days_since_before < line)
    out = t[hit].assign(usual_days=usual[hit])
    return out.sort_values(["monetary", "customer_id"], ascending=[False, True]).reset_index(drop=True)


class CustomerSegmentsReport:
    """Segments, clusters, migration and lifetime value of one scope's customers as of a day."""

    def __init__(self, as_of: str = "", scope: str = "company", config_path: str = "", warehouse: str = "", lang: str = ""):
        self.settings = notebook_settings(config_path, warehouse)
        self.scope: Scope = parse_scope(scope)
        seg = self.settings.segments
        with warehouse_connect(self.settings) as con:
            self.as_of = parse_as_of(as_of) if as_of else default_as_of(con)
            self.before_date = months_before(self.as_of, seg.migration_months)
            self.currency = perf.main_currency(con)
            self.table = rfm(con, self.as_of, self.scope, self.settings)
            self.before = rfm(con, self.before_date, self.scope, self.settings)
            self.anonymous: LeftOut = left_out(con, self.as_of, self.scope, self.settings)
            self.anonymous_before: LeftOut = left_out(con, self.before_date, self.scope, self.settings)
            self.names = self._names(con, self.table["customer_id"].tolist())
            self.owners = self._owners(con, self.table["customer_id"].tolist())
            self.rep_name = self._rep_name(con)
            self.clv, self.clv_error, self.clv_refit = self._load_clv(con)
            self.segmenter, self.cluster_error = self._fit_clusters(con)
        self.L = Lang(lang or self.settings.report.lang, self.currency, self.settings.report.zh_wan_units)
        self.local_segments = self.settings.local_names.get("segment", {})
        self.local_regions = self.settings.local_names.get("region", {})
        #: one row per segment of the map: size, share and value
        self.segments = segment_summary(self.table, seg)
        self.migration = migration_matrix(self.before, self.table, seg.segment_names())
        self.profiles = pd.DataFrame()
        if self.segmenter is not None and len(self.table):
            self.profiles = cluster_profiles(self.table, self.segmenter.predict(self.table), seg)
        ws = self.settings.warnings
        self.valuable, self.risk = segment_groups(seg, ws)
        self.slipped = self._with_owners(slipped_customers(self.before, self.table, self.valuable, self.risk))
        days = (pd.Timestamp(self.as_of) - pd.Timestamp(self.before_date)).days
        self.silent = self._with_owners(silent_customers(self.table, days, ws))

    # ------------------------------------------------------------------ loading

    @staticmethod
    def _names(con, ids: list[str]) -> dict[str, str]:
        """Names of these customers only (nothing of anyone else is read)."""
        if not ids or not warehouse.table_exists(con, "customers"):
            return {}
        rows = con.execute(
            "SELECT customer_id, name FROM customers WHERE customer_id IN (SELECT unnest($ids)) AND name IS NOT NULL",
            {"ids": ids},
        ).fetchall()
        return {str(k): str(v) for k, v in rows}

    def _owners(self, con, ids: list[str]) -> pd.DataFrame:
        """The owner rep (and name) of these customers, only where the owner is in the scope
        (by the owner's latest team and region): a page names no rep outside its scope."""
        empty = pd.DataFrame({"customer_id": pd.Series(dtype=object), "owner": pd.Series(dtype=object),
                              "owner_name": pd.Series(dtype=object)})
        if not ids or not (warehouse.table_exists(con, "customers") and warehouse.table_exists(con, "reps")):
            return empty
        level, value = self.scope.level, self.scope.value
        cond = {"company": "TRUE", "region": "r.region = $v", "team": "r.team = $v", "rep": "c.owner_rep_id = $v"}[level]
        params = {"ids": ids, **({"v": value} if level != "company" else {})}
        return con.execute(
            f"""
            WITH r AS (SELECT rep_id, arg_max(name, valid_from) AS owner_name, arg_max(team, valid_from) AS team,
                              arg_max(region, valid_from) AS region FROM reps GROUP BY rep_id)
            SELECT c.customer_id, c.owner_rep_id AS owner, r.owner_name
            FROM customers c JOIN r ON r.rep_id = c.owner_rep_id
            WHERE c.customer_id IN (SELECT unnest($ids)) AND {cond}
            """,
            params,
        ).df()

    def _with_owners(self, df: pd.DataFrame) -> pd.DataFrame:
        """``df`` with the customers' names and owners (``owner``, ``owner_name``; the owner in
        the scope, else none)."""
        return df.assign(name=df["customer_id"].map(self.names)).merge(self.owners, on="customer_id", how="left")

    @staticmethod
    def owner_text(df: pd.DataFrame) -> pd.Series:
        """"R017 Name" per row (blank where the owner is not in the scope)."""
        name = df["owner_name"].fillna("").astype(str)
        return (df["owner"].fillna("").astype(str) + " " + name).str.strip()

    def _fit_clusters(self, con) -> tuple[ClusterSegmenter | None, str]:
        """Clusters of the whole company's customers (the scope's customers are then assigned
        to them): a handful of a rep's customers is too few to cluster, and a cluster means
        the same in every report. Only the fitted model (aggregates) is kept."""
        seg = self.settings.segments
        company = self.table if self.scope.level == "company" else rfm(con, self.as_of, None, self.settings)
        try:
            segmenter = ClusterSegmenter.from_settings(seg).fit(company)
        except ValueError as e:
            return None, str(e)
        del segmenter.labels_  # one label per company customer: not needed here
        return segmenter, ""

    def _rep_name(self, con) -> str:
        if self.scope.level != "rep":
            return ""
        rows = con.execute("SELECT arg_max(name, valid_from) FROM reps WHERE rep_id = ?", [self.scope.value]).fetchall()
        return str(rows[0][0]) if rows and rows[0][0] is not None else ""

    def _load_clv(self, con) -> tuple[pd.DataFrame | None, str, str]:
        """Per-customer CLV from :mod:`salesml.customers.clv`; why there is none ("" when
        there is); the note of a refitted model ("" when none)."""
        if self.table.empty:
            return None, "", ""
        try:
            bg, gg, _ = fit_clv(con, self.as_of, self.settings)  # on the whole company's customers
            df = customer_clv(con, self.as_of, settings=self.settings, scope=self.scope, models=(bg, gg))
        except Exception as e:  # a model that cannot be fitted must not sink the report
            return None, str(e) or type(e).__name__, ""
        # a fit on the model's boundary, refitted with a penalizer, is said under the figures
        return df, "", bg.refit_ or ""

    # ------------------------------------------------------------------ helpers

    def seg(self, name) -> str:
        """A segment as the reader sees it: the configured name (its [local_names.segment] name
        on a Chinese page), salesml's own (new) / (gone) in the page's language."""
        if name in _WORDS:
            return _WORDS[name][1 if self.L.zh else 0]
        if self.L.zh and name in self.local_segments:
            return str(self.local_segments[name])
        return str(name)

    def segs(self, names, word: str = "cs_or") -> str:
        """Segments in a sentence: "Champions or Loyal" / "Champions、Loyal"."""
        items = [self.seg(n) for n in names]
        if len(items) <= 1 or self.L.zh:
            return "、".join(items)
        return ", ".join(items[:-1]) + self.L.t(word) + items[-1]

    def cluster_label(self, label: str) -> str:
        if not self.L.zh:
            return str(label)
        return "，".join(_WORDS.get(w, (w, w))[1] for w in str(label).split(", "))

    def region_label(self, region: str) -> str:
        local = self.local_regions.get(region)
        return f"{region} · {local}" if local else str(region)

    def customer(self, row) -> str:
        """"C000123 Name" (the scope's own customers only)."""
        name = row.get("name")
        return f"{row['customer_id']} {name}" if pd.notna(name) and name else str(row["customer_id"])

    def money(self, v) -> str:
        return self.L.money(v)

    def exact_money(self, v) -> str:
        return self.L.cents(v)

    @property
    def who(self) -> str:
        sc = self.scope
        if sc.level == "region":
            return self.L.who("region", self.region_label(sc.value))
        return self.L.who(sc.level, f"{sc.value} {self.rep_name}" if sc.level == "rep" and self.rep_name else sc.value)

    @property
    def figures_recorded(self) -> dict:
        """What the report records for tests and schedulers."""
        counts = self.table["segment"].value_counts()
        return {
            "as_of": self.as_of.isoformat(),
            "scope": str(self.scope),
            "customers": len(self.table),
            "revenue": round(float(self.table["monetary"].sum()), 2),
            "segment_counts": {str(k): int(v) for k, v in counts.items()},
            "k": None if self.segmenter is None else int(self.segmenter.k_),
            "anonymous_lines": self.anonymous.lines,
            "anonymous_orders": self.anonymous.orders,
            "anonymous_revenue": self.anonymous.revenue,
            "anonymous_revenue_share_pct": self.anonymous.share_pct,
        }

    @property
    def anonymous_note(self) -> str:
        """What the customer figures leave out: anonymous (walk-in / guest) sales of the scope."""
        lo, L = self.anonymous, self.L
        if not lo:
            return ""
        amount = self.exact_money(lo.revenue)
        if lo.share_pct is not None:
            amount = L.t("cs_amount_share", amount=amount, pct=L.pct(lo.share_pct))
        return L.t(
            "cs_anon_note", n=L.count(lo.lines), orders=L.t("cs_orders", n=L.count(lo.orders)),
            amount=amount, date=L.date(self.as_of), scoped="" if self.scope.level == "company" else L.t("cs_credited"),
        )

    @property
    def clv_note(self) -> str:
        """Why there are no lifetime values, or how the model was refitted ("" when neither)."""
        L = self.L
        if self.clv is None:
            return L.t("cs_clv_unavailable", why=self.clv_error) if self.clv_error else L.t("cs_no_clv")
        m = _REFIT.fullmatch(self.clv_refit) if self.clv_refit else None
        if m:
            return L.t("cs_refit", why=m.group(1), p=m.group(2), setting=m.group(3))
        # another wording of the lifetime-value module is shown as it is (English)
        return (self.clv_refit[0].upper() + self.clv_refit[1:] + ".") if self.clv_refit else ""

    @property
    def cluster_note(self) -> str:
        return self.L.t("cs_no_clusters", why=self.cluster_error) if self.cluster_error else ""

    def _top(self, df: pd.DataFrame, columns: list[str], top: int, labels: dict | None = None) -> H.Block:
        """At most ``top`` rows, and where the rest are."""
        return H.view(df, self.L, columns, top=top, labels=labels, more=f"salesml segments --scope {self.scope} --format csv")

    def _owner_columns(self) -> list[str]:
        """Owner columns of customer lists: none on a rep's page (they are the rep's)."""
        return [] if self.scope.level == "rep" else ["owner"]

    def _owner_clause(self, df: pd.DataFrame) -> str:
        """"; 8 of them belong to R017 Name": the owner with most of ``df`` (none on a rep's
        page, and only owners in the scope)."""
        if self.scope.level == "rep" or df.empty or df["owner"].isna().all():
            return ""
        g = df.dropna(subset=["owner"]).groupby("owner").agg(n=("customer_id", "size"), value=("monetary", "sum"))
        top = g.sort_values(["n", "value"], ascending=False).index[0]
        name = df.loc[df["owner"] == top, "owner_name"].iloc[0]
        owner = f"{top} {name}" if pd.notna(name) else str(top)
        k, L = int(g.loc[top, "n"]), self.L
        if len(df) == 1:
            return L.t("cs_a_owner_it", owner=owner)
        if k == len(df):
            return L.t("cs_a_owner_all", owner=owner)
        if len(g) == 1:
            return L.t("cs_a_owner", k=L.count(k), owner=owner)
        return L.t("cs_a_owner_most", owners=L.count(len(g)), owner=owner, k=L.count(k))

    # ------------------------------------------------------------------ summary and warnings

    def summary_sentences(self) -> tuple[list[S.Sentence], list[S.Sentence]]:
        """The summary's sentences and actions (templates filled with the report's figures)."""
        L, out, actions = self.L, [], []
        end = L.t("end")
        if self.table.empty:
            return [S.Sentence(L.t("cs_no_customers_by", date=L.date(self.as_of)), "segments")], []
        # sizes and value
        s = self.segments[self.segments["customers"] > 0].sort_values(["revenue", "customers"], ascending=False)
        parts = [L.t("cs_s_seg_share", segment=self.seg(s.iloc[0]["segment"]), c=L.pct(s.iloc[0]["share_pct"]),
                     r=L.pct(s.iloc[0]["revenue_share_pct"]))]
        if len(s) > 1:
            parts.append(L.t("cs_s_seg_share_next", segment=self.seg(s.iloc[1]["segment"]), c=L.pct(s.iloc[1]["share_pct"]),
                             r=L.pct(s.iloc[1]["revenue_share_pct"])))
        n = len(self.table)
        out.append(S.Sentence(L.t("cs_s_sizes", n=L.count(n), revenue=L.money(self.table["monetary"].sum()), date=L.date(self.as_of),
                                  parts=L.t("clause_comma").join(parts)) + end, "segments"))
        # the win-back segments
        wanted = [w for w in self.settings.segments.win_back if w in set(self.table["segment"])]
        if wanted:
            rows = self.segments[self.segments["segment"].isin(wanted)]
            k = int(rows["customers"].sum())
            out.append(S.Sentence(L.t("cs_s_win_back", n=L.count(k), segments=self.segs(wanted, "join_and"),
                                      c=L.pct(rows["share_pct"].sum()), revenue=L.money(rows["revenue"].sum()),
                                      r=L.pct(rows["revenue_share_pct"].sum())) + end, "win-back"))
            top = rows.sort_values("revenue", ascending=False).iloc[0]
            mine = self._with_owners(self.table[self.table["segment"] == top["segment"]])
            actions.append(S.Sentence(L.t("cs_a_win_back", n=L.count(top["customers"]), segment=self.seg(top["segment"]), value=L.money(top["revenue"]))
                                      + self._owner_clause(mine) + end, "win-back"))
        # who moved
        migration = self._migration_sentence()
        if migration:
            out.append(migration)
        if len(self.slipped):
            sl = self.slipped
            from_ = self.segs([v for v in self.valuable if v in set(sl["from_segment"])])
            actions.insert(0, S.Sentence(L.t("cs_a_slipped", n=L.count(len(sl)), from_=from_, value=L.money(sl["monetary"].sum()))
                                         + self._owner_clause(sl) + end, "warnings"))
        # where the lifetime value is
        clv = self._clv_sentence()
        if clv:
            out.append(clv)
        # the other warnings
        attention = []
        if len(self.silent):
            attention.append(L.t("cs_s_silent", n=L.count(len(self.silent)), date=L.date(self.before_date),
                                 value=L.money(self.silent["monetary"].sum())))
            first = self.silent.iloc[0]
            actions.append(S.Sentence(L.t("cs_a_silent", n=L.count(len(self.silent)), top=self.customer(first),
                                          value=L.money(first["monetary"])) + self._owner_clause(self.silent) + end, "warnings"))
        if self.anonymous_warning:
            lo = self.anonymous
            attention.append(L.t("cs_s_anonymous", value=L.money(lo.revenue), pct=L.pct(lo.share_pct)))
            actions.append(S.Sentence(L.t("cs_a_anonymous", pct=L.pct(lo.share_pct)) + end, "warnings"))
        if attention:
            text = L.t("clause_semicolon").join(attention)
            out.append(S.Sentence(text[0].upper() + text[1:] + end, "warnings"))
        return out[:6], actions[:5]

    def _migration_sentence(self) -> S.Sentence | None:
        L, m = self.L, self.migration
        if self.before.empty or not int(m.to_numpy().sum()):
            return None
        stayed = sum(int(m.loc[s, s]) for s in m.index if s in m.columns)
        before_n = int(m.drop(index=NEW).to_numpy().sum())
        new = int(m.loc[NEW].sum()) if NEW in m.index else 0
        day = L.date(self.before_date)
        if not (self.valuable and self.risk):
            return S.Sentence(L.t("cs_s_migration", date=day, stayed=L.count(stayed), before=L.count(before_n),
                                  pct=L.pct(stayed / before_n * 100 if before_n else None), new=L.count(new)) + L.t("end"), "migration")
        sl = self.slipped
        if len(sl):
            clauses = [L.t("cs_s_slipped", n=L.count(len(sl)), date=day,
                           from_=self.segs([v for v in self.valuable if v in set(sl["from_segment"])]),
                           to=self.segs([r for r in self.risk if r in set(sl["segment"])]), value=L.money(sl["monetary"].sum()))]
        else:
            clauses = [L.t("cs_s_no_slip", date=day, from_=self.segs(self.valuable), to=self.segs(self.risk))]
        up = int(m.loc[[r for r in m.index if r not in self.valuable], [c for c in m.columns if c in self.valuable]].to_numpy().sum())
        if up:
            clauses.append(L.t("cs_s_moved_up", n=L.count(up), to=self.segs(self.valuable)))
        if before_n:
            clauses.append(L.t("cs_s_stayed", pct=L.pct(stayed / before_n * 100)))
        return S.Sentence(L.t("clause_semicolon").join(clauses) + L.t("end"), "migration")

    def _clv_sentence(self) -> S.Sentence | None:
        L = self.L
        if self.clv is None or self.clv.empty:
            return None
        values = self.clv["clv"].astype(float)
        total = float(values.sum())
        if total <= 0:
            return None
        n = max(1, len(values) * TOP_SHARE // 100)
        text = L.t("cs_s_clv", top=TOP_SHARE, n=L.count(n), pct=L.pct(values.nlargest(n).sum() / total * 100), total=L.money(total),
                   days=L.count(self.settings.clv.horizon_days))
        agg = self._clv_by_segment()
        if len(agg):
            best = agg.sort_values("cs_clv_total", ascending=False).iloc[0]
            text += L.t("clause_semicolon") + L.t("cs_s_clv_seg", segment=self.seg(best["segment"]), pct=L.pct(best["cs_clv_share"]))
        return S.Sentence(text + L.t("end"), "clv")

    @property
    def anonymous_warning(self) -> bool:
        lo = self.anonymous
        return bool(lo) and lo.share_pct is not None and lo.share_pct >= self.settings.warnings.seg_anonymous_pct

    def summary(self) -> H.Block:
        """Three to six sentences and an action list, each linked to the section behind it."""
        sentences, actions = self.summary_sentences()
        return S.block(sentences, actions, self.L) + H.figures({"summary": [s.text for s in sentences], "actions": [a.text for a in actions]})

    def early_warnings(self) -> H.Block:
        """Valuable customers who slipped into a risk segment, big customers who went silent and
        walk-in revenue in no segment, each with its evidence; what is not checked, and why."""
        L, ws = self.L, self.settings.warnings
        top = ws.max_items * 2
        head = H.heading(L.t("warnings"), 2, anchor="warnings")
        items: list[tuple[str, str]] = []
        skipped: list[str] = []
        tables = H.Block("", text="")
        sl, day = self.slipped, L.date(self.before_date)
        if not (self.valuable and self.risk):
            skipped.append(L.t("cs_skip_map", r=ws.seg_valuable_r, fm=ws.seg_valuable_fm, risk=ws.seg_risk_r))
        elif self.before.empty:
            skipped.append(L.t("cs_skip_before", date=day))
        elif len(sl):
            from_ = self.segs([v for v in self.valuable if v in set(sl["from_segment"])])
            to = self.segs([r for r in self.risk if r in set(sl["segment"])])
            evidence = [L.t("cs_w_slip_item", who=self.customer(r), from_=self.seg(r["from_segment"]), to=self.seg(r["segment"]),
                            value=L.money(r["monetary"]), last=L.date(r["last_purchase"])) for _, r in sl.head(3).iterrows()]
            items.append((L.t("cs_w_slipped", n=L.count(len(sl)), from_=from_, to=to, date=day,
                              value=L.money(sl["monetary"].sum())),
                          L.t("cs_w_largest", items=L.t("clause_semicolon").join(evidence))))
            shown = sl.assign(cs_from=sl["from_segment"].map(self.seg), cs_to=sl["segment"].map(self.seg),
                              cs_recency_days=sl["recency_days"], revenue=sl["monetary"], owner=self.owner_text(sl))
            cols = ["customer_id", "name", "cs_from", "cs_to", "last_purchase", "cs_recency_days", "revenue"]
            if self.clv is not None:
                shown = shown.merge(self.clv[["customer_id", "clv"]], on="customer_id", how="left")
                cols.append("clv")
            tables = tables + H.heading(L.t("cs_slipped_top"), 3) + self._top(shown, cols + self._owner_columns(), top,
                                                                            labels={"clv": L.t("cs_clv_col")})
        si = self.silent
        if len(si):
            evidence = [L.t("cs_w_silent_item", who=self.customer(r), last=L.date(r["last_purchase"]), days=L.count(r["recency_days"]),
                            usual=L.days(round(float(r["usual_days"]), 1)), value=L.money(r["monetary"])) for _, r in si.head(3).iterrows()]
            items.append((L.t("cs_w_silent", n=L.count(len(si)), m=ws.seg_big_m_score, date=day,
                              factor=f"{ws.seg_silent_factor:g}", days=L.count(ws.seg_silent_min_days), value=L.money(si["monetary"].sum())),
                          L.t("cs_w_largest", items=L.t("clause_semicolon").join(evidence))))
            shown = si.assign(segment=si["segment"].map(self.seg), cs_recency_days=si["recency_days"], cs_usual_days=si["usual_days"].round(1),
                              orders=si["frequency"], revenue=si["monetary"], owner=self.owner_text(si))
            cols = ["customer_id", "name", "segment", "last_purchase", "cs_recency_days", "cs_usual_days", "orders", "revenue"]
            tables = tables + H.heading(L.t("cs_silent_top"), 3) + self._top(shown, cols + self._owner_columns(), top)
        if self.anonymous_warning:
            lo, lb = self.anonymous, self.anonymous_before
            items.append((
                L.t("cs_w_anonymous", pct=L.pct(lo.share_pct), value=L.money(lo.revenue), lines=L.count(lo.lines)),
                L.t("cs_w_anonymous_ev", date=L.date(self.as_of), before=day, before_pct=L.pct(lb.share_pct if lb else 0.0),
                    threshold=L.pct(ws.seg_anonymous_pct)),
            ))
        skipped.append(L.t("cs_skip_churn"))
        none = L.t("cs_no_warnings", date=L.date(self.as_of), pct=L.pct(ws.seg_anonymous_pct))
        body = S.warning_list(items, L, none, skipped)
        return head + body + tables + H.figures({
            "warnings": len(items), "warning_slipped": len(sl), "warning_slipped_revenue": round(float(sl["monetary"].sum()), 2),
            "warning_silent": len(si), "warning_anonymous": self.anonymous_warning,
            "valuable_segments": self.valuable, "risk_segments": self.risk,
        })

    # ------------------------------------------------------------------ blocks

    def title(self) -> H.Block:
        L = self.L
        scope_note = "" if self.scope.level == "company" else L.t("cs_scope_note")
        currency = L.t("cs_in_currency", code=self.currency) if self.currency else ""
        head = H.style() + H.heading(L.t("cs_title", date=L.date(self.as_of)), 1) + H.note(
            L.t("cs_title_note", who=self.who, scope=scope_note, currency=currency)
        )
        return head + H.note(self.anonymous_note) if self.anonymous else head

    def segment_sizes(self) -> H.Block:
        L, s = self.L, self.segments
        figures = H.figures(self.figures_recorded)
        head = H.heading(L.t("cs_segments"), 2, L.t("cs_segments_note"), anchor="segments")
        if self.table.empty:
            return head + H.note(L.t("cs_no_customers_by", date=L.date(self.as_of))) + figures
        t = self.table
        cards = H.cards(
            [
                {"label": L.t("cs_card_customers"), "value": L.count(len(t)), "sub": L.t("cs_with_purchase_by", date=L.date(self.as_of))},
                {"label": L.t("cs_card_revenue"), "value": L.money(t["monetary"].sum()), "sub": L.t("cs_all_purchases")},
                {"label": L.t("cs_card_recency"), "value": L.count(t["recency_days"].median()),
                 "sub": L.t("cs_tenure", days=L.count(t["tenure_days"].median()))},
                {"label": L.t("cs_card_orders"), "value": L.number(t["frequency"].median()),
                 "sub": L.t("cs_median_spend", value=L.money(t["monetary"].median()))},
            ]
        )
        labels = [H.esc(self.seg(v)) for v in s["segment"]]
        fig = make_subplots(specs=[[{"secondary_y": True}]])
        fig.add_bar(x=labels, y=s["customers"], name=L.label("customers"), marker_color=H.COLORS["target"])
        fig.add_scatter(
            x=labels, y=s["revenue_share_pct"], name=L.t("cs_revenue_pct"), mode="markers",
            marker=dict(size=11, color=H.COLORS["revenue"]), secondary_y=True,
        )
        fig.update_layout(
            title=dict(text=L.t("cs_sizes_chart"), y=0.98), height=420, margin=dict(l=10, r=10, t=60, b=10), xaxis=dict(type="category"),
            legend=dict(orientation="h", x=1, xanchor="right", y=1.0, yanchor="bottom"),
        )
        fig.update_yaxes(title_text=L.label("customers"), secondary_y=False)
        fig.update_yaxes(title_text=L.t("cs_revenue_pct"), secondary_y=True, showgrid=False, rangemode="tozero", ticksuffix="%")
        shown = s.assign(segment=s["segment"].map(self.seg), customers_share_pct=s["share_pct"], cs_recency_median=s["recency_days_median"],
                         cs_orders_median=s["frequency_median"], cs_revenue_median=s["monetary_median"])
        table = H.view(shown, L, ["segment", "customers", "customers_share_pct", "revenue", "revenue_share_pct", "cs_recency_median",
                                  "cs_orders_median", "cs_revenue_median"])
        return head + cards + H.chart(fig) + table + figures

    def heat_map(self) -> H.Block:
        L = self.L
        head = H.heading(L.t("cs_heat"), 2, L.t("cs_heat_note"), anchor="heat-map")
        if self.table.empty:
            return head + H.note(L.t("cs_no_customers"))
        fig = make_subplots(rows=1, cols=2, subplot_titles=(L.label("customers"), L.label("revenue")), horizontal_spacing=0.12)
        for i, what in enumerate(("customers", "revenue"), start=1):
            grid = score_matrix(self.table, what)
            fig.add_trace(
                go.Heatmap(
                    z=grid.to_numpy(), x=[f"F{c}" for c in grid.columns], y=[f"R{r}" for r in grid.index],
                    colorscale="Blues", showscale=False, texttemplate="%{z:,.0f}",
                    hovertemplate="%{y} %{x}: %{z:,.0f}<extra></extra>",
                ),
                row=1, col=i,
            )
        fig.update_yaxes(autorange="reversed", type="category")
        fig.update_xaxes(type="category")
        fig.update_layout(height=380, margin=dict(l=10, r=10, t=60, b=10))
        return head + H.chart(fig)

    def win_back(self) -> H.Block:
        """The most valuable customers of the [segments] win_back segments (names of the scope's own customers)."""
        L = self.L
        wanted = list(self.settings.segments.win_back)
        head = H.heading(L.t("cs_win_back"), 2, L.t("cs_win_back_note", segments=self.segs(wanted, "join_and")), anchor="win-back")
        df = self.table[self.table["segment"].isin(wanted)].sort_values(["monetary", "customer_id"], ascending=[False, True])
        if df.empty:
            return head + H.note(L.t("cs_nobody"))
        df = self._with_owners(df)
        shown = df.assign(segment=df["segment"].map(self.seg), cs_recency_days=df["recency_days"], orders=df["frequency"],
                          revenue=df["monetary"], owner=self.owner_text(df))
        cols = ["customer_id", "name", "segment", "last_purchase", "cs_recency_days", "orders", "revenue"]
        if self.clv is not None:
            shown = shown.merge(self.clv[["customer_id", "p_alive", "clv"]], on="customer_id", how="left").rename(columns={"p_alive": "cs_p_alive"})
            cols += ["cs_p_alive", "clv"]
        return head + self._top(shown, cols + self._owner_columns(), self.settings.report.top_n, labels={"clv": L.t("cs_clv_col")})

    def clusters(self) -> H.Block:
        L, seg = self.L, self.settings.segments
        note = L.t("cs_clusters_note", low=seg.k_range[0], high=seg.k_range[1])
        if self.scope.level != "company":
            note += L.t("cs_clusters_scope")
        head = H.heading(L.t("cs_clusters"), 2, note, anchor="clusters")
        if self.segmenter is None:
            return head + H.note(self.cluster_note)
        if self.profiles.empty:
            return head + H.note(L.t("cs_no_customers"))
        p = self.profiles
        sil = self.segmenter.silhouette_scores_
        tried = ", ".join(f"k={k}: {v:.2f}" for k, v in sil.items())
        names = [self.cluster_label(lab) for lab in p["label"]]
        labels = [H.esc(f"{c}: {lab}") for c, lab in zip(p["cluster"], names, strict=True)]
        sizes = p["customers"].astype(float)
        fig = go.Figure(
            go.Scatter(
                x=p["recency_days_median"], y=p["frequency_median"], mode="markers+text", text=labels,
                textposition="top center",
                marker=dict(size=sizes, sizemode="area", sizeref=2.0 * max(float(sizes.max()), 1.0) / 50**2, sizemin=6,
                            color=p["revenue_share_pct"], colorscale=[[0, "#dbe9fb"], [1, H.COLORS["revenue"]]], showscale=True,
                            colorbar=dict(title=L.t("cs_revenue_pct")), line=dict(width=1, color=H.COLORS["revenue"])),
                customdata=np.stack([p["customers"], p["monetary_median"]], axis=-1),
                hovertemplate=L.t("cs_clusters_hover"),
            )
        )
        fig.update_layout(
            title=dict(text=L.t("cs_clusters_chart"), y=0.98), height=440, margin=dict(l=10, r=10, t=60, b=10), xaxis_title=L.label("cs_recency_median"), yaxis_title=L.label("cs_orders_median"),
        )
        # room for the labels of the outermost clusters
        fig.update_xaxes(range=[0, float(p["recency_days_median"].max()) * 1.3 + 1])
        fig.update_yaxes(range=[0, float(p["frequency_median"].max()) * 1.3 + 1])
        shown = p.assign(cs_cluster=p["cluster"], cs_cluster_label=names, customers_share_pct=p["share_pct"],
                         cs_recency_mean=p["recency_days_mean"].round(0), cs_recency_median=p["recency_days_median"],
                         cs_orders_mean=p["frequency_mean"].round(1), cs_orders_median=p["frequency_median"],
                         cs_revenue_mean=p["monetary_mean"], cs_revenue_median=p["monetary_median"])
        table = H.view(shown, L, ["cs_cluster", "cs_cluster_label", "customers", "customers_share_pct", "revenue_share_pct",
                                  "cs_recency_mean", "cs_recency_median", "cs_orders_mean", "cs_orders_median",
                                  "cs_revenue_mean", "cs_revenue_median"])
        return head + H.note(L.t("cs_clusters_found", k=self.segmenter.k_, tried=tried)) + H.chart(fig) + table

    def migration_block(self) -> H.Block:
        L, m = self.L, self.migration
        before, now = L.date(self.before_date), L.date(self.as_of)
        gone = L.t("cs_gone", gone=self.seg(GONE)) if GONE in m.columns else ""
        head = H.heading(L.t("cs_migration", date=before), 2,
                         L.t("cs_migration_note", before=before, as_of=now, new=self.seg(NEW), gone=gone), anchor="migration")
        if not int(m.to_numpy().sum()):
            return head + H.note(L.t("cs_no_customers_either"))
        stayed = sum(int(m.loc[s, s]) for s in m.index if s in m.columns)
        before_n = int(m.drop(index=NEW).to_numpy().sum())
        left = [
            L.t("cs_anon_on", n=L.count(lo.lines), date=L.date(day), amount=self.exact_money(lo.revenue))
            for day, lo in ((self.before_date, self.anonymous_before), (self.as_of, self.anonymous)) if lo
        ]
        anonymous = L.t("cs_anon_migration", parts=L.t("clause_semicolon").join(left)) if left else ""
        cols, rows = [H.esc(self.seg(c)) for c in m.columns], [H.esc(self.seg(r)) for r in m.index]
        fig = go.Figure(
            go.Heatmap(
                z=m.to_numpy(), x=cols, y=rows, colorscale="Blues",
                texttemplate="%{z}", hovertemplate=L.t("cs_migration_hover"), showscale=False,
            )
        )
        fig.update_yaxes(autorange="reversed", title_text=L.t("cs_segment_on", date=before), type="category")
        fig.update_xaxes(title_text=L.t("cs_segment_on", date=now), tickangle=-35, type="category")
        fig.update_layout(title=dict(text=L.t("cs_migration_chart"), y=0.98), height=max(380, 30 * len(m) + 190),
                          margin=dict(l=10, r=10, t=60, b=10))
        # the matrix as a table: its columns are segment names (data), labelled and formatted here
        shown = m.reset_index()
        first = shown.columns[0]
        shown[first] = shown[first].map(self.seg)
        table = H.table(shown, formats={c: L.count for c in m.columns}, labels={first: L.t("cs_from_to"), **{c: self.seg(c) for c in m.columns}},
                        numeric=tuple(m.columns), empty=L.t("no_rows"))
        share = L.t("cs_share_paren", pct=L.pct(stayed / before_n * 100, digits=0)) if before_n else ""
        new = int(m.loc[NEW].sum()) if NEW in m.index else 0
        return head + H.note(
            L.t("cs_stayed", stayed=L.count(stayed), before=L.count(before_n), share=share, new=L.count(new)) + anonymous
        ) + H.chart(fig) + H.Block(f'<div class="salesml-scroll">{table.html}</div>', text=table.text)

    def _clv_by_segment(self) -> pd.DataFrame:
        if self.clv is None or self.clv.empty:
            return pd.DataFrame()
        by_seg = self.table[["customer_id", "segment"]].merge(self.clv[["customer_id", "clv", "p_alive"]], on="customer_id", how="inner")
        order = list(self.segments["segment"])
        agg = (
            by_seg.groupby("segment")
            .agg(customers=("clv", "size"), cs_clv_total=("clv", "sum"), cs_clv_mean=("clv", "mean"),
                 cs_clv_median=("clv", "median"), cs_p_alive_mean=("p_alive", "mean"))
            .reindex([s for s in order if s in set(by_seg["segment"])])
            .reset_index()
        )
        total = float(self.clv["clv"].sum())
        return agg.assign(cs_clv_share=agg["cs_clv_total"] / total * 100 if total else np.nan)

    def clv_block(self) -> H.Block:
        L = self.L
        head = H.heading(L.t("cs_clv"), 2, L.t("cs_clv_note", days=L.count(self.settings.clv.horizon_days)), anchor="clv")
        if self.clv is None:
            return head + H.note(self.clv_note)
        if self.clv.empty:
            return head + H.note(L.t("cs_no_value"))
        values = self.clv["clv"].astype(float)
        n = max(1, len(values) * TOP_SHARE // 100)
        block = head + self._clv_cards(values, n)
        if values.sum() > 0:
            block = block + H.chart(self._clv_curve(values, n))
        agg = self._clv_by_segment()
        agg = agg.assign(segment=agg["segment"].map(self.seg))
        block = block + H.view(
            agg, L, ["segment", "customers", "cs_clv_total", "cs_clv_share", "cs_clv_mean", "cs_clv_median", "cs_p_alive_mean"]
        )
        return block + H.note(self.clv_note) if self.clv_note else block

    def _clv_cards(self, values: pd.Series, n: int) -> H.Block:
        L = self.L
        return H.cards(
            [
                {"label": L.t("cs_card_clv_total"), "value": L.money(values.sum()), "sub": L.t("cs_n_customers", n=L.count(len(values)))},
                {"label": L.t("cs_card_clv_median"), "value": L.money(values.median()), "sub": L.t("cs_mean_of", value=L.money(values.mean()))},
                {"label": L.t("cs_card_top", pct=TOP_SHARE), "value": L.pct(values.nlargest(n).sum() / values.sum() * 100)
                 if values.sum() else "–", "sub": L.t("cs_of_total_clv")},
            ]
        )

    def _clv_curve(self, values: pd.Series, n: int) -> go.Figure:
        """Where the value is: the share of the lifetime value held by the top x% of customers
        (one point per percent of customers; aggregates only)."""
        L = self.L
        ranked = np.sort(values.to_numpy())[::-1]
        cum = np.concatenate([[0.0], np.cumsum(ranked)]) / ranked.sum() * 100
        x = np.arange(0, 101)
        y = cum[np.ceil(x / 100 * len(ranked)).astype(int)]
        fig = go.Figure()
        fig.add_scatter(x=[0, 100], y=[0, 100], mode="lines", name=L.t("cs_even"), line=dict(color=H.COLORS["target"], dash="dash"),
                        hoverinfo="skip")
        fig.add_scatter(x=x, y=y, mode="lines", name=L.label("cs_clv_share"), line=dict(color=H.COLORS["forecast"], width=3),
                        hovertemplate=L.t("cs_curve_hover"))
        top = float(cum[n])
        fig.add_scatter(x=[n / len(ranked) * 100], y=[top], mode="markers+text", showlegend=False, hoverinfo="skip",
                        marker=dict(size=10, color=H.COLORS["forecast"]), textposition="middle right",
                        text=[L.t("cs_curve_mark", top=TOP_SHARE, pct=L.pct(top))])
        fig.update_layout(
            title=dict(text=L.t("cs_clv_chart"), y=0.98), height=380, margin=dict(l=10, r=10, t=60, b=10), legend=dict(orientation="h", x=1, xanchor="right", y=1.0, yanchor="bottom"),
            xaxis=dict(title=L.t("cs_curve_x"), range=[0, 100], ticksuffix="%"),
            yaxis=dict(title=L.t("cs_curve_y"), range=[0, 102], ticksuffix="%"),
        )
        return fig

    def notes(self) -> H.Block:
        """How the figures are made, and the labels this page lacked in its language (none)."""
        L = self.L
        fm = L.t("cs_fm_mean" if self.settings.segments.fm_score == "mean" else "cs_fm_f")
        block = H.heading(L.t("cs_how_made"), 3) + H.note(
            L.t("cs_how_made_text", date=L.date(self.as_of), scoped="" if self.scope.level == "company" else L.t("cs_how_scoped"),
                fm=fm, file=self.settings.warehouse_path.name)
        )
        return block + H.figures({"lang": L.code, "untranslated": sorted(L.missing)})

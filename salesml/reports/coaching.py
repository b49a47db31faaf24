"""Coaching and recommendation sections of the performance report, in the page's language.

Lays out figures it is given: a rep's scorecard against the team's medians and its strengths
and gaps in words (:mod:`salesml.accounting.scorecard` gives them as coded rows), the team's
scorecards, the products to offer a rep's customers with the backtest that measured them
(:mod:`salesml.customers.crosssell`), and the owners suggested for unowned customers and leads
(:mod:`salesml.customers.assignment`).
"""

from __future__ import annotations

import pandas as pd

from salesml.accounting.scorecard import MEASURES
from salesml.reports import html as H
from salesml.reports.lang import Lang, add_text

#: a compared measure's name in both languages
MEASURE_NAMES = {
    "win_rate": ("Win rate", "赢单率"),
    "sales_cycle": ("Sales cycle", "销售周期"),
    "aov": ("Average order", "客单价"),
    "discount": ("Discount depth", "折扣深度"),
    "top_category_share": ("Share of the top category", "第一品类占比"),
    "categories": ("Categories sold", "销售品类数"),
    "return_rate": ("Return rate", "退货率"),
    "retention": ("Customer retention", "客户留存率"),
    "attainment": ("Attainment", "目标达成率"),
    "attainment_slope": ("Attainment trend", "达成率趋势"),
}

add_text(
    {
        "scorecard": ("Your scorecard", "个人业绩卡"),
        "scorecard_note": (
            "Against the median of your team's other reps ({peers}); win rate and sales cycle over the last {months} months.",
            "与团队其他成员（{peers} 人）的中位数比较；赢单率和销售周期按近 {months} 个月计算。",
        ),
        "team_scorecards": ("Scorecards of the team", "团队业绩卡"),
        "team_scorecards_note": ("Each rep against the median of the team's other reps; the largest gaps in words below.", "每位销售代表与团队其他成员中位数的比较；下方列出差距最大的几项。"),
        "no_peers": ("No team peers to compare with this month.", "本月没有可比较的团队成员。"),
        "no_scorecard": ("No scorecard: no activity in this period.", "无业绩卡：本期没有业务。"),
        "measure": ("Measure", "指标"),
        "you": ("You", "你"),
        "team_median": ("Team median", "团队中位数"),
        "difference": ("Difference", "差异"),
        "strengths": ("Strengths", "优势"),
        "gaps": ("To work on", "待改进"),
        "f_points": ("{measure} {value} against the team's {peer} ({diff} points)", "{measure} {value}，团队为 {peer}（{diff} 个百分点）"),
        "f_ratio": ("{measure} {value} against the team's {peer} ({diff} of it)", "{measure} {value}，团队为 {peer}（为团队的 {diff}）"),
        "f_count": ("{measure} {value} against the team's {peer} ({diff})", "{measure} {value}，团队为 {peer}（{diff}）"),
        "f_discount_deeper_same_win_rate": (
            "Discounts {diff} points deeper than the team for the same win rate ({value} vs {peer}; win rate {pair} vs {pair_peer})",
            "在赢单率相当的情况下折扣比团队深 {diff} 个百分点（{value} 对 {peer}；赢单率 {pair} 对 {pair_peer}）",
        ),
        "f_discount_shallower_same_win_rate": (
            "Discounts {diff} points shallower than the team for the same win rate ({value} vs {peer}; win rate {pair} vs {pair_peer})",
            "在赢单率相当的情况下折扣比团队浅 {diff} 个百分点（{value} 对 {peer}；赢单率 {pair} 对 {pair_peer}）",
        ),
        "days_value": ("{n} days", "{n} 天"),
        "per_month": ("{n} points a month", "每月 {n} 个百分点"),
        "strengths_count": ("Strengths", "优势数"),
        "gaps_count": ("Gaps", "差距数"),
        "crosssell": ("What to offer your customers", "给客户的推荐"),
        "crosssell_note": (
            "Products each customer has not bought yet: bought together with what they buy (association rules), else from their own category mix. Customers at risk first.",
            "每个客户尚未购买的产品：来自与其已购产品经常一起购买的产品（关联规则），否则按客户自己的品类结构推荐。流失风险客户在前。",
        ),
        "crosssell_backtest": (
            "Measured on the {horizon} days from {cutoff} (version {version}): {k} suggestions a customer reached {hit} of the customers who bought something new, against {base} for the best-sellers they had not bought.",
            "在 {cutoff} 起的 {horizon} 天上回测（版本 {version}）：每个客户 {k} 条推荐命中了 {hit} 的有新购买的客户，畅销品基准为 {base}。",
        ),
        "crosssell_untested": ("Not backtested yet: `salesml train crosssell` measures these suggestions against best-sellers.", "尚未回测：`salesml train crosssell` 会将这些推荐与畅销品基准比较。"),
        "no_suggestions": ("No suggestions: no customer with a purchase.", "无推荐：没有有购买记录的客户。"),
        "suggestions": ("Suggestions", "推荐产品"),
        "why_suggested": ("Why", "推荐理由"),
        "bought_with": ("bought with {product}", "常与 {product} 一起购买"),
        "category_mix": ("their category mix", "客户的品类结构"),
        "best_seller": ("best-seller", "畅销品"),
        "assign": ("Customers and leads to assign", "待分配的客户和商机"),
        "assign_note": (
            "Owners suggested by the rules of [assignment] (region, capacity, segment fit, past results); a manager accepts or changes them. The full table with each rule's share of the score is in `salesml assign --to FILE.xlsx`.",
            "按 [assignment] 规则（区域、容量、客群匹配、历史业绩）建议的负责人，由经理确认或调整。含各规则得分的完整表格见 `salesml assign --to FILE.xlsx`。",
        ),
        "nobody_to_assign": ("Nobody to assign: every customer and open lead has an active owner.", "没有待分配的对象：所有客户和未结商机都有在职负责人。"),
        "kind_customer": ("customer", "客户"),
        "kind_lead": ("lead", "商机"),
        "reason_no_owner": ("no owner", "无负责人"),
        "reason_unknown_owner": ("owner {rep} is not in the hierarchy", "负责人 {rep} 不在组织架构中"),
        "reason_owner_left": ("{rep} left on {day}", "{rep} 已于 {day} 离职"),
        "reason_owner_not_started": ("{rep} starts on {day}", "{rep} 将于 {day} 入职"),
        "no_candidate": ("no candidate", "无候选人"),
        "at_capacity": ("every candidate at capacity", "候选人均已满额"),
    }
)

#: scorecard columns shown in the team table
TEAM_COLUMNS = ["rep_id", "rep_name", "win_rate_pct", "sales_cycle_days", "aov", "discount_pct", "return_rate_pct", "retention_pct",
                "attainment_pct"]


def measure_name(name: str, L: Lang) -> str:
    pair = MEASURE_NAMES.get(name)
    if pair is None:
        L.missing.add(f"measure:{name}")
        return name
    return pair[1] if L.zh else pair[0]


def _value(v, unit: str, L: Lang) -> str:
    if v is None or pd.isna(v):
        return "–"
    if unit == "pct":
        return L.pct(v)
    if unit == "days":
        return L.t("days_value", n=f"{float(v):.0f}")
    if unit == "money":
        return L.money(v)
    if unit == "points_per_month":
        return L.t("per_month", n=f"{float(v):+.1f}".replace("-", "−"))
    return L.count(v)


def _difference(v, kind: str) -> str:
    if v is None or pd.isna(v):
        return "–"
    if kind == "ratio":
        return f"{float(v):.2f}×"
    return f"{float(v):+.1f}".replace("-", "−") if kind == "points" else f"{float(v):+.0f}".replace("-", "−")


def finding_text(f: pd.Series, L: Lang) -> str:
    """One strength or gap in words."""
    units = {m.name: m.unit for m in MEASURES}
    unit = units.get(f["measure"], "count")
    if isinstance(f.get("pair"), str) and f["pair"]:
        pair_unit = units.get(f["pair"], "pct")
        return L.t(f"f_{f['code']}", diff=f"{abs(float(f['difference'])):.1f}", value=_value(f["value"], unit, L),
                   peer=_value(f["peer_value"], unit, L), pair=_value(f["pair_value"], pair_unit, L),
                   pair_peer=_value(f["pair_peer_value"], pair_unit, L))
    return L.t(f"f_{f['difference_unit']}", measure=measure_name(f["measure"], L), value=_value(f["value"], unit, L),
               peer=_value(f["peer_value"], unit, L), diff=_difference(f["difference"], f["difference_unit"]))


def _bullets(items: list[str]) -> H.Block:
    return H.Block("<ul>" + "".join(f"<li>{H.esc(t)}</li>" for t in items) + "</ul>", text="\n".join(items))


def rep_scorecard(card: pd.DataFrame, found: pd.DataFrame, L: Lang, months: int) -> H.Block:
    """A rep's own scorecard: measure, the rep, the team's median, the difference; then the
    strengths and gaps in words."""
    if card.empty:
        return H.heading(L.t("scorecard"), 2, anchor="scorecard") + H.note(L.t("no_scorecard"))
    r = card.iloc[0]
    head = H.heading(L.t("scorecard"), 2, L.t("scorecard_note", peers=L.count(r.get("peers", 0)), months=months), anchor="scorecard")
    rows = [
        {"measure": measure_name(m.name, L), "you": _value(r.get(m.column), m.unit, L), "team": _value(r.get(f"peer_{m.column}"), m.unit, L),
         "difference": _difference(r.get(f"diff_{m.column}"), m.difference)}
        for m in MEASURES
    ]
    table = H.table(pd.DataFrame(rows), labels={"measure": L.t("measure"), "you": L.t("you"), "team": L.t("team_median"),
                                                "difference": L.t("difference")}, numeric=("you", "team", "difference"))
    out = head + H.Block(f'<div class="salesml-scroll">{table.html}</div>', text=table.text)
    if not int(r.get("peers", 0) or 0):
        return out + H.note(L.t("no_peers"))
    for direction, key in (("strength", "strengths"), ("gap", "gaps")):
        mine = found[found["direction"] == direction] if len(found) else found
        if len(mine):
            out = out + H.heading(L.t(key), 3) + _bullets([finding_text(f, L) for _, f in mine.iterrows()])
    return out


def team_scorecards(card: pd.DataFrame, found: pd.DataFrame, L: Lang, top: int) -> H.Block:
    head = H.heading(L.t("team_scorecards"), 2, L.t("team_scorecards_note"), anchor="scorecard")
    if card.empty:
        return head + H.note(L.t("no_scorecard"))
    counts = found.groupby(["rep_id", "direction"]).size().unstack(fill_value=0) if len(found) else pd.DataFrame()
    shown = card.assign(strengths=card["rep_id"].map(counts.get("strength", pd.Series(dtype=int))).fillna(0),
                        gaps=card["rep_id"].map(counts.get("gap", pd.Series(dtype=int))).fillna(0))
    labels = {m.column: measure_name(m.name, L) for m in MEASURES} | {"strengths": L.t("strengths_count"), "gaps": L.t("gaps_count")}
    formats = {"sales_cycle_days": lambda v: _value(v, "days", L), "aov": L.amount, "strengths": L.count, "gaps": L.count}
    for c in ("win_rate_pct", "discount_pct", "return_rate_pct", "retention_pct", "attainment_pct"):
        formats[c] = L.pct
    out = head + H.view(shown, L, [*TEAM_COLUMNS, "strengths", "gaps"], top=top, formats=formats, labels=labels)
    gaps = found[found["direction"] == "gap"].sort_values("magnitude", ascending=False).head(8) if len(found) else found
    if len(gaps):
        names = dict(zip(card["rep_id"], card["rep_name"], strict=False))
        out = out + H.heading(L.t("gaps"), 3) + _bullets([f"{g['rep_id']} {names.get(g['rep_id']) or ''}: {finding_text(g, L)}" for _, g in gaps.iterrows()])
    return out


def crosssell_block(recs: pd.DataFrame, products: pd.DataFrame, customers: pd.DataFrame, at_risk: pd.DataFrame,
                    run: dict | None, L: Lang, top: int) -> H.Block:
    """The products to offer each customer (at-risk customers first), and how well such
    suggestions did in the last backtest."""
    head = H.heading(L.t("crosssell"), 2, L.t("crosssell_note"), anchor="crosssell")
    if run:
        rows = {r["method"]: r for r in run["backtest"]["rows"]}
        bt = run["backtest"]
        head = head + H.note(L.t("crosssell_backtest", horizon=bt["horizon_days"], cutoff=L.date(bt["cutoff"]), version=run["version"],
                                 k=bt["k"], hit=L.ratio(rows["crosssell"]["hit_rate"]), base=L.ratio(rows["popularity"]["hit_rate"])))
    else:
        head = head + H.note(L.t("crosssell_untested"))
    if recs.empty:
        return head + H.note(L.t("no_suggestions"))
    names = dict(zip(products["product_id"], products["name"], strict=False))

    def why(r) -> str:
        if r["basis"] == "rules":
            return L.t("bought_with", product=f"{r['because_product_id']} {names.get(r['because_product_id'], '')}".strip())
        return L.t("category_mix" if r["basis"] == "category" else "best_seller")

    recs = recs.assign(shown=[f"{p} {names.get(p, '')}".strip() for p in recs["product_id"]], why=[why(r) for _, r in recs.iterrows()])
    per = recs.sort_values(["customer_id", "rank"]).groupby("customer_id").agg(
        suggestions=("shown", lambda s: "; ".join(s.head(3))), why=("why", "first"))
    risk = at_risk.set_index("customer_id")["risk"] if len(at_risk) else pd.Series(dtype=float)
    per = per.join(customers.set_index("customer_id")[["customer_name"]], how="left").assign(
        churn_probability=per.index.map(risk)).reset_index()
    per = per.sort_values(["churn_probability", "customer_id"], ascending=[False, True], na_position="last")
    return head + H.view(per, L, ["customer_id", "customer_name", "churn_probability", "suggestions", "why"], top=top,
                         labels={"suggestions": L.t("suggestions"), "why": L.t("why_suggested")})


def reason(r: pd.Series, L: Lang) -> str:
    code = r.get("reason_code")
    rep, day = r.get("former_rep_id"), r.get("reason_date")
    if code not in ("no_owner", "unknown_owner", "owner_left", "owner_not_started"):
        return str(r.get("reason", ""))
    return L.t(f"reason_{code}", rep="" if rep is None or pd.isna(rep) else rep, day=L.date(day))


def assignment_block(df: pd.DataFrame, L: Lang, top: int) -> H.Block:
    head = H.heading(L.t("assign"), 2, L.t("assign_note"), anchor="assign")
    if df.empty:
        return head + H.note(L.t("nobody_to_assign"))
    shown = df.assign(
        kind=[L.t(f"kind_{k}") for k in df["kind"]],
        item=[c if k == "customer" else f"{o} ({c})" for k, c, o in zip(df["kind"], df["customer_id"], df["opp_id"], strict=True)],
        why=[reason(r, L) for _, r in df.iterrows()],
        suggested=[f"{i} {n}" if isinstance(i, str) else L.t(str(x)) for i, n, x in zip(df["suggested_rep_id"], df["suggested_rep_name"].fillna(""),
                                                                                          df["no_suggestion"], strict=True)],
        alternative=[f"{i} {n}".strip() if isinstance(i, str) else "–" for i, n in zip(df["alt_rep_id"], df["alt_rep_name"].fillna(""), strict=True)],
    )
    return head + H.view(shown, L, ["kind", "item", "name", "region", "segment", "value", "why", "suggested", "score", "alternative"], top=top,
                         labels={"item": L.label("customer_id"), "why": L.label("reason"), "suggested": L.t("suggested_owner"),
                                 "alternative": L.t("alternative_owner")},
                         formats={"score": lambda v: "–" if pd.isna(v) else f"{float(v):.2f}"})


add_text({"suggested_owner": ("Suggested owner", "建议负责人"), "alternative_owner": ("Next best", "备选")})

"""The summary at the top of a report: plain sentences and an action list written from the figures.

No free text is generated: each sentence is a template of :mod:`salesml.reports.lang` filled
with figures the report already holds (headline, revenue bridge, the next level down, early
warnings), and each links to the section that backs it (``#figures``, ``#bridge``,
``#ranking``, ``#warnings``). Which sentences appear depends on what the figures say: no target,
no sentence about the gap; no stored churn scores, no sentence about customers at risk.

* **What changed**: revenue, its change on the month before and on the same month last year,
  attainment.
* **Why**: the largest parts of the revenue bridge against the month before.
* **Where**: the row of the next level down (regions of the company, teams of a region, reps
  of a team, categories of a rep) furthest behind its target, with its largest negative part of
  the bridge; or, when the target is met, how many rows met theirs; without targets, the
  largest change.
* **Needs attention**: customers at high churn risk and whose they are; overdue pipeline and
  sudden drops.
* **Margin and returns**: margin against last month, returns against gross sales.

The actions follow the same figures (at most five): the plan of the row furthest behind, the
at-risk customers of the owner with the most, the overdue opportunities, the sudden drop, and
discounting when lower prices cost more than a set share of revenue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from salesml.accounting.bridge import PARTS
from salesml.config import WarningsSettings
from salesml.insights.warnings import Warnings
from salesml.periods import shift_period
from salesml.reports import html as H
from salesml.reports.lang import Lang, add_text

#: a price effect below minus this share of the base revenue asks for a look at discounts
PRICE_ACTION_SHARE = 0.01

add_text(
    {
        "summary": ("Summary", "摘要"),
        "part_new_customers": ("new customers", "新客户"),
        "part_lost_customers": ("lost customers", "流失客户"),
        "part_price": ("price", "价格"),
        "part_volume": ("volume", "销量"),
        "part_mix": ("mix", "产品结构"),
        "part_returns": ("returns", "退货"),
        "actions": ("What to do", "建议行动"),
        "s_revenue": ("Revenue {value}", "净收入 {value}"),
        "s_mom": ("{change} on {month}", "较{month} {change}"),
        "s_yoy": ("{change} on {month}", "较{month} {change}"),
        "s_att": ("{pct} of target", "完成目标的 {pct}"),
        "s_why": ("Against {month}, the change of {change} came mostly from {parts}.", "相对{month}，{change} 的变动主要来自{parts}。"),
        "s_gap": ("The largest gap to target is {unit} ({gap} vs target, {share} of the shortfall)", "距目标差距最大的是{unit}（差 {gap}，占总缺口的 {share}）"),
        "s_gap_part": (", where {part} ({value}) weighed most against last month", "，相对上月拖累最大的是{part}（{value}）"),
        "s_met": ("{met} of {total} {level}s met their target; furthest behind: {unit} at {pct}", "{total} 个{level}中有 {met} 个完成目标；落后最多的是{unit}（{pct}）"),
        "s_all_met": ("All {total} {level}s met their target", "全部 {total} 个{level}都完成了目标"),
        "s_biggest": ("The biggest change was {unit} ({change})", "变动最大的是{unit}（{change}）"),
        "s_biggest_part": (", mostly {part} ({value})", "，主要来自{part}（{value}）"),
        "s_at_risk": ("{n} customers worth {value} are at high churn risk", "{n} 个客户流失风险高，涉及 {value}"),
        "s_at_risk_owner": ("; {k} of them belong to {owner}", "，其中 {k} 个属于{owner}"),
        "s_stale": ("{n} opportunities worth {amount} are past their expected close", "{n} 个商机（{amount}）已过预计成交日"),
        "s_drop": ("{unit} sold {pct} less in the 7 days to {end} than in a usual week", "{unit}截至 {end} 的 7 天销售额比平常一周低 {pct}"),
        "s_margin": ("Gross margin {pct}, {delta} points on last month", "毛利率 {pct}，较上月 {delta} 个百分点"),
        "s_returns": ("Returns {value} ({pct} of gross sales)", "退货 {value}（占销售总额 {pct}）"),
        "join_and": (" and ", "和"),
        "join_comma": (", ", "、"),
        "clause_comma": (", ", "，"),
        "clause_semicolon": ("; ", "；"),
        "end": (".", "。"),
        "a_gap": ("Go through {unit}'s plan and pipeline with its manager: {gap} still to target.", "与{unit}的负责人一起检查计划和商机：距目标还差 {gap}。"),
        "a_at_risk": ("Call the {n} at-risk customers of {owner}, the highest value first (list under Early warnings).", "联系{owner}名下 {n} 个高流失风险客户，价值高者优先（名单见“风险预警”）。"),
        "a_stale": ("Update or close the {n} overdue opportunities, starting with {owner} ({amount}).", "更新或关闭 {n} 个逾期商机，从{owner}（{amount}）开始。"),
        "a_gap_with_rep": ("Sit down with {unit} about the plan and pipeline: {gap} still to target.", "与{unit}一起检查计划和商机：距目标还差 {gap}。"),
        "a_gap_rep": ("Work on your largest gap to the team: {gap}.", "改进与团队差距最大的一项：{gap}。"),
        "a_drop": ("Ask {unit} what changed in the last 7 days ({pct} below a usual week).", "了解{unit}最近 7 天发生了什么（比平常一周低 {pct}）。"),
        "a_price": ("Check discounting: lower prices took {value} off revenue against {month}.", "检查折扣：价格下降使收入相对{month}减少 {value}。"),
        "warnings": ("Early warnings", "风险预警"),
        "no_warnings": ("No warnings for the 7 days to {end}: no sudden drop, no overdue opportunity, no customer at high churn risk.",
                        "截至 {end} 的 7 天没有预警：没有销售骤降、没有逾期商机、没有高流失风险客户。"),
        "w_drop": ("{level} {unit}: {last} in the 7 days to {end}, {pct} below its usual week of {usual}", "{level}{unit}：截至 {end} 的 7 天销售 {last}，比平常一周（{usual}）低 {pct}"),
        "w_drop_evidence": ("{z} standard deviations below the mean of the {weeks} weeks before", "低于之前 {weeks} 周均值 {z} 个标准差"),
        "w_stale_one": ("{owner}: 1 opportunity ({amount}) past its expected close by {days} days", "{owner}：1 个商机（{amount}）已过预计成交日 {days} 天"),
        "s_stale_one": ("1 opportunity worth {amount} is past its expected close", "1 个商机（{amount}）已过预计成交日"),
        "a_stale_one": ("Update or close the overdue opportunity of {owner} ({amount}).", "更新或关闭{owner}的逾期商机（{amount}）。"),
        "s_at_risk_one": ("1 customer worth {value} is at high churn risk", "1 个客户流失风险高，涉及 {value}"),
        "a_at_risk_one": ("Call the at-risk customer of {owner} (list under Early warnings).", "联系{owner}名下的高流失风险客户（名单见“风险预警”）。"),
        "w_at_risk_one": ("1 customer at high churn risk (risk ≥ {threshold}), worth {value}", "1 个客户流失风险高（风险 ≥ {threshold}），涉及 {value}"),
        "w_stale": ("{owner}: {n} opportunities ({amount}) past their expected close, the oldest by {days} days", "{owner}：{n} 个商机（{amount}）已过预计成交日，最久逾期 {days} 天"),
        "w_at_risk": ("{n} customers at high churn risk (risk ≥ {threshold}), worth {value}", "{n} 个客户流失风险高（风险 ≥ {threshold}），涉及 {value}"),
        "w_at_risk_evidence": ("scores of {as_of}, model {version}", "{as_of} 的评分，模型 {version}"),
        "w_more": ("and {n} more", "另有 {n} 项"),
        "w_skipped": ("Not checked: {why}.", "未检查：{why}。"),
        "skip_stale": ("overdue pipeline (no opportunities loaded)", "逾期商机（未导入商机）"),
        "skip_at_risk": ("customers at risk (no churn scores stored: run salesml score churn)", "流失风险客户（没有评分：请运行 salesml score churn）"),
        "level_word_region": ("region", "区域"),
        "level_word_team": ("team", "团队"),
        "level_word_rep": ("rep", "销售代表"),
        "level_word_category": ("category", "品类"),
        "at_risk_top": ("Customers at risk, highest value first", "流失风险客户（价值高者在前）"),
    }
)


@dataclass(frozen=True)
class Sentence:
    text: str
    #: the section that backs it (an anchor on the page)
    link: str = ""


@dataclass
class Facts:
    """The figures a performance summary is written from (all already in the report)."""

    period: str
    scope_level: str
    headline: dict
    trend: pd.DataFrame
    bridge_prev: pd.DataFrame
    bridge_year: pd.DataFrame
    sub_level: str
    sub_rows: pd.DataFrame
    bridge_rows: pd.DataFrame
    warnings: Warnings
    label: Callable[[str], str] = str
    extra: dict = field(default_factory=dict)


def _num(v) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def join(items: list[str], L: Lang) -> str:
    if len(items) <= 1:
        return "".join(items)
    return L.t("join_comma").join(items[:-1]) + L.t("join_and") + items[-1]


def parts_phrase(row: pd.Series, L: Lang, n: int = 3) -> str:
    """The ``n`` largest parts of a bridge row, e.g. "volume +¥21.9M, new customers +¥9.7M and
    lost customers −¥3.0M"."""
    parts = sorted(PARTS, key=lambda p: -abs(float(row[p])))[:n]
    return join([f"{L.t(f'part_{p}')} {L.money(row[p], signed=True)}" for p in parts if float(row[p])], L)


def _key(level: str) -> str:
    return {"rep": "rep_id"}.get(level, level)


def _unit(row: pd.Series, level: str, facts: Facts, L: Lang) -> str:
    key = _key(level)
    value = row[key]
    if level == "region":
        value = facts.label(value)
    elif level == "rep" and pd.notna(row.get("rep_name")):
        value = f"{value} {row['rep_name']}"
    elif level == "category":
        value = L.value(value)
    return _named(level, value, L)


def _sentence(clauses: list[str], L: Lang, link: str) -> Sentence:
    return Sentence(L.t("clause_comma").join(c for c in clauses if c) + L.t("end"), link)


def performance_summary(facts: Facts, L: Lang) -> tuple[list[Sentence], list[Sentence]]:
    """The sentences and actions of a performance report."""
    f, out, actions = facts.headline, [], []
    prev_month, ly_month = L.month(shift_period(facts.period, -1)), L.month(shift_period(facts.period, -12))
    revenue = _num(f.get("revenue"))
    if revenue is None:
        return out, actions
    # what changed
    clauses = [L.t("s_revenue", value=L.money(revenue))]
    if _num(f.get("growth_mom_pct")) is not None:
        clauses.append(L.t("s_mom", change=L.pct(f["growth_mom_pct"], True), month=prev_month))
    if _num(f.get("growth_yoy_pct")) is not None:
        clauses.append(L.t("s_yoy", change=L.pct(f["growth_yoy_pct"], True), month=ly_month))
    if _num(f.get("attainment_pct")) is not None:
        clauses.append(L.t("s_att", pct=L.pct(f["attainment_pct"])))
    out.append(_sentence(clauses, L, "figures"))
    # why
    b = facts.bridge_prev
    if len(b) and float(b.iloc[0]["base_revenue"]) and float(b.iloc[0]["change"]):
        row = b.iloc[0]
        out.append(Sentence(L.t("s_why", month=prev_month, change=L.money(row["change"], signed=True), parts=parts_phrase(row, L)), "bridge"))
        price = float(row["price"])
        if price < -PRICE_ACTION_SHARE * float(row["base_revenue"]):
            actions.append(Sentence(L.t("a_price", value=L.money(-price), month=prev_month), "bridge"))
    # where
    where = _where(facts, L)
    if where:
        out.append(where[0])
        actions[:0] = where[1:]
    # needs attention
    w = facts.warnings
    if len(w.at_risk):
        clauses = [L.t("s_at_risk", n=L.count(len(w.at_risk)), value=L.money(w.at_risk["value_at_risk"].sum()))]
        owners = w.at_risk.groupby("owner_rep_id", dropna=True).agg(n=("customer_id", "size"), value=("value_at_risk", "sum"))
        if len(owners):
            top = owners.sort_values(["n", "value"], ascending=False).index[0]
            k = int(owners.loc[top, "n"])
            name = w.at_risk.loc[w.at_risk["owner_rep_id"] == top, "owner_name"].iloc[0]
            owner = f"{top} {name}" if pd.notna(name) else str(top)
            if facts.scope_level != "rep":
                clauses[0] += L.t("s_at_risk_owner", k=L.count(k), owner=owner)
            actions.append(Sentence(L.t("a_at_risk", n=L.count(k), owner=owner), "warnings"))
        out.append(_sentence(clauses, L, "warnings"))
    attention = []
    if len(w.stale):
        attention.append(L.t("s_stale", n=L.count(w.stale["opportunities"].sum()), amount=L.money(w.stale["amount"].sum())))
        top = w.stale.iloc[0]
        owner = f"{top['rep_id']} {top['rep_name']}" if pd.notna(top["rep_name"]) else str(top["rep_id"])
        actions.append(Sentence(L.t("a_stale", n=L.count(w.stale["opportunities"].sum()), owner=owner, amount=L.money(top["amount"])), "warnings"))
    if len(w.drops):
        d = w.drops.iloc[0]
        unit = _drop_unit(d, facts, L)
        attention.append(L.t("s_drop", unit=unit, pct=L.pct(d["drop_pct"], digits=0), end=L.date(w.end)))
        actions.append(Sentence(L.t("a_drop", unit=unit, pct=L.pct(d["drop_pct"], digits=0)), "warnings"))
    if attention:
        out.append(Sentence(L.t("clause_semicolon").join(attention) + L.t("end"), "warnings"))
    if facts.extra.get("top_gap"):
        actions.append(Sentence(L.t("a_gap_rep", gap=facts.extra["top_gap"]), "scorecard"))
    # margin and returns
    clauses = []
    t = facts.trend
    margin_pct = _num(f.get("margin_pct"))
    if margin_pct is not None and len(t) >= 2:
        prev = t[t["period"] == shift_period(facts.period, -1)]
        if len(prev) and pd.notna(prev["margin"].iloc[0]) and _num(prev["revenue"].iloc[0]):
            before = float(prev["margin"].iloc[0]) / float(prev["revenue"].iloc[0]) * 100
            clauses.append(L.t("s_margin", pct=L.pct(margin_pct), delta=f"{margin_pct - before:+.1f}".replace("-", "−")))
    gross = _num(f.get("gross_sales"))
    if gross and _num(f.get("returns")):
        clauses.append(L.t("s_returns", value=L.money(f["returns"]), pct=L.pct(float(f["returns"]) / gross * 100)))
    if clauses:
        out.append(Sentence(" ".join(c + L.t("end") for c in clauses) if not L.zh else "".join(c + L.t("end") for c in clauses), "figures"))
    return out[:6], actions[:5]


def _drop_unit(d: pd.Series, facts: Facts, L: Lang) -> str:
    value = facts.label(d["group"]) if d["level"] == "region" else d["group"]
    return _named(d["level"], value, L)


def _named(level: str, value, L: Lang) -> str:
    """"region East China" / "区域East China"."""
    word = L.t(f"level_word_{level}")
    return f"{word}{value}" if L.zh else f"{word} {value}"


def _where(facts: Facts, L: Lang) -> list[Sentence]:
    """The "where" sentence (and the action it implies), from the next level down."""
    level, rows, bridges = facts.sub_level, facts.sub_rows, facts.bridge_rows
    key = _key(level)
    if len(rows) and "target_revenue" in rows and rows["target_revenue"].notna().any():
        r = rows.dropna(subset=["target_revenue"]).assign(gap=lambda d: d["target_revenue"].astype(float) - d["revenue"].fillna(0).astype(float))
        short = r[r["gap"] > 0]
        if len(short):
            worst = short.sort_values(["gap", key], ascending=[False, True]).iloc[0]
            unit = _unit(worst, level, facts, L)
            text = L.t("s_gap", unit=unit, gap=L.money(-worst["gap"], signed=True), share=L.pct(worst["gap"] / short["gap"].sum() * 100, digits=0))
            mine = bridges[bridges[key] == worst[key]] if len(bridges) and key in bridges else pd.DataFrame()
            if len(mine):
                part = min(PARTS, key=lambda p: float(mine.iloc[0][p]))
                if float(mine.iloc[0][part]) < 0:
                    text += L.t("s_gap_part", part=L.t(f"part_{part}"), value=L.money(mine.iloc[0][part], signed=True))
            action = L.t("a_gap_with_rep" if level == "rep" else "a_gap", unit=unit, gap=L.money(worst["gap"]))
            return [Sentence(text + L.t("end"), "ranking"), Sentence(action, "ranking")]
        met = r[r["gap"] <= 0]
        return [Sentence(L.t("s_all_met", total=len(r), level=L.t(f"level_word_{level}")) + L.t("end"), "ranking")] if len(met) == len(r) else []
    if len(bridges):
        top = bridges.iloc[0]
        text = L.t("s_biggest", unit=_unit(top, level, facts, L), change=L.money(top["change"], signed=True))
        part = max(PARTS, key=lambda p: abs(float(top[p])))
        if float(top[part]):
            text += L.t("s_biggest_part", part=L.t(f"part_{part}"), value=L.money(top[part], signed=True))
        return [Sentence(text + L.t("end"), "bridge")]
    return []


def block(sentences: list[Sentence], actions: list[Sentence], L: Lang) -> H.Block:
    """The summary box: sentences linked to their sections, then the numbered actions."""
    if not sentences:
        return H.Block("", text="")

    def linked(s: Sentence) -> str:
        return f'<a href="#{H.esc(s.link)}">{H.esc(s.text)}</a>' if s.link else H.esc(s.text)

    body = "".join(f"<p>{linked(s)}</p>" for s in sentences)
    if actions:
        body += f"<p><strong>{H.esc(L.t('actions'))}</strong></p><ol>" + "".join(f"<li>{linked(a)}</li>" for a in actions) + "</ol>"
    text = "\n".join(s.text for s in sentences) + ("\n" + "\n".join(f"- {a.text}" for a in actions) if actions else "")
    return H.heading(L.t("summary"), 2, anchor="summary") + H.Block(f'<div class="salesml-summary">{body}</div>', text=text)


def warning_list(items: list[tuple[str, str]], L: Lang, none: str, skipped: list[str] = ()) -> H.Block:
    """Warnings as a red box: each ``(text, evidence)``; ``none`` when there are none;
    ``skipped``: the kinds that could not be checked, and why."""
    if not items:
        body = H.note(none)
    else:
        lis = "".join(
            f"<li>{H.esc(text)}" + (f'<div class="evidence">{H.esc(ev)}</div>' if ev else "") + "</li>" for text, ev in items
        )
        body = H.Block(f'<div class="salesml-warnings"><ul>{lis}</ul></div>', text="\n".join(t for t, _ in items))
    if skipped:
        body = body + H.note(L.t("w_skipped", why=L.t("join_comma").join(skipped)))
    return body


def warnings_block(w: Warnings, L: Lang, settings: WarningsSettings, label: Callable[[str], str] = str) -> H.Block:
    """The early warnings, each with its evidence; kinds that could not be checked say why."""
    max_items = settings.max_items
    head = H.heading(L.t("warnings"), 2, anchor="warnings")
    items: list[tuple[str, str]] = []
    for _, d in w.drops.head(max_items).iterrows():
        unit = label(d["group"]) if d["level"] == "region" else d["group"]
        items.append((
            L.t("w_drop", level=L.t(f"level_word_{d['level']}"), unit=unit, last=L.money(d["last_week"]), end=L.date(w.end),
                pct=L.pct(d["drop_pct"], digits=0), usual=L.money(d["usual"])),
            L.t("w_drop_evidence", z=f"{-d['z']:.1f}", weeks=settings.drop_weeks),
        ))
    if len(w.drops) > max_items:
        items.append((L.t("w_more", n=len(w.drops) - max_items), ""))
    for _, s in w.stale.head(max_items).iterrows():
        owner = f"{s['rep_id']} {s['rep_name']}" if pd.notna(s["rep_name"]) else str(s["rep_id"])
        items.append((L.t("w_stale", owner=owner, n=L.count(s["opportunities"]), amount=L.money(s["amount"]), days=L.count(s["days_overdue"])), ""))
    if len(w.stale) > max_items:
        items.append((L.t("w_more", n=len(w.stale) - max_items), ""))
    table = H.Block("", text="")
    if len(w.at_risk):
        a = w.at_risk
        items.append((
            L.t("w_at_risk", n=L.count(len(a)), threshold=f"{w.threshold:.2f}", value=L.money(a["value_at_risk"].sum())),
            L.t("w_at_risk_evidence", as_of=L.date(a["as_of"].iloc[0]), version=a["version"].iloc[0]),
        ))
        table = H.heading(L.t("at_risk_top"), 3) + H.view(
            a.rename(columns={"owner_rep_id": "owner"}), L, ["customer_id", "customer_name", "owner", "owner_name", "risk", "value_at_risk"],
            top=max_items * 2, labels={"owner_name": L.label("rep_name"), "risk": L.label("churn_probability")},
            formats={"risk": L.ratio, "value_at_risk": L.amount},
        )
    body = warning_list(items, L, L.t("no_warnings", end=L.date(w.end)), [L.t(f"skip_{k}") for k in w.skipped])
    return head + body + table + H.figures({"warnings": w.count, "warning_drops": len(w.drops), "warning_stale": len(w.stale),
                                             "warning_at_risk": len(w.at_risk)})

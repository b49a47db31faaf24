"""The data quality report: what ``notebooks/data_quality.ipynb`` shows.

For one load batch, the loads of a month, or (by default) the latest load run: the
reconciliation of every file (rows and money in = loaded + merged + quarantined), the
rule hits, the quarantine reasons and rows, the fixes and the flags, in English or Chinese
(``lang`` parameter, else ``[report] lang``).

The page opens with a summary written from those figures (rows read, loaded, fixed and
quarantined; whether they reconcile; the main quarantine reasons and fix rules; what to fix
in which file) and the early warnings (:func:`find_warnings`: a load quarantining more than
``[warnings] dq_quarantine_pct`` of its rows or revenue, a file that does not reconcile,
returns naming no sale, revenue without a customer, numbers converted from text in bulk,
date formats guessed from the data), each linked to the section that backs it.

The messages the ingest wrote in English (quarantine reasons, batch notes, flag details)
are shown in Chinese by pattern (:func:`translate_message`); a message no pattern knows
stays English and is recorded in the figures (``untranslated_messages``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go

from salesml.accounting import performance as perf
from salesml.config import Settings, notebook_settings
from salesml.reports import html as H
from salesml.reports import summary as S
from salesml.reports.lang import Lang, add_columns, add_text
from salesml.reports.performance import warehouse_connect

#: quarantine reasons that need no fix in the file (the copy kept is loaded)
NOTHING_TO_FIX = ("duplicates",)
#: row numbers quoted in an action
ROWS_QUOTED = 5
#: characters of a quarantined row as read shown on the page (all of it: salesml quarantine)
RECORD_CHARS = 120

add_columns(
    {
        "batch_id": ("text", "Batch", "批次"),
        "table_name": ("text", "Table", "数据表"),
        "rows_read": ("count", "Read", "读入行数"),
        "rows_loaded": ("count", "Loaded", "导入行数"),
        "rows_fixed": ("count", "With fixes", "有修正的行"),
        "rows_merged": ("count", "Merged", "合并行数"),
        "rows_quarantined": ("count", "Quarantined", "隔离行数"),
        "rows_flagged": ("count", "Flagged", "标记行数"),
        "rows_unlinked": ("count", "Unlinked returns", "无原销售的退货"),
        "rows_anonymous": ("count", "No customer", "无客户的行"),
        "revenue_read": ("cents", "Revenue read", "读入收入"),
        "revenue_loaded": ("cents", "Revenue loaded", "导入收入"),
        "revenue_quarantined": ("cents", "Revenue quarantined", "隔离收入"),
        "source_row": ("count", "Row", "行号"),
        "dq_rows": ("count", "Rows", "行数"),
        "dq_entries": ("count", "Entries", "记录数"),
    }
)

#: columns whose names other reports may use with other words: labelled here (``dq_col_*``), not registered
LOCAL_COLUMNS = {
    "file": ("File", "文件"),
    "encoding": ("Encoding", "编码"),
    "status": ("Status", "状态"),
    "reconciles": ("Reconciles", "对账"),
    "rule": ("Rule", "规则"),
    "what": ("What it does", "规则说明"),
    "outcome": ("Outcome", "结果"),
    "column": ("Column", "字段"),
    "before": ("Before", "修正前"),
    "after": ("After", "修正后"),
    "value": ("Value", "值"),
    "why": ("Why", "原因"),
    "reason": ("Reason", "原因"),
    "details": ("Problems (the reason first)", "问题（首项为隔离原因）"),
    "record": ("Row as read", "原始行"),
}

#: the canonical tables in words
TABLES = {
    "order_lines": ("order lines", "订单行"),
    "customers": ("customers", "客户"),
    "products": ("products", "产品"),
    "reps": ("reps", "销售代表"),
    "targets": ("targets", "目标"),
    "opportunities": ("opportunities", "商机"),
    "inventory": ("inventory", "库存"),
    "marketing_spend": ("marketing spend", "营销费用"),
    "tickets": ("tickets", "工单"),
    "order_splits": ("order splits", "订单拆分"),
    "promotions": ("promotions", "促销"),
}

#: what each cleaning rule does (rules of a source's own config are shown by their name)
RULES = {
    "normalize_text": ("full-width characters and stray spaces normalised", "规范全角字符和多余空格"),
    "normalize_case": ("letter case normalised", "统一大小写"),
    "aliases": ("names replaced by their aliases", "按别名替换名称"),
    "parse_numbers": ("numbers read from text such as ¥1,234.50 or 15%", "从 ¥1,234.50、15% 这类文本读取数字"),
    "parse_dates": ("dates that cannot be read", "无法读取的日期"),
    "derive_amounts": ("amount or unit price derived from the other", "由单价或金额推算另一项"),
    "mark_returns": ("returns marked by status and sign", "按状态和正负号标记退货"),
    "link_returns": ("returns linked to the sale they reverse", "退货关联到原销售"),
    "unlinked_returns": ("returns naming no loaded sale", "找不到原销售的退货"),
    "duplicates": ("repeated rows", "重复行"),
    "missing_required": ("required values missing", "缺少必填值"),
    "future_dates": ("dates in the future", "未来日期"),
    "unknown_keys": ("unknown customer, product or rep codes", "未知的客户、产品或销售代表代码"),
    "schema_checks": ("values breaking a rule of status, range or sign", "状态、范围或正负号不合规则的值"),
    "overlapping_stints": ("overlapping stints of a rep", "销售代表任职期重叠"),
    "split_shares": ("split shares not adding up to 100", "拆分比例之和不为 100"),
    "price_outliers": ("prices far from the product's median", "远离该产品中位价的价格"),
    "already_loaded": ("keys already loaded from another file", "键已由其他文件导入"),
    "mapping": ("mapping expressions that cannot be computed", "无法计算的字段映射表达式"),
    "join": ("rows the source's files do not join", "数据源文件无法关联的行"),
    "read": ("malformed lines", "格式错误的行"),
    "broken_records": ("records broken across lines", "跨行断开的记录"),
    "(load)": ("load checks", "导入检查"),
}

#: words salesml writes into this report's tables
WORDS = {
    "fix": ("fix", "修正"),
    "flag": ("flag", "标记"),
    "quarantine": ("quarantine", "隔离"),
    "merge": ("merge", "合并"),
    "loaded": ("loaded", "已导入"),
    "replaced": ("replaced", "已被替换"),
    "yes": ("yes", "是"),
    "NO": ("NO", "否"),
}

#: messages of the ingest (quarantine reasons, details, batch notes, flag details) in Chinese:
#: (regex matched whole, template over its groups); ``{t0}`` is group 0 as a table name
MESSAGES: list[tuple[re.Pattern, str]] = [
    (re.compile(rf"^{p}$"), zh)
    for p, zh in [
        (r"not a date \((.+)\)", "不是日期（{0}）"),
        (r"not a number \(decimal '(.)', thousands '(.)'\)", "不是数字（小数点 '{0}'，千分位 '{1}'）"),
        (r"not a number \((.+)\)", "不是数字（{0}）"),
        (r"a percentage where an amount is expected", "应为金额，却是百分比"),
        (r"not a whole number", "不是整数"),
        (r"the sale it returns is not loaded", "所退的销售未导入"),
        (r"a return with no sale to reverse", "退货找不到可冲销的销售"),
        (r"exact duplicate of a later row", "与后面的一行完全相同"),
        (r"exact duplicate of an earlier row", "与前面的一行完全相同"),
        (r"superseded by a later row with the same key", "被后面同一键的行取代"),
        (r"required value is missing", "缺少必填值"),
        (r"in the future", "日期在未来"),
        (r"unknown \(not in (\w+)\)", "未知（{t0}中没有）"),
        (r"overlaps an earlier stint of the same rep", "与同一销售代表较早的任职期重叠"),
        (r"shares of the order do not add up to 100", "订单的拆分比例之和不是 100"),
        (r"holds a line break or, in a record spanning lines, the delimiter \(a quote left open\?\)", "含换行符，或在跨行记录中含分隔符（引号未闭合？）"),
        (r"key already loaded from another file", "该键已由另一个文件导入"),
        (r"cannot compute (.+): an operand is not a number", "无法计算 {0}：有操作数不是数字"),
        (r"matches several rows in (.+)", "在 {0} 中匹配到多行"),
        (r"no matching row in (.+)", "在 {0} 中没有匹配的行"),
        (r"malformed line: (\d+) fields? where the header has (\d+)", "格式错误的行：{0} 个字段，表头有 {1} 个"),
        (r"malformed line: (\d+) fields? where the first line has (\d+)", "格式错误的行：{0} 个字段，第一行有 {1} 个"),
        (r"malformed line: (\d+) fields? where column_names has (\d+)", "格式错误的行：{0} 个字段，column_names 有 {1} 个"),
        (r"malformed line: a quote opened on line (\d+) is never closed: the lines to the end of the file are one field",
         "格式错误的行：第 {0} 行开始的引号没有闭合，直到文件末尾的各行成了一个字段"),
        (r"malformed line: cannot be read as CSV: (.+)", "格式错误的行：无法按 CSV 读取（{0}）"),
        (r"not of the form YYYY-MM", "不是 YYYY-MM 格式"),
        (r"negative", "为负数"),
        (r"not one of (.+)", "不是 {0} 之一"),
        (r"not between (\S+) and (\S+)", "不在 {0} 到 {1} 之间"),
        (r"is 0", "为 0"),
        (r"sign of quantity does not match status \(returns are negative, sales positive\)", "数量的正负与状态不符（退货为负，销售为正）"),
        (r"valid_to is before valid_from", "valid_to 早于 valid_from"),
        (r"too large for the warehouse \(limit (.+)\)", "超出仓库的上限（{0}）"),
        # details
        (r"kept row (\d+)", "保留第 {0} 行"),
        (r"repeats row (\d+)", "重复第 {0} 行"),
        (r"after (\d{4}-\d\d-\d\d)", "晚于 {0}"),
        (r"they add up to (.+)", "合计 {0}"),
        (r"no earlier sale of (.+) to (.+) with that quantity left", "没有向 {1} 销售 {0} 且数量足够的更早记录"),
        (r"unlinked: no earlier sale of (.+) to (.+) with that quantity left", "无关联：没有向 {1} 销售 {0} 且数量足够的更早记录"),
        (r"no customer to match", "没有客户可匹配"),
        (r"unlinked: no customer to match", "无关联：没有客户可匹配"),
        (r"lines (\d+)-(\d+)", "第 {0}–{1} 行"),
        (r"line (\d+)", "第 {0} 行"),
        # flag details
        (r"before discount (\S+) vs median (\S+) \(robust z (\S+)\)", "折前 {0}，中位价 {1}（稳健 z 值 {2}）"),
        (r"names a sale that is not loaded: counts in the month of the return", "所指的销售未导入：计入退货当月"),
        (r"read as (\S+) \((.+)\); with decimal '(.)' it would be (\S+)", "读作 {0}（{1}）；若小数点为 '{2}' 则为 {3}"),
        (r"accounting negative on a sale line: read as (\S+)", "销售行上的会计负数：读作 {0}"),
        # batch notes
        (r"(.+): dates read as (.+) \(detected\)", "{0}：日期按 {1} 读取（由数据识别）"),
        (r"([\d,]+) malformed line\(s\) quarantined with their line number and text \(their money is not counted\)",
         "{0} 行格式错误，已连同行号和原文隔离（其金额不计入）"),
        (r"([\d,]+) record\(s\) span ([\d,]+) lines of the file \(a quoted line break, or a quote left open\); ([\d,]+) lines in all",
         "{0} 条记录跨越文件中的 {1} 行（引号内的换行，或引号未闭合）；共 {2} 行"),
        (r"([\d,]+) line\(s\) without a customer \(walk-in / guest\): revenue (\S+), left out of customer models",
         "{0} 行没有客户（散客 / 访客）：收入 {1}，不计入客户模型"),
        (r"([\d,]+) return\(s\) with no sale to reverse, accepted as unlinked: (\S+) in the month of the return",
         "{0} 笔退货找不到原销售，按无关联退货接受：{1} 计入退货当月"),
        (r"the mapping changed since batch (.+): the file is read again and its rows replace that batch's",
         "自批次 {0} 以来字段映射已改变：重新读取该文件，其行替换该批次的行"),
        (r"a new version of the file: its rows replace batch (.+)", "文件的新版本：其行替换批次 {0}"),
    ]
]
#: translations of the inner parts of a message (the number style of "not a number (...)")
_DECIMAL = re.compile(r"decimal '(.)', thousands '(.)'")

add_text(
    {
        "dq_title": ("Data quality: {selection}", "数据质量：{selection}"),
        "dq_sel_batch": ("load batch {batch}", "导入批次 {batch}"),
        "dq_sel_period": ("loads of {period}", "{period}的导入"),
        "dq_sel_run": ("the latest load run ({run})", "最近一次导入（{run}）"),
        "dq_sel_latest": ("the latest load (batch {batch})", "最近一次导入（批次 {batch}）"),
        "dq_title_note": (
            "{n} load batches from {first} to {last}, warehouse {warehouse}. Every row read is loaded (perhaps with fixes), merged into an identical row, or quarantined with a reason.",
            "{n} 个导入批次，{first} 至 {last}，数据仓库 {warehouse}。读入的每一行都已导入（可能有修正）、并入相同的行，或带原因隔离。",
        ),
        "dq_title_note_one": (
            "1 load batch of {first}, warehouse {warehouse}. Every row read is loaded (perhaps with fixes), merged into an identical row, or quarantined with a reason.",
            "1 个导入批次，{first}，数据仓库 {warehouse}。读入的每一行都已导入（可能有修正）、并入相同的行，或带原因隔离。",
        ),
        # cards
        "dq_card_read": ("Rows read", "读入行数"),
        "dq_card_files": ("{n} files", "{n} 个文件"),
        "dq_card_files_one": ("1 file", "1 个文件"),
        "dq_card_loaded": ("Loaded", "已导入"),
        "dq_card_with_fixes": ("{n} with fixes", "其中 {n} 行有修正"),
        "dq_card_quarantined": ("Quarantined", "已隔离"),
        "dq_card_merged": ("{n} merged", "合并 {n} 行"),
        "dq_card_flagged": ("Flagged", "已标记"),
        "dq_card_flagged_sub": ("loaded, worth a look", "已导入，值得一看"),
        "dq_card_reconciles": ("Reconciles", "对账"),
        "dq_card_reconciles_sub": ("rows and money, to the cent", "行数与金额，精确到分"),
        "dq_card_revenue": ("Revenue read", "读入收入"),
        "dq_card_revenue_sub": ("quarantined {value}", "隔离 {value}"),
        "dq_card_unlinked": ("Unlinked returns", "无原销售的退货"),
        "dq_card_unlinked_sub": ("{value}, in the month they happened", "{value}，计入发生当月"),
        "dq_card_anonymous": ("Lines without a customer", "无客户的行"),
        "dq_card_anonymous_sub": ("{value}, not in customer models", "{value}，不计入客户模型"),
        # sections
        "dq_reconciliation": ("Reconciliation", "对账"),
        "dq_reconciliation_note": ("Rows read = loaded + merged + quarantined; revenue read = loaded + quarantined, to the cent.",
                                   "读入行数 = 导入 + 合并 + 隔离；读入收入 = 导入 + 隔离，精确到分。"),
        "dq_batch_note": ("Batch {batch} ({table}): {note}", "批次 {batch}（{table}）：{note}"),
        "dq_rules": ("Rule hits", "规则命中"),
        "dq_rules_note": ("Rows each cleaning rule fixed, flagged, merged or quarantined.", "每条清洗规则修正、标记、合并或隔离的行数。"),
        "dq_no_rules": ("No rule changed, flagged or rejected anything.", "没有规则修改、标记或拒绝任何数据。"),
        "dq_quarantine": ("Quarantine", "隔离"),
        "dq_no_quarantine": ("Nothing was quarantined.", "没有数据被隔离。"),
        "dq_reasons_chart": ("Quarantined rows by reason", "各原因的隔离行数"),
        "dq_quarantined_rows": ("Quarantined rows", "隔离的行"),
        "dq_rows_note": ("Row numbers are as a spreadsheet shows the file (header = row 1).", "行号与电子表格中看到的一致（表头为第 1 行）。"),
        "dq_more": ("Top {shown} of {total} shown; all of them: {command}", "显示前 {shown} 行，共 {total} 行；全部：{command}"),
        "dq_fixes": ("Fixes and flags", "修正与标记"),
        "dq_fixes_note": ("Examples of each fix (rule, column, value before and after); every flag.", "每种修正的示例（规则、字段、修正前后的值）；全部标记。"),
        "dq_fixes_more": ("{shown} examples of {total} fixed values; all of them: {command}", "{total} 个修正值中的 {shown} 个示例；全部：{command}"),
        "dq_no_fixes": ("No values were changed or flagged.", "没有值被修改或标记。"),
        "dq_flagged": ("Flagged (loaded, worth a look)", "已标记（已导入，值得一看）"),
        "dq_how_made": ("How these figures are made", "数字的计算方法"),
        "dq_how_made_text": (
            "Each file is read, mapped onto the canonical columns and cleaned by named rules: a rule fixes a value (recorded before and after), flags a loaded row for a look, merges an identical row, or quarantines the row with its reason; the rows, revenue and rule hits of every load are kept in the warehouse (load_batches, quarantine, row_fixes).",
            "每个文件被读取、映射到标准字段，并由命名的清洗规则处理：规则修正一个值（记录修正前后）、标记已导入的行以供检查、合并相同的行，或带原因隔离该行；每次导入的行数、收入和规则命中都保存在数据仓库中（load_batches、quarantine、row_fixes）。",
        ),
        # summary
        "dq_s_rows": ("{read} rows read from {n} files: {loaded} loaded{fixed}{merged} and {quarantined}",
                      "从 {n} 个文件读入 {read} 行：导入 {loaded} 行{fixed}{merged}，{quarantined}"),
        "dq_s_rows_one": ("{read} rows read from 1 file: {loaded} loaded{fixed}{merged} and {quarantined}",
                          "从 1 个文件读入 {read} 行：导入 {loaded} 行{fixed}{merged}，{quarantined}"),
        "dq_s_fixed": (" ({n} of them with a recorded fix)", "（其中 {n} 行有修正记录）"),
        "dq_s_quarantined": ("{n} quarantined ({pct})", "隔离 {n} 行（{pct}）"),
        "dq_s_none_quarantined": ("none quarantined", "没有隔离"),
        "dq_s_clean": ("{read} rows read from {n} files, all loaded as they were: nothing fixed, flagged or quarantined",
                       "从 {n} 个文件读入 {read} 行，全部原样导入：没有修正、标记或隔离"),
        "dq_s_clean_one": ("{read} rows read from 1 file, all loaded as they were: nothing fixed, flagged or quarantined",
                           "从 1 个文件读入 {read} 行，全部原样导入：没有修正、标记或隔离"),
        "dq_s_merged": (", {merged} merged into identical rows", "，{merged} 行并入相同的行"),
        "dq_s_reconciles": ("Every file reconciles: rows in = rows out", "每个文件都对得上：读入行数 = 去向行数"),
        "dq_s_reconciles_one": ("The file reconciles: rows in = rows out", "该文件对得上：读入行数 = 去向行数"),
        "dq_s_money": ("and revenue read {read} = {loaded} loaded + {quarantined} quarantined, to the cent",
                       "读入收入 {read} = 导入 {loaded} + 隔离 {quarantined}，精确到分"),
        "dq_s_not_reconciled": ("{bad} of {n} files do not reconcile: {files}", "{n} 个文件中有 {bad} 个对不上：{files}"),
        "dq_s_not_reconciled_one": ("The file does not reconcile: {files}", "该文件对不上：{files}"),
        "dq_s_reasons": ("Quarantined mostly for: {reasons}", "隔离的主要原因：{reasons}"),
        "dq_s_reason": ("“{reason}” in {table} ({n})", "{table}“{reason}”（{n} 行）"),
        "dq_s_more_reasons": ("{n} other reasons", "另外 {n} 种原因"),
        "dq_s_more_reasons_one": ("1 other reason", "另外 1 种原因"),
        "dq_s_fixes": ("Fixes recorded: {rules}", "记录的修正：{rules}"),
        "dq_s_rule": ("{what} ({n} rows)", "{what}（{n} 行）"),
        "dq_s_rule_one": ("{what} (1 row)", "{what}（1 行）"),
        "dq_s_no_fixes": ("No value needed a fix", "没有值需要修正"),
        "dq_s_flags": ("{n} loaded rows are flagged for a look ({rules})", "{n} 行已导入的数据被标记待查（{rules}）"),
        "dq_s_flags_one": ("1 loaded row is flagged for a look ({rules})", "1 行已导入的数据被标记待查（{rules}）"),
        "dq_s_warnings": ("{n} early warnings, the first — {first}", "{n} 项风险预警，第一项——{first}"),
        "dq_s_warnings_one": ("1 early warning — {first}", "1 项风险预警——{first}"),
        "dq_s_no_warnings": ("No early warning: every check below is within its limit", "没有风险预警：下列各项检查都在限值以内"),
        # actions
        "dq_a_unknown": ("Fix the {n} rows with an unknown {column} in {file} (rows {rows}), or load the missing codes into {ref} first; then load the file again.",
                         "修正 {file} 中 {column} 未知的 {n} 行（第 {rows} 行），或先把缺少的代码导入{ref}；然后重新导入该文件。"),
        "dq_a_unknown_one": ("Fix row {rows} of {file} (unknown {column}), or load the missing code into {ref} first; then load the file again.",
                             "修正 {file} 的第 {rows} 行（{column} 未知），或先把缺少的代码导入{ref}；然后重新导入该文件。"),
        "dq_a_fix": ("Fix the {n} rows of {file} quarantined for “{reason}” (rows {rows}), then load the file again.",
                     "修正 {file} 中因“{reason}”被隔离的 {n} 行（第 {rows} 行），然后重新导入该文件。"),
        "dq_a_fix_one": ("Fix row {rows} of {file}, quarantined for “{reason}”, then load the file again.",
                         "修正 {file} 的第 {rows} 行（因“{reason}”被隔离），然后重新导入该文件。"),
        "dq_a_reconcile": ("Load {file} again and, if batch {batch} still does not reconcile, report it: its figures cannot be trusted.",
                           "重新导入 {file}；如果批次 {batch} 仍然对不上，请报告：其数字不可信。"),
        "dq_a_flags": ("Check the {n} flagged rows of {file} ({rules}): they are loaded, so a typo counts in the figures.",
                       "核对 {file} 中被标记的 {n} 行（{rules}）：它们已导入，若有录入错误会计入数字。"),
        "dq_a_flags_one": ("Check the flagged row of {file} ({rules}): it is loaded, so a typo counts in the figures.",
                           "核对 {file} 中被标记的 1 行（{rules}）：它已导入，若有录入错误会计入数字。"),
        "dq_a_unlinked": ("Load the sales that the {n} unlinked returns of {file} reverse, or correct their order references.",
                          "导入 {file} 中 {n} 笔无关联退货所冲销的销售，或更正其订单引用。"),
        "dq_a_unlinked_one": ("Load the sale that the unlinked return of {file} reverses, or correct its order reference.",
                              "导入 {file} 中那笔无关联退货所冲销的销售，或更正其订单引用。"),
        "dq_a_anonymous": ("Ask whoever keeps {file} to record the customer: {pct} of its revenue has none.",
                           "请 {file} 的维护人员记录客户：其 {pct} 的收入没有客户。"),
        "dq_a_dates": ("Set date_format for {column} of {table} in the source's settings (now detected as {styles}).",
                       "在数据源设置中为{table}的 {column} 设定 date_format（目前由数据识别为 {styles}）。"),
        "dq_a_numbers": ("Check how {file} writes numbers: {n} rows were converted from text (e.g. “{before}” → {after}).",
                         "检查 {file} 的数字写法：{n} 行由文本转换（例如“{before}”→ {after}）。"),
        "dq_a_numbers_one": ("Check how {file} writes numbers: 1 row was converted from text (“{before}” → {after}).",
                             "检查 {file} 的数字写法：1 行由文本转换（“{before}”→ {after}）。"),
        # warnings
        "dq_no_warnings": ("No early warnings: every check below is within its limit.", "没有风险预警：各项检查都在限值以内。"),
        "dq_w_not_reconciled": ("{file} (batch {batch}) does not reconcile: {what}", "{file}（批次 {batch}）对不上：{what}"),
        "dq_w_rows_off": ("{read} rows read, {out} accounted for", "读入 {read} 行，去向 {out} 行"),
        "dq_w_money_off": ("revenue read {read}, loaded + quarantined {out}", "读入收入 {read}，导入 + 隔离 {out}"),
        "dq_w_not_reconciled_evidence": ("rows read = loaded + merged + quarantined; revenue read = loaded + quarantined, to the cent",
                                         "读入行数 = 导入 + 合并 + 隔离；读入收入 = 导入 + 隔离，精确到分"),
        "dq_w_quarantine": ("{file}: {pct} of its rows quarantined ({n} of {read})", "{file}：{pct} 的行被隔离（{read} 行中的 {n} 行）"),
        "dq_w_quarantine_money": ("{file}: {pct} of its rows ({n} of {read}) and {money_pct} of its revenue ({money}) quarantined",
                                  "{file}：{pct} 的行（{read} 行中的 {n} 行）和 {money_pct} 的收入（{money}）被隔离"),
        "dq_w_quarantine_evidence": ("above {threshold} ([warnings] dq_quarantine_pct); mostly “{reason}” ({n} rows)",
                                     "超过 {threshold}（[warnings] dq_quarantine_pct）；主要原因“{reason}”（{n} 行）"),
        "dq_w_quarantine_evidence_one": ("above {threshold} ([warnings] dq_quarantine_pct); for example “{reason}”",
                                         "超过 {threshold}（[warnings] dq_quarantine_pct）；例如“{reason}”"),
        "dq_w_unlinked": ("{file}: {n} of its {returns} returns name no loaded sale ({pct}), {money} counted in the month of the return",
                          "{file}：{returns} 笔退货中有 {n} 笔找不到已导入的原销售（{pct}），{money} 计入退货当月"),
        "dq_w_unlinked_one": ("{file}: 1 of its {returns} returns names no loaded sale ({pct}), {money} counted in the month of the return",
                              "{file}：{returns} 笔退货中有 1 笔找不到已导入的原销售（{pct}），{money} 计入退货当月"),
        "dq_w_unlinked_evidence": ("above {threshold} ([warnings] dq_unlinked_pct): the month and rep of the original sale keep their revenue",
                                   "超过 {threshold}（[warnings] dq_unlinked_pct）：原销售的月份和销售代表的收入未被冲减"),
        "dq_w_anonymous": ("{file}: {pct} of its revenue has no customer (walk-in / guest): {money} in {n} lines",
                           "{file}：{pct} 的收入没有客户（散客 / 访客）：{n} 行，{money}"),
        "dq_w_anonymous_one": ("{file}: {pct} of its revenue has no customer (walk-in / guest): {money} in 1 line",
                               "{file}：{pct} 的收入没有客户（散客 / 访客）：1 行，{money}"),
        "dq_w_anonymous_evidence": ("above {threshold} ([warnings] dq_anonymous_pct); left out of customer segments, churn and lifetime value",
                                    "超过 {threshold}（[warnings] dq_anonymous_pct）；不计入客户分群、流失和客户价值"),
        "dq_w_numbers": ("{file}: numbers in {n} rows ({pct}) were written as text and converted, e.g. {column} “{before}” → {after}",
                         "{file}：{n} 行（{pct}）的数字写成文本并被转换，例如 {column}“{before}”→ {after}"),
        "dq_w_numbers_one": ("{file}: a number in 1 row ({pct}) was written as text and converted: {column} “{before}” → {after}",
                             "{file}：1 行（{pct}）的数字写成文本并被转换：{column}“{before}”→ {after}"),
        "dq_w_numbers_evidence": ("above {threshold} ([warnings] dq_repaired_pct); each conversion is listed under Fixes and flags",
                                  "超过 {threshold}（[warnings] dq_repaired_pct）；每个转换都列在“修正与标记”中"),
        "dq_w_dates": ("{file}: the dates of {column} were read as {styles}, a format detected from the data", "{file}：{column} 的日期按 {styles} 读取，该格式由数据识别"),
        "dq_w_dates_evidence": ("no date_format is set for it: a later file whose days are all 12 or less cannot be read, and one in another format would be read without a word",
                                "未设定 date_format：以后若某个文件的日期都不超过 12 日将无法读取，换成另一种格式也不会有提示"),
        "dq_skip_money": ("revenue of {tables} (only order lines carry money: these files reconcile by rows)", "{tables}的收入（只有订单行有金额：这些文件按行数对账）"),
        "dq_skip_orders": ("unlinked returns and walk-in revenue (no order lines in this selection)", "无关联退货和散客收入（所选导入中没有订单行）"),
        "dq_skip_replaced": ("unlinked returns of batch {batches} (its rows were replaced by a later load)", "批次 {batches} 的无关联退货（其行已被后来的导入替换）"),
        "dq_skip_source": ("totals against the source system (salesml reconciles with what it read: compare the revenue read with the system's own report)",
                           "与源系统的合计核对（salesml 只与读入的数据对账：请将读入收入与源系统自己的报表比较）"),
    }
)


add_text({f"dq_col_{name}": pair for name, pair in LOCAL_COLUMNS.items()})


def table_word(name: object, L: Lang) -> str:
    """A canonical table in words ("order lines" / "订单行"); other names as they are."""
    pair = TABLES.get(str(name))
    return (pair[1] if L.zh else pair[0]) if pair else str(name)


def word(value: object, L: Lang) -> str:
    pair = WORDS.get(str(value))
    return (pair[1] if L.zh else pair[0]) if pair else L.value(value)


def rule_text(rule: object, L: Lang) -> str:
    """What a rule does, in words (a source's own rule: its name)."""
    pair = RULES.get(str(rule))
    return (pair[1] if L.zh else pair[0]) if pair else str(rule)


def _match_message(text: str, L: Lang) -> str | None:
    for pattern, zh in MESSAGES:
        m = pattern.match(text)
        if m:
            groups = [g or "" for g in m.groups()]
            if groups and "{t0}" in zh:
                return zh.replace("{t0}", table_word(groups[0], L))
            out = zh.format(*groups)
            return _DECIMAL.sub(lambda d: f"小数点 '{d.group(1)}'，千分位 '{d.group(2)}'", out)
    return None


def translate_message(text: object, L: Lang, unknown: set[str] | None = None) -> str:
    """A message the ingest wrote in English, in the page's language. In Chinese: each
    "; "-separated part as "column: problem (detail)", problem and detail by :data:`MESSAGES`;
    a part no pattern knows stays English and is added to ``unknown``."""
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return ""
    text = str(text)
    if not L.zh or not text:
        return text
    whole = _match_message(text, L)  # a note with a "; " of its own
    if whole is not None:
        return whole
    return "；".join(_translate_part(part, L, unknown) for part in text.split("; "))


def _translate_part(part: str, L: Lang, unknown: set[str] | None) -> str:
    # "column: problem", "column: problem (detail)", or a message of its own
    column, sep, rest = part.partition(": ")
    candidates = [(column, rest)] if sep and rest and " " not in column else []
    for prefix, body in [*candidates, ("", part)]:
        done = _match_with_detail(body, L)
        if done is not None:
            return f"{prefix}：{done}" if prefix else done
    if unknown is not None:
        unknown.add(part)
    return part


def _match_with_detail(body: str, L: Lang) -> str | None:
    """``body`` translated: a message followed by a detail in parentheses (the message as
    long as it can be), else the message alone."""
    if body.endswith(")"):
        for at in [i for i in range(len(body)) if body.startswith(" (", i)][::-1]:
            done = _match_message(body[:at], L)
            if done is not None:
                detail = body[at + 2:-1]
                inner = _match_message(detail, L)
                return f"{done}（{inner if inner is not None else detail}）"
    return _match_message(body, L)


def _text(v: object) -> str:
    return "" if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)) else str(v)


def _whole(v: object) -> str:
    return "" if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)) else str(int(v))


def file_name(path: object) -> str:
    return str(path).replace("\\", "/").rsplit("/", 1)[-1]


# --------------------------------------------------------------------------- findings


@dataclass
class Finding:
    """One early warning: its ``kind``, the batch and file it is about, and its figures."""

    kind: str
    batch_id: int
    file: str
    table: str
    values: dict = field(default_factory=dict)


def find_warnings(batches: pd.DataFrame, quarantine: pd.DataFrame, fixes: pd.DataFrame, returns: dict[int, int],
             settings: Settings) -> tuple[list[Finding], list[tuple[str, dict]]]:
    """The early warnings of the selected loads, and the checks that could not be made
    (``(text key, values)``). ``batches`` is :meth:`DataQualityReport.reconciliation_frame`;
    ``returns`` the return lines still in the warehouse per batch."""
    w = settings.warnings
    out: list[Finding] = []
    skipped: list[tuple[str, dict]] = []
    replaced: list[int] = []
    for b in batches.itertuples():
        bid, name, table = int(b.batch_id), file_name(b.path), str(b.table_name)
        read, quarantined = int(b.rows_read), int(b.rows_quarantined)
        merged = int(b.rows_merged) if pd.notna(b.rows_merged) else 0
        money = pd.notna(b.revenue_read)
        if b.reconciles != "yes":
            out.append(Finding("not_reconciled", bid, name, table, {
                "rows_ok": bool(b.rows_ok), "read": read, "out": int(b.rows_loaded) + merged + quarantined,
                "money_read": float(b.revenue_read) if money else None,
                "money_out": (float(b.revenue_loaded or 0) + float(b.revenue_quarantined or 0)) if money else None,
            }))
        rows_pct = quarantined / read * 100 if read else 0.0
        money_pct = float(b.revenue_quarantined or 0) / float(b.revenue_read) * 100 if money and float(b.revenue_read) else 0.0
        if quarantined and (rows_pct > w.dq_quarantine_pct or money_pct > w.dq_quarantine_pct):
            mine = quarantine[quarantine["batch_id"] == bid]
            top = mine["reason"].value_counts() if len(mine) else pd.Series(dtype="int64")
            out.append(Finding("quarantine", bid, name, table, {
                "n": quarantined, "read": read, "pct": rows_pct, "money_pct": money_pct if money else None,
                "money": float(b.revenue_quarantined or 0) if money else None,
                "reason": str(top.index[0]) if len(top) else "", "k": int(top.iloc[0]) if len(top) else 0,
            }))
        if table == "order_lines":
            unlinked = int(b.rows_unlinked) if pd.notna(b.rows_unlinked) else 0
            if unlinked:
                n_returns = returns.get(bid, 0)
                if n_returns < unlinked:  # its rows are no longer in the warehouse
                    replaced.append(bid)
                elif unlinked / n_returns * 100 > w.dq_unlinked_pct:
                    out.append(Finding("unlinked", bid, name, table, {
                        "n": unlinked, "returns": n_returns, "pct": unlinked / n_returns * 100, "money": float(b.revenue_unlinked or 0)}))
            loaded = float(b.revenue_loaded or 0)
            anon = float(b.revenue_anonymous or 0) if pd.notna(b.revenue_anonymous) else 0.0
            if loaded > 0 and anon / loaded * 100 > w.dq_anonymous_pct:
                out.append(Finding("anonymous", bid, name, table, {
                    "n": int(b.rows_anonymous or 0), "pct": anon / loaded * 100, "money": anon}))
        numbers = fixes[(fixes["batch_id"] == bid) & (fixes["rule"] == "parse_numbers") & (fixes["kind"] == "fix")]
        n_numbers = int(numbers["source_row"].nunique())
        if read and n_numbers / read * 100 > w.dq_repaired_pct:
            ex = numbers.iloc[0]
            out.append(Finding("numbers", bid, name, table, {
                "n": n_numbers, "pct": n_numbers / read * 100, "column": ex["column"], "before": ex["before"], "after": ex["after"]}))
        for note in json.loads(b.notes) if isinstance(b.notes, str) and b.notes else []:
            m = re.match(r"^(.+): dates read as (.+) \(detected\)$", str(note))
            if m:
                out.append(Finding("dates", bid, name, table, {"column": m.group(1), "styles": m.group(2)}))
    others = sorted({str(t) for t in batches["table_name"]} - {"order_lines"})
    if others:
        skipped.append(("dq_skip_money", {"tables": others}))
    if "order_lines" not in set(batches["table_name"]):
        skipped.append(("dq_skip_orders", {}))
    if replaced:
        skipped.append(("dq_skip_replaced", {"batches": ", ".join(map(str, replaced))}))
    skipped.append(("dq_skip_source", {}))
    order = ["not_reconciled", "quarantine", "unlinked", "anonymous", "numbers", "dates"]
    out.sort(key=lambda f: (order.index(f.kind), f.batch_id))
    return out, skipped


# --------------------------------------------------------------------------- the report


class DataQualityReport:
    """Reconciliation, rule hits, quarantine and fixes of the selected loads, in one language."""

    def __init__(self, batch: int = 0, load_period: str = "", config_path: str = "", warehouse: str = "", sample_rows: int = 0,
                 lang: str = ""):
        self.settings = notebook_settings(config_path, warehouse)
        # rows of a long list shown on the page (0 = [report] top_n)
        self.sample_rows = sample_rows or self.settings.report.top_n
        if load_period and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", load_period):
            raise ValueError(f"load_period {load_period!r} is not of the form YYYY-MM")
        with warehouse_connect(self.settings) as con:
            if batch:
                where, params = "batch_id = ?", [int(batch)]
                self.selection = f"load batch {int(batch)}"
                self._selection = ("dq_sel_batch", {"batch": int(batch)})
            elif load_period:
                where, params = "strftime(loaded_at, '%Y-%m') = ?", [load_period]
                self.selection = f"loads of {load_period}"
                self._selection = ("dq_sel_period", {"period": load_period})
            else:
                last = con.execute("SELECT run_id, batch_id FROM load_batches ORDER BY loaded_at DESC, batch_id DESC LIMIT 1").fetchall()
                if not last:
                    raise ValueError("no loads in the warehouse yet: run `salesml ingest` or `salesml demo`")
                run_id, batch_id = last[0]
                if run_id:
                    where, params = "run_id = ?", [run_id]
                    self.selection = f"the latest load run ({run_id})"
                    self._selection = ("dq_sel_run", {"run": run_id})
                else:
                    where, params = "batch_id = ?", [batch_id]
                    self.selection = f"the latest load (batch {batch_id})"
                    self._selection = ("dq_sel_latest", {"batch": batch_id})
            self.batches = con.execute(f"SELECT * FROM load_batches WHERE {where} ORDER BY batch_id", params).df()
            if self.batches.empty:
                raise ValueError(f"no load batches for {self.selection}")
            ids = [int(b) for b in self.batches["batch_id"]]
            marks = ", ".join("?" * len(ids))
            self.quarantine = con.execute(
                f"SELECT batch_id, table_name, path, source_row, rule, reason, details, record FROM quarantine "
                f"WHERE batch_id IN ({marks}) ORDER BY batch_id, source_row",
                ids,
            ).df()
            self.fixes = con.execute(
                f'SELECT batch_id, table_name, source_row, kind, rule, "column", before, after FROM row_fixes '
                f"WHERE batch_id IN ({marks}) ORDER BY batch_id, source_row",
                ids,
            ).df()
            # return lines still in the warehouse per batch (the share of them that name no sale)
            self.returns = {int(b): int(n) for b, n in con.execute(
                f"SELECT batch_id, count(*) FROM order_lines WHERE batch_id IN ({marks}) AND status = 'returned' GROUP BY 1", ids
            ).fetchall()}
            self.currency = perf.main_currency(con)
        self.L = Lang(lang or self.settings.report.lang, self.currency, self.settings.report.zh_wan_units)
        #: ingest messages no pattern translates (shown in English on a Chinese page)
        self.unknown_messages: set[str] = set()

    # ------------------------------------------------------------------ figures

    @property
    def totals(self) -> dict:
        b = self.batches
        money = lambda c: float(b[c].fillna(0).sum()) if c in b else None  # noqa: E731
        return {
            "batches": len(b),
            "rows_read": int(b["rows_read"].sum()),
            "rows_loaded": int(b["rows_loaded"].sum()),
            "rows_fixed": int(b["rows_fixed"].sum()),
            "rows_merged": int(b["rows_merged"].fillna(0).sum()),
            "rows_quarantined": int(b["rows_quarantined"].sum()),
            "rows_flagged": int(b["rows_flagged"].fillna(0).sum()),
            "revenue_read": money("revenue_read"),
            "revenue_loaded": money("revenue_loaded"),
            "revenue_quarantined": money("revenue_quarantined"),
            "rows_unlinked": int(b["rows_unlinked"].fillna(0).sum()) if "rows_unlinked" in b else 0,
            "revenue_unlinked": money("revenue_unlinked"),
            "rows_anonymous": int(b["rows_anonymous"].fillna(0).sum()) if "rows_anonymous" in b else 0,
            "revenue_anonymous": money("revenue_anonymous"),
        }

    def reconciliation_frame(self) -> pd.DataFrame:
        b = self.batches.copy()
        b["file"] = b["path"].map(file_name)
        b["rows_ok"] = b["rows_read"] == b["rows_loaded"] + b["rows_merged"].fillna(0) + b["rows_quarantined"]
        rev = b["revenue_read"].notna()
        b["money_ok"] = ~rev | ((b["revenue_read"] - b["revenue_loaded"].fillna(0) - b["revenue_quarantined"].fillna(0)).abs() < 0.005)
        b["reconciles"] = (b["rows_ok"] & b["money_ok"]).map({True: "yes", False: "NO"})
        return b

    def rule_hits(self) -> pd.DataFrame:
        parts = []
        if len(self.fixes):
            parts.append(self.fixes.groupby(["rule", "kind"]).agg(rows=("source_row", "nunique"), entries=("source_row", "size")).reset_index())
        if len(self.quarantine):
            q = self.quarantine.assign(rule=self.quarantine["rule"].fillna("(load)"), kind="quarantine")
            parts.append(q.groupby(["rule", "kind"]).agg(rows=("source_row", "nunique"), entries=("source_row", "size")).reset_index())
        if not parts:
            return pd.DataFrame({"rule": [], "kind": [], "rows": [], "entries": []})
        return pd.concat(parts, ignore_index=True).sort_values(["kind", "rows"], ascending=[True, False]).reset_index(drop=True)

    def reasons(self) -> pd.DataFrame:
        if self.quarantine.empty:
            return pd.DataFrame({"table_name": [], "reason": [], "rows": []})
        return self.quarantine.groupby(["table_name", "reason"]).size().rename("rows").reset_index().sort_values("rows", ascending=False, kind="stable")

    def findings(self) -> tuple[list[Finding], list[tuple[str, dict]]]:
        """The early warnings and the checks that could not be made (see :func:`find_warnings`)."""
        return find_warnings(self.reconciliation_frame(), self.quarantine, self.fixes, self.returns, self.settings)

    def quarantine_groups(self) -> pd.DataFrame:
        """Quarantined rows by file and reason, largest first (what the actions ask to fix)."""
        q = self.quarantine
        if q.empty:
            return pd.DataFrame(columns=["batch_id", "file", "table_name", "rule", "reason", "rows", "row_numbers"])
        q = q.assign(file=q["path"].map(file_name), rule=q["rule"].fillna("(load)"))
        g = q.groupby(["batch_id", "file", "table_name", "rule", "reason"], sort=False).agg(
            rows=("source_row", "size"), row_numbers=("source_row", lambda s: sorted(int(v) for v in s))).reset_index()
        return g.sort_values(["rows", "batch_id"], ascending=[False, True], kind="stable").reset_index(drop=True)

    # ------------------------------------------------------------------ helpers

    def msg(self, text: object) -> str:
        return translate_message(text, self.L, self.unknown_messages)

    def _view(self, df: pd.DataFrame, columns: list[str], more: str = "") -> H.Block:
        """A table of at most ``sample_rows`` rows: registered columns by :mod:`lang`, this
        report's generic ones by :data:`LOCAL_COLUMNS` (values as text, counts right-aligned);
        a longer one says how many rows it had and ``more``, the command that lists them all."""
        L = self.L
        labels = {c: L.t(f"dq_col_{c}") for c in columns if c in LOCAL_COLUMNS}
        fmts = {c: _text for c in columns if c in LOCAL_COLUMNS}
        fmts |= {c: _whole for c in ("batch_id", "source_row") if c in columns}  # ids and row numbers as the file shows them
        shown = df.head(self.sample_rows)
        out = H.view(shown, L, columns, total=len(shown), formats=fmts, labels=labels)
        if len(df) > len(shown):
            out = out + H.note(L.t("dq_more", shown=L.count(len(shown)), total=L.count(len(df)), command=more))
        return out

    def _where(self, df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
        """``df`` with the file of its batch, and the columns that say where a row is: the file
        (and the batch only when two batches of the selection read files of the same name)."""
        files = self.batches.set_index("batch_id")["path"].map(file_name)
        out = df.assign(file=df["batch_id"].map(files))
        return out, (["file"] if files.is_unique else ["batch_id", "file"])

    def _rows_text(self, rows: list[int]) -> str:
        sep = self.L.t("join_comma")
        return sep.join(str(r) for r in rows[:ROWS_QUOTED]) + (sep + "…" if len(rows) > ROWS_QUOTED else "")

    # ------------------------------------------------------------------ summary

    def summary_sentences(self) -> tuple[list[S.Sentence], list[S.Sentence]]:
        """Five sentences (what was read and where it went, whether it reconciles, why rows were
        quarantined, what was fixed or flagged, the warnings) and at most five actions."""
        L, t = self.L, self.totals
        end, out, actions = L.t("end"), [], []
        files = t["batches"]
        rec = self.reconciliation_frame()
        # what was read and where it went
        clean = not (t["rows_quarantined"] or t["rows_merged"] or t["rows_fixed"] or t["rows_flagged"] or len(self.fixes))
        if clean:  # the sentences on quarantine and fixes would only repeat it
            out.append(S.Sentence(L.t("dq_s_clean", n=files, read=L.count(t["rows_read"])) + end, "figures"))
        else:
            merged = L.t("dq_s_merged", merged=L.count(t["rows_merged"])) if t["rows_merged"] else ""
            fixed = L.t("dq_s_fixed", n=L.count(t["rows_fixed"])) if t["rows_fixed"] else ""
            quarantined = (L.t("dq_s_quarantined", n=L.count(t["rows_quarantined"]), pct=L.pct(t["rows_quarantined"] / t["rows_read"] * 100))
                           if t["rows_quarantined"] else L.t("dq_s_none_quarantined"))
            out.append(S.Sentence(L.t("dq_s_rows", n=files, read=L.count(t["rows_read"]), loaded=L.count(t["rows_loaded"]), fixed=fixed,
                                      merged=merged, quarantined=quarantined) + end, "figures"))
        # whether it reconciles
        bad = rec[rec["reconciles"] != "yes"]
        if bad.empty:
            text = L.t("dq_s_reconciles", n=files)
            if t["revenue_read"] is not None and rec["revenue_read"].notna().any():
                text += L.t("clause_comma") + L.t("dq_s_money", read=L.cents(t["revenue_read"]), loaded=L.cents(t["revenue_loaded"]),
                                                  quarantined=L.cents(t["revenue_quarantined"]))
        else:
            names = S.join([f"{r.file} ({L.t('dq_sel_batch', batch=int(r.batch_id))})" if not L.zh else f"{r.file}（{L.t('dq_sel_batch', batch=int(r.batch_id))}）"
                            for r in bad.itertuples()], L)
            text = L.t("dq_s_not_reconciled", n=files, bad=L.count(len(bad)), files=names)
            for r in bad.head(2).itertuples():
                actions.append(S.Sentence(L.t("dq_a_reconcile", file=r.file, batch=int(r.batch_id)), "reconciliation"))
        out.append(S.Sentence(text + end, "reconciliation"))
        # why rows were quarantined
        reasons = self.reasons()
        if clean:
            pass
        elif reasons.empty:
            out.append(S.Sentence(L.t("dq_no_quarantine"), "quarantine"))
        else:
            parts = [L.t("dq_s_reason", reason=self.msg(r.reason), table=table_word(r.table_name, L), n=L.count(r.rows)) for r in reasons.head(3).itertuples()]
            if len(reasons) > 3:
                parts.append(L.t("dq_s_more_reasons", n=L.count(len(reasons) - 3)))
            out.append(S.Sentence(L.t("dq_s_reasons", reasons=S.join(parts, L)) + end, "quarantine"))
        # what was fixed or flagged
        fixes = self.fixes[self.fixes["kind"] == "fix"]
        flags = self.fixes[self.fixes["kind"] == "flag"]
        clauses = []
        if clean:
            pass
        elif len(fixes):
            by_rule = fixes.groupby("rule")["source_row"].nunique().sort_values(ascending=False, kind="stable")
            parts = [L.t("dq_s_rule", what=rule_text(rule, L), n=L.count(n)) for rule, n in by_rule.head(3).items()]
            clauses.append(L.t("dq_s_fixes", rules=S.join(parts, L)))
        else:
            clauses.append(L.t("dq_s_no_fixes"))
        if t["rows_flagged"]:
            rules = S.join([rule_text(r, L) for r in flags["rule"].value_counts().index[:2]], L)
            clauses.append(L.t("dq_s_flags", n=L.count(t["rows_flagged"]), rules=rules))
        if clauses:
            out.append(S.Sentence(L.t("clause_semicolon").join(clauses) + end, "rules"))
        # the warnings
        found, _ = self.findings()
        if found:
            first = self.finding_text(found[0])[0]
            out.append(S.Sentence(L.t("dq_s_warnings", n=L.count(len(found)), first=first) + end, "warnings"))
        else:
            out.append(S.Sentence(L.t("dq_s_no_warnings") + end, "warnings"))
        # what to do: the files to fix, largest first, then what the warnings ask
        for g in self.quarantine_groups().itertuples():
            if len(actions) >= 3:
                break
            if g.rule in NOTHING_TO_FIX:
                continue
            rows = self._rows_text(g.row_numbers)
            m = re.match(r"^(\w+): unknown \(not in (\w+)\)$", str(g.reason))
            if g.rule == "unknown_keys" and m:
                actions.append(S.Sentence(L.t("dq_a_unknown", n=L.count(g.rows), column=m.group(1), file=g.file, rows=rows,
                                              ref=table_word(m.group(2), L)), "quarantined-rows"))
            else:
                actions.append(S.Sentence(L.t("dq_a_fix", n=L.count(g.rows), file=g.file, rows=rows, reason=self.msg(g.reason)), "quarantined-rows"))
        for f in found:
            v = f.values
            if f.kind == "unlinked":
                actions.append(S.Sentence(L.t("dq_a_unlinked", n=L.count(v["n"]), file=f.file), "warnings"))
            elif f.kind == "anonymous":
                actions.append(S.Sentence(L.t("dq_a_anonymous", file=f.file, pct=L.pct(v["pct"])), "warnings"))
            elif f.kind == "dates":
                actions.append(S.Sentence(L.t("dq_a_dates", column=v["column"], table=table_word(f.table, L), styles=v["styles"]), "warnings"))
            elif f.kind == "numbers":
                actions.append(S.Sentence(L.t("dq_a_numbers", file=f.file, n=L.count(v["n"]), before=v["before"], after=v["after"]), "warnings"))
        if len(flags):
            paths = self.batches.set_index("batch_id")["path"].map(file_name)
            top = flags.groupby("batch_id")["source_row"].nunique().sort_values(ascending=False, kind="stable")
            bid = top.index[0]
            rules = S.join([rule_text(r, L) for r in flags.loc[flags["batch_id"] == bid, "rule"].value_counts().index[:2]], L)
            actions.append(S.Sentence(L.t("dq_a_flags", n=L.count(top.iloc[0]), file=paths.get(bid, str(bid)), rules=rules), "flags"))
        return out[:6], actions[:5]

    def finding_text(self, f: Finding) -> tuple[str, str]:
        """A warning in words, and its evidence."""
        L, v, thr = self.L, f.values, self.settings.warnings
        if f.kind == "not_reconciled":
            what = []
            if not v["rows_ok"]:
                what.append(L.t("dq_w_rows_off", read=L.count(v["read"]), out=L.count(v["out"])))
            if v["money_read"] is not None and abs(v["money_read"] - v["money_out"]) >= 0.005:
                what.append(L.t("dq_w_money_off", read=L.cents(v["money_read"]), out=L.cents(v["money_out"])))
            return (L.t("dq_w_not_reconciled", file=f.file, batch=f.batch_id, what=L.t("clause_semicolon").join(what)),
                    L.t("dq_w_not_reconciled_evidence"))
        if f.kind == "quarantine":
            evidence = L.t("dq_w_quarantine_evidence", threshold=L.pct(thr.dq_quarantine_pct), reason=self.msg(v["reason"]), n=L.count(v["k"]))
            if v["money_pct"] is not None and v["money"]:
                return (L.t("dq_w_quarantine_money", file=f.file, pct=L.pct(v["pct"]), n=L.count(v["n"]), read=L.count(v["read"]),
                            money_pct=L.pct(v["money_pct"]), money=L.money(v["money"])), evidence)
            return L.t("dq_w_quarantine", file=f.file, pct=L.pct(v["pct"]), n=L.count(v["n"]), read=L.count(v["read"])), evidence
        if f.kind == "unlinked":
            return (L.t("dq_w_unlinked", file=f.file, n=L.count(v["n"]), returns=L.count(v["returns"]), pct=L.pct(v["pct"]), money=L.money(v["money"])),
                    L.t("dq_w_unlinked_evidence", threshold=L.pct(thr.dq_unlinked_pct)))
        if f.kind == "anonymous":
            return (L.t("dq_w_anonymous", file=f.file, pct=L.pct(v["pct"]), money=L.money(v["money"]), n=L.count(v["n"])),
                    L.t("dq_w_anonymous_evidence", threshold=L.pct(thr.dq_anonymous_pct)))
        if f.kind == "numbers":
            return (L.t("dq_w_numbers", file=f.file, n=L.count(v["n"]), pct=L.pct(v["pct"]), column=v["column"], before=v["before"], after=v["after"]),
                    L.t("dq_w_numbers_evidence", threshold=L.pct(thr.dq_repaired_pct)))
        return L.t("dq_w_dates", file=f.file, column=v["column"], styles=v["styles"]), L.t("dq_w_dates_evidence")

    # ------------------------------------------------------------------ blocks

    def title(self) -> H.Block:
        L, b = self.L, self.batches
        first, last = b["loaded_at"].min(), b["loaded_at"].max()
        key, values = self._selection
        selection = L.t(key, **{k: (L.period(v) if k == "period" else v) for k, v in values.items()})

        def when(ts) -> str:
            return f"{L.date(ts)} {ts:%H:%M}"

        note = L.t("dq_title_note", n=len(b), first=when(first), last=when(last), warehouse=self.settings.warehouse_path.name)
        return H.style() + H.heading(L.t("dq_title", selection=selection), 1) + H.note(note)

    def summary(self) -> H.Block:
        """Five sentences and an action list, each linked to the section behind it."""
        sentences, actions = self.summary_sentences()
        return S.block(sentences, actions, self.L) + H.figures({"summary": [s.text for s in sentences], "actions": [a.text for a in actions]})

    def early_warnings(self) -> H.Block:
        """The warnings, each with its evidence, and the checks that could not be made."""
        L = self.L
        found, skipped = self.findings()
        items = [self.finding_text(f) for f in found]
        skipped_text = []
        for key, values in skipped:
            if "tables" in values:
                values = {**values, "tables": S.join([table_word(x, L) for x in values["tables"]], L)}
            skipped_text.append(L.t(key, **values))
        body = S.warning_list(items, L, L.t("dq_no_warnings"), skipped_text)
        counts = {f"warning_{k}": sum(f.kind == k for f in found) for k in ("not_reconciled", "quarantine", "unlinked", "anonymous", "numbers", "dates")}
        return H.heading(L.t("warnings"), 2, anchor="warnings") + body + H.figures({"warnings": len(found), **counts})

    def headline(self) -> H.Block:
        L, t = self.L, self.totals
        ok = (self.reconciliation_frame()["reconciles"] == "yes").all()
        cards = [
            {"label": L.t("dq_card_read"), "value": L.count(t["rows_read"]), "sub": L.t("dq_card_files", n=t["batches"])},
            {"label": L.t("dq_card_loaded"), "value": L.count(t["rows_loaded"]), "sub": L.t("dq_card_with_fixes", n=L.count(t["rows_fixed"]))},
            {"label": L.t("dq_card_quarantined"), "value": L.count(t["rows_quarantined"]), "sub": L.t("dq_card_merged", n=L.count(t["rows_merged"])),
             "trend": -1 if t["rows_quarantined"] else None},
            {"label": L.t("dq_card_flagged"), "value": L.count(t["rows_flagged"]), "sub": L.t("dq_card_flagged_sub")},
            {"label": L.t("dq_card_reconciles"), "value": word("yes" if ok else "NO", L), "trend": 1 if ok else -1, "sub": L.t("dq_card_reconciles_sub")},
        ]
        if t["revenue_read"]:
            cards.append({"label": L.t("dq_card_revenue"), "value": L.money(t["revenue_read"]),
                          "sub": L.t("dq_card_revenue_sub", value=L.money(t["revenue_quarantined"]))})
        if t["rows_unlinked"]:
            cards.append({"label": L.t("dq_card_unlinked"), "value": L.count(t["rows_unlinked"]),
                          "sub": L.t("dq_card_unlinked_sub", value=L.money(t["revenue_unlinked"]))})
        if t["rows_anonymous"]:
            cards.append({"label": L.t("dq_card_anonymous"), "value": L.count(t["rows_anonymous"]),
                          "sub": L.t("dq_card_anonymous_sub", value=L.money(t["revenue_anonymous"]))})
        return H.anchor("figures") + H.cards(cards) + H.figures({**t, "reconciles": bool(ok)})

    def reconciliation(self) -> H.Block:
        L = self.L
        b = self.reconciliation_frame()
        cols = ["batch_id", "table_name", "file", "encoding", "status", "rows_read", "rows_loaded", "rows_fixed", "rows_merged",
                "rows_quarantined", "rows_flagged", "rows_unlinked", "rows_anonymous", "revenue_read", "revenue_loaded",
                "revenue_quarantined", "reconciles"]
        cols = [c for c in cols if c in b]
        if not b["revenue_read"].notna().any():  # no order lines: no money to reconcile
            cols = [c for c in cols if not c.startswith("revenue_")]
        # columns that would say nothing: every batch loaded and in force, no unlinked return, no walk-in line
        quiet = {c for c in ("rows_unlinked", "rows_anonymous") if c in b and not b[c].fillna(0).any()}
        quiet |= {"status"} if (b["status"] == "loaded").all() else set()
        cols = [c for c in cols if c not in quiet]
        # a file that does not reconcile first, so that a cut table never hides it
        shown = b.assign(table_name=b["table_name"].map(lambda v: table_word(v, L)), status=b["status"].map(lambda v: word(v, L)),
                         reconciles=b["reconciles"].map(lambda v: word(v, L)), bad=b["reconciles"] != "yes")
        shown = shown.sort_values(["bad", "batch_id"], ascending=[False, True], kind="stable")
        block = H.heading(L.t("dq_reconciliation"), 2, L.t("dq_reconciliation_note"), anchor="reconciliation")
        block = block + self._view(shown, cols, more="salesml batches --all")
        for r in b.itertuples():
            for n in json.loads(r.notes) if isinstance(r.notes, str) and r.notes else []:
                block = block + H.note(L.t("dq_batch_note", batch=r.batch_id, table=table_word(r.table_name, L), note=self.msg(n)))
        return block

    def rules(self) -> H.Block:
        L = self.L
        hits = self.rule_hits()
        if hits.empty:
            return H.heading(L.t("dq_rules"), 2, anchor="rules") + H.note(L.t("dq_no_rules"))
        shown = hits.assign(what=hits["rule"].map(lambda r: rule_text(r, L)), outcome=hits["kind"].map(lambda k: word(k, L)),
                            dq_rows=hits["rows"], dq_entries=hits["entries"])
        return H.heading(L.t("dq_rules"), 2, L.t("dq_rules_note"), anchor="rules") + self._view(
            shown, ["rule", "what", "outcome", "dq_rows", "dq_entries"], more="salesml export \"SELECT * FROM row_fixes\" --to fixes.xlsx")

    def reasons_chart(self) -> H.Block:
        L = self.L
        r = self.reasons()
        head = H.heading(L.t("dq_quarantine"), 2, anchor="quarantine")
        if r.empty:
            return head + H.note(L.t("dq_no_quarantine"))
        r = r.assign(table_name=r["table_name"].map(lambda v: table_word(v, L)), reason=r["reason"].map(self.msg), dq_rows=r["rows"])
        top = r.head(self.sample_rows)
        sep = "：" if L.zh else ": "
        fig = go.Figure(go.Bar(x=top["rows"], y=[H.esc(f"{t}{sep}{x}") for t, x in zip(top["table_name"], top["reason"], strict=True)],
                               orientation="h", marker_color=H.COLORS["returns"], hovertemplate="%{y}: %{x:,}<extra></extra>"))
        fig.update_layout(title=dict(text=L.t("dq_reasons_chart"), y=0.98), height=max(260, 28 * len(top) + 110), margin=dict(l=10, r=10, t=60, b=10), yaxis=dict(autorange="reversed", type="category"),
                          xaxis=dict(tickformat=",d", rangemode="tozero", dtick=1 if top["rows"].max() <= 10 else None))
        return head + H.chart(fig) + self._view(r, ["table_name", "reason", "dq_rows"], more="salesml quarantine --format csv")

    def quarantine_rows(self) -> H.Block:
        L, q = self.L, self.quarantine
        if q.empty:
            return H.note("")
        shown = q.head(self.sample_rows)
        # every problem of the row (its reason first), and the row as read
        shown = shown.assign(details=shown["details"].fillna(shown["reason"]).map(self.msg),
                             record=shown["record"].map(lambda r: _text(r) if len(_text(r)) <= RECORD_CHARS else _text(r)[:RECORD_CHARS] + "…"))
        shown, where = self._where(shown)
        block = H.heading(L.t("dq_quarantined_rows"), 3, L.t("dq_rows_note"), anchor="quarantined-rows")
        block = block + self._view(shown, [*where, "source_row", "details", "record"])
        if len(q) > len(shown):
            more = "salesml quarantine --format csv (salesml export quarantine --to quarantine.xlsx)"
            block = block + H.note(L.t("dq_more", shown=L.count(len(shown)), total=L.count(len(q)), command=more))
        return block

    def fixes_sample(self) -> H.Block:
        L, f = self.L, self.fixes
        if f.empty:
            return H.heading(L.t("dq_fixes"), 2, anchor="fixes") + H.note(L.t("dq_no_fixes"))
        flags = f[f["kind"] == "flag"]
        fixes = f[f["kind"] == "fix"]
        # a few examples of each rule and column rather than the first rows of the file
        examples = fixes.groupby(["rule", "column"], dropna=False).head(3).head(self.sample_rows)
        block = H.heading(L.t("dq_fixes"), 2, L.t("dq_fixes_note"), anchor="fixes")
        if len(examples):
            examples, where = self._where(examples)
            block = block + self._view(examples, [*where, "source_row", "rule", "column", "before", "after"])
            if len(fixes) > len(examples):
                more = "salesml export \"SELECT * FROM row_fixes WHERE kind = 'fix'\" --to fixes.xlsx"
                block = block + H.note(L.t("dq_fixes_more", shown=L.count(len(examples)), total=L.count(len(fixes)), command=more))
        if len(flags):
            shown = flags.rename(columns={"before": "value", "after": "why"})
            shown, where = self._where(shown.assign(why=shown["why"].map(self.msg)))
            block = block + H.heading(L.t("dq_flagged"), 3, anchor="flags") + self._view(
                shown, [*where, "source_row", "rule", "column", "value", "why"],
                more="salesml export \"SELECT * FROM row_fixes WHERE kind = 'flag'\" --to flags.xlsx")
        return block

    def notes(self) -> H.Block:
        """How the figures are made, and what this page lacked in its language (none)."""
        L = self.L
        block = H.heading(L.t("dq_how_made"), 3) + H.note(L.t("dq_how_made_text"))
        return block + H.figures({"lang": L.code, "untranslated": sorted(L.missing), "untranslated_messages": sorted(self.unknown_messages)})

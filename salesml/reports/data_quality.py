"""The data quality report: what ``notebooks/data_quality.ipynb`` shows.

For one load batch, the loads of a month, or (by default) the latest load run: the
reconciliation of every file (rows and money in = loaded + merged + quarantined), the
rule hits, the quarantine reasons and rows, the fixes and the flags.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import plotly.graph_objects as go

from salesml.reports import html as H
from salesml.reports.performance import report_settings, warehouse_connect


class DataQualityReport:
    """Reconciliation, rule hits, quarantine and fixes of the selected loads."""

    def __init__(self, batch: int = 0, load_period: str = "", config_path: str = "", warehouse: str = "", sample_rows: int = 200):
        self.settings = report_settings(config_path, warehouse)
        self.sample_rows = sample_rows
        if load_period and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", load_period):
            raise ValueError(f"load_period {load_period!r} is not of the form YYYY-MM")
        with warehouse_connect(self.settings) as con:
            if batch:
                where, params = "batch_id = ?", [int(batch)]
                self.selection = f"load batch {int(batch)}"
            elif load_period:
                where, params = "strftime(loaded_at, '%Y-%m') = ?", [load_period]
                self.selection = f"loads of {load_period}"
            else:
                last = con.execute("SELECT run_id, batch_id FROM load_batches ORDER BY loaded_at DESC, batch_id DESC LIMIT 1").fetchall()
                if not last:
                    raise ValueError("no loads in the warehouse yet: run `salesml ingest` or `salesml demo`")
                run_id, batch_id = last[0]
                if run_id:
                    where, params = "run_id = ?", [run_id]
                    self.selection = f"the latest load run ({run_id})"
                else:
                    where, params = "batch_id = ?", [batch_id]
                    self.selection = f"the latest load (batch {batch_id})"
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
        b["file"] = b["path"].map(lambda p: str(p).rsplit("/", 1)[-1])
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
        return self.quarantine.groupby(["table_name", "reason"]).size().rename("rows").reset_index().sort_values("rows", ascending=False)

    # ------------------------------------------------------------------ blocks

    def title(self) -> H.Block:
        b = self.batches
        first, last = b["loaded_at"].min(), b["loaded_at"].max()
        return H.style() + H.heading(f"Data quality: {self.selection}", 1) + H.note(
            f"{len(b)} load batch(es) from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}, warehouse "
            f"{self.settings.warehouse_path.name}. Every row read is loaded (perhaps with fixes), merged into "
            "an identical row, or quarantined with a reason."
        )

    def headline(self) -> H.Block:
        t = self.totals
        ok = (self.reconciliation_frame()["reconciles"] == "yes").all()
        cards = [
            {"label": "Rows read", "value": H.fmt_int(t["rows_read"]), "sub": f"{t['batches']} file(s)"},
            {"label": "Loaded", "value": H.fmt_int(t["rows_loaded"]), "sub": f"{H.fmt_int(t['rows_fixed'])} with fixes"},
            {"label": "Quarantined", "value": H.fmt_int(t["rows_quarantined"]), "sub": f"{H.fmt_int(t['rows_merged'])} merged", "trend": -1 if t["rows_quarantined"] else None},
            {"label": "Flagged", "value": H.fmt_int(t["rows_flagged"]), "sub": "loaded, worth a look"},
            {"label": "Reconciles", "value": "yes" if ok else "NO", "trend": 1 if ok else -1, "sub": "rows and money, to the cent"},
        ]
        if t["revenue_read"]:
            cards.append({"label": "Revenue read", "value": H.fmt_exact_money(t["revenue_read"]), "sub": f"quarantined {H.fmt_exact_money(t['revenue_quarantined'])}"})
        if t["rows_unlinked"]:
            cards.append({"label": "Unlinked returns", "value": H.fmt_int(t["rows_unlinked"]),
                          "sub": f"{H.fmt_exact_money(t['revenue_unlinked'])}, in the month they happened"})
        if t["rows_anonymous"]:
            cards.append({"label": "Lines without a customer", "value": H.fmt_int(t["rows_anonymous"]),
                          "sub": f"{H.fmt_exact_money(t['revenue_anonymous'])}, not in customer models"})
        return H.cards(cards) + H.figures({**t, "reconciles": bool(ok)})

    def reconciliation(self) -> H.Block:
        b = self.reconciliation_frame()
        cols = ["batch_id", "table_name", "file", "encoding", "status", "rows_read", "rows_loaded", "rows_fixed", "rows_merged",
                "rows_quarantined", "rows_flagged", "rows_unlinked", "rows_anonymous", "revenue_read", "revenue_loaded",
                "revenue_quarantined", "reconciles"]
        cols = [c for c in cols if c in b]
        notes = []
        for r in b.itertuples():
            for n in json.loads(r.notes) if isinstance(r.notes, str) and r.notes else []:
                notes.append(f"batch {r.batch_id} ({r.table_name}): {n}")
        block = H.heading("Reconciliation", 2, "Rows read = loaded + merged + quarantined; revenue read = loaded + quarantined.") + H.table(
            b[cols],
            formats={c: H.fmt_int for c in cols if c.startswith("rows_")}
            | {c: H.fmt_exact_money for c in cols if c.startswith("revenue_")},
            labels={"table_name": "table", "rows_read": "read", "rows_loaded": "loaded", "rows_fixed": "fixed", "rows_merged": "merged",
                    "rows_quarantined": "quarantined", "rows_flagged": "flagged", "rows_unlinked": "unlinked returns",
                    "rows_anonymous": "no customer", "revenue_read": "revenue read",
                    "revenue_loaded": "revenue loaded", "revenue_quarantined": "revenue quarantined"},
        )
        for n in notes:
            block = block + H.note(n)
        return block

    def rules(self) -> H.Block:
        hits = self.rule_hits()
        if hits.empty:
            return H.heading("Rule hits", 2) + H.note("No rule changed, flagged or rejected anything.")
        return H.heading("Rule hits", 2, "Rows each cleaning rule fixed, flagged, merged or quarantined.") + H.table(hits, formats={"rows": H.fmt_int, "entries": H.fmt_int})

    def reasons_chart(self) -> H.Block:
        r = self.reasons()
        if r.empty:
            return H.heading("Quarantine", 2) + H.note("Nothing was quarantined.")
        fig = go.Figure(go.Bar(x=r["rows"], y=[H.esc(f"{t}: {x}") for t, x in zip(r["table_name"], r["reason"], strict=True)], orientation="h", marker_color="#cf222e"))
        fig.update_layout(title="Quarantined rows by reason", height=max(260, 28 * len(r) + 100), template="plotly_white", margin=dict(l=10, r=10, t=50, b=10), yaxis=dict(autorange="reversed"))
        return H.heading("Quarantine", 2) + H.chart(fig) + H.table(r, formats={"rows": H.fmt_int}, labels={"table_name": "table"})

    def quarantine_rows(self) -> H.Block:
        q = self.quarantine
        if q.empty:
            return H.note("")
        shown = q.head(self.sample_rows).assign(file=q["path"].map(lambda p: str(p).rsplit("/", 1)[-1]))
        more = f" First {len(shown)} of {len(q):,}; `salesml quarantine --format csv` gives all." if len(q) > len(shown) else ""
        return H.heading("Quarantined rows", 3, f"Row numbers are as a spreadsheet shows the file (header = row 1).{more}") + H.table(
            shown[["batch_id", "file", "source_row", "reason", "details", "record"]], formats={"source_row": H.fmt_int}, labels={"source_row": "row"}
        )

    def fixes_sample(self) -> H.Block:
        f = self.fixes
        if f.empty:
            return H.heading("Fixes and flags", 2) + H.note("No values were changed or flagged.")
        flags = f[f["kind"] == "flag"]
        fixes = f[f["kind"] == "fix"]
        # a few examples of each rule and column rather than the first rows of the file
        examples = fixes.groupby(["rule", "column"], dropna=False).head(5).head(self.sample_rows)
        block = H.heading("Fixes and flags", 2, "Examples of each fix (rule, column, value before and after); every flag.")
        block = block + H.table(examples[["batch_id", "source_row", "rule", "column", "before", "after"]], formats={"source_row": H.fmt_int}, labels={"source_row": "row"})
        if len(flags):
            block = block + H.heading("Flagged (loaded, worth a look)", 3) + H.table(
                flags.head(self.sample_rows)[["batch_id", "source_row", "rule", "column", "before", "after"]].rename(columns={"before": "value", "after": "why"}),
                formats={"source_row": H.fmt_int},
                labels={"source_row": "row"},
            )
        return block

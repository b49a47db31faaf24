"""`salesml demo --dirty`: every injected defect is caught by the rule the manifest names,
at the row it names, and nothing else is quarantined."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from salesml import warehouse
from salesml.demo import build_demo
from salesml.demo.dirty import DIRTY_MANIFEST, inject_defects
from salesml.demo.generator import generate
from salesml.demo.source import FILE_NAMES
from tests.conftest import DEMO_END, DEMO_SEED, make_settings

ORDER_LINE_KINDS = {
    "exact_duplicate", "conflicting_duplicate", "money_text", "fullwidth_qty", "percent_discount",
    "missing_date", "impossible_date", "future_date", "return_without_status", "return_without_sale",
    "price_typo", "unknown_product", "unknown_rep", "qty_not_a_number", "unknown_status",
}  # fmt: skip
OTHER_KINDS = {
    ("customers", "name_double_space"), ("customers", "name_fullwidth_space"), ("customers", "fullwidth_segment"),
    ("reps", "overlapping_stint"), ("inventory", "negative_on_hand"), ("tickets", "csat_out_of_range"),
}  # fmt: skip


@pytest.fixture(scope="module")
def dirty(tmp_path_factory):
    """The small demo, dirty, loaded: (settings, demo manifest, dirty manifest, load results)."""
    root = tmp_path_factory.mktemp("dirty")
    s = make_settings(root, demo={"scale": "small", "seed": DEMO_SEED, "end_date": DEMO_END.isoformat()})
    manifest, results = build_demo(s, dirty=True)
    dm = json.loads((s.path(s.demo.out_dir) / DIRTY_MANIFEST).read_text(encoding="utf-8"))
    return s, manifest, dm, results


def _query(s, sql: str) -> pd.DataFrame:
    with warehouse.connect(s.warehouse_path, read_only=True) as con:
        return con.execute(sql).df()


def test_manifest_lists_every_kind_with_the_row_as_the_file_has_it(dirty):
    s, manifest, dm, _ = dirty
    defects = dm["defects"]
    kinds = {(d["table"], d["kind"]) for d in defects}
    assert kinds == {("order_lines", k) for k in ORDER_LINE_KINDS} | OTHER_KINDS
    counts = pd.Series([(d["table"], d["kind"]) for d in defects]).value_counts()
    assert counts.between(3, 10).all()
    assert {d["expected"] for d in defects} <= {"quarantined", "fixed", "flagged", "merged"}
    # every defect names its column, but a row repeated verbatim: the whole row is the defect
    assert all(d["rule"] and (d["column"] or d["kind"] == "exact_duplicate") and d["description"] for d in defects)
    assert manifest["dirty"] == dm["summary"] and dm["summary"]["defects"] == len(defects)
    assert dm["files"]["tickets.csv"]["expected_encoding"] == "gb18030"
    assert dm["not_injected"] == {}

    out = s.path(s.demo.out_dir)
    for table in {d["table"] for d in defects}:
        enc = dm["files"][FILE_NAMES[table]]["expected_encoding"]
        raw = pd.read_csv(out / FILE_NAMES[table], dtype=str, keep_default_na=False, encoding=enc)
        assert len(raw) == manifest["rows"][table] == dm["files"][FILE_NAMES[table]]["rows"]
        for d in (d for d in defects if d["table"] == table):
            row = raw.iloc[d["source_row"] - 2]  # header = row 1
            if "," not in d["raw_column"]:
                assert row[d["raw_column"]] == d["injected"], d
            if d["kind"] in ("exact_duplicate", "conflicting_duplicate"):
                kept = raw.iloc[d["kept_row"] - 2]
                assert (kept["Order No"], kept["Line No"]) == (row["Order No"], row["Line No"])
                assert (kept == row).all() == (d["kind"] == "exact_duplicate")


def test_quarantine_holds_exactly_the_manifests_rows(dirty):
    s, _, dm, _ = dirty
    q = _query(s, 'SELECT table_name, source_row, rule, "column" FROM quarantine')
    got = {(r.table_name, int(r.source_row)): (r.rule, r.column) for r in q.itertuples()}
    expected = {(d["table"], d["source_row"]): (d["rule"], d["column"]) for d in dm["defects"] if d["expected"] == "quarantined"}
    assert len(q) == len(got)
    assert got == expected


def test_fixes_and_flags_are_recorded(dirty):
    s, _, dm, _ = dirty
    f = _query(s, 'SELECT table_name, source_row, kind, rule, "column", before, after FROM row_fixes')
    have = {(r.table_name, int(r.source_row), r.kind, r.rule, r.column): (r.before, r.after) for r in f.itertuples()}
    kind_of = {"fixed": "fix", "flagged": "flag", "merged": "merge"}
    for d in dm["defects"]:
        if d["expected"] == "quarantined":
            continue
        key = (d["table"], d["source_row"], kind_of[d["expected"]], d["rule"], d["column"])
        assert key in have, d
        if d["kind"] == "return_without_status":
            assert have[key][1] == d["linked_to"]
            assert (d["table"], d["source_row"], "fix", "mark_returns", "status") in have
        elif d["expected"] == "fixed":
            assert have[key][0] == d["injected"], d
    # no other row is flagged as a price outlier (fixes elsewhere would be fine; there are none)
    flagged = {(t, r) for (t, r, k, *_) in have if k == "flag"}
    assert flagged == {(d["table"], d["source_row"]) for d in dm["defects"] if d["expected"] == "flagged"}


def test_batches_reconcile_and_tickets_read_as_gb18030(dirty):
    s, _, dm, results = dirty
    b = _query(s, "SELECT * FROM load_batches WHERE status = 'loaded'")
    assert len(b) == len(results) == len(FILE_NAMES)
    assert (b["rows_read"] == b["rows_loaded"] + b["rows_quarantined"] + b["rows_merged"]).all()
    ol = b[b["table_name"] == "order_lines"].iloc[0]
    assert ol["revenue_read"] == ol["revenue_loaded"] + ol["revenue_quarantined"]
    enc = dict(zip(b["table_name"], b["encoding"], strict=True))
    assert enc.pop("tickets") == "gb18030"
    assert set(enc.values()) == {"utf-8"}
    q = b.set_index("table_name")["rows_quarantined"].to_dict()
    per_table = pd.Series([d["table"] for d in dm["defects"] if d["expected"] == "quarantined"]).value_counts()
    assert {t: n for t, n in q.items() if n} == per_table.to_dict()


def _dirty_files(out: Path, seed: int) -> tuple[dict, dict[str, bytes]]:
    generate(out, scale="small", seed=seed, end_date=DEMO_END)
    m = inject_defects(out, seed=seed, end_date=DEMO_END, scale="small")
    return m, {p.name: p.read_bytes() for p in sorted(out.glob("*.csv"))}


def test_deterministic(tmp_path):
    m1, f1 = _dirty_files(tmp_path / "a", DEMO_SEED)
    m2, f2 = _dirty_files(tmp_path / "b", DEMO_SEED)
    assert m1 == m2 and f1 == f2
    assert json.loads((tmp_path / "a" / DIRTY_MANIFEST).read_text(encoding="utf-8")) == m1
    m3, _ = _dirty_files(tmp_path / "c", DEMO_SEED + 1)
    assert [d["source_row"] for d in m3["defects"]] != [d["source_row"] for d in m1["defects"]]
    with pytest.raises(ValueError, match="dirty already"):
        inject_defects(tmp_path / "a", seed=DEMO_SEED, end_date=DEMO_END, scale="small")


def test_cli_dirty_then_clean(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESML_")}
    args = [sys.executable, "-m", "salesml.cli", "demo", "--scale", "small", "--end-date", DEMO_END.isoformat(), "--no-load"]
    proc = subprocess.run([*args, "--dirty"], capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    shown = str(Path("data", "raw", "demo", DIRTY_MANIFEST))
    assert "dirty: injected" in proc.stderr and shown in proc.stderr
    demo_manifest = json.loads((tmp_path / "data" / "raw" / "demo" / "manifest.json").read_text(encoding="utf-8"))
    assert demo_manifest["dirty"]["defects"] > 0
    # a clean run over the same folder leaves no stale defect list behind
    proc = subprocess.run([*args, "--clean"], capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "data" / "raw" / "demo" / DIRTY_MANIFEST).exists()
    assert "dirty" not in json.loads((tmp_path / "data" / "raw" / "demo" / "manifest.json").read_text(encoding="utf-8"))

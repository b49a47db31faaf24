"""salesml bridge, scorecard, crosssell, assign and train crosssell, run as a user runs them."""

from __future__ import annotations

import json
from decimal import Decimal

import openpyxl

from tests.test_cli import run


def _env(settings) -> dict:
    return {"SALESML_WAREHOUSE": str(settings.warehouse_path)}


def test_bridge_parts_add_up_in_every_format(small_demo):
    env = _env(small_demo)
    rows = json.loads(run("bridge", "--by", "region", "--compare", "last_year", "--format", "json", cwd=small_demo.root, env_extra=env).stdout)
    assert rows and {"region", "base", "current", "price", "volume", "mix", "change"} <= set(rows[0])
    for r in rows:
        parts = sum(Decimal(str(r[p])) for p in ("new_customers", "lost_customers", "price", "volume", "mix", "returns"))
        assert Decimal(str(r["base_revenue"])) + parts == Decimal(str(r["revenue"]))
    table = run("bridge", cwd=small_demo.root, env_extra=env)
    assert "revenue bridge" in table.stdout and "latest complete month" in table.stderr
    bad = run("bridge", "--by", "team", "--scope", "rep:R001", cwd=small_demo.root, env_extra=env, check=False)
    assert bad.returncode == 1 and "narrower" in bad.stderr and "Traceback" not in bad.stderr


def test_scorecard_and_findings(small_demo):
    env = _env(small_demo)
    cards = json.loads(run("scorecard", "--scope", "team:T01", "--format", "json", cwd=small_demo.root, env_extra=env).stdout)
    assert cards and {c["team"] for c in cards} == {"T01"} and "peer_win_rate_pct" in cards[0]
    found = json.loads(run("scorecard", "--findings", "--format", "json", cwd=small_demo.root, env_extra=env).stdout)
    assert all(f["direction"] in ("strength", "gap") for f in found)


def test_crosssell_train_then_suggest_and_export(small_demo, tmp_path):
    env = _env(small_demo)
    trained = json.loads(run("train", "crosssell", "--format", "json", cwd=small_demo.root, env_extra=env).stdout)
    methods = {r["method"]: r for r in trained["backtest"]["rows"]}
    assert set(methods) == {"crosssell", "popularity"} and trained["version"].startswith("v")
    assert 0 <= methods["crosssell"]["hit_rate"] <= 1
    out = tmp_path / "offers.xlsx"
    proc = run("crosssell", "--scope", "rep:R001", "--to", str(out), cwd=small_demo.root, env_extra=env)
    assert proc.stdout.strip() == str(out)
    sheet = openpyxl.load_workbook(out).active
    header = [c.value for c in sheet[1]]
    assert {"customer_id", "product_id", "product_name", "basis"} <= set(header)
    bad = run("crosssell", "--customer", "NOPE", cwd=small_demo.root, env_extra=env, check=False)
    assert bad.returncode == 1 and "NOPE" in bad.stderr


def test_assign_lists_suggestions_or_says_there_is_nobody(small_demo):
    env = _env(small_demo)
    proc = run("assign", cwd=small_demo.root, env_extra=env)
    assert "nobody to assign" in proc.stderr or "owners suggested" in proc.stdout
    past = json.loads(run("assign", "--as-of", "2025-06-30", "--format", "json", cwd=small_demo.root, env_extra=env).stdout)
    assert past and all(r["reason_code"] in ("no_owner", "unknown_owner", "owner_left", "owner_not_started") for r in past)

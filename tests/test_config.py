"""Settings: defaults, the project file, environment overrides, clear errors."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from salesml.config import ConfigError, defaults_as_dict, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_runs_without_a_config_file(no_config):
    s = load_settings()
    assert s.config_path is None
    assert s.root == no_config
    assert s.warehouse_path == no_config / "data" / "warehouse.duckdb"
    assert s.demo.scale == "medium"
    assert s.report.suite == ("sales_performance", "data_quality", "customer_segments", "churn_risk", "sales_forecast")


def test_project_file_documents_the_built_in_defaults():
    data = tomllib.loads((ROOT / "salesml.toml").read_text(encoding="utf-8"))
    defaults = defaults_as_dict()
    # one deliberate difference: the project (the demo's) knows the demo's promotion calendar;
    # built in, no calendar is known
    assert data["forecast"].pop("promotions") == "data/raw/demo/promotions.csv" and defaults["forecast"].pop("promotions") == ""
    for section in ("warehouse", "demo", "report", "performance", "cleaning", "models", "commission", "segments", "churn", "clv", "forecast", "inventory"):
        assert data[section] == defaults[section], section
    # and it loads
    s = load_settings(ROOT / "salesml.toml")
    assert s.local_names["region"]["East China"] == "华东"


def test_relative_paths_are_relative_to_the_config_file(tmp_path, no_config):
    cfg = tmp_path / "proj" / "salesml.toml"
    cfg.parent.mkdir()
    cfg.write_text('[warehouse]\npath = "wh/x.duckdb"\n[demo]\nscale = "small"\n', encoding="utf-8")
    s = load_settings(cfg)
    assert s.warehouse_path == cfg.parent / "wh" / "x.duckdb"
    assert s.demo.scale == "small"
    assert s.demo.seed == 42  # untouched keys keep their defaults


def test_environment_overrides(tmp_path, no_config, monkeypatch):
    cfg = tmp_path / "other.toml"
    cfg.write_text('[demo]\nseed = 5\n', encoding="utf-8")
    monkeypatch.setenv("SALESML_CONFIG", str(cfg))
    monkeypatch.setenv("SALESML_WAREHOUSE", str(tmp_path / "elsewhere.duckdb"))
    s = load_settings()
    assert s.demo.seed == 5
    assert s.warehouse_path == tmp_path / "elsewhere.duckdb"
    # an explicit --config wins over $SALESML_CONFIG
    explicit = tmp_path / "explicit.toml"
    explicit.write_text('[demo]\nseed = 9\n', encoding="utf-8")
    assert load_settings(explicit).demo.seed == 9


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[report]\ntimeout = 5\n", r"unknown setting 'report.timeout'"),
        ("[report]\ncell_timeot_s = 5\n", r"did you mean 'cell_timeout_s'"),
        ("[report]\nworkers = -1\n", r"report.workers must be 0 \(one per core\) or more, got -1"),
        ("[schedules.m]\nreport = 'sales_performance'\ncron = '0 6 32 * *'\n", r"schedules.m.cron: '0 6 32 \* \*' is not a cron expression"),
        ("[schedules.m]\nreport = 'sales_performance'\ncron = '0 6 1 * *'\ntimezone = 'Mars/Base'\n", r"schedules.m.timezone: 'Mars/Base' is not a time zone"),
        ("[schedules.m]\nreport = 'sales_performance'\ncron = '0 6 1 * *'\naudience = 'every_rep'\n", r"schedules.m.audience: 'every_rep' is neither"),
        ("[schedules.m]\nreport = 'sales_performance'\ncron = '0 6 1 * *'\nparameters = { scope = 'team:T1' }\n", r"a schedule's scope is its audience"),
        ("[schedules.m]\ncron = '0 6 1 * *'\n", r"schedules.m.report: name the report"),
        ("[schedules.m]\nreport = 'r'\ncron = '0 6 1 * *'\nretries = -1\n", r"schedules.m.retries must be 0 or more"),
        ("[schedule]\ncatch_up = 0\n", r"schedule.catch_up must be 1 or more"),
        ("[demo]\nseed = 'x'\n", r"'demo.seed' must be an integer"),
        ("[demo]\nscale = 'huge'\n", r"demo.scale must be one of small, medium, large"),
        ("[report]\nplotlyjs = 'cdn'\n", r"report.plotlyjs"),
        ("[sources.x.tables.orders]\nfiles = ['a.csv']\n", r"sources.x.tables.orders: not a canonical table"),
        ("[demo\n", r"not valid TOML"),
        ('[warehouse]\nmemory_limit = "lots"\n', r"warehouse.memory_limit must be a size such as \"4GB\""),
        ('[warehouse]\nmemory_limit = "100"\n', r"warehouse.memory_limit must be a size"),
        ('[warehouse]\nmemory_limit = "-1GB"\n', r"warehouse.memory_limit must be a size"),
        ('[warehouse]\nmemory_limit = "4 GBs"\n', r"warehouse.memory_limit must be a size"),
        ('[warehouse]\nmemory_limit = "0GB"\n', r"warehouse.memory_limit must be more than 0, got '0GB'"),
        ('[warehouse]\nmemory_limit = "150%"\n', r"warehouse.memory_limit must be more than 0 and at most 100%"),
        ("[warehouse]\nmemory_limit = 4\n", r"'warehouse.memory_limit' must be a string"),
        ("[warehouse]\nthreads = -1\n", r"warehouse.threads must be 0 \(all cores\) or more, got -1"),
        ('[forecast]\ncombinations = ["ets+thetta"]\n', r"forecast.combinations: 'ets\+thetta': unknown model\(s\) thetta"),
        ('[forecast]\ncombinations = ["ets"]\n', r"forecast.combinations: 'ets': two or more different models are needed"),
        ('[forecast]\nproduct_choice = "best"\n', r"forecast.product_choice must be \"pooled\" or \"series\", got 'best'"),
        ("[forecast]\nselection_windows = -2\n", r"forecast.ensemble_top, forecast.selection_windows, forecast.calibrate_windows and forecast.workers must be 0 or more"),
        ("[forecast]\nparent_margin = -0.1\n", r"forecast.parent_margin must be a share of 0 or more \(0.1 = 10%\), got -0.1"),
        ("[forecast]\nparent_margin = nan\n", r"forecast.parent_margin must be a share of 0 or more"),
        ("[forecast]\nswitch_margin = -0.05\n", r"forecast.switch_margin must be a share of 0 or more \(0.1 = 10%\), got -0.05"),
        ("[forecast]\nswitch_margin = inf\n", r"forecast.switch_margin must be a share of 0 or more"),
        ("[forecast]\ncalibrate_windows = -1\n", r"forecast.calibrate_windows and forecast.workers must be 0 or more"),
        ("[forecast]\ncalibrate_beyond_se = -1\n", r"forecast.calibrate_beyond_se must be a number of standard errors, 0 or more, got -1.0"),
        ('[forecast]\nparent_margin = "10%"\n', r"'forecast.parent_margin' must be a number"),
    ],
)
def test_bad_settings_name_the_key_and_file(tmp_path, no_config, text, message):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as e:
        load_settings(cfg)
    assert str(cfg) in str(e.value)


def test_missing_config_file_is_an_error(tmp_path, no_config, monkeypatch):
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")
    monkeypatch.setenv("SALESML_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match=r"gone.toml \(from \$SALESML_CONFIG\)"):
        load_settings()


def test_sources_are_typed(tmp_path, no_config):
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        '[sources.erp]\nencoding = "gb18030"\n[sources.erp.tables.order_lines]\nfiles = "x/*.csv"\n'
        'columns = { order_id = "Invoice" }\nvalues = { status = { C = "cancelled" } }\n',
        encoding="utf-8",
    )
    src = load_settings(cfg).sources["erp"]
    assert src.encoding == "gb18030"
    t = src.tables["order_lines"]
    assert t.files == ("x/*.csv",)
    assert t.columns == {"order_id": "Invoice"}
    assert t.values == {"status": {"C": "cancelled"}}


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ('unlinked_returns = "drop"', "sources.erp.unlinked_returns must be one of 'accept', 'quarantine'"),
        ('duplicates = "merge"', "sources.erp.duplicates must be one of 'quarantine', 'keep'"),
        ('decimal = ";"', "sources.erp.decimal must be one of"),
        ('decimal = ","\nthousands = ","', "thousands and decimal are both ','"),
        ('format = "parquet"\ndecimal = ","', "a parquet source's numbers are typed: remove decimal"),
    ],
)
def test_source_policies_and_number_styles_are_checked(tmp_path, no_config, block, message):
    cfg = tmp_path / "s.toml"
    cfg.write_text(f"[sources.erp]\n{block}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(cfg)


@pytest.mark.parametrize("limit", ["512MiB", "4 GB", "1.5gb", "2TiB", "", "  "])
def test_memory_limits_duckdb_reads_are_accepted(tmp_path, no_config, limit):
    cfg = tmp_path / "ok.toml"
    cfg.write_text(f'[warehouse]\nmemory_limit = "{limit}"\nthreads = 2\n', encoding="utf-8")
    s = load_settings(cfg)
    assert s.warehouse.memory_limit == limit and s.warehouse.threads == 2


def test_a_share_of_memory_is_accepted_where_duckdb_accepts_one(tmp_path, no_config):
    import duckdb

    try:  # DuckDB 2.0 reads "50%"; 1.4 refuses it
        duckdb.connect(":memory:", config={"memory_limit": "50%"}).close()
        accepted = True
    except duckdb.Error:
        accepted = False
    cfg = tmp_path / "share.toml"
    cfg.write_text('[warehouse]\nmemory_limit = "50%"\n', encoding="utf-8")
    if accepted:
        assert load_settings(cfg).warehouse.memory_limit == "50%"
    else:
        with pytest.raises(ConfigError, match=rf"{cfg}: warehouse.memory_limit = '50%' is refused by DuckDB"):
            load_settings(cfg)


def test_config_file_is_found_from_a_subfolder(no_config, monkeypatch):
    """A notebook's kernel runs in notebooks/: the project's salesml.toml above it applies."""
    from salesml.config import config_file, load_settings

    (no_config / "salesml.toml").write_text('[warehouse]\npath = "data/wh.duckdb"\n', encoding="utf-8")
    sub = no_config / "notebooks" / "deeper"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert config_file() == (no_config / "salesml.toml").resolve()
    assert load_settings().warehouse_path == (no_config / "data" / "wh.duckdb").resolve()


def test_a_login_is_never_sent_to_another_machine_in_the_clear(tmp_path):
    from salesml.config import ConfigError, load_settings

    cfg = tmp_path / "salesml.toml"
    cfg.write_text('[email]\nhost = "smtp.example.com"\nsecurity = "none"\nusername = "bot"\nsender = "s@example.com"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="would send the password of 'bot' to smtp.example.com in the clear"):
        load_settings(cfg)
    cfg.write_text('[email]\nhost = "127.0.0.1"\nsecurity = "none"\nusername = "bot"\nsender = "s@example.com"\n', encoding="utf-8")
    assert load_settings(cfg).email.security == "none"  # a relay on this machine
    cfg.write_text('[email]\nhost = "smtp.example.com"\nusername = "bot"\nsender = "s@example.com"\n', encoding="utf-8")
    assert load_settings(cfg).email.security == "starttls"  # the default

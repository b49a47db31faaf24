"""Settings: ``salesml.toml`` plus environment overrides, typed.

Resolution
----------
1. the built-in defaults below (salesml runs without any config file);
2. the config file: ``--config PATH``, else ``$SALESML_CONFIG``, else ``salesml.toml`` in the
   working folder or the nearest folder above it (a notebook's kernel runs in ``notebooks/``)
   if it exists. Relative paths inside it are relative to the file's folder;
3. ``$SALESML_WAREHOUSE`` overrides ``warehouse.path``, so several warehouses coexist.

Unknown keys and wrongly typed values are errors naming the key and the file, with a
suggestion for a misspelt key.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb

from salesml.errors import SalesmlError
from salesml.locations import DEFAULT_CONFIG_NAME as DEFAULT_CONFIG_NAME
from salesml.locations import ENV_CONFIG as ENV_CONFIG
from salesml.locations import ENV_WAREHOUSE as ENV_WAREHOUSE
from salesml.schema import ROLES, TABLES
from salesml.scope import ScopeError, parse_scope

SCALES = ("small", "medium", "large")
SOURCE_FORMATS = ("csv", "excel", "parquet", "sql")


class ConfigError(SalesmlError, ValueError):
    """A setting is missing, unknown or of the wrong type."""


@dataclass(frozen=True)
class WarehouseSettings:
    """The DuckDB warehouse file and the resources of every connection to it."""

    #: DuckDB file holding the canonical tables, batches and quarantine
    path: str = "data/warehouse.duckdb"
    #: DuckDB memory limit for one connection: a size such as "4GB" or "512MiB" (KB, MB, GB,
    #: TB count in 1000s; KiB, MiB, GiB, TiB in 1024s), a share of the machine's memory such
    #: as "50%" where the installed DuckDB accepts one (2.0 does; 1.5, which salesml pins for its crypto module, does not); "" = DuckDB's default
    memory_limit: str = ""
    #: DuckDB threads for one connection (0 = all cores)
    threads: int = 0
    #: the environment variable holding the key of an encrypted warehouse ("" = not encrypted):
    #: with it set, the file is encrypted with DuckDB's database encryption (AES-GCM-256)
    encryption_key_env: str = ""


#: the name of an environment variable (``encryption_key_env``, ``password_env``)
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_env_name(value: str, key: str, origin: str = "settings") -> None:
    """``value`` is empty or the name of an environment variable (never the secret itself)."""
    if value and not _ENV_NAME_RE.match(value):
        raise ConfigError(
            f"{origin}: {key} names the environment variable that holds the key (e.g. \"SALESML_KEY\"), "
            "never the key itself: letters, digits and _, not starting with a digit"
        )


#: a memory size as DuckDB reads it: a number and a unit (KB..TB: powers of 1000, KiB..TiB: of 1024)
_MEMORY_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)
#: a share of the machine's memory, e.g. "50%" (DuckDB 2.0 and later)
_MEMORY_SHARE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*%$")


def check_warehouse(w: WarehouseSettings, origin: str = "settings") -> None:
    """A memory limit of DuckDB's size syntax that the installed DuckDB accepts (it is tried on
    an in-memory database: a share such as "50%" passes only where DuckDB reads one), and
    threads >= 0. A limit too small for the work is reported when the work runs out of memory."""
    if w.threads < 0:
        raise ConfigError(f"{origin}: warehouse.threads must be 0 (all cores) or more, got {w.threads}")
    check_env_name(w.encryption_key_env, "warehouse.encryption_key_env", origin)
    text = w.memory_limit.strip()
    if not text:
        return
    size, share = _MEMORY_SIZE_RE.match(text), _MEMORY_SHARE_RE.match(text)
    expected = (
        'a size such as "4GB" or "512MiB" (units KB, MB, GB, TB or KiB, MiB, GiB, TiB), a share '
        'such as "50%", or "" for DuckDB\'s default'
    )
    if not size and not share:
        raise ConfigError(f"{origin}: warehouse.memory_limit must be {expected}, got {w.memory_limit!r}")
    number = float((size or share).group(1))
    if number <= 0 or (share and number > 100):
        raise ConfigError(
            f"{origin}: warehouse.memory_limit must be more than 0{' and at most 100%' if share else ''}, got {w.memory_limit!r}"
        )
    try:
        with duckdb.connect(":memory:", config={"memory_limit": text}) as con:
            con.execute("SELECT 1").fetchall()
    except duckdb.Error as e:
        reason = str(e).splitlines()[0]
        raise ConfigError(
            f"{origin}: warehouse.memory_limit = {w.memory_limit!r} is refused by DuckDB {duckdb.__version__} ({reason}); "
            f"use {expected}"
        ) from None


@dataclass(frozen=True)
class DemoSettings:
    #: small (~20k order lines), medium (~500k) or large (~5M)
    scale: str = "medium"
    seed: int = 42
    #: last day of the demo data, YYYY-MM-DD; "" = yesterday
    end_date: str = ""
    #: years of history before end_date
    years: float = 3.0
    #: where the raw export files are written
    out_dir: str = "data/raw/demo"
    #: the demo company has closed the books of its last N complete months...
    closed_months: int = 2
    #: ...each on this day of the following month; returns of a closed month that arrive
    #: later are posted as adjustments in the first open month
    close_day: int = 5


#: languages the reports are written in
REPORT_LANGS = ("en", "zh")


@dataclass(frozen=True)
class ReportSettings:
    notebooks_dir: str = "notebooks"
    output_dir: str = "reports"
    #: notebooks rendered by `salesml report --suite` (and `make demo`)
    suite: tuple[str, ...] = ("sales_performance", "data_quality", "customer_segments", "churn_risk", "sales_forecast")
    #: seconds a single notebook cell may run before the report fails
    cell_timeout_s: int = 600
    #: "inline": each HTML page carries plotly.js (works offline, ~4.8 MB a page);
    #: "shared": one plotly.min.js beside the reports, referenced relatively
    plotlyjs: str = "inline"
    #: months of history in trend charts
    trend_months: int = 24
    #: rows in ranking tables
    top_n: int = 20
    kernel: str = "python3"
    #: reports rendered at once by ``salesml report`` with several names or ``--suite``
    #: (each in its own kernel process; 0 = one per available core)
    workers: int = 0
    #: keep each worker's kernel from one page to the next (its names cleared before every page)
    #: instead of starting a kernel and importing the stack for every page
    warm_kernels: bool = True
    #: language of every label, sentence and number format in the reports: "en" or "zh"
    #: (a report's ``lang`` parameter overrides it)
    lang: str = "en"
    #: Chinese pages write large amounts in 万 / 亿 (¥70.3M -> ¥7,030万); False = M / K as in English
    zh_wan_units: bool = True


@dataclass(frozen=True)
class PerformanceSettings:
    #: statuses of order lines that count as sales (returns are netted separately)
    sale_status: str = "completed"
    return_status: str = "returned"
    #: label used for sales whose rep has no hierarchy row on the order date
    unassigned: str = "(unassigned)"


@dataclass(frozen=True)
class CleaningSettings:
    #: a sale's unit price is flagged (not dropped) when it lies more than this many robust
    #: standard deviations (1.4826 x MAD) from its product's median price
    price_outlier_z: float = 5.0
    #: products with fewer sale lines in a file are not checked for price outliers
    price_outlier_min_lines: int = 8
    #: dates up to this many days after the load date are accepted (clock skew, time zones)
    future_days_allowed: int = 1
    #: when more than this share of a date column's values cannot be read, the load stops
    #: with examples and the date_format to set (a wrong format, not a few bad rows)
    max_bad_date_share: float = 0.02
    #: when more than this share of a file's lines are malformed (wrong number of fields, a
    #: quote left open), the load stops as a likely mapping or delimiter error
    max_bad_line_share: float = 0.05


#: what a commission plan pays on: the rep's net revenue or net margin of the period
COMMISSION_BASES = ("revenue", "margin")


@dataclass(frozen=True)
class CommissionTier:
    """A band of attainment: from ``from_pct`` % of target up to the next tier's ``from_pct``.

    The part of the base that falls in the band earns ``rate`` (marginal rates)."""

    #: lower edge of the band, in % of target (the first tier starts at 0)
    from_pct: float = 0.0
    #: commission rate as a fraction of the base in the band (0.03 = 3%)
    rate: float = 0.0


@dataclass(frozen=True)
class CommissionPlan:
    """A commission plan; keys a plan leaves out take the built-in ``standard`` plan's values."""

    #: shown on the statements
    description: str = ""
    #: "revenue" or "margin": the rep's net figure from the ledger for the period
    #: (everything posted in it, adjustments for closed periods included)
    base: str = "revenue"
    #: bands of attainment with marginal rates, ascending; the first starts at 0
    tiers: tuple[CommissionTier, ...] = (
        CommissionTier(0.0, 0.03),
        CommissionTier(100.0, 0.05),
        CommissionTier(150.0, 0.07),
    )
    #: below this attainment % no commission is paid (0 = no threshold)
    threshold_pct: float = 50.0
    #: maximum commission of a rep in a period (0 = no cap)
    cap: float = 0.0
    #: flat rate on the base of a rep without a target for the period (no threshold then)
    no_target_rate: float = 0.03
    #: who the plan applies to (see CommissionSettings for the order)
    rep_ids: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()


@dataclass(frozen=True)
class CommissionSettings:
    """Commission plans. A rep gets the first plan that matches, in this order: a plan that
    lists the rep's id, then the rep's role, then team, then region, then ``default_plan``."""

    #: plan of every rep no plan claims ("" = none: such reps are listed as "no plan")
    default_plan: str = "standard"
    plans: dict[str, CommissionPlan] = field(
        default_factory=lambda: {
            "standard": CommissionPlan(
                description="3% of net revenue up to target, 5% from 100% to 150%, 7% above; nothing below 50% of target"
            )
        }
    )


@dataclass(frozen=True)
class SegmentSettings:
    """RFM and clustering segmentation (see salesml.customers).

    Every customer gets 1-5 scores for recency (R), frequency (F) and monetary value (M),
    higher = better, and a second score FM (``fm_score``). The segment is the ``name`` of
    the first rule whose ``r`` and ``fm`` ranges (inclusive) hold the customer's R and FM.
    The rules must give every (R, FM) pair of 1..5 x 1..5 a segment (gaps are an error), and
    every rule must win some pair (a rule hidden by the rules before it is an error); a
    segment may take several rules (a shape that is not a rectangle).
    """

    @dataclass(frozen=True)
    class SegmentRule:
        """One rectangle of the (R, FM) score grid and its segment name."""

        name: str = ""
        #: inclusive range of the R score, [low, high] within 1..5
        r: tuple[int, ...] = (1, 5)
        #: inclusive range of the FM score, [low, high] within 1..5
        fm: tuple[int, ...] = (1, 5)

    #: the second axis of the segment map: "mean" = (F + M) / 2 rounded half up; "f" = F alone
    fm_score: str = "mean"
    #: the segment map: (R, FM) score ranges -> segment name; the first matching rule wins
    rules: tuple[SegmentRule, ...] = (
        SegmentRule("Champions", (5, 5), (4, 5)),
        SegmentRule("Loyal", (3, 4), (4, 5)),
        SegmentRule("Potential loyalists", (4, 5), (2, 3)),
        SegmentRule("New", (5, 5), (1, 1)),
        SegmentRule("Promising", (4, 4), (1, 1)),
        SegmentRule("Need attention", (3, 3), (3, 3)),
        SegmentRule("About to sleep", (3, 3), (1, 2)),
        SegmentRule("Can't lose", (1, 2), (5, 5)),
        SegmentRule("At risk", (1, 2), (3, 4)),
        SegmentRule("Hibernating", (2, 2), (1, 2)),
        SegmentRule("Lost", (1, 1), (1, 2)),
    )
    #: clustering: numbers of clusters tried, [low, high]; the best silhouette wins
    k_range: tuple[int, ...] = (2, 8)
    #: clustering: seed of k-means (same seed, same data -> same clusters)
    random_state: int = 0
    #: clustering: k-means restarts per k
    n_init: int = 10
    #: clustering: customers sampled to compute a silhouette (0 = all; the cost grows with the square)
    silhouette_sample: int = 5000
    #: cluster labels in plain words: a cluster whose mean R, F or M score is at least
    #: label_high is "recent" / "frequent" / "high spend", at most label_low "lapsed" /
    #: "infrequent" / "low spend", otherwise "mid ..."
    label_high: float = 3.5
    label_low: float = 2.5
    #: the customer_segments report compares its as-of date with this many months earlier
    migration_months: int = 3
    #: the customer_segments report lists the most valuable customers of these segments to win back
    win_back: tuple[str, ...] = ("Can't lose", "At risk")

    def score_grid(self) -> dict[tuple[int, int], str]:
        """(R, FM) -> segment for every pair the rules cover (the first matching rule wins)."""
        grid: dict[tuple[int, int], str] = {}
        for rule in self.rules:
            for r in range(rule.r[0], rule.r[-1] + 1):
                for fm in range(rule.fm[0], rule.fm[-1] + 1):
                    grid.setdefault((r, fm), rule.name)
        return grid

    def segment_names(self) -> tuple[str, ...]:
        """Segment names in the order of the rules (each once)."""
        return tuple(dict.fromkeys(rule.name for rule in self.rules))

    def check(self, origin: str = "settings") -> None:
        """A segment map that gives every (R, FM) pair exactly one segment, and sane clustering settings."""
        if self.fm_score not in ("mean", "f"):
            raise ConfigError(f"{origin}: segments.fm_score must be 'mean' or 'f', got {self.fm_score!r}")
        if not self.rules:
            raise ConfigError(f"{origin}: segments.rules: the segment map needs at least one rule")
        taken: dict[tuple[int, int], int] = {}
        for i, rule in enumerate(self.rules):
            where = f"segments.rules[{i}]"
            if not rule.name.strip():
                raise ConfigError(f"{origin}: {where}.name: a rule needs a segment name")
            for axis in ("r", "fm"):
                rng = getattr(rule, axis)
                if len(rng) != 2 or not all(1 <= v <= 5 for v in rng) or rng[0] > rng[1]:
                    raise ConfigError(
                        f"{origin}: {where}.{axis} ({rule.name}): must be [low, high] scores with 1 <= low <= high <= 5, got {list(rng)}"
                    )
            won = 0
            for r in range(rule.r[0], rule.r[1] + 1):
                for fm in range(rule.fm[0], rule.fm[1] + 1):
                    if (r, fm) not in taken:
                        taken[(r, fm)] = i
                        won += 1
            if not won:
                raise ConfigError(
                    f"{origin}: {where} ({rule.name}): never applies, every score pair it covers is taken by an earlier rule"
                )
        gaps = [(r, fm) for r in range(1, 6) for fm in range(1, 6) if (r, fm) not in taken]
        if gaps:
            shown = ", ".join(f"R={r} FM={fm}" for r, fm in gaps)
            raise ConfigError(
                f"{origin}: segments.rules: {len(gaps)} score pair(s) have no segment: {shown}; "
                "every (R, FM) pair of 1..5 x 1..5 needs a rule (add one, e.g. { name = \"Other\", r = [1, 5], fm = [1, 5] } last)"
            )
        if len(self.k_range) != 2 or self.k_range[0] < 2 or self.k_range[0] > self.k_range[1]:
            raise ConfigError(f"{origin}: segments.k_range must be [low, high] with 2 <= low <= high, got {list(self.k_range)}")
        if self.n_init < 1:
            raise ConfigError(f"{origin}: segments.n_init must be 1 or more, got {self.n_init}")
        if self.silhouette_sample < 0:
            raise ConfigError(f"{origin}: segments.silhouette_sample must be 0 (all) or more, got {self.silhouette_sample}")
        if not 1 <= self.label_low < self.label_high <= 5:
            raise ConfigError(
                f"{origin}: segments.label_low and label_high must satisfy 1 <= label_low < label_high <= 5, "
                f"got {self.label_low:g} and {self.label_high:g}"
            )
        if self.migration_months < 1:
            raise ConfigError(f"{origin}: segments.migration_months must be 1 or more, got {self.migration_months}")
        unknown = [name for name in self.win_back if name not in self.segment_names()]
        if unknown:
            raise ConfigError(
                f"{origin}: segments.win_back: {', '.join(map(repr, unknown))} not a segment of segments.rules "
                f"(segments: {', '.join(self.segment_names())})"
            )


@dataclass(frozen=True)
class ScorecardSettings:
    """Rep scorecards against the team's peers (see salesml.accounting.scorecard).

    A finding is a measure whose difference from the team's median reaches its threshold:
    ``*_points`` in percentage points, ``*_ratio`` as rep / team (1.25 = at least 25% above,
    or below 1 / 1.25), ``*_count`` in units."""

    #: months of the trailing window, ending with the period, of win rate, sales cycle and retention
    window_months: int = 6
    #: retention follows the rep's customers of this many months before that window
    retention_base_months: int = 12
    #: months of the attainment trend (the period and the months before it)
    trend_months: int = 3
    #: a team median needs this many peers (the team's other reps) with the measure; with one
    #: peer the "median" would be that colleague's own figure
    min_peers: int = 2
    #: a win rate is compared (team medians, findings) from this many closed opportunities,
    #: a sales cycle from this many won ones
    min_closed_opportunities: int = 5
    min_won_opportunities: int = 3
    #: the smallest difference from the team's median worth a finding, per measure
    win_rate_points: float = 5.0
    sales_cycle_ratio: float = 1.25
    aov_ratio: float = 1.25
    discount_points: float = 3.0
    top_category_share_points: float = 15.0
    categories_count: int = 2
    return_rate_points: float = 2.0
    retention_points: float = 10.0
    attainment_points: float = 15.0
    attainment_slope_points: float = 10.0
    #: "the same win rate" as the team: within this many points (a discount finding then
    #: reads "N points deeper than the team for the same win rate")
    same_win_rate_points: float = 3.0

    def check(self, origin: str = "settings") -> None:
        """Windows and sample sizes of 1 or more, thresholds that can be reached."""
        for key in ("window_months", "retention_base_months", "min_peers", "min_closed_opportunities",
                    "min_won_opportunities", "categories_count"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{origin}: scorecard.{key} must be 1 or more, got {getattr(self, key)}")
        if self.trend_months < 2:
            raise ConfigError(f"{origin}: scorecard.trend_months must be 2 or more (a trend needs two months), got {self.trend_months}")
        for key in ("win_rate_points", "discount_points", "top_category_share_points", "return_rate_points",
                    "retention_points", "attainment_points", "attainment_slope_points"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"{origin}: scorecard.{key} must be positive (percentage points), got {getattr(self, key):g}")
        for key in ("sales_cycle_ratio", "aov_ratio"):
            if getattr(self, key) <= 1:
                raise ConfigError(f"{origin}: scorecard.{key} must be above 1 (1.25 = 25% above or below the team), got {getattr(self, key):g}")
        if not 0 <= self.same_win_rate_points < self.win_rate_points:
            raise ConfigError(
                f"{origin}: scorecard.same_win_rate_points must be 0 or more and below win_rate_points "
                f"({self.win_rate_points:g}), got {self.same_win_rate_points:g}"
            )


@dataclass(frozen=True)
class ClvSettings:
    """Customer lifetime value: BG/NBD and Gamma-Gamma (see salesml.customers.clv)."""

    #: days ahead for expected purchases, P(no purchase) and CLV (`salesml clv --horizon-days`)
    horizon_days: int = 365
    #: annual discount rate of the CLV (0.10 = 10% a year), applied at the end of each month
    discount_rate: float = 0.10
    #: share of revenue counted as value: 1.0 = CLV in net revenue, 0.3 = at a 30% margin
    margin_ratio: float = 1.0
    #: time unit of frequency, recency and T in the models: "days" or "weeks"
    time_unit: str = "days"
    #: L2 penalty on the models' log-parameters, towards a neutral population (0 = plain maximum
    #: likelihood; e.g. 0.01 steadies a fit on little data); independent of time unit and currency
    penalizer: float = 0.0
    #: a BG/NBD fit that ends on the model's boundary (a parameter running off to 0 or infinity,
    #: or a -> 0: nobody would ever stop buying, P(alive) = 100% even after a year's silence) is
    #: refitted with at least this penalizer, and says so
    boundary_penalizer: float = 0.01
    #: fewer customers with purchases up to the as-of date than this is an error
    min_customers: int = 50
    #: fewer customers with a repeat purchase than this is an error (the spend model needs them)
    min_repeat_customers: int = 20


#: how the cross-sell model scores the products its rules reach, and how it fills a short list
CROSSSELL_SCORINGS = ("sum", "best")
CROSSSELL_FALLBACKS = ("category", "popular", "none")


@dataclass(frozen=True)
class CrossSellSettings:
    """Cross-sell recommendations from products bought together (see salesml.customers.crosssell)."""

    #: a rule A -> C is kept when A and C are in at least min_count baskets together, in at least
    #: the share min_support of all baskets, with confidence and lift at least these...
    min_count: int = 5
    min_support: float = 0.0
    min_confidence: float = 0.2
    min_lift: float = 1.0
    #: ...and more often than chance: one-sided Fisher test, p <= significance / product pairs (1 = no test)
    significance: float = 0.05
    #: of each product, the rules of highest confidence kept (0 = all)
    rules_per_product: int = 50
    #: "sum": confidence x lift summed over the customer's products; "best": the best rule's confidence
    scoring: str = "sum"
    #: recommendations per customer
    top_k: int = 5
    #: a list the rules leave short is filled by "category" (the customer's category mix x the
    #: product's popularity in its category), "popular" (most popular products) or "none"
    fallback: str = "category"
    #: pseudo-products of the company's category mix added to each customer's (category fallback)
    category_prior: float = 4.0
    #: backtest: days after the cutoff whose purchases are scored; bootstrap of the gain, and its seed
    horizon_days: int = 90
    bootstrap_resamples: int = 200
    random_state: int = 0

    def check(self, origin: str = "settings") -> None:
        """Thresholds in range, known scoring and fallback, positive counts."""
        if self.min_count < 1:
            raise ConfigError(f"{origin}: crosssell.min_count must be 1 or more, got {self.min_count}")
        for key in ("min_support", "min_confidence"):
            if not 0 <= getattr(self, key) <= 1:
                raise ConfigError(f"{origin}: crosssell.{key} must be a fraction between 0 and 1, got {getattr(self, key):g}")
        if not 0 < self.significance <= 1:
            raise ConfigError(f"{origin}: crosssell.significance must be above 0 and at most 1 (1 = no test), got {self.significance:g}")
        for key in ("min_lift", "category_prior"):
            if getattr(self, key) < 0:
                raise ConfigError(f"{origin}: crosssell.{key} must be 0 or more, got {getattr(self, key):g}")
        for key, allowed in (("scoring", CROSSSELL_SCORINGS), ("fallback", CROSSSELL_FALLBACKS)):
            if getattr(self, key) not in allowed:
                raise ConfigError(f"{origin}: crosssell.{key} must be one of {', '.join(map(repr, allowed))}, got {getattr(self, key)!r}")
        for key in ("top_k", "horizon_days"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{origin}: crosssell.{key} must be 1 or more, got {getattr(self, key)}")
        for key in ("rules_per_product", "bootstrap_resamples"):
            if getattr(self, key) < 0:
                raise ConfigError(f"{origin}: crosssell.{key} must be 0 or more, got {getattr(self, key)}")


#: what the results rule of owner suggestions measures a rep by
ASSIGNMENT_RESULTS = ("attainment", "revenue")


@dataclass(frozen=True)
class AssignmentSettings:
    """Owner suggestions for unowned customers and leads (see salesml.customers.assignment).

    Each rule scores a candidate rep 0..1 and counts with its weight (0 = the rule is off)."""

    #: roles of the hierarchy that may be suggested as owners
    roles: tuple[str, ...] = ("rep",)
    #: trailing months of a customer's value and of a rep's segment fit and results
    months: int = 12
    #: only reps of the customer's region are candidates; false = any region (weight_region scores a match)
    same_region: bool = True
    #: most customers a rep may own, those owned now and those suggested in the batch (0 = no limit)
    max_customers_per_rep: int = 150
    #: the results rule: "attainment" (revenue / target) or "revenue" of the trailing months
    results: str = "attainment"
    #: rule weights (0 = off): same region, segment fit, results, spare capacity, owner of the lead's account
    weight_region: float = 1.0
    weight_segment_fit: float = 1.0
    weight_results: float = 1.0
    weight_spare_capacity: float = 0.5
    weight_account_owner: float = 2.0

    def check(self, origin: str = "settings") -> None:
        """Known roles and results measure, at least one month, no negative limit or weight."""
        if not self.roles:
            raise ConfigError(f"{origin}: assignment.roles: name the roles that may own customers, e.g. [\"rep\"]")
        for role in self.roles:
            if role not in ROLES:
                raise ConfigError(f"{origin}: assignment.roles: {role!r} is not a role ({', '.join(ROLES)})")
        if self.months < 1:
            raise ConfigError(f"{origin}: assignment.months must be 1 or more, got {self.months}")
        if self.max_customers_per_rep < 0:
            raise ConfigError(f"{origin}: assignment.max_customers_per_rep must be 0 (no limit) or more, got {self.max_customers_per_rep}")
        if self.results not in ASSIGNMENT_RESULTS:
            raise ConfigError(f"{origin}: assignment.results must be one of {', '.join(ASSIGNMENT_RESULTS)}, got {self.results!r}")
        for key in ("weight_region", "weight_segment_fit", "weight_results", "weight_spare_capacity", "weight_account_owner"):
            value = getattr(self, key)
            if not 0 <= value < float("inf"):
                raise ConfigError(f"{origin}: assignment.{key} must be 0 (rule off) or more, got {value:g}")


#: probability calibration methods of the churn model
CHURN_CALIBRATIONS = ("isotonic", "sigmoid")


@dataclass(frozen=True)
class ChurnSettings:
    """Churn labels, features, model and baselines (see salesml.customers.churn).

    A customer with a purchase in the ``lookback_days`` up to a cutoff *churns* at that
    cutoff when they make no purchase in the ``horizon_days`` after it."""

    #: H: days after a cutoff in which an active customer must buy again not to count as churned
    horizon_days: int = 90
    #: days before a cutoff in which a customer must have bought to be scored (and the window
    #: of the RFM, returns, discount, breadth and owner features)
    lookback_days: int = 365
    #: the "recent" window of the trend and ticket features: the last N days vs the N before
    recent_days: int = 90
    #: the time between cutoffs, placed back from the last day of data: "month", "week" or a
    #: number of days
    cutoff_step: str | int = "month"
    #: training examples come from this many cutoffs...
    train_cutoffs: int = 12
    #: the BG/NBD fitted at each cutoff (its figures are features and a baseline): penalizer,
    #: and the one a fit on the model's boundary is refitted with (see [clv])
    bgnbd_penalizer: float = 0.0
    bgnbd_boundary_penalizer: float = 0.01
    #: a saved version scores with the model only when the lower end of the 90% paired
    #: bootstrap interval of its holdout ROC-AUC gain over the best baseline is above this;
    #: otherwise with that baseline (the manifest and the report say which, and why)
    min_auc_gain: float = 0.0
    bootstrap_resamples: int = 200
    #: ...and the holdout from this many later month-ends; the holdout's label windows start
    #: after the last training label window ends (a time-based split, no overlap)
    test_cutoffs: int = 1
    #: training is refused below these sizes (examples, and examples of each class)...
    min_train_examples: int = 200
    min_train_class: int = 20
    #: ...and so is a holdout too small to measure anything
    min_test_examples: int = 50
    min_test_class: int = 5
    #: the model: gradient boosting (scikit-learn's HistGradientBoostingClassifier)...
    random_state: int = 42
    max_iter: int = 200
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    #: ...with calibrated probabilities: "isotonic" or "sigmoid", over this many folds
    calibration: str = "isotonic"
    calibration_folds: int = 3
    #: repeats of the permutation importance on the holdout...
    importance_repeats: int = 5
    #: ...each on this many holdout customers drawn at random (0 = the whole holdout)
    importance_sample: int = 1000
    #: reasons given per customer (the feature groups that raise their risk most)
    top_reasons: int = 3
    #: a ticket satisfaction (1..5) at or below this is a low score
    low_satisfaction: int = 2
    #: a line whose discount is this much above the customer's usual (median) discount
    #: counts as bought on promotion (0.05 = 5 points)
    promo_discount_margin: float = 0.05
    #: customers at or above this risk are "at risk" in reports and score summaries
    at_risk_threshold: float = 0.5


#: forecast models salesml knows (``[forecast] models`` picks the candidates of ``auto``)
FORECAST_MODELS = ("seasonal_naive", "naive", "ets", "ets_ana", "theta", "croston", "tsb", "prophet", "lgbm")
#: hierarchy reconciliation methods
RECONCILE_METHODS = ("bottom_up", "mint_shrink", "mint_ols")
#: the weekdays ``[forecast] week_ends`` takes, Monday first (Python's ``weekday()`` order)
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


@dataclass(frozen=True)
class ForecastSettings:
    """Sales forecasts (see salesml.forecast): models, automatic choice, backtests, hierarchy."""

    #: candidate models of the automatic choice, per series by rolling-origin backtest (lowest MASE)
    models: tuple[str, ...] = ("seasonal_naive", "ets", "theta", "croston", "tsb", "prophet")
    #: the candidates at product level (``--level product``, reorder points): thousands of
    #: noisy, often intermittent series, where the cheap models are as accurate (benchmarks/)
    product_models: tuple[str, ...] = ("ets_ana", "croston", "tsb")
    #: which of ``models`` the rep level of a hierarchy offers its nodes (and ``--level rep``):
    #: on the medium demo Prophet was the weakest candidate at weekly rep level (MASE 0.985
    #: vs TSB 0.822, benchmarks/) and most of a hierarchy's fits; the combinations of models
    #: listed here stay too. Every other level offers all of ``models``
    rep_models: tuple[str, ...] = ("seasonal_naive", "ets", "theta", "croston", "tsb")
    #: average the forecasts of the best N candidates of each series (0 or 1 = the best one alone)
    ensemble_top: int = 0
    #: fixed combinations that join the candidates of ``auto``: the mean of their members'
    #: forecasts and bounds, named "ensemble(a+b)" ("a+b" here; members among ``models``).
    #: They cost no extra fits: a combination reuses its members' backtests and forecasts
    combinations: tuple[str, ...] = ()
    #: how ``auto`` chooses: "series" = each series its own best; "pooled" = one model for all
    #: the series of a level that share their candidates, the lowest mean MASE across them in
    #: the selection backtests (benchmarks/choice.py compares the two)
    choice: str = "pooled"
    #: the same at product level (``--level product``, reorder points): thousands of unlike
    #: series, where pooling did no better (benchmarks/README.md): each series its own
    product_choice: str = "series"
    #: with a pooled choice, a level keeps the model its parent level picked (region and
    #: category: the company's; team: the region level's) unless its own pick scores more than
    #: this share better in the selection backtest (0.1 = 10% lower mean MASE); 0 = each level
    #: chooses alone. The parent's series are sums of the level's, so its choice is steadier;
    #: on two demo companies this removed every miss of the choice above the reps
    #: (benchmarks/README.md). The rep level (its own candidates, ``rep_models``) and the
    #: product level choose alone
    parent_margin: float = 0.1
    #: with a pooled choice, a level without a level above it (the company, the reps, a scoped
    #: run's top) keeps the model it picked one window earlier — its own best at the cut-off
    #: one horizon before — unless its best now scores more than this share better in the
    #: selection backtest; 0 = each cut-off chooses afresh. Picks a hair apart are noise: on the
    #: medium demo's daily reps, tsb 0.3% ahead of ets in one window lost 5% to it
    #: (benchmarks/README.md). A forecast without a backtest fits one more cut-off for it
    switch_margin: float = 0.05
    #: keep the forecasts and backtests a report or command computes, by their inputs (data,
    #: settings, candidates, salesml's code) in ``data/models/cache/``: the same computation
    #: again (another render, the notebook of the same report) is read, not redone
    cache: bool = True
    #: rolling-origin backtest windows of the automatic choice
    windows: int = 3
    #: the windows each choice is made on (its selection backtest; 0 = ``windows``). More
    #: windows look steadier but reach further back: on the demo 5 helped one level and hurt
    #: another (benchmarks/README.md)
    selection_windows: int = 0
    #: default horizons (steps) per frequency
    horizon_d: int = 28
    horizon_w: int = 13
    horizon_m: int = 3
    #: prediction interval, % (also the interval whose coverage backtests measure)
    level: int = 80
    #: calibrate each series' intervals on its selection backtest (conformal): the chosen
    #: model's own bounds are widened or narrowed by the factor that makes ``level`` % of the
    #: backtest's actuals fall inside them (a model's own intervals are often too narrow)
    calibrate_intervals: bool = True
    #: calibrate only a model whose own intervals were off in the selection backtest: their
    #: coverage further from ``level`` than this many standard errors of a share measured on
    #: that many steps (1.96: a 5% test; 0 = always calibrate). Over four data sets the 80%
    #: intervals then fell in 75-85% at 14 of 27 levels instead of 11 (benchmarks/README.md)
    calibrate_beyond_se: float = 1.96
    #: calibrate on the most recent this many windows of the selection backtest (and older
    #: ones while they hold fewer than 10 steps); 0 = all of them. The older windows' fits saw
    #: less history than the forecast's and erred more: calibrated on all three, the medium
    #: demo's weekly intervals covered 82-91%; on the last one, 79-87% (benchmarks/README.md)
    calibrate_windows: int = 1
    #: a series shorter than this many steps (per frequency) is not fitted by the candidates:
    #: it falls back to seasonal naive / naive, or is skipped when even those cannot run
    min_obs_d: int = 56
    min_obs_w: int = 16
    min_obs_m: int = 12
    #: a series with at least this share of zero steps is intermittent (Croston / TSB candidates)
    intermittent_zero_share: float = 0.3
    #: Prophet: country holidays (ISO code, "" = none) and the 618 / Double 11 shopping festivals
    country_holidays: str = "CN"
    festivals: bool = True
    #: Prophet's uncertainty samples (its default 1,000 costs more than the fit)
    prophet_uncertainty_samples: int = 200
    #: a promotion calendar (CSV: category, first_day, last_day, discount; past and planned
    #: promotions) whose depth of promotion Prophet learns as a regressor; "" = none known
    promotions: str = ""
    #: hierarchy reconciliation: "bottom_up", "mint_shrink" or "mint_ols"
    reconcile: str = "mint_shrink"
    #: worker processes for per-series work (0 = one per core)
    workers: int = 0
    random_state: int = 0
    #: the weekday a week ends on ("MON" .. "SUN"); "" = the data's own: weekly exports dated
    #: on one weekday (a week ending Friday) keep it, sales spread over the week end on Sunday
    week_ends: str = ""
    #: a month's date in panels and forecasts: "start" (the 1st), "end" (its last day);
    #: "" = the data's own (monthly exports dated on the last day keep it, else the 1st)
    month_dates: str = ""


@dataclass(frozen=True)
class InventorySettings:
    """Reorder points and low-stock alerts (see salesml.forecast.inventory)."""

    #: the chance of not running out during a lead time (cycle service level)
    service_level: float = 0.95
    #: lead time when a product/warehouse has none in the inventory snapshot
    default_lead_time_days: int = 14
    #: days of daily demand history each product's forecast learns from
    history_days: int = 365


@dataclass(frozen=True)
class ModelSettings:
    #: where trained model versions are stored (one folder per kind and version)
    dir: str = "data/models"


@dataclass(frozen=True)
class BackupSettings:
    """Backups of the warehouse and the model registry (``salesml backup``; ``[backup]``)."""

    #: where ``salesml backup`` writes its backups (one folder each), relative to the config file
    dir: str = "data/backups"
    #: the newest backup of each of the last N days is kept ...
    keep_daily: int = 7
    #: ... and the newest of each of the last N months; older backups are removed after a backup
    #: (0 and 0 = keep every backup)
    keep_monthly: int = 12
    #: the environment variable holding the key backups are encrypted with ("" = the warehouse's
    #: ``encryption_key_env``; both "" = backups are not encrypted)
    encryption_key_env: str = ""

    def check(self, origin: str) -> None:
        if not self.dir.strip():
            raise ConfigError(f"{origin}: backup.dir must name a folder, e.g. \"data/backups\"")
        for key in ("keep_daily", "keep_monthly"):
            if getattr(self, key) < 0:
                raise ConfigError(f"{origin}: backup.{key} must be 0 or more, got {getattr(self, key)}")
        check_env_name(self.encryption_key_env, "backup.encryption_key_env", origin)


@dataclass(frozen=True)
class JoinSource:
    """Another file joined to a table's rows (e.g. order headers onto line items).

    Its columns become available to the mapping by their own names. Every row must find
    exactly one match on ``on``; rows that find none are quarantined, naming the file.
    """

    #: the file (a glob must match exactly one), relative to the config file's folder
    files: tuple[str, ...] = ()
    #: Excel sheet ("" = the first)
    sheet: str = ""
    #: SQL query (for sources of format "sql")
    query: str = ""
    #: column(s) present in both, by their source names
    on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    """A source-specific rule: when ``column`` matches the regex ``matches``, set columns.

    E.g. invoices starting with C are cancellations::

        [[sources.retail.tables.order_lines.rules]]
        name = "C invoices are cancellations"
        column = "order_id"
        matches = "^C"
        set = { status = "cancelled" }
    """

    name: str = ""
    #: canonical column tested (after mapping)
    column: str = ""
    #: regular expression searched in the column's text
    matches: str = ""
    #: canonical column -> value to set on matching rows
    set: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TableSource:
    """How one canonical table is read from a source."""

    #: files (globs allowed), relative to the config file's folder
    files: tuple[str, ...] = ()
    #: Excel sheet name ("" = the first sheet)
    sheet: str = ""
    #: SQL query (for sources of format "sql")
    query: str = ""
    #: canonical column -> source column, or an expression over source columns
    #: (e.g. cost = "Sales - Profit"; names with spaces in backticks)
    columns: dict[str, str] = field(default_factory=dict)
    #: canonical column -> {source value -> canonical value} (matched ignoring case)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    #: strftime format(s) of the date columns; empty = ISO 8601 or an unambiguous
    #: common format detected from the data
    date_format: tuple[str, ...] = ()
    #: files joined to the rows before mapping
    join: tuple[JoinSource, ...] = ()
    #: rows describe the table many times over (a product on every order line of a flat
    #: export): keep one row per key; identical repeats are merged, not quarantined
    distinct: bool = False
    #: source-specific rules applied after mapping
    rules: tuple[Rule, ...] = ()
    #: canonical column -> "lower" | "upper" | "title": case normalisation
    case: dict[str, str] = field(default_factory=dict)
    #: the files have a header row; false: name the columns in ``column_names``
    header: bool = True
    #: column names of a file without a header (in file order)
    column_names: tuple[str, ...] = ()


#: what a source may do with a return that names no sale and matches none
UNLINKED_RETURNS = ("accept", "quarantine")
#: what a source does with a row that repeats an earlier row of the same file exactly
DUPLICATE_POLICIES = ("quarantine", "keep")


@dataclass(frozen=True)
class SourceSettings:
    #: csv | excel | parquet | sql
    format: str = "csv"
    #: for csv: "auto" tries strict UTF-8 (with or without BOM), then GB18030 when the text
    #: it gives is plausible; otherwise names the likely encodings. Or name one: "cp1252",
    #: "gbk", "shift_jis", "latin-1", ...
    encoding: str = "auto"
    #: for csv: the field separator; "whitespace" for columns separated by runs of spaces/tabs
    delimiter: str = ","
    #: the decimal mark of numbers in the files: "." (1,234.50) or "," (1.234,50)
    decimal: str = "."
    #: the thousands separator: "" = the decimal mark's usual ones ("," or a space with ".";
    #: "." or a space with ","), or one of ".", ",", " ", "'" as the files write it
    thousands: str = ""
    #: a return that names no sale and matches no earlier sale of its customer and product:
    #: "accept" (counts in the month it happened, charged to the rep and customer on the
    #: return line, flagged unlinked) or "quarantine"
    unlinked_returns: str = "accept"
    #: the customer id of order lines that have none (walk-in / guest sales); "" = leave it
    #: empty. Either way such lines count in revenue and are left out of customer models
    anonymous_customer: str = ""
    #: a source row repeated exactly (same content, before generated columns such as
    #: @seq): "quarantine" (naming the row it repeats) or "keep"
    duplicates: str = "quarantine"
    #: for sql: a SQLAlchemy URL; ${VAR} is replaced from the environment (keep passwords there)
    url: str = ""
    tables: dict[str, TableSource] = field(default_factory=dict)


@dataclass(frozen=True)
class ComputeSettings:
    """How much of the machine model fits may use (see salesml.compute)."""

    #: threads of the native pools inside one fit (OpenMP in gradient boosting, BLAS): 0 = every
    #: core this process may run on. Process pools (forecast workers) give each worker one.
    threads: int = 0
    #: where per-series forecasts and backtests run (see salesml.compute_engines): "local" (a
    #: process pool on this machine), "dask" or "spark" (through Fugue; optional extras)
    engine: str = "local"
    #: the cluster of engine dask (a scheduler address, tcp://host:8786) or spark (a master URL,
    #: spark://host:7077, local[4]); "" = a local cluster started for the run
    cluster: str = ""
    #: the folder the cluster reads its input from (the panel as partitioned Parquet); "" = a
    #: temporary folder, which only a local cluster can read (a real one needs shared storage)
    exchange_dir: str = ""


#: a schedule's ``report`` that backs up the warehouse and the models instead of rendering a page
BACKUP_SCHEDULE = "backup"


@dataclass(frozen=True)
class ScheduleSettings:
    """One scheduled report (``[schedules.NAME]``; see salesml.delivery.schedules)."""

    #: the report notebook (a name in notebooks/, e.g. "sales_performance"), or "backup": a
    #: backup of the warehouse and the models (salesml backup) into output_dir or [backup] dir
    report: str = ""
    #: when, as a cron expression read by croniter: minute hour day-of-month month day-of-week,
    #: e.g. "0 6 1 * *" = 06:00 on the 1st of every month, "0 7 * * MON" = Mondays at 07:00
    cron: str = ""
    #: the zone the cron times are in (IANA name, e.g. "Asia/Shanghai"; "" = the machine's)
    timezone: str = ""
    #: who gets a report: "company", "each_region", "each_team", "each_rep", or scopes
    #: (["team:T03", "rep:R017"]); each_* expand from the hierarchy on the report's day
    audience: tuple[str, ...] = ("company",)
    #: report parameters; relative words are resolved on each slot's date: period =
    #: "last_month" | "this_month", as_of = "today" | "yesterday" | "last_month_end"
    parameters: dict[str, Any] = field(default_factory=dict)
    #: where its pages go ("" = [report] output_dir): <output_dir>/<period>/<report>/<audience>.html
    output_dir: str = ""
    #: how many more times a failed render is tried, by later run-due calls
    retries: int = 2
    enabled: bool = True
    #: e-mail each page to its member's addresses ([email] addresses) once it rendered
    email: bool = False


@dataclass(frozen=True)
class ScheduleRunSettings:
    """How ``salesml schedule run-due`` and ``serve`` run the schedules (``[schedule]``)."""

    #: the newest slots of a schedule a run-due still runs when they were missed (the machine
    #: was off): older ones are counted as missed by `schedule list`, never run late
    catch_up: int = 3
    #: seconds `schedule serve` waits at most between two looks at what is due
    poll_seconds: int = 60


@dataclass(frozen=True)
class EmailSettings:
    """Where scheduled pages and failure notices are sent from (``[email]``)."""

    #: the SMTP server ("" = no e-mail)
    host: str = ""
    port: int = 587
    #: "starttls" (upgrade the connection), "ssl" (TLS from the start) or "none" (a local relay)
    security: str = "starttls"
    username: str = ""
    #: the environment variable that holds the password (never the password itself)
    password_env: str = "SALESML_SMTP_PASSWORD"
    sender: str = ""
    #: who gets a member's pages: scope -> address(es), e.g. "rep:R017" = "li.wang@example.com";
    #: a page goes only to its own member's addresses
    addresses: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: who is told when a scheduled page fails
    failures_to: tuple[str, ...] = ()
    #: seconds to wait for the server
    timeout_s: int = 30


#: the date grains and comparisons of the workbench (salesml.explore)
EXPLORE_GRAINS = ("day", "week", "month")
EXPLORE_COMPARES = ("none", "previous", "last_year", "target", "forecast")


@dataclass(frozen=True)
class ExploreSettings:
    """The interactive workbench (``notebooks/explore.ipynb``, :mod:`salesml.explore`)."""

    #: the date range it opens with: this many complete months, ending with the last complete one
    default_months: int = 12
    #: the grain of the trend it opens with: "day", "week" or "month"
    default_grain: str = "month"
    #: the comparison it opens with: "none", "previous", "last_year", "target" or "forecast"
    default_compare: str = "previous"
    #: bars of the breakdown (the rest are one "others" bar) and rows of its table
    top_n: int = 10
    #: customers of the churn-risk list
    churn_rows: int = 20
    #: selections (row filters) whose aggregate is kept in memory, the most recent first
    cache_size: int = 32
    #: where the export button writes, relative to the project root
    export_dir: str = "reports/exports"

    def check(self, origin: str = "settings") -> None:
        """Sizes of 1 or more, a known grain and comparison."""
        for key in ("default_months", "top_n", "churn_rows", "cache_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{origin}: explore.{key} must be 1 or more, got {getattr(self, key)}")
        if self.default_grain not in EXPLORE_GRAINS:
            raise ConfigError(f"{origin}: explore.default_grain must be one of {', '.join(EXPLORE_GRAINS)}, got {self.default_grain!r}")
        if self.default_compare not in EXPLORE_COMPARES:
            raise ConfigError(
                f"{origin}: explore.default_compare must be one of {', '.join(EXPLORE_COMPARES)}, got {self.default_compare!r}"
            )
        if not self.export_dir.strip():
            raise ConfigError(f"{origin}: explore.export_dir: name a folder for the exports")


@dataclass(frozen=True)
class WarningsSettings:
    """Early warnings at the top of the reports (:mod:`salesml.insights.warnings`)."""

    #: a week's revenue this many standard deviations below the mean of the weeks before it is a
    #: sudden drop (per region, team or rep, against the series' own volatility)
    drop_z: float = 2.0
    #: weeks of history the last week is compared with
    drop_weeks: int = 12
    #: and only when it is also at least this much (%) below that mean
    drop_min_pct: float = 20.0
    #: an open opportunity this many days past its expected close is stale pipeline
    stale_days: int = 0
    #: the most warnings of one kind listed (the rest are counted)
    max_items: int = 5
    #: churn risk report: an at-risk customer whose net revenue of the lookback window is in the
    #: top churn_high_value_pct % of the page's scored customers is a high-value customer at risk
    churn_high_value_pct: float = 10.0
    #: the churn model is old when the scores' as-of date is more than this many days after the
    #: end of its training data (retrain: salesml train churn)
    churn_model_age_days: int = 90
    #: a scorer whose holdout ROC-AUC is below this ranks churners too weakly to act on alone
    churn_min_auc: float = 0.7
    #: the scorer's predicted and observed churn on the holdout more than this many points apart
    #: (mean over its reliability bins, weighted by customers): its percentages are not literal
    churn_calibration_gap_pts: float = 10.0
    #: scores as of a day more than this many days after the last sale read missing data as silence
    churn_data_gap_days: int = 7
    #: customer segments report: a "valuable" segment has only (R, FM) cells with R >= seg_valuable_r
    #: and FM >= seg_valuable_fm, a "risk" segment only cells with R <= seg_risk_r; a customer who
    #: moved from a valuable segment into a risk one since the comparison date has slipped
    seg_valuable_r: int = 3
    seg_valuable_fm: int = 4
    seg_risk_r: int = 2
    #: customer segments report: a big customer (M score >= seg_big_m_score, of at least
    #: seg_silent_min_orders purchases) went silent when it has not bought for seg_silent_factor
    #: times its usual interval between purchases and at least seg_silent_min_days days, and was
    #: not silent yet on the comparison date
    seg_big_m_score: int = 5
    seg_silent_min_orders: int = 3
    seg_silent_factor: float = 3.0
    seg_silent_min_days: int = 60
    #: customer segments report: walk-in / guest revenue (in no segment) above this % of revenue
    seg_anonymous_pct: float = 5.0
    #: data quality report: a load whose quarantined rows (or quarantined revenue) exceed this
    #: % of what it read; returns naming no loaded sale above this % of a file's return lines;
    #: revenue without a customer (walk-in / guest) above this % of a file's revenue; rows whose
    #: numbers were converted from text ("¥1,234.50", "15%") above this % of a file's rows
    dq_quarantine_pct: float = 1.0
    dq_unlinked_pct: float = 5.0
    dq_anonymous_pct: float = 10.0
    dq_repaired_pct: float = 5.0
    #: sales forecast report: the latest complete steps (weeks, months or days, as the report)
    #: of each region, team and rep whose actual, summed, is checked against the honest
    #: backtest's 80% interval for them (salesml.insights.forecast_checks)
    fc_outside_steps: int = 1
    #: the same for each product's daily demand (units): the latest days summed
    fc_outside_product_days: int = 7

    def check(self, origin: str = "settings") -> None:
        """A ConfigError naming the first ``[warnings]`` key out of its range."""
        w = self
        rules: list[tuple[str, bool, str]] = [
            ("drop_z", w.drop_z > 0, "more than 0"),
            ("drop_weeks", w.drop_weeks >= 3, "3 or more"),
            ("drop_min_pct", 0 <= w.drop_min_pct < 100, "0 to below 100"),
            ("stale_days", w.stale_days >= 0, "0 or more"),
            ("max_items", w.max_items >= 1, "1 or more"),
            ("churn_high_value_pct", 0 < w.churn_high_value_pct <= 100, "a percentage above 0, at most 100"),
            ("churn_model_age_days", w.churn_model_age_days >= 0, "0 or more"),
            ("churn_min_auc", 0.5 <= w.churn_min_auc <= 1, "between 0.5 and 1"),
            ("churn_calibration_gap_pts", 0 <= w.churn_calibration_gap_pts <= 100, "0 to 100 points"),
            ("churn_data_gap_days", w.churn_data_gap_days >= 0, "0 or more"),
            ("seg_valuable_r", 1 <= w.seg_valuable_r <= 5, "a score 1 to 5"),
            ("seg_valuable_fm", 1 <= w.seg_valuable_fm <= 5, "a score 1 to 5"),
            ("seg_risk_r", 1 <= w.seg_risk_r <= 5, "a score 1 to 5"),
            ("seg_big_m_score", 1 <= w.seg_big_m_score <= 5, "a score 1 to 5"),
            ("seg_silent_min_orders", w.seg_silent_min_orders >= 2, "2 or more (an interval needs two purchases)"),
            ("seg_silent_factor", w.seg_silent_factor > 0, "more than 0"),
            ("seg_silent_min_days", w.seg_silent_min_days >= 0, "0 or more"),
            ("seg_anonymous_pct", 0 <= w.seg_anonymous_pct <= 100, "a percentage 0 to 100"),
            ("dq_quarantine_pct", 0 <= w.dq_quarantine_pct <= 100, "a percentage 0 to 100"),
            ("dq_unlinked_pct", 0 <= w.dq_unlinked_pct <= 100, "a percentage 0 to 100"),
            ("dq_anonymous_pct", 0 <= w.dq_anonymous_pct <= 100, "a percentage 0 to 100"),
            ("dq_repaired_pct", 0 <= w.dq_repaired_pct <= 100, "a percentage 0 to 100"),
            ("fc_outside_steps", w.fc_outside_steps >= 1, "1 or more"),
            ("fc_outside_product_days", w.fc_outside_product_days >= 1, "1 or more"),
        ]
        for key, ok, want in rules:
            if not ok:
                raise ConfigError(f"{origin}: [warnings] {key} must be {want}, got {getattr(w, key)!r}")


@dataclass(frozen=True)
class Settings:
    warehouse: WarehouseSettings = field(default_factory=WarehouseSettings)
    demo: DemoSettings = field(default_factory=DemoSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    performance: PerformanceSettings = field(default_factory=PerformanceSettings)
    cleaning: CleaningSettings = field(default_factory=CleaningSettings)
    models: ModelSettings = field(default_factory=ModelSettings)
    backup: BackupSettings = field(default_factory=BackupSettings)
    segments: SegmentSettings = field(default_factory=SegmentSettings)
    scorecard: ScorecardSettings = field(default_factory=ScorecardSettings)
    clv: ClvSettings = field(default_factory=ClvSettings)
    crosssell: CrossSellSettings = field(default_factory=CrossSellSettings)
    assignment: AssignmentSettings = field(default_factory=AssignmentSettings)
    churn: ChurnSettings = field(default_factory=ChurnSettings)
    warnings: WarningsSettings = field(default_factory=WarningsSettings)
    forecast: ForecastSettings = field(default_factory=ForecastSettings)
    inventory: InventorySettings = field(default_factory=InventorySettings)
    commission: CommissionSettings = field(default_factory=CommissionSettings)
    compute: ComputeSettings = field(default_factory=ComputeSettings)
    schedule: ScheduleRunSettings = field(default_factory=ScheduleRunSettings)
    email: EmailSettings = field(default_factory=EmailSettings)
    explore: ExploreSettings = field(default_factory=ExploreSettings)
    #: scheduled reports by name ([schedules.NAME])
    schedules: dict[str, ScheduleSettings] = field(default_factory=dict)
    #: canonical column -> {alias -> canonical value}, applied to every source,
    #: e.g. aliases.region = {"华东" = "East China"}
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)
    #: local (second-language) display names: column -> {canonical value -> local name}
    local_names: dict[str, dict[str, str]] = field(default_factory=dict)
    sources: dict[str, SourceSettings] = field(default_factory=dict)
    #: folder relative paths are resolved against (the config file's folder, or cwd)
    root: Path = field(default_factory=Path.cwd, compare=False)
    #: the config file read, if any
    config_path: Path | None = field(default=None, compare=False)

    def path(self, p: str | os.PathLike) -> Path:
        """Resolve a path from the settings against the project root."""
        p = Path(p).expanduser()
        return p if p.is_absolute() else Path(os.path.normpath(self.root / p))

    @property
    def warehouse_path(self) -> Path:
        return self.path(self.warehouse.path)

    @property
    def anonymous_customer_ids(self) -> tuple[str, ...]:
        """The customer ids that stand for no customer (every source's ``anonymous_customer``);
        with an empty customer id, these are left out of customer models."""
        return tuple(sorted({s.anonymous_customer for s in self.sources.values() if s.anonymous_customer}))

    def with_overrides(self, **sections: dict[str, Any]) -> Settings:
        """A copy with some fields of some sections replaced, e.g. ``demo={"scale": "small"}``."""
        changes = {name: dataclasses.replace(getattr(self, name), **values) for name, values in sections.items()}
        return dataclasses.replace(self, **changes)


_NON_CONFIG_FIELDS = {"root", "config_path"}


#: where per-series work can run ([compute] engine)
COMPUTE_ENGINES = ("local", "dask", "spark")


def check_compute(c: ComputeSettings, origin: str = "settings") -> None:
    """Clear errors for ``[compute]``: a known engine, a cluster address its engine can use."""
    if c.engine not in COMPUTE_ENGINES:
        raise ConfigError(f"{origin}: compute.engine must be one of {', '.join(COMPUTE_ENGINES)}, got {c.engine!r}")
    address = c.cluster.strip()
    if not address:
        return
    if c.engine == "local":
        raise ConfigError(f"{origin}: compute.cluster is set ({address!r}) but compute.engine is 'local': "
                          "set engine = \"dask\" or \"spark\", or cluster = \"\"")
    if c.engine == "dask" and not re.match(r"^(tcp|tls|ucx|inproc|ws|wss)://\S+$", address):
        raise ConfigError(f"{origin}: compute.cluster must be a Dask scheduler address like tcp://host:8786, got {address!r}")
    if c.engine == "spark" and not re.match(r"^(spark://\S+|local(\[(\d+|\*)\])?|yarn|k8s://\S+|sc://\S+)$", address):
        raise ConfigError(f"{origin}: compute.cluster must be a Spark master URL like spark://host:7077 or local[4], got {address!r}")


def _build(cls: type, data: Any, where: str, origin: str) -> Any:
    """Build dataclass ``cls`` from a TOML table, checking keys and types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: [{where}] must be a table, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in _NON_CONFIG_FIELDS}
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(fields)}"
            raise ConfigError(f"{origin}: unknown setting {_join(where, key)!r}{hint}")
        kwargs[key] = _convert(hints[key], value, _join(where, key), origin)
    return cls(**kwargs)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _convert(hint: Any, value: Any, where: str, origin: str) -> Any:
    origin_type = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where, origin)
    if origin_type is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{origin}: {where!r} must be a table, got {value!r}")
        return {str(k): _convert(args[1], v, _join(where, str(k)), origin) for k, v in value.items()}
    if origin_type is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(f"{origin}: {where!r} must be a list, got {value!r}")
        return tuple(_convert(args[0], v, where, origin) for v in value)
    if origin_type in (typing.Union, types.UnionType):
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{origin}: {where!r} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{origin}: {where!r} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{origin}: {where!r} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{origin}: {where!r} must be a string, got {value!r}")
        return value
    return value


def check_commission(c: CommissionSettings, origin: str = "settings") -> None:
    """Commission plans that can be computed: known bases, ascending tiers from 0, rates
    between 0 and 1, a default plan that exists, no rep/role/team/region in two plans."""
    claimed: dict[tuple[str, str], str] = {}
    for name, plan in c.plans.items():
        key = f"commission.plans.{name}"
        if plan.base not in COMMISSION_BASES:
            raise ConfigError(f"{origin}: {key}.base must be one of {', '.join(COMMISSION_BASES)}, got {plan.base!r}")
        if not plan.tiers:
            raise ConfigError(f"{origin}: {key}.tiers: a plan needs at least one tier, e.g. [{{ from_pct = 0, rate = 0.03 }}]")
        for i, tier in enumerate(plan.tiers):
            where = f"{key}.tiers[{i}]"
            if i == 0 and tier.from_pct != 0:
                raise ConfigError(f"{origin}: {where}.from_pct: the first tier starts at 0, got {tier.from_pct:g} (a band with rate 0 pays nothing)")
            if i > 0 and tier.from_pct <= plan.tiers[i - 1].from_pct:
                raise ConfigError(
                    f"{origin}: {where}.from_pct: tiers must be in ascending order of from_pct, "
                    f"got {tier.from_pct:g} after {plan.tiers[i - 1].from_pct:g}"
                )
            if not 0 <= tier.rate <= 1:
                raise ConfigError(f"{origin}: {where}.rate must be between 0 and 1 (a fraction: 0.03 = 3%), got {tier.rate:g}")
        if not 0 <= plan.no_target_rate <= 1:
            raise ConfigError(f"{origin}: {key}.no_target_rate must be between 0 and 1 (a fraction: 0.03 = 3%), got {plan.no_target_rate:g}")
        if plan.threshold_pct < 0:
            raise ConfigError(f"{origin}: {key}.threshold_pct must be 0 or more, got {plan.threshold_pct:g}")
        if plan.cap < 0:
            raise ConfigError(f"{origin}: {key}.cap must be 0 (no cap) or more, got {plan.cap:g}")
        for role in plan.roles:
            if role not in ROLES:
                raise ConfigError(f"{origin}: {key}.roles: {role!r} is not a role ({', '.join(ROLES)})")
        for what in ("rep_ids", "roles", "teams", "regions"):
            for value in getattr(plan, what):
                other = claimed.setdefault((what, value), name)
                if other != name:
                    raise ConfigError(f"{origin}: {key}.{what}: {value!r} is also in commission.plans.{other}.{what}; a value may be in one plan only")
    if c.default_plan and c.default_plan not in c.plans:
        raise ConfigError(
            f"{origin}: commission.default_plan: no plan {c.default_plan!r} (plans: {', '.join(c.plans) or 'none'}; "
            "plans in a config file replace the built-in ones; \"\" = no default plan)"
        )


def check_churn(c: ChurnSettings, origin: str = "settings") -> None:
    """Churn settings that make sense: positive windows and counts, known calibration."""
    for key in ("horizon_days", "lookback_days", "recent_days", "train_cutoffs", "test_cutoffs", "max_iter",
                "max_leaf_nodes", "min_samples_leaf", "importance_repeats", "top_reasons"):
        if getattr(c, key) < 1:
            raise ConfigError(f"{origin}: churn.{key} must be 1 or more, got {getattr(c, key)}")
    if c.importance_sample < 0:
        raise ConfigError(f"{origin}: churn.importance_sample must be 0 (the whole holdout) or more, got {c.importance_sample}")
    for key in ("min_train_examples", "min_train_class", "min_test_examples", "min_test_class", "bootstrap_resamples"):
        if getattr(c, key) < 1:
            raise ConfigError(f"{origin}: churn.{key} must be 1 or more, got {getattr(c, key)}")
    if c.bgnbd_penalizer < 0 or c.bgnbd_boundary_penalizer < 0:
        raise ConfigError(f"{origin}: churn.bgnbd_penalizer and churn.bgnbd_boundary_penalizer must be 0 or more")
    step = c.cutoff_step
    if not (step in ("month", "week") or (isinstance(step, int) and not isinstance(step, bool) and step >= 1)):
        raise ConfigError(f'{origin}: churn.cutoff_step must be "month", "week" or a whole number of days (1 or more), got {step!r}')
    if c.calibration not in CHURN_CALIBRATIONS:
        raise ConfigError(f"{origin}: churn.calibration must be one of {', '.join(CHURN_CALIBRATIONS)}, got {c.calibration!r}")
    if c.calibration_folds < 2:
        raise ConfigError(f"{origin}: churn.calibration_folds must be 2 or more, got {c.calibration_folds}")
    if c.learning_rate <= 0:
        raise ConfigError(f"{origin}: churn.learning_rate must be positive, got {c.learning_rate:g}")
    if c.l2_regularization < 0:
        raise ConfigError(f"{origin}: churn.l2_regularization must be 0 or more, got {c.l2_regularization:g}")
    if not 1 <= c.low_satisfaction <= 5:
        raise ConfigError(f"{origin}: churn.low_satisfaction must be between 1 and 5, got {c.low_satisfaction}")
    if not 0 <= c.promo_discount_margin < 1:
        raise ConfigError(f"{origin}: churn.promo_discount_margin must be a fraction between 0 and 1, got {c.promo_discount_margin:g}")
    if not 0 < c.at_risk_threshold < 1:
        raise ConfigError(f"{origin}: churn.at_risk_threshold must be between 0 and 1, got {c.at_risk_threshold:g}")


def combination_members(combo: str) -> list[str]:
    """The models of a ``[forecast] combinations`` entry ("ets+theta")."""
    return [m.strip() for m in str(combo).split("+")]


def check_forecast(f: ForecastSettings, inv: InventorySettings, origin: str = "settings") -> None:
    """Forecast and inventory settings that make sense: known models and methods, positive sizes."""
    for key in ("models", "product_models", "rep_models"):
        listed = getattr(f, key)
        if not listed or any(m not in FORECAST_MODELS for m in listed):
            raise ConfigError(f"{origin}: forecast.{key} must list models among {', '.join(FORECAST_MODELS)}, got {list(listed)}")
    for key in ("windows", "horizon_d", "horizon_w", "horizon_m", "min_obs_d", "min_obs_w", "min_obs_m", "prophet_uncertainty_samples"):
        if getattr(f, key) < 1:
            raise ConfigError(f"{origin}: forecast.{key} must be 1 or more, got {getattr(f, key)}")
    if f.ensemble_top < 0 or f.workers < 0 or f.selection_windows < 0 or f.calibrate_windows < 0:
        raise ConfigError(f"{origin}: forecast.ensemble_top, forecast.selection_windows, forecast.calibrate_windows and forecast.workers "
                          "must be 0 or more")
    if not (math.isfinite(f.calibrate_beyond_se) and f.calibrate_beyond_se >= 0):
        raise ConfigError(f"{origin}: forecast.calibrate_beyond_se must be a number of standard errors, 0 or more, got {f.calibrate_beyond_se!r}")
    for key in ("parent_margin", "switch_margin"):
        value = getattr(f, key)
        if not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"{origin}: forecast.{key} must be a share of 0 or more (0.1 = 10%), got {value!r}")
    if not 50 <= f.level < 100:
        raise ConfigError(f"{origin}: forecast.level must be a percentage between 50 and 99, got {f.level}")
    if not 0 < f.intermittent_zero_share <= 1:
        raise ConfigError(f"{origin}: forecast.intermittent_zero_share must be a fraction in (0, 1], got {f.intermittent_zero_share:g}")
    if f.reconcile not in RECONCILE_METHODS:
        raise ConfigError(f"{origin}: forecast.reconcile must be one of {', '.join(RECONCILE_METHODS)}, got {f.reconcile!r}")
    for combo in f.combinations:
        members = combination_members(combo)
        unknown = [m for m in members if m not in FORECAST_MODELS]
        if len(members) < 2 or unknown or len(set(members)) != len(members):
            why = f"unknown model(s) {', '.join(unknown)}" if unknown else "two or more different models are needed"
            raise ConfigError(f"{origin}: forecast.combinations: {combo!r}: {why} (e.g. \"ets+theta+seasonal_naive\"; models: {', '.join(FORECAST_MODELS)})")
    for key in ("choice", "product_choice"):
        if getattr(f, key) not in ("pooled", "series"):
            raise ConfigError(f"{origin}: forecast.{key} must be \"pooled\" or \"series\", got {getattr(f, key)!r}")
    if f.week_ends.upper() not in ("", *WEEKDAYS):
        raise ConfigError(f"{origin}: forecast.week_ends must be one of {', '.join(WEEKDAYS)} (or \"\" for the data's own), got {f.week_ends!r}")
    if f.month_dates not in ("", "start", "end"):
        raise ConfigError(f"{origin}: forecast.month_dates must be \"start\", \"end\" (or \"\" for the data's own), got {f.month_dates!r}")
    if not 0.5 <= inv.service_level < 1:
        raise ConfigError(f"{origin}: inventory.service_level must be between 0.5 and 1 (e.g. 0.95), got {inv.service_level:g}")
    if inv.default_lead_time_days < 1 or inv.history_days < 28:
        raise ConfigError(f"{origin}: inventory.default_lead_time_days must be 1 or more and inventory.history_days 28 or more")


#: the audience words of a schedule besides scopes: the company, or each member of a level
AUDIENCE_WORDS = ("company", "each_region", "each_team", "each_rep")


def _is_scope(text: str) -> bool:
    try:
        parse_scope(text)
    except ScopeError:
        return False
    return True


#: hosts that are this machine: the only ones [email] security = "none" may log in to
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def check_email(e: EmailSettings, s: Settings, origin: str = "settings") -> None:
    """E-mail that can be sent: a known security, a sender, addresses keyed by scopes, and a
    server for every schedule that mails its pages."""
    if e.security not in ("starttls", "ssl", "none"):
        raise ConfigError(f"{origin}: email.security must be \"starttls\", \"ssl\" or \"none\", got {e.security!r}")
    if e.host and not e.sender:
        raise ConfigError(f"{origin}: email.sender: name the address pages are sent from")
    if e.security == "none" and e.username and e.host not in _LOOPBACK_HOSTS:
        raise ConfigError(
            f"{origin}: email.security = \"none\" would send the password of {e.username!r} to {e.host} in the clear: "
            "use \"starttls\" or \"ssl\" (\"none\" is for a relay on this machine, without a login)"
        )
    for scope_key, addrs in e.addresses.items():
        if not _is_scope(scope_key):
            raise ConfigError(f"{origin}: email.addresses: {scope_key!r} is not a scope such as rep:R017 or team:T03")
        for a in addrs:
            if "@" not in a:
                raise ConfigError(f"{origin}: email.addresses.{scope_key!r}: {a!r} is not an e-mail address")
    if any(sch.email for sch in s.schedules.values()) and not e.host:
        names = ", ".join(n for n, sch in s.schedules.items() if sch.email)
        raise ConfigError(f"{origin}: schedules {names} e-mail their pages, but [email] host is not set")


def check_schedules(s: Settings, origin: str = "settings") -> None:
    """Schedules that can run: a report named, a cron expression croniter reads, a known time
    zone, audiences of known words or scopes, retries and catch-up in range."""
    if s.schedule.catch_up < 1:
        raise ConfigError(f"{origin}: schedule.catch_up must be 1 or more, got {s.schedule.catch_up}")
    if s.schedule.poll_seconds < 1:
        raise ConfigError(f"{origin}: schedule.poll_seconds must be 1 or more, got {s.schedule.poll_seconds}")
    if not s.schedules:
        return
    from croniter import croniter  # 25 ms to import: only when schedules are configured

    for name, sch in s.schedules.items():
        key = f"schedules.{name}"
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise ConfigError(f"{origin}: [{key}]: a schedule name may hold letters, digits, _ and - only")
        if not sch.report:
            raise ConfigError(f"{origin}: {key}.report: name the report to run, e.g. \"sales_performance\"")
        if sch.report == BACKUP_SCHEDULE and (tuple(sch.audience) != ("company",) or sch.parameters or sch.email):
            raise ConfigError(f"{origin}: {key}: a backup (report = \"backup\") takes no audience, parameters or email")
        if not sch.cron or not croniter.is_valid(sch.cron):
            raise ConfigError(f"{origin}: {key}.cron: {sch.cron!r} is not a cron expression (minute hour day month weekday, e.g. \"0 6 1 * *\")")
        if sch.timezone:
            try:
                ZoneInfo(sch.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ConfigError(f"{origin}: {key}.timezone: {sch.timezone!r} is not a time zone (an IANA name such as \"Asia/Shanghai\")") from None
        if not sch.audience:
            raise ConfigError(f"{origin}: {key}.audience: name who gets the report ({', '.join(AUDIENCE_WORDS)} or scopes)")
        for item in sch.audience:
            if item.strip() in AUDIENCE_WORDS or _is_scope(item):
                continue
            raise ConfigError(f"{origin}: {key}.audience: {item!r} is neither {', '.join(AUDIENCE_WORDS)} nor a scope such as team:T03")
        if sch.retries < 0:
            raise ConfigError(f"{origin}: {key}.retries must be 0 or more, got {sch.retries}")
        for pkey, value in sch.parameters.items():
            if pkey == "scope":
                raise ConfigError(f"{origin}: {key}.parameters.scope: a schedule's scope is its audience (audience = [\"team:T03\"])")
            if not isinstance(value, str | int | bool):
                raise ConfigError(f"{origin}: {key}.parameters.{pkey} must be a string, a whole number or true/false, got {value!r}")


def _validate(s: Settings, origin: str) -> None:
    check_warehouse(s.warehouse, origin)
    if s.demo.scale not in SCALES:
        raise ConfigError(f"{origin}: demo.scale must be one of {', '.join(SCALES)}, got {s.demo.scale!r}")
    if s.report.lang not in REPORT_LANGS:
        raise ConfigError(f"{origin}: report.lang must be one of {', '.join(REPORT_LANGS)}, got {s.report.lang!r}")
    if s.report.plotlyjs not in ("inline", "shared"):
        raise ConfigError(f"{origin}: report.plotlyjs must be 'inline' or 'shared', got {s.report.plotlyjs!r}")
    if s.report.cell_timeout_s <= 0:
        raise ConfigError(f"{origin}: report.cell_timeout_s must be positive")
    if s.report.workers < 0:
        raise ConfigError(f"{origin}: report.workers must be 0 (one per core) or more, got {s.report.workers}")
    check_commission(s.commission, origin)
    if s.compute.threads < 0:
        raise ConfigError(f"{origin}: compute.threads must be 0 (every core) or more, got {s.compute.threads}")
    check_compute(s.compute, origin)
    check_churn(s.churn, origin)
    s.warnings.check(origin)
    check_forecast(s.forecast, s.inventory, origin)
    check_schedules(s, origin)
    check_email(s.email, s, origin)
    s.segments.check(origin)
    s.crosssell.check(origin)
    s.backup.check(origin)
    s.scorecard.check(origin)
    s.assignment.check(origin)
    s.explore.check(origin)
    for name, src in s.sources.items():
        if src.format not in SOURCE_FORMATS:
            raise ConfigError(f"{origin}: sources.{name}.format must be one of {', '.join(SOURCE_FORMATS)}, got {src.format!r}")
        for key, allowed in (("unlinked_returns", UNLINKED_RETURNS), ("duplicates", DUPLICATE_POLICIES), ("decimal", (".", ","))):
            if getattr(src, key) not in allowed:
                raise ConfigError(f"{origin}: sources.{name}.{key} must be one of {', '.join(map(repr, allowed))}, got {getattr(src, key)!r}")
        if src.thousands not in ("", ".", ",", " ", "'", "\u00a0"):
            raise ConfigError(f"{origin}: sources.{name}.thousands must be one of '', '.', ',', ' ', \"'\", got {src.thousands!r}")
        if src.decimal != "." and src.format in ("parquet", "sql"):
            raise ConfigError(
                f"{origin}: sources.{name}.decimal applies to numbers written as text (CSV, Excel text cells); "
                f"a {src.format} source's numbers are typed: remove decimal"
            )
        if src.thousands and src.thousands == src.decimal:
            raise ConfigError(f"{origin}: sources.{name}: thousands and decimal are both {src.decimal!r}")
        if src.format == "sql" and not src.url:
            raise ConfigError(f"{origin}: sources.{name}: format 'sql' needs a url (a SQLAlchemy URL)")
        for tname, tsrc in src.tables.items():
            for col, how in tsrc.case.items():
                if how not in ("lower", "upper", "title"):
                    raise ConfigError(f"{origin}: sources.{name}.tables.{tname}.case.{col} must be lower, upper or title")
            if tname not in TABLES:
                raise ConfigError(
                    f"{origin}: sources.{name}.tables.{tname}: not a canonical table "
                    f"(known: {', '.join(TABLES)})"
                )


def notebook_settings(config_path: str | os.PathLike | None = "", warehouse_path: str | os.PathLike | None = "") -> Settings:
    """Settings as a notebook, the Python API or the workbench sees them: the config file
    (``""`` / None: the usual resolution, see :func:`config_file`) with the warehouse file
    overridden when one is given."""
    settings = load_settings(config_path or None)
    if warehouse_path:
        settings = settings.with_overrides(warehouse={"path": str(warehouse_path)})
    return settings


def config_file(explicit: str | os.PathLike | None = None) -> Path | None:
    """The config file that applies: explicit, else $SALESML_CONFIG, else the salesml.toml of
    the working folder or of the nearest folder above it (a notebook's kernel runs in the
    notebook's folder), if there is one."""
    if explicit:
        p = Path(explicit).expanduser()
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        return p.resolve()
    env = os.environ.get(ENV_CONFIG)
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise ConfigError(f"config file not found: {p} (from ${ENV_CONFIG})")
        return p.resolve()
    here = Path.cwd()
    for folder in (here, *here.parents):
        p = folder / DEFAULT_CONFIG_NAME
        if p.is_file():
            return p.resolve()
    return None


def load_settings(path: str | os.PathLike | None = None) -> Settings:
    """Read the settings (see the module docstring for the order of precedence)."""
    cfg = config_file(path)
    if cfg is None:
        settings = Settings(root=Path.cwd())
        origin = "built-in defaults"
    else:
        origin = str(cfg)
        try:
            data = tomllib.loads(cfg.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{cfg}: not valid TOML: {e}") from None
        settings = _build(Settings, data, "", origin)
        settings = dataclasses.replace(settings, root=cfg.parent, config_path=cfg)
    env_wh = os.environ.get(ENV_WAREHOUSE)
    if env_wh:
        settings = settings.with_overrides(warehouse={"path": str(Path(env_wh).expanduser().absolute())})
    _validate(settings, origin)
    return settings


def defaults_as_dict() -> dict[str, Any]:
    """The built-in defaults as plain data (what an empty salesml.toml means)."""

    def plain(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj):
            return {
                f.name: plain(getattr(obj, f.name))
                for f in dataclasses.fields(obj)
                if f.name not in _NON_CONFIG_FIELDS
            }
        if isinstance(obj, tuple):
            return [plain(v) for v in obj]
        if isinstance(obj, dict):
            return {k: plain(v) for k, v in obj.items()}
        return obj

    return plain(Settings())

"""Sales KPIs: new vs repeat business, growth, retention, CAC, win rate, sales cycle, funnel,
pipeline coverage, Pareto/ABC, discount leakage, returns and service.

Every KPI is a function of a (short-lived, read-only) DuckDB connection, a period or window
and, where it makes sense, a :class:`~salesml.scope.Scope`. It returns a pandas
DataFrame computed in SQL; the scope is applied in the warehouse query, so a frame made for
a team holds nothing of another team's reps.

Modules (everything public is re-exported here, so ``from salesml.accounting import kpis``
is all a caller needs):

* :mod:`~salesml.accounting.kpis.common`: windows (:class:`Window`, :func:`parse_window`,
  :func:`quarter_of`), :data:`STAGES`, :data:`TOTAL`, :class:`KpiUnavailable` and the SQL /
  frame helpers the KPIs share;
* :mod:`~salesml.accounting.kpis.customers`: :func:`new_vs_repeat`, :func:`cohort_retention`,
  :func:`cac_by_channel`;
* :mod:`~salesml.accounting.kpis.sales`: :func:`growth`, :func:`pareto`, :func:`abc_classes`,
  :func:`abc_summary`, :func:`discount_leakage`, :func:`return_rate`;
* :mod:`~salesml.accounting.kpis.pipeline`: :func:`win_rate`, :func:`sales_cycle`,
  :func:`funnel`, :func:`pipeline_coverage`;
* :mod:`~salesml.accounting.kpis.tickets`: :func:`service` (tickets and satisfaction);
* :mod:`~salesml.accounting.kpis.table`: :func:`kpi_table`, the headline of each of the above.

Imports go one way: ``common`` <- ``customers`` / ``sales`` / ``pipeline`` / ``tickets`` <-
``table`` <- this package.

Conventions
-----------
* **Revenue comes from the ledger** (``ledger``): an entry counts in the ledger's ``period``
  (the month of the sale, a return in the month of the sale it reverses, an adjustment to a
  closed month in the first open month after it), credited to the ``rep_id`` / ``team`` /
  ``region`` frozen in the entry. So revenue figures agree with ``salesml perf``.
  ``order_lines`` is read only for what the ledger lacks (``discount``, ``channel``), joined
  on ``(order_id, line_no)``.
* **A customer's first sale** is the earliest ``credit_date`` of a *sale line still credited*:
  a line with a ``sale`` entry (and no ``return`` entry) whose ledger entries, posted up to
  the last period asked for, still add up to more than zero (a sale cancelled or corrected
  to nothing does not acquire a customer). "New" means new to the company.
* **Anonymous lines** (walk-in / guest sales: ``customer_id`` NULL, or one of the ids passed
  as ``anonymous``, i.e. ``Settings.anonymous_customer_ids``; see :mod:`salesml.anonymous`)
  are no customer: customer counts (new / repeat customers, cohorts, CAC) leave them out,
  while revenue totals keep them (:func:`new_vs_repeat` gives them a row of their own, so
  its rows still add up to ``salesml perf`` revenue). Figures per customer are of identified
  customers only.
* **Opportunities** are attributed to their rep's team and region through the effective-dated
  hierarchy (``reps``) on a date that depends on the KPI (closing date for win rate and sales
  cycle, creation date for the funnel, the as-of date for the pipeline); an opportunity
  without a rep, or whose rep has no stint then, goes to ``(unassigned)``. ``outcome`` is
  read case-insensitively; when it is missing, a stage ``Closed Won`` / ``Closed Lost``
  decides.
* A window is a month ``YYYY-MM``, ``YYYY-MM..YYYY-MM`` (inclusive), a quarter ``YYYY-Qn``,
  a year ``YYYY`` or a pair of months (see :func:`parse_window`).
* Columns ending in ``_pct`` are percentages (0..100); ``*_rate``, ``retention`` and
  ``coverage*`` are plain ratios (a win rate of 0.6 is 60 %).
* KPIs grouped ``by`` rep / team / region (and the ``by`` dimensions of the ledger KPIs)
  end with one ``(total)`` row: the first key column says ``(total)``, the others are empty,
  and its ratios are recomputed from the totals (never averaged).
* A KPI whose table is absent or empty raises :class:`KpiUnavailable` with a message such as
  ``no opportunities loaded: win rate skipped``; reports show the message instead.
"""

from salesml.accounting.kpis.common import (
    STAGES,
    TOTAL,
    KpiUnavailable,
    Window,
    parse_window,
    quarter_of,
)
from salesml.accounting.kpis.customers import cac_by_channel, cohort_retention, new_vs_repeat
from salesml.accounting.kpis.pipeline import funnel, pipeline_coverage, sales_cycle, win_rate
from salesml.accounting.kpis.sales import (
    abc_classes,
    abc_summary,
    discount_leakage,
    growth,
    pareto,
    return_rate,
)
from salesml.accounting.kpis.table import kpi_table
from salesml.accounting.kpis.tickets import service

__all__ = [
    "STAGES",
    "TOTAL",
    "KpiUnavailable",
    "Window",
    "abc_classes",
    "abc_summary",
    "cac_by_channel",
    "cohort_retention",
    "discount_leakage",
    "funnel",
    "growth",
    "kpi_table",
    "new_vs_repeat",
    "parse_window",
    "pareto",
    "pipeline_coverage",
    "quarter_of",
    "return_rate",
    "sales_cycle",
    "service",
    "win_rate",
]

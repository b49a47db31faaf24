"""The performance ledger: append-only entries that credit revenue and margin (自动调账).

Posting compares what the order lines say now with what the ledger holds, per line and
credited rep/team/region, and appends the difference:

* a new line            -> ``sale`` (or ``return``) entries;
* a changed amount      -> a ``correction`` (a line cancelled later: a correction to zero);
* a changed credit      -> ``reassignment`` entries: minus for the old rep/team, plus for the new
  (another rep on the line, a new split, a hierarchy stint corrected).

An entry counts in the period of the business event it belongs to (``origin_period``): the
month of the sale, and for a return the month of the sale it reverses. If that period is
closed, the entry is an *adjustment* posted in the first open period after it, still
charged to the original rep and referencing the original line; closed periods never change.

Credit goes to the rep on the line, or is divided by ``order_splits`` (shares in percent
of the order; cents are allocated so the parts add up exactly). The rep's team and region
are those of the hierarchy stint on the date of the sale, and are frozen in the entry.
Lines without a rep (or whose rep has no stint then) go to team ``(unassigned)`` in the
region written on the line. Lines without a cost count no margin. A return that reverses no
loaded sale counts in the month it happened, charged to the rep and customer on its own
line, and its entries are flagged ``unlinked``.

Each entry's ``line_cost`` says whether its order line has a cost *now*: a posting sets it
for the entries of every line it took in (new entries, and earlier entries of a line that a
reload gave or took a cost), so that readers know which revenue carries a real margin
(``accounting.performance.cost_known_sql``) from the entries alone, without joining every
order line ever loaded. It is derived, not money: closed periods' totals never depend on it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import duckdb
import pandas as pd

from salesml import warehouse
from salesml.accounting.closing import closed_periods, first_open
from salesml.config import PerformanceSettings, Settings
from salesml.scope import parse_scope

#: tables whose loads change what the ledger should hold
SOURCES = ("order_lines", "reps", "order_splits")
_MARK = "ledger_posted_through_batch"


#: restricts lines (alias {t}) to those a posting may change (see _affected_sql): a semi join
#: on the keys (a correlated EXISTS made DuckDB 1.5 list every distinct key of the table first)
_ONLY_AFFECTED = "SEMI JOIN _affected a ON a.order_id = {t}.order_id AND a.line_no = {t}.line_no"


def _target_sql(scoped: bool = False) -> str:
    """What the ledger should hold: one row per (line, credited rep, team, region); with
    ``scoped``, only for the lines of the temp table ``_affected``."""
    only = _ONLY_AFFECTED.format(t="l") if scoped else ""
    return """
    WITH posting AS (
        SELECT l.* FROM order_lines l {only} WHERE l.status IN ($sale, $ret) AND l.order_date <= $through
    ),
    reversed AS (
        -- the sales that the returns being posted reverse (only those: never a table of every line)
        SELECT o.order_id, o.line_no, o.order_date, o.rep_id FROM order_lines o
        SEMI JOIN (SELECT DISTINCT return_of_order_id, return_of_line_no FROM posting WHERE status = $ret) r
          ON o.order_id = r.return_of_order_id AND o.line_no = r.return_of_line_no
    ),
    lines AS (
        SELECT l.order_id, l.line_no, l.customer_id, l.product_id, l.status, l.quantity,
               l.order_date AS event_date,
               coalesce(o.order_date, l.order_date) AS credit_date,
               coalesce(o.order_id, l.order_id) AS credit_order,
               coalesce(l.rep_id, o.rep_id) AS line_rep,
               l.region AS line_region,
               l.amount,
               CASE WHEN l.cost IS NULL THEN 0 ELSE l.amount - l.cost END AS margin,
               (l.status = $ret AND o.order_id IS NULL) AS unlinked,
               l.cost IS NOT NULL AS line_cost
        FROM posting l
        -- only a return reverses a sale: its keys, NULL for any other line (a hash join on
        -- keys; with the status as a join condition DuckDB 1.5 compared every pair of lines)
        LEFT JOIN reversed o
          ON o.order_id = CASE WHEN l.status = $ret THEN l.return_of_order_id END
         AND o.line_no = CASE WHEN l.status = $ret THEN l.return_of_line_no END
    ),
    split AS (
        -- credit shares: the order's split if it has one (a return follows its sale's order)
        SELECT lines.*, coalesce(s.rep_id, lines.line_rep) AS rep_id,
               coalesce(s.share_pct / 100.0, 1.0)::DECIMAL(9,6) AS share,
               row_number() OVER (PARTITION BY lines.order_id, lines.line_no
                                  ORDER BY coalesce(s.share_pct, 100) DESC, s.rep_id) AS part
        FROM lines LEFT JOIN order_splits s ON s.order_id = lines.credit_order
    ),
    shares AS (
        -- cents: every part but the largest is rounded, the largest takes the rest
        SELECT *,
               CASE WHEN part = 1 THEN amount - coalesce(sum(CASE WHEN part > 1 THEN round(amount * share, 2) END)
                                                         OVER (PARTITION BY order_id, line_no), 0)
                    ELSE round(amount * share, 2) END AS part_amount,
               CASE WHEN part = 1 THEN margin - coalesce(sum(CASE WHEN part > 1 THEN round(margin * share, 2) END)
                                                         OVER (PARTITION BY order_id, line_no), 0)
                    ELSE round(margin * share, 2) END AS part_margin
        FROM split
    ),
    attributed AS (
        SELECT shares.*,
               CASE WHEN r.valid_to IS NULL OR shares.credit_date <= r.valid_to THEN r.team END AS h_team,
               CASE WHEN r.valid_to IS NULL OR shares.credit_date <= r.valid_to THEN r.region END AS h_region
        FROM shares ASOF LEFT JOIN reps r ON shares.rep_id = r.rep_id AND shares.credit_date >= r.valid_from
    )
    SELECT order_id, line_no, rep_id,
           coalesce(h_team, $un) AS team,
           coalesce(h_region, line_region, $un) AS region,
           customer_id, product_id, status, credit_date, event_date, share,
           quantity * share AS quantity,
           part_amount::DECIMAL(18,2) AS amount, part_margin::DECIMAL(18,2) AS margin,
           strftime(credit_date, '%Y-%m') AS origin_period, unlinked, line_cost
    FROM attributed
    """.replace("{only}", only)


def _delta_sql(scoped: bool = False) -> str:
    """The entries to append: the target minus what is posted, per line and credit (with
    ``scoped``, for the lines of ``_affected`` only)."""
    only = _ONLY_AFFECTED.format(t="ledger") if scoped else ""
    return f"""
    WITH target AS ({_target_sql(scoped)}),
    posted AS (
        SELECT order_id, line_no, rep_id, team, region,
               sum(amount) AS amount, sum(margin) AS margin, sum(quantity) AS quantity,
               arg_max(origin_period, entry_id) AS origin_period,
               arg_max(customer_id, entry_id) AS customer_id, arg_max(product_id, entry_id) AS product_id,
               arg_max(credit_date, entry_id) AS credit_date, arg_max(event_date, entry_id) AS event_date,
               arg_max(share, entry_id) AS share
        FROM ledger {only} GROUP BY ALL
    ),
    joined AS (
        SELECT coalesce(t.order_id, p.order_id) AS order_id, coalesce(t.line_no, p.line_no) AS line_no,
               coalesce(t.rep_id, p.rep_id) AS rep_id, coalesce(t.team, p.team) AS team,
               coalesce(t.region, p.region) AS region,
               coalesce(t.customer_id, p.customer_id) AS customer_id, coalesce(t.product_id, p.product_id) AS product_id,
               t.status, coalesce(t.credit_date, p.credit_date) AS credit_date,
               coalesce(t.event_date, p.event_date) AS event_date,
               coalesce(t.share, p.share) AS share,
               coalesce(t.origin_period, p.origin_period) AS origin_period,
               coalesce(t.amount, 0) - coalesce(p.amount, 0) AS d_amount,
               coalesce(t.margin, 0) - coalesce(p.margin, 0) AS d_margin,
               coalesce(t.quantity, 0) - coalesce(p.quantity, 0) AS d_quantity,
               t.amount AS new_amount, p.amount AS old_amount, coalesce(t.unlinked, false) AS unlinked, t.line_cost,
               t.order_id IS NOT NULL AS in_target, p.order_id IS NOT NULL AS in_posted
        FROM target t FULL OUTER JOIN posted p
          ON t.order_id = p.order_id AND t.line_no = p.line_no AND t.rep_id IS NOT DISTINCT FROM p.rep_id
         AND t.team = p.team AND t.region = p.region
    ),
    flagged AS (
        SELECT *, bool_or(in_posted) OVER (PARTITION BY order_id, line_no) AS line_posted,
               bool_or(in_target) OVER (PARTITION BY order_id, line_no) AS line_in_target
        FROM joined
    )
    SELECT * FROM flagged
    WHERE abs(d_amount) >= 0.005 OR abs(d_margin) >= 0.005
    """


def _affected_sql(splits: bool, reps: bool, replaced: bool) -> str:
    """The lines whose entries the batches loaded since the last posting (``$mark``) may
    change: their own lines; returns that name one of them (a sale arriving after its
    return); with ``splits`` (a split batch among them), the lines and returns of orders whose
    credit split changed; with ``reps``, the lines credited to a rep whose hierarchy changed;
    and with ``replaced`` (a batch replaced an earlier one), the posted lines that are gone and
    the returns whose sale is gone. A part that cannot apply is left out of the query, so
    that a daily file never makes the database compare every line with every entry."""
    parts = [
        "SELECT order_id, line_no FROM new_lines",
        """SELECT l.order_id, l.line_no FROM order_lines l
    JOIN new_lines n ON l.return_of_order_id = n.order_id AND l.return_of_line_no = n.line_no""",
    ]
    if splits:
        parts.append("""SELECT l.order_id, l.line_no FROM order_lines l
    WHERE l.order_id IN (SELECT order_id FROM split_orders) OR l.return_of_order_id IN (SELECT order_id FROM split_orders)""")
    if reps:
        parts.append("SELECT order_id, line_no FROM ledger WHERE rep_id IN (SELECT rep_id FROM new_reps)")
    if replaced:
        parts.append("""SELECT e.order_id, e.line_no FROM ledger e
    ANTI JOIN order_lines l ON l.order_id = e.order_id AND l.line_no = e.line_no""")
        parts.append("""SELECT l.order_id, l.line_no FROM order_lines l
    ANTI JOIN order_lines o ON o.order_id = l.return_of_order_id AND o.line_no = l.return_of_line_no
    WHERE l.return_of_order_id IS NOT NULL""")
    return """
    WITH nb AS (
        SELECT batch_id, table_name FROM load_batches
        WHERE batch_id > $mark AND table_name IN ('order_lines', 'reps', 'order_splits')
    ),
    new_lines AS (
        SELECT order_id, line_no FROM order_lines WHERE batch_id IN (SELECT batch_id FROM nb WHERE table_name = 'order_lines')
    ),
    split_orders AS (
        SELECT DISTINCT order_id FROM order_splits WHERE batch_id IN (SELECT batch_id FROM nb WHERE table_name = 'order_splits')
    ),
    new_reps AS (
        SELECT DISTINCT rep_id FROM reps WHERE batch_id IN (SELECT batch_id FROM nb WHERE table_name = 'reps')
    )
    """ + "\n    UNION\n    ".join(parts)


def _changes_since(con: duckdb.DuckDBPyConnection, mark: int) -> dict[str, bool]:
    """Which kinds of change the batches since ``mark`` bring (see :func:`_affected_sql`)."""
    [(splits, reps, replaced)] = con.execute(
        """SELECT count(*) FILTER (WHERE table_name = 'order_splits' AND batch_id > $mark) > 0,
                  count(*) FILTER (WHERE table_name = 'reps' AND batch_id > $mark) > 0,
                  count(*) FILTER (WHERE replaced_by > $mark) > 0
           FROM load_batches""",
        {"mark": mark},
    ).fetchall()
    return {"splits": bool(splits), "reps": bool(reps), "replaced": bool(replaced)}


def _incremental_mark(con: duckdb.DuckDBPyConnection) -> int | None:
    """The last batch a complete posting took in, when a posting may take only what came
    since: None (post everything) before the first posting, or when a batch of reps or credit
    splits replaced an earlier one (rows that vanished from those tables leave no trace to
    follow)."""
    mark = _posted_through(con)
    if mark is None:
        return None
    side = con.execute(
        "SELECT count(*) FROM load_batches WHERE replaced_by > ? AND table_name IN ('reps', 'order_splits')", [mark]
    ).fetchall()[0][0]
    return None if side else mark


def _posted_through(con: duckdb.DuckDBPyConnection) -> int | None:
    """The last batch a complete posting took in (None before the first)."""
    done = con.execute("SELECT value FROM meta WHERE key = ?", [_MARK]).fetchall()
    return int(done[0][0]) if done else None


def _latest_batch(con: duckdb.DuckDBPyConnection) -> int:
    """The last batch loaded into a table the ledger is posted from."""
    marks = ", ".join(f"'{t}'" for t in SOURCES)
    return int(con.execute(f"SELECT coalesce(max(batch_id), 0) FROM load_batches WHERE table_name IN ({marks})").fetchall()[0][0])


def is_stale(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether loads happened since the ledger was last posted."""
    return _latest_batch(con) > (_posted_through(con) or 0)


def post(
    con: duckdb.DuckDBPyConnection,
    settings: PerformanceSettings | None = None,
    now: datetime | None = None,
    through: date | None = None,
    full: bool = False,
) -> dict:
    """Append the entries that bring the ledger in line with the order lines (one transaction).

    ``through`` posts only lines dated up to that day (a cut-off: later lines wait for a
    later posting). Returns what was posted: entries per kind, and how many were
    adjustments to closed periods, and whether it was ``incremental``.

    A posting after a complete one takes in only the lines the batches loaded since may
    change (:func:`_affected_sql`), never re-reading the rest: the ledger it leaves is the
    one a complete posting would (``full=True`` forces that; a cut-off posting is complete).
    """
    settings = settings or PerformanceSettings()
    params = {
        "sale": settings.sale_status,
        "ret": settings.return_status,
        "un": settings.unassigned,
        "through": through or date(9999, 12, 31),
    }
    latest = _latest_batch(con)
    post_id = uuid.uuid4().hex[:12]
    mark = None if (full or through is not None) else _incremental_mark(con)
    summary = {"post_id": post_id, "entries": 0, "by_kind": {}, "adjustments": 0, "adjustment_amount": 0.0,
               "incremental": mark is not None}
    con.execute("BEGIN TRANSACTION")
    try:
        if mark is not None:
            con.execute(f"CREATE OR REPLACE TEMP TABLE _affected AS {_affected_sql(**_changes_since(con, mark))}", {"mark": mark})
        # the differences stay in the database: no round trip through Python for millions of lines
        con.execute(f"CREATE OR REPLACE TEMP TABLE _delta AS {_delta_sql(mark is not None)}", params)
        origins = [r[0] for r in con.execute("SELECT DISTINCT origin_period FROM _delta").fetchall()]
        if origins:
            closed = closed_periods(con)
            period_map = pd.DataFrame({"origin_period": origins, "period": [first_open(p, closed) for p in origins]})
            con.register("_period_map", period_map)
            try:
                con.execute(
                    """INSERT INTO ledger
                    SELECT nextval('ledger_seq'), m.period, d.origin_period, k.kind, d.rep_id, d.team, d.region,
                           d.order_id, CAST(d.line_no AS INTEGER), d.customer_id, d.product_id,
                           CAST(d.credit_date AS DATE), CAST(d.event_date AS DATE), CAST(d.share AS DECIMAL(9,6)),
                           CAST(d.d_amount AS DECIMAL(18,2)), CAST(d.d_margin AS DECIMAL(18,2)),
                           CAST(d.d_quantity AS DECIMAL(18,3)),
                           nullif(concat_ws('; ',
                               CASE k.kind
                                   WHEN 'correction' THEN
                                       CASE WHEN NOT d.line_in_target THEN 'line cancelled or removed'
                                            ELSE 'amount ' || printf('%.2f', coalesce(d.old_amount, 0)) || ' -> '
                                                 || printf('%.2f', coalesce(d.new_amount, 0)) END
                                   WHEN 'reassignment' THEN
                                       CASE WHEN d.in_target THEN 'credit to ' ELSE 'credit from ' END
                                       || coalesce(d.rep_id, '(no rep)') || ' (' || d.team || ')'
                               END,
                               CASE WHEN m.period <> d.origin_period THEN 'adjustment: ' || d.origin_period || ' is closed' END
                           ), ''),
                           $now, $post_id, d.unlinked, d.line_cost
                    FROM _delta d
                    JOIN _period_map m USING (origin_period),
                    LATERAL (SELECT CASE
                        WHEN NOT d.line_posted THEN CASE WHEN d.status = $ret THEN 'return' ELSE 'sale' END
                        WHEN d.line_in_target AND d.in_target <> d.in_posted THEN 'reassignment'
                        ELSE 'correction' END AS kind) k
                    ORDER BY d.order_id, d.line_no, d.rep_id, d.team""",
                    {"now": now or datetime.now(), "post_id": post_id, "ret": settings.return_status},
                )
            finally:
                con.unregister("_period_map")
            kinds = con.execute("SELECT kind, count(*) FROM ledger WHERE post_id = ? GROUP BY 1 ORDER BY 1", [post_id]).fetchall()
            [(n_adj, adj_amount)] = con.execute(
                "SELECT count(*), coalesce(sum(amount), 0) FROM ledger WHERE post_id = ? AND period <> origin_period", [post_id]
            ).fetchall()
            summary.update(
                entries=sum(n for _, n in kinds),
                by_kind={k: int(n) for k, n in kinds},
                adjustments=int(n_adj),
                adjustment_amount=float(adj_amount),
            )
        # earlier entries of a line that gained or lost its cost, new ones of a line no longer posted
        warehouse.sync_line_cost(con, "_affected" if mark is not None else "ledger")
        con.execute("DROP TABLE IF EXISTS _delta")
        con.execute("DROP TABLE IF EXISTS _affected")
        if through is None:  # a cut-off posting leaves later lines for later: not current yet
            con.execute(
                "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [_MARK, str(int(latest))]
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return summary


def ensure_posted(settings: Settings) -> dict | None:
    """Post the ledger if loads happened since it was last posted (a brief writable
    connection only then); returns the posting summary, or None if it was current."""
    with warehouse.open(settings, read_only=True) as con:
        stale = warehouse.table_exists(con, "ledger") and is_stale(con)
    if not stale:
        return None
    with warehouse.open(settings) as con:
        if not is_stale(con):  # another process posted meanwhile
            return None
        result = post(con, settings.performance)
        warehouse.audit(con, "post", result)
        return result


def adjustments(con: duckdb.DuckDBPyConnection, period: str, scope=None, settings: PerformanceSettings | None = None) -> pd.DataFrame:
    """Entries posted in ``period`` for earlier (closed) periods, within ``scope``: what the
    report lists under "of which adjustments to earlier periods"."""

    settings = settings or PerformanceSettings()
    sc = parse_scope(scope)
    cond, params = sc.sql()
    return con.execute(
        f"""
        SELECT origin_period, kind, rep_id, team, region, order_id, line_no, customer_id, product_id,
               event_date, amount, margin, reason, posted_at
        FROM (SELECT *, coalesce(rep_id, $un) AS rep_key FROM ledger) e
        WHERE period = $period AND period <> origin_period AND {cond}
        ORDER BY origin_period, amount
        """,
        {"period": period, "un": settings.unassigned, **params},
    ).df()

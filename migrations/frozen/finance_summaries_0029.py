"""The loan-summary functions and triggers exactly as revision 0029_lender_summaries declared them
(month totals without the small/micro balance deltas; no borrower years); 0029 installs them and
0033_stats_borrower_years replaces them with the declarations of services/finance/stats/db.py,
restoring these on downgrade. Frozen: a revision must create the same objects whenever it runs, so
this copy is never edited."""

from __future__ import annotations

from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_trigger import PGTrigger

S = "finance"

# ---------------------------------------------------------------------------------------------
# Statistics summaries, maintained set-based by statement-level triggers on finance.loans in the
# same transaction as every write (batch upsert, flag recomputation, COPY generator). Month
# granularity: balances are exact at month ends (the stats service uses them only for periods
# whose from/to/base dates are month boundaries, and computes other periods from the loans).
#
# loan_month_totals: one row per (lender, borrower_region, product, month) holding the new-loan
#   sums of loans issued that month and the balance *deltas* of that month (+value at the issue
#   month, −amount at the closing month of a loan closed in a later month), so that
#   balance(month end M) = Σ bal_delta over months ≤ M.
# loan_inclusive_islands: per borrower and scope cell (region prefix of length 0/2/4/6 × lender
#   or all lenders) the merged month ranges [first_month, end_month) in which the borrower has an
#   inclusive loan with a balance > 0 at the month end; recomputed for the borrowers a write touches.
# loan_inclusive_borrower_months: +1/−1 per island start/end, so that the distinct inclusive
#   borrowers of a cell at month end M = Σ delta over months ≤ M (and over the row's `lender`).
#
# Concurrent writers (one bank's batch, another bank's, a reclassification) never wait on a lock
# shared by all of them: every summary row a transaction adjusts is keyed by lender or borrower.
# - loan_month_totals rows are one lender's: a bank's batch adds to its own rows only.
# - loan_inclusive_borrower_months rows carry a `lender`: a by-lender cell's deltas are kept in
#   that lender's row; an all-lender cell's deltas (a borrower counted once over every lender) in
#   the row of the lender whose transaction changed the island (the lowest lender the transaction
#   wrote loans of). Only the sum over `lender` is a figure; the split is where writers keep it.
# - loan_inclusive_islands of a borrower (the all-lender cells too) are read, merged and replaced
#   by one writer at a time: the writer first locks the borrower's row in loan_summary_borrowers
#   (inserting it on first use). Two banks wait on each other only for a borrower both are
#   writing loans of, and only while the first commits (the apply runs at commit).
# No deadlocks: each transaction applies at commit, in one fixed order — its month totals
# (sorted by key), its borrowers' rows (sorted by credit code), the islands (rows only its locked
# borrowers have), the borrower months (sorted by key) — so no two wait on each other in a cycle.
# No double counts: a borrower's islands are read only after its row is locked, by a statement
# that sees every transaction that held the row before (READ COMMITTED: a new snapshot per
# statement).
# ---------------------------------------------------------------------------------------------

_TOTALS_ROWS = """
    SELECT date_trunc('month', r.issued_on)::date AS month, r.borrower_region, r.lender, r.product,
           {s} AS n_all, {s} * r.amount AS a_all,
           CASE WHEN r.size_class IN ('small', 'micro') THEN {s} ELSE 0 END AS n_sm,
           CASE WHEN r.size_class IN ('small', 'micro') THEN {s} * r.amount ELSE 0 END AS a_sm,
           CASE WHEN r.inclusive THEN {s} ELSE 0 END AS n_inc,
           CASE WHEN r.inclusive THEN {s} * r.amount ELSE 0 END AS a_inc,
           CASE WHEN r.inclusive THEN {s} * r.amount * r.annual_rate ELSE 0 END AS rate_w,
           {s} * (CASE WHEN r.closed_on IS NULL THEN r.outstanding_balance
                       WHEN date_trunc('month', r.closed_on) > date_trunc('month', r.issued_on) THEN r.amount
                       ELSE 0 END) AS bal_delta,
           CASE WHEN NOT r.inclusive THEN 0
                ELSE {s} * (CASE WHEN r.closed_on IS NULL THEN r.outstanding_balance
                                 WHEN date_trunc('month', r.closed_on) > date_trunc('month', r.issued_on)
                                 THEN r.amount ELSE 0 END) END AS inc_delta
    FROM {t} r
    UNION ALL
    SELECT date_trunc('month', r.closed_on)::date, r.borrower_region, r.lender, r.product,
           0, 0, 0, 0, 0, 0, 0, -({s}) * r.amount, CASE WHEN r.inclusive THEN -({s}) * r.amount ELSE 0 END
    FROM {t} r
    WHERE r.closed_on IS NOT NULL AND date_trunc('month', r.closed_on) > date_trunc('month', r.issued_on)
"""

_TOTALS_UPSERT = """
    INSERT INTO finance.loan_month_totals AS t
        (lender, borrower_region, product, month, n_all, a_all, n_sm, a_sm, n_inc, a_inc, rate_w,
         bal_delta, inc_delta)
    SELECT lender, borrower_region, product, month, sum(n_all), sum(a_all), sum(n_sm), sum(a_sm),
           sum(n_inc), sum(a_inc), sum(rate_w), sum(bal_delta), sum(inc_delta)
    FROM ({rows}) x
    GROUP BY lender, borrower_region, product, month
    ORDER BY lender, borrower_region, product, month
    ON CONFLICT (lender, borrower_region, product, month) DO UPDATE SET
        n_all = t.n_all + EXCLUDED.n_all, a_all = t.a_all + EXCLUDED.a_all,
        n_sm = t.n_sm + EXCLUDED.n_sm, a_sm = t.a_sm + EXCLUDED.a_sm,
        n_inc = t.n_inc + EXCLUDED.n_inc, a_inc = t.a_inc + EXCLUDED.a_inc,
        rate_w = t.rate_w + EXCLUDED.rate_w, bal_delta = t.bal_delta + EXCLUDED.bal_delta,
        inc_delta = t.inc_delta + EXCLUDED.inc_delta;
"""

# a row's inclusive month range [ms, me) (me NULL: open); empty ranges are dropped
_RANGE = """
    SELECT {t}.borrower_credit_code AS b, {t}.borrower_region AS reg, {t}.lender,
           date_trunc('month', {t}.issued_on)::date AS ms,
           date_trunc('month', {t}.closed_on)::date AS me
    FROM {source}
    WHERE {extra}{t}.inclusive AND ({t}.closed_on IS NOT NULL OR {t}.outstanding_balance > 0)
      AND ({t}.closed_on IS NULL OR date_trunc('month', {t}.closed_on) > date_trunc('month', {t}.issued_on))
"""


def _range(t: str, source: str | None = None, extra: str = "") -> str:
    """The inclusive ranges of the rows of `t` (a transition table, or an alias over `source`)."""
    return _RANGE.format(t=t, source=source or t, extra=extra)


# the summary cells each range counts in: province/city/county/none × one lender or all lenders
_CELLS = """(VALUES (0, false), (2, false), (4, false), (6, false),
                   (0, true), (2, true), (4, true), (6, true)) AS k(rlen, by_lender)"""


def _cell_ranges(a: str, source: str | None = None) -> str:
    """Each range of `a` (b, reg, lender, ms, me; an alias over `source`) once per summary cell."""
    return f"""
        SELECT {a}.b, CASE WHEN k.rlen = 0 THEN '' ELSE substr({a}.reg, 1, k.rlen) END AS sr,
               CASE WHEN k.by_lender THEN {a}.lender ELSE '' END AS sl,
               {a}.ms, COALESCE({a}.me, 'infinity'::date) AS me
        FROM {source or a} CROSS JOIN {_CELLS}"""


# ranges `lv` (b, sr, sl, ms, me, …) numbered into islands of overlapping or touching months
_ISLAND_NUMBERS = """
    fl AS (
        SELECT lv.*, CASE WHEN lv.ms <= max(lv.me) OVER w THEN 0 ELSE 1 END AS starts
        FROM lv
        WINDOW w AS (PARTITION BY lv.b, lv.sr, lv.sl ORDER BY lv.ms, lv.me
                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
    ),
    num AS (
        SELECT fl.*, sum(fl.starts) OVER (PARTITION BY fl.b, fl.sr, fl.sl ORDER BY fl.ms, fl.me
                                          ROWS UNBOUNDED PRECEDING) AS island
        FROM fl
    ),"""


def _replace_islands(new: str) -> str:
    """Store the islands `new` (b, sr, sl, ms, me) in place of the deleted ones `old`, and apply the
    +1/−1 borrower-count deltas of both to the month table (an all-lender cell's in the rows of the
    transaction's `writer`)."""
    return f"""
    ins AS (
        INSERT INTO finance.loan_inclusive_islands
            (borrower_credit_code, scope_region, scope_lender, first_month, end_month)
        SELECT b, sr, sl, ms, me FROM {new}
    ),
    d AS (
        SELECT sr, sl, ms AS month, 1 AS delta FROM {new}
        UNION ALL SELECT sr, sl, me, -1 FROM {new} WHERE me <> 'infinity'::date
        UNION ALL SELECT scope_region, scope_lender, first_month, -1 FROM old
        UNION ALL SELECT scope_region, scope_lender, end_month, 1 FROM old WHERE end_month <> 'infinity'::date
    )
    INSERT INTO finance.loan_inclusive_borrower_months AS t (scope_region, scope_lender, month, lender, delta)
    SELECT sr, sl, month, CASE WHEN sl = '' THEN writer ELSE sl END, sum(delta) FROM d
    GROUP BY 1, 2, 3, 4 HAVING sum(delta) <> 0
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (scope_region, scope_lender, month, lender) DO UPDATE SET delta = t.delta + EXCLUDED.delta;
"""


# islands of the borrowers in `affected` recomputed from their loans (writes that removed a range)
_RECOMPUTE = f"""
    WITH old AS (
        DELETE FROM finance.loan_inclusive_islands i WHERE i.borrower_credit_code = ANY(affected)
        RETURNING i.scope_region, i.scope_lender, i.first_month, i.end_month
    ),
    rng AS ({_range("l", "finance.loans l", "l.borrower_credit_code = ANY(affected) AND ")}),
    lv AS ({_cell_ranges("rng")}
    ),{_ISLAND_NUMBERS}
    new AS (
        SELECT b, sr, sl, min(ms) AS ms, max(me) AS me FROM num GROUP BY b, sr, sl, island
    ),{_replace_islands("new")}"""

# ranges added by a write, merged into the borrowers' existing islands (no re-read of the loans):
# a union of month ranges has one canonical merged form, so merging the existing islands with the
# new ranges gives exactly what a recomputation from the loans would give. Only islands that
# change are deleted/inserted, and only their +1/−1 deltas are applied.
_MERGE_ADDED = f"""
    WITH add AS ({_cell_ranges("p", "pg_temp.fin_pending_ranges p")}
        WHERE p.b = ANY(added_b)
    ),
    cells AS (SELECT DISTINCT b, sr, sl FROM add),
    lv AS (
        SELECT i.borrower_credit_code AS b, i.scope_region AS sr, i.scope_lender AS sl,
               i.first_month AS ms, i.end_month AS me, i.ctid AS id
        FROM finance.loan_inclusive_islands i JOIN cells c
          ON i.borrower_credit_code = c.b AND i.scope_region = c.sr AND i.scope_lender = c.sl
        WHERE i.borrower_credit_code = ANY(added_b)
        UNION ALL
        SELECT b, sr, sl, ms, me, NULL::tid FROM add
    ),{_ISLAND_NUMBERS}
    grp AS (
        SELECT b, sr, sl, min(ms) AS ms, max(me) AS me, count(id) AS n_old,
               min(ms) FILTER (WHERE id IS NOT NULL) AS old_ms, max(me) FILTER (WHERE id IS NOT NULL) AS old_me
        FROM num GROUP BY b, sr, sl, island
    ),
    -- an island changes unless it is one existing island that already covers the new ranges
    chg AS (SELECT * FROM grp WHERE NOT (n_old = 1 AND old_ms = ms AND old_me = me)),
    old AS (
        DELETE FROM finance.loan_inclusive_islands i
        WHERE i.ctid = ANY(ARRAY(SELECT n.id FROM num n JOIN chg USING (b, sr, sl)
                                 WHERE n.id IS NOT NULL AND n.ms >= chg.ms AND n.me <= chg.me))
        RETURNING i.scope_region, i.scope_lender, i.first_month, i.end_month
    ),{_replace_islands("chg")}"""

_PENDING_TOTALS_COLS = "month, borrower_region, lender, product, n_all, a_all, n_sm, a_sm, n_inc, a_inc, rate_w, bal_delta, inc_delta"


def _stash_function(name: str, totals_rows: str, added: str | None, recompute: str | None) -> PGFunction:
    """A statement-level trigger that only records what the statement changed (no shared rows)."""
    added_sql = (
        f"""INSERT INTO pg_temp.fin_pending_ranges (b, reg, lender, ms, me, recompute)
            SELECT b, reg, lender, ms, me, false FROM ({added}) a;"""
        if added
        else ""
    )
    recompute_sql = (
        f"""INSERT INTO pg_temp.fin_pending_ranges (b, lender, recompute)
            SELECT DISTINCT b, lender, true FROM ({recompute}) r;"""
        if recompute
        else ""
    )
    return PGFunction(
        schema=S,
        signature=f"{name}()",
        definition=f"""RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        PERFORM finance.loans_summary_prepare();
        INSERT INTO pg_temp.fin_pending_totals ({_PENDING_TOTALS_COLS})
        SELECT month, borrower_region, lender, product, sum(n_all), sum(a_all), sum(n_sm), sum(a_sm),
               sum(n_inc), sum(a_inc), sum(rate_w), sum(bal_delta), sum(inc_delta)
        FROM ({totals_rows}) x
        GROUP BY month, borrower_region, lender, product
        HAVING (sum(n_all), sum(a_all), sum(n_sm), sum(a_sm), sum(n_inc), sum(a_inc), sum(rate_w),
                sum(bal_delta), sum(inc_delta)) <> (0, 0, 0, 0, 0, 0, 0, 0, 0);
        {added_sql}
        {recompute_sql}
        RETURN NULL;
    END
    $fn$""",
    )


_OLD_MINUS_NEW = f"""SELECT * FROM (({_range("old_rows")}) EXCEPT ALL ({_range("new_rows")})) x"""
_NEW_MINUS_OLD = f"""SELECT * FROM (({_range("new_rows")}) EXCEPT ALL ({_range("old_rows")})) y"""


# Creates the transaction's pending tables on first use and marks the transaction once: the mark's
# deferred trigger applies everything the transaction's statements recorded, at commit.
SUMMARY_PREPARE = PGFunction(
    schema=S,
    signature="loans_summary_prepare()",
    definition="""RETURNS void LANGUAGE plpgsql AS $fn$
    BEGIN
        IF to_regclass('pg_temp.fin_pending_totals') IS NULL THEN
            CREATE TEMP TABLE fin_pending_totals (
                month date, borrower_region text, lender text, product text, n_all bigint,
                a_all numeric, n_sm bigint, a_sm numeric, n_inc bigint, a_inc numeric, rate_w numeric,
                bal_delta numeric, inc_delta numeric);
            CREATE TEMP TABLE fin_pending_ranges (
                b text, reg text, lender text, ms date, me date, recompute boolean);
        END IF;
        IF current_setting('finance.summary_pending', true) IS DISTINCT FROM 'yes' THEN
            PERFORM set_config('finance.summary_pending', 'yes', true);
            INSERT INTO finance.loan_summary_marks DEFAULT VALUES;
        END IF;
    END
    $fn$""",
)
SUMMARY_APPLY = PGFunction(
    schema=S,
    signature="loans_summary_apply()",
    definition=f"""RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
        recompute_b text[];
        added_b text[];
        affected text[];
        writer text;
    BEGIN
        DELETE FROM finance.loan_summary_marks WHERE id = NEW.id;
        PERFORM set_config('finance.summary_pending', 'no', true);
        IF to_regclass('pg_temp.fin_pending_totals') IS NULL THEN
            RETURN NULL;
        END IF;
        {_TOTALS_UPSERT.format(rows="SELECT * FROM pg_temp.fin_pending_totals")}
        DELETE FROM pg_temp.fin_pending_totals;
        recompute_b := ARRAY(SELECT DISTINCT b FROM pg_temp.fin_pending_ranges WHERE recompute ORDER BY 1);
        added_b := ARRAY(SELECT DISTINCT b FROM pg_temp.fin_pending_ranges
                         WHERE NOT recompute AND NOT (b = ANY(recompute_b)) ORDER BY 1);
        writer := (SELECT min(lender) FROM pg_temp.fin_pending_ranges);
        -- the borrowers' rows, locked in credit-code order (inserted on first use): one writer
        -- at a time reads and replaces a borrower's islands
        INSERT INTO finance.loan_summary_borrowers AS s (borrower_credit_code)
        SELECT b FROM unnest(recompute_b || added_b) AS b ORDER BY b
        ON CONFLICT (borrower_credit_code) DO UPDATE SET borrower_credit_code = s.borrower_credit_code
        WHERE false;
        IF cardinality(added_b) > 0 THEN
        {_MERGE_ADDED}
        END IF;
        DELETE FROM pg_temp.fin_pending_ranges;
        affected := recompute_b;
        IF cardinality(affected) > 0 THEN
        {_RECOMPUTE}
        END IF;
        RETURN NULL;
    END
    $fn$""",
)
SUMMARISE_INSERT = _stash_function(
    "loans_summarise_insert", _TOTALS_ROWS.format(s="1", t="new_rows"), _range("new_rows"), None
)
SUMMARISE_UPDATE = _stash_function(
    "loans_summarise_update",
    _TOTALS_ROWS.format(s="-1", t="old_rows") + " UNION ALL " + _TOTALS_ROWS.format(s="1", t="new_rows"),
    # ranges only added: merged; a range removed (or moved): that borrower is recomputed
    _NEW_MINUS_OLD,
    _OLD_MINUS_NEW,
)
SUMMARISE_DELETE = _stash_function(
    "loans_summarise_delete", _TOTALS_ROWS.format(s="-1", t="old_rows"), None, _range("old_rows")
)
SUMMARISE_TRUNCATE = PGFunction(
    schema=S,
    signature="loans_summarise_truncate()",
    definition="""RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        IF to_regclass('pg_temp.fin_pending_totals') IS NOT NULL THEN
            DELETE FROM pg_temp.fin_pending_totals;
            DELETE FROM pg_temp.fin_pending_ranges;
        END IF;
        DELETE FROM finance.loan_month_totals;
        DELETE FROM finance.loan_inclusive_islands;
        DELETE FROM finance.loan_inclusive_borrower_months;
        DELETE FROM finance.loan_summary_borrowers;
        RETURN NULL;
    END
    $fn$""",
)

# The summaries recomputed from the loans, as statements of one transaction (a migration that
# reshapes them runs these): emptied, then every loan's month totals and every inclusive borrower
# recorded as pending and applied at once by the apply trigger (its own rules, not a copy).
REBUILD = [
    "DELETE FROM finance.loan_month_totals",
    "DELETE FROM finance.loan_inclusive_islands",
    "DELETE FROM finance.loan_inclusive_borrower_months",
    "DELETE FROM finance.loan_summary_borrowers",
    "SELECT finance.loans_summary_prepare()",
    f"""INSERT INTO pg_temp.fin_pending_totals ({_PENDING_TOTALS_COLS})
        SELECT month, borrower_region, lender, product, sum(n_all), sum(a_all), sum(n_sm), sum(a_sm),
               sum(n_inc), sum(a_inc), sum(rate_w), sum(bal_delta), sum(inc_delta)
        FROM ({_TOTALS_ROWS.format(s="1", t="finance.loans")}) x
        GROUP BY month, borrower_region, lender, product""",
    f"""INSERT INTO pg_temp.fin_pending_ranges (b, lender, recompute)
        SELECT DISTINCT b, lender, true FROM ({_range("l", "finance.loans l")}) r""",
    "SET CONSTRAINTS finance.loan_summary_marks_apply IMMEDIATE",  # apply now, then as before
    "SET CONSTRAINTS finance.loan_summary_marks_apply DEFERRED",
]

# The marker table (`loan_summary_marks`, one row per writing transaction) holds the deferred trigger.
APPLY_TRIGGER = PGTrigger(
    schema=S,
    signature="loan_summary_marks_apply",
    on_entity=f"{S}.loan_summary_marks",
    is_constraint=True,
    definition=f"AFTER INSERT ON {S}.loan_summary_marks DEFERRABLE INITIALLY DEFERRED "
    f"FOR EACH ROW EXECUTE FUNCTION {S}.loans_summary_apply()",
)
LOAN_TRIGGERS = [
    PGTrigger(
        schema=S,
        signature=f"loans_summarise_{event.lower()}",
        on_entity=f"{S}.loans",
        definition=f"AFTER {event} ON {S}.loans {ref}FOR EACH STATEMENT "
        f"EXECUTE FUNCTION {S}.loans_summarise_{event.lower()}()",
    )
    for event, ref in (
        ("INSERT", "REFERENCING NEW TABLE AS new_rows "),
        ("UPDATE", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "),
        ("DELETE", "REFERENCING OLD TABLE AS old_rows "),
        ("TRUNCATE", ""),
    )
]

FUNCTIONS = [
    SUMMARY_PREPARE,
    SUMMARY_APPLY,
    SUMMARISE_INSERT,
    SUMMARISE_UPDATE,
    SUMMARISE_DELETE,
    SUMMARISE_TRUNCATE,
]
ENTITIES = [*FUNCTIONS, APPLY_TRIGGER, *LOAN_TRIGGERS]

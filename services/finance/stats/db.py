"""Financing statistics summaries, kept set-based by statement-level triggers on finance.loans and
finance.loan_applications.

The statistics service reads the month summaries for periods whose from/to/base dates are month
boundaries, the borrower years for periods of one calendar year, and computes other periods from
the ledgers (`repository.py`; tests/finance/test_stats_summaries.py holds the two equal after any
mix of writes).
"""

from __future__ import annotations

from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_trigger import PGTrigger

from services.finance.rules import DEFINITIONS
from services.finance.stats.sizes import size_in

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
#   balance(month end M) = Σ bal_delta over months ≤ M; inc_delta and sm_delta the same for the
#   inclusive and the small/micro loans (`sizes.size_in`).
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
# - loan_borrower_years of a borrower are replaced under the same lock; loan_borrower_year_counts
#   rows carry a `lender` as the borrower months do (an all-lender cell's changes in the row of
#   the lowest lender the transaction wrote records of).
# No deadlocks: each transaction applies at commit, in one fixed order — its month totals
# (sorted by key), its borrowers' rows (sorted by credit code), the islands (rows only its locked
# borrowers have), the borrower months (sorted by key), the borrower years (rows only its locked
# borrowers have), the year counts (sorted by key) — so no two wait on each other in a cycle.
# No double counts: a borrower's islands are read only after its row is locked, by a statement
# that sees every transaction that held the row before (READ COMMITTED: a new snapshot per
# statement).
# ---------------------------------------------------------------------------------------------

# a loan's balance as of its issue month's end: its value, unless it closed within that month
_TOTALS_ROWS = """
    SELECT date_trunc('month', r.issued_on)::date AS month, r.borrower_region, r.lender, r.product,
           {s} AS n_all, {s} * r.amount AS a_all,
           CASE WHEN {sm} THEN {s} ELSE 0 END AS n_sm,
           CASE WHEN {sm} THEN {s} * r.amount ELSE 0 END AS a_sm,
           CASE WHEN r.inclusive THEN {s} ELSE 0 END AS n_inc,
           CASE WHEN r.inclusive THEN {s} * r.amount ELSE 0 END AS a_inc,
           CASE WHEN r.inclusive THEN {s} * r.amount * r.annual_rate ELSE 0 END AS rate_w,
           {s} * {bal} AS bal_delta,
           CASE WHEN NOT r.inclusive THEN 0 ELSE {s} * {bal} END AS inc_delta,
           CASE WHEN {sm} THEN {s} * {bal} ELSE 0 END AS sm_delta
    FROM {t} r
    UNION ALL
    SELECT date_trunc('month', r.closed_on)::date, r.borrower_region, r.lender, r.product,
           0, 0, 0, 0, 0, 0, 0, -({s}) * r.amount, CASE WHEN r.inclusive THEN -({s}) * r.amount ELSE 0 END,
           CASE WHEN {sm} THEN -({s}) * r.amount ELSE 0 END
    FROM {t} r
    WHERE r.closed_on IS NOT NULL AND date_trunc('month', r.closed_on) > date_trunc('month', r.issued_on)
"""
_ISSUE_MONTH_BALANCE = """(CASE WHEN r.closed_on IS NULL THEN r.outstanding_balance
                       WHEN date_trunc('month', r.closed_on) > date_trunc('month', r.issued_on) THEN r.amount
                       ELSE 0 END)"""


def _totals_rows(s: str, t: str) -> str:
    """The month-total deltas of the rows of `t`, signed `s` (1 added, -1 removed); small/micro is
    `sizes.size_in` (the scans' rule)."""
    return _TOTALS_ROWS.format(s=s, t=t, sm=size_in("r.size_class"), bal=_ISSUE_MONTH_BALANCE)


_TOTALS_UPSERT = """
    INSERT INTO finance.loan_month_totals AS t
        (lender, borrower_region, product, month, n_all, a_all, n_sm, a_sm, n_inc, a_inc, rate_w,
         bal_delta, inc_delta, sm_delta)
    SELECT lender, borrower_region, product, month, sum(n_all), sum(a_all), sum(n_sm), sum(a_sm),
           sum(n_inc), sum(a_inc), sum(rate_w), sum(bal_delta), sum(inc_delta), sum(sm_delta)
    FROM ({rows}) x
    GROUP BY lender, borrower_region, product, month
    ORDER BY lender, borrower_region, product, month
    ON CONFLICT (lender, borrower_region, product, month) DO UPDATE SET
        n_all = t.n_all + EXCLUDED.n_all, a_all = t.a_all + EXCLUDED.a_all,
        n_sm = t.n_sm + EXCLUDED.n_sm, a_sm = t.a_sm + EXCLUDED.a_sm,
        n_inc = t.n_inc + EXCLUDED.n_inc, a_inc = t.a_inc + EXCLUDED.a_inc,
        rate_w = t.rate_w + EXCLUDED.rate_w, bal_delta = t.bal_delta + EXCLUDED.bal_delta,
        inc_delta = t.inc_delta + EXCLUDED.inc_delta, sm_delta = t.sm_delta + EXCLUDED.sm_delta;
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

_PENDING_TOTALS_COLS = (
    "month, borrower_region, lender, product, n_all, a_all, n_sm, a_sm, n_inc, a_inc, rate_w, bal_delta, "
    "inc_delta, sm_delta"
)

# ---------------------------------------------------------------------------------------------
# Borrower years (申贷获得率 and 首贷户: counts of distinct borrowers, which do not add over months).
#
# Each record contributes flags to its borrower's year (the calendar year of applied_on / issued_on)
# in its county (borrower_region) and in two lender cells, its lender's and all lenders' (''):
#   applied_sm    an application of a size 申贷获得率 counts (DEFINITIONS["approval_rate"]["sizes"]),
#   obtained      such an application approved,
#   applied_other an application of another or no size,
#   first_loan    a loan with is_first_loan (首贷户),
# exactly the conditions of repository.applications and repository.first_time_borrowers.
# loan_borrower_years holds one row per (borrower, year, lender cell, county) with the OR of its
# records' flags. loan_borrower_year_counts holds, per (year, region cell, lender cell), how many
# borrowers have each flag, at the region prefixes of length 0/2/4/6 (the islands' cells): a
# borrower is counted once per prefix even with records in two counties of it. Its `lender` is where
# writers keep the row, as in loan_inclusive_borrower_months; the figure is the sum over it.
#
# A write records the flag rows it added, and the (borrower, year) pairs whose rows it removed or
# changed; at commit, under the borrower's lock (loan_summary_borrowers, the islands' lock, in
# credit-code order), the apply replaces the rows of each pair — removals recomputed from the
# ledgers, additions merged into the stored rows (an OR: no re-read) — and adds to the counts the
# difference of the pair's rows before and after. Then the counts, sorted by key: the same fixed
# order after the borrower months, so still no cycle.
# ---------------------------------------------------------------------------------------------

_APPROVAL_SIZES = tuple(DEFINITIONS["approval_rate"]["sizes"])

# the flag rows (b, y, lender, reg, applied_sm, obtained, applied_other, first_loan) of a ledger's rows
_LOAN_YEAR_ROWS = """
    SELECT {t}.borrower_credit_code AS b, extract(year FROM {t}.issued_on)::int AS y, {t}.lender,
           {t}.borrower_region AS reg, false AS applied_sm, false AS obtained, false AS applied_other,
           true AS first_loan
    FROM {source}
    WHERE {extra}{t}.is_first_loan"""
_APPLICATION_YEAR_ROWS = """
    SELECT {t}.borrower_credit_code AS b, extract(year FROM {t}.applied_on)::int AS y, {t}.lender,
           {t}.borrower_region AS reg, COALESCE({counted}, false) AS applied_sm,
           COALESCE({counted} AND {t}.decision = 'approved', false) AS obtained,
           COALESCE(NOT ({counted}), true) AS applied_other, false AS first_loan
    FROM {source}
    WHERE {extra}true"""


def _loan_years(t: str, source: str | None = None, extra: str = "") -> str:
    return _LOAN_YEAR_ROWS.format(t=t, source=source or t, extra=extra)


def _application_years(t: str, source: str | None = None, extra: str = "") -> str:
    counted = size_in(f"{t}.size_class", _APPROVAL_SIZES)
    return _APPLICATION_YEAR_ROWS.format(t=t, source=source or t, extra=extra, counted=counted)


_YEAR_FLAGS = "applied_sm, obtained, applied_other, first_loan"
_YEAR_COLS = f"borrower_credit_code, year, scope_lender, borrower_region, {_YEAR_FLAGS}"

# the pairs' rows replaced (see above); `years_b` the transaction's borrowers, `rebuilt_b` those
# with a pair to recompute, `years_writer` the lender whose rows keep the all-lender counts
_YEARS_APPLY = f"""
        WITH pairs AS (SELECT b, y FROM pg_temp.fin_pending_years GROUP BY b, y),
        gone AS (
            DELETE FROM finance.loan_borrower_years t USING pairs p
            WHERE t.borrower_credit_code = ANY(years_b) AND t.borrower_credit_code = p.b AND t.year = p.y
            RETURNING t.*
        )
        INSERT INTO pg_temp.fin_years_old SELECT {_YEAR_COLS} FROM gone;
        INSERT INTO pg_temp.fin_years_new ({_YEAR_COLS})
        WITH pairs AS (
            SELECT b, y, bool_or(recompute) AS recompute FROM pg_temp.fin_pending_years GROUP BY b, y
        ),
        src AS (
            SELECT r.* FROM ({_loan_years("l", "finance.loans l", "l.borrower_credit_code = ANY(rebuilt_b) AND ")}) r
            JOIN pairs p ON p.recompute AND p.b = r.b AND p.y = r.y
            UNION ALL
            SELECT r.* FROM ({_application_years("l", "finance.loan_applications l", "l.borrower_credit_code = ANY(rebuilt_b) AND ")}) r
            JOIN pairs p ON p.recompute AND p.b = r.b AND p.y = r.y
            UNION ALL
            SELECT a.b, a.y, a.lender, a.reg, {_YEAR_FLAGS} FROM pg_temp.fin_pending_years a
            JOIN pairs p ON NOT p.recompute AND p.b = a.b AND p.y = a.y
        ),
        cells AS (
            SELECT src.b, src.y, CASE WHEN k.by_lender THEN src.lender ELSE '' END AS sl, src.reg,
                   {_YEAR_FLAGS}
            FROM src CROSS JOIN (VALUES (true), (false)) AS k(by_lender)
            UNION ALL
            SELECT {_YEAR_COLS} FROM pg_temp.fin_years_old o
            JOIN pairs p ON NOT p.recompute AND p.b = o.borrower_credit_code AND p.y = o.year
        )
        SELECT b, y, sl, reg, bool_or(applied_sm), bool_or(obtained), bool_or(applied_other),
               bool_or(first_loan)
        FROM cells GROUP BY b, y, sl, reg;
        INSERT INTO finance.loan_borrower_years ({_YEAR_COLS})
        SELECT {_YEAR_COLS} FROM pg_temp.fin_years_new ORDER BY 1, 2, 3, 4;
        WITH lv AS (
            SELECT n.*, 1 AS sgn FROM pg_temp.fin_years_new n
            UNION ALL SELECT o.*, -1 FROM pg_temp.fin_years_old o
        ),
        per AS (
            SELECT lv.sgn, lv.year, CASE WHEN k.rlen = 0 THEN '' ELSE substr(lv.borrower_region, 1, k.rlen) END AS sr,
                   lv.scope_lender AS sl, lv.borrower_credit_code,
                   bool_or(lv.applied_sm)::int AS ap, bool_or(lv.obtained)::int AS ob,
                   bool_or(lv.applied_other)::int AS ot, bool_or(lv.first_loan)::int AS fl
            FROM lv CROSS JOIN (VALUES (0), (2), (4), (6)) AS k(rlen)
            GROUP BY 1, 2, 3, 4, 5
        )
        INSERT INTO finance.loan_borrower_year_counts AS t
            (year, scope_region, scope_lender, lender, applied, obtained, other_applied, first_time)
        SELECT year, sr, sl, CASE WHEN sl = '' THEN years_writer ELSE sl END,
               sum(sgn * ap), sum(sgn * ob), sum(sgn * ot), sum(sgn * fl)
        FROM per GROUP BY 1, 2, 3, 4
        HAVING (sum(sgn * ap), sum(sgn * ob), sum(sgn * ot), sum(sgn * fl)) <> (0, 0, 0, 0)
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (year, scope_region, scope_lender, lender) DO UPDATE SET
            applied = t.applied + EXCLUDED.applied, obtained = t.obtained + EXCLUDED.obtained,
            other_applied = t.other_applied + EXCLUDED.other_applied,
            first_time = t.first_time + EXCLUDED.first_time;
        DELETE FROM pg_temp.fin_years_old;
        DELETE FROM pg_temp.fin_years_new;"""


def _years_stash(added: str | None, recompute: str | None) -> str:
    """Record a statement's borrower-year changes: flag rows added, (borrower, year) pairs to recompute."""
    out = ""
    if added:
        out += f"""
        INSERT INTO pg_temp.fin_pending_years (b, y, lender, reg, {_YEAR_FLAGS}, recompute)
        SELECT b, y, lender, reg, {_YEAR_FLAGS}, false FROM ({added}) a;"""
    if recompute:
        out += f"""
        INSERT INTO pg_temp.fin_pending_years (b, y, lender, recompute)
        SELECT DISTINCT b, y, lender, true FROM ({recompute}) r;"""
    return out


def _minus(rows, a: str, b: str) -> str:
    """The rows of `a` that `b` has not (EXCEPT ALL): what a statement added (new − old) or removed."""
    return f"SELECT * FROM (({rows(a)}) EXCEPT ALL ({rows(b)})) x"


def _stash_function(
    name: str,
    totals_rows: str,
    added: str | None,
    recompute: str | None,
    years_added: str | None,
    years_recompute: str | None,
) -> PGFunction:
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
               sum(n_inc), sum(a_inc), sum(rate_w), sum(bal_delta), sum(inc_delta), sum(sm_delta)
        FROM ({totals_rows}) x
        GROUP BY month, borrower_region, lender, product
        HAVING (sum(n_all), sum(a_all), sum(n_sm), sum(a_sm), sum(n_inc), sum(a_inc), sum(rate_w),
                sum(bal_delta), sum(inc_delta), sum(sm_delta)) <> (0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        {added_sql}
        {recompute_sql}
        {_years_stash(years_added, years_recompute)}
        RETURN NULL;
    END
    $fn$""",
    )


def _years_function(name: str, added: str | None, recompute: str | None) -> PGFunction:
    """A statement-level trigger on the applications: records their borrower-year changes only."""
    return PGFunction(
        schema=S,
        signature=f"{name}()",
        definition=f"""RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        PERFORM finance.loans_summary_prepare();
        {_years_stash(added, recompute)}
        RETURN NULL;
    END
    $fn$""",
    )


_OLD_MINUS_NEW = _minus(_range, "old_rows", "new_rows")
_NEW_MINUS_OLD = _minus(_range, "new_rows", "old_rows")


# Creates the transaction's pending tables on first use and marks the transaction once: the mark's
# deferred trigger applies everything the transaction's statements recorded, at commit. (A session
# that made the tables under an older declaration, without fin_pending_years, makes them again.)
SUMMARY_PREPARE = PGFunction(
    schema=S,
    signature="loans_summary_prepare()",
    definition="""RETURNS void LANGUAGE plpgsql AS $fn$
    BEGIN
        IF to_regclass('pg_temp.fin_pending_years') IS NULL THEN
            DROP TABLE IF EXISTS pg_temp.fin_pending_totals, pg_temp.fin_pending_ranges;
            CREATE TEMP TABLE fin_pending_totals (
                month date, borrower_region text, lender text, product text, n_all bigint,
                a_all numeric, n_sm bigint, a_sm numeric, n_inc bigint, a_inc numeric, rate_w numeric,
                bal_delta numeric, inc_delta numeric, sm_delta numeric);
            CREATE TEMP TABLE fin_pending_ranges (
                b text, reg text, lender text, ms date, me date, recompute boolean);
            CREATE TEMP TABLE fin_pending_years (
                b text, y int, lender text, reg text, applied_sm boolean, obtained boolean,
                applied_other boolean, first_loan boolean, recompute boolean);
            CREATE TEMP TABLE fin_years_old (
                borrower_credit_code text, year int, scope_lender text, borrower_region text,
                applied_sm boolean, obtained boolean, applied_other boolean, first_loan boolean);
            CREATE TEMP TABLE fin_years_new (LIKE fin_years_old);
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
        years_b text[];
        rebuilt_b text[];
        years_writer text;
    BEGIN
        DELETE FROM finance.loan_summary_marks WHERE id = NEW.id;
        PERFORM set_config('finance.summary_pending', 'no', true);
        IF to_regclass('pg_temp.fin_pending_years') IS NULL THEN
            RETURN NULL;
        END IF;
        {_TOTALS_UPSERT.format(rows="SELECT * FROM pg_temp.fin_pending_totals")}
        DELETE FROM pg_temp.fin_pending_totals;
        recompute_b := ARRAY(SELECT DISTINCT b FROM pg_temp.fin_pending_ranges WHERE recompute ORDER BY 1);
        added_b := ARRAY(SELECT DISTINCT b FROM pg_temp.fin_pending_ranges
                         WHERE NOT recompute AND NOT (b = ANY(recompute_b)) ORDER BY 1);
        writer := (SELECT min(lender) FROM pg_temp.fin_pending_ranges);
        years_b := ARRAY(SELECT DISTINCT b FROM pg_temp.fin_pending_years ORDER BY 1);
        rebuilt_b := ARRAY(SELECT DISTINCT b FROM pg_temp.fin_pending_years WHERE recompute ORDER BY 1);
        years_writer := COALESCE((SELECT min(lender) FROM pg_temp.fin_pending_years), writer, '');
        -- the borrowers' rows, locked in credit-code order (inserted on first use): one writer
        -- at a time reads and replaces a borrower's islands and borrower years
        INSERT INTO finance.loan_summary_borrowers AS s (borrower_credit_code)
        SELECT DISTINCT b FROM unnest(recompute_b || added_b || years_b) AS b ORDER BY b
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
        IF cardinality(years_b) > 0 THEN
        {_YEARS_APPLY}
        END IF;
        DELETE FROM pg_temp.fin_pending_years;
        RETURN NULL;
    END
    $fn$""",
)
_LOAN_YEARS_NEW_MINUS_OLD = _minus(_loan_years, "new_rows", "old_rows")
_LOAN_YEARS_OLD_MINUS_NEW = _minus(_loan_years, "old_rows", "new_rows")
SUMMARISE_INSERT = _stash_function(
    "loans_summarise_insert",
    _totals_rows("1", "new_rows"),
    _range("new_rows"),
    None,
    _loan_years("new_rows"),
    None,
)
SUMMARISE_UPDATE = _stash_function(
    "loans_summarise_update",
    _totals_rows("-1", "old_rows") + " UNION ALL " + _totals_rows("1", "new_rows"),
    # ranges (flag rows) only added: merged; a range (flag row) removed or moved: recomputed
    _NEW_MINUS_OLD,
    _OLD_MINUS_NEW,
    _LOAN_YEARS_NEW_MINUS_OLD,
    _LOAN_YEARS_OLD_MINUS_NEW,
)
SUMMARISE_DELETE = _stash_function(
    "loans_summarise_delete",
    _totals_rows("-1", "old_rows"),
    None,
    _range("old_rows"),
    None,
    _loan_years("old_rows"),
)
# every borrower year with a first loan, recomputed at commit (from no loans)
SUMMARISE_TRUNCATE = PGFunction(
    schema=S,
    signature="loans_summarise_truncate()",
    definition="""RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        PERFORM finance.loans_summary_prepare();
        DELETE FROM pg_temp.fin_pending_totals;
        DELETE FROM pg_temp.fin_pending_ranges;
        DELETE FROM finance.loan_month_totals;
        DELETE FROM finance.loan_inclusive_islands;
        DELETE FROM finance.loan_inclusive_borrower_months;
        INSERT INTO pg_temp.fin_pending_years (b, y, recompute)
        SELECT DISTINCT borrower_credit_code, year, true FROM finance.loan_borrower_years WHERE first_loan;
        RETURN NULL;
    END
    $fn$""",
)
APPLICATIONS_SUMMARISE_INSERT = _years_function(
    "loan_applications_summarise_insert", _application_years("new_rows"), None
)
APPLICATIONS_SUMMARISE_UPDATE = _years_function(
    "loan_applications_summarise_update",
    _minus(_application_years, "new_rows", "old_rows"),
    _minus(_application_years, "old_rows", "new_rows"),
)
APPLICATIONS_SUMMARISE_DELETE = _years_function(
    "loan_applications_summarise_delete", None, _application_years("old_rows")
)
# every borrower year with an application, recomputed at commit (from no applications)
APPLICATIONS_SUMMARISE_TRUNCATE = PGFunction(
    schema=S,
    signature="loan_applications_summarise_truncate()",
    definition="""RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        PERFORM finance.loans_summary_prepare();
        INSERT INTO pg_temp.fin_pending_years (b, y, recompute)
        SELECT DISTINCT borrower_credit_code, year, true FROM finance.loan_borrower_years
        WHERE applied_sm OR applied_other;
        RETURN NULL;
    END
    $fn$""",
)

# The summaries recomputed from the ledgers, as statements of one transaction (a migration that
# reshapes them runs these, and the benchmark after seeding with the triggers off): emptied, then
# every loan's month totals, every inclusive borrower and every borrower year of a first loan or
# an application recorded as pending and applied at once by the apply trigger (its own rules, not
# a copy).
REBUILD = [
    "DELETE FROM finance.loan_month_totals",
    "DELETE FROM finance.loan_inclusive_islands",
    "DELETE FROM finance.loan_inclusive_borrower_months",
    "DELETE FROM finance.loan_borrower_years",
    "DELETE FROM finance.loan_borrower_year_counts",
    "DELETE FROM finance.loan_summary_borrowers",
    "SELECT finance.loans_summary_prepare()",
    f"""INSERT INTO pg_temp.fin_pending_totals ({_PENDING_TOTALS_COLS})
        SELECT month, borrower_region, lender, product, sum(n_all), sum(a_all), sum(n_sm), sum(a_sm),
               sum(n_inc), sum(a_inc), sum(rate_w), sum(bal_delta), sum(inc_delta), sum(sm_delta)
        FROM ({_totals_rows("1", "finance.loans")}) x
        GROUP BY month, borrower_region, lender, product""",
    f"""INSERT INTO pg_temp.fin_pending_ranges (b, lender, recompute)
        SELECT DISTINCT b, lender, true FROM ({_range("l", "finance.loans l")}) r""",
    f"""INSERT INTO pg_temp.fin_pending_years (b, y, recompute)
        SELECT b, y, true FROM ({_loan_years("l", "finance.loans l")}) r
        UNION SELECT b, y, true FROM ({_application_years("l", "finance.loan_applications l")}) a""",
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
_EVENTS = (
    ("INSERT", "REFERENCING NEW TABLE AS new_rows "),
    ("UPDATE", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "),
    ("DELETE", "REFERENCING OLD TABLE AS old_rows "),
    ("TRUNCATE", ""),
)


def _triggers(table: str) -> list[PGTrigger]:
    return [
        PGTrigger(
            schema=S,
            signature=f"{table}_summarise_{event.lower()}",
            on_entity=f"{S}.{table}",
            definition=f"AFTER {event} ON {S}.{table} {ref}FOR EACH STATEMENT "
            f"EXECUTE FUNCTION {S}.{table}_summarise_{event.lower()}()",
        )
        for event, ref in _EVENTS
    ]


LOAN_TRIGGERS = _triggers("loans")
APPLICATION_TRIGGERS = _triggers("loan_applications")

FUNCTIONS = [
    SUMMARY_PREPARE,
    SUMMARY_APPLY,
    SUMMARISE_INSERT,
    SUMMARISE_UPDATE,
    SUMMARISE_DELETE,
    SUMMARISE_TRUNCATE,
]
APPLICATION_FUNCTIONS = [
    APPLICATIONS_SUMMARISE_INSERT,
    APPLICATIONS_SUMMARISE_UPDATE,
    APPLICATIONS_SUMMARISE_DELETE,
    APPLICATIONS_SUMMARISE_TRUNCATE,
]
ENTITIES = [*FUNCTIONS, *APPLICATION_FUNCTIONS, APPLY_TRIGGER, *LOAN_TRIGGERS, *APPLICATION_TRIGGERS]

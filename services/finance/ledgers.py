"""The ledgers: the four tables of institution-posted records, range-partitioned by month.

Each ledger (`finance.loans`, `credit_lines`, `loan_applications`, `guarantees`) is partitioned
by the date that starts the record's life — a loan's issue date, a line's grant date, an
application's date, a guarantee's start — one partition per month (`<table>_pYYYYMM`) and a
DEFAULT partition (`<table>_default`) that takes any other date, so no write ever fails for want of
a partition. `finance.ledger_partitions(first, last)` creates the months from `first` to `last`
and every month up to `last` whose rows the DEFAULT partition holds (moving them), idempotently;
the periodic job `finance:ledger_partitions` calls it (services/finance/partitions.py).

Every unique key of a ledger carries the borrower's credit code and the partition date:
(borrower_credit_code, date, id) and (owner, ref, borrower_credit_code, date) — the batch
upsert's conflict target. A record's natural key (owner, ref) stays unique across partitions
through its key table `<table>_keys` (owner, ref) → (borrower_credit_code, date), kept by the
ledger's statement triggers for every writer. A re-post may change a record's borrower or date:
the upsert finds it in the key table and moves the row (services/finance/bulk.py).
docs/finance.md, "The ledger's partitions", gives the reasons.
"""

from __future__ import annotations

from dataclasses import dataclass

from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_trigger import PGTrigger
from sqlalchemy import Column, Date, PrimaryKeyConstraint, String, Table, Text

from services.common.models import metadata

S = "finance"


@dataclass(frozen=True)
class Ledger:
    table: str
    owner_col: str  # lender | guarantor
    ref_col: str
    dated_col: str  # the partition key

    @property
    def keys(self) -> str:
        return f"{self.table}_keys"

    @property
    def default(self) -> str:
        return f"{self.table}_default"


LOANS = Ledger("loans", "lender", "loan_ref", "issued_on")
LINES = Ledger("credit_lines", "lender", "line_ref", "granted_on")
APPLICATIONS = Ledger("loan_applications", "lender", "application_ref", "applied_on")
GUARANTEES = Ledger("guarantees", "guarantor", "guarantee_ref", "starts_on")
LEDGERS = (LOANS, LINES, APPLICATIONS, GUARANTEES)


def partition_of(ledger: Ledger, table_name: str) -> bool:
    """A ledger's partition (a table the migrations' function creates, not a model)."""
    rest = table_name.removeprefix(ledger.table + "_")
    return rest != table_name and (rest == "default" or (rest[:1] == "p" and rest[1:].isdigit()))


def is_partition(table_name: str) -> bool:
    return any(partition_of(ledger, table_name) for ledger in LEDGERS)


def _key_table(ledger: Ledger) -> Table:
    return Table(
        ledger.keys,
        metadata,
        Column(ledger.owner_col, Text, nullable=False),
        Column(ledger.ref_col, Text, nullable=False),
        Column("borrower_credit_code", String(18), nullable=False),
        Column(ledger.dated_col, Date, nullable=False),
        PrimaryKeyConstraint(ledger.owner_col, ledger.ref_col),
        schema=S,
    )


KEY_TABLES = [_key_table(ledger) for ledger in LEDGERS]


def table_args(ledger: Ledger) -> dict:
    """The partitioning clause of a ledger's model."""
    return {"schema": S, "postgresql_partition_by": f"RANGE ({ledger.dated_col})"}


def _planned_each_time(sql: str) -> str:
    """PL/pgSQL keeps a statement's first plan for the session, made for the transition tables'
    sizes of that first call: a nested loop fit for one row, then run over thousands (a
    reclassification's 5,000 updated loans joined old to new row by row took 15 s, past the
    statement timeout: HTTP 500s). A dynamic statement is planned for each call's own row counts."""
    return f"EXECUTE $sql${sql.rstrip(';')}$sql$;"


def _key_functions(ledger: Ledger) -> list[PGFunction]:
    t, keys, o, r, d = (
        f"{S}.{ledger.table}",
        f"{S}.{ledger.keys}",
        ledger.owner_col,
        ledger.ref_col,
        ledger.dated_col,
    )
    bodies = {
        # a second record of the same (owner, ref) in any partition: a unique violation here
        "insert": f"INSERT INTO {keys} ({o}, {r}, borrower_credit_code, {d}) "
        f"SELECT {o}, {r}, borrower_credit_code, {d} FROM new_rows;",
        # the rows whose key changed, found first by joining the transition tables on id: most
        # updates (a re-post, a reclassification of thousands of loans) change none, and the key
        # table is then never touched
        "update": f"""WITH moved AS MATERIALIZED (
                SELECT o.{o} AS was_{o}, o.{r} AS was_{r}, n.{o}, n.{r}, n.borrower_credit_code, n.{d}
                  FROM old_rows o JOIN new_rows n ON n.id = o.id
                 WHERE (o.{o}, o.{r}, o.borrower_credit_code, o.{d})
                       IS DISTINCT FROM (n.{o}, n.{r}, n.borrower_credit_code, n.{d}))
            UPDATE {keys} k SET {o} = m.{o}, {r} = m.{r}, borrower_credit_code = m.borrower_credit_code,
                   {d} = m.{d}
              FROM moved m
             WHERE k.{o} = m.was_{o} AND k.{r} = m.was_{r};""",
        "delete": f"DELETE FROM {keys} k USING old_rows o WHERE k.{o} = o.{o} AND k.{r} = o.{r};",
        "truncate": f"DELETE FROM {keys};",
    }
    del t
    return [
        PGFunction(
            schema=S,
            signature=f"{ledger.table}_keys_{event}()",
            definition=f"""RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        {_planned_each_time(body) if event in ("update", "delete") else body}
        RETURN NULL;
    END
    $fn$""",
        )
        for event, body in bodies.items()
    ]


def _key_triggers(ledger: Ledger) -> list[PGTrigger]:
    t = f"{S}.{ledger.table}"
    return [
        PGTrigger(
            schema=S,
            signature=f"{ledger.table}_keys_{event.lower()}",
            on_entity=t,
            definition=f"AFTER {event} ON {t} {ref}FOR EACH STATEMENT "
            f"EXECUTE FUNCTION {S}.{ledger.table}_keys_{event.lower()}()",
        )
        for event, ref in (
            ("INSERT", "REFERENCING NEW TABLE AS new_rows "),
            ("UPDATE", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "),
            ("DELETE", "REFERENCING OLD TABLE AS old_rows "),
            ("TRUNCATE", ""),
        )
    ]


KEY_FUNCTIONS = [f for ledger in LEDGERS for f in _key_functions(ledger)]
KEY_TRIGGERS = [t for ledger in LEDGERS for t in _key_triggers(ledger)]

_VALUES = ", ".join(f"('{x.table}', '{x.dated_col}')" for x in LEDGERS)

# Creates the month partitions of every ledger from `first` to `last` (months), and the month of
# every row the DEFAULT partition holds up to `last`: those rows move into their month (straight
# between the partitions: not a change of the records, so no trigger fires, no change is logged and
# the summaries stay as they are). Idempotent; the number of partitions created. SECURITY DEFINER:
# the worker (eaglet_worker) runs it and may create nothing itself.
PARTITIONS_FUNCTION = PGFunction(
    schema=S,
    signature="ledger_partitions(first_month date, last_month date)",
    definition=f"""RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $fn$
    DECLARE
        l record;
        m date;
        part text;
        created integer := 0;
        upto date := (date_trunc('month', last_month) + interval '1 month')::date;
    BEGIN
        FOR l IN SELECT * FROM (VALUES {_VALUES}) v(t, d) LOOP
            FOR m IN EXECUTE format(
                'SELECT g::date FROM generate_series(date_trunc(''month'', $1::date), $2::date - 1, '
                '''1 month'') g UNION SELECT date_trunc(''month'', %I)::date FROM {S}.%I WHERE %I < $2 '
                'ORDER BY 1', l.d, l.t || '_default', l.d) USING first_month, upto
            LOOP
                part := l.t || '_p' || to_char(m, 'YYYYMM');
                CONTINUE WHEN to_regclass('{S}.' || part) IS NOT NULL;
                EXECUTE format(
                    'CREATE TEMP TABLE _ledger_moved ON COMMIT DROP AS WITH d AS ('
                    'DELETE FROM {S}.%I WHERE %I >= %L AND %I < %L RETURNING *) SELECT * FROM d',
                    l.t || '_default', l.d, m, l.d, (m + interval '1 month')::date);
                EXECUTE format('CREATE TABLE {S}.%I PARTITION OF {S}.%I FOR VALUES FROM (%L) TO (%L)',
                               part, l.t, m, (m + interval '1 month')::date);
                EXECUTE format('INSERT INTO {S}.%I SELECT * FROM _ledger_moved', part);
                DROP TABLE _ledger_moved;
                created := created + 1;
            END LOOP;
        END LOOP;
        RETURN created;
    END
    $fn$""",
)

ENTITIES = [*KEY_FUNCTIONS, *KEY_TRIGGERS, PARTITIONS_FUNCTION]

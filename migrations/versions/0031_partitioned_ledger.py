"""The ledgers range-partitioned by month, every unique key carrying the borrower's credit code.

`finance.loans`, `credit_lines`, `loan_applications` and `guarantees` become partitioned tables
(PARTITION BY RANGE on the date that starts a record's life: issued_on, granted_on, applied_on,
starts_on — the date every statistic groups by and that only grows), with one partition per month
and a DEFAULT partition, so a date without its month never fails a write. `finance.ledger_partitions`
(SECURITY DEFINER: the worker runs it) creates months ahead and splits the DEFAULT partition.

On a partitioned table every unique index includes the partition key, so the natural key
(owner, ref) can no longer be one: each ledger's keys are (borrower_credit_code, date, id) and
(owner, ref, borrower_credit_code, date) — the batch upsert's conflict target, and what a move to
Citus distributed by credit code would keep. A re-post may change a record's borrower or date
(the pipeline allows it): the key table `<ledger>_keys` (owner, ref) → (borrower_credit_code, date),
kept by the ledger's statement triggers for every writer, keeps (owner, ref) unique across the
partitions and tells the upsert which rows move. docs/finance.md, "The ledger's partitions".

Conversion, per ledger: the old table renamed and stripped of its keys and indexes, the
partitioned table created LIKE it (columns, defaults, identity, checks), its keys, indexes (the old
definitions) and partitions (the months of its rows up to three months ahead), the rows copied,
the key table filled, the identity continued, the privileges the old table had granted again, the
old table dropped; then the key triggers and the loan summaries' statement triggers on the
partitioned parents. The summary triggers only name their functions (services/finance/stats/db.py),
which 0029_lender_summaries replaced by the lender- and borrower-keyed ones; this migration
changes no function of theirs. The rows are copied before any trigger is attached, so the
summaries (and the change log) stay as they were. The downgrade is the same in reverse.

Revision ID: 0031_partitioned_ledger
Revises: 0030_submission_kinds
"""

from alembic import op
from sqlalchemy import text

from migrations.frozen import finance_summaries_0029 as stats_db  # the loan triggers as 0029 declared them
from services.finance import ledgers

revision = "0031_partitioned_ledger"
down_revision = "0030_submission_kinds"
branch_labels = None
depends_on = None

S = "finance"
AHEAD_MONTHS = 3


def _rows(sql: str, **params):
    return op.get_bind().execute(text(sql), params).all()


def _indexes(table: str) -> list[tuple[str, str]]:
    """(name, definition) of the table's indexes that back no constraint."""
    return [
        (r[0], r[1])
        for r in _rows(
            "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = to_regclass(:t) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY 1",
            t=f"{S}.{table}",
        )
    ]


def _grants(table: str) -> list[tuple[str, str]]:
    return [
        (r[0], r[1])
        for r in _rows(
            "SELECT grantee, privilege_type FROM information_schema.role_table_grants "
            "WHERE table_schema = :s AND table_name = :t AND grantee <> current_user "
            "AND grantee NOT IN (SELECT tableowner FROM pg_tables WHERE schemaname = :s AND tablename = :t)",
            s=S,
            t=table,
        )
    ]


def _regrant(table: str, grants: list[tuple[str, str]]) -> None:
    for grantee, privilege in grants:
        op.execute(f'GRANT {privilege} ON {S}.{table} TO "{grantee}"')


def _rebuild(ledger: ledgers.Ledger, *, partitioned: bool) -> tuple[list, list]:
    """Rename the ledger aside, drop its keys and indexes, create its new form; return the
    aside table's index definitions and grants."""
    t, o, r, d = ledger.table, ledger.owner_col, ledger.ref_col, ledger.dated_col
    indexes, grants = _indexes(t), _grants(t)
    op.execute(f"ALTER TABLE {S}.{t} RENAME TO {t}_aside")
    for name, _ in indexes:
        op.execute(f"DROP INDEX {S}.{name}")
    for c in ("pk", "uq"):
        for (name,) in _rows(
            "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(:t) AND contype IN ('p', 'u') "
            "AND left(conname, 2) = :c",
            t=f"{S}.{t}_aside",
            c=c,
        ):
            op.execute(f"ALTER TABLE {S}.{t}_aside DROP CONSTRAINT {name}")
    like = (
        f"CREATE TABLE {S}.{t} (LIKE {S}.{t}_aside INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING IDENTITY INCLUDING STORAGE)"
    )
    if partitioned:
        op.execute(f"{like} PARTITION BY RANGE ({d})")
        op.execute(f"ALTER TABLE {S}.{t} ADD CONSTRAINT pk_{t} PRIMARY KEY (borrower_credit_code, {d}, id)")
        op.execute(
            f"ALTER TABLE {S}.{t} ADD CONSTRAINT uq_{t}_natural_key UNIQUE ({o}, {r}, borrower_credit_code, {d})"
        )
        op.execute(f"CREATE TABLE {S}.{ledger.default} PARTITION OF {S}.{t} DEFAULT")
        op.execute(
            f"CREATE TABLE {S}.{ledger.keys} ({o} text NOT NULL, {r} text NOT NULL, "
            f"borrower_credit_code varchar(18) NOT NULL, {d} date NOT NULL, "
            f"CONSTRAINT pk_{ledger.keys} PRIMARY KEY ({o}, {r}))"
        )
    else:
        op.execute(like)
        op.execute(f"ALTER TABLE {S}.{t} ADD CONSTRAINT pk_{t} PRIMARY KEY (id)")
        op.execute(f"ALTER TABLE {S}.{t} ADD CONSTRAINT uq_{t}_{o}_{r} UNIQUE ({o}, {r})")
    for _, definition in indexes:
        op.execute(definition.replace(" ON ONLY ", " ON "))
    return indexes, grants


def _fill(ledger: ledgers.Ledger, grants) -> None:
    t = ledger.table
    op.execute(f"INSERT INTO {S}.{t} SELECT * FROM {S}.{t}_aside")
    op.execute(
        f"SELECT setval(pg_get_serial_sequence('{S}.{t}', 'id'), "
        f"COALESCE((SELECT max(id) FROM {S}.{t}), 0) + 1, false)"
    )
    op.execute(f"DROP TABLE {S}.{t}_aside")
    (seq,) = _rows("SELECT pg_get_serial_sequence(:t, 'id')", t=f"{S}.{t}")[0]
    if seq != f"{S}.{t}_id_seq":
        op.execute(f"ALTER SEQUENCE {seq} RENAME TO {t}_id_seq")
    _regrant(t, grants)
    for grantee in {g for g, _ in grants}:  # the identity's new sequence, to whoever had the ledger
        op.execute(f'GRANT USAGE ON SEQUENCE {S}.{t}_id_seq TO "{grantee}"')


def upgrade() -> None:
    rebuilt = {ledger.table: _rebuild(ledger, partitioned=True) for ledger in ledgers.LEDGERS}
    op.create_entity(ledgers.PARTITIONS_FUNCTION)
    first = " UNION ALL ".join(f"SELECT min({x.dated_col}) FROM {S}.{x.table}_aside" for x in ledgers.LEDGERS)
    op.execute(
        f"SELECT {S}.ledger_partitions("
        f"LEAST(({first} ORDER BY 1 LIMIT 1), current_date), "
        f"(current_date + interval '{AHEAD_MONTHS} months')::date)"
    )
    for ledger in ledgers.LEDGERS:
        _, grants = rebuilt[ledger.table]
        o, r, d = ledger.owner_col, ledger.ref_col, ledger.dated_col
        op.execute(
            f"INSERT INTO {S}.{ledger.keys} SELECT {o}, {r}, borrower_credit_code, {d} FROM {S}.{ledger.table}_aside"
        )
        _fill(ledger, grants)
        # whoever writes the ledger writes its keys (the triggers run with the writer's rights)
        for grantee in {g for g, p in grants if p in ("INSERT", "UPDATE", "DELETE")}:
            op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {S}.{ledger.keys} TO "{grantee}"')
        for grantee in {g for g, p in grants if p == "SELECT"}:
            op.execute(f'GRANT SELECT ON {S}.{ledger.keys} TO "{grantee}"')
    for entity in (*ledgers.KEY_FUNCTIONS, *ledgers.KEY_TRIGGERS, *stats_db.LOAN_TRIGGERS):
        op.create_entity(entity)
    for grantee in {g for g, _ in rebuilt["loans"][1]}:
        op.execute(f'GRANT EXECUTE ON FUNCTION {S}.ledger_partitions(date, date) TO "{grantee}"')


def downgrade() -> None:
    for ledger in ledgers.LEDGERS:
        _, grants = _rebuild(ledger, partitioned=False)
        _fill(ledger, grants)
        op.execute(f"DROP TABLE {S}.{ledger.keys}")
    for entity in reversed(ledgers.KEY_FUNCTIONS):
        op.drop_entity(entity)
    op.drop_entity(ledgers.PARTITIONS_FUNCTION)
    for trigger in stats_db.LOAN_TRIGGERS:
        op.create_entity(trigger)

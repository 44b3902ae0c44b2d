"""Set-based batch upserts: COPY the valid records into a temporary staging table inside the
request's transaction, then one ``INSERT … ON CONFLICT <natural key> DO UPDATE … WHERE <differs>``
whose CTE also appends the change log (created/updated rows only) in the same statement. On a
partitioned ledger the natural key carries the borrower and the partition date, and a record the
key table stores under another borrower or date is moved by an UPDATE in the same statement
(services/finance/ledgers.py).

The change log's ``before`` is the row version the upsert itself replaced, taken from
``RETURNING old.*`` (PostgreSQL 18), never from a read of the table: a read sees the statement's
snapshot, while the upsert waits for a concurrent writer of the same row and then updates that
writer's version (or the row a concurrent batch has just created). So each logged update names the
value it really replaced, and each record's changes chain in commit order. Doing the same on an
older server takes an insert, a locking read of the rest in key order and an update — three
statements instead of one; the project requires PostgreSQL ≥ 18 instead (the migrations check).

Rows are inserted in key order so concurrent batches touching the same refs lock in the same
order (no deadlock); the unique constraint makes a concurrent duplicate an update, never a row
(on a ledger, the key table refuses a second row of a ref in any partition).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.context import request_id_var
from services.common.db import raw_connection
from services.finance.ledgers import LEDGERS, Ledger


@dataclass
class UpsertSpec:
    table: str  # in schema finance
    owner_col: str  # lender | guarantor
    key_col: str  # loan_ref | line_ref | …
    columns: Sequence[str]  # reported columns, as staged
    entity_type: str
    # derived columns: name → SQL expression over the staging row `s` and the joins
    derived: dict[str, str] = field(default_factory=dict)
    joins: str = ""


# the change log of the rows `up` created or updated, in the upsert's statement
_LOG = """ch AS (
        INSERT INTO finance.changes
            (actor_subject, actor_kind, actor_org, action, entity_type, entity_key, before, after, request_id)
        SELECT $3, $4, $5, CASE WHEN _inserted THEN 'created' ELSE 'updated' END, '{entity_type}',
               $1 || '/' || k, before, after, $6
        FROM up
    )"""


def ledger_of(spec: UpsertSpec) -> Ledger | None:
    return next((x for x in LEDGERS if x.table == spec.table), None)


def stage_of(table: str) -> str:
    """The staging table of `table`'s upsert (a spec's joins may read the whole batch from it)."""
    return f"_stage_{table}"


async def upsert_in(
    session: AsyncSession,
    spec: UpsertSpec,
    owner: str,
    rows: list[tuple[Any, ...]],
    principal: Principal,
    rule_set_version: str,
) -> dict[str, str]:
    """`upsert` inside the request's unit of work."""
    return await upsert(await raw_connection(session), spec, owner, rows, principal, rule_set_version)


async def upsert(
    conn: asyncpg.Connection,
    spec: UpsertSpec,
    owner: str,
    rows: list[tuple[Any, ...]],
    principal: Principal,
    rule_set_version: str,
) -> dict[str, str]:
    """Upsert `rows` (tuples in `spec.columns` order) for `owner`; return {ref: created|updated}.

    Refs not in the result were unchanged (stored with equal values: no write, no change row)."""
    if not rows:
        return {}
    if not conn.is_in_transaction():  # a bare connection (seeds, tools): one transaction of its own
        async with conn.transaction():
            return await upsert(conn, spec, owner, rows, principal, rule_set_version)
    stage = stage_of(spec.table)
    cols = list(spec.columns)
    await conn.execute(
        f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS "
        f"SELECT {', '.join(cols)} FROM finance.{spec.table} WITH NO DATA"
    )
    await conn.copy_records_to_table(stage, records=rows, columns=cols)
    compared = [c for c in cols if c != spec.key_col] + list(spec.derived)
    insert_cols = [spec.owner_col, *cols, *spec.derived, "rule_set_version"]
    select = ["$1::text", *[f"s.{c}" for c in cols], *spec.derived.values(), "$2::text"]
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in compared)
    t_cmp = ", ".join(f"t.{c}" for c in compared)
    e_cmp = ", ".join(f"EXCLUDED.{c}" for c in compared)
    ledger = ledger_of(spec)
    if ledger is None:  # an unpartitioned table (loan-book reports): its natural key is unique
        sql = f"""
    WITH up AS (
        INSERT INTO finance.{spec.table} AS t ({", ".join(insert_cols)})
        SELECT {", ".join(select)} FROM {stage} s {spec.joins}
        ORDER BY s.{spec.key_col}
        ON CONFLICT ({spec.owner_col}, {spec.key_col}) DO UPDATE
           SET {sets}, rule_set_version = EXCLUDED.rule_set_version, updated_at = now()
         WHERE ({t_cmp}) IS DISTINCT FROM ({e_cmp})
        RETURNING new.{spec.key_col} AS k, (old.{spec.key_col} IS NULL) AS _inserted,
                  to_jsonb(old) AS before, to_jsonb(new) AS after
    ),
    {_LOG.format(entity_type=spec.entity_type)}
    SELECT k, _inserted FROM up
    """
    else:
        sql = _ledger_sql(spec, ledger, stage, insert_cols, select, compared, sets, t_cmp, e_cmp)
    result = await conn.fetch(
        sql,
        owner,
        rule_set_version,
        principal.sub,
        principal.kind,
        principal.org,
        request_id_var.get(),
    )
    await conn.execute(f"DROP TABLE {stage}")
    return {r["k"]: ("created" if r["_inserted"] else "updated") for r in result}


def _ledger_sql(spec, ledger, stage, insert_cols, select, compared, sets, t_cmp, e_cmp) -> str:
    """The upsert into a partitioned ledger (services/finance/ledgers.py): its conflict target
    carries the borrower and the partition date, so a record stored under another borrower or date
    (its key table says so) is moved by an UPDATE; every other record goes through the upsert."""
    o, k, d = spec.owner_col, spec.key_col, ledger.dated_col
    src_cols = ", ".join(f"{e} AS {c}" for e, c in zip(select, insert_cols, strict=True))
    moves = ", ".join(f"{c} = src.{c}" for c in compared)
    # `old` is NULL for a row this statement inserted, else the version it locked and replaced.
    # The leading comment names the statement where pg_stat_activity shows only its first 1 KiB.
    return f"""/* INSERT INTO finance.{spec.table} … ON CONFLICT: the batch upsert */
    WITH src AS MATERIALIZED (
        SELECT {src_cols} FROM {stage} s {spec.joins}
    ),
    moved AS (
        SELECT s.{k} AS k FROM {stage} s JOIN finance.{ledger.keys} x ON x.{o} = $1 AND x.{k} = s.{k}
        WHERE (x.borrower_credit_code, x.{d}) IS DISTINCT FROM (s.borrower_credit_code, s.{d})
    ),
    mv AS (
        UPDATE finance.{spec.table} AS t
           SET {moves}, rule_set_version = src.rule_set_version, updated_at = now()
          FROM src
         WHERE t.{o} = $1 AND t.{k} = src.{k} AND src.{k} IN (SELECT k FROM moved)
        RETURNING new.{k} AS k, false AS _inserted, to_jsonb(old) AS before, to_jsonb(new) AS after
    ),
    ins AS (
        INSERT INTO finance.{spec.table} AS t ({", ".join(insert_cols)})
        SELECT {", ".join(insert_cols)} FROM src WHERE src.{k} NOT IN (SELECT k FROM moved)
        ORDER BY src.{k}
        ON CONFLICT ({o}, {k}, borrower_credit_code, {d}) DO UPDATE
           SET {sets}, rule_set_version = EXCLUDED.rule_set_version, updated_at = now()
         WHERE ({t_cmp}) IS DISTINCT FROM ({e_cmp})
        RETURNING new.{k} AS k, (old.{k} IS NULL) AS _inserted,
                  to_jsonb(old) AS before, to_jsonb(new) AS after
    ),
    up AS (SELECT * FROM ins UNION ALL SELECT * FROM mv),
    {_LOG.format(entity_type=spec.entity_type)}
    SELECT k, _inserted FROM up
    """


async def stored(
    conn: asyncpg.Connection, spec: UpsertSpec, keys: Sequence[tuple[str, str]], columns: Sequence[str]
) -> dict[tuple[str, str], asyncpg.Record]:
    """The stored `columns` of the records with these natural keys (owner, key), by key; a key
    with no record is absent. One statement on the (owner, key) unique index."""
    if not keys:
        return {}
    owners, refs = [list(c) for c in zip(*keys, strict=True)]
    cols = ", ".join(f"t.{c}" for c in columns)
    rows = await conn.fetch(
        f"SELECT t.{spec.owner_col} AS _owner, t.{spec.key_col} AS _key, {cols} "
        f"FROM unnest($1::text[], $2::text[]) AS k(owner, key) "
        f"JOIN finance.{spec.table} t ON t.{spec.owner_col} = k.owner AND t.{spec.key_col} = k.key",
        owners,
        refs,
    )
    return {(r["_owner"], r["_key"]): r for r in rows}

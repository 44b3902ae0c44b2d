"""The change-log writer: every write appends here, in the same transaction as the write itself."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.context import request_id_var
from services.common.models import CHANGES, SCHEMAS


@dataclass(frozen=True)
class Change:
    action: str  # created | updated | deleted | revoked | admitted | …
    entity_type: str
    entity_key: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    return json.loads(json.dumps(value, default=_default, ensure_ascii=False))


def _default(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, UUID):
        return str(v)
    if isinstance(v, set | frozenset | tuple):
        return list(v)
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def _rows(actor: Principal, changes: list[Change], request_id: str | None) -> list[dict[str, Any]]:
    return [
        {
            "actor_subject": actor.sub,
            "actor_kind": actor.kind,
            "actor_org": actor.org,
            "action": c.action,
            "entity_type": c.entity_type,
            "entity_key": c.entity_key,
            "before": _jsonable(c.before),
            "after": _jsonable(c.after),
            "request_id": request_id,
        }
        for c in changes
    ]


async def record_changes(session: AsyncSession, schema: str, actor: Principal, changes: list[Change]) -> None:
    """Append changes as one multi-row insert (batches write thousands at once)."""
    if not changes:
        return
    await session.execute(insert(CHANGES[schema]), _rows(actor, changes, request_id_var.get()))


CHANGE_COLUMNS = (
    "actor_subject", "actor_kind", "actor_org", "action", "entity_type", "entity_key", "before",
    "after", "request_id",
)  # fmt: skip
JSON_COLUMNS = ("before", "after")


async def record_changes_on(
    conn: asyncpg.Connection,
    schema: str,
    actor: Principal,
    changes: list[Change],
    request_id: str | None,
) -> None:
    """`record_changes` on a plain asyncpg connection, in its transaction (work that runs outside
    a request's unit of work: a background screening; the request id is the one that started it)."""
    values = ", ".join(
        f"${i}::jsonb" if c in JSON_COLUMNS else f"${i}" for i, c in enumerate(CHANGE_COLUMNS, start=1)
    )
    await conn.executemany(
        f"INSERT INTO {schema}.changes ({', '.join(CHANGE_COLUMNS)}) VALUES ({values})",
        [
            [
                json.dumps(r[c], ensure_ascii=False) if c in JSON_COLUMNS and r[c] is not None else r[c]
                for c in CHANGE_COLUMNS
            ]
            for r in _rows(actor, changes, request_id)
        ],
    )


async def record_change(session: AsyncSession, schema: str, actor: Principal, change: Change) -> None:
    await record_changes(session, schema, actor, [change])


# The feed's rule, in its one home. A row's `seq` is handed out when it is inserted, before its
# transaction commits, so `seq > last` skips a row whose transaction commits after a later one was
# read. The feed orders by (xid, seq) instead and serves a row only when its transaction id is
# below the snapshot's xmin: every transaction below xmin has ended (its rows are visible, or never
# will be), and every transaction still to commit has an xid at or above it. So nothing can later
# appear at or before a cursor the feed handed out, and the cursor resumes exactly.
_AFTER = """
SELECT {columns}
FROM {schema}.changes
WHERE xid < pg_snapshot_xmin(pg_current_snapshot())
  AND (xid, seq) > ($1::xid8, $2::bigint)
ORDER BY xid, seq
LIMIT $3
"""


# Every column but the two JSON documents, which are most of a row's bytes.
HEAD_COLUMNS = (
    "seq, xid, occurred_at, actor_subject, actor_kind, actor_org, action, entity_type, entity_key, request_id"
)


async def changes_after(
    conn: asyncpg.Connection,
    schema: str,
    after: tuple[int, int] | None,
    limit: int,
    *,
    documents: bool = True,
) -> list[asyncpg.Record]:
    """The committed changes of `schema` after the cursor `after` = (xid, seq) of the last row
    read (None: from the start), in commit-safe order, at most `limit`; the last row's
    `(r["xid"], r["seq"])` is the next cursor. `documents=False`: without `before` and `after`
    (`change_documents` reads them for the rows that turn out to be wanted)."""
    if schema not in SCHEMAS:
        raise ValueError(f"unknown schema: {schema!r}")
    xid, seq = after if after is not None else (0, 0)  # below every transaction id and identity
    columns = "*" if documents else HEAD_COLUMNS
    return await conn.fetch(_AFTER.format(schema=schema, columns=columns), xid, seq, limit)


async def change_documents(
    conn: asyncpg.Connection, schema: str, seqs: list[int]
) -> dict[int, tuple[str | None, str | None]]:
    """The `before` and `after` documents (JSON text) of these change rows, by seq."""
    if schema not in SCHEMAS:
        raise ValueError(f"unknown schema: {schema!r}")
    if not seqs:
        return {}
    rows = await conn.fetch(
        f"SELECT seq, before::text, after::text FROM {schema}.changes WHERE seq = ANY($1::bigint[])", seqs
    )
    return {r[0]: (r[1], r[2]) for r in rows}


# Where a reader without a cursor starts: just before the first row written at or after `since`
# (the index on occurred_at finds it), counting only rows below the snapshot's xmin — a row of a
# transaction still running sorts after that position whenever it commits. When no such row
# exists, the position after the last row below xmin. One statement, so both answers come from
# one snapshot. Rows are in (xid, seq) order and times are their transactions' start times, so
# the start is exact up to the transactions running across `since` itself.
# Where a feed without a cursor starts: just before the smallest (xid, seq) of the rows written
# since a time. Not the first row by time: `occurred_at` is its transaction's start, and a
# transaction that started earlier may take its xid later, so the first row by time can come
# after rows of the same window in commit-safe order, and starting there would skip them. The
# window's rows are read from the index on (occurred_at, xid, seq) (index-only: no heap for the
# audit rows before it); the cost grows with the window, not with the whole log.
_START = """
WITH snap AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
first AS (
    SELECT w.xid, w.seq - 1 AS seq
    FROM (SELECT c.xid, c.seq FROM {schema}.changes c, snap
          WHERE c.occurred_at >= $1 AND c.xid < snap.xmin OFFSET 0) w
    ORDER BY w.xid, w.seq
    LIMIT 1
),
last AS (
    SELECT c.xid, c.seq FROM {schema}.changes c, snap
    WHERE c.xid < snap.xmin
    ORDER BY c.xid DESC, c.seq DESC
    LIMIT 1
)
SELECT first.xid AS first_xid, first.seq AS first_seq, last.xid AS last_xid, last.seq AS last_seq
FROM (SELECT) one LEFT JOIN first ON true LEFT JOIN last ON true
"""


async def changes_start(conn: asyncpg.Connection, schema: str, since: datetime) -> tuple[int, int]:
    """The `changes_after` cursor from which the rows written since `since` are read."""
    if schema not in SCHEMAS:
        raise ValueError(f"unknown schema: {schema!r}")
    row = await conn.fetchrow(_START.format(schema=schema), since)
    if row["first_xid"] is not None:
        return row["first_xid"], row["first_seq"]
    if row["last_xid"] is not None:
        return row["last_xid"], row["last_seq"]
    return 0, 0

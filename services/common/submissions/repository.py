"""All SQL of file submissions, for the schema given; a submission is its owner's (kinds.py
`owner_of`: scoping here, nowhere else). `schema` is always a service's own name, never input."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
from sqlalchemy import Select, select

from services.common.auth import Principal
from services.common.submissions.events import record_end
from services.common.submissions.kinds import SubmissionService, owner_of


def owned(service: SubmissionService, principal: Principal) -> Any:
    """A caller reads its own submissions (its institution's, or its own); admin all."""
    s = service.submission
    if principal.is_admin:
        return True
    return (s.owner_kind == principal.kind) & (s.owner == owner_of(principal))


def visible(service: SubmissionService, principal: Principal, submission_id: int) -> Select:
    s = service.submission
    return select(s).where(s.id == submission_id, owned(service, principal))


def findings(service: SubmissionService, submission_id: int, rule: str | None) -> Select:
    f = service.finding
    stmt = select(f).where(f.submission_id == submission_id)
    return stmt.where(f.rule == rule) if rule else stmt


async def add(
    conn: asyncpg.Connection, schema: str, principal: Principal, values: dict[str, Any]
) -> int | None:
    """The new submission's id; None when its owner has one with this Idempotency-Key already
    (a concurrent one with the same key is waited for)."""
    return await conn.fetchval(
        f"INSERT INTO {schema}.submissions (kind, validate_only, owner_kind, owner_sub, owner_org, "
        "owner_region, owner, request_id, sha256, size, file, rule_set_version, chunk_rows, idempotency_key, "
        "format) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) "
        "ON CONFLICT (owner_kind, owner, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING "
        "RETURNING id",
        values["kind"],
        values["validate_only"],
        principal.kind,
        principal.sub,
        principal.org,
        principal.region,
        owner_of(principal),
        values["request_id"],
        values["sha256"],
        values["size"],
        values["file"],
        values["rule_set_version"],
        values["chunk_rows"],
        values["idempotency_key"],
        values["format"],
    )


async def by_key(
    conn: asyncpg.Connection, schema: str, principal: Principal, key: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT id, kind, validate_only, sha256 FROM {schema}.submissions "
        "WHERE owner_kind = $1 AND owner = $2 AND idempotency_key = $3",
        principal.kind,
        owner_of(principal),
        key,
    )


async def name_file(conn: asyncpg.Connection, schema: str, submission_id: int, file: str) -> None:
    await conn.execute(f"UPDATE {schema}.submissions SET file = $2 WHERE id = $1", submission_id, file)


async def take(conn: asyncpg.Connection, schema: str, submission_id: int) -> asyncpg.Record | None:
    """Start (or resume) validating: None when the submission has ended (expired included: only
    a retry puts it back) or is gone."""
    return await conn.fetchrow(
        f"UPDATE {schema}.submissions SET status = 'validating', attempts = attempts + 1, "
        "heartbeat_at = now(), updated_at = now() "
        "WHERE id = $1 AND status IN ('received', 'validating') RETURNING *",
        submission_id,
    )


async def beat(conn: asyncpg.Connection, schema: str, submission_id: int) -> None:
    """The worker is still at it (between chunks, and every HEARTBEAT_S during a long one)."""
    await conn.execute(
        f"UPDATE {schema}.submissions SET heartbeat_at = now() WHERE id = $1 AND status = 'validating'",
        submission_id,
    )


async def set_total(conn: asyncpg.Connection, schema: str, submission_id: int, total: int) -> None:
    await conn.execute(
        f"UPDATE {schema}.submissions SET rows_total = $2, heartbeat_at = now(), updated_at = now() "
        "WHERE id = $1",
        submission_id,
        total,
    )


FINDING_COLUMNS = ("submission_id", "line", "key", "status", "rule", "severity", "pointer", "code", "message")


async def commit_chunk(
    conn: asyncpg.Connection,
    schema: str,
    submission_id: int,
    index: int,
    rows: int,
    counts: dict[str, int],
    found: list[tuple[Any, ...]],
) -> bool:
    """Record chunk `index` as committed, with its findings and counts, in the transaction of its
    own writes. False when chunk `index` is not the next one (another run committed it) or the
    submission stopped validating (expired meanwhile): the caller rolls back, so a chunk is
    never written twice, nor after its submission ended."""
    ok = await conn.fetchval(
        f"UPDATE {schema}.submissions SET chunks_done = chunks_done + 1, rows_done = rows_done + $3, "
        "created = created + $4, updated = updated + $5, unchanged = unchanged + $6, "
        "rejected = rejected + $7, heartbeat_at = now(), updated_at = now() "
        "WHERE id = $1 AND chunks_done = $2 AND status = 'validating' RETURNING true",
        submission_id,
        index,
        rows,
        counts["created"],
        counts["updated"],
        counts["unchanged"],
        counts["rejected"],
    )
    if ok and found:
        await conn.copy_records_to_table(
            "submission_findings", schema_name=schema, records=found, columns=FINDING_COLUMNS
        )
    return bool(ok)


async def finish(conn: asyncpg.Connection, schema: str, submission_id: int) -> None:
    """End a run that went through the whole file (in the caller's transaction, with its event)."""
    row = await conn.fetchrow(
        f"UPDATE {schema}.submissions SET status = CASE WHEN rejected > 0 THEN 'completed_with_errors' "
        "ELSE 'completed' END, finished_at = now(), updated_at = now() "
        "WHERE id = $1 AND status = 'validating' RETURNING *",
        submission_id,
    )
    if row is not None:
        await record_end(conn, schema, row)


async def fail(conn: asyncpg.Connection, schema: str, submission_id: int, problem: dict[str, Any]) -> None:
    """End it as failed (in the caller's transaction, with its event)."""
    row = await conn.fetchrow(
        f"UPDATE {schema}.submissions SET status = 'failed', error = $2::jsonb, finished_at = now(), "
        "updated_at = now() WHERE id = $1 AND status IN ('received', 'validating') RETURNING *",
        submission_id,
        orjson.dumps(problem).decode(),
    )
    if row is not None:
        await record_end(conn, schema, row)


async def retry(conn: asyncpg.Connection, schema: str, submission_id: int) -> bool:
    """Put an expired submission, or one failed by the worker (not by its unreadable file), whose
    file is still kept (retention has not removed it) back to `received`, its error cleared; its committed chunks stay (the run resumes after them).
    False when it is in no such state (the caller answers why)."""
    return bool(
        await conn.fetchval(
            f"UPDATE {schema}.submissions SET status = 'received', error = NULL, finished_at = NULL, "
            "heartbeat_at = NULL, updated_at = now() "
            "WHERE id = $1 AND file_removed_at IS NULL AND (status = 'expired' OR (status = 'failed' AND "
            "coalesce(error->>'code', '') <> 'submission_unreadable')) RETURNING true",
            submission_id,
        )
    )


async def stalled(conn: asyncpg.Connection, schema: str, stall_s: float) -> list[asyncpg.Record]:
    """Submissions the worker left: validating with no heartbeat for `stall_s`, or received and
    never taken for as long (each with the time of its last sign of life)."""
    return await conn.fetch(
        f"SELECT id, status, coalesce(heartbeat_at, updated_at) AS since FROM {schema}.submissions "
        "WHERE status IN ('received', 'validating') "
        "AND coalesce(heartbeat_at, updated_at) < now() - make_interval(secs => $1)",
        stall_s,
    )


async def expire(
    conn: asyncpg.Connection, schema: str, submission_id: int, since: Any, problem: dict[str, Any]
) -> bool:
    """Mark it expired, with its event, unless it moved meanwhile (its last sign of life is still
    `since`). `conn` in autocommit: the update and the event are one transaction here."""
    async with conn.transaction():
        row = await conn.fetchrow(
            f"UPDATE {schema}.submissions SET status = 'expired', error = $3::jsonb, finished_at = now(), "
            "updated_at = now() WHERE id = $1 AND status IN ('received', 'validating') "
            "AND coalesce(heartbeat_at, updated_at) = $2 RETURNING *",
            submission_id,
            since,
            orjson.dumps(problem).decode(),
        )
        if row is not None:
            await record_end(conn, schema, row)
    return row is not None

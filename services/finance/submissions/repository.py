"""All SQL of file submissions; a submission is its bank's (scoping here, nowhere else)."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
from sqlalchemy import Select, select

from services.common.auth import Principal
from services.finance.submissions.models import Submission, SubmissionFinding


def owned(principal: Principal) -> Any:
    """A bank reads its institution's submissions; admin all."""
    if principal.is_admin:
        return True
    return (Submission.owner_kind == principal.kind) & (Submission.owner_org == principal.org)


def visible(principal: Principal, submission_id: int) -> Select:
    return select(Submission).where(Submission.id == submission_id, owned(principal))


def findings(submission_id: int, rule: str | None) -> Select:
    stmt = select(SubmissionFinding).where(SubmissionFinding.submission_id == submission_id)
    return stmt.where(SubmissionFinding.rule == rule) if rule else stmt


async def add(conn: asyncpg.Connection, principal: Principal, values: dict[str, Any]) -> int | None:
    """The new submission's id; None when the caller's institution has one with this
    Idempotency-Key already (a concurrent one with the same key is waited for)."""
    return await conn.fetchval(
        "INSERT INTO finance.submissions (kind, validate_only, owner_kind, owner_sub, owner_org, request_id, "
        "sha256, size, file, rule_set_version, chunk_rows, idempotency_key) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
        "ON CONFLICT (owner_kind, owner_org, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING "
        "RETURNING id",
        values["kind"],
        values["validate_only"],
        principal.kind,
        principal.sub,
        principal.org,
        values["request_id"],
        values["sha256"],
        values["size"],
        values["file"],
        values["rule_set_version"],
        values["chunk_rows"],
        values["idempotency_key"],
    )


async def by_key(conn: asyncpg.Connection, principal: Principal, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, kind, validate_only, sha256 FROM finance.submissions "
        "WHERE owner_kind = $1 AND owner_org = $2 AND idempotency_key = $3",
        principal.kind,
        principal.org,
        key,
    )


async def name_file(conn: asyncpg.Connection, submission_id: int, file: str) -> None:
    await conn.execute("UPDATE finance.submissions SET file = $2 WHERE id = $1", submission_id, file)


async def take(conn: asyncpg.Connection, submission_id: int) -> asyncpg.Record | None:
    """Start (or resume) validating: None when the submission has ended or is gone."""
    return await conn.fetchrow(
        "UPDATE finance.submissions SET status = 'validating', attempts = attempts + 1, updated_at = now() "
        "WHERE id = $1 AND status IN ('received', 'validating') RETURNING *",
        submission_id,
    )


async def set_total(conn: asyncpg.Connection, submission_id: int, total: int) -> None:
    await conn.execute(
        "UPDATE finance.submissions SET rows_total = $2, updated_at = now() WHERE id = $1",
        submission_id,
        total,
    )


FINDING_COLUMNS = ("submission_id", "line", "key", "status", "rule", "severity", "pointer", "code", "message")


async def commit_chunk(
    conn: asyncpg.Connection,
    submission_id: int,
    index: int,
    rows: int,
    counts: dict[str, int],
    found: list[tuple[Any, ...]],
) -> bool:
    """Record chunk `index` as committed, with its findings and counts, in the transaction of its
    own writes. False when chunk `index` is not the next one (another run committed it): the
    caller rolls back, so a chunk is never written twice."""
    ok = await conn.fetchval(
        "UPDATE finance.submissions SET chunks_done = chunks_done + 1, rows_done = rows_done + $3, "
        "created = created + $4, updated = updated + $5, unchanged = unchanged + $6, "
        "rejected = rejected + $7, updated_at = now() "
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
            "submission_findings", schema_name="finance", records=found, columns=FINDING_COLUMNS
        )
    return bool(ok)


async def finish(conn: asyncpg.Connection, submission_id: int) -> None:
    await conn.execute(
        "UPDATE finance.submissions SET status = CASE WHEN rejected > 0 THEN 'completed_with_errors' "
        "ELSE 'completed' END, finished_at = now(), updated_at = now() "
        "WHERE id = $1 AND status = 'validating'",
        submission_id,
    )


async def fail(conn: asyncpg.Connection, submission_id: int, problem: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE finance.submissions SET status = 'failed', error = $2::jsonb, finished_at = now(), "
        "updated_at = now() WHERE id = $1 AND status IN ('received', 'validating')",
        submission_id,
        orjson.dumps(problem).decode(),
    )

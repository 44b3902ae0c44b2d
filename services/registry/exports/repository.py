"""The SQL of asynchronous exports' files (models.py): written in chunks by the worker, read one
chunk per round trip by the file route, removed when they expire."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg


async def add_file(conn: asyncpg.Connection, job_id: int, filename: str, content_type: str) -> None:
    """The file's row, before its chunks (completed by `complete_file`, same transaction)."""
    await conn.execute(
        "INSERT INTO registry.export_files (job_id, filename, content_type, size, rows, chunks, expires_at) "
        "VALUES ($1, $2, $3, 0, 0, 0, now())",
        job_id,
        filename,
        content_type,
    )


async def add_chunk(conn: asyncpg.Connection, job_id: int, seq: int, data: bytes) -> None:
    await conn.execute(
        "INSERT INTO registry.export_chunks (job_id, seq, data) VALUES ($1, $2, $3)", job_id, seq, data
    )


async def complete_file(
    conn: asyncpg.Connection, job_id: int, size: int, rows: int, chunks: int, keep_h: int
) -> datetime:
    return await conn.fetchval(
        "UPDATE registry.export_files SET size = $2, rows = $3, chunks = $4, "
        "expires_at = now() + make_interval(hours => $5) WHERE job_id = $1 RETURNING expires_at",
        job_id,
        size,
        rows,
        chunks,
        keep_h,
    )


async def file_of(reads: Any, job_id: int) -> Any | None:
    """The file of a job, unless it has expired (`reads`: anything with asyncpg's `fetch`)."""
    rows = await reads.fetch(
        "SELECT filename, content_type, size, chunks, expires_at FROM registry.export_files "
        "WHERE job_id = $1 AND expires_at > now()",
        job_id,
    )
    return rows[0] if rows else None


async def chunk(reads: Any, job_id: int, seq: int) -> bytes | None:
    rows = await reads.fetch(
        "SELECT data FROM registry.export_chunks WHERE job_id = $1 AND seq = $2", job_id, seq
    )
    return rows[0][0] if rows else None


async def remove_expired_files(conn: asyncpg.Connection) -> int:
    """Remove the files past their expiry (their chunks go with them); how many."""
    status = await conn.execute("DELETE FROM registry.export_files WHERE expires_at <= now()")
    return int(status.split()[-1])

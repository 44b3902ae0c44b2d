"""The asynchronous export, a job of the worker: the file `GET /v1/enterprises/export` would
stream, written with the same code (enterprises/export.py: columns, headers, cells; the
statements of enterprises/repository.py: filters, scope, order) into the database in chunks.

The file, its chunks and the job's success commit together: a run that fails or is superseded
leaves nothing behind, and the next run writes the file afresh. Progress is the rows written
of the rows matching (counted first), reported about once a second on a connection of its own.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from procrastinate import Blueprint, JobContext, RetryStrategy

from services.common.auth import Principal
from services.common.export import stream_rows
from services.common.jobs import Run, resources, run_tracked
from services.registry.enterprises import repository as enterprises
from services.registry.enterprises.export import csv_stream, file_kind, xlsx_stream
from services.registry.enterprises.schemas import ExportQuery
from services.registry.exports import repository as repo
from services.registry.exports.models import CHUNK_BYTES

NAMESPACE = "registry.exports"
blueprint = Blueprint()
EXPORT = f"{NAMESPACE}:export"
JOB_KIND = "export"
RETRY = RetryStrategy(max_attempts=2, exponential_wait=10)
PROGRESS_EVERY_S = 1.0


async def _counted(rows: AsyncIterator[Any], seen: list[int]) -> AsyncIterator[Any]:
    try:
        async for row in rows:
            seen[0] += 1
            yield row
    finally:
        await rows.aclose()  # type: ignore[attr-defined]


@blueprint.task(name="export", pass_context=True, retry=RETRY)
async def export(context: JobContext, job_id: int) -> None:
    res = resources(context)

    async def work(run: Run) -> None:
        job = run.job
        query = ExportQuery.model_validate(job.params["query"])
        owner: Principal = job.owner
        filename, content_type = file_kind(query.format)
        async with res.db.acquire() as reader, res.db.acquire() as writer, res.db.acquire() as beat:
            statement = await enterprises.export_plan(reader, owner, query)
            total = await reader.fetchval(f"SELECT count(*) FROM ({statement[0]}) t", *statement[1])
            await run.progress(beat, 0, total)
            seen = [0]
            rows = _counted(stream_rows(reader, statement, res.settings.export.fetch_rows), seen)
            body = xlsx_stream(rows) if query.format == "xlsx" else csv_stream(rows)
            async with writer.transaction():
                await repo.add_file(writer, job.id, filename, content_type)
                buffer, seq, size = bytearray(), 0, 0
                reported = time.monotonic()
                async for data in body:
                    buffer += data
                    size += len(data)
                    while len(buffer) >= CHUNK_BYTES:
                        await repo.add_chunk(writer, job.id, seq, bytes(buffer[:CHUNK_BYTES]))
                        del buffer[:CHUNK_BYTES]
                        seq += 1
                    if time.monotonic() - reported >= PROGRESS_EVERY_S:
                        reported = time.monotonic()
                        await run.progress(beat, seen[0])
                if buffer or seq == 0:
                    await repo.add_chunk(writer, job.id, seq, bytes(buffer))
                    seq += 1
                keep_h = res.settings.jobs.export_retention_h
                expires = await repo.complete_file(writer, job.id, size, seen[0], seq, keep_h)
                result = {
                    "format": query.format,
                    "rows": seen[0],
                    "size": size,
                    "filename": filename,
                    "expires_at": expires.isoformat(),
                }
                await run.succeed(writer, result, done=seen[0])

    await run_tracked(context, "registry", job_id, work)

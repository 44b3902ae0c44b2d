"""The worker's run of a file submission: the file cut into chunks of lines, each chunk run through
its kind's own batch ingest (kinds.py: the same rules, duplicate policy, look-ups and upsert with
its change log as the JSON batch), and committed with the record of which chunk it was. A run
that stops (killed, failed, superseded, expired) leaves every chunk either committed with its
record or not at all; the next run skips the chunks recorded and goes on with the next.

Line numbers are the file's: the header is line 1, so the first record is line 2. A finding's
pointer is `/lines/<line>/<field>` (a record's pointer `/amount` on line 1234 is
`/lines/1234/amount`). With `validate_only` each chunk's writes are rolled back and only its
findings and counts are kept.

Heartbeat: the run stamps `heartbeat_at` when it takes the submission, after each chunk, and
every `EAGLET_SUBMISSIONS__HEARTBEAT_S` while a chunk runs (a small task beside it); the sweep
(`sweep.py`) expires a submission whose heartbeat stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from services.common import tabular
from services.common.auth import Principal
from services.common.db import create_engine, create_sessionmaker, raw_connection
from services.common.settings import Settings
from services.common.submission_store import FileGone, store_of
from services.common.submissions import repository
from services.common.submissions.kinds import SubmissionKind, SubmissionService
from services.common.submissions.receive import SubmissionUnreadable
from services.common.tabular import BadFile

# ---- reading the file: its format is tabular.py's --------------------------------------------------

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
Line = tuple[int, dict[str, Any] | None, list[dict[str, Any]]]  # line, record, local findings


def lines_of(path: Path, fmt: str) -> Iterator[Line]:
    """Each data line of a file of format `fmt` (tabular.py: CSV or XLSX, the header line 1): its
    line number, its record (empty cells omitted: a field left empty is absent) or None, and the
    findings of a line that is not a record of the header's fields."""
    rows = tabular.rows(path, fmt)
    try:
        first = next(rows, None)
        if first is None or not any(h.strip() for h in first[1]):
            raise BadFile("the file has no header line")
        header = [h.strip() for h in first[1]]
        for line, row in rows:
            if not any(cell.strip() for cell in row):
                continue  # a blank line is no record
            if len(row) > len(header):
                yield (
                    line,
                    None,
                    [_local(line, "extra_cells", f"{len(row)} cells; the header has {len(header)}")],
                )
                continue
            yield line, {h: v for h, v in zip(header, row, strict=False) if v != ""}, []
    finally:
        rows.close()


def _local(line: int, code: str, message: str) -> dict[str, Any]:
    return {"rule": None, "severity": "error", "pointer": f"/lines/{line}", "code": code, "message": message}


def chunks_of(path: Path, fmt: str, size: int) -> Iterator[list[Line]]:
    chunk: list[Line] = []
    for item in lines_of(path, fmt):
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def count_lines(path: Path, fmt: str) -> int:
    return sum(1 for _ in lines_of(path, fmt))


# ---- the batch answer as findings ---------------------------------------------------------------


def findings_of(submission_id: int, chunk: list[Line], answer: dict[str, Any] | None) -> tuple[dict, list]:
    """The chunk's counts and finding rows, from the batch answer of its records."""
    counts = dict.fromkeys(("created", "updated", "unchanged", "rejected"), 0)
    rows: list[tuple[Any, ...]] = []
    results = iter(answer["results"] if answer else ())
    for line, record, local in chunk:
        if record is None:
            counts["rejected"] += 1
            rows += [_row(submission_id, line, None, "rejected", f) for f in local]
            continue
        result = next(results)
        counts[result["status"]] += 1
        for f in (*result["errors"], *result["warnings"]):
            pointer = f"/lines/{line}{f['pointer'] if f['pointer'] != '/' else ''}"
            rows.append(_row(submission_id, line, result["key"], result["status"], {**f, "pointer": pointer}))
    return counts, rows


def _row(submission_id: int, line: int, key: Any, status: str, f: dict[str, Any]) -> tuple[Any, ...]:
    key = None if key is None else _storable(str(key))
    message = _storable(f["message"])
    return (submission_id, line, key, status, f["rule"], f["severity"], f["pointer"], f["code"], message)


def _storable(text: str) -> str:
    """Text PostgreSQL stores: a file's cell may carry a NUL (a CSV may) or a lone surrogate, which
    a finding's key or message may quote; each becomes U+FFFD."""
    return UNSTORABLE.sub("\ufffd", text)


# ---- the run ------------------------------------------------------------------------------------

AfterChunk = Callable[[int], Awaitable[None]]


def owner_principal(taken: Any) -> Principal:
    """The submitting caller, as its batch ingest sees it (its institution, its region)."""
    return Principal(
        sub=taken["owner_sub"], kind=taken["owner_kind"], org=taken["owner_org"], region=taken["owner_region"]
    )


async def process(
    settings: Settings,
    service: SubmissionService,
    submission_id: int,
    *,
    after_chunk: AfterChunk | None = None,
) -> None:
    """Validate and write the submission's file from its first uncommitted chunk to the end.
    `after_chunk(index)` runs after each committed chunk (tests stop a run there)."""
    schema = service.name
    engine = create_engine(settings, "eaglet-worker-submissions")
    sessions = create_sessionmaker(engine)
    try:
        async with sessions() as session:
            taken = await repository.take(await raw_connection(session), schema, submission_id)
            await session.commit()
        if taken is None:
            return
        kind = service.kind(taken["kind"])
        owner = owner_principal(taken)
        try:
            # the store's file, or its local copy for the time of the run (an object store's)
            async with store_of(settings).local_copy(taken["file"]) as path:
                await _run(sessions, schema, kind, owner, taken, path, settings, after_chunk)
        except (BadFile, FileGone) as e:
            async with sessions() as session:
                problem = SubmissionUnreadable.body(str(e))
                await repository.fail(await raw_connection(session), schema, submission_id, problem)
                await session.commit()
            return
        async with sessions() as session:
            await repository.finish(await raw_connection(session), schema, submission_id)
            await session.commit()
    finally:
        await engine.dispose()


async def _run(
    sessions: Any,
    schema: str,
    kind: SubmissionKind,
    owner: Principal,
    taken: Any,
    path: Path,
    settings: Settings,
    after_chunk: AfterChunk | None,
) -> None:
    """Count the file's lines (once), then run its chunks from the first uncommitted one."""
    submission_id, fmt = taken["id"], taken["format"]
    if taken["rows_total"] is None:
        total = await asyncio.to_thread(count_lines, path, fmt)
        async with sessions() as session:
            await repository.set_total(await raw_connection(session), schema, submission_id, total)
            await session.commit()
    # the file is read and parsed off the event loop (the worker's heartbeats run on it)
    chunks, index = chunks_of(path, fmt, taken["chunk_rows"]), -1
    try:
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            index += 1
            if index < taken["chunks_done"]:
                continue
            async with _beating(sessions, schema, submission_id, settings.submissions.heartbeat_s):
                await _chunk(sessions, schema, kind, owner, taken, index, chunk)
            if after_chunk is not None:
                await after_chunk(index)
    finally:
        await asyncio.to_thread(chunks.close)  # the file, at once (not at collection)


@contextlib.asynccontextmanager
async def _beating(sessions: Any, schema: str, submission_id: int, every_s: float) -> AsyncIterator[None]:
    """Stamp the heartbeat every `every_s` seconds while the block runs (a long chunk)."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(every_s)
            async with sessions() as session:
                await repository.beat(await raw_connection(session), schema, submission_id)
                await session.commit()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def _chunk(
    sessions: Any,
    schema: str,
    kind: SubmissionKind,
    owner: Principal,
    taken: Any,
    index: int,
    chunk: list[Line],
) -> None:
    submission_id = taken["id"]
    records = [record for _, record, _ in chunk if record is not None]
    async with sessions() as session:
        answer = await kind.ingest(session, owner, records, False) if records else None
        if taken["validate_only"]:
            await session.rollback()  # a dry run keeps the findings, never the writes
        counts, found = findings_of(submission_id, chunk, answer)
        conn = await raw_connection(session)
        if await repository.commit_chunk(conn, schema, submission_id, index, len(chunk), counts, found):
            await session.commit()
        else:
            await session.rollback()  # another run committed this chunk: nothing written twice

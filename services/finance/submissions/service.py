"""File submissions of loans: the file cut into chunks of lines, each chunk run through the loan
batch's own pipeline (services/finance/loans/service.py `ingest`: the same rules, duplicate
policy, look-ups and upsert with its change log), and committed with the record of which chunk it
was. A run that stops (killed, failed, superseded) leaves every chunk either committed with its
record or not at all; the next run skips the chunks recorded and goes on with the next.

Line numbers are the file's: the header is line 1, so the first loan is line 2. A finding's
pointer is `/lines/<line>/<field>` (a record's pointer `/amount` on line 1234 is
`/lines/1234/amount`). With `validate_only` each chunk's writes are rolled back and only its
findings and counts are kept.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from services.common.auth import Principal
from services.common.db import create_engine, create_sessionmaker, raw_connection
from services.common.settings import Settings
from services.common.submissions import SubmissionUnreadable
from services.finance.loans import service as loans
from services.finance.loans.schemas import LoanBatchRequest, LoanIn
from services.finance.submissions import repository

FIELDS = list(LoanIn.model_fields)  # the header row: the batch record's fields
SAMPLE = LoanBatchRequest.model_config["json_schema_extra"]["examples"][0]["records"][0]  # type: ignore[index]


class BadFile(Exception):
    """The file cannot be read as CSV text: the submission fails (no retry mends it)."""


def template_csv() -> bytes:
    """The empty file with the right header and one sample line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FIELDS)
    writer.writerow([_cell(SAMPLE.get(f)) for f in FIELDS])
    return out.getvalue().encode("utf-8")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


Line = tuple[int, dict[str, Any] | None, list[dict[str, Any]]]  # line, record, local findings


def lines_of(path: Path) -> Iterator[Line]:
    """Each data line: its line number, its record (empty cells omitted: a field left empty is
    absent) or None, and the findings of a line that is not a record of the header's fields."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header:
                raise BadFile("the file has no header line")
            header = [h.strip() for h in header]
            end = reader.line_num
            for row in reader:
                line, end = end + 1, reader.line_num
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
    except UnicodeDecodeError as e:
        raise BadFile(f"the file is not UTF-8 text (byte {e.start} of a read block)") from e
    except csv.Error as e:
        raise BadFile(f"the file is not valid CSV: {e}") from e


def _local(line: int, code: str, message: str) -> dict[str, Any]:
    return {"rule": None, "severity": "error", "pointer": f"/lines/{line}", "code": code, "message": message}


def chunks_of(path: Path, size: int) -> Iterator[list[Line]]:
    chunk: list[Line] = []
    for item in lines_of(path):
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def count_lines(path: Path) -> int:
    return sum(1 for _ in lines_of(path))


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
    key = None if key is None else str(key)
    return (submission_id, line, key, status, f["rule"], f["severity"], f["pointer"], f["code"], f["message"])


AfterChunk = Callable[[int], Awaitable[None]]


async def process(settings: Settings, submission_id: int, *, after_chunk: AfterChunk | None = None) -> None:
    """Validate and write the submission's file from its first uncommitted chunk to the end.
    `after_chunk(index)` runs after each committed chunk (tests stop a run there)."""
    engine = create_engine(settings, "eaglet-worker-submissions")
    sessions = create_sessionmaker(engine)
    try:
        async with sessions() as session:
            taken = await repository.take(await raw_connection(session), submission_id)
            await session.commit()
        if taken is None:
            return
        path = settings.submissions_dir() / taken["file"]
        owner = Principal(sub=taken["owner_sub"], kind=taken["owner_kind"], org=taken["owner_org"])
        try:
            if taken["rows_total"] is None:
                async with sessions() as session:
                    await repository.set_total(
                        await raw_connection(session), submission_id, count_lines(path)
                    )
                    await session.commit()
            # the file is read and parsed off the event loop (the worker's heartbeats run on it)
            chunks, index = chunks_of(path, taken["chunk_rows"]), -1
            try:
                while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
                    index += 1
                    if index < taken["chunks_done"]:
                        continue
                    await _chunk(sessions, owner, taken, index, chunk)
                    if after_chunk is not None:
                        await after_chunk(index)
            finally:
                chunks.close()  # the file, at once (a stopped run does not wait for the collector)
        except BadFile as e:
            async with sessions() as session:
                problem = SubmissionUnreadable.body(str(e))
                await repository.fail(await raw_connection(session), submission_id, problem)
                await session.commit()
            return
        async with sessions() as session:
            await repository.finish(await raw_connection(session), submission_id)
            await session.commit()
    finally:
        await engine.dispose()


async def _chunk(sessions: Any, owner: Principal, taken: Any, index: int, chunk: list[Line]) -> None:
    submission_id = taken["id"]
    records = [record for _, record, _ in chunk if record is not None]
    async with sessions() as session:
        answer = await loans.ingest(session, owner, records, atomic=False) if records else None
        if taken["validate_only"]:
            await session.rollback()  # a dry run keeps the findings, never the writes
        counts, found = findings_of(submission_id, chunk, answer)
        conn = await raw_connection(session)
        if await repository.commit_chunk(conn, submission_id, index, len(chunk), counts, found):
            await session.commit()
        else:
            await session.rollback()  # another run committed this chunk: nothing written twice

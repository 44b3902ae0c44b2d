"""Receiving a submitted file: the route's path (its body limit is its own, not the JSON
limit: services/common/middleware.py `BodyLimitMiddleware`), and the upload streamed to a file
while its SHA-256 is computed, so a body is never held whole in memory; the store
(services/common/submission_store.py) then keeps it under its submission's name.

A body over the limit is refused before it is read: an announced Content-Length over it is a 413
at once (the middleware), and a streamed body is counted as it arrives and refused when it
passes the limit (the partial file is removed).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from services.common.errors import NamedProblem, PayloadTooLarge
from services.common.submission_store import scratch_path
from services.common.tabular import FORMATS, MEDIA

SUBMISSIONS_PATH = "/v1/submissions"  # a service's own path; the gateway's is /<service> + this
SERVICES_WITH_SUBMISSIONS = ("finance", "standards", "registry")  # each mounts the kit's router
WRITE_BYTES = 1024 * 1024


UnsupportedFileType = NamedProblem(
    415,
    "submission_unsupported_type",
    f"a submission's body is a CSV file (`text/csv`) or an XLSX workbook (`{MEDIA['xlsx']}`)",
    pointer="#/header/content-type",
    detail="the file must be sent as one of {accepted}, not {got}",
)
ACCEPTED = ", ".join(MEDIA[f] for f in FORMATS)
SubmissionUnreadable = NamedProblem(
    422,
    "submission_unreadable",
    "the submitted file cannot be read as a UTF-8 CSV or an XLSX workbook with a header row",
)
SubmissionNotRetryable = NamedProblem(
    409,
    "submission_not_retryable",
    "only an expired submission, or one failed by the worker, is retried",
    detail="submission {id} is {status}: only an expired one, or one failed by the worker, is retried",
)
SubmissionFileUnreadable = NamedProblem(
    409,
    "submission_file_unreadable",
    "the submission's file cannot be read, or is no longer kept: a retry would fail the same way",
    detail="submission {id}: {why}; submit the file again",
)
# The `error` of an expired submission (services/common/submissions/sweep.py).
SubmissionExpired = NamedProblem(
    504,
    "submission_expired",
    "the submission made no progress for EAGLET_SUBMISSIONS__STALL_S seconds",
    detail="no progress since {since}: {why}; POST {retry} resumes it",
)


@dataclass(frozen=True)
class Received:
    path: Path
    sha256: str
    size: int


async def receive_file(request: Request, directory: Path, max_bytes: int) -> Received:
    """Stream the request body into a new file under `directory` (created when missing). The
    disk writes run off the event loop, about a mebibyte at a time."""
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    path = scratch_path(directory, "upload")
    digest = hashlib.sha256()
    size = 0
    out = await asyncio.to_thread(path.open, "wb")
    try:
        pending = bytearray()
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(limit=max_bytes)
            digest.update(chunk)
            pending += chunk
            if len(pending) >= WRITE_BYTES:
                await asyncio.to_thread(out.write, bytes(pending))
                pending.clear()
        await asyncio.to_thread(out.write, bytes(pending))
        await asyncio.to_thread(out.close)
    except BaseException:
        out.close()
        path.unlink(missing_ok=True)
        raise
    return Received(path, digest.hexdigest(), size)

"""The routes of file submissions, made once per service (`router_for`): `/v1/submissions` with
`?kind=` one of the service's kinds, the status, findings, report, template and retry."""

# No `from __future__ import annotations`: the routes' annotations name the service's own `Kind`
# (a local of `router_for`), so they are evaluated where they are written.

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from services.common import tabular
from services.common.auth import CurrentPrincipal, check_kind, require_kind
from services.common.context import request_id_var
from services.common.db import DbSession, raw_connection
from services.common.errors import (
    Forbidden,
    IdempotencyKeyReused,
    InvalidCursor,
    InvalidIdempotencyKey,
    NotFound,
    PayloadTooLarge,
    responses,
)
from services.common.idempotency import MAX_KEY_LENGTH
from services.common.jobs import defer
from services.common.pagination import Page, Pagination, keyset, page_of
from services.common.submission_store import forget, kept_name, store_of
from services.common.submissions import repository
from services.common.submissions.kinds import SubmissionService
from services.common.submissions.receive import (
    ACCEPTED,
    SUBMISSIONS_PATH,
    SubmissionFileUnreadable,
    SubmissionNotRetryable,
    UnsupportedFileType,
    receive_file,
)
from services.common.submissions.schemas import SubmissionFindingOut, SubmissionOut
from services.common.types import patterned, text, text_problem

IdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]
Format = Literal[tabular.FORMATS]  # type: ignore[valid-type]
Lang = Literal[tuple(tabular.REPORT_HEADERS)]  # type: ignore[valid-type]
RuleQuery = text(*patterned(r"^[A-Z]{2,8}-[A-Z]\d{1,4}$"))


def idempotency_key(request: Request) -> str | None:
    """The request's Idempotency-Key, checked as the kit's idempotency layer checks it (which lets
    this route's streamed body pass: the key is honoured on the file's digest here)."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip()
    refused = text_problem(key)
    if not key or len(key) > MAX_KEY_LENGTH or refused:
        why = f": {refused[1]}" if refused else ""
        raise InvalidIdempotencyKey(f"Idempotency-Key must be 1–{MAX_KEY_LENGTH} characters of text{why}")
    return key


def router_for(subs: SubmissionService) -> APIRouter:
    """The service's submission routes (its kinds, its tables, its task)."""
    router = APIRouter(tags=["submissions"])
    schema = subs.name
    Kind = subs.Kind  # noqa: N806 - a type
    submitters = require_kind(*subs.submitters)
    readers = require_kind(*subs.readers)
    kinds_doc = "; ".join(f"`{k.name}`: {k.description} ({', '.join(k.callers)})" for k in subs.kinds)
    file_body = {
        "requestBody": {
            "required": True,
            "content": {
                m: {"schema": {"type": "string", "format": "binary"}} for m in tabular.MEDIA.values()
            },
            "description": "UTF-8 CSV (a BOM allowed), or an XLSX workbook (its first sheet); the "
            "header row names the kind's batch record fields (GET /v1/submissions/template)",
        }
    }

    async def own(session: DbSession, principal: CurrentPrincipal, submission_id: int) -> Any:
        stmt = repository.visible(subs, principal, submission_id)
        row = (await session.execute(stmt)).scalar_one_or_none()
        if row is None:
            raise NotFound(what="submission", key=str(submission_id))
        return row

    def answer(row: Any, status: int, replayed: bool = False) -> Response:
        body = SubmissionOut.of(schema, row).model_dump_json().encode()
        headers = {"Location": f"submissions/{row.id}"} if status == 202 else {}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(body, status_code=status, media_type="application/json", headers=headers)

    @router.post(
        SUBMISSIONS_PATH,
        status_code=202,
        summary="Submit a file of records; validated and written in the background",
        description=(
            f"Kinds: {kinds_doc}. The body is the file (`text/csv`, or an XLSX workbook as "
            f"`{tabular.MEDIA['xlsx']}`; any other type: 415), streamed to storage while its "
            "SHA-256 is computed, up to `EAGLET_SUBMISSIONS__MAX_BYTES` (default 2 GiB; over it: "
            "413, before the body is read whole). Answers 202 with `Location`: the submission, "
            "which the worker validates and writes in chunks with the rules and upsert of the "
            "kind's `POST /v1/<things>/batch`. With `mode=validate_only` nothing is written: the "
            "findings and counts say what would be. The same file with the same `Idempotency-Key` "
            "answers the existing submission (`Idempotent-Replayed: true`); the key with another "
            "file, kind or mode is a 422. A caller kind the kind's batch does not take: 403."
        ),
        response_model=SubmissionOut,
        dependencies=[submitters],
        responses={
            **responses(
                Forbidden,
                *subs.problems,
                PayloadTooLarge,
                UnsupportedFileType,
                InvalidIdempotencyKey,
                IdempotencyKeyReused,
            ),
            202: {
                "model": SubmissionOut,
                "description": "Accepted: `Location` (relative to this URL) is the submission; poll "
                "it until `status` is completed, completed_with_errors, failed or expired",
                "headers": {"Location": {"schema": {"type": "string"}, "description": "submissions/{id}"}},
            },
        },
        openapi_extra=file_body,
    )
    async def post_submission(
        request: Request,
        session: DbSession,
        principal: CurrentPrincipal,
        kind: Annotated[Kind, Query(description="What the file holds")],
        mode: Annotated[
            Literal["validate_only"] | None, Query(description="validate_only: a dry run")
        ] = None,
    ) -> Response:
        declared = subs.kind(kind)
        check_kind(principal, declared.callers)
        declared.admit(principal)
        media = request.headers.get("content-type", "")
        fmt = tabular.format_of(media)
        if fmt is None:
            got = media.split(";")[0].strip()[:100] or "nothing"
            raise UnsupportedFileType(
                accepted=ACCEPTED, got="an unreadable type" if text_problem(got) else got
            )
        key = idempotency_key(request)
        settings = request.app.state.settings
        store = store_of(settings)
        received = await receive_file(request, settings.submissions_dir(), settings.submissions.max_bytes)
        replayed, kept = False, None
        try:
            conn = await raw_connection(session)
            values = {
                "kind": kind,
                "format": fmt,
                "validate_only": mode == "validate_only",
                "request_id": request_id_var.get(),
                "sha256": received.sha256,
                "size": received.size,
                "file": received.path.name,
                "rule_set_version": declared.rule_set.version,
                "chunk_rows": settings.submissions.chunk_rows,
                "idempotency_key": key,
            }
            submission_id = await repository.add(conn, schema, principal, values)
            if submission_id is None:  # the key was used: the same file again, or another request
                earlier = await repository.by_key(conn, schema, principal, key or "")
                same = (earlier["sha256"], earlier["kind"], earlier["validate_only"])
                if same != (received.sha256, kind, values["validate_only"]):
                    raise IdempotencyKeyReused()
                submission_id, replayed = earlier["id"], True
                await asyncio.to_thread(received.path.unlink, missing_ok=True)
            else:
                name = kept_name(schema, submission_id, fmt)
                await repository.name_file(conn, schema, submission_id, name)
                await store.keep(received.path, name)  # before the commit: no row without its file
                kept = name
                await defer(conn, subs.task, {"submission_id": submission_id})
            await session.commit()  # here, not after the route: a failed commit leaves no file
        except BaseException as e:  # cancelled too: no await before the temp file goes
            received.path.unlink(missing_ok=True)
            if kept is not None and isinstance(e, Exception):
                await forget(store, kept)
            raise
        row = (await session.execute(repository.visible(subs, principal, submission_id))).scalar_one()
        return answer(row, 202, replayed)

    @router.get(
        f"{SUBMISSIONS_PATH}/template",
        summary="An empty submission file with the right header (and one sample line), CSV or XLSX",
        response_class=Response,
        dependencies=[readers],
        responses={
            **responses(Forbidden),
            200: {"content": {m: {} for m in tabular.MEDIA.values()}, "description": "The template"},
        },
    )
    async def submission_template(
        kind: Annotated[Kind, Query()],
        fmt: Annotated[Format, Query(alias="format", description="csv or xlsx")] = "csv",
    ) -> Response:
        declared = subs.kind(kind)
        body = await asyncio.to_thread(tabular.template, declared.fields, declared.sample, fmt)
        media = tabular.MEDIA[fmt] + ("; charset=utf-8" if fmt == "csv" else "")
        return Response(
            body,
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="{kind}-template.{fmt}"'},
        )

    @router.get(
        f"{SUBMISSIONS_PATH}/{{submission_id}}",
        summary="A submission's status and counts (the caller's own)",
        dependencies=[readers],
        responses=responses(Forbidden, NotFound),
    )
    async def get_submission(
        submission_id: IdPath, session: DbSession, principal: CurrentPrincipal
    ) -> SubmissionOut:
        return SubmissionOut.of(schema, await own(session, principal, submission_id))

    @router.post(
        f"{SUBMISSIONS_PATH}/{{submission_id}}/retry",
        status_code=202,
        summary="Resume an expired submission, or one the worker failed, after its committed chunks",
        description=(
            "The submission goes back to `received` (its error cleared) and the worker resumes it "
            "after the chunks it committed: no line is written twice. Only `expired`, or `failed` "
            "by the worker, is retried; a submission failed because its file cannot be read, or "
            "in any other status, is a 409."
        ),
        response_model=SubmissionOut,
        dependencies=[readers],
        responses=responses(Forbidden, NotFound, SubmissionNotRetryable, SubmissionFileUnreadable),
    )
    async def retry_submission(
        request: Request, submission_id: IdPath, session: DbSession, principal: CurrentPrincipal
    ) -> Response:
        row = await own(session, principal, submission_id)
        if row.file_removed_at is not None:
            why = f"its file was deleted at {row.file_removed_at.isoformat(timespec='seconds')} (retention)"
            raise SubmissionFileUnreadable(id=submission_id, why=why)
        if row.status in ("expired", "failed") and not await store_of(request.app.state.settings).exists(
            row.file
        ):
            raise SubmissionFileUnreadable(id=submission_id, why="its file is no longer kept")
        conn = await raw_connection(session)
        if not await repository.retry(conn, schema, submission_id):
            if row.status == "failed":
                raise SubmissionFileUnreadable(
                    id=submission_id, why="it failed because its file cannot be read"
                )
            raise SubmissionNotRetryable(id=submission_id, status=row.status)
        await defer(conn, subs.task, {"submission_id": submission_id})
        session.expire_all()  # the row as the retry left it
        return answer(await own(session, principal, submission_id), 202)

    @router.get(
        f"{SUBMISSIONS_PATH}/{{submission_id}}/findings",
        summary="A submission's findings by line (errors of rejected lines, warnings of stored ones)",
        dependencies=[readers],
        responses=responses(Forbidden, NotFound, InvalidCursor),
    )
    async def list_findings(
        submission_id: IdPath,
        session: DbSession,
        principal: CurrentPrincipal,
        page: Pagination,
        rule: Annotated[RuleQuery | None, Query(description="Only this rule")] = None,
    ) -> Page[SubmissionFindingOut]:
        await own(session, principal, submission_id)
        stmt = keyset(repository.findings(subs, submission_id, rule), [subs.finding.id], page)
        rows = list((await session.execute(stmt)).scalars())
        rows, cursor = page_of(rows, page, lambda r: (r.id,))
        return Page[SubmissionFindingOut](
            items=[SubmissionFindingOut.of(r) for r in rows], next_cursor=cursor
        )

    @router.get(
        f"{SUBMISSIONS_PATH}/{{submission_id}}/report.csv",
        summary="A submission's findings as CSV (line, key, status, rule, severity, pointer, message)",
        description="UTF-8 CSV, one row per finding in line order; `lang=zh` gives the header row in "
        "Chinese (行号, 记录标识, 状态, 规则, 严重程度, 位置, 说明), the default `en` in English.",
        response_class=StreamingResponse,
        dependencies=[readers],
        responses={
            **responses(Forbidden, NotFound),
            200: {"content": {"text/csv": {}}, "description": "The report"},
        },
    )
    async def submission_report(
        request: Request,
        submission_id: IdPath,
        session: DbSession,
        principal: CurrentPrincipal,
        lang: Annotated[Lang, Query(description="The header row's language: en or zh")] = "en",
    ) -> StreamingResponse:
        await own(session, principal, submission_id)
        engine = request.app.state.engine
        f = subs.finding

        async def body() -> AsyncIterator[bytes]:
            yield ",".join(tabular.report_header(lang)).encode() + b"\r\n"
            last = 0
            while True:
                stmt = (
                    select(f).where(f.submission_id == submission_id, f.id > last).order_by(f.id).limit(5000)
                )
                async with engine.connect() as conn:
                    rows = list((await conn.execute(stmt)).all())
                if not rows:
                    return
                out = io.StringIO()
                writer = csv.writer(out, lineterminator="\r\n")
                for r in rows:
                    writer.writerow(
                        [r.line, r.key or "", r.status, r.rule or "", r.severity, r.pointer, r.message]
                    )
                last = rows[-1].id
                yield out.getvalue().encode()

        return StreamingResponse(
            body(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="submission-{submission_id}-report.csv"'},
        )

    return router

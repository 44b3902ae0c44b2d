"""RFC 9457 problem details for every error a process returns.

Body: ``type``, ``title``, ``status``, ``detail``, ``code`` (stable machine code), ``request_id``
and, for field problems, ``errors: [{pointer, code, message}]``.

Pointers: a JSON Pointer into the request body (``/records/3/amount``); for parameters the
location comes first, as a URI fragment: ``#/query/limit``, ``#/path/credit_code``,
``#/header/idempotency-key``.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from services.common.context import request_id_var

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://eaglet.zj.gov.cn/problems/"


class FieldProblem(BaseModel):
    pointer: str
    code: str
    message: str


class ProblemDetail(BaseModel):
    """The RFC 9457 body; documented on every route's error responses."""

    type: str
    title: str
    status: int
    detail: str | None = None
    code: str
    request_id: str | None = None
    errors: list[FieldProblem] | None = None


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem+json response."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str | None = None,
        *,
        title: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or code)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.errors = errors
        self.headers = headers


class AmbiguousProblem(ValueError):
    """A problem code defined twice."""


class NamedProblem:
    """One problem a route can answer: status, stable code, title, when it is answered, and how
    its detail and pointer are built. The one definition is used both to raise it
    (``raise NotFound(what="loan", key=ref)``) and to declare it on the routes that answer it
    (``responses=responses(NotFound, ...)``), so the OpenAPI lists exactly what a route answers.

    ``detail`` and ``pointer`` are templates filled from the keyword values of a raise; a detail
    given as the first argument replaces the template. A problem with a pointer is a field problem:
    it carries one ``errors`` entry ``{pointer, code, message}`` (code: ``field_code``, else the
    problem's; message: the ``message`` template, else the detail). A code names one problem:
    defining the same code twice is an error at import."""

    def __init__(
        self,
        status: int,
        code: str,
        about: str,
        *,
        detail: str | None = None,
        pointer: str | None = None,
        message: str | None = None,
        field_code: str | None = None,
        title: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.about = about
        self.detail = detail
        self.pointer = pointer
        self.message = message
        self.field_code = field_code or code
        self.title = title or HTTPStatus(status).phrase
        known = _DEFINED.get(code)
        if known is not None:
            raise AmbiguousProblem(f"problem code {code!r} is defined twice ({known!r} and {self!r})")
        _DEFINED[code] = self

    def __repr__(self) -> str:
        return f"NamedProblem({self.status}, {self.code!r})"

    def __call__(
        self,
        detail: str | None = None,
        /,
        *,
        pointer: str | None = None,
        message: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        **values: Any,
    ) -> Problem:
        if detail is None and self.detail is not None:
            detail = self.detail.format(**values)
        if pointer is None and self.pointer is not None:
            pointer = self.pointer.format(**values)
        if message is None and self.message is not None:
            message = self.message.format(**values)
        if errors is None and pointer is not None:
            errors = [
                {"pointer": pointer, "code": self.field_code, "message": message or detail or self.about}
            ]
        return Problem(self.status, self.code, detail, title=self.title, errors=errors, headers=headers)

    def body(self, detail: str | None = None, /, **values: Any) -> dict[str, Any]:
        """The problem as a body to embed in a resource (a failed job's `error`), not an answer."""
        p = self(detail, **values)
        return problem_body(p.status, p.code, p.detail, p.title, p.errors)

    def example(self) -> dict[str, Any]:
        """An example body (the OpenAPI `examples` of the routes that declare it)."""
        return {
            "type": PROBLEM_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.about,
            "code": self.code,
        }


_DEFINED: dict[str, NamedProblem] = {}


def defined_problems() -> list[NamedProblem]:
    """Every named problem defined so far (the `errors` modules define theirs at import)."""
    return list(_DEFINED.values())


def problem_body(
    status: int, code: str, detail: str | None = None, title: str | None = None, errors: list | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id_var.get(),
    }
    if errors:
        body["errors"] = errors
    return body


def problem_response(
    status: int,
    code: str,
    detail: str | None = None,
    *,
    title: str | None = None,
    errors: list | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, code, detail, title, errors),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def loc_to_pointer(loc: tuple | list) -> str:
    """FastAPI/pydantic error location → pointer (see module docstring)."""
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts[1:])
    if parts and parts[0] == "header" and len(parts) > 1:
        parts[1] = parts[1].lower()  # one spelling of a case-insensitive name, as the problems name it
    if parts and parts[0] in ("query", "path", "header", "cookie"):
        return "#/" + "/".join(parts)
    return "/" + "/".join(parts)


def validation_errors(errors: list[dict[str, Any]], prefix: tuple = ()) -> list[dict[str, str]]:
    out = []
    for e in errors:
        loc = tuple(prefix) + tuple(e.get("loc", ()))
        out.append(
            {"pointer": loc_to_pointer(loc), "code": e.get("type", "invalid"), "message": e.get("msg", "")}
        )
    return out


# ---- the kit's problems -------------------------------------------------------------------------
# Answered by the kit's machinery on any route they apply to (services.common.openapi declares
# them there) or raised by the kit's helpers on the routes that use them.

# The answer to an HTTP error raised by the framework, by status (a path no route serves, a method
# a route does not allow, a body FastAPI cannot read as text).
BadRequest = NamedProblem(400, "bad_request", "the body cannot be read as JSON text (not UTF-8)")
Unauthorized = NamedProblem(401, "unauthorized", "the request is not authenticated")
Forbidden = NamedProblem(403, "forbidden", "this caller may not do this")
NotFound = NamedProblem(404, "not_found", "no such record in your scope", detail="{what} {key} not found")
MethodNotAllowed = NamedProblem(405, "method_not_allowed", "the route does not allow this method")
NotAcceptable = NamedProblem(406, "not_acceptable", "no representation the caller accepts")
Conflict = NamedProblem(409, "conflict", "the request conflicts with the current state")
PayloadTooLarge = NamedProblem(
    413,
    "payload_too_large",
    "the body exceeds the body limit",
    detail="the request body exceeds {limit} bytes",
)
UnsupportedMediaType = NamedProblem(
    415,
    "unsupported_media_type",
    "the body's Content-Type is not JSON (`application/json`)",
    pointer="#/header/content-type",
    detail="the body must be sent as application/json, not {got}",
)
Unprocessable = NamedProblem(422, "unprocessable", "the request cannot be processed")
RateLimited = NamedProblem(429, "rate_limited", "too many requests from this caller; see Retry-After")
InternalError = NamedProblem(
    500, "internal_error", "an unexpected error", detail="an unexpected error occurred; quote the request_id"
)
BadGateway = NamedProblem(502, "bad_gateway", "an upstream answered something unexpected")
Unavailable = NamedProblem(503, "unavailable", "the service is unavailable")
UpstreamTimeout = NamedProblem(504, "upstream_timeout", "an upstream did not answer in time")
_BY_STATUS = {
    p.status: p
    for p in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        NotAcceptable,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        Unprocessable,
        RateLimited,
        InternalError,
        BadGateway,
        Unavailable,
        UpstreamTimeout,
    )
}

# The request itself.
MalformedJson = NamedProblem(
    400,
    "malformed_json",
    "the body is not well-formed JSON (the message gives the line and column)",
    pointer="",
    detail="the body is not well-formed JSON: {where}",
    message="{where}",
)
PreconditionFailed = NamedProblem(
    412,
    "precondition_failed",
    "If-Match names no current representation: the resource changed since it was read",
    pointer="#/header/if-match",
    detail="the resource has changed since the If-Match entity tag was issued; read it again",
    message="not the current entity tag",
)
ValidationFailed = NamedProblem(
    422, "validation_failed", "a parameter or a body field is not valid (a pointer for each)"
)
InvalidPath = NamedProblem(
    400, "invalid_path", "the path is one no parameter may hold (services.common.paths)", pointer="#/path"
)
InvalidHttpRequest = NamedProblem(400, "invalid_http_request", "the request is not valid HTTP/1.1")
HeadersTooLarge = NamedProblem(431, "headers_too_large", "the request's header fields are too large")
Required = NamedProblem(
    422, "required", "a required field is cleared", pointer="/{field}", detail="{field} cannot be {how}"
)

# The forwarded principal (every route behind `CurrentPrincipal`).
PrincipalMissing = NamedProblem(401, "principal_missing", "the route needs the forwarded principal")
PrincipalInvalid = NamedProblem(401, "principal_invalid", "the forwarded principal is not valid")
PrincipalExpired = NamedProblem(
    401,
    "principal_expired",
    "the forwarded principal has expired",
    detail="the forwarded principal has expired",
)
PRINCIPAL = (PrincipalMissing, PrincipalInvalid, PrincipalExpired)
RegionOutOfScope = NamedProblem(
    403,
    "region_out_of_scope",
    "the region asked for is outside the caller's region",
    message="outside your region",
    detail="region {region} is outside your region {own}",
)

# Lists, reads and writes.
InvalidCursor = NamedProblem(
    400,
    "invalid_cursor",
    "the cursor was not issued for this list, these filters and this caller",
    pointer="#/query/cursor",
    message="cursor was altered or truncated, or was issued for another list, other filters or "
    "another caller",
    detail="the cursor is not one this API issued for this list, these filters and this caller; "
    "start again without it",
)
# The change feed (`GET /v1/events` of every service).
CursorExpired = NamedProblem(
    410,
    "cursor_expired",
    "the events after this cursor have passed the feed's horizon; re-read the current state, "
    "then follow the feed again without a cursor",
    pointer="#/query/after",
    message="the events after this cursor are older than the feed keeps",
    detail="the events after this cursor are older than {days} days, the feed's horizon; read the "
    "current state from {resync}, then follow the feed again without `after`",
)
UnknownEventType = NamedProblem(
    422,
    "unknown_event_type",
    "a requested event type is not one of this feed's types",
    pointer="#/query/types",
    detail="{type!r} is not an event type of this feed (its types: {known})",
)
QueryTooBroad = NamedProblem(
    422,
    "query_too_broad",
    "the query ran past the read timeout and was cancelled; narrow it",
    detail="the query ran longer than {timeout_ms} ms and was cancelled; narrow it (a region, "
    "more of the name) or try again later",
)
TooManyExports = NamedProblem(
    429,
    "too_many_exports",
    "the caller runs as many exports as allowed already; see Retry-After",
    detail="you are running {running} exports already; start another when one has finished",
)
ExportsBusy = NamedProblem(
    429,
    "exports_busy",
    "every export connection stayed busy; see Retry-After",
    detail="every export connection stayed busy for {wait_s:g} s; try again shortly",
)
AlreadyExists = NamedProblem(409, "already_exists", "a record with the same unique key exists")
# A job's own failures, reported in its status resource's `error` (never a route's answer).
JobWorkerDied = NamedProblem(
    503,
    "job_worker_died",
    "the worker running the job stopped every time it was run",
    detail="the worker running this job stopped every time it was run ({runs} runs); start it again",
)
JobFailed = NamedProblem(
    500, "job_failed", "the job could not be completed", detail="the job could not be completed"
)
DatabaseUnavailable = NamedProblem(
    503,
    "database_unavailable",
    "the database is not reachable, restarting or failing over; nothing of the request was written: "
    "send it again after Retry-After",
    detail="the database is not reachable (restarting or failing over); nothing of this request was "
    "written: send it again after Retry-After",
)
# A transaction the database broke off to resolve a deadlock or a serialisation conflict with
# another: nothing of it was written, and the same request again goes through.
TransactionConflict = NamedProblem(
    503,
    "transaction_conflict",
    "the request met a concurrent one in the database and was rolled back; send it again",
    detail="the request met a concurrent one in the database and was rolled back, nothing written; send it again",
)
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
# A statement of the request's own transaction ran past EAGLET_DB__STATEMENT_TIMEOUT_MS (usually
# waiting behind another writer of the same rows, e.g. a bank's earlier batch still running) or a
# lock timeout: the database cancelled it and rolled the transaction back, so nothing was written
# and the same request later goes through. (The read pool's own timeout is 422 query_too_broad.)
DatabaseBusy = NamedProblem(
    503,
    "database_busy",
    "a statement of the request waited or ran past the database's time limit and was cancelled; "
    "nothing was written: send it again after Retry-After",
    detail="the request waited or ran longer than the database allows (another request of yours may "
    "still be running) and was rolled back, nothing written; send it again after Retry-After",
)
BUSY_SQLSTATES = frozenset({"57014", "55P03"})  # query_canceled (statement_timeout), lock_not_available

# Idempotency-Key (every POST that sends one).
_IDEMPOTENCY_KEY = "#/header/idempotency-key"
InvalidIdempotencyKey = NamedProblem(
    400,
    "invalid_idempotency_key",
    "the Idempotency-Key is not 1–255 characters of text",
    pointer=_IDEMPOTENCY_KEY,
)
IdempotencyInFlight = NamedProblem(
    409,
    "idempotency_in_flight",
    "a request with this Idempotency-Key is still being processed; see Retry-After",
    pointer=_IDEMPOTENCY_KEY,
)
IdempotencyKeyReused = NamedProblem(
    422,
    "idempotency_key_reused",
    "this Idempotency-Key was used with a different request",
    pointer=_IDEMPOTENCY_KEY,
    detail="this Idempotency-Key was used with a different request",
)
IDEMPOTENCY = (InvalidIdempotencyKey, IdempotencyInFlight, IdempotencyKeyReused)


def problem_for_status(status: int) -> NamedProblem | None:
    """The kit's answer to a framework HTTP error of this status."""
    return _BY_STATUS.get(status)


def code_for_status(status: int) -> str:
    named = _BY_STATUS.get(status)
    return named.code if named is not None else f"http_{status}"


# ---- unique violations ---------------------------------------------------------------------------
# The database is the one judge of uniqueness: a check made before the write passes for every one
# of several concurrent writers, the unique index refuses all but one. Whatever the route, the
# statement (ORM flush, Core, raw asyncpg) or the moment (during the route or at the unit of work's
# commit), a unique violation is the client's conflict: a 409 problem, never a 500.
UNIQUE_VIOLATION = "23505"
_KEY_COLUMNS = re.compile(r"^Key \((?P<columns>[^()]*)\)=")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class UniqueConflict:
    problem: NamedProblem
    pointer: str
    message: str


_UNIQUE_CONFLICTS: dict[str, UniqueConflict] = {}


def unique_conflict(constraint: str, problem: NamedProblem, pointer: str, message: str) -> None:
    """Say how a violation of this unique constraint reads to a client (the default:
    ``AlreadyExists``, a pointer at each of the constraint's columns). Declared by the module
    that owns the table, next to the rule it states; the routes that write the table declare
    `problem` (they answer it when they lose a race)."""
    _UNIQUE_CONFLICTS[constraint] = UniqueConflict(problem, pointer, message)


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """`exc` and every error behind it, each once: SQLAlchemy's wraps the driver's (`orig`), and
    causes and contexts."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]


def _unique_violation(exc: BaseException) -> Any | None:
    """The driver's unique-violation error behind `exc` (SQLAlchemy wraps asyncpg's), or None."""
    return next((e for e in _chain(exc) if isinstance(e, asyncpg.UniqueViolationError)), None)


def conflict_problem(violation: Any) -> Problem:
    """The 409 problem for a driver unique-violation error (no SQL, no constraint names)."""
    declared = _UNIQUE_CONFLICTS.get(violation.constraint_name or "")
    if declared is not None:
        return declared.problem(declared.message, pointer=declared.pointer)
    match = _KEY_COLUMNS.match(violation.detail or "")
    columns = [c.strip() for c in match["columns"].split(",")] if match else []
    if not columns or not all(_IDENTIFIER.match(c) for c in columns):
        return AlreadyExists("a record with the same unique key already exists")
    message = f"a record with this {' and '.join(columns)} already exists"
    return AlreadyExists(
        message,
        errors=[{"pointer": f"/{c}", "code": AlreadyExists.code, "message": message} for c in columns],
    )


# ---- the database going away -------------------------------------------------------------------
# A connection lost mid-statement, a server that refuses connections or is not there, one that is
# shutting down or starting up, or a standby not yet promoted (read-only): the request's
# transaction is gone and PostgreSQL committed none of it (a transaction is atomic: a backend that
# dies before COMMIT completes leaves nothing), so the same request again is safe. Wherever it
# happens — a route, a fast route, the Idempotency-Key claim, a read-pool statement — it is the
# 503 problem `database_unavailable` with Retry-After (`EAGLET_DB__RETRY_AFTER_S`), never a 500.
# One exception: a COMMIT whose acknowledgement was lost with the connection may have committed;
# the writes are upserts on natural keys or carry an Idempotency-Key, so a retry stores nothing twice.
UNAVAILABLE_SQLSTATES = frozenset(
    {
        "57P01",  # admin_shutdown: the server is stopping (pg_ctl stop, a failover's old primary)
        "57P02",  # crash_shutdown: another backend crashed, this one is terminated
        "57P03",  # cannot_connect_now: the server is starting up or in recovery
        "25006",  # read_only_sql_transaction: a standby not yet promoted took the write
    }
)


def connection_error(exc: BaseException | None) -> bool:
    """Whether `exc` (or the driver error behind it: SQLAlchemy wraps asyncpg's) says the database
    is away rather than the statement wrong (see above)."""
    return any(_says_gone(e) for e in _chain(exc))


def _says_gone(e: BaseException) -> bool:
    """One error of the chain, read on its own: does it say the database is away?"""
    if isinstance(e, asyncpg.PostgresConnectionError):  # class 08: connection exceptions
        return True
    if getattr(e, "sqlstate", None) in UNAVAILABLE_SQLSTATES and isinstance(e, asyncpg.PostgresError):
        return True
    if isinstance(e, asyncpg.InterfaceError) and "connection" in str(e) and "closed" in str(e):
        return True  # asyncpg: "connection is closed" (used after the server went away)
    if isinstance(e, (ConnectionError, socket.gaierror, TimeoutError)):
        return True  # refused, reset, no such host, the connect timeout
    if isinstance(e, FileNotFoundError) and e.filename is None:
        return True  # a Unix socket that is not there (a server stopped); a file names itself
    if isinstance(e, DBAPIError) and e.connection_invalidated:
        return True
    return False


def _sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", exc)  # SQLAlchemy's error wraps the driver's
    return getattr(orig, "sqlstate", None) or getattr(orig.__cause__, "sqlstate", None)


def database_problem(exc: BaseException, retry_after_s: int) -> Problem | None:
    """The answer to a request the database refused without a fault of the request — away
    (`connection_error`), busy (`BUSY_SQLSTATES`) or breaking a conflict (`RETRYABLE_SQLSTATES`):
    each a 503 to send again, nothing written; None for any other error (ours: a 500)."""
    sqlstate = _sqlstate(exc)
    if sqlstate in BUSY_SQLSTATES:
        return DatabaseBusy(headers={"Retry-After": str(retry_after_s)})
    if sqlstate in RETRYABLE_SQLSTATES:
        return TransactionConflict(headers={"Retry-After": "1"})
    if connection_error(exc):
        return unavailable_problem(retry_after_s)
    return None


def unavailable_problem(retry_after_s: int) -> Problem:
    """The answer to a request the database went away from (`connection_error`)."""
    return DatabaseUnavailable(headers={"Retry-After": str(retry_after_s)})


def retry_after_s(app: Any) -> int:
    settings = getattr(getattr(app, "state", None), "settings", None)
    return settings.db.retry_after_s if settings is not None else DEFAULT_RETRY_AFTER_S


DEFAULT_RETRY_AFTER_S = 2


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status, exc.code, exc.detail, title=exc.title, errors=exc.errors, headers=exc.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else None
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route for {request.method} {request.url.path}"
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            method = request.scope.get(REQUESTED_METHOD, request.method)
            detail = f"{method} is not allowed on {request.url.path}"
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request.app, request.scope))}
        return problem_response(exc.status_code, code_for_status(exc.status_code), detail, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        refused = body_refusal(request, exc)
        if refused is not None:
            return await _problem(request, refused)
        errors = validation_errors(list(exc.errors()))
        first = errors[0] if errors else None
        detail = f"{first['pointer']}: {first['message']}" if first else "the request is not valid"
        if len(errors) > 1:
            detail += f" (and {len(errors) - 1} more)"
        p = ValidationFailed(detail, errors=errors)
        return problem_response(p.status, p.code, p.detail, title=p.title, errors=p.errors)

    @app.exception_handler(IntegrityError)
    @app.exception_handler(asyncpg.UniqueViolationError)
    async def _unique(request: Request, exc: Exception) -> JSONResponse:
        violation = _unique_violation(exc)
        if violation is None:  # another broken constraint: ours, not the client's (a 500)
            raise exc
        return await _problem(request, conflict_problem(violation))

    @app.exception_handler(asyncpg.DeadlockDetectedError)
    @app.exception_handler(asyncpg.SerializationError)
    @app.exception_handler(asyncpg.QueryCanceledError)
    @app.exception_handler(asyncpg.LockNotAvailableError)
    @app.exception_handler(DBAPIError)
    async def _conflict(request: Request, exc: Exception) -> JSONResponse:
        p = database_problem(exc, retry_after_s(request.app))
        if p is None:
            raise exc  # another database error: ours, a 500
        return await _problem(request, p)

    @app.exception_handler(asyncpg.PostgresConnectionError)
    @app.exception_handler(asyncpg.OperatorInterventionError)
    @app.exception_handler(asyncpg.ReadOnlySQLTransactionError)
    @app.exception_handler(asyncpg.InterfaceError)
    @app.exception_handler(OSError)
    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        if not connection_error(exc):
            raise exc
        return await _problem(request, unavailable_problem(retry_after_s(request.app)))

    # Unhandled exceptions become a 500 problem in RequestContextMiddleware (it knows the request
    # id) — or the 503 above when the database went away outside a route (connection_error).


# ---- what FastAPI's own answers leave out -------------------------------------------------------
# The method a request was made with, when the kit routes it as another (HEAD is routed as GET:
# services.common.head), so that a 405 names what the caller sent.
REQUESTED_METHOD = "eaglet.requested_method"
_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(app: Any, scope: dict[str, Any]) -> list[str]:
    """Every method some route of `app` serves on this path (Starlette's 405 names only the first
    route matching the path: `GET` for a path that also takes `PATCH`). HEAD wherever GET is
    (services.common.head answers it)."""
    table = getattr(app.state, "allow_table", None)
    if table is None:
        from fastapi.routing import iter_route_contexts
        from starlette.routing import compile_path

        table = [
            (compile_path(route.path)[0], frozenset(route.methods))
            for route in iter_route_contexts(app.routes)
            if route.methods and route.path
        ]
        app.state.allow_table = table
    path = scope["path"]
    methods: set[str] = set()
    for regex, route_methods in table:
        if regex.match(path):
            methods |= route_methods
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods, key=lambda m: (_METHOD_ORDER.index(m) if m in _METHOD_ORDER else 99, m))


def is_json(content_type: str | None) -> bool:
    """`application/json` or `application/<anything>+json`, parameters aside (FastAPI's rule for
    reading a body as JSON)."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def line_column(text: str, pos: int) -> str:
    pos = max(0, min(pos, len(text)))
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line} column {column}"


def body_refusal(request: Request, exc: RequestValidationError) -> Problem | None:
    """A body FastAPI could not take as JSON at all: sent as another media type (415, FastAPI
    reads it as bytes and the model refuses them), or not well-formed (400 with pointer `""`, the
    document, and the line and column; FastAPI reports a character offset as if it were a field)."""
    route = request.scope.get("route")
    for e in exc.errors():
        if e.get("type") == "json_invalid":
            loc = tuple(e.get("loc", ()))
            pos = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else 0
            doc = exc.body if isinstance(exc.body, str) else ""
            reason = (e.get("ctx") or {}).get("error") or "not JSON"
            return MalformedJson(where=f"{line_column(doc, pos)}: {reason}")
    if getattr(route, "body_field", None) is not None:
        content_type = request.headers.get("content-type")
        length = request.headers.get("content-length")
        has_body = (length is not None and length != "0") or "transfer-encoding" in request.headers
        if has_body and not is_json(content_type):
            got = (content_type or "").split(";", 1)[0].strip()[:100]
            if not got:
                return UnsupportedMediaType(
                    "the body must be sent as application/json (no Content-Type was sent)"
                )
            return UnsupportedMediaType(got=got.encode("ascii", "backslashreplace").decode())
    return None


def responses(*problems: NamedProblem) -> dict[int | str, dict[str, Any]]:
    """A route's OpenAPI `responses` for the named problems it answers, by status: the problem
    schema, each code in `x-problem-codes`, in the description and as an example."""
    out: dict[int | str, dict[str, Any]] = {}
    for p in problems:
        if not isinstance(p, NamedProblem):
            raise TypeError(f"responses() takes named problems, not {p!r}")
        add_problem(out.setdefault(p.status, {}), p)
    return out


def add_problem(response: dict[str, Any], p: NamedProblem) -> None:
    """Add a named problem to one OpenAPI response object (a route's or a merged document's)."""
    codes = response.setdefault(PROBLEM_CODES, [])
    if p.code in codes:
        return
    codes.append(p.code)
    description = response.get("description") or HTTPStatus(p.status).phrase
    response["description"] = f"{description}\n- `{p.code}`: {p.about}"
    media = response.setdefault("content", {}).setdefault(PROBLEM_JSON, {})
    media["schema"] = {"$ref": "#/components/schemas/ProblemDetail"}
    media.setdefault("examples", {})[p.code] = {"summary": p.about, "value": p.example()}


# The OpenAPI extension on a problem response that lists the problem codes it may carry.
PROBLEM_CODES = "x-problem-codes"

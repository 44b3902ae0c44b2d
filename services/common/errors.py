"""RFC 9457 problem details for every error a process returns.

Body: ``type``, ``title``, ``status``, ``detail``, ``code`` (stable machine code), ``request_id``
and, for field problems, ``errors: [{pointer, code, message}]``.

Pointers: a JSON Pointer into the request body (``/records/3/amount``); for parameters the
location comes first, as a URI fragment: ``#/query/limit``, ``#/path/credit_code``,
``#/header/idempotency-key``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
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


def not_found(what: str, key: str) -> Problem:
    return Problem(404, "not_found", f"{what} {key} not found")


def field_problem(status: int, code: str, pointer: str, message: str, detail: str | None = None) -> Problem:
    """A problem about one field of the request."""
    return Problem(
        status, code, detail or message, errors=[{"pointer": pointer, "code": code, "message": message}]
    )


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


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "unavailable",
    504: "upstream_timeout",
}


def code_for_status(status: int) -> str:
    return _STATUS_CODES.get(status, f"http_{status}")


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
    code: str
    pointer: str
    message: str


_UNIQUE_CONFLICTS: dict[str, UniqueConflict] = {}


def unique_conflict(constraint: str, code: str, pointer: str, message: str) -> None:
    """Say how a violation of this unique constraint reads to a client (the default: code
    ``already_exists``, a pointer at each of the constraint's columns). Declared by the module
    that owns the table, next to the rule it states."""
    _UNIQUE_CONFLICTS[constraint] = UniqueConflict(code, pointer, message)


def _unique_violation(exc: BaseException) -> Any | None:
    """The driver's unique-violation error behind `exc` (SQLAlchemy wraps asyncpg's), or None."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, asyncpg.UniqueViolationError):
            return e
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]
    return None


def conflict_problem(violation: Any) -> Problem:
    """The 409 problem for a driver unique-violation error (no SQL, no constraint names)."""
    declared = _UNIQUE_CONFLICTS.get(violation.constraint_name or "")
    if declared is not None:
        return field_problem(409, declared.code, declared.pointer, declared.message)
    match = _KEY_COLUMNS.match(violation.detail or "")
    columns = [c.strip() for c in match["columns"].split(",")] if match else []
    if not columns or not all(_IDENTIFIER.match(c) for c in columns):
        return Problem(409, "already_exists", "a record with the same unique key already exists")
    message = f"a record with this {' and '.join(columns)} already exists"
    return Problem(
        409,
        "already_exists",
        message,
        errors=[{"pointer": f"/{c}", "code": "already_exists", "message": message} for c in columns],
    )


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
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return problem_response(
            exc.status_code, code_for_status(exc.status_code), detail, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(list(exc.errors()))
        first = errors[0] if errors else None
        detail = f"{first['pointer']}: {first['message']}" if first else "the request is not valid"
        if len(errors) > 1:
            detail += f" (and {len(errors) - 1} more)"
        return problem_response(422, "validation_failed", detail, errors=errors)

    @app.exception_handler(IntegrityError)
    @app.exception_handler(asyncpg.UniqueViolationError)
    async def _unique(request: Request, exc: Exception) -> JSONResponse:
        violation = _unique_violation(exc)
        if violation is None:  # another broken constraint: ours, not the client's (a 500)
            raise exc
        return await _problem(request, conflict_problem(violation))

    # Unhandled exceptions become a 500 problem in RequestContextMiddleware (it knows the request id).


# Every route documents these; routes add their own specific ones.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemDetail, "content": {PROBLEM_JSON: {}}, "description": HTTPStatus(status).phrase}
    for status in (400, 401, 403, 404, 409, 413, 422, 500)
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the given problem statuses."""
    return {
        s: {"model": ProblemDetail, "content": {PROBLEM_JSON: {}}, "description": HTTPStatus(s).phrase}
        for s in statuses
    }

"""What the kit itself answers on a route, written into that route's OpenAPI `responses`.

Every error a route can return is documented. Some come from the kit's machinery rather than from
the route's own code, so the route cannot be expected to list them; they are added here, once,
for every operation they apply to (the problems themselves are defined in services.common.errors):

- every operation answers 431 ``headers_too_large`` when its request line and header fields
  exceed 16 KiB (the kit's HTTP protocol, ``services.common.server``: a long query or header
  value of 4-byte characters, percent-encoded, passes that before its own length limit);
- an operation with parameters or a body answers 422 ``validation_failed`` with a pointer per
  field (FastAPI's request validation);
- an operation with a request body answers 400 ``malformed_json`` (pointer ``""``, line and
  column in the message) when the body is not well-formed JSON, 400 ``bad_request`` when it cannot
  be read as JSON text at all (bytes that are not UTF-8: FastAPI's "error parsing the body"), 415
  ``unsupported_media_type`` when it is sent as another media type than JSON, and 413
  ``payload_too_large`` when the body exceeds the body limit (``BodyLimitMiddleware``);
- an operation with a path parameter answers 400 ``invalid_path`` for a path no parameter may hold
  (the path rule, ``services.common.paths``: not UTF-8, dot segments, a final line feed);
- an operation with query parameters answers 431 ``headers_too_large`` when they make the request
  line longer than the server's limit (``services.common.server``: request line and headers);
- an operation behind the forwarded principal answers its 401 problems (missing, invalid, expired)
  and, for a POST, the ``Idempotency-Key`` problems (``IdempotencyMiddleware``);
- a writing operation that runs a unit of work answers 409 ``already_exists`` when the database
  refuses a duplicate (the kit's unique-violation handler) and the table declares no problem of
  its own for it;
- every operation answers 431 ``headers_too_large`` when the request line and headers exceed the
  server's limit (``services.common.server``: a long query string, a huge cursor).

A route's own entry for a status is kept; the kit's codes are added to it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic.json_schema import models_json_schema

from services.common.db import unit_of_work
from services.common.errors import (
    IDEMPOTENCY,
    PRINCIPAL,
    PROBLEM_CODES,
    AlreadyExists,
    BadRequest,
    HeadersTooLarge,
    InvalidPath,
    MalformedJson,
    NamedProblem,
    PayloadTooLarge,
    ProblemDetail,
    UnsupportedMediaType,
    ValidationFailed,
    add_problem,
)

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
WRITES = ("post", "put", "patch", "delete")
PRINCIPAL_SCHEME = "EagletPrincipal"


def document_kit_responses(app: FastAPI) -> None:
    """Make ``app.openapi()`` add the kit's own answers to every operation they apply to."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = add_kit_responses(build(), _units_of_work(app))
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def _runs_unit_of_work(dependant: Dependant) -> bool:
    return any(d.call is unit_of_work or _runs_unit_of_work(d) for d in dependant.dependencies)


def _units_of_work(app: FastAPI) -> set[str]:
    """The operation ids of the routes that write through the unit of work."""
    return {
        route.unique_id
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
        and {m.lower() for m in route.methods} & set(WRITES)
        and _runs_unit_of_work(route.dependant)
    }


def kit_problems(method: str, op: dict[str, Any], writes: bool = False) -> list[NamedProblem]:
    """The kit's own answers that apply to an operation."""
    params = op.get("parameters", ())
    out: list[NamedProblem] = [HeadersTooLarge]
    if any(p.get("in") == "path" for p in params):
        out.append(InvalidPath)
    if any(p.get("in") == "query" for p in params):
        out.append(HeadersTooLarge)
    if params or "requestBody" in op:
        out.append(ValidationFailed)
    if "requestBody" in op:
        out += [MalformedJson, BadRequest, UnsupportedMediaType, PayloadTooLarge]
    if any(PRINCIPAL_SCHEME in s for s in op.get("security", ())):
        out += PRINCIPAL
        if method == "post":
            out += IDEMPOTENCY
    if writes:
        out.append(AlreadyExists)
    return out


def add_kit_responses(doc: dict[str, Any], units_of_work: set[str] = frozenset()) -> dict[str, Any]:
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    _, defs = models_json_schema(
        [(ProblemDetail, "serialization")], ref_template="#/components/schemas/{model}"
    )
    for name, schema in defs.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    for item in (doc.get("paths") or {}).values():
        for method, op in item.items():
            if method not in METHODS:
                continue
            responses = op.setdefault("responses", {})
            validation = responses.get("422")
            if validation is not None and PROBLEM_CODES not in validation:
                del responses["422"]  # FastAPI's own entry (HTTPValidationError): the kit's answers it
            for p in kit_problems(method, op, op.get("operationId") in units_of_work):
                add_problem(responses.setdefault(str(p.status), {}), p)
    return doc

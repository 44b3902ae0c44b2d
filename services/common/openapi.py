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

The kit also completes the document as a contract (``complete_contract``): every POST it claims an
``Idempotency-Key`` for (``IdempotencyMiddleware``: a POST behind a caller's credential) declares
the header, and its 409 ``idempotency_in_flight`` the ``Retry-After``; an operation with a summary
and no description is described by its summary; schemas no operation reaches are dropped (FastAPI's
``HTTPValidationError``: the kit answers 422 with a problem); an integer says its ``format``: int32
or int64 as its own ``minimum``/``maximum`` allow, and int64 in what only answers carry (PostgreSQL
integer and bigint values, and counts of rows).
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
    IdempotencyInFlight,
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
SCHEMA_REF = "#/components/schemas/"
# What the kit's middleware reads (services.common.idempotency), declared where it is honoured.
IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes a retry safe: the same key with the same request answers the stored "
    "response (`Idempotent-Replayed: true`); with another request, 422 `idempotency_key_reused`; "
    "while the first still runs, 409 `idempotency_in_flight` with `Retry-After`. Keys are per "
    "caller and kept for `EAGLET_IDEMPOTENCY_RETENTION_H` hours.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "example": "5f0c2a4e-9d1b-4c1e-8a57-2b1d6f3e9a10",
}
HEADER_REF = "#/components/headers/"
RETRY_AFTER_HEADER = {
    "description": "Seconds to wait before trying again",
    "schema": {"type": "integer", "format": "int64", "minimum": 0},
}


def use_header(doc: dict[str, Any], response: dict[str, Any], name: str, header: dict[str, Any]) -> None:
    """Declare header `name` on `response`, as a reference to its one definition in the document's
    `components.headers`."""
    doc.setdefault("components", {}).setdefault("headers", {})[name] = header
    response.setdefault("headers", {})[name] = {"$ref": HEADER_REF + name}


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
    if honours_idempotency_key(method, op):
        out += IDEMPOTENCY
    if writes:
        out.append(AlreadyExists)
    return out


# The schemes a caller is established by: a service's forwarded principal, the gateway's bearer
# credential at its own routes (gateway/idempotency.py).
CALLER_SCHEMES = (PRINCIPAL_SCHEME, "bearerAuth")


def honours_idempotency_key(method: str, op: dict[str, Any]) -> bool:
    """Whether the kit's IdempotencyMiddleware claims keys for this operation: a POST behind a
    caller's credential."""
    return method == "post" and any(scheme in s for s in op.get("security", ()) for scheme in CALLER_SCHEMES)


def add_kit_responses(doc: dict[str, Any], units_of_work: set[str] = frozenset()) -> dict[str, Any]:
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    _, defs = models_json_schema(
        [(ProblemDetail, "serialization")], ref_template="#/components/schemas/{model}"
    )
    for name, schema in defs.get("$defs", {}).items():
        # the kit's one definition (a route's `responses` may have made FastAPI write its own, in
        # another mode): the same in every document, so the merged one keeps it once
        schemas[name] = schema
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
    return complete_contract(doc)


def complete_contract(doc: dict[str, Any]) -> dict[str, Any]:
    """The parts of the contract the kit knows for every operation (module docstring)."""
    for item in (doc.get("paths") or {}).values():
        for method, op in item.items():
            if method not in METHODS:
                continue
            if not op.get("description") and op.get("summary"):
                op["description"] = op["summary"]
            if honours_idempotency_key(method, op):
                params = op.setdefault("parameters", [])
                if not any(p.get("name", "").lower() == "idempotency-key" for p in params):
                    params.append(dict(IDEMPOTENCY_KEY_PARAMETER))
            in_flight = op.get("responses", {}).get(str(IdempotencyInFlight.status))
            if in_flight is not None and IdempotencyInFlight.code in in_flight.get(PROBLEM_CODES, ()):
                use_header(doc, in_flight, "Retry-After", RETRY_AFTER_HEADER)
    drop_unused_schemas(doc)
    integer_formats(doc)
    return doc


INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


def _integers(node: Any, answer: bool) -> None:
    """Give each integer schema under `node` its format (see the module docstring)."""
    if isinstance(node, list):
        for v in node:
            _integers(v, answer)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "integer" and "format" not in node:
        low, high = node.get("minimum"), node.get("maximum")
        if low is not None and high is not None and INT32[0] <= low and high <= INT32[1]:
            node["format"] = "int32"
        elif (low is not None and high is not None and INT64[0] <= low and high <= INT64[1]) or answer:
            node["format"] = "int64"
    for k, v in node.items():
        if k not in ("examples", "example", "default", "const", "enum"):
            _integers(v, answer)


def integer_formats(doc: dict[str, Any]) -> None:
    schemas = doc.get("components", {}).get("schemas") or {}
    asked: set[str] = set()
    for item in (doc.get("paths") or {}).values():
        for method, op in item.items():
            if method in METHODS:
                _refs({"p": op.get("parameters", []), "b": op.get("requestBody", {})}, asked)
                _integers(op.get("parameters", []), answer=False)
                _integers(op.get("requestBody", {}), answer=False)
                _integers(op.get("responses", {}), answer=True)
    todo, sent = list(asked), set()
    while todo:  # every schema a request may carry, through its references
        name = todo.pop()
        if name in sent or name not in schemas:
            continue
        sent.add(name)
        todo += _refs(schemas[name], set())
    for name, schema in schemas.items():
        _integers(schema, answer=name not in sent)


def _refs(node: Any, out: set[str]) -> set[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_REF):
            out.add(ref[len(SCHEMA_REF) :])
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)
    return out


def drop_unused_schemas(doc: dict[str, Any]) -> None:
    """Remove the component schemas that nothing outside them reaches, directly or through others."""
    schemas = doc.get("components", {}).get("schemas")
    if not schemas:
        return
    outside = {k: v for k, v in doc.items() if k != "components"}
    outside["components"] = {k: v for k, v in doc["components"].items() if k != "schemas"}
    todo = list(_refs(outside, set()))
    reached: set[str] = set()
    while todo:
        name = todo.pop()
        if name in reached or name not in schemas:
            continue
        reached.add(name)
        todo += _refs(schemas[name], set())
    for name in list(schemas):
        if name not in reached:
            del schemas[name]

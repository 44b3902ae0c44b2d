"""What the kit itself answers on a route, written into that route's OpenAPI `responses`.

Every error a route can return is documented. Some come from the kit's machinery rather than from
the route's own code, so the route cannot be expected to list them; they are added here, once,
for every operation they apply to:

- an operation with a request body answers 400 ``bad_request`` when the body cannot be read as
  JSON text at all (bytes that are not UTF-8: FastAPI's "error parsing the body") — malformed JSON
  in valid text is a 422 ``validation_failed`` with a pointer, documented by FastAPI itself;
- and 413 ``payload_too_large`` when the body exceeds the body limit (``BodyLimitMiddleware``);
- an operation with a path parameter answers 400 ``invalid_path`` for a path no parameter may hold
  (the path rule, ``services.common.paths``: not UTF-8, dot segments, a final line feed).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema

from services.common.errors import PROBLEM_JSON, ProblemDetail

BODY_STATUSES = (400, 413)
PATH_STATUSES = (400,)
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def document_kit_responses(app: FastAPI) -> None:
    """Make ``app.openapi()`` add the kit's own answers to every operation they apply to (an
    operation's own entry for a status is kept)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        return add_kit_responses(build())

    app.openapi = openapi  # type: ignore[method-assign]


def _statuses(op: dict[str, Any]) -> tuple[int, ...]:
    """The kit's own answers that apply to an operation."""
    out: tuple[int, ...] = ()
    if any(p.get("in") == "path" for p in op.get("parameters", ())):
        out += PATH_STATUSES
    if "requestBody" in op:
        out += BODY_STATUSES
    return out


def add_kit_responses(doc: dict[str, Any]) -> dict[str, Any]:
    ops = [
        (op, statuses)
        for item in (doc.get("paths") or {}).values()
        for method, op in item.items()
        if method in METHODS and (statuses := _statuses(op))
    ]
    if not ops:
        return doc
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    _, defs = models_json_schema(
        [(ProblemDetail, "serialization")], ref_template="#/components/schemas/{model}"
    )
    for name, schema in defs.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    for op, statuses in ops:
        responses = op.setdefault("responses", {})
        for status in statuses:
            responses.setdefault(
                str(status),
                {
                    "description": HTTPStatus(status).phrase,
                    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}},
                },
            )
    return doc

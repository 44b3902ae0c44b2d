"""What the kit itself answers on a route, written into that route's OpenAPI `responses`.

Every error a route can return is documented. Some come from the kit's machinery rather than from
the route's own code, so the route cannot be expected to list them; they are added here, once,
for every operation they apply to:

- an operation with a request body answers 400 ``bad_request`` when the body cannot be read as
  JSON text at all (bytes that are not UTF-8: FastAPI's "error parsing the body") — malformed JSON
  in valid text is a 422 ``validation_failed`` with a pointer, documented by FastAPI itself;
- and 413 ``payload_too_large`` when the body exceeds the body limit (``BodyLimitMiddleware``).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema

from services.common.errors import PROBLEM_JSON, ProblemDetail

BODY_STATUSES = (400, 413)
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def document_kit_responses(app: FastAPI) -> None:
    """Make ``app.openapi()`` add the kit's own answers to every operation they apply to (an
    operation's own entry for a status is kept)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        return add_kit_responses(build())

    app.openapi = openapi  # type: ignore[method-assign]


def add_kit_responses(doc: dict[str, Any]) -> dict[str, Any]:
    with_body = [
        op
        for item in (doc.get("paths") or {}).values()
        for method, op in item.items()
        if method in METHODS and "requestBody" in op
    ]
    if not with_body:
        return doc
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    _, defs = models_json_schema(
        [(ProblemDetail, "serialization")], ref_template="#/components/schemas/{model}"
    )
    for name, schema in defs.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    for op in with_body:
        responses = op.setdefault("responses", {})
        for status in BODY_STATUSES:
            responses.setdefault(
                str(status),
                {
                    "description": HTTPStatus(status).phrase,
                    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}},
                },
            )
    return doc

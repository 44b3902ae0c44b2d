"""Query strings validated as one pydantic model, for routes on hot read paths.

FastAPI resolves every declared query parameter per request with type introspection, which on a
hot list costs more than the query it runs (docs/architecture.md#measurements). A route
that uses `QueryModel(Model)` validates `request.query_params` against the model in one pydantic
call instead, and publishes the same parameters in OpenAPI (`openapi_extra=query_docs(Model)`).
Errors are the usual 422 problem with `#/query/<name>` pointers.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import QueryParams

M = TypeVar("M", bound=BaseModel)


def QueryModel(model: type[BaseModel]) -> Any:  # noqa: N802 - used like FastAPI's Query()/Depends()
    async def parse(request: Request) -> BaseModel:  # async: no thread-pool hop per request
        try:
            return scope_query(model, request.scope)
        except ValidationError as e:
            raise RequestValidationError(
                [{**err, "loc": ("query", *err["loc"])} for err in e.errors(include_url=False)]
            ) from None

    parse.query_model = model  # type: ignore[attr-defined]  # what the dependency validates (tests walk it)
    return Depends(parse)


def scope_query(model: type[M], scope: Any) -> M:
    """The request's query string validated as `model` (pydantic's ValidationError otherwise);
    repeated parameters: the last one counts, as in Starlette's `request.query_params`."""
    return model.model_validate(dict(QueryParams(scope["query_string"])))


def query_docs(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` declaring the model's fields as query parameters."""
    schema = model.model_json_schema()
    if "$defs" in schema:
        raise TypeError(f"{model.__name__}: query parameters must be plain values, not nested models")
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return {"parameters": parameters}

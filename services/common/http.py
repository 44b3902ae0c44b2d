"""Serialising a route's result once (every service's hot read and batch routes).

FastAPI turns a returned pydantic model into a dict, validates that dict against the route's
response model and serialises it again. Routes on the hot read paths build their model once (it is
valid by construction) and return it as JSON bytes with `json_response`, keeping `response_model`
on the decorator for the OpenAPI document. Results built as plain data (JSON types only: the
batch answers) go out with `json_data_response`, the same compact UTF-8 JSON.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response
from pydantic import BaseModel


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


def json_data_response(data: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status_code, media_type="application/json")

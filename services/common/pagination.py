"""Keyset pagination with opaque, signed cursors.

A list orders by a tuple of columns that is unique (end with the primary key) and the cursor
holds the last row's values of that tuple, signed so a tampered cursor is a 400 problem.
"""

from __future__ import annotations

import base64
import hmac
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, StringConstraints
from sqlalchemy import Select, tuple_
from sqlalchemy.sql.elements import ColumnElement

from services.common.errors import Problem
from services.common.settings import get_settings
from services.common.types import text

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    limit: int
    cursor: str | None


async def page_params(  # async: no thread-pool hop per request
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (max 500)")] = DEFAULT_LIMIT,
    cursor: Annotated[
        text(StringConstraints(max_length=2048)) | None,
        Query(description="Opaque cursor from the previous page's next_cursor"),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


Pagination = Annotated[PageParams, Depends(page_params)]


def _sign(payload: bytes) -> str:
    key = get_settings().cursor_key.get_secret_value().encode()
    return base64.urlsafe_b64encode(hmac.digest(key, payload, "sha256")[:12]).decode().rstrip("=")


def _encode_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return {"t": v.isoformat()}
    if isinstance(v, date):
        return {"d": v.isoformat()}
    if isinstance(v, Decimal):
        return {"n": str(v)}
    return v


def _decode_value(v: Any) -> Any:
    if isinstance(v, dict):
        if "t" in v:
            return datetime.fromisoformat(v["t"])
        if "d" in v:
            return date.fromisoformat(v["d"])
        if "n" in v:
            return Decimal(v["n"])
    return v


def encode_cursor(values: list[Any] | tuple[Any, ...]) -> str:
    payload = json.dumps([_encode_value(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _sign(payload)


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    bad = Problem(
        400,
        "invalid_cursor",
        "the cursor is not one this API issued; start again without it",
        errors=[
            {
                "pointer": "#/query/cursor",
                "code": "invalid_cursor",
                "message": "cursor was altered or truncated",
            }
        ],
    )
    try:
        body, sig = cursor.rsplit(".", 1)
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if not hmac.compare_digest(sig, _sign(payload)):
            raise bad
        values = json.loads(payload)
    except Problem:
        raise
    except Exception as e:
        raise bad from e
    if not isinstance(values, list) or len(values) != arity:
        raise bad
    return [_decode_value(v) for v in values]


def keyset(stmt: Select, order: list[ColumnElement], params: PageParams, descending: bool = False) -> Select:
    """Apply keyset ordering, the cursor position and limit+1 (to know whether a next page exists)."""
    if params.cursor:
        values = decode_cursor(params.cursor, len(order))
        key = tuple_(*order)
        stmt = stmt.where(key < tuple_(*values) if descending else key > tuple_(*values))
    stmt = stmt.order_by(*[c.desc() if descending else c.asc() for c in order])
    return stmt.limit(params.limit + 1)


def page_of(rows: list[Any], params: PageParams, key_of) -> tuple[list[Any], str | None]:
    """Trim the extra row and build the next cursor from the last row kept."""
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        return rows, encode_cursor(list(key_of(rows[-1])))
    return rows, None

"""Keyset pagination with opaque, signed cursors bound to the list they were issued for.

A list orders by a tuple of columns that is unique (end with the primary key) and the cursor holds
the last row's values of that tuple. The cursor is signed together with the list's *binding*: a
digest of the endpoint (service and operation id), the filters that shaped the list (its path
parameters and every query parameter but `cursor` and `limit`) and the caller (subject, kind, org,
region). So a cursor that was altered or truncated, or that is presented to another list, with
other filters or by another caller, fails its signature: a 400 `invalid_cursor` problem, never
another caller's rows or a 500. The binding is not written into the cursor (nothing to read, no
extra length). The values a cursor carries are checked against the types the list orders by.
"""

# No `from __future__ import annotations`: the annotations of `page_params` name its closure's
# `caller`, which FastAPI could not resolve from a string.
import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, StringConstraints
from sqlalchemy import Select, tuple_
from sqlalchemy.sql.elements import ColumnElement

from services.common.auth import Principal, get_principal
from services.common.errors import InvalidCursor, Problem
from services.common.settings import get_settings
from services.common.types import text

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
PAGING = frozenset({"cursor", "limit"})  # the query parameters that do not shape a list


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    limit: int
    cursor: str | None
    # `cursor_binding(...)` of the list: needed to read the cursor or issue the next one.
    binding: str | None = None


def cursor_binding(endpoint: str, caller: Principal | None, filters: Any = ()) -> str:
    """The digest a list's cursors are signed with: the endpoint (`<service>.<operation id>`), the
    filters that shaped the list (any JSON data, e.g. `list_filters(...)`) and the caller."""
    who = None if caller is None else [caller.sub, caller.kind, caller.org, caller.region]
    data = json.dumps([endpoint, filters, who], separators=(",", ":"), sort_keys=True, default=str)
    return hashlib.sha256(data.encode()).hexdigest()


def list_filters(path: Mapping[str, Any], query: Iterable[tuple[str, str]]) -> list:
    """A request's filters as `page_params` binds them: the path parameters and the query
    parameters except `cursor` and `limit`, as sent (in a stable order)."""
    return [
        sorted((k, str(v)) for k, v in path.items()),
        sorted((k, v) for k, v in query if k not in PAGING),
    ]


def page_params_for(caller: Callable[..., Any]):
    """The `?limit=&cursor=` dependency of lists whose caller the dependency `caller` gives (a
    `Principal`): the page is bound to the route, the request's filters and that caller."""

    async def page_params(  # async: no thread-pool hop per request
        request: Request,
        principal: Annotated[Principal, Depends(caller)],
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (max 500)")] = DEFAULT_LIMIT,
        cursor: Annotated[
            text(StringConstraints(max_length=2048)) | None,
            Query(
                description="Opaque cursor from the previous page's next_cursor; valid only for the "
                "same list, with the same filters, for the same caller",
            ),
        ] = None,
    ) -> PageParams:
        endpoint = f"{request.app.state.service}.{request.scope['route'].name}"
        filters = list_filters(request.path_params, request.query_params.multi_items())
        return PageParams(limit=limit, cursor=cursor, binding=cursor_binding(endpoint, principal, filters))

    return page_params


page_params = page_params_for(get_principal)
Pagination = Annotated[PageParams, Depends(page_params)]


def _binding(page: PageParams) -> bytes:
    if not page.binding:
        raise RuntimeError("a page needs its binding (cursor_binding) to read or issue cursors")
    return page.binding.encode()


def _sign(binding: bytes, payload: bytes, key: bytes | None = None) -> str:
    key = key or get_settings().cursor_key.get_secret_value().encode()
    digest = hmac.digest(key, binding + b"." + payload, "sha256")[:12]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _signed_by_us(sig: str, binding: bytes, payload: bytes) -> bool:
    """Signed with the cursor key, or the one being retired (a rotation: docs/operations.md)."""
    keys = get_settings().verifying_keys("cursor_key")
    return any(hmac.compare_digest(sig, _sign(binding, payload, k)) for k in keys)


def _encode_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return {"t": v.isoformat()}
    if isinstance(v, date):
        return {"d": v.isoformat()}
    if isinstance(v, Decimal):
        return {"n": str(v)}
    if isinstance(v, uuid.UUID):
        return {"u": str(v)}
    return v


# How a value of each type a list orders by is written in a cursor (tag of a typed value, or the
# JSON type itself); `object`: any JSON value (an order column without a known Python type).
_TAGGED: dict[type, tuple[str, Callable[[str], Any]]] = {
    datetime: ("t", datetime.fromisoformat),
    date: ("d", date.fromisoformat),
    Decimal: ("n", Decimal),
    uuid.UUID: ("u", uuid.UUID),
}


def _decode_value(v: Any, expected: type) -> Any:
    """The value as `expected`, or ValueError (bool is not an int, a datetime not a date)."""
    if expected in _TAGGED:
        tag, parse = _TAGGED[expected]
        if isinstance(v, dict) and len(v) == 1 and isinstance(v.get(tag), str):
            return parse(v[tag])
    elif expected is object or type(v) is expected:
        return v
    raise ValueError(f"cursor value {v!r} is not a {expected.__name__}")


def invalid_cursor() -> Problem:
    return InvalidCursor()


def encode_cursor(page: PageParams, values: Sequence[Any]) -> str:
    """The cursor after the row whose order values are `values`, for the list `page` belongs to."""
    payload = json.dumps([_encode_value(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _sign(_binding(page), payload)


def decode_cursor(page: PageParams, types: Sequence[type]) -> list[Any]:
    """The values of `page.cursor`, one of each of `types`; a 400 problem unless the cursor was
    issued for this list (endpoint, filters and caller) and carries exactly such values."""
    binding = _binding(page)
    try:
        body, sig = (page.cursor or "").rsplit(".", 1)
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        # The signature first: nothing in the cursor is parsed before it is known to be ours.
        if not _signed_by_us(sig, binding, payload):
            raise invalid_cursor()
        values = json.loads(payload)
        if not isinstance(values, list) or len(values) != len(types):
            raise invalid_cursor()
        return [_decode_value(v, t) for v, t in zip(values, types, strict=True)]
    except Problem:
        raise
    except Exception as e:
        raise invalid_cursor() from e


def _python_type(column: ColumnElement) -> type:
    try:
        return column.type.python_type
    except NotImplementedError:
        return object


def keyset(stmt: Select, order: list[ColumnElement], params: PageParams, descending: bool = False) -> Select:
    """Apply keyset ordering, the cursor position and limit+1 (to know whether a next page exists)."""
    if params.cursor:
        values = decode_cursor(params, [_python_type(c) for c in order])
        key = tuple_(*order)
        stmt = stmt.where(key < tuple_(*values) if descending else key > tuple_(*values))
    stmt = stmt.order_by(*[c.desc() if descending else c.asc() for c in order])
    return stmt.limit(params.limit + 1)


def page_of(rows: list[Any], params: PageParams, key_of) -> tuple[list[Any], str | None]:
    """Trim the extra row and build the next cursor from the last row kept."""
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        return rows, encode_cursor(params, list(key_of(rows[-1])))
    return rows, None

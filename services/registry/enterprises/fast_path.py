"""The enterprise list (and search) and the detail, answered in front of FastAPI's router.

They are the registry's hottest reads: officials' list screens and search box, and every
enterprise profile the gateway assembles. The common case makes the same calls as the routes in
`router.py` — principal and kind check, query model, repository, serialisation in `schemas.py` —
without FastAPI's per-request dependency solving (see `services/common/fast_path.py`); anything
they would refuse goes on to the route, which answers with its problem. This module never imports
the router: both sit on the same repository and schema functions.
"""

from __future__ import annotations

from typing import Any

from services.common.auth import check_kind, scope_principal
from services.common.credit_code import check_credit_code
from services.common.fast_path import FastRoute, exact
from services.common.query import scope_query
from services.common.readpool import reader
from services.registry.enterprises.repository import list_page, one_row
from services.registry.enterprises.schemas import ListQuery, detail_json, page_json
from services.registry.scope import DIRECTORY_READERS, MANAGERS

DETAIL_PREFIX = "/v1/enterprises/"


async def _list(app: Any, scope: dict) -> bytes:
    principal = check_kind(scope_principal(scope, app.state.settings), MANAGERS)
    query = scope_query(ListQuery, scope)
    rows, cursor = await list_page(reader(app, principal), principal, query, query.page(principal))
    return page_json(rows, cursor)


def _detail_path(path: str) -> tuple | None:
    """`/v1/enterprises/{credit_code}` with a valid code (anything else is the routes' business)."""
    if not path.startswith(DETAIL_PREFIX):
        return None
    code = check_credit_code(path[len(DETAIL_PREFIX) :])
    return (code.normalized,) if code.valid else None


async def _detail(app: Any, scope: dict, code: str) -> bytes | None:
    # An unknown code (or one outside the caller's region) is found by the query: the route then
    # runs it again to answer its 404 — the price of keeping problems defined in one place.
    principal = check_kind(scope_principal(scope, app.state.settings), DIRECTORY_READERS)
    # On the primary (as the route's `CallerPrimaryReads`): the record right after a PATCH.
    row = await one_row(reader(app, principal, primary=True), principal, code)
    return None if row is None else detail_json(row, principal)


ROUTES = (
    FastRoute("/v1/enterprises", exact("/v1/enterprises"), _list),
    FastRoute("/v1/enterprises/{credit_code}", _detail_path, _detail, conditional=True),
)

"""The enterprise list (and search) and the detail, answered in front of FastAPI's router.

They are the registry's hottest reads: officials' list screens and search box, and every
enterprise profile the gateway assembles. The common case runs the same functions as the routes in
`router.py` — principal, kind check, query model, statements — without FastAPI's per-request
dependency solving (see `services/common/fast_path.py`); anything they would refuse goes on to the
route, which answers with its problem.
"""

from __future__ import annotations

from typing import Any

from services.common.auth import check_kind, scope_principal
from services.common.credit_code import check_credit_code
from services.common.fast_path import FastRoute, exact
from services.common.query import scope_query
from services.registry.enterprises.listing import one_json
from services.registry.enterprises.router import ListQuery, list_json
from services.registry.scope import DIRECTORY_READERS, MANAGERS

DETAIL_PREFIX = "/v1/enterprises/"


async def _list(app: Any, scope: dict) -> bytes:
    principal = check_kind(scope_principal(scope, app.state.settings), MANAGERS)
    return await list_json(app, principal, scope_query(ListQuery, scope))


def _detail_path(path: str) -> tuple | None:
    """`/v1/enterprises/{credit_code}` with a valid code (anything else is the routes' business)."""
    if not path.startswith(DETAIL_PREFIX):
        return None
    code = check_credit_code(path[len(DETAIL_PREFIX) :])
    return (code.normalized,) if code.valid else None


async def _detail(app: Any, scope: dict, code: str) -> bytes:
    # An unknown code (or one outside the caller's region) is found by the query: the route then
    # runs it again to answer its 404 — the price of keeping problems defined in one place.
    principal = check_kind(scope_principal(scope, app.state.settings), DIRECTORY_READERS)
    return await one_json(app, principal, code)


ROUTES = (
    FastRoute("/v1/enterprises", exact("/v1/enterprises"), _list),
    FastRoute("/v1/enterprises/{credit_code}", _detail_path, _detail),
)

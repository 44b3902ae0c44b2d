"""Hot GET routes answered in front of FastAPI's router, for the common case only.

FastAPI 0.16x's routing, exception and dependency layers cost more Python per request than a hot
read's own work (figures: docs/architecture.md#measurements). A service may therefore register a
`FastRoute` for a hot GET: a pure function of the request that answers the plain, successful case
with a JSON body, or declines by returning None — or by raising a `Problem` or a pydantic
`ValidationError` — and the request then goes on to the FastAPI route unchanged. A problem marked
`final` (a statement that ran past the read timeout) is answered here instead: the route would only
do the same work again. The route stays the one definition of validation, problems and the OpenAPI;
a fast route makes the same calls as the route (principal, kind check, query model, the reader of
`services/common/readpool.py`, repository, serialisation in the schema module) and never imports the
router module, so the two cannot drift, and each service's tests hold the fast answer byte for byte
to the route's.

The layer sits just inside the kit's request-context middleware: a fast answer still carries the
request id and is counted in the metrics under the route's template.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common import conditional
from services.common.errors import Problem, problem_response

# (service app, ASGI scope, path arguments) → the 200 JSON body, or None to let the route answer.
Answer = Callable[..., Awaitable[bytes | None]]


@dataclass(frozen=True)
class FastRoute:
    path: str  # the FastAPI route's template: metrics and the access log name the route by it
    match: Callable[[str], tuple | None]  # request path → path arguments, or None: not this route
    answer: Answer
    # A single resource: the answer carries its ETag and `If-None-Match` gets the 304, exactly
    # as the route answers them (services.common.conditional).
    conditional: bool = False


def exact(path: str) -> Callable[[str], tuple | None]:
    """A matcher for a path without parameters."""
    return lambda requested: () if requested == path else None


class FastPathMiddleware:
    def __init__(self, app: ASGIApp, service_app: Any, routes: Sequence[FastRoute]) -> None:
        self.app = app
        self.service_app = service_app
        self.routes = tuple(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path = scope["path"]
            for route in self.routes:
                args = route.match(path)
                if args is None:
                    continue
                try:
                    body = await route.answer(self.service_app, scope, *args)
                except Problem as p:
                    if getattr(p, "final", False):
                        scope["route"] = route
                        answer = problem_response(
                            p.status, p.code, p.detail, title=p.title, errors=p.errors, headers=p.headers
                        )
                        await answer(scope, receive, send)
                        return
                    body = None  # the route answers it, with its problem
                except ValidationError:
                    body = None
                if body is not None and route.conditional:
                    if_none_match = _if_none_match(scope)
                    if not conditional.readable(if_none_match):
                        body = None  # the route answers the header's 422
                if body is not None:
                    scope["route"] = route  # stands in for the APIRoute: metrics read `.path`
                    if route.conditional:
                        status, headers, body = conditional.answer(body, if_none_match)
                    else:
                        status, headers = (
                            200,
                            [
                                (b"content-length", str(len(body)).encode()),
                                (b"content-type", b"application/json"),
                            ],
                        )
                    await send({"type": "http.response.start", "status": status, "headers": headers})
                    await send({"type": "http.response.body", "body": body})
                    return
                break
        await self.app(scope, receive, send)


def _if_none_match(scope: Scope) -> str | None:
    """The header as the route reads it (the first field of that name)."""
    for k, v in scope["headers"]:
        if k == b"if-none-match":
            return v.decode("latin-1")
    return None

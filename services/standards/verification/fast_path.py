"""Public verification's common case answered in front of FastAPI's router.

`GET /v1/public/certifications/{no}` is the public's hot path (a QR code on every certified
product points at it). FastAPI's routing, exception and dependency layers cost more Python than the
lookup itself, so this pure-ASGI layer (inside the kit's request-id, metrics and body-limit
middleware) answers the plain case itself: a number (and optional `certifier`) of ordinary
characters that identifies exactly one certificate. Everything else — odd characters, unknown
numbers (404), a number several bodies issued (409), other query parameters — goes on to the
FastAPI route in `router.py`, which stays the one definition of validation, errors and the OpenAPI.
The body is built by the same `service.public` and `service.encode` as the route's, so both answer byte for byte alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from services.standards.certifications.service import today_shanghai
from services.standards.verification import repository as repo
from services.standards.verification.router import VERIFY_PATH
from services.standards.verification.service import encode, public

PREFIX = "/v1/public/certifications/"
# Ordinary certificate numbers and body codes: nothing the route's validation could reject or strip.
PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}")


@dataclass(frozen=True)
class RouteTemplate:
    """What the kit's metrics and access log read of a matched route."""

    path: str


class PublicVerificationFastPath:
    def __init__(self, app: ASGIApp, service_app: Any) -> None:
        self.app = app
        self.service_app = service_app
        self.route = RouteTemplate(VERIFY_PATH)  # metrics and logs name the route's template

    def _plain_request(self, scope: Scope) -> tuple[str, str | None] | None:
        """(number, certifier) when the request is the plain case, else None."""
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].startswith(PREFIX):
            return None
        number = scope["path"][len(PREFIX) :]
        if not PLAIN.fullmatch(number) or number == "lookup":
            return None
        certifier = None
        if scope.get("query_string"):
            params = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
            if len(params) != 1 or params[0][0] != "certifier" or not PLAIN.fullmatch(params[0][1]):
                return None
            certifier = params[0][1]
        return number, certifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        plain = self._plain_request(scope)
        if plain is not None:
            rows = await repo.by_number(self.service_app, *plain)
            if len(rows) == 1:
                body = encode(public(rows[0], today_shanghai()))
                scope["route"] = self.route
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-length", str(len(body)).encode()),
                            (b"content-type", b"application/json"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

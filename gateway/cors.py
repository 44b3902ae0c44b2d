"""Cross-origin calls from browsers (the Fetch standard's CORS protocol), for the origins
configured in `EAGLET_CORS__ORIGINS` (development: the local dev servers, `gateway/settings.py`).

Two layers, both pure ASGI and both around everything the gateway answers — proxied calls, its own
routes, its refusals (401, 403, 404, 413, 429, 5xx) — so a page can read every answer's problem:

- `CorsHeaders`, the outermost layer: on every answer to an allowed `Origin` it adds
  `Access-Control-Allow-Origin` (that origin) and `Access-Control-Expose-Headers`; on a preflight's
  answer also the allowed methods and request headers and `Access-Control-Max-Age`. Every answer
  says `Vary: Origin`, so a cache never hands one origin's answer to another. Any other origin —
  unknown, `null`, with control characters, absent — gets no CORS header at all.
- `Preflights`, just inside the request context (so it carries a request id and is logged):
  answers a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) itself, 204
  with no body for an allowed origin, a 403 problem `origin_not_allowed` without CORS headers for
  any other. It asks for no credential (browsers never send one on a preflight) and takes no
  rate-limit token: a page behind one office's NAT sends a preflight before many of its calls, and
  counting them against the address would refuse the calls themselves; the answer is a constant
  built without a lookup, cheaper than the 429 would be. Browsers keep it `max_age_s`.

The allowed request headers and methods are answered whatever the preflight asks for: the browser
compares them itself. No `Access-Control-Allow-Credentials`: callers send `Authorization` (allowed
as a request header), never cookies, which the gateway never passes on.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import OriginNotAllowed
from gateway.vary import add_vary
from services.common.errors import problem_response

ALLOW_METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE"
ALLOW_HEADERS = b"Authorization, Content-Type, Idempotency-Key, If-Match, If-None-Match, X-Request-ID"
# What a page may read of an answer besides the CORS-safelisted headers.
EXPOSE_HEADERS = (
    b"X-Request-ID, ETag, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After, "
    b"Idempotent-Replayed, Location, Content-Disposition"
)


class CorsPolicy:
    def __init__(self, origins: frozenset[str], max_age_s: int) -> None:
        self.origins = frozenset(o.encode("ascii") for o in origins)
        self.max_age = str(max_age_s).encode()

    @property
    def enabled(self) -> bool:
        return bool(self.origins)

    def origin(self, scope: Scope) -> bytes | None:
        """The request's `Origin` when it is an allowed one (compared byte for byte with the
        configured, lower-cased origins; browsers send them lower-case). Whitespace around a
        field value is not part of it (RFC 9110 §5.5): trimmed here, whichever HTTP parser the
        server runs."""
        for k, v in scope["headers"]:
            if k == b"origin":
                v = v.strip(b" \t")
                return v if v in self.origins else None
        return None

    @staticmethod
    def is_preflight(scope: Scope) -> bool:
        if scope["method"] != "OPTIONS":
            return False
        names = {k for k, _ in scope["headers"]}
        return b"origin" in names and b"access-control-request-method" in names


class CorsHeaders:
    def __init__(self, app: ASGIApp, policy: CorsPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.policy.enabled:
            await self.app(scope, receive, send)
            return
        origin = self.policy.origin(scope)
        preflight = origin is not None and self.policy.is_preflight(scope)

        async def cors_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = add_vary(list(message.get("headers", ())), b"Origin")
                if origin is not None:
                    headers.append((b"access-control-allow-origin", origin))
                    if preflight:
                        headers += [
                            (b"access-control-allow-methods", ALLOW_METHODS),
                            (b"access-control-allow-headers", ALLOW_HEADERS),
                            (b"access-control-max-age", self.policy.max_age),
                        ]
                    else:
                        headers.append((b"access-control-expose-headers", EXPOSE_HEADERS))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, cors_send)


class Preflights:
    def __init__(self, app: ASGIApp, policy: CorsPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not CorsPolicy.is_preflight(scope):
            await self.app(scope, receive, send)
            return
        scope["route"] = _PREFLIGHT  # metrics and the access log: one template for all of them
        if self.policy.origin(scope) is None:
            p = OriginNotAllowed()
            await problem_response(p.status, p.code, p.detail, title=p.title)(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


class _Route:
    path = "preflight"


_PREFLIGHT = _Route()

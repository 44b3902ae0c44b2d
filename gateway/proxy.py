"""Routing `/registry/v1/*`, `/finance/v1/*`, `/standards/v1/*` to the services (pure ASGI).

The policy is matched on the path the service will route on, and that path goes upstream
(`services.common.paths`). Bodies stream both ways (small request bodies are buffered, which also
makes them retryable; a streamed upload the caller breaks off is aborted, see `ClientBody`),
hop-by-hop headers are stripped, cookies never cross, a `Location` never names a service's own
address, `X-Forwarded-*` are set, the request id is kept, and the caller's credential is replaced
by the signed `X-Eaglet-Principal`.
"""

from __future__ import annotations

import logging

import aiohttp
from multidict import CIMultiDict
from starlette.types import ASGIApp, Receive, Scope, Send
from yarl import URL

from gateway import policy
from gateway.core import Gateway
from gateway.upstream import ClientBody, UpstreamError, client_disconnected
from services.common import paths
from services.common.auth import PRINCIPAL_HEADER
from services.common.errors import NotFound, Problem, problem_response
from services.common.submissions import SUBMISSIONS_PATH

log = logging.getLogger("eaglet.gateway.proxy")

PREFIXES = ("/registry/", "/finance/", "/standards/")
# Never forwarded upstream: hop-by-hop, the caller's credential and cookies, and headers we set.
DROP_REQUEST = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
        b"authorization",
        b"cookie",
        b"x-eaglet-principal",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-forwarded-prefix",
        b"forwarded",
        b"x-request-id",
    }
)
DROP_RESPONSE = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"transfer-encoding",
        b"trailer",
        b"upgrade",
        b"set-cookie",
        b"server",
        b"date",
        b"x-request-id",
    }
)
INLINE_BODY = 8 * 1024 * 1024  # responses up to this size (with a length) are sent in one ASGI message


class _Route:
    """What the metrics middleware reads from scope["route"]: the policy rule's template."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


class ProxyMiddleware:
    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway
        self._routes: dict[str, _Route] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIXES):
            await self.app(scope, receive, send)
            return
        try:
            await self._proxy(scope, receive, send)
        except Problem as p:
            await problem_response(
                p.status, p.code, p.detail, title=p.title, errors=p.errors, headers=p.headers
            )(scope, receive, send)
        except UpstreamError as e:
            p = e.problem()
            await problem_response(p.status, p.code, p.detail, title=p.title, headers=p.headers)(
                scope, receive, send
            )

    async def _proxy(self, scope: Scope, receive: Receive, send: Send) -> None:
        gw = self.gateway
        # The policy decides on the path the service will route on, and that path is forwarded.
        path, encoded = paths.normalise(paths.raw_path(scope))
        service, _, rest = path[1:].partition("/")
        rest = "/" + rest
        method: str = scope["method"]
        gw.routes.check(service, method, rest, path)  # a wrong method: 405, before credentials
        rule = policy.match(service, method, rest)
        if rule is None:
            raise NotFound(f"no route for {method} {path}")
        route = self._routes.get(rule.path)
        if route is None:
            route = self._routes[rule.path] = _Route(rule.path)
        scope["route"] = route

        authorization = None
        idempotency = False
        content_length: int | None = None
        chunked = False
        host = None
        forward: list[tuple[str, str]] = []
        for k, v in scope["headers"]:
            if k in DROP_REQUEST:
                if k == b"authorization":
                    authorization = v.decode("latin-1")
                elif k == b"content-length":
                    content_length = int(v) if v.isdigit() else None
                elif k == b"transfer-encoding":
                    chunked = True
                elif k == b"host":
                    host = v.decode("latin-1")
                continue
            if k == b"idempotency-key":
                idempotency = True
            forward.append((k.decode("latin-1"), v.decode("latin-1")))

        address = gw.client_address(scope)
        admission = await gw.admit(rule, method, authorization, address.ip)
        rid = scope.get("state", {}).get("request_id")
        headers = CIMultiDict(forward)
        if rid:
            headers["X-Request-ID"] = rid
        if admission.caller is not None:
            headers[PRINCIPAL_HEADER] = gw.signer.sign(admission.caller.principal, rid)
        headers["X-Forwarded-For"] = address.forwarded_for
        headers["X-Forwarded-Proto"] = scope.get("scheme", "http")
        if host:
            headers["X-Forwarded-Host"] = host
        headers["X-Forwarded-Prefix"] = "/" + service

        upstream = gw.upstreams[service]
        # a file submission streams through whatever its key (its service honours the key itself)
        streamed = encoded[1 + len(service) :] == SUBMISSIONS_PATH
        retryable = method in ("GET", "HEAD") or (method == "POST" and idempotency and not streamed)
        has_body = chunked or bool(content_length)
        data = None
        if has_body:
            if content_length is not None and (
                content_length <= gw.gw.upstream.buffer_body_bytes or retryable
            ):
                data = await _read_body(receive)
            else:
                data = ClientBody(receive)
                retryable = False
        query = paths.requote_query(scope.get("query_string", b""))
        url = upstream.url(encoded[1 + len(service) :], query)
        resp = await upstream.open(method, url, headers, data, retryable)
        try:
            await self._respond(resp, send, admission.decision.headers(), upstream.name)
        except UpstreamError:
            if isinstance(data, ClientBody) and data.fault is not None:
                raise data.fault from None  # the upload broke off on the caller's side
            raise
        finally:
            resp.release()

    def _location(self, value: bytes, service: str) -> bytes:
        """A redirect never names a service's internal address: a Location at an upstream (absolute,
        or a path on the answering service) is rewritten under the gateway's prefix for it."""
        location = value.decode("latin-1")
        if location.startswith("/") and not location.startswith("//"):
            return f"/{service}{location}".encode("latin-1")
        try:
            target = URL(location)
        except ValueError:
            return value
        if target.host is None:
            return value  # relative to the gateway's own URL, which is already under the prefix
        for name, upstream in self.gateway.upstreams.items():
            base = upstream.base
            if (target.host.lower(), target.port) != ((base.host or "").lower(), base.port):
                continue
            rest = target.raw_path_qs
            prefix = base.raw_path.rstrip("/")
            if rest == prefix or rest.startswith((prefix + "/", prefix + "?")):
                rest = rest[len(prefix) :]
            return f"/{name}{rest if rest.startswith('/') else '/' + rest}".encode("latin-1")
        return value

    async def _respond(self, resp: aiohttp.ClientResponse, send: Send, extra, upstream: str) -> None:
        out = [
            (lk, self._location(v, upstream) if lk == b"location" else v)
            for k, v in resp.raw_headers
            if (lk := k.lower()) not in DROP_RESPONSE
        ]
        out.extend(extra)
        length = resp.content_length
        if length is not None and length <= INLINE_BODY:
            try:
                body = await resp.read()
            except (TimeoutError, aiohttp.ClientError) as e:
                raise UpstreamError(
                    upstream, "timeout" if isinstance(e, TimeoutError) else "unavailable"
                ) from e
            await send({"type": "http.response.start", "status": resp.status, "headers": out})
            await send({"type": "http.response.body", "body": body})
            return
        if length is None:
            out = [(k, v) for k, v in out if k != b"content-length"]
        await send({"type": "http.response.start", "status": resp.status, "headers": out})
        try:
            async for chunk in resp.content.iter_chunked(64 * 1024):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except (TimeoutError, aiohttp.ClientError):
            log.warning("upstream %s broke off a streamed response", upstream)
            raise
        await send({"type": "http.response.body", "body": b""})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise client_disconnected()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)

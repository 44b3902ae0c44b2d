"""The merged OpenAPI: the gateway's own routes and every service's `/v1` operations under their
prefixes (`/registry/v1/…`), operation ids and schema names prefixed (`registry_…`), the internal
`X-Eaglet-Principal` scheme replaced by Bearer auth, public routes without security. A service that
was down when the document was built is asked again (at most every `openapi_refresh_s`)."""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from typing import Any

import aiohttp

from gateway import policy
from gateway.core import Gateway
from gateway.errors import ADMISSION, UPSTREAM
from services.common.errors import Forbidden, add_problem

log = logging.getLogger("eaglet.gateway.openapi")
BEARER = "bearerAuth"
INTERNAL_SCHEMES = {"EagletPrincipal"}
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _rewrite_refs(node: Any, prefix: str) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#/components/schemas/"):
                out[k] = "#/components/schemas/" + prefix + v.rsplit("/", 1)[1]
            else:
                out[k] = _rewrite_refs(v, prefix)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, prefix) for v in node]
    return node


def merge(own: dict[str, Any], services: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    doc = copy.deepcopy(own)
    paths = doc.setdefault("paths", {})
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemes = components.setdefault("securitySchemes", {})
    schemes[BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`egk_…`) for machine clients, or an OIDC JWT for people",
    }
    tags = {t["name"]: t for t in doc.get("tags", [])}
    missing = []
    for service, spec in services.items():
        if spec is None:
            missing.append(service)
            continue
        prefix = f"{service}_"
        spec = _rewrite_refs(spec, prefix)
        for name, schema in (spec.get("components", {}).get("schemas") or {}).items():
            schemas[prefix + name] = schema
        for path, item in (spec.get("paths") or {}).items():
            if not path.startswith("/v1/"):
                continue  # health and metrics of a service are not exposed through the gateway
            new_item = {}
            for method, op in item.items():
                if method not in METHODS:
                    new_item[method] = op
                    continue
                op = dict(op)
                if op.get("operationId"):
                    op["operationId"] = prefix + op["operationId"]
                op["tags"] = [f"{service}: {t}" for t in op.get("tags", [])] or [service]
                for t in op["tags"]:
                    tags.setdefault(t, {"name": t})
                op["parameters"] = [
                    p for p in op.get("parameters", []) if p.get("name", "").lower() != "x-eaglet-principal"
                ]
                if not op["parameters"]:
                    del op["parameters"]
                rule = policy.match(service, method.upper(), path)
                public = rule is not None and rule.public
                # What the gateway itself may answer before or instead of the service. A public
                # route still checks a credential that is sent (401, and 403 for a person's token
                # that maps to no eaglet principal) and is rate-limited, per caller or per IP (429);
                # only a route behind the policy is refused by it (403 `forbidden`).
                refusals = [p for p in ADMISSION if not (public and p is Forbidden)]
                if public:
                    op["security"] = []
                else:
                    op["security"] = [{BEARER: []}]
                    if rule is not None:
                        allowed = ", ".join(sorted(rule.allow))
                        op["description"] = (op.get("description") or "") + f"\n\nGateway policy: {allowed}."
                responses = op.setdefault("responses", {})
                for problem in (*refusals, *UPSTREAM):
                    add_problem(responses.setdefault(str(problem.status), {}), problem)
                new_item[method] = op
            paths[f"/{service}{path}"] = new_item
    for name in INTERNAL_SCHEMES:
        schemes.pop(name, None)
    doc["tags"] = list(tags.values())
    info = doc.setdefault("info", {})
    if missing:
        info["x-eaglet-missing-services"] = missing
    return doc


class MergedOpenApi:
    def __init__(self, gw: Gateway, own) -> None:
        self.gw = gw
        self.own = own  # callable returning the gateway's own OpenAPI dict
        self.specs: dict[str, dict | None] = {name: None for name in gw.upstreams}
        self.merged: dict | None = None
        self.last_try = 0.0
        self.fetched_at = 0.0  # when every service's document was last fetched (monotonic)
        self._lock = asyncio.Lock()
        self._refreshing: asyncio.Task | None = None

    async def _fetch(self, service: str) -> dict | None:
        # Straight on the upstream's session, past its breaker: fetched in the background (at
        # start, and when the route table finds it missing or old), a document is nobody's call,
        # and its failures must not open the circuit for the callers (nor an open one keep the
        # document from being fetched).
        up = self.gw.upstreams[service]
        assert up.session is not None
        try:
            async with up.session.get(
                up.url("/openapi.json"), headers={"Accept": "application/json"}, allow_redirects=False
            ) as resp:
                if resp.status != 200:
                    return None
                return await resp.json(content_type=None)
        except (aiohttp.ClientError, ValueError, TimeoutError, OSError) as e:
            log.warning("openapi of %s unavailable: %s", service, e)
            return None

    async def document(self) -> dict:
        now = time.monotonic()
        if self.merged is not None and now - self.fetched_at > self.gw.gw.openapi_max_age_s:
            self.forget()  # a service may have been deployed with other routes since
        if self.merged is not None and all(self.specs.values()):
            return self.merged
        if self.merged is not None and now - self.last_try < self.gw.gw.openapi_refresh_s:
            return self.merged
        async with self._lock:
            if self.merged is None or now - self.last_try >= self.gw.gw.openapi_refresh_s:
                self.last_try = time.monotonic()
                missing = [s for s, spec in self.specs.items() if spec is None]
                fetched = await asyncio.gather(*(self._fetch(s) for s in missing))
                for s, spec in zip(missing, fetched, strict=True):
                    self.specs[s] = spec
                    self.gw.routes.load(s, spec)
                if all(self.specs.values()):
                    self.fetched_at = time.monotonic()
                self.merged = merge(self.own(), self.specs)
        return self.merged

    def forget(self) -> None:
        """Fetch every service's document again on the next request (after a deploy)."""
        self.specs = {name: None for name in self.specs}
        self.merged = None

    def refresh_soon(self) -> None:
        """Build the document (and the route table) in the background, unless that is running."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.get_running_loop().create_task(self.document())

    async def stop(self) -> None:
        if self._refreshing is not None and not self._refreshing.done():
            self._refreshing.cancel()
            try:
                await self._refreshing
            except (asyncio.CancelledError, Exception):
                pass

"""The merged OpenAPI: the gateway's own routes and every service's `/v1` operations under their
prefixes (`/registry/v1/…`), operation ids prefixed (`registry_…`), the internal
`X-Eaglet-Principal` scheme replaced by Bearer auth, public routes without security. A service that
was down when the document was built is asked again (at most every `openapi_refresh_s`).

Schemas: one the gateway and the services (or several services) define alike (the kit's
`ProblemDetail`, `BatchResponse`…) is kept once under its own name; any other service schema is
prefixed with its service (`finance_LoanIn`). Every schema's `title` is its name in this document,
so that generated clients, which name types by title, see no two alike.

What the gateway adds to every route it limits (its own behind a credential, every proxied one):
the 429 `rate_limited` problem, `RateLimit-Limit`/`-Remaining`/`-Reset` on the answers (taken after
the credential is checked: not on a 401), `Retry-After` on 429 and on 503 `upstream_unavailable`;
and on every answer `Access-Control-Allow-Origin` (for a configured origin, gateway/cors.py). Each
header is defined once in `components.headers`.

A gateway aggregate's part that is a service's answer names that service's operation
(`PART_OF`, on the field); here the part becomes a `$ref` to that operation's own schema."""

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
from gateway.profile.schemas import PART_OF
from services.common.errors import PROBLEM_CODES, Forbidden, RateLimited, add_problem
from services.common.openapi import RETRY_AFTER_HEADER, SCHEMA_REF, drop_unused_schemas, use_header

log = logging.getLogger("eaglet.gateway.openapi")
BEARER = "bearerAuth"
INTERNAL_SCHEMES = {"EagletPrincipal"}
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": "Requests the caller's bucket holds (its burst)",
    "RateLimit-Remaining": "Requests left in the bucket now",
    "RateLimit-Reset": "Seconds until the bucket is full again",
}
UPSTREAM_UNAVAILABLE = "upstream_unavailable"


def _rewrite_refs(node: Any, rename: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith(SCHEMA_REF):
                name = v[len(SCHEMA_REF) :]
                out[k] = SCHEMA_REF + rename.get(name, name)
            else:
                out[k] = _rewrite_refs(v, rename)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, rename) for v in node]
    return node


def _schema_refs(node: Any) -> set[str]:
    found: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            ref = n.get("$ref")
            if isinstance(ref, str) and ref.startswith(SCHEMA_REF):
                found.add(ref[len(SCHEMA_REF) :])
            stack += n.values()
        elif isinstance(n, list):
            stack += n
    return found


def shared_schemas(documents: list[dict[str, Any]]) -> set[str]:
    """Schema names that more than one document defines, identically in each, and whose every
    reference is itself shared (so the one copy means the same in every document)."""
    versions: dict[str, list[Any]] = {}
    for d in documents:
        for name, schema in (d.get("components", {}).get("schemas") or {}).items():
            versions.setdefault(name, []).append(schema)
    shared = {n for n, vs in versions.items() if len(vs) > 1 and all(v == vs[0] for v in vs[1:])}
    changed = True
    while changed:
        changed = False
        for name in list(shared):
            if not _schema_refs(versions[name][0]) <= shared:
                shared.discard(name)
                changed = True
    return shared


def _response_schema(spec: dict[str, Any], operation_id: str) -> dict[str, Any] | None:
    for item in (spec.get("paths") or {}).values():
        for method, op in item.items():
            if method in METHODS and op.get("operationId") == operation_id:
                ok = op.get("responses", {}).get("200", {})
                return ok.get("content", {}).get("application/json", {}).get("schema")
    return None


def _type_parts(
    schemas: dict[str, Any], specs: dict[str, dict[str, Any]], renames: dict[str, dict[str, str]]
) -> None:
    """Each aggregate field marked `PART_OF`: a `$ref` to its operation's schema (module doc); left
    untyped when that service's document is missing."""
    for schema in schemas.values():
        for prop in (schema.get("properties") or {}).values():
            part = prop.pop(PART_OF, None)
            spec = specs.get(part["service"]) if part else None
            if spec is None:
                continue
            answer = _response_schema(spec, part["operationId"]) or {}
            name = answer.get("$ref", "")[len(SCHEMA_REF) :]
            if part.get("page_items"):
                page = (spec.get("components", {}).get("schemas") or {}).get(name, {})
                name = page.get("properties", {}).get("items", {}).get("items", {}).get("$ref", "")
                name = name[len(SCHEMA_REF) :]
            if not name:
                continue
            target = {"$ref": SCHEMA_REF + renames[part["service"]].get(name, name)}
            if "anyOf" in prop:
                prop["anyOf"] = [b if b.get("type") == "null" else target for b in prop["anyOf"]]
            elif part.get("page_items"):
                prop["type"] = "array"
                prop["items"] = target
            else:
                prop.pop("type", None)
                prop.pop("additionalProperties", None)
                prop.update(target)


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "integer", "format": "int64", "minimum": 0}}


CORS_ORIGIN_HEADER = {
    "description": "The caller's `Origin` when it is one of the configured origins "
    "(`EAGLET_CORS__ORIGINS`); absent for any other origin (gateway/cors.py)",
    "schema": {"type": "string", "maxLength": 2048},
}


def add_gateway_headers(doc: dict[str, Any], op: dict[str, Any], limited: bool) -> None:
    """The gateway's own headers on an operation's answers (module doc): CORS on every one; on a
    route it limits, the rate-limit headers and 429's `Retry-After`; 503's `Retry-After`."""
    for status, response in op.get("responses", {}).items():
        use_header(doc, response, "Access-Control-Allow-Origin", CORS_ORIGIN_HEADER)
        if limited and status != "401":
            for name, about in RATE_LIMIT_HEADERS.items():
                use_header(doc, response, name, _header(about))
        codes = response.get(PROBLEM_CODES, ())
        if RateLimited.code in codes or UPSTREAM_UNAVAILABLE in codes:
            use_header(doc, response, "Retry-After", RETRY_AFTER_HEADER)


def merge(own: dict[str, Any], services: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    doc = copy.deepcopy(own)
    paths = doc.setdefault("paths", {})
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    present = {name: spec for name, spec in services.items() if spec is not None}
    shared = shared_schemas([own, *present.values()])
    renames = {
        service: {
            name: name if name in shared else f"{service}_{name}"
            for name in (spec.get("components", {}).get("schemas") or {})
        }
        for service, spec in present.items()
    }
    for item in paths.values():  # the gateway's own routes: limited when behind a credential
        for method, op in item.items():
            if method in METHODS:
                add_gateway_headers(doc, op, limited=bool(op.get("security")))
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
        rename = renames[service]
        for t in spec.get("tags", []):
            tags.setdefault(f"{service}: {t['name']}", {**t, "name": f"{service}: {t['name']}"})
        spec = _rewrite_refs(spec, rename)
        for name, schema in (spec.get("components", {}).get("schemas") or {}).items():
            schemas.setdefault(rename[name], schema)
        for name, header in (spec.get("components", {}).get("headers") or {}).items():
            components.setdefault("headers", {}).setdefault(name, header)  # the kit's, alike in each
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
                    tags.setdefault(t, {"name": t, "description": f"The {service} service"})
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
                add_gateway_headers(doc, op, limited=True)
                new_item[method] = op
            paths[f"/{service}{path}"] = new_item
    for name in INTERNAL_SCHEMES:
        schemes.pop(name, None)
    _type_parts(schemas, present, renames)
    drop_unused_schemas(doc)
    for name, schema in schemas.items():
        schema["title"] = name
    used = {
        t
        for item in paths.values()
        for op in item.values()
        if isinstance(op, dict)
        for t in op.get("tags", ())
    }
    doc["tags"] = [t for name, t in tags.items() if name in used]
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

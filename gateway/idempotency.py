"""``Idempotency-Key`` on the gateway's own POSTs (API clients, webhook endpoints): the kit's
middleware (services/common/idempotency.py) on the gateway's schema, keyed on the caller the
gateway admits. Forwarded calls never reach it: the proxy in front of it sends them on to the
services, whose own middleware keys them on the principal the gateway signed.

A POST with a key is admitted here (policy, credential, rate limit: `admit_own_route`) before its
key is claimed, and the admission is handed to the route (`request.state.admission`), so every
request, a replay too, passes the route's policy and rate limit exactly once. A request that is
refused admission runs unclaimed, and its route gives the refusal (the credential's lookup is
cached, so a refused key still takes one failure token, not two)."""

from __future__ import annotations

from starlette.types import Scope

from gateway.core import Gateway
from gateway.deps import admit_own_route
from services.common.errors import Problem
from services.common.idempotency import OwnerOf, owner_name


def caller_owner(gateway: Gateway) -> OwnerOf:
    async def owner_of(scope: Scope, headers: dict[bytes, bytes]) -> str | None:
        authorization = headers.get(b"authorization")
        try:
            admission = await admit_own_route(
                gateway,
                scope,
                scope["method"],
                scope["path"],
                authorization.decode("latin-1") if authorization is not None else None,
            )
        except Problem:
            return None
        if admission.caller is None:  # a public route: no caller to key on
            return None
        scope.setdefault("state", {})["admission"] = admission
        p = admission.caller.principal
        return owner_name(p.kind, p.org, p.sub)

    return owner_of

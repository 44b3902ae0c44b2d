"""Dependencies of the gateway's own routes: the admitted caller (auth, policy, rate limit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway import policy
from gateway.auth import Caller
from gateway.core import Admission, Gateway
from services.common.auth import Principal
from services.common.context import request_id_var
from services.common.errors import Forbidden
from services.common.pagination import PageParams, page_params_for

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    description="An API key (`egk_…`) for machine clients, or an OIDC JWT for people",
)


async def admit_own_route(gw: Gateway, scope, method: str, path: str, authorization: str | None) -> Admission:
    """Admission to one of the gateway's own routes: its policy rule, the caller, the rate limit
    (401, 403, 429 problems)."""
    rule = policy.match("gateway", method, path)
    if rule is None:  # every gateway route has a rule (checked by tests)
        raise Forbidden("no policy covers this route")
    return await gw.admit(rule, method, authorization, gw.client_address(scope).ip)


async def admitted_caller(
    request: Request,
    response: Response,
    _creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    # Admitted once per request: by the Idempotency-Key middleware when it needed the caller
    # (gateway/idempotency.py), else here.
    admission: Admission | None = getattr(request.state, "admission", None)
    if admission is None:
        admission = await admit_own_route(
            request.app.state.gateway,
            request.scope,
            request.method,
            request.url.path,
            request.headers.get("authorization"),
        )
    for k, v in admission.decision.header_dict().items():
        response.headers[k] = v
    assert admission.caller is not None
    return admission.caller


CurrentCaller = Annotated[Caller, Depends(admitted_caller)]


async def admitted_principal(caller: CurrentCaller) -> Principal:
    return caller.principal


# The gateway's lists: pages bound to the route, its filters and the admitted caller.
Pagination = Annotated[PageParams, Depends(page_params_for(admitted_principal))]


def request_id() -> str | None:
    return request_id_var.get()

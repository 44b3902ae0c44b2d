"""Dependencies of the gateway's own routes: the admitted caller (auth, policy, rate limit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway import policy
from gateway.auth import Caller
from gateway.core import Gateway
from services.common.auth import Principal
from services.common.context import request_id_var
from services.common.errors import Forbidden
from services.common.pagination import PageParams, page_params_for

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    description="An API key (`egk_…`) for machine clients, or an OIDC JWT for people",
)


async def admitted_caller(
    request: Request,
    response: Response,
    _creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    gw: Gateway = request.app.state.gateway
    rule = policy.match("gateway", request.method, request.url.path)
    if rule is None:  # every gateway route has a rule (checked by tests)
        raise Forbidden("no policy covers this route")
    admission = await gw.admit(
        rule, request.method, request.headers.get("authorization"), gw.client_address(request.scope).ip
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

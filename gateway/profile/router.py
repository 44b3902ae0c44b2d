"""`GET /v1/enterprises/{credit_code}/profile`: registry + finance + standards in one answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from gateway.deps import CurrentCaller
from gateway.errors import ADMISSION
from gateway.profile.schemas import EnterpriseProfile
from gateway.profile.service import build_profile
from services.common.context import request_id_var
from services.common.errors import BadGateway, NotFound, responses
from services.common.types import CreditCode

router = APIRouter(tags=["aggregates"])


@router.get(
    "/v1/enterprises/{credit_code}/profile",
    responses=responses(*ADMISSION, NotFound, BadGateway),
    summary="An enterprise's full profile, each part scoped to the caller",
)
async def enterprise_profile(
    credit_code: Annotated[CreditCode, Path()], caller: CurrentCaller, request: Request
) -> EnterpriseProfile:
    """Registry record, financing summary and standards, fetched concurrently, each only when the
    credential's scopes include that service's read scope (else named in `withheld`). When a
    service fails or does not answer within the aggregate deadline (3 s by default) the answer is
    still 200 with `partial: true` and the part named in `degraded`; a 404 means the registry does
    not show this enterprise to the caller."""
    return await build_profile(request.app.state.gateway, caller.principal, credit_code, request_id_var.get())

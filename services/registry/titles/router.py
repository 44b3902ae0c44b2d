from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from services.common.db import DbSession
from services.common.errors import Forbidden, NotFound, responses
from services.common.pagination import Page
from services.registry.errors import INVALID_CREDIT_CODE, AlreadyRevoked
from services.registry.scope import Manager, PathCreditCode
from services.registry.titles import service
from services.registry.titles.schemas import RevokeIn, TitleIn, TitleOut

router = APIRouter(prefix="/v1", tags=["titles"])


@router.post(
    "/enterprises/{credit_code}/titles",
    status_code=201,
    summary="Record a title or honour (dated, with rule version)",
    responses=responses(Forbidden, NotFound, *INVALID_CREDIT_CODE),
)
async def add_title(
    credit_code: PathCreditCode, body: TitleIn, session: DbSession, principal: Manager
) -> TitleOut:
    """A title counts from valid_from to valid_to; expired titles stop counting by themselves."""
    return await service.add(session, principal, credit_code, body)


@router.get(
    "/enterprises/{credit_code}/titles",
    summary="All titles of an enterprise, with their state today",
    responses=responses(Forbidden, NotFound, *INVALID_CREDIT_CODE),
)
async def list_titles(credit_code: PathCreditCode, session: DbSession, principal: Manager) -> Page[TitleOut]:
    return Page(items=await service.list_for(session, principal, credit_code), next_cursor=None)


@router.post(
    "/enterprises/{credit_code}/titles/{title_id}/revoke",
    summary="Revoke a title with a reason",
    responses=responses(Forbidden, NotFound, AlreadyRevoked, *INVALID_CREDIT_CODE),
)
async def revoke_title(
    credit_code: PathCreditCode,
    title_id: Annotated[int, Path(ge=1, le=2**62)],
    body: RevokeIn,
    session: DbSession,
    principal: Manager,
) -> TitleOut:
    return await service.revoke(session, principal, credit_code, title_id, body)

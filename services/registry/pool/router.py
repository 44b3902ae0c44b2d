from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from services.common.db import DbSession
from services.common.errors import responses
from services.common.pagination import Page, Pagination
from services.common.types import RegionPrefix
from services.registry.enterprises.schemas import Tier
from services.registry.pool import service
from services.registry.pool.schemas import (
    DecisionIn,
    DecisionOut,
    PoolMember,
    RuleSetList,
    ScreeningIn,
    ScreeningOut,
)
from services.registry.reference.data import _load
from services.registry.scope import Manager, PathCreditCode

router = APIRouter(prefix="/v1", tags=["cultivation pool"])


@router.get("/rule-sets", summary="Screening rule sets (versioned data)", responses=responses(401, 403))
async def list_rule_sets(principal: Manager) -> RuleSetList:
    """Each criterion has an id, description, threshold and the indicator years it needs
    (relative to the screening year)."""
    raw = _load("rule_sets.json")
    return RuleSetList(version=raw["version"], items=raw["rule_sets"])


@router.post(
    "/screenings",
    status_code=201,
    summary="Screen every enterprise in scope against a rule set",
    responses=responses(401, 403, 422),
)
async def create_screening(body: ScreeningIn, session: DbSession, principal: Manager) -> ScreeningOut:
    """Stores each enterprise's outcome (eligible | ineligible | incomplete) with per-criterion
    `pass | fail | missing_data` and the values used. Returns the first page of candidates."""
    return await service.screen(session, principal, body)


@router.get(
    "/screenings/{screening_id}",
    summary="A stored screening with its candidates (paginated)",
    responses=responses(400, 401, 403, 404, 422),
)
async def get_screening(
    screening_id: Annotated[int, Path(ge=1, le=2**62)],
    session: DbSession,
    principal: Manager,
    page: Pagination,
    outcome: Annotated[Literal["eligible", "ineligible", "incomplete"] | None, Query()] = None,
) -> ScreeningOut:
    return await service.get_screening(session, principal, screening_id, outcome, page)


@router.post(
    "/pool/decisions",
    status_code=201,
    summary="Admit, reject or exit an enterprise at a pool tier",
    responses=responses(401, 403, 404, 409, 422),
)
async def create_pool_decision(body: DecisionIn, session: DbSession, principal: Manager) -> DecisionOut:
    """An enterprise holds at most one active tier: admitting it at another tier promotes (or moves)
    it, keeping the history; `exit` needs the tier it holds (409 otherwise); admitting it again at
    the tier it holds is a 409. `reject` records a refused admission. A `screening_id` must be a
    screening of the caller's region or below: any other is a 404, as one that does not exist."""
    return await service.decide(session, principal, body)


@router.get("/pool", summary="Enterprises holding a pool tier", responses=responses(400, 401, 403, 422))
async def list_pool(
    session: DbSession,
    principal: Manager,
    page: Pagination,
    tier: Annotated[Tier | None, Query()] = None,
    year: Annotated[int | None, Query(ge=1949, le=2100, description="Year of admission to the tier")] = None,
    region: Annotated[RegionPrefix | None, Query()] = None,
) -> Page[PoolMember]:
    rows, cursor = await service.members(session, principal, region, tier, year, page)
    return Page(items=rows, next_cursor=cursor)


@router.get(
    "/enterprises/{credit_code}/pool-history",
    summary="Every pool decision about an enterprise, oldest first",
    responses=responses(401, 403, 404, 422),
)
async def pool_history(
    credit_code: PathCreditCode, session: DbSession, principal: Manager
) -> Page[DecisionOut]:
    return Page(items=await service.history(session, principal, credit_code), next_cursor=None)

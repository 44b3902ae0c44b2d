from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from services.common.db import DbSession
from services.common.errors import Forbidden, InvalidCursor, NotFound, RegionOutOfScope, responses
from services.common.pagination import Page, Pagination
from services.common.types import RegionPrefix
from services.registry.enterprises.schemas import Tier
from services.registry.errors import (
    INVALID_CREDIT_CODE,
    AlreadyInTier,
    NotInTier,
    RuleSetTierMismatch,
    TooManyScreenings,
    UnknownRuleSet,
    YearOutOfRange,
)
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


@router.get("/rule-sets", summary="Screening rule sets (versioned data)", responses=responses(Forbidden))
async def list_rule_sets(principal: Manager) -> RuleSetList:
    """Each criterion has an id, description, threshold and the indicator years it needs
    (relative to the screening year)."""
    raw = _load("rule_sets.json")
    items = [{**rs, "unsettled": not rs["settled"]} for rs in raw["rule_sets"]]
    return RuleSetList(version=raw["version"], items=items)


@router.post(
    "/screenings",
    status_code=201,
    summary="Screen every enterprise in scope against a rule set",
    responses={
        **responses(
            InvalidCursor,
            Forbidden,
            RegionOutOfScope,
            NotFound,
            RuleSetTierMismatch,
            UnknownRuleSet,
            YearOutOfRange,
            TooManyScreenings,
        ),
        202: {
            "model": ScreeningOut,
            "description": "Accepted: a large region is screened in the background by the job "
            "worker. `Location` (relative to this URL) is the screening: poll it until `status` is "
            "done or failed. Its job's status resource is `job.href` in the body and the "
            '`Link: <…>; rel="monitor"` header',
            "headers": {
                "Location": {"schema": {"type": "string"}, "description": "screenings/{id}"},
                "Link": {"schema": {"type": "string"}, "description": '<../jobs/{id}>; rel="monitor"'},
            },
        },
    },
)
async def create_screening(
    body: ScreeningIn,
    session: DbSession,
    principal: Manager,
    request: Request,
    response: Response,
) -> ScreeningOut:
    """Stores each enterprise's outcome (eligible | ineligible | incomplete) with per-criterion
    `pass | fail | missing_data` and the values used. Returns the first page of candidates (201).

    A region with more than `EAGLET_SCREENING__BACKGROUND_ABOVE` enterprises (5,000) is screened
    in the background by the job worker: 202 with `Location: screenings/{id}` and the screening
    `running`, its `progress` growing, its `job` (`GET /v1/jobs/{id}`, also in the `Link` header,
    rel `monitor`) queued; the job is stored with the screening, in the same transaction. A
    caller may have `EAGLET_SCREENING__PER_CALLER` (2) queued or running at once, one more is a
    429 `too_many_screenings`."""
    out, background = await service.screen(session, principal, body, request.app.state.settings)
    if background:
        response.status_code = 202
        response.headers["Location"] = f"screenings/{out.id}"
        if out.job is not None:
            response.headers["Link"] = f'<../jobs/{out.job.id}>; rel="monitor"'
    return out


@router.get(
    "/screenings/{screening_id}",
    summary="A stored screening with its candidates (paginated)",
    responses=responses(InvalidCursor, Forbidden, NotFound),
)
async def get_screening(
    screening_id: Annotated[int, Path(ge=1, le=2**62)],
    session: DbSession,
    principal: Manager,
    page: Pagination,
    request: Request,
    outcome: Annotated[Literal["eligible", "ineligible", "incomplete"] | None, Query()] = None,
) -> ScreeningOut:
    """`status`: running (evaluated in the background; no candidates yet), done, or failed with
    `error` (a problem: `screening_failed`, `screening_worker_died` when the process evaluating
    it died on its last run, `job_worker_died` when the worker running it stopped on every run,
    or `screening_abandoned` for a run of an earlier version left unfinished)."""
    return await service.get_screening(
        session, principal, screening_id, outcome, page, request.app.state.settings.screening
    )


@router.post(
    "/pool/decisions",
    status_code=201,
    summary="Admit, reject or exit an enterprise at a pool tier",
    responses=responses(Forbidden, NotFound, AlreadyInTier, NotInTier, YearOutOfRange),
)
async def create_pool_decision(body: DecisionIn, session: DbSession, principal: Manager) -> DecisionOut:
    """An enterprise holds at most one active tier: admitting it at another tier promotes (or moves)
    it, keeping the history; `exit` needs the tier it holds (409 otherwise); admitting it again at
    the tier it holds is a 409. `reject` records a refused admission. A `screening_id` must be a
    screening of the caller's region or below: any other is a 404, as one that does not exist."""
    return await service.decide(session, principal, body)


@router.get(
    "/pool",
    summary="Enterprises holding a pool tier",
    responses=responses(InvalidCursor, Forbidden, RegionOutOfScope),
)
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
    responses=responses(Forbidden, NotFound, *INVALID_CREDIT_CODE),
)
async def pool_history(
    credit_code: PathCreditCode, session: DbSession, principal: Manager
) -> Page[DecisionOut]:
    return Page(items=await service.history(session, principal, credit_code), next_cursor=None)

"""Cultivation pool rules: screenings evaluate versioned criteria; decisions keep the history and
allow at most one active tier per enterprise. No commits here."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.changes import Change, record_changes
from services.common.context import request_id_var
from services.common.db import raw_connection
from services.common.errors import NotFound
from services.common.jobs import JobRef, enqueue, job_of
from services.common.pagination import PageParams, cursor_binding, list_filters
from services.common.scope import RegionScope
from services.common.settings import ScreeningSettings, Settings
from services.registry.enterprises import repository as enterprises
from services.registry.errors import (
    AlreadyInTier,
    NotInTier,
    RuleSetTierMismatch,
    TooManyScreenings,
    UnknownRuleSet,
    YearOutOfRange,
)
from services.registry.indicators.schemas import max_year
from services.registry.jobs.links import job_href
from services.registry.pool import repository as repo
from services.registry.pool import runner, tasks
from services.registry.pool.evaluation import Run
from services.registry.pool.models import PoolDecision, Screening
from services.registry.pool.schemas import (
    Candidate,
    CandidatePage,
    DecisionIn,
    DecisionOut,
    ScreeningIn,
    ScreeningOut,
)
from services.registry.pool.tiers import ORDER
from services.registry.reference.data import rule_sets

TIER_ORDER = ORDER


def _first_page(principal: Principal, screening_id: int) -> PageParams:
    """The first page of `GET /v1/screenings/{id}`: its next cursor is one for that list."""
    filters = list_filters({"screening_id": screening_id}, ())
    return PageParams(
        limit=50, cursor=None, binding=cursor_binding("registry.get_screening", principal, filters)
    )


def _rule_set(body: ScreeningIn) -> dict:
    rs = rule_sets().get(body.rule_set)
    if rs is None:
        raise UnknownRuleSet(rule_set=body.rule_set)
    if body.tier not in rs["tiers"]:
        raise RuleSetTierMismatch(f"rule set {rs['id']} screens tiers {', '.join(rs['tiers'])}")
    if body.year > max_year():
        raise YearOutOfRange(f"year must be ≤ {max_year()}", pointer="/year")
    return rs


async def screen(
    session: AsyncSession, principal: Principal, body: ScreeningIn, settings: Settings
) -> tuple[ScreeningOut, bool]:
    """A screening of the caller's region (or `region` under it), and whether it runs in the
    background. Up to `screening.background_above` enterprises it is evaluated now (in a process,
    runner.py) and stored with its results in this unit of work; above that it is stored
    `running` with its job queued in this same unit of work (the worker evaluates it: tasks.py),
    and the route answers 202."""
    rs = _rule_set(body)
    scope = RegionScope.of(principal).narrow(body.region, "/region")
    region = scope.prefix
    run = {
        "database_url": settings.database_url,
        "statement_timeout_ms": settings.db.statement_timeout_ms,
        "statement_cache_size": settings.db.statement_cache_size,
        "rule_set": rs,
        "year": body.year,
        "region": region,
    }
    fields = {
        "tier": body.tier,
        "year": body.year,
        "rule_set": rs["id"],
        "rule_version": rs["version"],
        "region": region,
        "created_by": principal.sub,
    }
    change = {**body.model_dump(), "rule_version": rs["version"], "region": region}
    opts = settings.screening
    if await repo.fewer_than(session, scope, opts.background_above + 1) is None:
        if await repo.running_by(session, principal.sub) >= opts.per_caller:
            raise TooManyScreenings(running=opts.per_caller, headers={"Retry-After": "30"})
        screening = await repo.add_screening(
            session, Screening(**fields, status="running", progress=0, heartbeat_at=func.now())
        )
        await record_changes(
            session,
            "registry",
            principal,
            [Change("created", "screening", str(screening.id), None, {**change, "status": "running"})],
        )
        await enqueue(
            await raw_connection(session),
            "registry",
            kind=tasks.JOB_KIND,
            task_name=tasks.SCREENING,
            principal=principal,
            params={"rule_set": rs, "year": body.year, "region": region, "request_id": request_id_var.get()},
            subject_id=screening.id,
        )
        return await get_screening(
            session, principal, screening.id, None, _first_page(principal, screening.id), opts
        ), True
    rows = await runner.evaluate(settings, Run(**run))
    counts = {"eligible": 0, "ineligible": 0, "incomplete": 0}
    for _, outcome, _ in rows:
        counts[outcome] += 1
    screening = await repo.add_screening(
        session,
        Screening(
            **fields,
            **counts,
            evaluated=len(rows),
            status="done",
            total=len(rows),
            progress=len(rows),
            finished_at=func.now(),
        ),
    )
    await repo.add_results(session, screening.id, rows)
    await record_changes(
        session,
        "registry",
        principal,
        [
            Change("created", "screening", str(screening.id), None, {**change, **counts}),
            # done at once: its `completed` row, as a background screening's (evaluation.py)
            Change("completed", "screening", str(screening.id), None, {"evaluated": len(rows), **counts}),
        ],
    )
    return await get_screening(
        session, principal, screening.id, None, _first_page(principal, screening.id), opts
    ), False


async def visible_screening(session: AsyncSession, principal: Principal, screening_id: int) -> Screening:
    """A screening of the caller's region or below (officials; admin: any). Any other is a 404,
    exactly as one that does not exist: reading it or citing it in a decision tells nothing."""
    s = await repo.get_screening(session, RegionScope.of(principal), screening_id)
    if s is None:
        raise NotFound(what="screening", key=str(screening_id))
    return s


async def get_screening(
    session: AsyncSession,
    principal: Principal,
    screening_id: int,
    outcome: str | None,
    params: PageParams,
    opts: ScreeningSettings,
) -> ScreeningOut:
    """A screening with a page of its candidates (none until it is done), and its job when it
    runs in the background."""
    s = await visible_screening(session, principal, screening_id)
    rows, cursor = await repo.candidates(session, screening_id, outcome, params)
    items = [
        Candidate(
            credit_code=r[0].credit_code,
            name=r[1],
            region_code=r[2],
            outcome=r[0].outcome,
            criteria=r[0].criteria,
        )
        for r in rows
    ]
    data = {c: getattr(s, c) for c in Screening.__table__.c.keys()}
    data["progress"] = {"evaluated": s.progress, "total": s.total}
    job = await job_of(await raw_connection(session), "registry", tasks.JOB_KIND, screening_id)
    ref = None if job is None else JobRef(id=job.id, status=job.status, href=job_href(job.id))
    return ScreeningOut(**data, job=ref, candidates=CandidatePage(items=items, next_cursor=cursor))


async def decide(session: AsyncSession, principal: Principal, body: DecisionIn) -> DecisionOut:
    code = body.credit_code
    if body.year > max_year():
        raise YearOutOfRange(f"year must be ≤ {max_year()}", pointer="/year")
    ent = await enterprises.lock_visible(session, principal, code)
    if ent is None:
        raise NotFound(what="enterprise", key=code)
    current = ent.tier
    if body.decision == "admit" and current == body.tier:
        raise AlreadyInTier(code=code, tier=current)
    if body.decision == "exit" and current != body.tier:
        raise NotInTier(code=code, tier=body.tier, current=current or "none")
    if body.screening_id is not None:
        await visible_screening(session, principal, body.screening_id)
    decision = await repo.add_decision(
        session,
        PoolDecision(
            credit_code=code,
            tier=body.tier,
            year=body.year,
            decision=body.decision,
            reason=body.reason,
            previous_tier=current,
            screening_id=body.screening_id,
            decided_by=principal.sub,
        ),
    )
    active = await repo.current_tier(session, code)
    action = {"admit": "admitted", "reject": "rejected", "exit": "exited"}[body.decision]
    await record_changes(
        session,
        "registry",
        principal,
        # after: the decision as made and the tier the enterprise holds once it is recorded
        [
            Change(
                action,
                "pool_membership",
                code,
                {"tier": current},
                {**body.model_dump(), "active_tier": active},
            )
        ],
    )
    return DecisionOut.model_validate({**_decision_dict(decision), "active_tier": active})


def _decision_dict(d: PoolDecision) -> dict:
    return {c: getattr(d, c) for c in PoolDecision.__table__.c.keys()}


async def history(session: AsyncSession, principal: Principal, code: str) -> list[DecisionOut]:
    if not await enterprises.exists_visible(session, principal, code):
        raise NotFound(what="enterprise", key=code)
    return [DecisionOut.model_validate(_decision_dict(d)) for d in await repo.history(session, code)]


async def members(session, principal, region, tier, year, params):
    return await repo.members(session, RegionScope.of(principal).narrow(region), tier, year, params)

"""Cultivation pool rules: screenings evaluate versioned criteria; decisions keep the history and
allow at most one active tier per enterprise. No commits here."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.changes import Change, record_changes
from services.common.errors import Problem, field_problem, not_found
from services.common.pagination import PageParams, cursor_binding, list_filters
from services.registry.enterprises import repository as enterprises
from services.registry.indicators.schemas import max_year
from services.registry.pool import repository as repo
from services.registry.pool.models import PoolDecision, Screening
from services.registry.pool.rules import evaluate
from services.registry.pool.schemas import (
    Candidate,
    CandidatePage,
    DecisionIn,
    DecisionOut,
    ScreeningIn,
    ScreeningOut,
)
from services.registry.reference.data import rule_sets
from services.registry.scope import effective_region

TIER_ORDER = {"seedling": 1, "specialized": 2, "champion_candidate": 3, "champion": 4}


async def screen(session: AsyncSession, principal: Principal, body: ScreeningIn) -> ScreeningOut:
    rs = rule_sets().get(body.rule_set)
    if rs is None:
        raise field_problem(
            422, "unknown_rule_set", "/rule_set", f"no rule set {body.rule_set!r}; see GET /v1/rule-sets"
        )
    if body.tier not in rs["tiers"]:
        raise field_problem(
            422,
            "rule_set_tier_mismatch",
            "/tier",
            f"rule set {rs['id']} screens tiers {', '.join(rs['tiers'])}",
        )
    if body.year > max_year():
        raise field_problem(422, "year_out_of_range", "/year", f"year must be ≤ {max_year()}")
    region = effective_region(principal, body.region, "/region")
    years = sorted({body.year + off for c in rs["criteria"] for off in c["years"]})
    ents = await repo.enterprises_in(session, region)
    inds = await repo.indicators_in(session, region, years)
    screening = await repo.add_screening(
        session,
        Screening(
            tier=body.tier,
            year=body.year,
            rule_set=rs["id"],
            rule_version=rs["version"],
            region=region,
            created_by=principal.sub,
        ),
    )
    rows, counts = [], {"eligible": 0, "ineligible": 0, "incomplete": 0}
    for e in ents:
        outcome, criteria = evaluate(rs, body.year, e, inds.get(e["credit_code"], {}))
        counts[outcome] += 1
        rows.append((e["credit_code"], outcome, criteria))
    await repo.add_results(session, screening.id, rows)
    screening.evaluated = len(rows)
    for k, v in counts.items():
        setattr(screening, k, v)
    await session.flush()
    await record_changes(
        session,
        "registry",
        principal,
        [
            Change(
                "created",
                "screening",
                str(screening.id),
                None,
                {**body.model_dump(), "rule_version": rs["version"], "region": region, **counts},
            )
        ],
    )
    # The first page of `GET /v1/screenings/{id}`: its next cursor is one for that list.
    filters = list_filters({"screening_id": screening.id}, ())
    first = PageParams(
        limit=50, cursor=None, binding=cursor_binding("registry.get_screening", principal, filters)
    )
    return await get_screening(session, principal, screening.id, None, first)


async def visible_screening(session: AsyncSession, principal: Principal, screening_id: int) -> Screening:
    """A screening of the caller's region or below (officials; admin: any). Any other is a 404,
    exactly as one that does not exist: reading it or citing it in a decision tells nothing."""
    s = await repo.get_screening(session, screening_id)
    own = principal.region_prefix()
    if s is None or (own is not None and not (s.region or "").startswith(own)):
        raise not_found("screening", str(screening_id))
    return s


async def get_screening(
    session: AsyncSession, principal: Principal, screening_id: int, outcome: str | None, params: PageParams
) -> ScreeningOut:
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
    return ScreeningOut(**data, candidates=CandidatePage(items=items, next_cursor=cursor))


async def decide(session: AsyncSession, principal: Principal, body: DecisionIn) -> DecisionOut:
    code = body.credit_code
    if body.year > max_year():
        raise field_problem(422, "year_out_of_range", "/year", f"year must be ≤ {max_year()}")
    ent = await enterprises.lock_visible(session, principal, code)
    if ent is None:
        raise not_found("enterprise", code)
    current = ent.tier
    if body.decision == "admit" and current == body.tier:
        raise Problem(409, "already_in_tier", f"{code} already holds tier {current}")
    if body.decision == "exit" and current != body.tier:
        raise Problem(
            409, "not_in_tier", f"{code} does not hold tier {body.tier} (active tier: {current or 'none'})"
        )
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
        [Change(action, "pool_membership", code, {"tier": current}, {"tier": active, **body.model_dump()})],
    )
    return DecisionOut.model_validate({**_decision_dict(decision), "active_tier": active})


def _decision_dict(d: PoolDecision) -> dict:
    return {c: getattr(d, c) for c in PoolDecision.__table__.c.keys()}


async def history(session: AsyncSession, principal: Principal, code: str) -> list[DecisionOut]:
    if not await enterprises.exists_visible(session, principal, code):
        raise not_found("enterprise", code)
    return [DecisionOut.model_validate(_decision_dict(d)) for d in await repo.history(session, code)]


async def members(session, principal, region, tier, year, params):
    return await repo.members(session, effective_region(principal, region), tier, year, params)

"""Service institutions (省级以上示范服务机构/平台) and reported figures (other departments' figures).

Who writes: an institution is recorded by an admin or an official for a county it covers; a
reported figure by the leadership office only (an admin or a province official), for any region.
Reported figures are append-only: a correction is a new row, and the latest row per key, region
and period is the figure (services/registry/institutions/repository.py, `latest_reported`).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.changes import Change, record_changes
from services.common.errors import Forbidden, NotFound, unique_conflict
from services.common.regions import regions
from services.common.scope import RegionScope
from services.common.targets import REPORTED, indicators_of
from services.registry.errors import InstitutionExists, ReportedUnitMismatch
from services.registry.institutions import repository as repo
from services.registry.institutions.models import ReportedFigure, ServiceInstitution
from services.registry.institutions.schemas import (
    InstitutionIn,
    InstitutionOut,
    ReportedFigureIn,
    ReportedFigureOut,
)
from services.registry.targets.service import may_set_targets

unique_conflict(
    "uq_service_institutions_credit_code",
    InstitutionExists,
    "/credit_code",
    "a service institution with this credit code is recorded",
)


def institution_out(row: ServiceInstitution) -> InstitutionOut:
    return InstitutionOut.model_validate(row, from_attributes=True)


def reported_out(row: ReportedFigure) -> ReportedFigureOut:
    return ReportedFigureOut(
        id=row.id,
        key=row.key,
        region=row.region_code,
        period_end=row.period_end,
        value=row.value,
        unit=row.unit,
        source_document=row.source_document,
        reported_by=row.reported_by,
        created_at=row.created_at,
    )


async def create_institution(
    session: AsyncSession, principal: Principal, body: InstitutionIn
) -> InstitutionOut:
    RegionScope.of(principal).require(body.region_code, "/region_code")
    if await repo.credit_code_taken(session, body.credit_code):
        raise InstitutionExists(credit_code=body.credit_code)
    values = body.model_dump()
    row = await repo.add(session, ServiceInstitution(**values))
    await record_changes(
        session, "registry", principal, [Change("created", "service_institution", str(row.id), None, values)]
    )
    return institution_out(row)


async def get_institution(session: AsyncSession, principal: Principal, id_: int) -> InstitutionOut:
    row = await repo.get_institution(session, RegionScope.of(principal), id_)
    if row is None:
        raise NotFound(what="service institution", key=str(id_))
    return institution_out(row)


async def report(session: AsyncSession, principal: Principal, body: ReportedFigureIn) -> ReportedFigureOut:
    if not may_set_targets(principal):
        raise Forbidden(
            "reported figures are entered by the leadership office: an admin or a province official"
        )
    units = {i.key: i.unit for i in await indicators_of(session, REPORTED[0])}
    if units.get(body.key) != body.unit:
        raise ReportedUnitMismatch(key=body.key, unit=units.get(body.key), given=body.unit)
    values = body.model_dump()
    row = await repo.add(
        session,
        ReportedFigure(
            key=body.key,
            region_code=body.region,
            period_end=body.period_end,
            value=body.value,
            unit=body.unit,
            source_document=body.source_document,
            reported_by=principal.sub,
        ),
    )
    await record_changes(
        session, "registry", principal, [Change("created", "reported_figure", str(row.id), None, values)]
    )
    return reported_out(row)


def counties_of(scope: RegionScope) -> list[str]:
    """The current county-level codes a scope covers (a county scope: its own code)."""
    return sorted(
        c for c, r in regions().items() if r.level == "county" and not r.retired and scope.covers(c)
    )


def coverage(counties: list[str], with_platform: set[str]) -> Decimal | None:
    """Counties with at least one platform ÷ all current counties, in percent (2 places)."""
    if not counties:
        return None
    covered = sum(1 for c in counties if c in with_platform)
    return (Decimal(covered) * 100 / Decimal(len(counties))).quantize(Decimal("0.01"), ROUND_HALF_UP)

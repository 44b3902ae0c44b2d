"""Registering institutions."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.changes import Change, record_change
from services.common.errors import NotFound
from services.finance.errors import InstitutionExists
from services.finance.institutions import repository
from services.finance.institutions.models import Institution
from services.finance.institutions.schemas import InstitutionIn, InstitutionOut


async def register(session: AsyncSession, principal: Principal, body: InstitutionIn) -> Institution:
    row = await repository.create(session, body.model_dump())
    if row is None:
        raise InstitutionExists(code=body.code)
    await record_change(
        session,
        "finance",
        principal,
        Change("created", "institution", row.code, None, InstitutionOut.model_validate(row).model_dump()),
    )
    return row


async def get(session: AsyncSession, code: str) -> InstitutionOut:
    row = await repository.get(session, code)
    if row is None:
        raise NotFound(what="institution", key=code)
    return InstitutionOut.model_validate(row)

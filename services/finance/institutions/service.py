"""Registering institutions."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.changes import Change, record_change
from services.common.errors import field_problem
from services.finance.institutions import repository
from services.finance.institutions.models import Institution
from services.finance.institutions.schemas import InstitutionIn, InstitutionOut


async def register(session: AsyncSession, principal: Principal, body: InstitutionIn) -> Institution:
    row = await repository.create(session, body.model_dump())
    if row is None:
        raise field_problem(409, "institution_exists", "/code", f"institution {body.code} exists already")
    await record_change(
        session,
        "finance",
        principal,
        Change("created", "institution", row.code, None, InstitutionOut.model_validate(row).model_dump()),
    )
    return row

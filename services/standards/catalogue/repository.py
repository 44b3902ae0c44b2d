"""All catalogue SQL. Standards are not tenant data; enterprise reads are region-scoped here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.code_region import code_region_sql
from services.common.pagination import PageParams, keyset
from services.common.reader_select import fetch_objects
from services.common.readpool import Reader
from services.common.scope import RegionScope
from services.standards.catalogue.models import Standard, StandardDrafter
from services.standards.registry_views import DIRECTORY


async def get_by_code(session: AsyncSession, code: str, *, for_update: bool = False) -> Standard | None:
    stmt = select(Standard).where(Standard.code == code)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def add(session: AsyncSession, standard: Standard) -> Standard | None:
    """Insert unless the code exists (None then)."""
    values = {
        c: getattr(standard, c)
        for c in (
            "code",
            "level",
            "title",
            "published_on",
            "status",
            "adoption_international_code",
            "adoption_degree",
        )
    }
    stmt = (
        insert(Standard).values(**values).on_conflict_do_nothing(index_elements=["code"]).returning(Standard)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def update(session: AsyncSession, standard: Standard, values: dict) -> None:
    for k, v in values.items():
        setattr(standard, k, v)
    standard.updated_at = func.now()
    await session.flush()
    await session.refresh(standard)


async def list_standards(
    reads: Reader, params: PageParams, q: str | None, level: str | None, status: str | None
) -> list[Any]:
    """A page of the catalogue, on the read pool (a replica's copy when one is configured)."""
    stmt = select(Standard)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(Standard.code.ilike(pattern), Standard.title.ilike(pattern)))
    if level:
        stmt = stmt.where(Standard.level == level)
    if status:
        stmt = stmt.where(Standard.status == status)
    return await fetch_objects(reads, keyset(stmt, [Standard.code], params))


async def enterprise_region(session: AsyncSession, credit_code: str) -> str:
    """The region of an enterprise: the directory's, else the credit code's area code."""
    row = await session.execute(
        text(
            f"SELECT {code_region_sql('CAST(:code AS text)', 'd.region_code')} FROM (SELECT 1) AS one "
            f"LEFT JOIN {DIRECTORY} d ON d.credit_code = :code"
        ),
        {"code": credit_code},
    )
    return row.scalar_one()


async def enterprise_in_scope(session: AsyncSession, principal: Principal, credit_code: str) -> bool:
    """Whether the enterprise (registered or not) lies in the caller's region scope."""
    scope = RegionScope.of(principal)
    return not scope.restricted or scope.covers(await enterprise_region(session, credit_code))


async def upsert_drafter(
    session: AsyncSession, standard_id: int, credit_code: str, role: str
) -> tuple[str | None, bool]:
    """Returns (previous role or None, inserted?)."""
    before = (
        await session.execute(
            select(StandardDrafter.role)
            .where(StandardDrafter.standard_id == standard_id, StandardDrafter.credit_code == credit_code)
            .with_for_update()
        )
    ).scalar_one_or_none()
    stmt = insert(StandardDrafter).values(standard_id=standard_id, credit_code=credit_code, role=role)
    stmt = stmt.on_conflict_do_update(
        index_elements=["standard_id", "credit_code"],
        set_={"role": stmt.excluded.role, "updated_at": func.now()},
        where=StandardDrafter.role != stmt.excluded.role,
    )
    await session.execute(stmt)
    return before, before is None


async def standards_of_enterprise(
    session: AsyncSession, credit_code: str, params: PageParams
) -> list[tuple[Standard, str]]:
    stmt = (
        select(Standard, StandardDrafter.role)
        .join(StandardDrafter, StandardDrafter.standard_id == Standard.id)
        .where(StandardDrafter.credit_code == credit_code)
    )
    stmt = keyset(stmt, [Standard.code], params)
    return [(s, role) for s, role in (await session.execute(stmt)).all()]

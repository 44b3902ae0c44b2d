"""Catalogue rules: one spelling per number, level consistent with the number, drafters by region."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.changes import Change, record_changes
from services.common.conditional import representation, require_match
from services.common.errors import NotFound, Required
from services.common.pagination import PageParams, page_of
from services.common.readpool import Reader
from services.standards.catalogue import repository as repo
from services.standards.catalogue.codes import normalize_standard_code
from services.standards.catalogue.models import Standard
from services.standards.catalogue.schemas import (
    DrafterIn,
    DrafterOut,
    EnterpriseStandardOut,
    StandardCreate,
    StandardOut,
    StandardPatch,
    _check_level,
)
from services.standards.errors import InvalidStandardCode, LevelMismatch, StandardExists

SCHEMA = "standards"


def to_out(s: Standard) -> StandardOut:
    adoption = (
        {"international_code": s.adoption_international_code, "degree": s.adoption_degree}
        if s.adoption_degree
        else None
    )
    return StandardOut(
        code=s.code,
        level=s.level,
        title=s.title,
        published_on=s.published_on,
        status=s.status,
        adoption=adoption,
    )


def _code_from_path(raw: str) -> str:
    try:
        return normalize_standard_code(raw)
    except ValueError as e:
        raise InvalidStandardCode(str(e)) from e


async def create(session: AsyncSession, principal: Principal, body: StandardCreate) -> StandardOut:
    standard = Standard(
        code=body.code,
        level=body.level,
        title=body.title,
        published_on=body.published_on,
        status=body.status,
        adoption_international_code=body.adoption.international_code if body.adoption else None,
        adoption_degree=body.adoption.degree if body.adoption else None,
    )
    created = await repo.add(session, standard)
    if created is None:
        raise StandardExists(code=body.code)
    out = to_out(created)
    await record_changes(
        session, SCHEMA, principal, [Change("created", "standard", created.code, None, out.model_dump())]
    )
    return out


async def get(session: AsyncSession, raw_code: str) -> StandardOut:
    code = _code_from_path(raw_code)
    s = await repo.get_by_code(session, code)
    if s is None:
        raise NotFound(what="standard", key=code)
    return to_out(s)


async def patch(
    session: AsyncSession,
    principal: Principal,
    raw_code: str,
    body: StandardPatch,
    if_match: str | None = None,
) -> StandardOut:
    """`If-Match` is compared with the standard as it stands once its row is locked."""
    code = _code_from_path(raw_code)
    s = await repo.get_by_code(session, code, for_update=True)
    if s is None:
        raise NotFound(what="standard", key=code)
    before = to_out(s)
    require_match(if_match, representation(before))
    values = {}
    fields = body.model_fields_set
    for f in ("level", "title", "status"):
        if f in fields:
            value = getattr(body, f)
            if value is None:
                raise Required(field=f, how="null")
            values[f] = value
    if "published_on" in fields:
        values["published_on"] = body.published_on
    if "adoption" in fields:
        values["adoption_international_code"] = body.adoption.international_code if body.adoption else None
        values["adoption_degree"] = body.adoption.degree if body.adoption else None
    try:
        _check_level(code, values.get("level", s.level))
    except ValueError as e:
        raise LevelMismatch(str(e)) from e
    changed = {k: v for k, v in values.items() if getattr(s, k) != v}
    if changed:
        await repo.update(session, s, changed)
        after = to_out(s)
        await record_changes(
            session,
            SCHEMA,
            principal,
            [Change("updated", "standard", code, before.model_dump(), after.model_dump())],
        )
        return after
    return before


async def list_(
    reads: Reader, params: PageParams, q: str | None, level: str | None, status: str | None
) -> tuple[list[StandardOut], str | None]:
    rows = await repo.list_standards(reads, params, q, level, status)
    rows, cursor = page_of(rows, params, lambda s: (s.code,))
    return [to_out(s) for s in rows], cursor


async def _require_enterprise_in_scope(
    session: AsyncSession, principal: Principal, credit_code: str, pointer: str
) -> None:
    if not await repo.enterprise_in_scope(session, principal, credit_code):
        raise NotFound(
            f"enterprise {credit_code} not found in your region",
            pointer=pointer,
            message="outside your region",
        )


async def add_drafter(
    session: AsyncSession, principal: Principal, raw_code: str, body: DrafterIn
) -> tuple[DrafterOut, bool]:
    code = _code_from_path(raw_code)
    s = await repo.get_by_code(session, code)
    if s is None:
        raise NotFound(what="standard", key=code)
    await _require_enterprise_in_scope(session, principal, body.credit_code, "/credit_code")
    before_role, inserted = await repo.upsert_drafter(session, s.id, body.credit_code, body.role)
    out = DrafterOut(standard_code=code, credit_code=body.credit_code, role=body.role)
    if inserted or before_role != body.role:
        before = None if inserted else {**out.model_dump(), "role": before_role}
        await record_changes(
            session,
            SCHEMA,
            principal,
            [
                Change(
                    "created" if inserted else "updated",
                    "standard_drafter",
                    f"{code}|{body.credit_code}",
                    before,
                    out.model_dump(),
                )
            ],
        )
    return out, inserted


async def enterprise_standards(
    session: AsyncSession, principal: Principal, credit_code: str, params: PageParams
) -> tuple[list[EnterpriseStandardOut], str | None]:
    await _require_enterprise_in_scope(session, principal, credit_code, "#/path/credit_code")
    rows = await repo.standards_of_enterprise(session, credit_code, params)
    rows, cursor = page_of(rows, params, lambda r: (r[0].code,))
    return [EnterpriseStandardOut(**to_out(s).model_dump(), role=role) for s, role in rows], cursor

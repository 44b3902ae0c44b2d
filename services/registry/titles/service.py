from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.changes import Change, record_changes
from services.common.errors import NotFound
from services.registry.enterprises import repository as enterprises
from services.registry.errors import AlreadyRevoked
from services.registry.titles import repository as repo
from services.registry.titles.models import Title
from services.registry.titles.schemas import RevokeIn, TitleIn, TitleOut


def state(t: Title, today: date | None = None) -> str:
    today = today or date.today()
    if t.status == "revoked":
        return "revoked"
    if t.valid_from > today:
        return "pending"
    if t.valid_to is not None and t.valid_to < today:
        return "expired"
    return "active"


def to_out(t: Title) -> TitleOut:
    return TitleOut.model_validate(
        {**{c: getattr(t, c) for c in Title.__table__.c.keys()}, "state": state(t)}
    )


async def _visible(session: AsyncSession, principal: Principal, code: str) -> None:
    if not await enterprises.exists_visible(session, principal, code):
        raise NotFound(what="enterprise", key=code)


async def add(session: AsyncSession, principal: Principal, code: str, body: TitleIn) -> TitleOut:
    await _visible(session, principal, code)
    title = await repo.add(session, Title(credit_code=code, **body.model_dump()))
    await record_changes(
        session,
        "registry",
        principal,
        [Change("created", "title", f"{code}/{title.id}", None, body.model_dump())],
    )
    return to_out(title)


async def list_for(session: AsyncSession, principal: Principal, code: str) -> list[TitleOut]:
    await _visible(session, principal, code)
    return [to_out(t) for t in await repo.list_for(session, code)]


async def revoke(
    session: AsyncSession, principal: Principal, code: str, title_id: int, body: RevokeIn
) -> TitleOut:
    await _visible(session, principal, code)
    title = await repo.get_for_update(session, code, title_id)
    if title is None:
        raise NotFound(what="title", key=str(title_id))
    if title.status == "revoked":
        raise AlreadyRevoked(title_id=title_id, revoked_on=title.revoked_on)
    title.status = "revoked"
    title.revoked_on = body.revoked_on or date.today()
    title.revoke_reason = body.reason
    await session.flush()
    await record_changes(
        session,
        "registry",
        principal,
        [
            Change(
                "revoked",
                "title",
                f"{code}/{title_id}",
                {"status": "active"},
                {"status": "revoked", "revoked_on": title.revoked_on, "reason": body.reason},
            )
        ],
    )
    return to_out(title)

"""All SQL of the webhook routes. Every endpoint query is the owner's: an endpoint of another
caller is not found (the routes answer 404)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.webhooks.models import (
    WebhookAttempt,
    WebhookCursor,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookSecret,
)
from services.common.pagination import PageParams, keyset, page_of


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- endpoints ----------------------------------------------------------------------------
    async def lock_owner(self, owner_sub: str) -> None:
        """Serialise an owner's registrations (the per-owner limit holds under concurrency)."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended('webhooks/' || :sub, 0))"), {"sub": owner_sub}
        )

    async def count_of(self, owner_sub: str) -> int:
        stmt = select(func.count()).select_from(WebhookEndpoint).where(WebhookEndpoint.owner_sub == owner_sub)
        return (await self.session.execute(stmt)).scalar_one()

    async def add(self, endpoint: WebhookEndpoint) -> WebhookEndpoint:
        self.session.add(endpoint)
        await self.session.flush()
        return endpoint

    async def get(
        self, endpoint_id: uuid.UUID, owner_sub: str, for_update: bool = False
    ) -> WebhookEndpoint | None:
        stmt = select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.owner_sub == owner_sub
        )
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def list(self, owner_sub: str, params: PageParams) -> tuple[list[WebhookEndpoint], str | None]:
        stmt = select(WebhookEndpoint).where(WebhookEndpoint.owner_sub == owner_sub)
        stmt = keyset(stmt, [WebhookEndpoint.created_at, WebhookEndpoint.id], params)
        rows = list((await self.session.execute(stmt)).scalars())
        return page_of(rows, params, lambda e: (e.created_at, e.id))

    async def update(self, endpoint: WebhookEndpoint, values: dict) -> None:
        await self.session.execute(
            update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id).values(**values)
        )
        await self.session.refresh(endpoint)

    async def delete(self, endpoint: WebhookEndpoint) -> None:
        await self.session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id))

    # -- secrets ------------------------------------------------------------------------------
    async def add_secret(self, secret: WebhookSecret) -> None:
        self.session.add(secret)
        await self.session.flush()

    async def secrets_of(self, endpoint_ids: list[uuid.UUID], now: datetime) -> dict[uuid.UUID, list]:
        """The secrets still signing, newest first."""
        out: dict[uuid.UUID, list[WebhookSecret]] = {e: [] for e in endpoint_ids}
        if not endpoint_ids:
            return out
        stmt = (
            select(WebhookSecret)
            .where(
                WebhookSecret.endpoint_id.in_(endpoint_ids),
                or_(WebhookSecret.expires_at.is_(None), WebhookSecret.expires_at > now),
            )
            .order_by(WebhookSecret.created_at.desc(), WebhookSecret.id)
        )
        for s in (await self.session.execute(stmt)).scalars():
            out[s.endpoint_id].append(s)
        return out

    async def expire_secrets(self, endpoint_id: uuid.UUID, now: datetime, at: datetime) -> None:
        """The endpoint's secrets still signing stop at `at` (or earlier, if already due to)."""
        await self.session.execute(
            update(WebhookSecret)
            .where(
                WebhookSecret.endpoint_id == endpoint_id,
                or_(WebhookSecret.expires_at.is_(None), WebhookSecret.expires_at > at),
            )
            .values(expires_at=at)
        )
        await self.session.execute(
            delete(WebhookSecret).where(
                WebhookSecret.endpoint_id == endpoint_id, WebhookSecret.expires_at <= now
            )
        )

    # -- feed cursors -------------------------------------------------------------------------
    async def follow(self, endpoint_id: uuid.UUID, cursors: dict[str, str]) -> None:
        """Start following these feeds at these cursors (kept where already followed)."""
        if not cursors:
            return
        stmt = insert(WebhookCursor).values(
            [{"endpoint_id": endpoint_id, "service": s, "cursor": c} for s, c in cursors.items()]
        )
        await self.session.execute(stmt.on_conflict_do_nothing())

    async def restart_refused(self, endpoint_id: uuid.UUID, cursors: dict[str, str]) -> None:
        """Feeds that refused the endpoint's cursor start again at these cursors (their present)."""
        for service, cursor in cursors.items():
            await self.session.execute(
                update(WebhookCursor)
                .where(WebhookCursor.endpoint_id == endpoint_id, WebhookCursor.service == service)
                .values(cursor=cursor, last_error=None, updated_at=func.now())
            )

    async def refused(self, endpoint_id: uuid.UUID) -> set[str]:
        """The feeds whose last read refused the endpoint's cursor."""
        stmt = select(WebhookCursor.service).where(
            WebhookCursor.endpoint_id == endpoint_id, WebhookCursor.last_error.is_not(None)
        )
        return set((await self.session.execute(stmt)).scalars())

    async def unfollow_others(self, endpoint_id: uuid.UUID, keep: set[str]) -> None:
        await self.session.execute(
            delete(WebhookCursor).where(
                WebhookCursor.endpoint_id == endpoint_id, WebhookCursor.service.not_in(sorted(keep))
            )
        )

    async def followed(self, endpoint_id: uuid.UUID) -> set[str]:
        stmt = select(WebhookCursor.service).where(WebhookCursor.endpoint_id == endpoint_id)
        return set((await self.session.execute(stmt)).scalars())

    # -- deliveries ---------------------------------------------------------------------------
    async def add_delivery(self, delivery: WebhookDelivery) -> WebhookDelivery:
        self.session.add(delivery)
        await self.session.flush()
        await self.session.refresh(delivery)
        return delivery

    async def delivery(
        self, endpoint_id: uuid.UUID, delivery_id: uuid.UUID, for_update: bool = False
    ) -> WebhookDelivery | None:
        stmt = select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id
        )
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def deliveries(
        self, endpoint_id: uuid.UUID, params: PageParams, status: str | None
    ) -> tuple[list[WebhookDelivery], str | None]:
        """The endpoint's delivery log, newest first."""
        stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
        if status:
            stmt = stmt.where(WebhookDelivery.status == status)
        stmt = keyset(stmt, [WebhookDelivery.created_at, WebhookDelivery.id], params, descending=True)
        rows = list((await self.session.execute(stmt)).scalars())
        return page_of(rows, params, lambda d: (d.created_at, d.id))

    async def attempts(self, delivery_id: uuid.UUID) -> list[WebhookAttempt]:
        stmt = (
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.attempt, WebhookAttempt.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def retry(self, delivery: WebhookDelivery, at: datetime) -> None:
        await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery.id)
            .values(status="pending", next_attempt_at=at)
        )
        await self.session.refresh(delivery)

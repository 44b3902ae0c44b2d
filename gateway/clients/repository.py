"""All SQL about API clients and keys (admins see every client; no other kind reaches here)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import NOTIFY_CHANNEL
from gateway.models import ApiClient, ApiKey
from services.common.pagination import PageParams, keyset, page_of


class ClientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_client(self, client: ApiClient) -> ApiClient:
        self.session.add(client)
        await self.session.flush()
        return client

    async def add_key(self, key: ApiKey) -> ApiKey:
        self.session.add(key)
        await self.session.flush()
        return key

    async def get(self, client_id: uuid.UUID, for_update: bool = False) -> ApiClient | None:
        stmt = select(ApiClient).where(ApiClient.id == client_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def keys_of(self, client_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[ApiKey]]:
        out: dict[uuid.UUID, list[ApiKey]] = {cid: [] for cid in client_ids}
        if not client_ids:
            return out
        rows = await self.session.execute(
            select(ApiKey).where(ApiKey.client_id.in_(client_ids)).order_by(ApiKey.created_at, ApiKey.id)
        )
        for key in rows.scalars():
            out[key.client_id].append(key)
        return out

    async def list(
        self, params: PageParams, kind: str | None, org: str | None, include_revoked: bool
    ) -> tuple[list[ApiClient], str | None]:
        stmt = select(ApiClient)
        if kind:
            stmt = stmt.where(ApiClient.kind == kind)
        if org:
            stmt = stmt.where(ApiClient.org == org)
        if not include_revoked:
            stmt = stmt.where(ApiClient.revoked_at.is_(None))
        stmt = keyset(stmt, [ApiClient.created_at, ApiClient.id], params)
        rows = list((await self.session.execute(stmt)).scalars())
        return page_of(rows, params, lambda c: (c.created_at, c.id))

    async def revoke_client(self, client_id: uuid.UUID, at: datetime) -> None:
        await self.session.execute(update(ApiClient).where(ApiClient.id == client_id).values(revoked_at=at))
        await self.session.execute(
            update(ApiKey)
            .where(ApiKey.client_id == client_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def revoke_key(self, key_id: uuid.UUID, at: datetime) -> None:
        await self.session.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=at))

    async def expire_other_keys(self, client_id: uuid.UUID, keep: uuid.UUID, at: datetime) -> None:
        """Other active keys of the client stop working at `at` (the rotation grace period)."""
        await self.session.execute(
            update(ApiKey)
            .where(
                ApiKey.client_id == client_id,
                ApiKey.id != keep,
                ApiKey.revoked_at.is_(None),
                (ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > at),
            )
            .values(expires_at=at)
        )

    async def notify_changed(self, client_id: uuid.UUID) -> None:
        """Tell running gateways (on commit) to forget what they cached about this client."""
        await self.session.execute(
            text("SELECT pg_notify(:ch, :cid)"), {"ch": NOTIFY_CHANNEL, "cid": str(client_id)}
        )

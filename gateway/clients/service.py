"""Rules for API clients: create (the key is returned once), rotate, revoke. No commits here."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import hash_key, key_display_prefix, new_key
from gateway.clients.repository import ClientRepository
from gateway.clients.schemas import ClientCreate, ClientCreated, ClientOut, KeyIssued, KeyOut
from gateway.errors import ClientRevoked
from gateway.models import ApiClient, ApiKey
from services.common.auth import Principal
from services.common.changes import Change, record_changes
from services.common.errors import NotFound
from services.common.pagination import PageParams

SCHEMA = "gateway"


def _now() -> datetime:
    return datetime.now(UTC)


def key_out(k: ApiKey, now: datetime | None = None) -> KeyOut:
    now = now or _now()
    active = k.revoked_at is None and (k.expires_at is None or k.expires_at > now)
    return KeyOut(
        id=k.id,
        prefix=k.prefix,
        created_at=k.created_at,
        expires_at=k.expires_at,
        revoked_at=k.revoked_at,
        last_used_at=k.last_used_at,
        active=active,
    )


def client_out(c: ApiClient, keys: list[ApiKey]) -> ClientOut:
    now = _now()
    return ClientOut(
        id=c.id,
        kind=c.kind,
        org=c.org,
        name=c.name,
        region=c.region,
        scopes=list(c.scopes or []),
        rate_per_s=c.rate_per_s,
        created_at=c.created_at,
        created_by=c.created_by,
        revoked_at=c.revoked_at,
        keys=[key_out(k, now) for k in keys],
    )


def _audit(c: ApiClient) -> dict:
    """What the change log keeps about a client (never a key or its hash)."""
    return {
        "id": str(c.id),
        "kind": c.kind,
        "org": c.org,
        "name": c.name,
        "region": c.region,
        "scopes": list(c.scopes or []),
        "rate_per_s": str(c.rate_per_s) if c.rate_per_s is not None else None,
        "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None,
    }


async def _issue_key(
    repo: ClientRepository, client_id: uuid.UUID, key: str | None = None
) -> tuple[str, ApiKey]:
    key = key or new_key()
    row = await repo.add_key(
        ApiKey(
            id=uuid.uuid4(),
            client_id=client_id,
            prefix=key_display_prefix(key),
            key_hash=hash_key(key),
            created_at=_now(),
        )
    )
    return key, row


async def create_client(
    session: AsyncSession, actor: Principal, data: ClientCreate, *, key: str | None = None
) -> ClientCreated:
    """Create a client and its first key. `key` lets the dev seed use deterministic demo keys."""
    repo = ClientRepository(session)
    client = await repo.add_client(
        ApiClient(
            id=uuid.uuid4(),
            kind=data.kind,
            org=data.org,
            name=data.name,
            region=data.region,
            scopes=data.scopes,
            rate_per_s=data.rate_per_s,
            created_by=actor.sub,
            created_at=_now(),
        )
    )
    raw, row = await _issue_key(repo, client.id, key)
    await record_changes(
        session,
        SCHEMA,
        actor,
        [
            Change("created", "api_client", str(client.id), None, _audit(client)),
            Change(
                "created", "api_key", str(row.id), None, {"client_id": str(client.id), "prefix": row.prefix}
            ),
        ],
    )
    out = client_out(client, [row])
    return ClientCreated(**out.model_dump(), key=raw, key_id=row.id)


async def get_client(session: AsyncSession, client_id: uuid.UUID) -> ClientOut:
    repo = ClientRepository(session)
    client = await repo.get(client_id)
    if client is None:
        raise NotFound(what="client", key=str(client_id))
    keys = await repo.keys_of([client.id])
    return client_out(client, keys[client.id])


async def list_clients(
    session: AsyncSession,
    params: PageParams,
    kind: str | None = None,
    org: str | None = None,
    include_revoked: bool = False,
) -> tuple[list[ClientOut], str | None]:
    repo = ClientRepository(session)
    clients, cursor = await repo.list(params, kind, org, include_revoked)
    keys = await repo.keys_of([c.id for c in clients])
    return [client_out(c, keys[c.id]) for c in clients], cursor


async def revoke_client(session: AsyncSession, actor: Principal, client_id: uuid.UUID) -> ClientOut:
    """Revoke the client and every key of it; running gateways refuse them from now on."""
    repo = ClientRepository(session)
    client = await repo.get(client_id, for_update=True)
    if client is None:
        raise NotFound(what="client", key=str(client_id))
    if client.revoked_at is None:
        before = _audit(client)
        now = _now()
        await repo.revoke_client(client.id, now)
        client.revoked_at = now
        await record_changes(
            session, SCHEMA, actor, [Change("revoked", "api_client", str(client.id), before, _audit(client))]
        )
        await repo.notify_changed(client.id)
    await session.refresh(client)
    keys = await repo.keys_of([client.id])
    return client_out(client, keys[client.id])


async def rotate_key(
    session: AsyncSession, actor: Principal, client_id: uuid.UUID, grace_hours: float
) -> KeyIssued:
    """Issue a new key; the client's other keys keep working for `grace_hours`, then expire."""
    repo = ClientRepository(session)
    client = await repo.get(client_id, for_update=True)
    if client is None:
        raise NotFound(what="client", key=str(client_id))
    if client.revoked_at is not None:
        raise ClientRevoked(client_id=client_id)
    raw, row = await _issue_key(repo, client.id)
    expire_at = _now() + timedelta(hours=grace_hours)
    await repo.expire_other_keys(client.id, row.id, expire_at)
    await record_changes(
        session,
        SCHEMA,
        actor,
        [
            Change(
                "rotated",
                "api_client",
                str(client.id),
                None,
                {
                    "new_key_id": str(row.id),
                    "prefix": row.prefix,
                    "previous_keys_expire_at": expire_at.isoformat(),
                },
            )
        ],
    )
    await repo.notify_changed(client.id)
    return KeyIssued(
        client_id=client.id, key_id=row.id, key=raw, prefix=row.prefix, previous_keys_expire_at=expire_at
    )


async def revoke_key(
    session: AsyncSession, actor: Principal, client_id: uuid.UUID, key_id: uuid.UUID
) -> KeyOut:
    repo = ClientRepository(session)
    client = await repo.get(client_id, for_update=True)
    if client is None:
        raise NotFound(what="client", key=str(client_id))
    keys = {k.id: k for k in (await repo.keys_of([client.id]))[client.id]}
    key = keys.get(key_id)
    if key is None:
        raise NotFound(what="key", key=str(key_id))
    if key.revoked_at is None:
        now = _now()
        await repo.revoke_key(key.id, now)
        key.revoked_at = now
        await record_changes(
            session,
            SCHEMA,
            actor,
            [
                Change(
                    "revoked",
                    "api_key",
                    str(key.id),
                    None,
                    {"client_id": str(client.id), "prefix": key.prefix},
                )
            ],
        )
        await repo.notify_changed(client.id)
    return key_out(key)

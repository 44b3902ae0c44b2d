"""Admin HTTP routes for API clients (`/v1/clients`): the same operations as `eaglet clients`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import StringConstraints

from gateway.clients import service
from gateway.clients.schemas import (
    ClientCreate,
    ClientCreated,
    ClientOut,
    KeyIssued,
    KeyOut,
    Kind,
    RotateRequest,
)
from gateway.deps import CurrentCaller, Pagination
from gateway.errors import ADMISSION, ClientRevoked
from services.common.db import DbSession
from services.common.errors import InvalidCursor, NotFound, responses
from services.common.pagination import Page
from services.common.types import text

router = APIRouter(prefix="/v1/clients", tags=["clients"])


@router.post(
    "", status_code=201, responses=responses(*ADMISSION), summary="Create an API client and its first key"
)
async def create_client(body: ClientCreate, caller: CurrentCaller, session: DbSession) -> ClientCreated:
    """The key is in the response only this once; only its SHA-256 is stored."""
    return await service.create_client(session, caller.principal, body)


@router.get("", responses=responses(*ADMISSION, InvalidCursor), summary="List API clients")
async def list_clients(
    caller: CurrentCaller,
    session: DbSession,
    page: Pagination,
    kind: Annotated[Kind | None, Query()] = None,
    org: Annotated[text(StringConstraints(max_length=64)) | None, Query()] = None,
    include_revoked: bool = False,
) -> Page[ClientOut]:
    items, cursor = await service.list_clients(session, page, kind, org, include_revoked)
    return Page(items=items, next_cursor=cursor)


@router.get("/{client_id}", responses=responses(*ADMISSION, NotFound), summary="One API client with its keys")
async def get_client(client_id: uuid.UUID, caller: CurrentCaller, session: DbSession) -> ClientOut:
    return await service.get_client(session, client_id)


@router.post(
    "/{client_id}/revoke",
    responses=responses(*ADMISSION, NotFound),
    summary="Revoke a client and all its keys",
)
async def revoke_client(
    client_id: uuid.UUID, caller: CurrentCaller, session: DbSession, request: Request
) -> ClientOut:
    out = await service.revoke_client(session, caller.principal, client_id)
    request.app.state.gateway.auth.invalidate(str(client_id))
    return out


@router.post(
    "/{client_id}/rotate",
    status_code=201,
    responses=responses(*ADMISSION, NotFound, ClientRevoked),
    summary="Issue a new key; the old ones expire after a grace period",
)
async def rotate_client_key(
    client_id: uuid.UUID,
    caller: CurrentCaller,
    session: DbSession,
    request: Request,
    body: RotateRequest | None = None,
) -> KeyIssued:
    out = await service.rotate_key(
        session, caller.principal, client_id, (body or RotateRequest()).grace_hours
    )
    request.app.state.gateway.auth.invalidate(str(client_id))
    return out


@router.post(
    "/{client_id}/keys/{key_id}/revoke",
    responses=responses(*ADMISSION, NotFound),
    summary="Revoke one key of a client",
)
async def revoke_client_key(
    client_id: uuid.UUID, key_id: uuid.UUID, caller: CurrentCaller, session: DbSession, request: Request
) -> KeyOut:
    out = await service.revoke_key(session, caller.principal, client_id, key_id)
    request.app.state.gateway.auth.invalidate(str(client_id))
    return out

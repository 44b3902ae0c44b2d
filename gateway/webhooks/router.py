"""Webhook endpoints at the gateway (`/v1/webhooks`): any authenticated caller, for itself."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from gateway.deps import CurrentCaller, Pagination
from gateway.errors import (
    ADMISSION,
    DeliveryInFlight,
    EventTypeOutOfScope,
    TooManyWebhooks,
    WebhookDisabled,
    WebhookUrlRefused,
)
from gateway.webhooks import service
from gateway.webhooks.schemas import (
    DeliveryDetail,
    DeliveryOut,
    DeliveryStatus,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookUpdate,
)
from services.common.conditional import (
    NOT_MODIFIED,
    IfMatch,
    IfNoneMatch,
    json_answer,
    representation,
    tagged,
    tagged_json,
)
from services.common.db import DbSession
from services.common.errors import InvalidCursor, NotFound, PreconditionFailed, Required, responses
from services.common.pagination import Page

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


@router.post(
    "",
    status_code=201,
    responses=responses(*ADMISSION, WebhookUrlRefused, EventTypeOutOfScope, TooManyWebhooks),
    summary="Register a webhook endpoint for your own events",
)
async def create_webhook(
    body: WebhookCreate, caller: CurrentCaller, session: DbSession, request: Request
) -> WebhookCreated:
    """The endpoint receives the events of `event_types` that you could read in the feeds, from
    now on, signed with the returned `secret` (Standard Webhooks; shown only this once)."""
    return await service.create(session, request.app.state.settings, caller, body)


@router.get("", responses=responses(*ADMISSION, InvalidCursor), summary="Your webhook endpoints")
async def list_webhooks(caller: CurrentCaller, session: DbSession, page: Pagination) -> Page[WebhookOut]:
    items, cursor = await service.list_(session, caller, page)
    return Page(items=items, next_cursor=cursor)


@router.get(
    "/{webhook_id}",
    response_model=WebhookOut,
    responses=tagged() | NOT_MODIFIED | responses(*ADMISSION, NotFound),
    summary="One of your webhook endpoints",
    description="With `ETag`; `If-None-Match` with it: 304 while nothing changed.",
)
async def get_webhook(
    webhook_id: uuid.UUID, caller: CurrentCaller, session: DbSession, if_none_match: IfNoneMatch = None
) -> Response:
    return json_answer(representation(await service.get(session, caller, webhook_id)), if_none_match)


@router.patch(
    "/{webhook_id}",
    response_model=WebhookOut,
    responses=tagged()
    | responses(*ADMISSION, NotFound, Required, WebhookUrlRefused, EventTypeOutOfScope, PreconditionFailed),
    summary="Change, pause or re-enable a webhook endpoint",
    description="With `If-Match` (the endpoint's `ETag`): 412 `precondition_failed` when it changed "
    "since, nothing written. The answer is the endpoint after the change, with its `ETag`.",
)
async def update_webhook(
    webhook_id: uuid.UUID,
    body: WebhookUpdate,
    caller: CurrentCaller,
    session: DbSession,
    request: Request,
    if_match: IfMatch = None,
) -> Response:
    out = await service.update(
        session, request.app.state.settings, caller, webhook_id, body, if_match=if_match
    )
    return tagged_json(representation(out))


@router.delete(
    "/{webhook_id}",
    status_code=204,
    responses=responses(*ADMISSION, NotFound, PreconditionFailed),
    summary="Delete a webhook endpoint",
    description="With `If-Match` (the endpoint's `ETag`): 412 `precondition_failed` when it changed "
    "since, nothing deleted.",
)
async def delete_webhook(
    webhook_id: uuid.UUID, caller: CurrentCaller, session: DbSession, if_match: IfMatch = None
) -> Response:
    await service.delete(session, caller, webhook_id, if_match)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    status_code=201,
    responses=responses(*ADMISSION, NotFound),
    summary="Issue a new signing secret; the previous one keeps signing for 24 hours",
)
async def rotate_webhook_secret(
    webhook_id: uuid.UUID, caller: CurrentCaller, session: DbSession, request: Request
) -> SecretRotated:
    return await service.rotate_secret(session, request.app.state.settings, caller, webhook_id)


@router.post(
    "/{webhook_id}/test",
    status_code=202,
    responses=responses(*ADMISSION, NotFound, WebhookDisabled),
    summary="Send a test event (`webhook.test`) to the endpoint",
)
async def test_webhook(
    webhook_id: uuid.UUID, caller: CurrentCaller, session: DbSession, response: Response
) -> DeliveryOut:
    """Queued at once and sent by the dispatcher like any event; follow it in the deliveries."""
    out = await service.send_test(session, caller, webhook_id)
    response.headers["Location"] = f"deliveries/{out.id}"
    return out


@router.get(
    "/{webhook_id}/deliveries",
    responses=responses(*ADMISSION, NotFound, InvalidCursor),
    summary="The endpoint's delivery log, newest first",
)
async def list_webhook_deliveries(
    webhook_id: uuid.UUID,
    caller: CurrentCaller,
    session: DbSession,
    page: Pagination,
    status: Annotated[DeliveryStatus | None, Query()] = None,
) -> Page[DeliveryOut]:
    items, cursor = await service.deliveries(session, caller, webhook_id, page, status)
    return Page(items=items, next_cursor=cursor)


@router.get(
    "/{webhook_id}/deliveries/{delivery_id}",
    responses=responses(*ADMISSION, NotFound),
    summary="One delivery with the body sent and every attempt",
)
async def get_webhook_delivery(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, caller: CurrentCaller, session: DbSession
) -> DeliveryDetail:
    return await service.delivery(session, caller, webhook_id, delivery_id)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry",
    status_code=202,
    responses=responses(*ADMISSION, NotFound, WebhookDisabled, DeliveryInFlight),
    summary="Send a delivery again now (same webhook-id)",
)
async def retry_webhook_delivery(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, caller: CurrentCaller, session: DbSession
) -> DeliveryOut:
    return await service.retry(session, caller, webhook_id, delivery_id)

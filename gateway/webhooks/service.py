"""The rules of webhook endpoints: who owns one, what it may subscribe to, where it may point,
its secrets and their rotation, test events and manual retries. No commits here.

- Any caller may register endpoints for itself (up to `max_endpoints_per_owner`); the owner is
  the caller as authenticated now (subject, kind, org, region, scopes, API client), and the
  events it receives are those its owner could read in the feed. Only the owner sees, changes or
  deletes it: anyone else gets 404.
- A credential limited by scopes may subscribe only to feeds it may read (`<service>:read`).
- The URL passes the SSRF guard (gateway/webhooks/ssrf.py) at registration and on every change.
- A new endpoint starts at the head of each feed it follows: it receives what happens from now
  on. Adding types of another service later starts that feed at its head then.
- An endpoint is a single resource with an `ETag` (services/common/conditional.py): a change or
  a delete with an `If-Match` that is not its current tag is a 412, compared after its row is
  locked, so of two holders of one tag only one changes it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from gateway import policy
from gateway.auth import Caller
from gateway.errors import (
    DeliveryInFlight,
    EventTypeOutOfScope,
    TooManyWebhooks,
    WebhookDisabled,
    WebhookUrlRefused,
)
from gateway.webhooks import source, ssrf
from gateway.webhooks.catalogue import SERVICE_OF, TEST_EVENT_TYPE, services_of
from gateway.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookSecret
from gateway.webhooks.repository import WebhookRepository
from gateway.webhooks.schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryOut,
    SecretOut,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookUpdate,
)
from gateway.webhooks.secrets import SecretBox, new_secret
from services.common.changes import Change, record_changes
from services.common.conditional import representation, require_match
from services.common.db import raw_connection
from services.common.errors import NotFound, Required
from services.common.pagination import PageParams
from services.common.settings import Settings

SCHEMA = "gateway"
OWNER_DISABLED = "disabled by its owner"


def _now() -> datetime:
    return datetime.now(UTC)


def webhook_out(e: WebhookEndpoint, secrets: list[WebhookSecret]) -> WebhookOut:
    return WebhookOut(
        id=e.id,
        url=e.url,
        event_types=list(e.event_types),
        description=e.description,
        enabled=e.enabled,
        disabled_reason=e.disabled_reason,
        disabled_at=e.disabled_at,
        failing_since=e.failing_since,
        created_at=e.created_at,
        updated_at=e.updated_at,
        secrets=[SecretOut(created_at=s.created_at, expires_at=s.expires_at) for s in secrets],
    )


def delivery_out(d: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut.model_validate(d, from_attributes=True)


def _audit(e: WebhookEndpoint) -> dict:
    """What the change log keeps about an endpoint (never a secret)."""
    return {
        "id": str(e.id),
        "owner": e.owner_sub,
        "url": e.url,
        "event_types": list(e.event_types),
        "description": e.description,
        "enabled": e.enabled,
        "disabled_reason": e.disabled_reason,
    }


def _check_scopes(caller: Caller, event_types: list[str]) -> None:
    for index, event_type in enumerate(event_types):
        service = SERVICE_OF[event_type]
        if not policy.scope_allows(caller.principal.scopes, service, "GET"):
            raise EventTypeOutOfScope(index=index, service=service, event_type=event_type)


async def _check_url(url: str, settings: Settings, resolver: ssrf.Resolver | None) -> None:
    try:
        await ssrf.check_registration(url, settings, resolver)
    except ssrf.UrlRefused as e:
        raise WebhookUrlRefused(
            f"this URL may not receive webhooks: {e.message}",
            errors=[{"pointer": "/url", "code": e.code, "message": e.message}],
        ) from None


async def _heads(session: AsyncSession, endpoint: WebhookEndpoint, services: set[str]) -> dict[str, str]:
    """The present of these feeds, as the endpoint's owner reads them."""
    conn = await raw_connection(session)
    return {s: await source.head_cursor(conn, s, endpoint.owner) for s in sorted(services)}


async def _owned(repo: WebhookRepository, caller: Caller, webhook_id: uuid.UUID, for_update: bool = False):
    endpoint = await repo.get(webhook_id, caller.principal.sub, for_update=for_update)
    if endpoint is None:
        raise NotFound(what="webhook", key=str(webhook_id))
    return endpoint


async def create(
    session: AsyncSession,
    settings: Settings,
    caller: Caller,
    body: WebhookCreate,
    resolver: ssrf.Resolver | None = None,
) -> WebhookCreated:
    p = caller.principal
    _check_scopes(caller, body.event_types)
    await _check_url(body.url, settings, resolver)
    repo = WebhookRepository(session)
    await repo.lock_owner(p.sub)
    count = await repo.count_of(p.sub)
    if count >= settings.webhooks.max_endpoints_per_owner:
        raise TooManyWebhooks(count=count)
    now = _now()
    endpoint = await repo.add(
        WebhookEndpoint(
            id=uuid.uuid4(),
            owner_sub=p.sub,
            owner_client_id=uuid.UUID(caller.client_id) if caller.client_id else None,
            owner_kind=p.kind,
            owner_org=p.org,
            owner_region=p.region,
            owner_scopes=list(p.scopes),
            url=body.url,
            event_types=body.event_types,
            description=body.description,
            enabled=True,
            created_at=now,
            updated_at=now,
        )
    )
    secret = new_secret()
    row = WebhookSecret(
        id=uuid.uuid4(),
        endpoint_id=endpoint.id,
        sealed=SecretBox(settings).seal(endpoint.id, secret),
        created_at=now,
    )
    await repo.add_secret(row)
    await repo.follow(endpoint.id, await _heads(session, endpoint, set(services_of(body.event_types))))
    await record_changes(
        session, SCHEMA, p, [Change("created", "webhook_endpoint", str(endpoint.id), None, _audit(endpoint))]
    )
    out = webhook_out(endpoint, [row])
    return WebhookCreated(**out.model_dump(), secret=secret)


async def get(session: AsyncSession, caller: Caller, webhook_id: uuid.UUID) -> WebhookOut:
    repo = WebhookRepository(session)
    endpoint = await _owned(repo, caller, webhook_id)
    return await _current(repo, endpoint)


async def _current(repo: WebhookRepository, endpoint: WebhookEndpoint) -> WebhookOut:
    """The endpoint as its GET answers it now (the representation its ETag is the tag of)."""
    secrets = await repo.secrets_of([endpoint.id], _now())
    return webhook_out(endpoint, secrets[endpoint.id])


async def list_(
    session: AsyncSession, caller: Caller, params: PageParams
) -> tuple[list[WebhookOut], str | None]:
    repo = WebhookRepository(session)
    rows, cursor = await repo.list(caller.principal.sub, params)
    secrets = await repo.secrets_of([e.id for e in rows], _now())
    return [webhook_out(e, secrets[e.id]) for e in rows], cursor


async def update(
    session: AsyncSession,
    settings: Settings,
    caller: Caller,
    webhook_id: uuid.UUID,
    body: WebhookUpdate,
    resolver: ssrf.Resolver | None = None,
    if_match: str | None = None,
) -> WebhookOut:
    repo = WebhookRepository(session)
    endpoint = await _owned(repo, caller, webhook_id, for_update=True)
    require_match(if_match, representation(await _current(repo, endpoint)))
    fields = body.model_fields_set
    for f in ("url", "event_types", "enabled"):
        if f in fields and getattr(body, f) is None:
            raise Required(field=f, how="null")
    before = _audit(endpoint)
    values: dict = {}
    if "url" in fields and body.url != endpoint.url:
        await _check_url(body.url, settings, resolver)
        values["url"] = body.url
    if "event_types" in fields and body.event_types != list(endpoint.event_types):
        _check_scopes(caller, body.event_types)
        values["event_types"] = body.event_types
    if "description" in fields and body.description != endpoint.description:
        values["description"] = body.description
    now = _now()
    if "enabled" in fields and body.enabled != endpoint.enabled:
        if body.enabled:  # resumes where its feeds stopped (within the horizon); failing starts over
            values.update(enabled=True, disabled_reason=None, disabled_at=None, failing_since=None)
        else:
            values.update(enabled=False, disabled_reason=OWNER_DISABLED, disabled_at=now)
    if values:
        values["updated_at"] = now
        await repo.update(endpoint, values)
        if values.get("enabled"):  # a feed that had expired the endpoint's place: from its present
            refused = await repo.refused(endpoint.id)
            await repo.restart_refused(endpoint.id, await _heads(session, endpoint, refused))
        if "event_types" in values:
            wanted = set(services_of(endpoint.event_types))
            await repo.unfollow_others(endpoint.id, wanted)
            new = wanted - await repo.followed(endpoint.id)
            await repo.follow(endpoint.id, await _heads(session, endpoint, new))
        await record_changes(
            session,
            SCHEMA,
            caller.principal,
            [Change("updated", "webhook_endpoint", str(endpoint.id), before, _audit(endpoint))],
        )
    secrets = await repo.secrets_of([endpoint.id], now)
    return webhook_out(endpoint, secrets[endpoint.id])


async def delete(
    session: AsyncSession, caller: Caller, webhook_id: uuid.UUID, if_match: str | None = None
) -> None:
    """The endpoint, its secrets, cursors and delivery log go; nothing more is sent to it."""
    repo = WebhookRepository(session)
    endpoint = await _owned(repo, caller, webhook_id, for_update=True)
    require_match(if_match, representation(await _current(repo, endpoint)))
    before = _audit(endpoint)
    await repo.delete(endpoint)
    await record_changes(
        session,
        SCHEMA,
        caller.principal,
        [Change("deleted", "webhook_endpoint", str(endpoint.id), before, None)],
    )


async def rotate_secret(
    session: AsyncSession, settings: Settings, caller: Caller, webhook_id: uuid.UUID
) -> SecretRotated:
    """A new secret signs from now on; those still valid keep signing beside it for the grace
    period (`rotation_grace_h`, 24 h), so the receiver can switch without losing a delivery."""
    repo = WebhookRepository(session)
    endpoint = await _owned(repo, caller, webhook_id, for_update=True)
    now = _now()
    expire_at = now + timedelta(hours=settings.webhooks.rotation_grace_h)
    had = bool((await repo.secrets_of([endpoint.id], now))[endpoint.id])
    await repo.expire_secrets(endpoint.id, now, expire_at)
    secret = new_secret()
    await repo.add_secret(
        WebhookSecret(
            id=uuid.uuid4(),
            endpoint_id=endpoint.id,
            sealed=SecretBox(settings).seal(endpoint.id, secret),
            created_at=now,
        )
    )
    await record_changes(
        session,
        SCHEMA,
        caller.principal,
        [
            Change(
                "rotated",
                "webhook_endpoint",
                str(endpoint.id),
                None,
                {"previous_secrets_expire_at": expire_at.isoformat()},
            )
        ],
    )
    return SecretRotated(
        webhook_id=endpoint.id, secret=secret, previous_secrets_expire_at=expire_at if had else None
    )


def _require_enabled(endpoint: WebhookEndpoint) -> None:
    if not endpoint.enabled:
        raise WebhookDisabled(webhook_id=endpoint.id, reason=endpoint.disabled_reason)


async def send_test(session: AsyncSession, caller: Caller, webhook_id: uuid.UUID) -> DeliveryOut:
    """Queue a `webhook.test` event for the endpoint (the dispatcher sends it, signed like any)."""
    repo = WebhookRepository(session)
    endpoint = await _owned(repo, caller, webhook_id)
    _require_enabled(endpoint)
    now = _now()
    event = source.Event(
        id=f"evt_test_{uuid.uuid4().hex}",
        type=TEST_EVENT_TYPE,
        occurred_at=now,
        subject={"type": "webhook", "key": str(endpoint.id)},
        data={"description": endpoint.description},
        links={"self": f"/v1/webhooks/{endpoint.id}"},
    )
    delivery = await repo.add_delivery(
        WebhookDelivery(
            id=uuid.uuid4(),
            endpoint_id=endpoint.id,
            event_id=event.id,
            event_type=event.type,
            body=json.dumps(event.as_json(), ensure_ascii=False, separators=(",", ":")),
            status="pending",
            next_attempt_at=now,
        )
    )
    return delivery_out(delivery)


async def deliveries(
    session: AsyncSession, caller: Caller, webhook_id: uuid.UUID, params: PageParams, status: str | None
) -> tuple[list[DeliveryOut], str | None]:
    repo = WebhookRepository(session)
    endpoint = await _owned(repo, caller, webhook_id)
    rows, cursor = await repo.deliveries(endpoint.id, params, status)
    return [delivery_out(d) for d in rows], cursor


async def delivery(
    session: AsyncSession, caller: Caller, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryDetail:
    repo = WebhookRepository(session)
    endpoint = await _owned(repo, caller, webhook_id)
    d = await repo.delivery(endpoint.id, delivery_id)
    if d is None:
        raise NotFound(what="delivery", key=str(delivery_id))
    log = [
        AttemptOut(
            attempt=a.attempt,
            started_at=a.started_at,
            status_code=a.status_code,
            duration_ms=a.duration_ms,
            response_excerpt=a.response_excerpt,
            error=a.error,
            next_attempt_at=a.next_attempt_at,
        )
        for a in await repo.attempts(d.id)
    ]
    return DeliveryDetail(**delivery_out(d).model_dump(), body=d.body, attempt_log=log)


async def retry(
    session: AsyncSession, caller: Caller, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryOut:
    """Send a delivery again now, whatever its state (delivered, failed or waiting for its next
    attempt), with the same webhook-id. A failure of this attempt does not start the schedule over."""
    repo = WebhookRepository(session)
    endpoint = await _owned(repo, caller, webhook_id)
    _require_enabled(endpoint)
    d = await repo.delivery(endpoint.id, delivery_id, for_update=True)
    if d is None:
        raise NotFound(what="delivery", key=str(delivery_id))
    now = _now()
    if d.status == "pending" and d.locked_until is not None and d.locked_until > now:
        raise DeliveryInFlight(delivery_id=d.id)
    await repo.retry(d, now)
    return delivery_out(d)


async def reseal_secrets(session: AsyncSession, settings: Settings) -> tuple[int, int]:
    """Seal every stored signing secret again under the sealing key (`EAGLET_WEBHOOKS__SECRETS_KEY`),
    opening each with it or the key being retired: the end of a rotation of that key. Returns
    (resealed, unreadable): a secret neither key opens is left as it is (its owner rotates it)."""
    from sqlalchemy import select

    box = SecretBox(settings)
    resealed = unreadable = 0
    rows = (await session.execute(select(WebhookSecret).with_for_update())).scalars().all()
    for row in rows:
        try:
            secret = box.open(row.endpoint_id, row.sealed)
        except ValueError:
            unreadable += 1
            continue
        row.sealed = box.seal(row.endpoint_id, secret)
        resealed += 1
    return resealed, unreadable

"""Webhook endpoints and their deliveries as the routes take and show them. A secret is shown
only when it is made (registration, rotation)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from gateway.webhooks.catalogue import SERVICE_OF
from services.common.types import text

KNOWN_TYPES = sorted(SERVICE_OF)
URL_MAX = 2048
DESCRIPTION_MAX = 500


def _known_type(v: str) -> str:
    if v not in SERVICE_OF:
        raise ValueError(f"unknown event type {v!r}; the types are listed in docs/webhooks.md")
    return v


EventType = Annotated[
    text(StringConstraints(min_length=1, max_length=64)),
    AfterValidator(_known_type),
    Field(json_schema_extra={"enum": KNOWN_TYPES}, examples=["loan.created"]),
]
WebhookUrl = text(
    StringConstraints(min_length=1, max_length=URL_MAX),
    Field(
        description="Where events are POSTed: https (outside development), a host resolving to "
        "public addresses (or one the operator allows)",
        examples=["https://hooks.bank.example.com/eaglet"],
    ),
)
Description = text(StringConstraints(max_length=DESCRIPTION_MAX))
EventTypes = Annotated[
    list[EventType],
    Field(min_length=1, max_length=len(KNOWN_TYPES), description="The event types to receive"),
]
DeliveryStatus = Literal["pending", "delivered", "failed"]


def _unique_sorted(v: list[str] | None) -> list[str] | None:
    return None if v is None else sorted(set(v))


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl
    event_types: EventTypes
    description: Description | None = None

    @field_validator("event_types")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        return _unique_sorted(v)


class WebhookUpdate(BaseModel):
    """Fields to change. `enabled: true` re-enables a disabled endpoint (its feed resumes where
    it stopped: nothing within the event horizon is lost); `false` pauses it."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = None

    @field_validator("event_types")
    @classmethod
    def _types(cls, v: list[str] | None) -> list[str] | None:
        return _unique_sorted(v)


class SecretOut(BaseModel):
    created_at: datetime
    expires_at: datetime | None = Field(description="After this the secret no longer signs (a rotation)")


class WebhookOut(BaseModel):
    id: uuid.UUID
    url: str
    event_types: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None = Field(description="Why it is disabled: a 410, 5 days failing, its owner")
    disabled_at: datetime | None
    failing_since: datetime | None = Field(description="Since when every attempt has failed")
    created_at: datetime
    updated_at: datetime
    secrets: list[SecretOut] = Field(description="The signing secrets in use (never their values)")


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret (`whsec_…`); shown only now, store it safely")


class SecretRotated(BaseModel):
    webhook_id: uuid.UUID
    secret: str = Field(description="The new signing secret; shown only now")
    previous_secrets_expire_at: datetime | None = Field(
        description="Until then the previous secret signs beside the new one"
    )


class DeliveryOut(BaseModel):
    id: uuid.UUID
    event_id: str = Field(description="The event's id, sent as `webhook-id` on every attempt")
    event_type: str
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_duration_ms: int | None
    last_response: str | None = Field(description="The first 2 KB of the receiver's last answer")
    last_error: str | None = Field(description="Why the last attempt failed, when it did")
    next_attempt_at: datetime | None
    delivered_at: datetime | None


class AttemptOut(BaseModel):
    attempt: int
    started_at: datetime
    status_code: int | None
    duration_ms: int
    response_excerpt: str | None
    error: str | None
    next_attempt_at: datetime | None


class DeliveryDetail(DeliveryOut):
    body: str = Field(description="The body sent, byte for byte")
    attempt_log: list[AttemptOut]

"""API clients as the admin routes and the CLI show them. Keys are shown once, at creation."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    PlainSerializer,
    StringConstraints,
    field_validator,
    model_validator,
)

from gateway.policy import SCOPE_RE
from services.common.auth import ORG_MAX_LEN, is_org_code
from services.common.regions import check_region_code
from services.common.types import RegionCode, Text, text

Kind = Literal["bank", "guarantor", "certifier", "official", "admin"]
RatePerSecond = Annotated[
    Decimal,
    Field(gt=0, le=100000, max_digits=10, decimal_places=2, examples=["50"]),
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json"),
]


def _org_code(v: str) -> str:
    """The org rule every principal obeys (a client whose org broke it could never authenticate)."""
    if not is_org_code(v):
        raise ValueError(f"an org code is 1–{ORG_MAX_LEN} printable characters")
    return v


class ClientCreate(BaseModel):
    kind: Kind
    org: (
        text(
            StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
            AfterValidator(_org_code),
        )
        | None
    ) = Field(
        None, description="Institution / certification body code (required for bank, guarantor, certifier)"
    )
    name: text(StringConstraints(strip_whitespace=True, min_length=1, max_length=200))
    region: Annotated[RegionCode, AfterValidator(check_region_code)] | None = Field(
        None, description="GB/T 2260 region code of the reference table (required for officials)"
    )
    scopes: list[Text] = Field(
        default_factory=list,
        max_length=20,
        description="Optional restriction, e.g. ['finance:write', 'registry:read']; empty: everything the kind may use",
    )
    rate_per_s: RatePerSecond | None = Field(None, description="Own rate limit; default: the kind's rate")

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, v: list[str]) -> list[str]:
        for s in v:
            if not SCOPE_RE.match(s):
                raise ValueError(
                    f"unknown scope {s!r}: use <registry|finance|standards|gateway>:<read|write|*>"
                )
        return sorted(set(v))

    @model_validator(mode="after")
    def _kind_needs(self) -> ClientCreate:
        if self.kind in ("bank", "guarantor", "certifier") and not self.org:
            raise ValueError(f"a {self.kind} client needs org (its institution code)")
        if self.kind == "official" and not self.region:
            raise ValueError("an official client needs region")
        return self


class KeyOut(BaseModel):
    id: uuid.UUID
    prefix: str = Field(description="First characters of the key, to recognise it")
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    active: bool


class ClientOut(BaseModel):
    id: uuid.UUID
    kind: Kind
    org: str | None
    name: str
    region: str | None
    scopes: list[str]
    rate_per_s: RatePerSecond | None
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None
    keys: list[KeyOut]


class ClientCreated(ClientOut):
    key: str = Field(description="The API key; shown only now, store it safely")
    key_id: uuid.UUID


class RotateRequest(BaseModel):
    grace_hours: float = Field(
        24, ge=0, le=720, description="The client's other keys stay valid this long (0: revoked at once)"
    )


class KeyIssued(BaseModel):
    client_id: uuid.UUID
    key_id: uuid.UUID
    key: str = Field(description="The new API key; shown only now")
    prefix: str
    previous_keys_expire_at: datetime | None

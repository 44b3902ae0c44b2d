"""The enterprise profile: one enterprise as the three services show it to this caller."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Part = Literal["registry", "finance", "standards"]


class StandardsPart(BaseModel):
    certifications: list[dict[str, Any]] = Field(
        description="品字标 certificates held (standards' certification records, with effective status)"
    )
    certifications_truncated: bool = Field(description="True when the holder has more than 500 certificates")
    standards: Any = Field(description="Standards the enterprise led or took part in drafting")


class EnterpriseProfile(BaseModel):
    credit_code: str
    enterprise: dict[str, Any] | None = Field(
        description="The registry record (registry GET /v1/enterprises/{code})"
    )
    finance: dict[str, Any] | None = Field(
        description="Financing summary scoped to the caller (a bank sees only its own loans in it)"
    )
    standards: StandardsPart | None
    partial: bool = Field(description="True when a part could not be fetched (see degraded)")
    degraded: list[Part] = Field(
        description="Parts missing because their service failed, timed out or did not answer "
        "within the aggregate deadline (EAGLET_UPSTREAM__AGGREGATE_DEADLINE_S, default 3 s)"
    )
    withheld: list[Part] = Field(
        description="Parts not shown to this caller: its credential's scopes lack the service's "
        "read scope (not fetched), or the service refuses the caller's kind (403)"
    )
    as_of: datetime

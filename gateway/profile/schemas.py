"""The enterprise profile: one enterprise as the three services show it to this caller."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Part = Literal["registry", "finance", "standards"]
# The service operation each part is the answer of: typed with that operation's schema in the
# merged OpenAPI (gateway/openapi.py, `PART_OF`).
PART_OF = "x-eaglet-part-of"


def part_of(service: str, operation_id: str, page_items: bool = False) -> dict[str, Any]:
    return {PART_OF: {"service": service, "operationId": operation_id, "page_items": page_items}}


class StandardsPart(BaseModel):
    certifications: list[dict[str, Any]] = Field(
        description="品字标 certificates held (standards' certification records, with effective status)",
        json_schema_extra=part_of("standards", "list_certifications", page_items=True),
    )
    certifications_truncated: bool = Field(description="True when the holder has more than 500 certificates")
    standards: Any = Field(
        description="Standards the enterprise led or took part in drafting",
        json_schema_extra=part_of("standards", "list_enterprise_standards", page_items=True),
    )


class EnterpriseProfile(BaseModel):
    credit_code: str
    enterprise: dict[str, Any] | None = Field(
        description="The registry record (registry GET /v1/enterprises/{code})",
        json_schema_extra=part_of("registry", "get_enterprise"),
    )
    finance: dict[str, Any] | None = Field(
        description="Financing summary scoped to the caller (a bank sees only its own loans in it; "
        "finance GET /v1/enterprises/{code}/financing-summary)",
        json_schema_extra=part_of("finance", "get_financing_summary"),
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

"""Certification push records and read models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from services.common.batch import batch_request
from services.common.credit_code import normalize_credit_code
from services.common.types import CREDIT_CODE_DOC, text
from services.standards.catalogue.schemas import StandardCode

Status = Literal["valid", "suspended", "revoked", "cancelled"]
EffectiveStatus = Literal["valid", "suspended", "revoked", "cancelled", "expired"]


# Holders recur across pushes: the checksum check is pure, so each code is checked once per process
# (failures are not cached and raise every time).
_credit_code = lru_cache(maxsize=65536)(normalize_credit_code)
HolderCreditCode = text(
    StringConstraints(min_length=1, max_length=64), AfterValidator(_credit_code), CREDIT_CODE_DOC
)
CertificateNo = text(
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    Field(description="The body's own certificate number (opaque)", examples=["ZJM23CQM0001"]),
)
RuleCode = text(
    StringConstraints(strip_whitespace=True, to_upper=True, max_length=64, pattern=r"^ZJM(-[0-9A-Z]+)+$"),
    Field(examples=["ZJM-006-4481-2023"]),
)
# As read (a path or query parameter): exactly as sent, no stripping.
CertificateNoParam = text(StringConstraints(min_length=1, max_length=64))
CertifierParam = text(StringConstraints(max_length=64))


class CertificateRecord(BaseModel):
    """One pushed certificate decision (the body is taken from the caller's principal)."""

    model_config = ConfigDict(extra="forbid")
    certificate_no: CertificateNo
    holder_credit_code: HolderCreditCode
    holder_name: text(StringConstraints(strip_whitespace=True, min_length=1, max_length=200))
    product: text(StringConstraints(strip_whitespace=True, min_length=1, max_length=500))
    # free text, as printed on the certificate: may run over several lines
    scope: text(StringConstraints(strip_whitespace=True, max_length=2000), multiline=True) | None = None
    standard_code: StandardCode
    rule_code: RuleCode
    issued_on: date
    expires_on: date
    status: Status
    status_effective_on: date
    status_reason: text(StringConstraints(strip_whitespace=True, max_length=1000), multiline=True) | None = (
        None
    )


CertificateBatchRequest = batch_request(
    "CertificateBatchRequest",
    CertificateRecord,
    {
        "certificate_no": "ZJM23CQM0001",
        "holder_credit_code": "91330106MA27XK3L4D",
        "holder_name": "杭州示例精密机械有限公司",
        "product": "齿轮减速电机",
        "scope": "设计、生产",
        "standard_code": "T/ZZB 0001—2023",
        "rule_code": "ZJM-006-4481-2023",
        "issued_on": "2023-03-01",
        "expires_on": "2026-02-28",
        "status": "valid",
        "status_effective_on": "2023-03-01",
    },
)


class CertificateOut(BaseModel):
    certifier: str
    certificate_no: str
    holder_credit_code: str
    holder_name: str
    product: str
    scope: str | None
    standard_code: str
    rule_code: str
    issued_on: date
    expires_on: date
    status: Status = Field(description="The status the body last pushed")
    effective_status: EffectiveStatus = Field(
        description="`expired` when valid or suspended and today (Asia/Shanghai) is after expires_on"
    )
    status_effective_on: date
    status_reason: str | None
    revision: int = Field(description="Number of accepted changes so far (1 on creation)")
    rule_set_version: str
    updated_at: datetime


class HistoryEntry(BaseModel):
    revision: int
    action: Literal["created", "updated"]
    status: Status
    status_effective_on: date
    status_reason: str | None
    certifier: str = Field(description="The body that pushed the change")
    pushed_by: str = Field(description="The pushing client's subject")
    pushed_at: datetime
    request_id: str | None
    rule_set_version: str
    record: dict[str, Any] = Field(description="The record exactly as pushed")


@dataclass(frozen=True)
class CertificateFilters:
    """The filters of the certificate list, and of its export."""

    holder: str | None = None
    status: str | None = None
    standard: str | None = None
    expiring_before: date | None = None
    certifier: str | None = None

"""What the public sees of a certificate — exactly these fields, nothing else."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from services.standards.certifications.schemas import CertificateNo, EffectiveStatus

# The verification route's template (the route's and the fast route's: metrics name it so).
VERIFY_PATH = "/v1/public/certifications/{certificate_no:path}"


class PublicCertificate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    certificate_no: str
    certifier: str = Field(description="The certification body's code")
    holder_name: str
    holder_credit_code: str
    product: str
    standard_code: str
    issued_on: date
    expires_on: date
    status: EffectiveStatus = Field(
        description="Effective status: the body's last decision, or `expired` from the day after "
        "expires_on (Asia/Shanghai) for a valid or suspended certificate"
    )
    status_changed_on: date = Field(
        description="When the effective status took effect (for `expired`: the day after expires_on)"
    )


class Verification(BaseModel):
    items: list[PublicCertificate] = Field(
        description="Every holder body's public record of the number, ordered by body code (usually "
        "one); with `?certifier=`, that body's"
    )


class LookupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    certificate_nos: list[CertificateNo] = Field(
        min_length=1, max_length=100, description="Up to 100 certificate numbers"
    )


class LookupResult(BaseModel):
    certificate_no: str
    found: bool
    certificates: list[PublicCertificate] = Field(
        description="Every body's certificate with this number (usually one)"
    )


class LookupResponse(BaseModel):
    results: list[LookupResult] = Field(description="In the order asked")

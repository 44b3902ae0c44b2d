"""The submission status resource and its findings (every service's)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.common.errors import ProblemDetail
from services.common.tabular import FORMATS

SubmissionStatus = Literal[
    "received", "validating", "completed", "completed_with_errors", "failed", "expired"
]


def href(service: str, submission_id: int, tail: str = "") -> str:
    """A submission's path as the gateway serves it (`/<service>/v1/submissions/…`)."""
    return f"/{service}/v1/submissions/{submission_id}{tail}"


class SubmissionCounts(BaseModel):
    created: int
    updated: int
    unchanged: int
    rejected: int


class SubmissionLinks(BaseModel):
    self: str
    findings: str
    report: str = Field(description="The findings as CSV")
    retry: str = Field(description="POST: resume an expired or failed submission")


def links_of(service: str, submission_id: int) -> SubmissionLinks:
    return SubmissionLinks(
        self=href(service, submission_id),
        findings=href(service, submission_id, "/findings"),
        report=href(service, submission_id, "/report.csv"),
        retry=href(service, submission_id, "/retry"),
    )


class SubmissionOut(BaseModel):
    id: int
    kind: str = Field(description="What the file holds (the `kind` it was submitted with)")
    status: SubmissionStatus = Field(
        description="received → validating → completed | completed_with_errors (some lines rejected) "
        "| failed | expired (no progress for EAGLET_SUBMISSIONS__STALL_S: POST links.retry resumes it)"
    )
    format: Literal[FORMATS] = Field(description="The file's format, from its Content-Type")  # type: ignore[valid-type]
    validate_only: bool = Field(description="A dry run: validated, nothing written")
    sha256: str = Field(description="SHA-256 of the file as received, hex")
    size: int = Field(description="Bytes received")
    rows_total: int | None = Field(None, description="Data lines in the file, once counted")
    rows_done: int
    counts: SubmissionCounts
    rule_set_version: str
    error: ProblemDetail | None = Field(None, description="Why the submission failed or expired")
    links: SubmissionLinks
    created_at: datetime
    finished_at: datetime | None = None
    file_removed_at: datetime | None = Field(
        None, description="When the file was deleted (kept EAGLET_SUBMISSIONS__RETENTION_DAYS after the end)"
    )

    @classmethod
    def of(cls, service: str, s: Any) -> SubmissionOut:
        return cls(
            id=s.id,
            kind=s.kind,
            status=s.status,
            format=s.format,
            validate_only=s.validate_only,
            sha256=s.sha256,
            size=s.size,
            rows_total=s.rows_total,
            rows_done=s.rows_done,
            counts=SubmissionCounts(
                created=s.created, updated=s.updated, unchanged=s.unchanged, rejected=s.rejected
            ),
            rule_set_version=s.rule_set_version,
            error=s.error,
            links=links_of(service, s.id),
            created_at=s.created_at,
            finished_at=s.finished_at,
            file_removed_at=s.file_removed_at,
        )


class SubmissionFindingOut(BaseModel):
    line: int = Field(description="Line in the file (the header is line 1)")
    key: str | None = Field(
        None, description="The line's natural key (loan_ref, certificate_no…), when it has one"
    )
    status: str = Field(description="The line's outcome: rejected, or created/updated/unchanged")
    rule: str | None
    severity: Literal["error", "warning"]
    pointer: str = Field(description="JSON Pointer into the file: /lines/<line>/<field>")
    code: str
    message: str

    @classmethod
    def of(cls, f: Any) -> SubmissionFindingOut:
        return cls(
            line=f.line,
            key=f.key,
            status=f.status,
            rule=f.rule,
            severity=f.severity,  # type: ignore[arg-type]
            pointer=f.pointer,
            code=f.code,
            message=f.message,
        )

"""The submission status resource and its findings."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.common.errors import ProblemDetail
from services.finance.submissions.models import Submission, SubmissionFinding

Kind = Literal["loans"]
SubmissionStatus = Literal["received", "validating", "completed", "completed_with_errors", "failed"]


def href(submission_id: int, tail: str = "") -> str:
    return f"/finance/v1/submissions/{submission_id}{tail}"


class SubmissionCounts(BaseModel):
    created: int
    updated: int
    unchanged: int
    rejected: int


class SubmissionLinks(BaseModel):
    self: str
    findings: str
    report: str = Field(description="The findings as CSV")


class SubmissionOut(BaseModel):
    id: int
    kind: Kind
    status: SubmissionStatus = Field(
        description="received → validating → completed | completed_with_errors (some lines rejected) | failed"
    )
    validate_only: bool = Field(description="A dry run: validated, nothing written")
    sha256: str = Field(description="SHA-256 of the file as received, hex")
    size: int = Field(description="Bytes received")
    rows_total: int | None = Field(None, description="Data lines in the file, once counted")
    rows_done: int
    counts: SubmissionCounts
    rule_set_version: str
    error: ProblemDetail | None = Field(None, description="Why the submission failed")
    links: SubmissionLinks
    created_at: datetime
    finished_at: datetime | None = None

    @classmethod
    def of(cls, s: Submission | Any) -> SubmissionOut:
        return cls(
            id=s.id,
            kind=s.kind,
            status=s.status,
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
            links=SubmissionLinks(
                self=href(s.id), findings=href(s.id, "/findings"), report=href(s.id, "/report.csv")
            ),
            created_at=s.created_at,
            finished_at=s.finished_at,
        )


class SubmissionFindingOut(BaseModel):
    line: int = Field(description="Line in the file (the header is line 1)")
    key: str | None = Field(None, description="The line's natural key (loan_ref), when it has one")
    status: str = Field(description="The line's outcome: rejected, or created/updated/unchanged")
    rule: str | None
    severity: Literal["error", "warning"]
    pointer: str = Field(description="JSON Pointer into the file: /lines/<line>/<field>")
    code: str
    message: str

    @classmethod
    def of(cls, f: SubmissionFinding) -> SubmissionFindingOut:
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

"""finance.submissions: one row per uploaded file, its status and counts, and how many of its
chunks are committed; finance.submission_findings: what the worker found, by line."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base

STATUSES = ("received", "validating", "completed", "completed_with_errors", "failed")


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in STATUSES)})", name="status"),
        Index("ix_submissions_owner_org", "owner_org"),
        # the same Idempotency-Key from the same institution names one submission
        Index(
            "uq_submissions_owner_idempotency_key",
            "owner_kind",
            "owner_org",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
        {"schema": "finance"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="received")
    validate_only: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # the caller (a bank: its institution owns the submission)
    owner_kind: Mapped[str] = mapped_column(Text)
    owner_sub: Mapped[str] = mapped_column(Text)
    owner_org: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    file: Mapped[str] = mapped_column(Text)  # under EAGLET_SUBMISSIONS__DIR
    rule_set_version: Mapped[str] = mapped_column(Text)
    # lines per chunk, fixed at upload: a resumed run cuts the file where the first run did
    chunk_rows: Mapped[int] = mapped_column(Integer)
    # chunks committed, each in the transaction of its own writes: a run resumes after them
    chunks_done: Mapped[int] = mapped_column(Integer, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    rows_total: Mapped[int | None] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, server_default="0")
    created: Mapped[int] = mapped_column(Integer, server_default="0")
    updated: Mapped[int] = mapped_column(Integer, server_default="0")
    unchanged: Mapped[int] = mapped_column(Integer, server_default="0")
    rejected: Mapped[int] = mapped_column(Integer, server_default="0")
    error: Mapped[dict | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SubmissionFinding(Base):
    __tablename__ = "submission_findings"
    __table_args__ = (
        Index("ix_submission_findings_submission_id_id", "submission_id", "id"),
        {"schema": "finance"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("finance.submissions.id", ondelete="CASCADE")
    )
    line: Mapped[int] = mapped_column(Integer)  # in the file; the header is line 1
    key: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)  # the line's: rejected, or how it was stored
    rule: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(Text)
    pointer: Mapped[str] = mapped_column(Text)  # /lines/<line>/<field>
    code: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)

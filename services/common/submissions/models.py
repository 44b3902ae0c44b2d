"""`<schema>.submissions`: one row per uploaded file, its status and counts, and how many of its
chunks are committed; `<schema>.submission_findings`: what the worker found, by line. One
declaration for every schema that takes submissions (finance, standards, registry)."""

from __future__ import annotations

from typing import Any

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
from sqlalchemy.orm import mapped_column

from services.common.models import Base
from services.common.tabular import FORMATS

# received → validating → completed | completed_with_errors | failed | expired
STATUSES = ("received", "validating", "completed", "completed_with_errors", "failed", "expired")
ENDED = ("completed", "completed_with_errors", "failed", "expired")
TS = DateTime(timezone=True)


def _submission_columns() -> dict[str, Any]:
    """Fresh columns (a column belongs to one table)."""
    c = mapped_column
    return {
        "id": c(BigInteger, Identity(), primary_key=True),
        "kind": c(Text, nullable=False),
        "status": c(Text, nullable=False, server_default="received"),
        "validate_only": c(Boolean, nullable=False, server_default="false"),
        # the caller; `owner` is whose the submission is (kinds.py `owner_of`: org or sub)
        "owner_kind": c(Text, nullable=False),
        "owner_sub": c(Text, nullable=False),
        "owner_org": c(Text),
        "owner_region": c(Text),  # an official's region: its batch is scoped by it
        "owner": c(Text, nullable=False),
        "request_id": c(Text),
        "idempotency_key": c(Text),
        "sha256": c(Text, nullable=False),
        "size": c(BigInteger, nullable=False),
        # the file's format, from the upload's Content-Type (services/common/tabular.py FORMATS)
        "format": c(Text, nullable=False, server_default="csv"),
        "file": c(Text, nullable=False),  # its name in the store (services/common/submission_store.py)
        "rule_set_version": c(Text, nullable=False),
        # lines per chunk, fixed at upload: a resumed run cuts the file where the first run did
        "chunk_rows": c(Integer, nullable=False),
        # chunks committed, each in the transaction of its own writes: a run resumes after them
        "chunks_done": c(Integer, nullable=False, server_default="0"),
        "attempts": c(Integer, nullable=False, server_default="0"),
        "rows_total": c(Integer),
        "rows_done": c(Integer, nullable=False, server_default="0"),
        "created": c(Integer, nullable=False, server_default="0"),
        "updated": c(Integer, nullable=False, server_default="0"),
        "unchanged": c(Integer, nullable=False, server_default="0"),
        "rejected": c(Integer, nullable=False, server_default="0"),
        "error": c(JSONB),
        "created_at": c(TS, nullable=False, server_default=func.now()),
        "updated_at": c(TS, nullable=False, server_default=func.now()),
        # the worker's last sign of life on it (take, each chunk, every HEARTBEAT_S meanwhile)
        "heartbeat_at": c(TS),
        "finished_at": c(TS),
        # the file deleted by retention (EAGLET_SUBMISSIONS__RETENTION_DAYS after it ended)
        "file_removed_at": c(TS),
    }


def _finding_columns(schema: str) -> dict[str, Any]:
    c = mapped_column
    return {
        "id": c(BigInteger, Identity(), primary_key=True),
        "submission_id": c(
            BigInteger, ForeignKey(f"{schema}.submissions.id", ondelete="CASCADE"), nullable=False
        ),
        "line": c(Integer, nullable=False),  # in the file; the header is line 1
        "key": c(Text),
        "status": c(Text, nullable=False),  # the line's: rejected, or how it was stored
        "rule": c(Text),
        "severity": c(Text, nullable=False),
        "pointer": c(Text, nullable=False),  # /lines/<line>/<field>
        "code": c(Text, nullable=False),
        "message": c(Text, nullable=False),
    }


def submission_models(schema: str) -> tuple[Any, Any]:
    """The mapped `<schema>.submissions` and `<schema>.submission_findings` (call once per
    schema: the tables join the shared metadata)."""
    prefix = schema.title()
    submission = type(
        f"{prefix}Submission",
        (Base,),
        {
            "__tablename__": "submissions",
            "__table_args__": (
                CheckConstraint(f"status IN ({', '.join(repr(s) for s in STATUSES)})", name="status"),
                CheckConstraint(f"format IN ({', '.join(repr(f) for f in FORMATS)})", name="format"),
                Index("ix_submissions_owner_kind_owner", "owner_kind", "owner"),
                # the same Idempotency-Key from the same owner names one submission
                Index(
                    "uq_submissions_owner_idempotency_key",
                    "owner_kind",
                    "owner",
                    "idempotency_key",
                    unique=True,
                    postgresql_where=text("idempotency_key IS NOT NULL"),
                ),
                {"schema": schema},
            ),
            "__module__": __name__,
            **_submission_columns(),
        },
    )
    finding = type(
        f"{prefix}SubmissionFinding",
        (Base,),
        {
            "__tablename__": "submission_findings",
            "__table_args__": (
                Index("ix_submission_findings_submission_id_id", "submission_id", "id"),
                {"schema": schema},
            ),
            "__module__": __name__,
            **_finding_columns(schema),
        },
    )
    return submission, finding

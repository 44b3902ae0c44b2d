"""Files of asynchronous exports, kept in the database in chunks until they expire.

The worker that writes a file and the service replica that serves it share only the database: a
file under a data directory would need a volume shared by every replica and worker. A chunk is
`CHUNK_BYTES` of the file; serving reads one chunk per round trip, so a download holds no more
than a chunk in memory and no connection between chunks.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, LargeBinary, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import JOBS, Base

CHUNK_BYTES = 1024 * 1024


class ExportFile(Base):
    __tablename__ = "export_files"
    __table_args__ = (
        Index("ix_export_files_expires_at", "expires_at"),  # retention removes expired files
        {"schema": "registry"},
    )

    # The export is its job: `GET /v1/jobs/{id}` is its status, `/v1/exports/{id}/file` its file.
    job_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey(JOBS["registry"].c.id, ondelete="CASCADE"), primary_key=True
    )
    filename: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(Integer)
    chunks: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ExportChunk(Base):
    __tablename__ = "export_chunks"
    __table_args__ = ({"schema": "registry"},)

    job_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("registry.export_files.job_id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)

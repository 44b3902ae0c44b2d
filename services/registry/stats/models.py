"""The statistics summary table, filled by the triggers of `db.py` (which says what it holds) and
read by `repository.py`; no ORM class maps it: only SQL writes and reads it."""

from __future__ import annotations

from sqlalchemy import Column, Integer, PrimaryKeyConstraint, Table, Text

from services.common.models import metadata
from services.registry.stats.db import COLS

REGION_YEAR_SUMMARIES = Table(
    "region_year_summaries",
    metadata,
    Column("region_code", Text, nullable=False),
    Column("year", Integer, nullable=False),
    *[Column(c, Integer, nullable=False, server_default="0") for c in COLS],
    PrimaryKeyConstraint("region_code", "year"),
    schema="registry",
)

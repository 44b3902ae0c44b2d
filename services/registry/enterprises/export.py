"""The enterprise list's export: its columns, Chinese headers and coded values, written by the
kit's one CSV/XLSX writer (services/common/export.py: safe text cells, typed XLSX cells, widths,
the frozen header row and the autofilter, streaming), streamed by `GET /v1/enterprises/export` and
written by the job worker (`registry/exports/tasks.py`).

In the XLSX, money and years are numbers and dates are dates; codes (credit, region, industry)
stay text, leading zeros and all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from services.common.export import SIZE_ZH, XLSX, Column, Table
from services.common.export import csv_stream as _csv
from services.common.export import xlsx_stream as _xlsx
from services.registry.pool.tiers import NAMES_ZH
from services.registry.reference.data import region

__all__ = ["HEADERS", "TABLE", "XLSX", "csv_stream", "file_kind", "xlsx_stream"]

SCALE_ZH = {"above": "规上", "below": "规下"}
TIER_ZH = NAMES_ZH


def _region_name(row: Any) -> str | None:
    r = region(row["region_code"])
    return r.name if r else None


def _titles(row: Any) -> str | None:
    return ",".join(row["titles"] or []) or None


TABLE = Table(
    columns=(
        Column("credit_code", "统一社会信用代码", width=22),
        Column("name", "企业名称", width=36),
        Column("region_code", "行政区划代码"),
        Column("region_name", "所在地区", get=_region_name, width=14),
        Column("industry_code", "行业代码"),
        Column("industry_section", "行业门类"),
        Column("size_class", "企业规模", labels=SIZE_ZH),
        Column("size_year", "规模年度", "int"),
        Column("scale_status", "规上状态", labels=SCALE_ZH),
        Column("tier", "培育层级", labels=TIER_ZH, width=18),
        Column("titles", "有效称号", get=_titles, width=24),
        Column("established_on", "成立日期", "date"),
        Column("registered_capital", "注册资本（元）", "money", width=18),
        Column("address", "地址", width=40),
    ),
    sheet="企业名录",
    stem="enterprises",
)
HEADERS = TABLE.headers


def file_kind(fmt: str) -> tuple[str, str]:
    """(filename, content type) of a file of this format, streamed or written by the worker."""
    return TABLE.file_kind(fmt)


def csv_stream(rows: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    return _csv(TABLE, rows)


def xlsx_stream(rows: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    return _xlsx(TABLE, rows)

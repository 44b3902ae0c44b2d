"""CSV and XLSX export of the filtered enterprise list, streamed, with Chinese column headers."""

from __future__ import annotations

import asyncio
import csv
import io
import tempfile
from collections.abc import AsyncIterator
from typing import Any

from openpyxl import Workbook

from services.registry.reference.data import region

SIZE_ZH = {"large": "大型", "medium": "中型", "small": "小型", "micro": "微型"}
SCALE_ZH = {"above": "规上", "below": "规下"}
TIER_ZH = {
    "seedling": "雏鹰企业",
    "specialized": "专精特新企业",
    "champion_candidate": "隐形冠军培育企业",
    "champion": "隐形冠军企业",
}
COLUMNS: list[tuple[str, str]] = [
    ("credit_code", "统一社会信用代码"),
    ("name", "企业名称"),
    ("region_code", "行政区划代码"),
    ("region_name", "所在地区"),
    ("industry_code", "行业代码"),
    ("industry_section", "行业门类"),
    ("size_class", "企业规模"),
    ("size_year", "规模年度"),
    ("scale_status", "规上状态"),
    ("tier", "培育层级"),
    ("titles", "有效称号"),
    ("established_on", "成立日期"),
    ("registered_capital", "注册资本（元）"),
    ("address", "地址"),
]
HEADERS = [zh for _, zh in COLUMNS]


def cells(row: Any) -> list[str]:
    r = region(row["region_code"])
    out = []
    for key, _ in COLUMNS:
        if key == "region_name":
            v = r.name if r else ""
        elif key == "size_class":
            v = SIZE_ZH.get(row[key], "")
        elif key == "scale_status":
            v = SCALE_ZH.get(row[key], "")
        elif key == "tier":
            v = TIER_ZH.get(row[key], "")
        elif key == "titles":
            v = ",".join(row[key] or [])
        else:
            v = row[key]
            v = "" if v is None else str(v)
        out.append(v)
    return out


async def csv_stream(rows: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    buf.write("\ufeff")  # BOM: Excel opens UTF-8 CSV with Chinese correctly
    writer.writerow(HEADERS)
    n = 0
    async for row in rows:
        writer.writerow(cells(row))
        n += 1
        if n % 500 == 0:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode()


async def xlsx_stream(rows: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    """write_only workbook into a spooled temp file (XLSX is a zip: it is complete only at the
    end), then streamed out in chunks."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("企业名录")
    ws.append(HEADERS)
    async for row in rows:
        ws.append(cells(row))
    with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as f:
        await asyncio.to_thread(wb.save, f)
        f.seek(0)
        while chunk := f.read(256 * 1024):
            yield chunk

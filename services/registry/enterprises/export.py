"""CSV and XLSX export of the filtered enterprise list, streamed, with Chinese column headers.

Cells: text goes through the kit's `cell_text` (formula-leading text prefixed with `'`, characters
the text rule refuses replaced by U+FFFD, services/common/spreadsheet.py), so that no stored value
runs as a formula or breaks the file half-way. In the XLSX, money and years are numbers and dates
are dates; codes (credit, region, industry) stay text, leading zeros and all.

The XLSX is built off the event loop: rows are taken from the database cursor on the loop in
chunks, and each chunk is turned into cells and appended to the write-only workbook in a worker
thread, as are saving the workbook and reading the file back. The loop does no work per row.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from datetime import date
from decimal import Decimal
from typing import Any, Literal, TypeVar

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from services.common.spreadsheet import cell_text
from services.registry.reference.data import region

SIZE_ZH = {"large": "大型", "medium": "中型", "small": "小型", "micro": "微型"}
SCALE_ZH = {"above": "规上", "below": "规下"}
TIER_ZH = {
    "seedling": "雏鹰企业",
    "specialized": "专精特新企业",
    "champion_candidate": "隐形冠军培育企业",
    "champion": "隐形冠军企业",
}
Kind = Literal["text", "year", "date", "money"]
COLUMNS: list[tuple[str, str, Kind]] = [
    ("credit_code", "统一社会信用代码", "text"),
    ("name", "企业名称", "text"),
    ("region_code", "行政区划代码", "text"),
    ("region_name", "所在地区", "text"),
    ("industry_code", "行业代码", "text"),
    ("industry_section", "行业门类", "text"),
    ("size_class", "企业规模", "text"),
    ("size_year", "规模年度", "year"),
    ("scale_status", "规上状态", "text"),
    ("tier", "培育层级", "text"),
    ("titles", "有效称号", "text"),
    ("established_on", "成立日期", "date"),
    ("registered_capital", "注册资本（元）", "money"),
    ("address", "地址", "text"),
]
HEADERS = [zh for _, zh, _ in COLUMNS]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET = "企业名录"
MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
CSV_ROWS_PER_CHUNK = 500
XLSX_ROWS_PER_CHUNK = 1000  # rows handed to the worker thread at a time (the cursor prefetches 1000)
FILE_CHUNK = 256 * 1024


def file_kind(fmt: str) -> tuple[str, str]:
    """(filename, content type) of a file of this format, streamed or written by the worker."""
    if fmt == "xlsx":
        return "enterprises.xlsx", XLSX
    return "enterprises.csv", "text/csv; charset=utf-8"


def values(row: Any) -> list[str | int | date | Decimal | None]:
    """One row's values in column order: text already made a safe cell; years, dates and money
    typed (None where the row has none)."""
    r = region(row["region_code"])
    out: list[str | int | date | Decimal | None] = []
    for key, _, kind in COLUMNS:
        if key == "region_name":
            v: Any = r.name if r else None
        elif key == "size_class":
            v = SIZE_ZH.get(row[key])
        elif key == "scale_status":
            v = SCALE_ZH.get(row[key])
        elif key == "tier":
            v = TIER_ZH.get(row[key])
        elif key == "titles":
            v = ",".join(row[key] or []) or None
        else:
            v = row[key]
        if v is not None:
            if kind == "text":
                v = cell_text(str(v))
            elif kind == "money":
                v = Decimal(v)  # the statement reads it as text: exact, never a float
        out.append(v)
    return out


def csv_cells(row: Any) -> list[str]:
    return ["" if v is None else v.isoformat() if isinstance(v, date) else str(v) for v in values(row)]


async def csv_stream(rows: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    buf.write("\ufeff")  # BOM: Excel opens UTF-8 CSV with Chinese correctly
    writer.writerow(HEADERS)
    n = 0
    try:
        async for row in rows:
            writer.writerow(csv_cells(row))
            n += 1
            if n % CSV_ROWS_PER_CHUNK == 0:
                yield buf.getvalue().encode()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue().encode()
    finally:
        await _close(rows)


def xlsx_cells(ws: WriteOnlyWorksheet, row: Any) -> list[Any]:
    out: list[Any] = []
    for (_, _, kind), v in zip(COLUMNS, values(row), strict=True):
        if v is not None and kind in ("money", "date"):
            cell = WriteOnlyCell(ws, value=v)
            cell.number_format = MONEY_FORMAT if kind == "money" else DATE_FORMAT
            v = cell
        out.append(v)
    return out


def _append_rows(ws: WriteOnlyWorksheet, rows: list[Any]) -> None:
    for row in rows:
        ws.append(xlsx_cells(ws, row))


async def xlsx_stream(rows: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    """The write-only workbook keeps the rows in a temporary file; saved (XLSX is a zip: it is
    complete only at the end) into a spooled temporary file, then streamed out in chunks."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(SHEET)
    saved = False
    try:
        await _in_thread(ws.append, HEADERS)  # the first row opens the sheet's temporary file
        chunk: list[Any] = []
        async for row in rows:
            chunk.append(row)
            if len(chunk) == XLSX_ROWS_PER_CHUNK:
                await _in_thread(_append_rows, ws, chunk)
                chunk = []
        await _close(rows)  # the database connection goes back before the file is assembled
        if chunk:
            await _in_thread(_append_rows, ws, chunk)
        with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as f:
            await _in_thread(wb.save, f)
            saved = True
            f.seek(0)
            while data := await _in_thread(f.read, FILE_CHUNK):
                yield data
    finally:
        await _close(rows)
        if not saved:
            _discard(ws)


T = TypeVar("T")


async def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a worker thread. A thread cannot be stopped: if the export is cancelled (the
    client went away) the thread is let finish before the workbook is discarded."""
    future = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise


async def _close(rows: AsyncIterator[Any]) -> None:
    aclose = getattr(rows, "aclose", None)
    if aclose is not None:
        await aclose()


def _discard(ws: WriteOnlyWorksheet) -> None:
    """openpyxl keeps a write-only sheet's rows in a temporary file that only saving (or the
    process ending) removes: an abandoned export removes its own."""
    writer = ws._writer
    if writer is not None:
        writer.close()
        if os.path.exists(writer.out):
            writer.cleanup()

"""The one writer of list exports: a table's rows streamed as CSV or XLSX with Chinese headers.

A domain declares its export as a `Table` (its columns: header, kind, how a row gives the value)
and hands the rows of its list's own statement — the list's scope and filters, built by its
repository — to `download`, which streams them from an export connection of the read pools
(`services/common/readpool.py`: the caller's share of exports, 429s beyond it) with the pacing
of `stream_rows`, through a `DownloadResponse` (a client that stops reading is dropped).

Cells (services/common/spreadsheet.py): text cells are the kit's safe cells (a leading `'` before
`= + - @`, tab or CR; refused characters as U+FFFD). In the XLSX money is a number with two
decimals (`#,##0.00`), rates numbers (`0.00##`), counts and years numbers, dates dates
(`yyyy-mm-dd`), yes/no and codes text; every column has a width, the header row is frozen and
carries an autofilter over the whole table. In the CSV (UTF-8 with BOM, for Excel) the same values
are spelt as the JSON API spells them (`1250000.00`, `4.35`, `2022-03-01`, `是`/`否`).

Memory stays flat whatever the size: the CSV goes out in chunks of at least `CSV_FLUSH_CHARS`
characters (small chunks cost the gateway's compressor dearly: each is compressed and flushed);
the XLSX is openpyxl's write-only workbook, which keeps its rows in a temporary file; rows are
turned into cells and appended in a worker thread, a thousand at a time, and the saved file (a
zip, complete only at the end) is read back in `FILE_CHUNK`s — the event loop does no work per row
of an XLSX.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import tempfile
import time
import unicodedata
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Query
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from pydantic import Field
from sqlalchemy import Select
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from services.common.readpool import Reader
from services.common.settings import ExportSettings
from services.common.spreadsheet import cell_text
from services.common.streaming import DownloadResponse

Kind = Literal["text", "int", "date", "money", "rate", "bool"]
Format = Literal["csv", "xlsx"]
FormatParam = Field("csv", description="csv (UTF-8 with BOM) or xlsx")
FormatQuery = Annotated[Format, Query(alias="format", description="csv (UTF-8 with BOM) or xlsx")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
MONEY_FORMAT = "#,##0.00"
RATE_FORMAT = "0.00##"
DATE_FORMAT = "yyyy-mm-dd"
YES, NO = "是", "否"
# The size classes of the registry and of the banks' reports (GB/T 2017 大中小微), as headers show them.
SIZE_ZH = {"large": "大型", "medium": "中型", "small": "小型", "micro": "微型"}
CSV_FLUSH_CHARS = 64 * 1024  # the CSV is sent in chunks of at least this many characters
XLSX_ROWS_PER_CHUNK = 1000  # rows handed to the worker thread at a time
FILE_CHUNK = 256 * 1024  # the saved XLSX is streamed in chunks of this size
MAX_WIDTH = 60
KIND_WIDTH = {"text": 12, "int": 8, "date": 12, "money": 16, "rate": 10, "bool": 6}
FILE_DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            XLSX: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def display_width(text: str) -> int:
    """Columns `text` takes in a spreadsheet: wide (CJK) characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


@dataclass(frozen=True)
class Column:
    """One column: its key in the row (or `get`, a function of the row), its Chinese header, its
    kind, `labels` for coded values (an unknown code comes out as stored) and its XLSX width in
    characters (default: wide enough for the header and the kind's values)."""

    key: str
    header: str
    kind: Kind = "text"
    width: float | None = None
    labels: Mapping[str, str] | None = None
    get: Callable[[Any], Any] | None = None

    @property
    def xlsx_width(self) -> float:
        w = self.width or max(KIND_WIDTH[self.kind], display_width(self.header) + 2)
        return min(w, MAX_WIDTH)


@dataclass(frozen=True)
class Table:
    """An export: its columns in order, the XLSX sheet's name and the file name's stem."""

    columns: tuple[Column, ...]
    sheet: str
    stem: str
    _plan: tuple[Any, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        plan = tuple((c.key, c.get, c.labels, c.kind) for c in self.columns)
        object.__setattr__(self, "_plan", plan)

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def file_kind(self, fmt: str) -> tuple[str, str]:
        """(file name, content type) of this export in `fmt`."""
        return (f"{self.stem}.xlsx", XLSX) if fmt == "xlsx" else (f"{self.stem}.csv", CSV)

    def values(self, row: Any) -> list[str | int | date | Decimal | None]:
        """One row's values in column order: text made a safe cell, yes/no as 是/否, money and
        rates exact decimals, dates dates, None where the row has none."""
        out: list[Any] = []
        for key, get, labels, kind in self._plan:
            v = get(row) if get is not None else row[key]
            if v is not None:
                if kind == "text":
                    v = cell_text(labels.get(v, v) if labels else str(v))
                elif kind == "bool":
                    v = YES if v else NO
                elif kind in ("money", "rate"):
                    v = Decimal(v)  # exact, never a float
            out.append(v)
        return out

    def csv_cells(self, row: Any) -> list[str]:
        return [_csv_cell(kind, v) for (_, _, _, kind), v in zip(self._plan, self.values(row), strict=True)]

    def xlsx_cells(self, ws: WriteOnlyWorksheet, row: Any) -> list[Any]:
        out: list[Any] = []
        for (_, _, _, kind), v in zip(self._plan, self.values(row), strict=True):
            fmt = _XLSX_FORMAT.get(kind)
            if v is not None and fmt is not None:
                cell = WriteOnlyCell(ws, value=v)
                cell.number_format = fmt
                v = cell
            out.append(v)
        return out


_XLSX_FORMAT = {"money": MONEY_FORMAT, "rate": RATE_FORMAT, "date": DATE_FORMAT}


def _csv_cell(kind: str, v: Any) -> str:
    if v is None:
        return ""
    if kind == "money":
        return f"{v:.2f}"
    if kind == "rate":
        return format(v.normalize(), "f")
    if kind == "date":
        return v.isoformat()
    return str(v)


# ---- the two formats ---------------------------------------------------------------------------


async def csv_stream(table: Table, rows: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    buf.write("\ufeff")  # BOM: Excel opens UTF-8 CSV with Chinese correctly
    writer.writerow(table.headers)
    try:
        async for row in rows:
            writer.writerow(table.csv_cells(row))
            if buf.tell() >= CSV_FLUSH_CHARS:
                yield buf.getvalue().encode()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue().encode()
    finally:
        await _close(rows)


def _append_rows(table: Table, ws: WriteOnlyWorksheet, rows: list[Any]) -> None:
    for row in rows:
        ws.append(table.xlsx_cells(ws, row))


def _open_sheet(table: Table, ws: WriteOnlyWorksheet) -> None:
    """Widths and the frozen header row (written at the sheet's start: before any row), then the
    header row."""
    for i, column in enumerate(table.columns, 1):
        ws.column_dimensions[get_column_letter(i)].width = column.xlsx_width
    ws.freeze_panes = "A2"
    ws.append(table.headers)


async def xlsx_stream(table: Table, rows: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    """The write-only workbook keeps the rows in a temporary file; saved (XLSX is a zip: it is
    complete only at the end) into a spooled temporary file, then streamed out in chunks. The
    autofilter spans the header and every row (written at the sheet's end)."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(table.sheet)
    saved = False
    n = 0
    try:
        await _in_thread(_open_sheet, table, ws)  # the first row opens the sheet's temporary file
        chunk: list[Any] = []
        async for row in rows:
            chunk.append(row)
            if len(chunk) == XLSX_ROWS_PER_CHUNK:
                await _in_thread(_append_rows, table, ws, chunk)
                n += len(chunk)
                chunk = []
        await _close(rows)  # the database connection goes back before the file is assembled
        if chunk:
            await _in_thread(_append_rows, table, ws, chunk)
            n += len(chunk)
        ws.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{n + 1}"
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


def file_stream(table: Table, fmt: str, rows: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    return xlsx_stream(table, rows) if fmt == "xlsx" else csv_stream(table, rows)


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
    process ending) removes: an abandoned export removes its own. The rows' element is closed
    before the sheet's (lxml's incremental writer refuses them out of order)."""
    writer = ws._writer
    if writer is None:
        return
    try:
        rows = getattr(ws, "_rows", None)
        if rows is not None:
            rows.close()
        writer.close()
    finally:
        if os.path.exists(writer.out):
            writer.cleanup()


# ---- rows from the database --------------------------------------------------------------------

Statement = tuple[str, list[Any]]

# Writing a file is Python per row (decoding, cells, CSV), and a download filling a client's
# buffers — a stalled client's too, until they are full — would take the event loop from the
# lookups it serves (figures: docs/registry.md#tenants-do-not-stall-each-other). An export therefore
# works in slices of a few rows and pauses after each, in proportion: the exports running together
# take at most `loop_share` of the loop (each 1/n of it when n run), and a lookup waits for a slice
# at most, never for a download.
SLICE_ROWS = 10
MAX_PAUSE_S = 0.05  # a slice that waited on a slow client is not a slice of work
_exporting = 0  # exports streaming in this process


async def stream_rows(
    conn: Any, statement: Statement, prefetch: int, loop_share: float = 1.0
) -> AsyncIterator[Any]:
    """The export's rows from a server-side cursor on `conn` (an export connection: never the
    read pool's), `prefetch` rows per round trip, paced to `loop_share` (see above). Closing the
    iterator ends its transaction."""
    global _exporting
    text, args = statement
    n = 0
    _exporting += 1
    try:
        async with conn.transaction(readonly=True):
            started = time.perf_counter()
            async for row in conn.cursor(text, *args, prefetch=prefetch):
                yield row
                n += 1
                if n % SLICE_ROWS == 0:
                    spent = time.perf_counter() - started
                    await asyncio.sleep(min(MAX_PAUSE_S, spent * max(0.0, _exporting / loop_share - 1)))
                    started = time.perf_counter()
    finally:
        _exporting -= 1


_DIALECT = asyncpg_dialect.dialect()


def compiled(stmt: Select) -> Statement:
    """A SQLAlchemy Core statement (a repository's scoped, filtered list query) as asyncpg's text
    and positional arguments, for `stream_rows`: the same conditions, run on an export connection."""
    c = stmt.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
    processors = c._bind_processors
    args = []
    for name in c.positiontup or ():
        value = c.params[name]
        process = processors.get(name)
        args.append(process(value) if process is not None else value)
    return c.string, args


async def download(
    reads: Reader, settings: ExportSettings, table: Table, fmt: str, statement: Statement
) -> DownloadResponse:
    """The streamed file of `statement`'s rows: an export connection within the caller's share
    (429 `too_many_exports` / `exports_busy` otherwise), given back when the download ends."""
    lease = await reads.export()
    rows = stream_rows(lease.conn, statement, settings.fetch_rows, settings.loop_share)
    filename, media_type = table.file_kind(fmt)
    return DownloadResponse(
        file_stream(table, fmt, rows),
        send_timeout_s=settings.send_timeout_s,
        on_close=lease.release,
        inner=(rows,),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )

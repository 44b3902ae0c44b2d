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

Memory stays flat whatever the size, and both formats flow from their first rows on: the CSV
goes out in chunks of at least `CSV_FLUSH_CHARS` characters (small chunks cost the gateway's
compressor dearly: each is compressed and flushed); the XLSX is written in one pass by
`SheetWriter` (SpreadsheetML in a zip written as it goes: no workbook in memory, no temporary
file, no wait for a save at the end — a long export never leaves its client, or the gateway's
read timeout, without data), its rows turned into XML and compressed in a worker thread a
thousand at a time, so the event loop does no work per row of an XLSX.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
import unicodedata
import zipfile
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Query
from openpyxl.utils import get_column_letter
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
XLSX_COMPRESSLEVEL = 5  # deflate level of the XLSX (a zip)
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
                    if not v.is_finite():  # PostgreSQL's numeric holds NaN; no sheet does
                        v = None
            out.append(v)
        return out

    def csv_cells(self, row: Any) -> list[str]:
        return [_csv_cell(kind, v) for (_, _, _, kind), v in zip(self._plan, self.values(row), strict=True)]


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


class _Sink:
    """Where the zip is written: a buffer the stream empties after each step (a zip written to
    something that cannot seek carries each entry's sizes after its data)."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


class SheetWriter:
    """One table as an XLSX (SpreadsheetML) written in one pass: the package's fixed parts, the
    sheet's head (frozen header row, column widths), its rows as they come, then its tail (the
    autofilter over every row written) and the workbook. Cells carry their style: money, rates
    and dates their number formats, the header bold; text is inline (no shared-string table to
    hold). Each step returns the compressed bytes it produced."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.sink = _Sink()
        self.zip = zipfile.ZipFile(self.sink, "w", zipfile.ZIP_DEFLATED, compresslevel=XLSX_COMPRESSLEVEL)
        self.sheet: Any = None
        self.n = 1  # rows written (the header is row 1)
        self.letters = [get_column_letter(i) for i in range(1, len(table.columns) + 1)]
        self.styles = [_XLSX_STYLE.get(kind, "") for (_, _, _, kind) in table._plan]

    def start(self) -> bytes:
        for name, xml in (
            ("[Content_Types].xml", _CONTENT_TYPES),
            ("_rels/.rels", _ROOT_RELS),
            ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
            ("xl/styles.xml", _STYLES),
        ):
            self.zip.writestr(name, xml)
        self.sheet = self.zip.open("xl/worksheets/sheet1.xml", "w")
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{c.xlsx_width:g}" customWidth="1"/>'
            for i, c in enumerate(self.table.columns, 1)
        )
        header = "".join(
            f'<c r="{letter}1" t="inlineStr" s="{HEADER_STYLE}"><is><t>{_xml(h)}</t></is></c>'
            for letter, h in zip(self.letters, self.table.headers, strict=True)
        )
        self.sheet.write(
            (
                f'{_XML_HEAD}<worksheet xmlns="{_MAIN_NS}"><sheetViews><sheetView workbookViewId="0">'
                '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
                f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData><row r="1">{header}</row>'
            ).encode()
        )
        return self.sink.take()

    def rows(self, rows: list[Any]) -> bytes:
        parts: list[str] = []
        letters, styles, values = self.letters, self.styles, self.table.values
        for row in rows:
            self.n += 1
            r = str(self.n)
            parts.append(f'<row r="{r}">')
            for letter, style, v in zip(letters, styles, values(row), strict=True):
                if v is None:
                    continue
                if isinstance(v, str):
                    parts.append(
                        f'<c r="{letter}{r}" t="inlineStr"><is><t xml:space="preserve">{_xml(v)}</t></is></c>'
                    )
                elif isinstance(v, date):
                    if v >= _FIRST_SERIAL:
                        parts.append(f'<c r="{letter}{r}"{style}><v>{(v - _EPOCH).days}</v></c>')
                    else:  # Excel's serial numbers are wrong before 1900-03-01: the date as text
                        parts.append(f'<c r="{letter}{r}" t="inlineStr"><is><t>{v.isoformat()}</t></is></c>')
                else:  # int, Decimal
                    parts.append(f'<c r="{letter}{r}"{style}><v>{v}</v></c>')
            parts.append("</row>")
        self.sheet.write("".join(parts).encode())
        return self.sink.take()

    def finish(self) -> bytes:
        last = f"{self.letters[-1]}{self.n}"
        self.sheet.write(f'</sheetData><autoFilter ref="A1:{last}"/></worksheet>'.encode())
        self.sheet.close()
        sheet_name = _xml(self.table.sheet)
        quoted = self.table.sheet.replace("'", "''")
        self.zip.writestr(
            "xl/workbook.xml",
            f'{_XML_HEAD}<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}"><bookViews><workbookView/></bookViews>'
            f'<sheets><sheet name="{sheet_name}" sheetId="1" r:id="rId1"/></sheets><definedNames>'
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
            f"{_xml(chr(39) + quoted + chr(39))}!$A$1:${self.letters[-1]}${self.n}</definedName>"
            "</definedNames></workbook>",
        )
        self.zip.close()
        return self.sink.take()


async def xlsx_stream(table: Table, rows: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    """The XLSX, streamed as it is written (`SheetWriter`): rows are taken from the database on
    the loop, and turned into XML and compressed in a worker thread a thousand at a time, so the
    file flows from its first rows on and nothing of it is held but the step at hand."""
    sheet = SheetWriter(table)
    try:
        yield await _in_thread(sheet.start)
        chunk: list[Any] = []
        async for row in rows:
            chunk.append(row)
            if len(chunk) == XLSX_ROWS_PER_CHUNK:
                data = await _in_thread(sheet.rows, chunk)
                chunk = []
                if data:
                    yield data
        await _close(rows)  # the database connection goes back before the file is completed
        if chunk:
            yield await _in_thread(sheet.rows, chunk)
        yield await _in_thread(sheet.finish)
    finally:
        await _close(rows)


_EPOCH = date(1899, 12, 30)  # day 0 of Excel's 1900 date system
_FIRST_SERIAL = date(1900, 3, 1)  # before it Excel counts a 29 February 1900 that never was
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
HEADER_STYLE = 4
# cellXfs of _STYLES: 0 general, 1 money, 2 rate, 3 date, 4 the header (bold)
_XLSX_STYLE = {"money": ' s="1"', "rate": ' s="2"', "date": ' s="3"'}
_CONTENT_TYPES = (
    f'{_XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>'
)
_ROOT_RELS = (
    f'{_XML_HEAD}<Relationships xmlns="{_PKG_REL_NS}"><Relationship Id="rId1" '
    f'Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK_RELS = (
    f'{_XML_HEAD}<Relationships xmlns="{_PKG_REL_NS}">'
    f'<Relationship Id="rId1" Type="{_REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL_NS}/styles" Target="styles.xml"/></Relationships>'
)
_XF = 'fontId="0" fillId="0" borderId="0" xfId="0"'
_STYLES = (
    f'{_XML_HEAD}<styleSheet xmlns="{_MAIN_NS}"><numFmts count="3">'
    f'<numFmt numFmtId="164" formatCode="{MONEY_FORMAT}"/><numFmt numFmtId="165" formatCode="{RATE_FORMAT}"/>'
    f'<numFmt numFmtId="166" formatCode="{DATE_FORMAT}"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    f'<cellXfs count="5"><xf numFmtId="0" {_XF}/>'
    f'<xf numFmtId="164" {_XF} applyNumberFormat="1"/><xf numFmtId="165" {_XF} applyNumberFormat="1"/>'
    f'<xf numFmtId="166" {_XF} applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;"})


def _xml(text: str) -> str:
    """Text as XML character data or an attribute value (a CR as a reference: XML would read a
    bare one as a line feed). The cells' text has been through `cell_text`: no character XML
    cannot hold is left."""
    return text.translate(_XML_ESCAPES)


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


# ---- rows from the database --------------------------------------------------------------------

Statement = tuple[str, list[Any]]

# Writing a file is Python per row (decoding, cells, CSV), and a download filling a client's
# buffers — a stalled client's too, until they are full — would take the event loop from the
# lookups it serves (figures: docs/registry.md#tenants-do-not-stall-each-other). An export therefore
# works in slices of a few rows and gives the loop back after each; the exports running together
# take at most `loop_share` of the loop (each 1/n of it when n run), and a lookup waits for a slice
# at most, never for a download. The pause a slice owes is kept until it is worth a timer: the
# loop's timers have millisecond resolution, so `sleep(0.0002)` after each slice would sleep a
# whole millisecond — an export alone then ran at a fifth of its speed instead of half.
SLICE_ROWS = 10
MIN_PAUSE_S = 0.002  # owed pauses shorter than this are carried to the next slice
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
    owed = 0.0
    _exporting += 1
    try:
        async with conn.transaction(readonly=True):
            started = time.perf_counter()
            async for row in conn.cursor(text, *args, prefetch=prefetch):
                yield row
                n += 1
                if n % SLICE_ROWS == 0:
                    spent = time.perf_counter() - started
                    owed = min(MAX_PAUSE_S, owed + spent * max(0.0, _exporting / loop_share - 1))
                    if owed >= MIN_PAUSE_S:
                        paused = time.perf_counter()
                        await asyncio.sleep(owed)
                        # what the timer overslept counts towards the next pauses
                        owed = max(-MIN_PAUSE_S, owed - (time.perf_counter() - paused))
                    else:
                        await asyncio.sleep(0)  # the loop's other work runs between slices all the same
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

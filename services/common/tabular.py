"""The tabular files of submissions, CSV and XLSX: their rows read as text cells, the templates
written, the findings report's header.

Both formats read the same way, so the same validation applies to both: every row is a list of
the texts a CSV would carry, with the file's own line numbers (the header is line 1). A CSV's line
is the physical line where its record starts (a quoted cell across lines counts its lines); an
XLSX's line is the row number of its first worksheet.

Reading is synchronous and bounded: a caller on the event loop runs it in a thread. A CSV line is
read at most `MAX_LINE_CHARS` at a time; an XLSX is a zip, and a workbook whose parts would
unpack to more than `max_xml_bytes` is refused before any of it is unpacked (a zip bomb), as is
a shared-strings part over `MAX_SHARED_STRINGS_BYTES` (openpyxl keeps the shared strings in
memory; the sheet itself is streamed).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import math
import warnings
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

FORMATS = ("csv", "xlsx")
MEDIA = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

# A CSV line longer than this (characters) is refused rather than read whole into memory; the csv
# module refuses a single cell over its own field_size_limit (128 KiB) anyway.
MAX_LINE_CHARS = 4 * 1024 * 1024
# An XLSX's parts together may unpack to this much XML at most: twice the default upload limit
# (2 GiB), far above what a sheet of real records compresses from (about 5 to 10 times).
MAX_XML_BYTES = 4 * 1024**3
MAX_SHARED_STRINGS_BYTES = 256 * 1024**2
MAX_PARTS = 10_000  # a workbook of one sheet has about a dozen
MAX_ROWS = 1_048_576  # a worksheet's rows in Excel; openpyxl refuses more

REPORT_COLUMNS = ("line", "key", "status", "rule", "severity", "pointer", "message")
REPORT_HEADERS = {
    "en": REPORT_COLUMNS,
    "zh": ("行号", "记录标识", "状态", "规则", "严重程度", "位置", "说明"),
}


class BadFile(Exception):
    """The file cannot be read: the submission fails (no retry mends it). The message says why,
    in plain words."""


def format_of(media_type: str) -> str | None:
    """The format a Content-Type names (its parameters ignored, any case), or None."""
    media = media_type.split(";")[0].strip().lower()
    return next((fmt for fmt, m in MEDIA.items() if m == media), None)


def report_header(lang: str) -> tuple[str, ...]:
    """The findings report's header in `lang` (en, zh); English for any other language."""
    return REPORT_HEADERS.get(lang, REPORT_COLUMNS)


def cell_text(value: Any) -> str:
    """A value as a file's cell carries it: None empty, a bool `true`/`false`, else its text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def rows(path: Path, fmt: str, *, max_xml_bytes: int = MAX_XML_BYTES) -> Iterator[tuple[int, list[str]]]:
    """Every row of the file, the header first: (line number, cells as text). Trailing empty
    cells are dropped, so a blank row is `[]`. BadFile when the file cannot be read, or when its
    first row (the header) is blank."""
    if fmt == "csv":
        source = _csv_rows(path)
    elif fmt == "xlsx":
        source = _xlsx_rows(path, max_xml_bytes)
    else:
        raise ValueError(f"unknown tabular format {fmt!r}")
    try:
        first = next(source, None)
        if first is None or not first[1]:
            raise BadFile(
                "the file has no header line" if fmt == "csv" else "the first sheet has no header row"
            )
        yield first
        yield from source
    finally:
        source.close()


def _trimmed(cells: list[str]) -> list[str]:
    end = len(cells)
    while end and cells[end - 1] == "":
        end -= 1
    return cells[:end]


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(_bounded_lines(f))
            end = 0
            for row in reader:
                line, end = end + 1, reader.line_num
                yield line, _trimmed(row)
    except UnicodeDecodeError as e:
        raise BadFile(f"the file is not UTF-8 text (at byte {_bad_byte(path)})") from e
    except csv.Error as e:
        raise BadFile(f"the file is not valid CSV: {e}") from e


def _bounded_lines(f: io.TextIOBase) -> Iterator[str]:
    number = 0
    while line := f.readline(MAX_LINE_CHARS + 1):
        number += 1
        if len(line) > MAX_LINE_CHARS:
            raise BadFile(f"line {number} is longer than {MAX_LINE_CHARS} characters")
        yield line


def _bad_byte(path: Path) -> int:
    """The offset in the file of its first byte that is not UTF-8 (the decoding error's own
    position is within a read block)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as f:
        while block := f.read(1024 * 1024):
            pending = len(decoder.getstate()[0])  # bytes of a character begun in the last block
            try:
                decoder.decode(block)
            except UnicodeDecodeError as e:
                return offset - pending + e.start
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as e:
            return offset - len(e.object) + e.start
    return offset


def _xlsx_rows(path: Path, max_xml_bytes: int) -> Iterator[tuple[int, list[str]]]:
    _check_zip(path, max_xml_bytes)
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns of extensions it does not read
            workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl's many ways of failing on a file that is not a workbook
        raise BadFile(f"the file is not an XLSX workbook ({_why(e)})") from e
    try:
        if not workbook.worksheets:
            raise BadFile("the workbook has no worksheet")
        sheet = workbook.worksheets[0]
        if not hasattr(sheet, "reset_dimensions"):
            raise BadFile("the workbook's first sheet is not a worksheet")
        sheet.reset_dimensions()  # the stored dimension may be wrong: never cut rows to it
        source = sheet.iter_rows(values_only=True)
        line = 0
        while True:
            try:
                values = next(source, None)
            except Exception as e:
                raise BadFile(f"the first sheet cannot be read after row {line} ({_why(e)})") from e
            if values is None:
                break
            line += 1
            yield line, _trimmed([_xlsx_text(v) for v in values])
        if line == 0:
            raise BadFile("the first sheet of the workbook is empty")
    finally:
        workbook.close()


def _why(e: Exception) -> str:
    return f"{type(e).__name__}: {e}"[:200]


def _check_zip(path: Path, max_xml_bytes: int) -> None:
    """Refuse a workbook whose parts would unpack to more than the bound (zipfile never unpacks
    a part past its declared size, so the declared sizes bound what openpyxl reads)."""
    try:
        with zipfile.ZipFile(path) as z:
            parts = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise BadFile("the file is not an XLSX workbook (not a zip archive)") from e
    if len(parts) > MAX_PARTS:
        raise BadFile(f"the workbook has {len(parts)} parts, more than the {MAX_PARTS} allowed")
    total = sum(p.file_size for p in parts)
    if total > max_xml_bytes:
        raise BadFile(f"the workbook unpacks to {total} bytes, more than the {max_xml_bytes} allowed")
    shared = sum(p.file_size for p in parts if p.filename.lower().endswith("sharedstrings.xml"))
    if shared > MAX_SHARED_STRINGS_BYTES:
        raise BadFile(
            f"the workbook's shared strings unpack to {shared} bytes, more than {MAX_SHARED_STRINGS_BYTES}"
        )


def _xlsx_text(value: Any) -> str:
    """A cell's value as the text a CSV would carry: a code typed as a number keeps its digits,
    a date at midnight is a date."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return repr(value)
        if value.is_integer():
            return str(int(value))
        return format(Decimal(repr(value)), "f")  # the shortest decimal, never an exponent
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def template(fields: list[str], sample: dict[str, Any], fmt: str) -> bytes:
    """A file of the format with the header row and one sample row (CSV: UTF-8 without BOM,
    CRLF; XLSX: every cell a text cell, so a code keeps its leading zeros)."""
    values = [cell_text(sample.get(f)) for f in fields]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(fields)
        writer.writerow(values)
        return out.getvalue().encode("utf-8")
    if fmt == "xlsx":
        return _xlsx_template(fields, values)
    raise ValueError(f"unknown tabular format {fmt!r}")


def _xlsx_template(fields: list[str], values: list[str]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    bold = Font(bold=True)

    def text(value: str, font: Font | None = None) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "@"  # Excel keeps what is typed there as text
        if font is not None:
            cell.font = font
        return cell

    sheet.append([text(f, bold) for f in fields])
    sheet.append([text(v) for v in values])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()

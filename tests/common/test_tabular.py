"""The tabular files of submissions: CSV and XLSX read as the same rows of text cells, with the
file's own line numbers; unreadable files refused in plain words; templates that read back."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from services.common.tabular import (
    FORMATS,
    MEDIA,
    REPORT_COLUMNS,
    BadFile,
    cell_text,
    format_of,
    report_header,
    rows,
    template,
)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def xlsx(tmp_path: Path, *sheets: list[list]) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for i, sheet_rows in enumerate(sheets):
        sheet = workbook.create_sheet(f"S{i}")
        for row in sheet_rows:
            sheet.append(row)
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    return path


def test_formats_and_media_types():
    assert FORMATS == ("csv", "xlsx")
    assert format_of("text/csv") == "csv"
    assert format_of("Text/CSV; charset=utf-8") == "csv"
    assert format_of(MEDIA["xlsx"].upper() + " ; foo=bar") == "xlsx"
    assert format_of("application/json") is None
    assert format_of("") is None


def test_cell_text_rule():
    assert [cell_text(v) for v in (None, True, False, 0, 12.5, "0012")] == [
        "",
        "true",
        "false",
        "0",
        "12.5",
        "0012",
    ]


# --- CSV ---


def test_csv_with_bom_header_is_line_1(tmp_path):
    path = write(tmp_path, "a.csv", "\ufeffref,amount\r\nL1,100\r\nL2,200\r\n".encode())
    assert list(rows(path, "csv")) == [(1, ["ref", "amount"]), (2, ["L1", "100"]), (3, ["L2", "200"])]


def test_csv_quoted_multiline_cell_counts_its_lines(tmp_path):
    data = 'ref,note\nL1,"one\ntwo\nthree"\nL2,x\n'
    assert list(rows(write(tmp_path, "a.csv", data.encode()), "csv")) == [
        (1, ["ref", "note"]),
        (2, ["L1", "one\ntwo\nthree"]),
        (5, ["L2", "x"]),
    ]


def test_csv_blank_lines_are_empty_rows_and_trailing_empty_cells_go(tmp_path):
    data = b"ref,amount,note\n\nL1,100,,\n,,\nL2,,x\n"
    assert list(rows(write(tmp_path, "a.csv", data), "csv")) == [
        (1, ["ref", "amount", "note"]),
        (2, []),
        (3, ["L1", "100"]),
        (4, []),
        (5, ["L2", "", "x"]),
    ]


def test_csv_without_header_is_a_bad_file(tmp_path):
    for data in (b"", b"\n\nref\n", b"\xef\xbb\xbf"):
        with pytest.raises(BadFile, match="no header line"):
            list(rows(write(tmp_path, "a.csv", data), "csv"))


def test_csv_not_utf8_names_the_byte(tmp_path):
    path = write(tmp_path, "a.csv", b"ref,name\nL1," + "张".encode("gbk") + b"\n")
    with pytest.raises(BadFile, match=r"not UTF-8 text \(at byte 12\)"):
        list(rows(path, "csv"))


def test_csv_not_utf8_far_into_the_file_names_the_absolute_byte(tmp_path):
    head = b"ref\n" + b"L" * 3_000_000 + "é".encode()  # a multibyte character across read blocks
    path = write(tmp_path, "a.csv", head + b"\n\xff\n")
    with pytest.raises(BadFile, match=rf"at byte {len(head) + 1}\)"):
        list(rows(path, "csv"))


def test_csv_invalid_is_a_bad_file(tmp_path):
    path = write(tmp_path, "a.csv", b'ref,note\nL1,"' + b"x" * 200_000 + b'"\n')  # a cell over csv's bound
    with pytest.raises(BadFile, match="not valid CSV: field larger than field limit"):
        list(rows(path, "csv"))


def test_csv_nul_bytes_pass_through_to_the_cells(tmp_path):
    """The batch validators refuse control characters in text, with a pointer to the cell."""
    path = write(tmp_path, "a.csv", b"ref,name\nL1,a\x00b\n")
    assert list(rows(path, "csv")) == [(1, ["ref", "name"]), (2, ["L1", "a\x00b"])]


def test_csv_line_over_the_bound_is_a_bad_file(tmp_path, monkeypatch):
    monkeypatch.setattr("services.common.tabular.MAX_LINE_CHARS", 10)
    path = write(tmp_path, "a.csv", b"ref\nL1\n" + b"x" * 11 + b"\n")
    with pytest.raises(BadFile, match="line 3 is longer than 10 characters"):
        list(rows(path, "csv"))


# --- XLSX ---


def test_xlsx_values_come_out_as_csv_text(tmp_path):
    path = xlsx(
        tmp_path,
        [
            ["ref", "amount", "rate", "code", "date", "at", "ok", "none", "time"],
            [
                "L1",
                1000,
                4.35,
                350100123456789,
                dt.datetime(2026, 3, 31),
                dt.datetime(2026, 3, 31, 8, 30),
                True,
                None,
                dt.time(9, 5),
            ],
            ["L2", 2.0, 0.0000001, "0012", dt.date(2026, 1, 2), None, False, None, None],
            ["L3", 1e20],
        ],
    )
    assert list(rows(path, "xlsx")) == [
        (1, ["ref", "amount", "rate", "code", "date", "at", "ok", "none", "time"]),
        (
            2,
            [
                "L1",
                "1000",
                "4.35",
                "350100123456789",
                "2026-03-31",
                "2026-03-31T08:30:00",
                "true",
                "",
                "09:05:00",
            ],
        ),
        (3, ["L2", "2", "0.0000001", "0012", "2026-01-02", "", "false"]),
        (4, ["L3", "100000000000000000000"]),
    ]


def test_xlsx_ragged_and_blank_rows_keep_the_sheet_row_numbers(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet["A1"], sheet["B1"] = "ref", "amount"
    sheet["A2"] = "L1"
    sheet["A5"], sheet["B5"], sheet["D5"] = "L2", 7, None
    sheet["F6"] = ""  # a cell written empty: a blank row all the same
    sheet["A7"], sheet["C7"] = "L3", "x"
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    assert list(rows(path, "xlsx")) == [
        (1, ["ref", "amount"]),
        (2, ["L1"]),
        (3, []),
        (4, []),
        (5, ["L2", "7"]),
        (6, []),
        (7, ["L3", "", "x"]),
    ]


def test_xlsx_reads_the_first_sheet_only(tmp_path):
    path = xlsx(tmp_path, [["ref"], ["first"]], [["ref"], ["second"]])
    assert list(rows(path, "xlsx")) == [(1, ["ref"]), (2, ["first"])]


def test_xlsx_empty_first_sheet_or_blank_header_is_a_bad_file(tmp_path):
    with pytest.raises(BadFile, match="the first sheet of the workbook is empty"):
        list(rows(xlsx(tmp_path, [], [["ref"], ["second"]]), "xlsx"))
    with pytest.raises(BadFile, match="no header row"):
        list(rows(xlsx(tmp_path, [[None, None], ["L1"]]), "xlsx"))


def test_not_a_zip_is_a_bad_file(tmp_path):
    path = write(tmp_path, "a.xlsx", b"ref,amount\nL1,100\n")
    with pytest.raises(BadFile, match="not an XLSX workbook"):
        list(rows(path, "xlsx"))


def test_a_zip_that_is_no_workbook_is_a_bad_file(tmp_path):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("hello.txt", "hello")
    with pytest.raises(BadFile, match="not an XLSX workbook"):
        list(rows(write(tmp_path, "a.xlsx", out.getvalue()), "xlsx"))


def test_a_corrupt_sheet_is_a_bad_file(tmp_path):
    good = xlsx(tmp_path, [["ref"], ["L1"], ["L2"]])
    out = io.BytesIO()
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(out, "w") as z:
        for part in src.infolist():
            data = src.read(part)
            if part.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]  # the XML cut off halfway
            z.writestr(part, data)
    with pytest.raises(BadFile):
        list(rows(write(tmp_path, "cut.xlsx", out.getvalue()), "xlsx"))


def test_a_truncated_file_is_a_bad_file(tmp_path):
    data = xlsx(tmp_path, [["ref"], ["L1"]]).read_bytes()
    with pytest.raises(BadFile, match="not an XLSX workbook"):
        list(rows(write(tmp_path, "cut.xlsx", data[: len(data) // 2]), "xlsx"))


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path):
    good = xlsx(tmp_path, [["ref"], ["L1"]])
    out = io.BytesIO()
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for part in src.infolist():
            z.writestr(part.filename, src.read(part))
        z.writestr("xl/media/padding.xml", b" " * 5_000_000)  # compresses to a few kilobytes
    path = write(tmp_path, "bomb.xlsx", out.getvalue())
    assert path.stat().st_size < 100_000
    with pytest.raises(BadFile, match=r"unpacks to \d+ bytes, more than the 1000000 allowed"):
        list(rows(path, "xlsx", max_xml_bytes=1_000_000))
    assert len(list(rows(path, "xlsx"))) == 2  # under the default bound it reads


# --- templates ---


FIELDS = ["ref", "credit_code", "amount", "secured", "note"]
SAMPLE = {"ref": "L-001", "credit_code": "0091350100", "amount": 1000, "secured": True}


def test_csv_template_bytes():
    assert (
        template(FIELDS, SAMPLE, "csv")
        == b"ref,credit_code,amount,secured,note\r\nL-001,0091350100,1000,true,\r\n"
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_templates_read_back_through_rows(tmp_path, fmt):
    path = write(tmp_path, f"t.{fmt}", template(FIELDS, SAMPLE, fmt))
    assert list(rows(path, fmt)) == [(1, FIELDS), (2, ["L-001", "0091350100", "1000", "true"])]


def test_xlsx_template_cells_are_text_and_the_header_bold(tmp_path):
    path = write(tmp_path, "t.xlsx", template(FIELDS, SAMPLE, "xlsx"))
    sheet = load_workbook(path).worksheets[0]
    assert sheet["A1"].font.bold
    assert sheet["B2"].value == "0091350100" and sheet["B2"].number_format == "@"
    assert sheet["C2"].data_type == "s"


# --- the findings report ---


def test_report_headers():
    assert (
        report_header("en")
        == REPORT_COLUMNS
        == ("line", "key", "status", "rule", "severity", "pointer", "message")
    )
    assert report_header("zh") == ("行号", "记录标识", "状态", "规则", "严重程度", "位置", "说明")
    assert report_header("fr") == REPORT_COLUMNS
    assert len(report_header("zh")) == len(REPORT_COLUMNS)


def test_a_zip_of_too_many_parts_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("services.common.tabular.MAX_PARTS", 5)
    path = xlsx(tmp_path, [["ref"], ["L1"]])
    with zipfile.ZipFile(path, "a") as z:
        for i in range(10):
            z.writestr(f"xl/media/{i}.xml", b"")
    with pytest.raises(BadFile, match="parts, more than the 5 allowed"):
        list(rows(path, "xlsx"))

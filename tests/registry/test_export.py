"""The enterprise export's cells: no stored value runs as a formula or breaks the file, XLSX cells
are typed, and the workbook is built off the event loop."""

from __future__ import annotations

import csv
import glob
import io
import os
import tempfile
import threading
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from services.common import export as kit
from services.registry.enterprises import export
from tests.registry_data import add_enterprise

HYPERLINK = '=HYPERLINK("http://evil.example","点击")'
DDE = "@SUM(1+1)*cmd|' /C calc'!A0"


@pytest.fixture
def c(client_for):
    return client_for("registry")


async def stored(db, **columns) -> str:
    code = await add_enterprise(db)
    sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(columns, 2))
    await db.execute(
        f"UPDATE registry.enterprises SET {sets} WHERE credit_code = $1", code, *columns.values()
    )
    return code


async def export_of(c, as_, fmt: str):
    r = await c.get("/v1/enterprises/export", params={"format": fmt}, headers=as_())
    assert r.status_code == 200, r.text
    return r


def csv_rows(r) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))


def xlsx_rows(r) -> list[tuple]:
    ws = load_workbook(io.BytesIO(r.content)).active
    return list(ws.iter_rows())


async def test_formula_leading_text_is_escaped_in_both_formats(c, as_, db):
    """Also for values stored before the text rule (written straight to the table, as old data was)."""
    await stored(db, name=HYPERLINK, address="+86 571 8888 8888")
    await stored(db, name="-1+2", address="\t=1+1")
    await stored(db, name=DDE, address="\r=1+1")
    await add_enterprise(db, name="杭州普通有限公司")
    expected = {
        ("'" + HYPERLINK, "'+86 571 8888 8888"),
        ("'-1+2", "'\t=1+1"),
        ("'" + DDE, "\ufffd=1+1"),  # a lone CR is refused text: replaced, so = no longer leads
        ("杭州普通有限公司", ""),
    }
    rows = csv_rows(await export_of(c, as_, "csv"))
    assert {(row["企业名称"], row["地址"]) for row in rows} == expected
    cells = xlsx_rows(await export_of(c, as_, "xlsx"))[1:]
    assert {(row[1].value, row[13].value or "") for row in cells} == expected
    assert {row[1].data_type for row in cells} == {"s"}  # text, never a formula


async def test_stored_control_characters_are_replaced_and_the_file_completes(c, as_, db):
    for i in range(3):
        await add_enterprise(db, name=f"杭州导出{i}有限公司")
    await stored(db, name="杭州\x01精密\x1b[2J机械", address="文三路\ufeff1号\u202e")
    await stored(db, address="第一行\r\n第二行\t附\x0b")
    rows = csv_rows(await export_of(c, as_, "csv"))
    assert len(rows) == 5
    assert "杭州\ufffd精密\ufffd[2J机械" in {row["企业名称"] for row in rows}
    addresses = {row["地址"] for row in rows}
    assert {"文三路\ufffd1号\ufffd", "第一行\r\n第二行\t附\ufffd"} <= addresses
    cells = xlsx_rows(await export_of(c, as_, "xlsx"))
    assert len(cells) == 6
    assert "杭州\ufffd精密\ufffd[2J机械" in {row[1].value for row in cells}


async def test_xlsx_cells_are_typed_money_and_years_as_numbers_dates_as_dates_codes_as_text(c, as_, db):
    code = await add_enterprise(db, region_code="330106", industry_code="3311", sizes={2022: "small"})
    await db.execute(
        "UPDATE registry.enterprises SET registered_capital = 12345678.5, established_on = '2012-05-01' "
        "WHERE credit_code = $1",
        code,
    )
    header, row = xlsx_rows(await export_of(c, as_, "xlsx"))
    by = {h.value: cell for h, cell in zip(header, row, strict=True)}
    capital = by["注册资本（元）"]
    assert capital.data_type == "n" and Decimal(str(capital.value)) == Decimal("12345678.50")
    assert capital.number_format == "#,##0.00"
    established = by["成立日期"]
    assert established.is_date and established.value == datetime(2012, 5, 1)
    assert established.number_format == "yyyy-mm-dd"
    assert by["规模年度"].value == 2022 and by["规模年度"].data_type == "n"
    for column, value in (("统一社会信用代码", code), ("行政区划代码", "330106"), ("行业代码", "3311")):
        assert by[column].value == value and by[column].data_type == "s"
    csv_row = csv_rows(await export_of(c, as_, "csv"))[0]
    assert (csv_row["注册资本（元）"], csv_row["成立日期"], csv_row["规模年度"]) == (
        "12345678.50",
        "2012-05-01",
        "2022",
    )


async def test_the_workbook_is_built_off_the_event_loop(c, as_, db, monkeypatch):
    """Every step of the sheet — its head, its rows, its tail — runs in a worker thread."""
    for i in range(3):
        await add_enterprise(db, name=f"杭州线程{i}有限公司")
    threads: list[tuple[str, int]] = []

    def spy(name):
        fn = getattr(kit.SheetWriter, name)

        def wrapper(*args, **kwargs):
            threads.append((name, threading.get_ident()))
            return fn(*args, **kwargs)

        monkeypatch.setattr(kit.SheetWriter, name, wrapper)

    for name in ("start", "rows", "finish"):
        spy(name)
    r = await export_of(c, as_, "xlsx")
    assert len(xlsx_rows(r)) == 4
    assert [name for name, _ in threads] == ["start", "rows", "finish"]
    assert threading.get_ident() not in {ident for _, ident in threads}


def row(i: int) -> dict:
    return {
        "credit_code": f"9133010600000{i:05d}",
        "name": f"企业{i}",
        "region_code": "330106",
        "industry_code": "3311",
        "industry_section": "C",
        "size_class": "small",
        "size_year": 2022,
        "scale_status": None,
        "tier": None,
        "titles": ["tech_sme"],
        "established_on": date(2010, 1, 1),
        "registered_capital": "1000.00",
        "address": None,
    }


async def test_an_export_of_several_chunks_has_every_row_in_order():
    async def rows():
        for i in range(2 * kit.XLSX_ROWS_PER_CHUNK + 7):
            yield row(i)

    data = b"".join([chunk async for chunk in export.xlsx_stream(rows())])
    values = list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
    assert values[0] == tuple(export.HEADERS)
    assert [v[1] for v in values[1:]] == [f"企业{i}" for i in range(2 * kit.XLSX_ROWS_PER_CHUNK + 7)]


async def test_an_abandoned_xlsx_export_closes_its_rows_and_leaves_no_temporary_file():
    closed = []

    async def failing_rows():
        try:
            for i in range(kit.XLSX_ROWS_PER_CHUNK + 10):
                yield row(i)
            raise ConnectionError("the database went away")
        finally:
            closed.append(True)

    pattern = os.path.join(tempfile.gettempdir(), "openpyxl.*")
    before = set(glob.glob(pattern))
    with pytest.raises(ConnectionError):
        async for _ in export.xlsx_stream(failing_rows()):
            pass
    assert closed == [True]
    assert set(glob.glob(pattern)) <= before

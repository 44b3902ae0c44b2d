"""The kit's export writer: CSV chunks big enough for the compressor, XLSX sheet settings, widths,
and a list statement compiled for an export connection runs the list's conditions."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from openpyxl import load_workbook
from sqlalchemy import column, select, table

from services.common import export as kit

TABLE = kit.Table(
    columns=(
        kit.Column("code", "统一社会信用代码"),
        kit.Column("name", "名称", width=30),
        kit.Column("amount", "金额（元）", "money"),
        kit.Column("rate", "利率（%）", "rate"),
        kit.Column("on", "日期", "date"),
        kit.Column("n", "次数", "int"),
        kit.Column("flag", "是否", "bool"),
        kit.Column("kind", "类别", labels={"a": "甲"}),
        kit.Column("twice", "两倍", "int", get=lambda row: row["n"] * 2),
    ),
    sheet="测试",
    stem="test",
)


def row(i: int) -> dict:
    return {
        "code": f"91330106{i:010d}",
        "name": f"企业{i}" if i % 2 else f"=企业{i}",
        "amount": Decimal("1234.5"),
        "rate": Decimal("4.3500"),
        "on": date(2022, 1, 1),
        "n": i,
        "flag": i % 3 == 0,
        "kind": "a" if i % 2 else "b",
    }


async def rows(n: int):
    for i in range(n):
        yield row(i)


async def test_csv_goes_out_in_chunks_of_at_least_64_kib_with_every_row():
    chunks = [c async for c in kit.csv_stream(TABLE, rows(5000))]
    assert len(chunks) > 2
    assert all(len(c.decode()) >= kit.CSV_FLUSH_CHARS for c in chunks[:-1])
    assert all(len(c) < 2 * kit.CSV_FLUSH_CHARS * 3 for c in chunks)
    parsed = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"))))
    assert parsed[0] == TABLE.headers
    assert parsed[1] == [
        "913301060000000000",
        "'=企业0",
        "1234.50",
        "4.35",
        "2022-01-01",
        "0",
        "是",
        "b",
        "0",
    ]
    assert parsed[2] == ["913301060000000001", "企业1", "1234.50", "4.35", "2022-01-01", "1", "否", "甲", "2"]
    assert len(parsed) == 5001


async def test_xlsx_widths_frozen_header_autofilter_and_typed_cells():
    data = b"".join([c async for c in kit.xlsx_stream(TABLE, rows(3))])
    ws = load_workbook(io.BytesIO(data)).active
    assert (ws.title, ws.freeze_panes, ws.auto_filter.ref) == ("测试", "A2", "A1:I4")
    widths = [ws.column_dimensions[letter].width for letter in "ABCDEFGHI"]
    # the header's display width (CJK characters count two) + 2, at least the kind's own width
    assert widths == [18, 30, 16, 11, 12, 8, 6, 12, 8]
    header, first, second, _ = ws.iter_rows()
    assert [c.value for c in header] == TABLE.headers
    assert (first[2].value, first[2].number_format, first[2].data_type) == (1234.5, "#,##0.00", "n")
    assert (first[3].value, first[3].number_format) == (4.35, "0.00##")
    assert first[4].is_date and first[4].number_format == "yyyy-mm-dd"
    assert (first[5].value, first[5].data_type) == (0, "n")
    assert [c.value for c in first[6:]] == ["是", "b", 0]
    assert (first[1].value, first[1].data_type) == ("'=企业0", "s")
    assert [c.value for c in second[6:]] == ["否", "甲", 2]


async def test_an_empty_export_is_its_header_with_the_filter_on_it():
    data = b"".join([c async for c in kit.xlsx_stream(TABLE, rows(0))])
    ws = load_workbook(io.BytesIO(data)).active
    assert ws.auto_filter.ref == "A1:I1" and ws.max_row == 1
    assert [c async for c in kit.csv_stream(TABLE, rows(0))] == [
        ("\ufeff" + ",".join(TABLE.headers) + "\r\n").encode()
    ]


def test_widths_are_capped():
    assert kit.Column("x", "很" * 40).xlsx_width == kit.MAX_WIDTH
    assert kit.display_width("ab统一") == 6


async def test_a_compiled_statement_runs_the_same_conditions_with_its_arguments(db):
    await db.execute("CREATE TEMP TABLE export_t (id int, status text, d date)")
    await db.execute(
        "INSERT INTO export_t VALUES (1, 'valid', '2022-01-01'), (2, 'valid', '2022-01-01'), "
        "(3, 'revoked', '2022-01-01'), (4, 'suspended', '2022-05-31'), (5, 'valid', '2022-06-01')"
    )
    t = table("export_t", column("id"), column("status"), column("d"))
    stmt = (
        select(t.c.id)
        .where(t.c.status.in_(("valid", "suspended")), t.c.d < date(2022, 6, 1), t.c.id != 2)
        .order_by(t.c.id)
    )
    text, args = kit.compiled(stmt)
    assert "POSTCOMPILE" not in text and len(args) == 4
    assert [r["id"] for r in await db.fetch(text, *args)] == [1, 4]
    assert [r["id"] async for r in kit.stream_rows(db, (text, args), prefetch=1)] == [1, 4]
    await db.execute("DROP TABLE export_t")


async def test_both_formats_send_their_first_bytes_long_before_the_last_row():
    """The file flows as the rows come (a long export never leaves its client without data)."""
    for fmt, first_rows in (("csv", 2000), ("xlsx", kit.XLSX_ROWS_PER_CHUNK)):
        taken = [0]

        async def counted(n=3 * first_rows + 5, taken=taken):
            for i in range(n):
                taken[0] += 1
                yield row(i)

        seen_at: list[int] = []
        chunks = []
        async for chunk in kit.file_stream(TABLE, fmt, counted()):
            seen_at.append(taken[0])
            chunks.append(chunk)
        assert len([n for n in seen_at if n < 3 * first_rows + 5]) >= 2, (fmt, seen_at)
        if fmt == "xlsx":
            ws = load_workbook(io.BytesIO(b"".join(chunks))).active
            assert ws.max_row == 3 * first_rows + 6 and ws.auto_filter.ref == f"A1:I{3 * first_rows + 6}"


async def test_pacing_gives_the_loop_its_share_despite_millisecond_timers(monkeypatch):
    """Alone at `loop_share` 0.5 an export pauses as long as it works (half speed), in pauses of at
    least MIN_PAUSE_S (a timer sleeps whole milliseconds: what it oversleeps is credited), and it
    yields the loop after every slice."""
    clock = [0.0]
    pauses: list[float] = []
    work_per_row = 0.00002

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if seconds > 0:
            clock[0] += -(-seconds // 0.001) * 0.001  # the timer's millisecond resolution

    monkeypatch.setattr(kit.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(kit.asyncio, "sleep", sleep)

    class Conn:
        def transaction(self, readonly: bool):
            class Tx:
                async def __aenter__(self):
                    return self

                async def __aexit__(self, *exc):
                    return False

            return Tx()

        async def cursor(self, text, *args, prefetch):
            for i in range(20_000):
                yield i

    n = 0
    async for _ in kit.stream_rows(Conn(), ("SELECT", []), prefetch=200, loop_share=0.5):
        clock[0] += work_per_row  # the row's cells, written between the iterator's steps
        n += 1
    work = n * work_per_row
    assert n == 20_000
    assert len(pauses) == n // kit.SLICE_ROWS  # the loop is given back after every slice
    timed = [p for p in pauses if p > 0]
    assert timed and min(timed) >= kit.MIN_PAUSE_S
    assert 0.9 * work <= clock[0] - work <= 1.1 * work  # paused as long as it worked


async def test_values_no_sheet_can_hold_are_left_empty_or_written_as_text():
    odd = dict(row(1), amount=Decimal("NaN"), on=date(1899, 1, 1))
    good = dict(row(3), on=date(1900, 3, 1))

    async def two():
        yield odd
        yield good

    ws = load_workbook(io.BytesIO(b"".join([c async for c in kit.xlsx_stream(TABLE, two())]))).active
    _, first, second = ws.iter_rows()
    assert first[2].value is None and (first[4].value, first[4].data_type) == ("1899-01-01", "s")
    assert second[4].is_date and second[4].value.date() == date(1900, 3, 1)
    text = b"".join([c async for c in kit.csv_stream(TABLE, two())]).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text)))[1][2:5] == ["", "4.35", "1899-01-01"]

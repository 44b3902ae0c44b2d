"""The progress bulletin as a spreadsheet: its text cells are the exports' safe cells."""

import io
from datetime import date, datetime
from decimal import Decimal

from openpyxl import load_workbook

from gateway.progress.schemas import ProgressItem, ProgressReport
from gateway.progress.service import to_xlsx


def test_bulletin_text_never_runs_as_a_formula_and_numbers_stay_numbers():
    item = ProgressItem(
        key="smb_new_loans",
        name_zh='=HYPERLINK("http://evil.example")',
        target=Decimal("500000000000"),
        actual=Decimal("406250000000.5"),
        unit="yuan",
        ratio=Decimal("81.25"),
        expected_ratio=Decimal("90.00"),
        status="behind",
        owner_service="finance",
        period_start=date(2020, 1, 1),
        period_end=date(2022, 12, 31),
        definition=None,
        source_document="实施意见",
        settled=False,
        reason=None,
        note="@SUM(A1)\x01",
    )
    report = ProgressReport(
        programme="chuying-2022",
        year=2022,
        region="330000",
        targets_version="1",
        as_of=datetime(2022, 6, 30, 12, 0),
        partial=False,
        degraded=[],
        withheld=[],
        items=[item],
    )

    ws = load_workbook(io.BytesIO(to_xlsx(report))).active
    row = next(r for r in ws.iter_rows() if r[1].value == "smb_new_loans")
    assert row[2].value == '\'=HYPERLINK("http://evil.example")' and row[2].data_type == "s"
    assert row[12].value == "'@SUM(A1)\ufffd"
    assert row[4].data_type == "n" and Decimal(str(row[4].value)) == Decimal("406250000000.5")

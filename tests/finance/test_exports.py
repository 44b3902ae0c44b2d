"""The finance exports: loans, credit lines and guarantees as CSV and XLSX, scoped and filtered
exactly like their lists, with Chinese headers and typed XLSX cells."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from openpyxl import load_workbook

from tests.finance.helpers import guarantee, line, loan
from tests.registry_data import add_enterprise, new_credit_code

LOAN_HEADERS = [
    "贷款机构代码",
    "贷款编号",
    "借款人统一社会信用代码",
    "借款人名称",
    "借款人地区代码",
    "企业规模（银行报送）",
    "贷款品种",
    "贷款金额（元）",
    "年利率（%）",
    "发放日期",
    "到期日期",
    "续贷方式",
    "首贷户",
    "授信编号",
    "担保编号",
    "贷款余额（元）",
    "贷款状态",
    "结清日期",
    "借款人类型",
    "客户编号",
    "企业库未匹配",
    "认定规模",
    "规模来源",
    "授信合计（元）",
    "贷款合计（元）",
    "普惠型小微企业贷款",
    "普惠认定依据",
    "规则版本",
]
LINE_HEADERS = [
    "贷款机构代码",
    "授信编号",
    "借款人统一社会信用代码",
    "借款人地区代码",
    "授信金额（元）",
    "授信日期",
    "到期日期",
    "授信状态",
    "终止日期",
    "规则版本",
]
GUARANTEE_HEADERS = [
    "担保机构代码",
    "担保编号",
    "借款人统一社会信用代码",
    "借款人地区代码",
    "贷款机构代码",
    "贷款编号",
    "担保金额（元）",
    "在保余额（元）",
    "担保费率（%）",
    "起始日期",
    "到期日期",
    "担保状态",
    "解保日期",
    "代偿日期",
    "代偿金额（元）",
    "追偿金额（元）",
    "反担保",
    "再担保比例（%）",
    "规则版本",
]


@pytest.fixture
def c(client_for):
    return client_for("finance")


async def post(c, path, headers, records):
    r = await c.post(path, json={"records": records}, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["summary"]["rejected"] == 0, body
    return body["rule_set_version"]


async def export(c, path, headers, fmt="csv", **params):
    r = await c.get(path, params={"format": fmt, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return r


def csv_table(r) -> list[list[str]]:
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))


def sheet(r):
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return load_workbook(io.BytesIO(r.content)).active


async def two_banks(c, as_, db):
    """Bank BA: a small registry borrower in Hangzhou with a credit line, and an unmatched one in
    Ningbo; bank BB: one loan under the same reference."""
    hz = await add_enterprise(db, region_code="330106", sizes={2022: "small"})
    nb = new_credit_code("330212")
    ba, bb = as_("bank", org="BA"), as_("bank", org="BB")
    version = await post(c, "/v1/credit-lines/batch", ba, [line(hz, line_ref="CL-1", amount="3000000.00")])
    await post(
        c,
        "/v1/loans/batch",
        ba,
        [
            loan(
                loan_ref="L-1",
                borrower=hz,
                borrower_name="杭州甲科技有限公司",
                amount="1250000.00",
                annual_rate="4.35",
                issued_on="2022-03-01",
                matures_on="2023-03-01",
                credit_line_ref="CL-1",
                outstanding_balance="800000.50",
                is_first_loan=True,
            ),
            loan(
                loan_ref="L-2",
                borrower=nb,
                borrower_name='=HYPERLINK("http://evil.example")',
                borrower_size="medium",
                product="ip_pledge",
                amount="20000000.00",
                annual_rate="5.1",
                issued_on="2022-06-15",
                matures_on="2022-12-15",
                renewal_type="renewal_without_repayment",
                outstanding_balance="0.00",
                status="repaid",
                closed_on="2022-12-10",
            ),
        ],
    )
    await post(c, "/v1/loans/batch", bb, [loan(loan_ref="L-1", borrower=hz, issued_on="2022-04-01")])
    return hz, nb, version, ba, bb


async def test_a_bank_exports_exactly_its_own_loans_as_csv(c, as_, db):
    hz, nb, version, ba, bb = await two_banks(c, as_, db)
    r = await export(c, "/v1/loans/export", ba)
    assert r.headers["content-disposition"] == 'attachment; filename="loans.csv"'
    assert csv_table(r) == [
        LOAN_HEADERS,
        [
            "BA", "L-1", hz, "杭州甲科技有限公司", "330106", "小型", "信用贷款", "1250000.00", "4.35",
            "2022-03-01", "2023-03-01", "新发放", "是", "CL-1", "", "800000.50", "未结清", "", "企业", "", "否",
            "小型", "企业库", "3000000.00", "1250000.00", "是", "授信合计不超过1000万元", version,
        ],
        [
            "BA", "L-2", nb, "'=HYPERLINK(\"http://evil.example\")", "330212", "中型", "知识产权质押贷款",
            "20000000.00", "5.1", "2022-06-15", "2022-12-15", "无还本续贷", "否", "", "", "0.00",
            "已结清", "2022-12-10", "企业", "", "是", "中型", "银行报送", "", "20000000.00", "否", "非小型微型企业",
            version,
        ],
    ]  # fmt: skip
    # Bank B sees its own loan only, also when it names bank A as the lender.
    assert [row[:2] for row in csv_table(await export(c, "/v1/loans/export", bb))[1:]] == [["BB", "L-1"]]
    assert csv_table(await export(c, "/v1/loans/export", bb, lender="BA")) == [LOAN_HEADERS]
    assert csv_table(await export(c, "/v1/loans/export", as_("bank", org="BC"))) == [LOAN_HEADERS]


async def test_the_loan_xlsx_is_typed_with_widths_a_frozen_header_and_an_autofilter(c, as_, db):
    hz, nb, version, ba, _ = await two_banks(c, as_, db)
    r = await export(c, "/v1/loans/export", ba, "xlsx")
    assert r.headers["content-disposition"] == 'attachment; filename="loans.xlsx"'
    ws = sheet(r)
    assert ws.title == "贷款明细"
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:AB3"
    widths = {letter: dim.width for letter, dim in ws.column_dimensions.items()}
    assert widths["B"] == 18 and widths["C"] == 26 and widths["D"] == 32 and widths["H"] == 18
    assert widths["J"] == 12 and widths["AA"] == 30 and all(w >= 6 for w in widths.values())
    assert len(widths) == 28
    rows = list(ws.iter_rows())
    assert [cell.value for cell in rows[0]] == LOAN_HEADERS
    first = {h: cell for h, cell in zip(LOAN_HEADERS, rows[1], strict=True)}
    amount = first["贷款金额（元）"]
    assert amount.data_type == "n" and amount.value == 1250000 and amount.number_format == "#,##0.00"
    balance = first["贷款余额（元）"]
    assert balance.value == 800000.5 and balance.number_format == "#,##0.00"
    rate = first["年利率（%）"]
    assert rate.data_type == "n" and rate.value == 4.35 and rate.number_format == "0.00##"
    issued = first["发放日期"]
    assert issued.is_date and issued.value == datetime(2022, 3, 1) and issued.number_format == "yyyy-mm-dd"
    for header, value in (("借款人统一社会信用代码", hz), ("借款人地区代码", "330106"), ("首贷户", "是")):
        assert first[header].value == value and first[header].data_type == "s"
    assert first["结清日期"].value is None and first["担保编号"].value is None
    second = {h: cell.value for h, cell in zip(LOAN_HEADERS, rows[2], strict=True)}
    assert second["借款人名称"] == '\'=HYPERLINK("http://evil.example")'  # text, never a formula
    assert rows[2][3].data_type == "s"
    assert second["结清日期"] == datetime(2022, 12, 10) and second["授信合计（元）"] is None
    assert len(rows) == 3


async def test_officials_export_their_region_and_admin_everything(c, as_, db):
    hz, nb, *_ = await two_banks(c, as_, db)

    def refs(r):
        return sorted((row[0], row[1]) for row in csv_table(r)[1:])

    assert refs(await export(c, "/v1/loans/export", as_("official", region="330100"))) == [
        ("BA", "L-1"),
        ("BB", "L-1"),
    ]
    assert refs(await export(c, "/v1/loans/export", as_("official", region="330200"))) == [("BA", "L-2")]
    assert refs(await export(c, "/v1/loans/export", as_("official", region="330300"))) == []
    assert len(refs(await export(c, "/v1/loans/export", as_("admin")))) == 3
    ws = sheet(await export(c, "/v1/loans/export", as_("official", region="330200"), "xlsx"))
    assert [row[1] for row in ws.iter_rows(values_only=True)] == ["贷款编号", "L-2"]
    assert ws.auto_filter.ref == "A1:AB2"
    for kind in ("guarantor", "certifier"):
        r = await c.get("/v1/loans/export", headers=as_(kind, org="X1"))
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"


async def test_the_export_takes_the_lists_filters(c, as_, db):
    hz, nb, _, ba, _ = await two_banks(c, as_, db)
    admin = as_("admin")

    async def refs(**params):
        listed = (await c.get("/v1/loans", params=params, headers=admin)).json()["items"]
        exported = csv_table(await export(c, "/v1/loans/export", admin, **params))[1:]
        assert [(row[0], row[1]) for row in exported] == [(i["lender"], i["loan_ref"]) for i in listed]
        return [(row[0], row[1]) for row in exported]

    assert await refs(status="repaid") == [("BA", "L-2")]
    assert await refs(product="ip_pledge") == [("BA", "L-2")]
    assert await refs(borrower=hz) == [("BA", "L-1"), ("BB", "L-1")]
    assert await refs(lender="BB") == [("BB", "L-1")]
    assert await refs(issued_from="2022-03-02", issued_to="2022-06-14") == [("BB", "L-1")]
    assert await refs(issued_from="2022-06-15") == [("BA", "L-2")]
    assert await refs(inclusive="true") == [("BA", "L-1"), ("BB", "L-1")]
    assert await refs(unmatched="true") == [("BA", "L-2")]
    assert await refs(unmatched="false", lender="BA") == [("BA", "L-1")]


@pytest.mark.parametrize(
    ("params", "pointer"),
    [
        ({"format": "pdf"}, "#/query/format"),
        ({"format": "XLSX"}, "#/query/format"),
        ({"issued_from": "2022-13-01"}, "#/query/issued_from"),
        ({"issued_to": "'; DROP TABLE finance.loans; --"}, "#/query/issued_to"),
        ({"borrower": "91330106MA000000X0"}, "#/query/borrower"),
        ({"borrower": "9133\x00"}, "#/query/borrower"),
        ({"lender": "B" * 65}, "#/query/lender"),
        ({"lender": "B\u202e1"}, "#/query/lender"),
        ({"status": "everything"}, "#/query/status"),
        ({"inclusive": "maybe"}, "#/query/inclusive"),
    ],
)
async def test_hostile_query_parameters_are_422_problems(c, as_, params, pointer):
    r = await c.get("/v1/loans/export", params=params, headers=as_("bank", org="BA"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert pointer in [e["pointer"] for e in r.json()["errors"]]


async def test_credit_line_export_is_the_banks_own_lines(c, as_, db):
    hz = await add_enterprise(db, region_code="330106")
    nb = new_credit_code("330212")
    ba, bb = as_("bank", org="BA"), as_("bank", org="BB")
    version = await post(
        c,
        "/v1/credit-lines/batch",
        ba,
        [
            line(hz, line_ref="CL-1", amount="3000000.00"),
            line(nb, line_ref="CL-2", amount="12.5", status="closed", closed_on="2023-06-30"),
        ],
    )
    await post(c, "/v1/credit-lines/batch", bb, [line(hz, line_ref="CL-9")])
    assert csv_table(await export(c, "/v1/credit-lines/export", ba)) == [
        LINE_HEADERS,
        ["BA", "CL-1", hz, "330106", "3000000.00", "2022-01-01", "2024-12-31", "有效", "", version],
        ["BA", "CL-2", nb, "330212", "12.50", "2022-01-01", "2024-12-31", "已终止", "2023-06-30", version],
    ]
    assert [row[1] for row in csv_table(await export(c, "/v1/credit-lines/export", bb))[1:]] == ["CL-9"]
    official = as_("official", region="330200")
    assert [row[1] for row in csv_table(await export(c, "/v1/credit-lines/export", official))[1:]] == ["CL-2"]
    filtered = await export(c, "/v1/credit-lines/export", as_("admin"), borrower=hz)
    assert [row[1] for row in csv_table(filtered)[1:]] == ["CL-1", "CL-9"]
    ws = sheet(await export(c, "/v1/credit-lines/export", ba, "xlsx"))
    assert (ws.title, ws.freeze_panes, ws.auto_filter.ref) == ("授信明细", "A2", "A1:J3")
    header, first, second = ws.iter_rows()
    assert [cell.value for cell in header] == LINE_HEADERS
    assert first[4].value == 3000000 and first[4].number_format == "#,##0.00"
    assert second[4].value == 12.5 and second[8].value == datetime(2023, 6, 30) and second[8].is_date
    assert (await c.get("/v1/credit-lines/export", headers=as_("guarantor", org="G1"))).status_code == 403
    r = await c.get("/v1/credit-lines/export", params={"borrower": "x"}, headers=ba)
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "#/query/borrower"


async def test_guarantee_export_for_the_guarantor_the_named_bank_and_the_region(c, as_, db):
    hz = await add_enterprise(db, region_code="330106")
    nb = new_credit_code("330212")
    g1, g2 = as_("guarantor", org="G1"), as_("guarantor", org="G2")
    version = await post(
        c,
        "/v1/guarantees/batch",
        g1,
        [
            guarantee(hz, guarantee_ref="G-1", lender_code="BA", loan_ref="L-1", fee_rate="1.25"),
            guarantee(
                nb,
                guarantee_ref="G-2",
                lender_code="BB",
                guaranteed_amount="500000.00",
                outstanding_amount="0.00",
                status="compensated",
                compensated_on="2022-09-01",
                compensated_amount="300000.00",
                recovered_amount="100000.00",
                counter_guarantee=True,
                reguarantee_share="40",
            ),
        ],
    )
    await post(c, "/v1/guarantees/batch", g2, [guarantee(hz, guarantee_ref="G-9", lender_code="BA")])
    assert csv_table(await export(c, "/v1/guarantees/export", g1)) == [
        GUARANTEE_HEADERS,
        [
            "G1", "G-1", hz, "330106", "BA", "L-1", "1000000.00", "1000000.00", "1.25", "2022-03-01",
            "2023-03-01", "在保", "", "", "0.00", "0.00", "否", "0", version,
        ],
        [
            "G1", "G-2", nb, "330212", "BB", "", "500000.00", "0.00", "1", "2022-03-01", "2023-03-01",
            "已代偿", "", "2022-09-01", "300000.00", "100000.00", "是", "40", version,
        ],
    ]  # fmt: skip

    def refs(r):
        return [row[1] for row in csv_table(r)[1:]]

    assert refs(await export(c, "/v1/guarantees/export", g2)) == ["G-9"]
    assert refs(await export(c, "/v1/guarantees/export", as_("bank", org="BA"))) == ["G-1", "G-9"]
    assert refs(await export(c, "/v1/guarantees/export", as_("bank", org="BB"))) == ["G-2"]
    assert refs(await export(c, "/v1/guarantees/export", as_("official", region="330100"))) == ["G-1", "G-9"]
    assert refs(await export(c, "/v1/guarantees/export", as_("admin"), borrower=nb)) == ["G-2"]
    ws = sheet(await export(c, "/v1/guarantees/export", g1, "xlsx"))
    assert (ws.title, ws.freeze_panes, ws.auto_filter.ref) == ("担保明细", "A2", "A1:S3")
    rows = list(ws.iter_rows())
    second = {h: cell for h, cell in zip(GUARANTEE_HEADERS, rows[2], strict=True)}
    assert second["代偿金额（元）"].value == 300000 and second["代偿金额（元）"].number_format == "#,##0.00"
    assert second["再担保比例（%）"].value == 40 and second["再担保比例（%）"].number_format == "0.00##"
    assert second["代偿日期"].is_date and second["反担保"].value == "是"
    assert ws.column_dimensions["C"].width == 26
    assert (await c.get("/v1/guarantees/export", headers=as_("certifier", org="C1"))).status_code == 403

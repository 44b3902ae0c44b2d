"""The certificate export: CSV and XLSX scoped and filtered exactly like the list, Chinese headers,
the effective status as the list computes it, typed XLSX cells."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from openpyxl import load_workbook

from services.common.credit_code import make_credit_code
from services.common.today import today_shanghai
from tests.registry_data import add_enterprise
from tests.standards.helpers import ZZB, Y, add_standard, cert, push

HEADERS = [
    "认证机构代码",
    "证书编号",
    "持证企业统一社会信用代码",
    "持证企业名称",
    "认证产品",
    "认证范围",
    "标准编号",
    "认证规则",
    "发证日期",
    "有效期至",
    "报送状态",
    "当前状态",
    "状态生效日期",
    "状态说明",
    "变更次数",
    "规则版本",
]


@pytest.fixture
def c(client_for):
    return client_for("standards")


async def pushed(c, headers, records):
    r = await push(c, headers, records)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["summary"]["rejected"] == 0, body
    return body["rule_set_version"]


async def export(c, headers, fmt="csv", **params):
    r = await c.get("/v1/certifications/export", params={"format": fmt, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return r


def table(r) -> list[list[str]]:
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="certifications.csv"'
    return list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))


async def arranged(c, as_, db):
    """Body CQM: a Hangzhou holder's certificate, a Ningbo holder's that expired yesterday, and an
    unmatched Wenzhou holder's that was suspended; body BVC: one of the Hangzhou holder."""
    await add_standard(c, as_("admin"))
    hz = await add_enterprise(db, region_code="330106")
    nb = await add_enterprise(db, region_code="330212")
    wz = make_credit_code("91330302MA2BBBBB0")
    yesterday = today_shanghai() - timedelta(days=1)
    cqm, bvc = as_("certifier", org="CQM"), as_("certifier", org="BVC")
    version = await pushed(
        c,
        cqm,
        [
            cert(certificate_no="HZ-1", holder_credit_code=hz, holder_name="杭州甲机械有限公司"),
            cert(
                certificate_no="NB-1",
                holder_credit_code=nb,
                holder_name="=宁波乙",
                scope="设计\n生产",
                issued_on=date(Y - 2, 1, 10).isoformat(),
                status_effective_on=date(Y - 2, 1, 10).isoformat(),
                expires_on=yesterday.isoformat(),
            ),
            cert(
                certificate_no="WZ-1",
                holder_credit_code=wz,
                status="suspended",
                status_effective_on=date(Y, 6, 1).isoformat(),
                status_reason="监督抽查不合格",
            ),
        ],
    )
    await pushed(c, bvc, [cert(certificate_no="HZ-9", holder_credit_code=hz)])
    return hz, nb, wz, yesterday, version, cqm, bvc


async def test_a_body_exports_exactly_its_own_certificates(c, as_, db):
    hz, nb, wz, yesterday, version, cqm, bvc = await arranged(c, as_, db)
    issued, expires = date(Y, 3, 1).isoformat(), (date(Y, 3, 1) + timedelta(days=3 * 365)).isoformat()
    old = date(Y - 2, 1, 10).isoformat()
    assert table(await export(c, cqm)) == [
        HEADERS,
        ["CQM", "HZ-1", hz, "杭州甲机械有限公司", "齿轮减速电机", "设计、生产", ZZB, "ZJM-006-4481-2023",
         issued, expires, "有效", "有效", issued, "", "1", version],
        ["CQM", "NB-1", nb, "'=宁波乙", "齿轮减速电机", "设计\n生产", ZZB, "ZJM-006-4481-2023",
         old, yesterday.isoformat(), "有效", "过期", old, "", "1", version],
        ["CQM", "WZ-1", wz, "杭州示例机械有限公司", "齿轮减速电机", "设计、生产", ZZB, "ZJM-006-4481-2023",
         issued, expires, "暂停", "暂停", date(Y, 6, 1).isoformat(), "监督抽查不合格", "1", version],
    ]  # fmt: skip
    assert [row[:2] for row in table(await export(c, bvc))[1:]] == [["BVC", "HZ-9"]]
    assert table(await export(c, bvc, certifier="CQM")) == [HEADERS]
    assert table(await export(c, as_("certifier", org="NONE"))) == [HEADERS]


async def test_officials_export_their_region_and_the_lists_filters_apply(c, as_, db):
    hz, nb, wz, yesterday, *_ = await arranged(c, as_, db)

    async def numbers(headers, **params):
        listed = (await c.get("/v1/certifications", params=params, headers=headers)).json()["items"]
        exported = [row[1] for row in table(await export(c, headers, **params))[1:]]
        assert exported == [i["certificate_no"] for i in listed]
        return exported

    assert await numbers(as_("official", region="330100")) == ["HZ-1", "HZ-9"]
    assert await numbers(as_("official", region="330200")) == ["NB-1"]
    assert await numbers(as_("official", region="330300")) == ["WZ-1"]
    assert await numbers(as_("official", region="330400")) == []
    admin = as_("admin")
    assert await numbers(admin) == ["HZ-1", "NB-1", "WZ-1", "HZ-9"]
    assert await numbers(admin, status="expired") == ["NB-1"]
    assert await numbers(admin, status="valid") == ["HZ-1", "HZ-9"]
    assert await numbers(admin, status="suspended") == ["WZ-1"]
    assert await numbers(admin, holder=hz) == ["HZ-1", "HZ-9"]
    assert await numbers(admin, certifier="BVC") == ["HZ-9"]
    assert await numbers(admin, standard=ZZB) == ["HZ-1", "NB-1", "WZ-1", "HZ-9"]
    assert await numbers(admin, standard="GB/T 1-2020") == []
    assert await numbers(admin, expiring_before=today_shanghai().isoformat()) == ["NB-1"]
    for kind in ("bank", "guarantor"):
        r = await c.get("/v1/certifications/export", headers=as_(kind, org="X1"))
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"


async def test_the_xlsx_is_typed_with_widths_a_frozen_header_and_an_autofilter(c, as_, db):
    hz, nb, wz, yesterday, version, cqm, _ = await arranged(c, as_, db)
    r = await export(c, cqm, "xlsx")
    assert r.headers["content-disposition"] == 'attachment; filename="certifications.xlsx"'
    ws = load_workbook(io.BytesIO(r.content)).active
    assert (ws.title, ws.freeze_panes, ws.auto_filter.ref) == ("品字标认证证书", "A2", "A1:P4")
    widths = {letter: dim.width for letter, dim in ws.column_dimensions.items()}
    assert len(widths) == 16
    assert (widths["C"], widths["D"], widths["F"], widths["I"], widths["O"]) == (26, 32, 40, 12, 10)
    rows = list(ws.iter_rows())
    assert [cell.value for cell in rows[0]] == HEADERS
    second = {h: cell for h, cell in zip(HEADERS, rows[2], strict=True)}
    assert second["有效期至"].is_date and second["有效期至"].value == datetime.combine(
        yesterday, datetime.min.time()
    )
    assert second["有效期至"].number_format == "yyyy-mm-dd"
    assert second["变更次数"].data_type == "n" and second["变更次数"].value == 1
    assert second["持证企业名称"].value == "'=宁波乙" and second["持证企业名称"].data_type == "s"
    assert second["认证范围"].value == "设计\n生产"
    assert (second["报送状态"].value, second["当前状态"].value) == ("有效", "过期")
    assert (
        second["持证企业统一社会信用代码"].value == nb and second["持证企业统一社会信用代码"].data_type == "s"
    )
    assert len(rows) == 4


@pytest.mark.parametrize(
    ("params", "pointer"),
    [
        ({"format": "json"}, "#/query/format"),
        ({"status": "lapsed"}, "#/query/status"),
        ({"expiring_before": "2024-02-30"}, "#/query/expiring_before"),
        ({"holder": "not-a-code"}, "#/query/holder"),
        ({"holder": "9133\x1b[2J"}, "#/query/holder"),
        ({"certifier": "C" * 65}, "#/query/certifier"),
        ({"certifier": "CQM\u2028"}, "#/query/certifier"),
    ],
)
async def test_hostile_query_parameters_are_422_problems(c, as_, params, pointer):
    r = await c.get("/v1/certifications/export", params=params, headers=as_("certifier", org="CQM"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert pointer in [e["pointer"] for e in r.json()["errors"]]

"""Arrangements for the standards tests: certificate records and pushes as a body would send them."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

from services.common.credit_code import make_credit_code
from services.common.today import today_shanghai

_n = itertools.count(1)
HOLDER = make_credit_code("91330106MA2AAAAA0")
ZZB = "T/ZZB 0001—2023"


# Test certificates are issued on 1 March of last year: in force today, every month of last year
# available for status changes.
Y = today_shanghai().year - 1


def cert(**overrides: Any) -> dict[str, Any]:
    """A valid record: a 3-year 品字标 certificate issued a year ago."""
    issued = date(Y, 3, 1)
    record = {
        "certificate_no": f"ZJM-C-{next(_n):06d}",
        "holder_credit_code": HOLDER,
        "holder_name": "杭州示例机械有限公司",
        "product": "齿轮减速电机",
        "scope": "设计、生产",
        "standard_code": ZZB,
        "rule_code": "ZJM-006-4481-2023",
        "issued_on": issued.isoformat(),
        "expires_on": (issued + timedelta(days=3 * 365)).isoformat(),
        "status": "valid",
        "status_effective_on": issued.isoformat(),
        "status_reason": None,
    }
    record.update(overrides)
    return record


async def push(client, headers, records, atomic: bool = False, **kw):
    params = {"atomic": "true"} if atomic else {}
    return await client.post(
        "/v1/certifications/batch", json={"records": records}, headers=headers, params=params, **kw
    )


async def add_standard(client, headers, code=ZZB, level="zhejiang_made", **kw):
    body = {"code": code, "level": level, "title": kw.pop("title", "示例标准"), **kw}
    r = await client.post("/v1/standards", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()

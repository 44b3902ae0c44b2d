"""The finance and standards exports through the gateway: a bank's own loans as a compressed CSV,
the XLSX untouched, and kinds the list does not serve refused at the edge."""

from __future__ import annotations

import gzip
import io

import httpx
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from services.finance.exports import LOANS
from tests.finance.helpers import loan


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_bank_exports_its_loans_through_the_gateway(gateway_live, new_client):
    _, bank = await new_client("bank", org="GWX-A")
    _, other = await new_client("bank", org="GWX-B")
    async with httpx.AsyncClient(base_url=gateway_live.url, timeout=30) as http:
        for key, refs in ((bank, ["GWX-1", "GWX-2"]), (other, ["GWX-9"])):
            r = await http.post(
                "/finance/v1/loans/batch",
                json={"records": [loan(loan_ref=ref) for ref in refs]},
                headers=bearer(key),
            )
            assert r.status_code == 200 and r.json()["summary"]["created"] == len(refs), r.text
        url = "/finance/v1/loans/export?format=csv"
        async with http.stream("GET", url, headers={**bearer(bank), "Accept-Encoding": "gzip"}) as r:
            assert r.status_code == 200
            assert r.headers["content-encoding"] == "gzip"
            body = gzip.decompress(b"".join([c async for c in r.aiter_raw()])).decode("utf-8-sig")
        lines = body.splitlines()
        assert lines[0].startswith("贷款机构代码,贷款编号,")
        assert [line.split(",")[:2] for line in lines[1:]] == [["GWX-A", "GWX-1"], ["GWX-A", "GWX-2"]]
        r = await http.get(
            "/finance/v1/loans/export?format=xlsx", headers={**bearer(bank), "Accept-Encoding": "gzip"}
        )
        assert r.status_code == 200 and "content-encoding" not in r.headers
        ws = load_workbook(io.BytesIO(r.content)).active
        last = get_column_letter(len(LOANS.columns))  # one column per exported field
        assert (ws.freeze_panes, ws.auto_filter.ref, ws.max_row) == ("A2", f"A1:{last}3", 3)
        _, guarantor = await new_client("guarantor", org="GWX-G")
        for path in (
            "/finance/v1/loans/export",
            "/finance/v1/credit-lines/export",
            "/standards/v1/certifications/export",
        ):
            r = await http.get(path, headers=bearer(guarantor))
            assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json", path
        r = await http.get("/finance/v1/guarantees/export", headers=bearer(guarantor))
        assert r.status_code == 200 and r.text.startswith("\ufeff担保机构代码")
        r = await http.get("/finance/v1/loans/export?format=ods", headers=bearer(bank))
        assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "#/query/format"

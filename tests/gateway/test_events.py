"""The change feeds through the front door: every authenticated kind reads `/<service>/v1/events`
(its own events), the public never; bank B never sees bank A's loans; a cursor is its caller's."""

from __future__ import annotations

from services.common.credit_code import make_credit_code
from tests.finance.helpers import loan
from tests.gateway.conftest import bearer
from tests.standards.helpers import cert

FEEDS = ("/registry/v1/events", "/finance/v1/events", "/standards/v1/events")


async def feed(http, url: str, key: str, **params) -> list[dict]:
    seen, after = [], None
    while True:
        query = params | ({"after": after} if after else {})
        r = await http.get(url, params=query, headers=bearer(key))
        assert r.status_code == 200, r.text
        seen += r.json()["items"]
        after = r.json()["next_cursor"]
        if not r.json()["has_more"]:
            return seen


async def test_every_kind_reads_the_feeds_and_the_public_none(gateway_live, new_client, http):
    keys = [
        (await new_client("admin"))[1],
        (await new_client("bank", org="GW-BANK"))[1],
        (await new_client("guarantor", org="GW-GUAR"))[1],
        (await new_client("certifier", org="GW-CERT"))[1],
        (await new_client("official", region="330106"))[1],
    ]
    for path in FEEDS:
        for key in keys:
            r = await http.get(gateway_live.url + path, headers=bearer(key))
            assert r.status_code == 200, (path, r.text)
            assert set(r.json()) == {"items", "next_cursor", "has_more"}
        r = await http.get(gateway_live.url + path)
        assert r.status_code == 401 and r.json()["code"] == "credentials_missing", r.text


async def test_bank_b_never_sees_bank_a_loans_through_the_gateway(gateway_live, new_client, http):
    _, a = await new_client("bank", org="GW-A")
    _, b = await new_client("bank", org="GW-B")
    url = gateway_live.url + "/finance/v1/events"
    start_b = (await http.get(url, headers=bearer(b))).json()["next_cursor"]
    r = await http.post(
        gateway_live.url + "/finance/v1/loans/batch",
        json={"records": [loan(loan_ref="GW-1")]},
        headers=bearer(a),
    )
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "created", r.text
    mine = await feed(http, url, a)
    assert [(e["type"], e["subject"]["key"]) for e in mine] == [("loan.created", "GW-A/GW-1")]
    assert mine[0]["links"] == {"self": "/finance/v1/lenders/GW-A/loans/GW-1"}
    assert (await http.get(gateway_live.url + mine[0]["links"]["self"], headers=bearer(a))).status_code == 200
    assert await feed(http, url, b) == []
    r = await http.get(url, params={"after": start_b}, headers=bearer(b))
    assert r.json()["items"] == []
    # A's cursor is A's: B presenting it is refused, never shown A's events
    cursor = (await http.get(url, params={"limit": 1}, headers=bearer(a))).json()["next_cursor"]
    r = await http.get(url, params={"after": cursor}, headers=bearer(b))
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor", r.text


async def test_a_certifier_and_an_official_see_the_certificates_they_may_read(gateway_live, new_client, http):
    _, body = await new_client("certifier", org="GW-CQM")
    _, other = await new_client("certifier", org="GW-ZJGX")
    _, xihu = await new_client("official", region="330106")
    _, ningbo = await new_client("official", region="330200")
    holder = make_credit_code("91330106MA2BBBBB0")
    r = await http.post(
        gateway_live.url + "/standards/v1/certifications/batch",
        json={"records": [cert(certificate_no="GW-C-1", holder_credit_code=holder)]},
        headers=bearer(body),
    )
    assert r.status_code == 200 and r.json()["summary"]["created"] == 1, r.text
    url = gateway_live.url + "/standards/v1/events"
    only = {"types": "certificate.created"}
    assert [e["subject"]["key"] for e in await feed(http, url, body, **only)] == ["GW-CQM|GW-C-1"]
    assert [e["subject"]["key"] for e in await feed(http, url, xihu, **only)] == ["GW-CQM|GW-C-1"]
    assert await feed(http, url, other, **only) == []
    assert await feed(http, url, ningbo, **only) == []
    r = await http.get(url, params={"types": "loan.created"}, headers=bearer(body))
    assert r.status_code == 422 and r.json()["code"] == "unknown_event_type", r.text

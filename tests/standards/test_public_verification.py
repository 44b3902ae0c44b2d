"""The public verifies a certificate by number: exactly the public fields, `expired` derived from
expires_on in Asia/Shanghai, no credentials needed."""

import asyncio
from datetime import timedelta

import pytest

from services.standards.verification import repository, router
from tests.standards.helpers import cert, push, today_shanghai

PUBLIC_FIELDS = {
    "certificate_no",
    "certifier",
    "holder_name",
    "holder_credit_code",
    "product",
    "standard_code",
    "issued_on",
    "expires_on",
    "status",
    "status_changed_on",
}


@pytest.fixture
def c(client_for):
    return client_for("standards")


async def test_the_public_sees_exactly_the_public_fields(c, as_):
    record = cert(certificate_no="PUB-1", scope="内部范围说明", status_reason=None)
    await push(c, as_("certifier", org="CQM"), [record])
    r = await c.get("/v1/public/certifications/PUB-1")  # no principal
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"items"} and len(r.json()["items"]) == 1
    body = r.json()["items"][0]
    assert set(body) == PUBLIC_FIELDS
    assert body == {
        "certificate_no": "PUB-1",
        "certifier": "CQM",
        "holder_name": record["holder_name"],
        "holder_credit_code": record["holder_credit_code"],
        "product": record["product"],
        "standard_code": "T/ZZB 0001—2023",
        "issued_on": record["issued_on"],
        "expires_on": record["expires_on"],
        "status": "valid",
        "status_changed_on": record["status_effective_on"],
    }


async def test_expired_is_derived_from_the_day_after_expires_on(c, as_):
    today = today_shanghai()
    body = as_("certifier", org="CQM")
    issued = (today - timedelta(days=1000)).isoformat()
    await push(
        c,
        body,
        [
            cert(
                certificate_no="LAST-DAY",
                issued_on=issued,
                status_effective_on=issued,
                expires_on=today.isoformat(),
            ),
            cert(
                certificate_no="DAY-AFTER",
                issued_on=issued,
                status_effective_on=issued,
                expires_on=(today - timedelta(days=1)).isoformat(),
            ),
            cert(
                certificate_no="REVOKED-OLD",
                issued_on=issued,
                expires_on=(today - timedelta(days=1)).isoformat(),
                status="revoked",
                status_effective_on=(today - timedelta(days=30)).isoformat(),
                status_reason="违规使用标志",
            ),
        ],
    )
    (last_day,) = (await c.get("/v1/public/certifications/LAST-DAY")).json()["items"]
    assert last_day["status"] == "valid"
    (after,) = (await c.get("/v1/public/certifications/DAY-AFTER")).json()["items"]
    assert after["status"] == "expired" and after["status_changed_on"] == today.isoformat()
    (revoked,) = (await c.get("/v1/public/certifications/REVOKED-OLD")).json()["items"]
    assert revoked["status"] == "revoked"


def test_effective_status_rule():
    from datetime import date

    from services.standards.certifications.service import effective_status

    end = date(2024, 2, 29)
    assert effective_status("valid", end, date(2024, 2, 29)) == "valid"
    assert effective_status("valid", end, date(2024, 3, 1)) == "expired"
    assert effective_status("suspended", end, date(2024, 3, 1)) == "expired"
    assert effective_status("cancelled", end, date(2024, 3, 1)) == "cancelled"


async def test_unknown_numbers_are_a_404_problem(c):
    r = await c.get("/v1/public/certifications/NOPE-404")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "certificate_not_found"


async def test_a_number_several_bodies_hold_answers_every_holders_public_record(c, as_):
    """Numbers are each body's own, so two bodies may issue the same one. By number alone the
    public gets every holder body's record, ordered by body — body B pushing A's number cannot
    turn the QR-code check of A's certificate into an error. `?certifier=` narrows to one body."""
    await push(c, as_("certifier", org="BODY-A"), [cert(certificate_no="DUP", product="甲")])
    before = await c.get("/v1/public/certifications/DUP")
    assert before.status_code == 200 and [x["product"] for x in before.json()["items"]] == ["甲"]
    await push(c, as_("certifier", org="BODY-B"), [cert(certificate_no="DUP", product="乙")])
    r = await c.get("/v1/public/certifications/DUP")
    assert r.status_code == 200, r.text
    assert [(x["certifier"], x["product"]) for x in r.json()["items"]] == [("BODY-A", "甲"), ("BODY-B", "乙")]
    assert all(set(x) == PUBLIC_FIELDS for x in r.json()["items"])
    r = await c.get("/v1/public/certifications/DUP", params={"certifier": "BODY-B"})
    assert r.status_code == 200 and [x["product"] for x in r.json()["items"]] == ["乙"]
    r = await c.get("/v1/public/certifications/DUP", params={"certifier": "BODY-C"})
    assert r.status_code == 404 and r.json()["code"] == "certificate_not_found"


async def test_the_verification_shape_is_in_the_openapi(c):
    spec = (await c.get("/openapi.json")).json()
    get = spec["paths"]["/v1/public/certifications/{certificate_no}"]["get"]
    # 400: the path rule (invalid_path); 431: a query that makes the request line too long
    assert set(get["responses"]) == {"200", "400", "404", "422", "431"}
    ref = get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    items = spec["components"]["schemas"][ref]["properties"]["items"]
    assert items["type"] == "array" and items["items"]["$ref"].endswith("/PublicCertificate")


async def test_lookup_answers_each_number_in_order(c, as_):
    await push(c, as_("certifier", org="CQM"), [cert(certificate_no="L-1"), cert(certificate_no="L-2")])
    r = await c.post("/v1/public/certifications/lookup", json={"certificate_nos": ["L-2", "MISSING", "L-1"]})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [(x["certificate_no"], x["found"], len(x["certificates"])) for x in results] == [
        ("L-2", True, 1),
        ("MISSING", False, 0),
        ("L-1", True, 1),
    ]
    assert set(results[0]["certificates"][0]) == PUBLIC_FIELDS


async def test_lookup_takes_at_most_100_numbers(c):
    r = await c.post("/v1/public/certifications/lookup", json={"certificate_nos": ["X"] * 101})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/certificate_nos"


async def test_the_fast_path_answers_exactly_as_the_route(c, as_, monkeypatch):
    """Plain numbers are answered in front of the router (verification/fast_path.py); anything
    else goes to the route. Both must give the same bytes, headers that matter and metrics."""
    await push(c, as_("certifier", org="CQM"), [cert(certificate_no="ZJM-2024/0007")])
    await push(c, as_("certifier", org="CEPREI"), [cert(certificate_no="ZJM-2024/0007")])
    fast = await c.get("/v1/public/certifications/ZJM-2024/0007", headers={"X-Request-ID": "rid-fast-1"})
    fast_at = await c.get("/v1/public/certifications/ZJM-2024/0007", params={"certifier": "CQM"})
    # an extra parameter is not the plain case: the FastAPI route answers (and ignores it)
    routed = await c.get("/v1/public/certifications/ZJM-2024/0007", params={"x": "1"})
    routed_at = await c.get("/v1/public/certifications/ZJM-2024/0007", params={"certifier": "CQM", "x": "1"})
    assert {r.status_code for r in (fast, fast_at, routed, routed_at)} == {200}
    assert fast.content == routed.content and fast_at.content == routed_at.content
    assert [x["certifier"] for x in fast.json()["items"]] == ["CEPREI", "CQM"]
    assert [x["certifier"] for x in fast_at.json()["items"]] == ["CQM"]
    assert fast.headers["content-type"] == routed.headers["content-type"] == "application/json"
    assert fast.headers["x-request-id"] == "rid-fast-1"

    async def route_must_not_run(*args):
        raise AssertionError("the plain case went to the route")

    monkeypatch.setattr(router.service, "verify", route_must_not_run)
    again = await c.get("/v1/public/certifications/ZJM-2024/0007")
    assert again.status_code == 200 and again.content == fast.content  # several holders: still fast
    again_at = await c.get("/v1/public/certifications/ZJM-2024/0007", params={"certifier": "CQM"})
    assert again_at.status_code == 200 and again_at.content == fast_at.content
    monkeypatch.undo()
    # a body code that is not the holder's certifier: not found, as the route says it
    other = await c.get("/v1/public/certifications/ZJM-2024/0007", params={"certifier": "OTHER"})
    assert other.status_code == 404 and other.json()["code"] == "certificate_not_found"
    metrics = (await c.get("/metrics")).text
    assert 'route="/v1/public/certifications/{certificate_no:path}"' in metrics


async def test_verifications_in_flight_together_each_get_their_own_answer(c, as_, monkeypatch):
    """Concurrent verifications share one query (services/common/coalesce.py): every caller still
    gets exactly its own certificate, problem or body's record."""
    await push(c, as_("certifier", org="CQM"), [cert(certificate_no="TOG-1"), cert(certificate_no="TOG-2")])
    await push(c, as_("certifier", org="CEPREI"), [cert(certificate_no="TOG-2")])
    asks = [
        ("TOG-1", {}),
        ("TOG-2", {"certifier": "CEPREI"}),
        ("TOG-2", {"certifier": "CQM"}),
        ("TOG-2", {}),  # two bodies: both records
        ("TOG-1", {"certifier": "CEPREI"}),  # not this body's: 404
        ("TOG-404", {}),
        ("TOG-1", {}),
    ]
    loads = []
    load = repository.by_numbers

    async def counted(app, numbers):
        loads.append(sorted(numbers))
        return await load(app, numbers)

    monkeypatch.setattr(repository, "by_numbers", counted)
    answers = await asyncio.gather(*(c.get(f"/v1/public/certifications/{no}", params=p) for no, p in asks))
    # one query for all seven, each number asked once (the routes re-ask for the problems)
    assert loads[0] == ["TOG-1", "TOG-2", "TOG-404"] and len(loads) < len(asks)
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 404, 404, 200]
    found = [[(x["certificate_no"], x["certifier"]) for x in r.json()["items"]] for r in answers[:4]]
    assert found == [
        [("TOG-1", "CQM")],
        [("TOG-2", "CEPREI")],
        [("TOG-2", "CQM")],
        [("TOG-2", "CEPREI"), ("TOG-2", "CQM")],
    ]
    assert answers[6].json() == answers[0].json()

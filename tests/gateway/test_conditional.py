"""Conditional requests through the front door: every single-resource GET has an ETag, the same
from every replica, `If-None-Match` gets a 304 without a body, and two officials editing one
enterprise no longer overwrite each other: the second, holding the old tag, gets a 412."""

from urllib.parse import quote

from tests.gateway.conftest import bearer
from tests.registry_data import add_enterprise
from tests.standards.helpers import cert
from tests.support import raw_request


async def _revalidates(http, url: str, headers: dict) -> str:
    r = await http.get(url, headers=headers)
    assert r.status_code == 200, (url, r.text)
    etag = r.headers["etag"]
    again = await http.get(url, headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304, url
    assert again.content == b"" and again.headers["etag"] == etag
    assert again.headers["x-request-id"]
    assert "ratelimit-remaining" in again.headers
    return etag


async def test_every_single_resource_get_revalidates(gateway_live, flaky, new_client, http, db):
    _, admin = await new_client("admin")
    _, certifier = await new_client("certifier", org="CQM-ETAG")
    gw = gateway_live.url
    code = await add_enterprise(db, region_code="330106")
    park = await http.post(
        gw + "/registry/v1/parks", json={"name": "网关条件园", "region_code": "330106"}, headers=bearer(admin)
    )
    assert park.status_code == 201
    await http.post(
        gw + "/finance/v1/institutions",
        json={"code": "GW-ETAG", "name": "条件银行", "kind": "bank", "region_code": "330000"},
        headers=bearer(admin),
    )
    async with http.stream(
        "POST",
        gw + "/standards/v1/standards",
        json={"code": "T/ZZB 0888-2022", "level": "zhejiang_made", "title": "网关条件标准"},
        headers=bearer(admin),
    ) as r:
        assert r.status_code == 201
    pushed = await http.post(
        gw + "/standards/v1/certifications/batch",
        json={"records": [cert(certificate_no="GW-ETAG-1")]},
        headers=bearer(certifier),
    )
    assert pushed.json()["results"][0]["status"] == "created", pushed.text
    urls = {
        f"/registry/v1/enterprises/{code}": bearer(admin),
        f"/registry/v1/parks/{park.json()['id']}": bearer(admin),
        "/finance/v1/institutions/GW-ETAG": bearer(admin),
        "/standards/v1/standards/" + quote("T/ZZB 0888-2022", safe=""): bearer(admin),
        "/standards/v1/certifications/GW-ETAG-1": bearer(certifier),
        "/standards/v1/public/certifications/GW-ETAG-1": {},
    }
    for path, headers in urls.items():
        etag = await _revalidates(http, gw + path, headers)
        if path.startswith("/finance/"):
            # another finance process behind another gateway: the same tag (derived from the
            # content, never from a process)
            other = await http.get(flaky["gateway"].url + path, headers=headers)
            assert other.status_code == 200 and other.headers["etag"] == etag


async def test_two_officials_editing_one_enterprise(gateway_live, new_client, http, db):
    code = await add_enterprise(db, name="杭州两位官员有限公司", region_code="330106")
    _, first = await new_client("official", region="330100")
    _, second = await new_client("official", region="330106")
    url = f"{gateway_live.url}/registry/v1/enterprises/{code}"
    seen_by_first = (await http.get(url, headers=bearer(first))).headers["etag"]
    seen_by_second = (await http.get(url, headers=bearer(second))).headers["etag"]
    assert seen_by_first == seen_by_second  # the same record, read by two officials
    r = await http.patch(
        url, json={"address": "西湖区文三路 1 号"}, headers={**bearer(first), "If-Match": seen_by_first}
    )
    assert r.status_code == 200 and r.headers["etag"] != seen_by_first
    r = await http.patch(
        url, json={"address": "西湖区文三路 2 号"}, headers={**bearer(second), "If-Match": seen_by_second}
    )
    assert r.status_code == 412
    problem = r.json()
    assert (
        problem["code"] == "precondition_failed" and r.headers["content-type"] == "application/problem+json"
    )
    assert (await http.get(url, headers=bearer(second))).json()["address"] == "西湖区文三路 1 号"
    # reading again gives the current tag, and the edit goes through
    current = (await http.get(url, headers=bearer(second))).headers["etag"]
    r = await http.patch(
        url, json={"address": "西湖区文三路 2 号"}, headers={**bearer(second), "If-Match": current}
    )
    assert r.status_code == 200


async def test_standard_patch_with_if_match(gateway_live, new_client, http):
    _, admin = await new_client("admin")
    base = gateway_live.url + "/standards/v1/standards"
    await http.post(
        base, json={"code": "T/ZZB 0889-2022", "level": "zhejiang_made", "title": "x"}, headers=bearer(admin)
    )
    url = base + "/" + quote("T/ZZB 0889-2022", safe="")
    etag = (await http.get(url, headers=bearer(admin))).headers["etag"]
    assert (
        await http.patch(url, json={"title": "y"}, headers={**bearer(admin), "If-Match": '"zz"'})
    ).status_code == 412
    assert (
        await http.patch(url, json={"title": "y"}, headers={**bearer(admin), "If-Match": etag})
    ).status_code == 200


async def test_hostile_conditional_headers_are_never_a_500(gateway_live, new_client, db):
    """Written raw to the socket: bytes a client library would refuse to send."""
    code = await add_enterprise(db, region_code="330106")
    _, admin = await new_client("admin")
    path = f"/registry/v1/enterprises/{code}".encode()
    for value in (
        b'"' * 4000,
        b"W/" * 3000,
        b"*, *",
        b'"a", garbage',
        b"\t",
        b'"\x80\xff"',
        b"x" * 12000,
        '"é"'.encode(),
        b"-gzip",
        b'"-gzip"',
        b'W/"-br"',
        b'"a"\x01',
        b"\x00",
    ):
        for method, name in ((b"GET", b"If-None-Match"), (b"PATCH", b"If-Match")):
            body = b'{"address": "a"}' if method == b"PATCH" else b""
            request = (
                method
                + b" "
                + path
                + b" HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer "
                + admin.encode()
                + b"\r\n"
                + name
                + b": "
                + value
                + b"\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            r = raw_request(gateway_live.url, request)
            assert r.status in (200, 304, 400, 412, 422), (method, value[:40], r.status, r.body[:300])


async def test_adoption_report_put_with_if_match(gateway_live, new_client, http, db):
    """The adoption report through the front door, compressed too: the tag of a gzip answer
    (`"…-gzip"`) serves If-None-Match and If-Match as the plain one does."""
    code = await add_enterprise(db, region_code="330106")
    _, first = await new_client("official", region="330100")
    _, second = await new_client("official", region="330106")
    url = f"{gateway_live.url}/standards/v1/enterprises/{code}/adoption/2023"
    products = [
        {"product": f"主导产品{i}", "standard_code": f"IEC 60{i:03d}-1:2020", "degree": "IDT"}
        for i in range(40)
    ]
    body = {"main_products": 50, "adopting_products": products, "basis": "2023年统计年报"}
    early = await http.put(url, json=body, headers={**bearer(first), "If-Match": "*"})
    assert early.status_code == 412  # no report for the year yet
    created = await http.put(url, json=body, headers=bearer(first))
    assert created.status_code == 201 and created.headers["etag"]
    gzip = {"Accept-Encoding": "gzip"}
    read = await http.get(url, headers={**bearer(second), **gzip})
    assert read.headers.get("content-encoding") == "gzip", "a report of 40 products is above 1 KiB"
    tag = read.headers["etag"]
    assert (await http.get(url, headers={**bearer(second), **gzip, "If-None-Match": tag})).status_code == 304
    assert (
        await http.get(url, headers={**bearer(first), "If-None-Match": created.headers["etag"]})
    ).status_code == 304

    replaced = await http.put(
        url, json={**body, "main_products": 45}, headers={**bearer(second), "If-Match": tag}
    )
    assert replaced.status_code == 200, replaced.text
    stale = await http.put(
        url, json={**body, "main_products": 60}, headers={**bearer(first), "If-Match": tag}
    )
    assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"
    assert stale.headers["content-type"] == "application/problem+json"
    now = await http.get(url, headers=bearer(first))
    assert now.json()["denominator"] == 45 and now.headers["etag"] == replaced.headers["etag"]
    doc = (await http.get(gateway_live.url + "/openapi.json")).json()
    put = doc["paths"]["/standards/v1/enterprises/{credit_code}/adoption/{year}"]["put"]
    assert "If-Match" in {p["name"] for p in put["parameters"] if p["in"] == "header"}
    assert "precondition_failed" in put["responses"]["412"]["x-problem-codes"]

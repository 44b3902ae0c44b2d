"""HTTP hygiene through the front door: a wrong method is a 405 problem with the path's full
`Allow` — before any credential is asked for (gateway/routes.py) — HEAD answers wherever GET does,
a body that is not JSON is a 400 or a 415 problem from the service, passed on as it is."""

from tests.gateway.conftest import bearer, wait_until
from tests.registry_data import add_enterprise

CODE = "91330000733796106P"


def _known(gateway_live, http_sync) -> bool:
    return http_sync.delete(gateway_live.url + "/registry/v1/enterprises").status_code == 405


async def test_a_wrong_method_is_a_405_with_the_full_allow_before_credentials(gateway_live, http):
    import httpx

    with httpx.Client(timeout=10) as sync:
        wait_until(lambda: _known(gateway_live, sync), 15)  # the services' documents are fetched
    cases = [
        ("DELETE", f"/registry/v1/enterprises/{CODE}", "GET, HEAD, PATCH"),
        ("PUT", "/registry/v1/enterprises", "GET, HEAD, POST"),
        ("GET", "/finance/v1/loans/batch", None),  # GET /v1/loans/{loan_ref} serves it
        ("GET", "/finance/v1/guarantees/batch", "POST"),
        ("PATCH", "/standards/v1/public/certifications/ZJM-1", "GET, HEAD"),
        ("POST", "/registry/v1/tools/size-class", "GET, HEAD"),
        ("OPTIONS", "/registry/v1/enterprises", "GET, HEAD, POST"),
        ("TRACE", "/registry/v1/enterprises", "GET, HEAD, POST"),
    ]
    for method, path, allow in cases:
        r = await http.request(method, gateway_live.url + path)  # no credential at all
        if allow is None:
            assert r.status_code == 401, (method, path, r.status_code)
            continue
        assert r.status_code == 405, (method, path, r.status_code, r.text)
        assert r.headers["allow"] == allow, (method, path)
        assert r.headers["content-type"] == "application/problem+json"
        problem = r.json()
        assert problem["code"] == "method_not_allowed" and problem["request_id"]
        assert problem["detail"] == f"{method} is not allowed on {path}"
    # a path no service serves is still a 404; the gateway's own routes name their methods too
    r = await http.delete(gateway_live.url + "/registry/v1/nothing-here")
    assert r.status_code in (401, 404)
    r = await http.delete(gateway_live.url + "/v1/progress")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
    r = await http.put(gateway_live.url + "/openapi.json")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


async def test_head_through_the_gateway(gateway_live, new_client, http, db):
    code = await add_enterprise(db, region_code="330106")
    _, admin = await new_client("admin")
    for path, headers in (
        (f"/registry/v1/enterprises/{code}", bearer(admin)),
        ("/registry/v1/enterprises?limit=5", bearer(admin)),
        ("/registry/v1/tools/credit-code/" + CODE, {}),
        ("/v1/clients", bearer(admin)),  # the gateway's own
        (f"/v1/enterprises/{code}/profile", bearer(admin)),
        ("/openapi.json", {}),
        ("/healthz", {}),
        ("/docs", {}),
    ):
        get = await http.get(gateway_live.url + path, headers={**headers, "Accept-Encoding": "identity"})
        head = await http.head(gateway_live.url + path, headers={**headers, "Accept-Encoding": "identity"})
        assert head.status_code == get.status_code == 200, (path, head.status_code, get.status_code)
        assert head.content == b"", path
        for h in ("content-type", "etag", "ratelimit-limit"):
            assert head.headers.get(h) == get.headers.get(h), (path, h)
        if path != f"/v1/enterprises/{code}/profile":  # the profile's `fetched_at` moves
            assert head.headers.get("content-length") == get.headers.get("content-length"), path
    r = await http.head(gateway_live.url + "/registry/v1/enterprises")
    assert r.status_code == 401 and r.content == b""


async def test_bodies_that_are_not_json(gateway_live, new_client, http):
    _, bank = await new_client("bank", org="B-HYGIENE")
    url = gateway_live.url + "/finance/v1/loans/batch"
    r = await http.post(
        url,
        content=b'{"records": [\n  {"loan_ref": }]}',
        headers={**bearer(bank), "Content-Type": "application/json"},
    )
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "malformed_json"
    assert r.json()["errors"] == [
        {"pointer": "", "code": "malformed_json", "message": "line 2 column 16: Expecting value"}
    ]
    r = await http.post(
        url, content=b'{"records": []}', headers={**bearer(bank), "Content-Type": "text/plain"}
    )
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"
    assert r.json()["errors"][0]["pointer"] == "#/header/content-type"
    # a 4xx of the caller's own never counts against the service's breaker
    for _ in range(8):
        await http.post(url, content=b"{", headers={**bearer(bank), "Content-Type": "application/json"})
    r = await http.post(url, json={"records": []}, headers=bearer(bank))
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"  # the service answered

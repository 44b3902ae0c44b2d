"""Browsers on other origins (gateway/cors.py): configured origins get CORS headers on every answer —
proxied, the gateway's own, refusals — preflights are answered 204 without credentials or rate
limits, and any other origin gets no CORS header at all."""

import pytest

from tests.gateway.conftest import bearer, start_gateway
from tests.support import raw_request

PORTAL = "https://portal.zj.example.cn"
DEV = "http://localhost:5173"
EXPOSED = {
    "x-request-id",
    "etag",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "retry-after",
    "idempotent-replayed",
}
ALLOWED_HEADERS = {
    "authorization",
    "content-type",
    "idempotency-key",
    "if-match",
    "if-none-match",
    "x-request-id",
}


def _list(value: str) -> set[str]:
    return {v.strip().lower() for v in value.split(",") if v.strip()}


def no_cors(r) -> None:
    assert not [h for h in r.headers if h.lower().startswith("access-control-")], dict(r.headers)


@pytest.fixture(scope="module")
def portal_gateway(live_services):
    """A gateway for one configured origin, with a public rate of 1 request/s per address."""
    gw = start_gateway(
        live_services,
        {
            "EAGLET_CORS__ORIGINS": f'["{PORTAL}", "http://127.0.0.1:8080"]',
            "EAGLET_RATES__PUBLIC_PER_IP": "1",
            "EAGLET_RATES__BURST_S": "2",
        },
    )
    yield gw
    gw.stop()


def preflight(
    origin: str, method: str = "PATCH", headers: str = "authorization,if-match,content-type"
) -> dict:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


async def test_a_preflight_from_a_configured_origin_is_204_without_credentials(portal_gateway, http):
    for path in (
        "/registry/v1/enterprises/91330000733796106P",
        "/finance/v1/loans/batch",
        "/v1/progress",
        "/v1/clients",
        "/nowhere",
    ):
        r = await http.options(portal_gateway.url + path, headers=preflight(PORTAL))
        assert r.status_code == 204, (path, r.text)
        assert r.content == b""
        assert r.headers["access-control-allow-origin"] == PORTAL
        assert _list(r.headers["access-control-allow-methods"]) == {
            "get",
            "head",
            "post",
            "put",
            "patch",
            "delete",
        }
        assert _list(r.headers["access-control-allow-headers"]) == ALLOWED_HEADERS
        assert int(r.headers["access-control-max-age"]) > 0
        assert "origin" in _list(r.headers["vary"])
        assert "access-control-allow-credentials" not in r.headers
        assert r.headers["x-request-id"]


async def test_preflights_take_no_rate_limit_token(portal_gateway, http):
    """A page behind one address sends a preflight before its calls: they never use up the
    address's public bucket (1/s, 2 deep here), so the calls themselves still pass."""
    url = portal_gateway.url + "/registry/v1/tools/credit-code/91330000733796106P"
    for _ in range(30):
        r = await http.options(url, headers=preflight(PORTAL, "GET", "x-request-id"))
        assert r.status_code == 204
    r = await http.get(url, headers={"Origin": PORTAL})
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == PORTAL


async def test_actual_calls_expose_the_headers_a_page_reads(portal_gateway, new_client, http):
    _, admin = await new_client("admin")
    r = await http.get(
        portal_gateway.url + "/registry/v1/enterprises", headers={**bearer(admin), "Origin": PORTAL}
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == PORTAL
    assert EXPOSED <= _list(r.headers["access-control-expose-headers"])
    assert "origin" in _list(r.headers["vary"])
    # refusals too: a page can read the problem of a 401, a 404, a 405
    for method, path, headers, status in (
        ("GET", "/registry/v1/enterprises", {}, 401),
        ("GET", "/nowhere", {}, 404),
        ("DELETE", "/registry/v1/enterprises", bearer(admin), 405),
        ("GET", "/v1/clients", {}, 401),
    ):
        r = await http.request(method, portal_gateway.url + path, headers={**headers, "Origin": PORTAL})
        assert r.status_code == status, (path, r.text)
        assert r.headers["access-control-allow-origin"] == PORTAL, path
        assert r.headers["content-type"] == "application/problem+json"


async def test_other_origins_get_no_cors_headers(portal_gateway, new_client, http):
    _, admin = await new_client("admin")
    url = portal_gateway.url + "/registry/v1/enterprises"
    for origin in (
        "https://evil.example",
        "null",
        DEV,
        PORTAL + ".evil.example",
        PORTAL.upper() + "x",
        "https://portal.zj.example.cn:443",
        PORTAL + "/",
    ):
        r = await http.get(url, headers={**bearer(admin), "Origin": origin})
        assert r.status_code == 200
        no_cors(r)
        assert "origin" in _list(r.headers["vary"])  # a cache keeps the origins apart
        r = await http.options(url, headers=preflight(origin))
        assert r.status_code == 403 and r.json()["code"] == "origin_not_allowed", origin
        no_cors(r)
    r = await http.get(url, headers=bearer(admin))
    no_cors(r)


async def test_hostile_origins_are_never_a_500(portal_gateway):
    """Bytes a browser would never send, written raw to the socket."""
    for origin in (
        b"https://portal.zj.example.cn\x00",
        b"\x01\x02",
        b"https://\xe6\xb5\x99.cn",
        b"x" * 8000,
        b"\x7f",
    ):
        for method in (b"GET", b"OPTIONS"):
            request = (
                method
                + b" /registry/v1/tools/size-class HTTP/1.1\r\nHost: t\r\nOrigin: "
                + origin
                + b"\r\nAccess-Control-Request-Method: GET\r\nConnection: close\r\n\r\n"
            )
            r = raw_request(portal_gateway.url, request)
            assert r.status < 500, (origin, method, r.status)
            assert "access-control-allow-origin" not in r.headers, origin


async def test_whitespace_around_an_origin_is_not_part_of_it(portal_gateway):
    """RFC 9110 §5.5: the allowed origin with a tab after it is that origin, whichever parser."""
    request = (
        b"GET /registry/v1/tools/size-class HTTP/1.1\r\nHost: t\r\nOrigin: "
        + PORTAL.encode()
        + b"\t\r\nConnection: close\r\n\r\n"
    )
    r = raw_request(portal_gateway.url, request)
    assert r.headers["access-control-allow-origin"] == PORTAL


async def test_dev_allows_the_local_front_end_servers_by_default(gateway_live, http):
    """EAGLET_ENV=dev (the test stack): localhost:5173 and :3000, nothing else."""
    url = gateway_live.url + "/registry/v1/tools/size-class"
    for origin in ("http://localhost:5173", "http://localhost:3000"):
        r = await http.options(url, headers=preflight(origin, "GET"))
        assert r.status_code == 204 and r.headers["access-control-allow-origin"] == origin
    r = await http.options(url, headers=preflight("http://localhost:8080", "GET"))
    assert r.status_code == 403
    no_cors(r)


def test_origins_are_validated():
    from gateway.settings import CorsSettings

    assert CorsSettings(origins=["HTTPS://Portal.Example.cn:8443"]).origins == [
        "https://portal.example.cn:8443"
    ]
    assert CorsSettings().allowed("dev") == {"http://localhost:5173", "http://localhost:3000"}
    assert CorsSettings().allowed("prod") == frozenset()
    assert CorsSettings(origins=[]).allowed("dev") == frozenset()
    for bad in ("*", "https://a.cn/", "https://a.cn/path", "portal.cn", "ftp://a.cn", "https://a.cn\x00", ""):
        with pytest.raises(ValueError):
            CorsSettings(origins=[bad])


async def test_a_browser_flow_reads_the_etag_and_writes_with_if_match(portal_gateway, new_client, http, db):
    from tests.registry_data import add_enterprise

    code = await add_enterprise(db, region_code="330106")
    _, admin = await new_client("admin")
    url = f"{portal_gateway.url}/registry/v1/enterprises/{code}"
    r = await http.options(url, headers=preflight(PORTAL, "PATCH"))
    assert r.status_code == 204
    got = await http.get(url, headers={**bearer(admin), "Origin": PORTAL})
    assert "etag" in _list(got.headers["access-control-expose-headers"])
    changed = await http.patch(
        url,
        json={"address": "杭州市西湖区"},
        headers={**bearer(admin), "Origin": PORTAL, "If-Match": got.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["access-control-allow-origin"] == PORTAL

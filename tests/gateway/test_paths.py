"""Paths at the front door: what a caller sends reaches the service intact, the route policy decides
on the path the service will route on, and a path the gateway will not forward is a problem —
never a 500, never a redirect to an internal address."""

from urllib.parse import quote

from tests.gateway.conftest import bearer
from tests.standards.helpers import ZZB, cert
from tests.support import raw_request

PROBLEM = "application/problem+json"
CODE = "91330000733796106P"
CHINESE_NO = "浙品认字（2023）第0001号"


def get(url: str, path: str, headers: str = "") -> bytes:
    """A GET request line written by hand: clients would tidy these paths before sending them."""
    return f"GET {path} HTTP/1.1\r\nHost: eaglet.test\r\n{headers}Connection: close\r\n\r\n".encode()


async def test_a_standard_number_with_slash_spaces_and_em_dash_opens_through_the_gateway(
    gateway_live, new_client, http
):
    _, admin = await new_client("admin")
    base = gateway_live.url + "/standards/v1/standards"
    r = await http.post(
        base, json={"code": ZZB, "level": "zhejiang_made", "title": "示例标准"}, headers=bearer(admin)
    )
    assert r.status_code == 201, r.text
    # the slash encoded (as docs/standards.md says) or not, with the hyphen a caller might type
    for spelled in (quote(ZZB, safe=""), quote(ZZB), quote("T/ZZB 0001-2023", safe="")):
        r = await http.get(f"{base}/{spelled}", headers=bearer(admin))
        assert r.status_code == 200, (spelled, r.headers.get("content-type"), r.text)
        assert r.json()["code"] == ZZB
    r = await http.patch(f"{base}/{quote(ZZB, safe='')}", json={"status": "withdrawn"}, headers=bearer(admin))
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    r = await http.post(
        f"{base}/{quote(ZZB, safe='')}/drafters",
        json={"credit_code": CODE, "role": "lead"},
        headers=bearer(admin),
    )
    assert r.status_code == 201, r.text
    r = await http.get(base, params={"q": "ZZB 0001—2023"}, headers=bearer(admin))
    assert [s["code"] for s in r.json()["items"]] == [ZZB]


async def test_a_chinese_certificate_number_is_verified_through_the_gateway(gateway_live, new_client, http):
    _, certifier = await new_client("certifier", org="CQC-PATHS")
    r = await http.post(
        gateway_live.url + "/standards/v1/certifications/batch",
        json={"records": [cert(certificate_no=CHINESE_NO)]},
        headers=bearer(certifier),
    )
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "created", r.text
    r = await http.get(gateway_live.url + "/standards/v1/public/certifications/" + quote(CHINESE_NO))
    assert r.status_code == 200, r.text
    assert [item["certificate_no"] for item in r.json()["items"]] == [CHINESE_NO]
    r = await http.get(
        gateway_live.url + f"/standards/v1/certifications/{quote(CHINESE_NO)}/history",
        headers=bearer(certifier),
    )
    assert r.status_code == 200, r.text


async def test_a_credit_code_pasted_with_spaces_reaches_the_service(gateway_live, new_client, http):
    pasted = quote(f" {CODE} ")
    r = await http.get(gateway_live.url + f"/registry/v1/tools/credit-code/{pasted}")
    assert r.status_code == 200, r.text
    assert r.json()["valid"] is True and r.json()["normalized"] == CODE
    _, admin = await new_client("admin")
    r = await http.get(
        gateway_live.url + f"/standards/v1/enterprises/{pasted}/standards", headers=bearer(admin)
    )
    assert r.status_code == 200, r.text
    assert r.json()["items"] == []


async def test_dot_segments_cannot_walk_from_a_public_route_to_another(gateway_live, http):
    # Each would be checked as the public verification route and, resolved later, reach /v1/whoami.
    for path in (
        "/standards/v1/public/certifications/..%2F..%2Fwhoami",
        "/standards/v1/public/certifications/%2E%2E/%2e%2e/whoami",
        "/standards/v1/public/certifications/x/../../../v1/whoami",
        "/standards/v1/public/certifications/x/./../../whoami",
    ):
        r = raw_request(gateway_live.url, get(gateway_live.url, path))
        assert r.status == 400, (path, r.status, r.body)
        assert r.headers["content-type"] == PROBLEM and r.json()["code"] == "invalid_path", path
        assert r.json()["errors"][0]["pointer"] == "#/path"


async def test_control_characters_in_a_path_reach_the_services_rule_never_a_500(
    gateway_live, new_client, http
):
    _, admin = await new_client("admin")
    for char in ("%00", "%01", "%1B", "%1F", "%7F"):
        # in a parameter: forwarded as sent, and refused by the service with the parameter's pointer
        for path, pointer in (
            (f"/standards/v1/public/certifications/ZJM{char}1", "#/path/certificate_no"),
            (f"/registry/v1/enterprises/{CODE}{char}0", "#/path/credit_code"),
        ):
            r = await http.get(gateway_live.url + path, headers=bearer(admin))
            assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (path, r.text)
            assert [e["pointer"] for e in r.json()["errors"]] == [pointer], path
    for char in ("%00", "%01", "%09", "%0A", "%0D", "%1B", "%1F", "%7F"):
        # anywhere: a 4xx problem
        for path in (
            f"/standards/v1/public/certifications/ZJM{char}1",
            f"/standards/v1/standards/T%2FZZB{char}0001",
            f"/registry/v1/who{char}ami",
            f"/registry/v1/enterprises/{CODE}{char}",
        ):
            r = await http.get(gateway_live.url + path, headers=bearer(admin))
            assert 400 <= r.status_code < 500 and r.headers["content-type"] == PROBLEM, (path, r.status_code)


async def test_a_final_line_feed_is_refused_before_the_policy(gateway_live, http):
    # "$" alone matches before a final line feed: this was the public lookup rule, and standards
    # answered it as the lookup itself
    r = await http.post(gateway_live.url + "/standards/v1/public/certifications/lookup%0A", json={})
    assert r.status_code == 400 and r.json()["code"] == "invalid_path", r.text


async def test_the_gateways_own_paths_follow_the_same_rule(gateway_live, new_client, http):
    _, admin = await new_client("admin")
    for path, status in (
        ("/healthz%0A", 400),
        ("/v1/progress%0A", 400),
        ("/v1/progress%00", 404),
        (f"/v1/enterprises/{CODE}%00/profile", 422),
        ("/v1/%2e%2e/healthz", 400),
        ("/v1/enterprises/%FF/profile", 400),
    ):
        r = await http.get(gateway_live.url + path, headers=bearer(admin))
        assert r.status_code == status and r.headers["content-type"] == PROBLEM, (path, r.status_code)


async def test_a_path_that_is_not_utf8_is_a_400_problem(gateway_live, http):
    r = await http.get(gateway_live.url + "/standards/v1/public/certifications/ZJM%FF%FE")
    assert r.status_code == 400 and r.json()["code"] == "invalid_path"


async def test_a_trailing_slash_is_a_problem_not_a_redirect(gateway_live, new_client, http):
    _, admin = await new_client("admin")
    for path in (
        "/registry/v1/enterprises/",
        "/standards/v1/standards/",
        "/finance/v1/loans/",
        "/v1/progress/",
        "/registry/v1/enterprises%0A/",
    ):
        r = await http.get(gateway_live.url + path, headers=bearer(admin))
        # 404 (no such route), 422 (/v1/standards/{code:path} with an empty number), 400 (%0A)
        assert r.status_code in (400, 404, 422), (path, r.status_code, r.headers)
        assert r.headers["content-type"] == PROBLEM, path
        assert "location" not in r.headers, (path, r.headers["location"])


async def test_the_service_receives_the_checked_path_percent_encoded(edge, new_client, http):
    _, admin = await new_client("admin")
    gw = edge["gateway"].url
    for sent, arrived in (
        # encoded slashes are slashes, as the service's own decoding makes them; the rest stays encoded
        ("/registry/v1/standards/T%2FZZB%200001%E2%80%942023", "/v1/standards/T/ZZB%200001%E2%80%942023"),
        ("/registry/v1/standards/T/ZZB%200001—2023", "/v1/standards/T/ZZB%200001%E2%80%942023"),
        ("/registry/v1/certifications/" + quote(CHINESE_NO), "/v1/certifications/" + quote(CHINESE_NO)),
        (f"/registry/v1/tools/credit-code/%20{CODE}%20", f"/v1/tools/credit-code/%20{CODE}%20"),
        ("/registry/v1/%65nterprises/%7e%41", "/v1/enterprises/~A"),  # unreserved characters decoded
        ("/registry/v1/enterprises?q=T%2FZZB%200001&limit=5", "/v1/enterprises?q=T%2FZZB%200001&limit=5"),
    ):
        r = await http.get(gw + sent, headers=bearer(admin))
        assert r.status_code == 200, (sent, r.text)
        assert r.json()["target"] == arrived, sent


async def test_a_redirect_never_names_an_internal_address(edge, live_services, new_client, http):
    _, admin = await new_client("admin")
    gw, stub, finance = edge["gateway"].url, edge["stub"].url, live_services["finance"].url
    for location, passed_on in (
        (f"{stub}/v1/target?x=1", "/registry/v1/target?x=1"),  # the answering service's address
        ("/v1/target", "/registry/v1/target"),  # a path on the answering service
        (f"{finance}/v1/whoami", "/finance/v1/whoami"),  # another service's address
        ("https://example.org/elsewhere", "https://example.org/elsewhere"),  # not ours: as it is
    ):
        r = await http.get(gw + "/registry/v1/redirect", params={"to": location}, headers=bearer(admin))
        assert r.status_code == 307, r.text
        assert r.headers["location"] == passed_on, location


async def test_every_demo_standard_opens_through_the_gateway(gateway_live, new_client, http, db):
    from services.registry.seed import seed_demo as seed_registry
    from services.standards.seed import seed_demo as seed_standards

    async with db.transaction():
        await seed_registry(db)
        await seed_standards(db)
    codes = [r["code"] for r in await db.fetch("SELECT code FROM standards.standards ORDER BY code")]
    assert len(codes) > 100 and sum(" " in c for c in codes) > 100
    _, admin = await new_client("admin")
    failed = []
    for code in codes:
        r = await http.get(
            gateway_live.url + "/standards/v1/standards/" + quote(code, safe=""), headers=bearer(admin)
        )
        if r.status_code != 200 or r.json()["code"] != code:
            failed.append((code, r.status_code))
    assert failed == [], f"{len(failed)} of {len(codes)} do not open: {failed[:5]}"

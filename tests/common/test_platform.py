"""The shared kit as every service exposes it: health, problems, request ids, principals, limits."""

import pytest

from services.common.auth import PRINCIPAL_HEADER, Principal, mint_principal

pytestmark = pytest.mark.parametrize("service", ["registry", "finance", "standards"])


async def test_healthz_and_readyz_answer_200(client_for, service):
    c = client_for(service)
    assert (await c.get("/healthz")).json() == {"status": "ok"}
    assert (await c.get("/readyz")).json() == {"status": "ready"}


async def test_unknown_route_is_a_problem_with_the_request_id(client_for, service):
    r = await client_for(service).get("/nope", headers={"X-Request-ID": "req-abc-123"})
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["x-request-id"] == "req-abc-123"
    body = r.json()
    assert body["status"] == 404 and body["code"] == "not_found" and body["request_id"] == "req-abc-123"
    assert body["type"].endswith("/not_found") and body["title"] == "Not Found"


async def test_request_id_is_generated_when_absent(client_for, service):
    r = await client_for(service).get("/healthz")
    assert len(r.headers["x-request-id"]) >= 16


async def test_wrong_method_is_a_405_problem(client_for, service):
    r = await client_for(service).delete("/healthz")
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"


async def test_principal_routes_need_a_signed_principal(client_for, as_, service):
    c = client_for(service)
    r = await c.get("/v1/whoami")
    assert r.status_code == 401 and r.json()["code"] == "principal_missing"
    r = await c.get("/v1/whoami", headers={PRINCIPAL_HEADER: "not-a-jwt"})
    assert r.status_code == 401 and r.json()["code"] == "principal_invalid"
    r = await c.get("/v1/whoami", headers=as_("official", region="330106"))
    assert r.status_code == 200
    assert r.json()["kind"] == "official" and r.json()["region"] == "330106"


async def test_expired_or_forged_principals_are_refused(client_for, service, settings_forged):
    c = client_for(service)
    expired = mint_principal(Principal(sub="x", kind="admin"), ttl_s=-60)
    r = await c.get("/v1/whoami", headers={PRINCIPAL_HEADER: expired})
    assert r.status_code == 401 and r.json()["code"] == "principal_expired"
    forged = mint_principal(Principal(sub="x", kind="admin"), settings=settings_forged)
    r = await c.get("/v1/whoami", headers={PRINCIPAL_HEADER: forged})
    assert r.status_code == 401 and r.json()["code"] == "principal_invalid"


async def test_oversized_bodies_get_413(client_for, as_, service, apps):
    limit = apps[service].state.settings.max_body_bytes
    r = await client_for(service).post(
        "/v1/whoami", content=b"x" * (limit + 1), headers={**as_(), "content-type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"


async def test_metrics_count_requests_by_route_template(client_for, service):
    c = client_for(service)
    await c.get("/healthz")
    text = (await c.get("/metrics")).text
    assert (
        f'eaglet_http_requests_total{{method="GET",route="/healthz",service="{service}",status="200"}}'
        in text
    )


async def test_operation_ids_are_unique_and_stable(apps, service):
    spec = apps[service].openapi()
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert "healthz" in ids and "readyz" in ids


async def test_a_body_that_is_not_text_is_a_documented_400_problem(client_for, as_, service, apps):
    spec = apps[service].openapi()
    with_body = [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if "requestBody" in op
    ]
    assert with_body
    for path, method, op in with_body:  # and every body can be too large
        assert {"400", "413"} <= set(op["responses"]), (method, path)
    path = next(p for p, m, _ in with_body if m == "post" and "{" not in p)
    r = await client_for(service).post(
        path, content=b'{"name": "\xff\xfe"}', headers={**as_(), "content-type": "application/json"}
    )
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "bad_request"

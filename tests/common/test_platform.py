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


async def test_a_trailing_slash_is_a_404_problem_never_a_redirect(client_for, as_, service):
    r = await client_for(service).get("/v1/whoami/", headers=as_("admin"))
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert "location" not in r.headers


async def test_a_path_that_names_nothing_is_a_400_problem(client_for, as_, service):
    # Starlette's route patterns end in "$", which also matches before a final line feed:
    # /healthz%0A was answered as /healthz
    for path in (
        "/healthz%0A",
        "/v1/whoami%0D%0A",
        "/v1/%2E%2E/v1/whoami",
        "/v1/x/%2e/whoami",
        "/v1/whoami%FF",
    ):
        r = await client_for(service).get(path, headers=as_("admin"))
        assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json", path
        problem = r.json()
        assert problem["code"] == "invalid_path" and problem["errors"][0]["pointer"] == "#/path"
        assert problem["request_id"] == r.headers["x-request-id"]


async def test_a_control_character_in_a_fixed_part_of_a_path_matches_no_route(client_for, as_, service):
    for path in ("/v1/whoami%00", "/v1/who%0Aami", "/v1/whoami%0D"):
        r = await client_for(service).get(path, headers=as_("admin"))
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", path


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


async def test_a_principal_with_a_blank_region_is_refused_by_every_service(client_for, as_, service):
    c = client_for(service)
    for region in (" ", "%", "339999"):
        r = await c.get("/v1/whoami", headers=as_("official", region=region))
        assert r.status_code == 401 and r.json()["code"] == "principal_invalid", (region, r.text)


async def test_operations_with_path_parameters_document_the_invalid_path_problem(apps, service):
    spec = apps[service].openapi()
    with_params = [
        (path, op)
        for path, item in spec["paths"].items()
        for op in item.values()
        if any(p["in"] == "path" for p in op.get("parameters", ()))
    ]
    assert with_params
    for path, op in with_params:
        content = op["responses"].get("400", {}).get("content", {})
        assert "application/problem+json" in content, path


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

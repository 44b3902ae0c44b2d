"""The merged OpenAPI, and the route policy table and progress status rules as data."""

from datetime import date
from decimal import Decimal

from gateway import policy
from gateway.progress.service import status_of
from services.common.targets import ProgrammeTarget


async def test_merged_openapi_holds_every_services_operations(gateway_live, http):
    spec = (await http.get(gateway_live.url + "/openapi.json")).json()
    ops = [
        op
        for item in spec["paths"].values()
        for m, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    ]
    ids = [op["operationId"] for op in ops]
    assert len(ids) == len(set(ids))
    for service in ("registry", "finance", "standards"):
        assert f"{service}_whoami" in ids
        assert any(p.startswith(f"/{service}/v1/") for p in spec["paths"])
    assert (
        "/finance/v1/loans/batch" in spec["paths"] and "/standards/v1/certifications/batch" in spec["paths"]
    )
    assert "enterprise_profile" in ids and "progress" in ids and "create_client" in ids
    schemes = spec["components"]["securitySchemes"]
    assert "bearerAuth" in schemes and "EagletPrincipal" not in schemes
    assert "X-Eaglet-Principal" not in str(spec["paths"])
    verify = spec["paths"]["/standards/v1/public/certifications/{certificate_no}"]["get"]
    assert verify["security"] == []  # public
    assert spec["paths"]["/finance/v1/loans/batch"]["post"]["security"] == [{"bearerAuth": []}]
    # every $ref resolves
    refs = set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref":
                    refs.add(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    assert refs and all(r.startswith("#/components/") for r in refs)
    for ref in refs:  # schemas, and the headers defined once (components.headers)
        _, _, kind, name = ref.split("/")
        assert name in spec["components"][kind], ref


async def test_every_proxied_operation_documents_the_gateways_own_refusals(gateway_live, http):
    """Public routes too: a credential sent to one is checked (401 when bad) and every route is
    rate-limited (per caller, or per IP without a credential)."""
    spec = (await http.get(gateway_live.url + "/openapi.json")).json()
    for path, item in spec["paths"].items():
        if not path.startswith(("/registry/", "/finance/", "/standards/")):
            continue
        for method, op in item.items():
            statuses = set(op["responses"])
            assert {"401", "429", "502", "503", "504"} <= statuses, (method, path)
            assert op["security"] == [] or "403" in statuses, (method, path)
    public = "/standards/v1/public/certifications/{certificate_no}"
    r = await http.get(
        gateway_live.url + public.replace("{certificate_no}", "ZJM-C-1"),
        headers={"Authorization": "Bearer egk_not_a_key"},
    )
    assert r.status_code == 401 and "401" in spec["paths"][public]["get"]["responses"]


def test_every_gateway_route_and_service_route_has_a_policy(gateway_live):
    import httpx

    spec = httpx.get(gateway_live.url + "/openapi.json").json()
    for path, item in spec["paths"].items():
        service, _, rest = path[1:].partition("/")
        if service == "v1":
            service, rest = "gateway", path
        elif service not in ("registry", "finance", "standards"):
            continue  # /healthz, /readyz, /metrics
        for method in item:
            assert policy.match(
                service, method.upper(), "/" + rest.lstrip("/") if service != "gateway" else rest
            ), (
                method,
                path,
            )


def test_policy_table_examples():
    assert policy.match("finance", "GET", "/v1/loans/export").allow == frozenset(
        {"bank", "official", "admin"}
    )
    assert policy.match("finance", "HEAD", "/v1/credit-lines/export").allow == frozenset(
        {"bank", "official", "admin"}
    )
    assert policy.match("finance", "GET", "/v1/guarantees/export").allow == frozenset(
        {"guarantor", "bank", "official", "admin"}
    )
    assert policy.match("standards", "GET", "/v1/certifications/export").allow == frozenset(
        {"certifier", "official", "admin"}
    )
    assert policy.denial(policy.match("finance", "GET", "/v1/loans/export"), "guarantor", (), "GET")
    assert policy.match("finance", "GET", "/v1/loans/L-1").allow == policy.ANY_KIND  # a loan is not an export
    assert policy.match("standards", "POST", "/v1/certifications/batch").allow == frozenset({"certifier"})
    assert policy.match("finance", "POST", "/v1/loans/batch").allow == frozenset({"bank"})
    assert policy.match("finance", "POST", "/v1/guarantees/batch").allow == frozenset({"guarantor"})
    assert policy.match("registry", "POST", "/v1/enterprises/batch").allow == frozenset({"official", "admin"})
    assert policy.match("registry", "GET", "/v1/tools/credit-code/91330000733796106P").public
    assert policy.denial(policy.match("registry", "GET", "/v1/enterprises"), "bank", ("finance:read",), "GET")
    assert (
        policy.denial(policy.match("registry", "GET", "/v1/enterprises"), "bank", ("openid",), "GET") is None
    )


def _target(unit="enterprises", start=date(2022, 1, 1), end=date(2022, 12, 31)):
    return ProgrammeTarget(
        programme="p",
        programme_name="p",
        year=2022,
        region_code="330000",
        key="k",
        position=1,
        name_zh="k",
        value=Decimal(1000),
        unit=unit,
        owner_service="registry",
        window_start=start,
        window_end=end,
        note=None,
        data_version="1",
    )


def test_progress_status_compares_with_the_share_of_the_period_elapsed():
    mid = date(2022, 7, 2)  # 183 of 365 days ≈ 50.14 %
    assert status_of(_target(), Decimal(1000), mid)[0] == "met"
    assert status_of(_target(), Decimal(600), mid)[:2] == ("on_track", Decimal("60.00"))
    assert status_of(_target(), Decimal(400), mid)[0] == "behind"
    assert status_of(_target(), Decimal(999), date(2023, 1, 5))[0] == "behind"  # period over
    assert status_of(_target(unit="percent"), Decimal(65), mid)[0] == "behind"  # a level, not a sum
    assert status_of(_target(), None, mid)[0] == "not_tracked"

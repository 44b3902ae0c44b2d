"""The merged OpenAPI as a contract generated clients can rely on (docs/contracts.md, "The OpenAPI
contract"): typed batch bodies, the headers of the kit and the gateway, one problem shape, unique
schema names and titles, aggregates typed with the services' schemas."""

from __future__ import annotations

import re
from collections import Counter

from pydantic import BaseModel

from services.common.credit_code import PATTERN, VALUE
from services.finance.applications.schemas import ApplicationBatchRequest, ApplicationIn
from services.finance.book.schemas import LoanBookReportBatchRequest, LoanBookReportIn
from services.finance.guarantees.schemas import GuaranteeBatchRequest, GuaranteeIn
from services.finance.lines.schemas import CreditLineBatchRequest, CreditLineIn
from services.finance.loans.schemas import LoanBatchRequest, LoanIn
from services.registry.enterprises.schemas import EnterpriseBatchRequest, EnterpriseCreate
from services.standards.certifications.schemas import CertificateBatchRequest, CertificateRecord

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
SERVICES = ("registry", "finance", "standards")
PROBLEM = "#/components/schemas/ProblemDetail"
REF = "#/components/schemas/"
# Every batch route: its merged path, body schema and record schema, and the models behind them.
BATCHES = {
    "/registry/v1/enterprises/batch": (
        "registry_EnterpriseBatchRequest",
        "registry_EnterpriseCreate",
        EnterpriseBatchRequest,
        EnterpriseCreate,
    ),
    "/finance/v1/loans/batch": ("finance_LoanBatchRequest", "finance_LoanIn", LoanBatchRequest, LoanIn),
    "/finance/v1/credit-lines/batch": (
        "finance_CreditLineBatchRequest",
        "finance_CreditLineIn",
        CreditLineBatchRequest,
        CreditLineIn,
    ),
    "/finance/v1/applications/batch": (
        "finance_ApplicationBatchRequest",
        "finance_ApplicationIn",
        ApplicationBatchRequest,
        ApplicationIn,
    ),
    "/finance/v1/loan-book-reports/batch": (
        "finance_LoanBookReportBatchRequest",
        "finance_LoanBookReportIn",
        LoanBookReportBatchRequest,
        LoanBookReportIn,
    ),
    "/finance/v1/guarantees/batch": (
        "finance_GuaranteeBatchRequest",
        "finance_GuaranteeIn",
        GuaranteeBatchRequest,
        GuaranteeIn,
    ),
    "/standards/v1/certifications/batch": (
        "standards_CertificateBatchRequest",
        "standards_CertificateRecord",
        CertificateBatchRequest,
        CertificateRecord,
    ),
}


def operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def proxied(path: str) -> bool:
    return path.split("/")[1] in SERVICES


def test_every_batch_route_is_in_the_table(merged_openapi):
    batches = {p for p, m, _ in operations(merged_openapi) if m == "post" and p.endswith("/batch")}
    assert batches == set(BATCHES)


def test_batch_bodies_are_typed_with_their_record_models(merged_openapi):
    schemas = merged_openapi["components"]["schemas"]
    for path, (body_name, record_name, body_model, record_model) in BATCHES.items():
        body = merged_openapi["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"] == {"$ref": REF + body_name}, path
        envelope = schemas[body_name]
        records = envelope["properties"]["records"]
        assert records["items"] == {"$ref": REF + record_name}, path
        assert (records["minItems"], records["maxItems"]) == (1, 5000)
        record = schemas[record_name]
        assert record["additionalProperties"] is False, record_name
        assert record["required"], record_name
        # the example is realistic: every record in it is one the service's record model accepts
        [example] = envelope["examples"]
        for r in example["records"]:
            record_model.model_validate(r)
            assert set(r) <= set(record["properties"])
        assert issubclass(body_model, BaseModel)


def test_the_loan_record_schema_holds_the_credit_code_pattern_and_forbids_other_fields(merged_openapi):
    loan = merged_openapi["components"]["schemas"]["finance_LoanIn"]
    code = loan["properties"]["borrower_credit_code"]
    assert code["pattern"] == "^[0-9A-HJ-NPQRTUWXY]{18}$" == PATTERN
    assert (code["minLength"], code["maxLength"]) == (18, 18)
    assert loan["additionalProperties"] is False
    assert {"loan_ref", "borrower_credit_code", "amount", "issued_on", "status"} <= set(loan["required"])
    assert loan["properties"]["status"]["enum"] == ["outstanding", "repaid", "overdue", "written_off"]
    assert loan["properties"]["issued_on"]["format"] == "date"


def test_the_credit_code_pattern_is_the_alphabet_of_the_checksum():
    alphabet = "".join(sorted(VALUE, key=VALUE.get))
    assert {c for c in map(chr, range(128)) if re.fullmatch(r"[0-9A-HJ-NPQRTUWXY]", c)} == set(alphabet)
    assert PATTERN == "^[0-9A-HJ-NPQRTUWXY]{18}$"


def test_every_post_behind_a_credential_declares_idempotency_key(merged_openapi):
    """Every POST behind a credential honours Idempotency-Key (services/common/idempotency.py: keys
    are per caller; the gateway's own POSTs, clients and webhooks, through gateway/idempotency.py)
    and declares it. Not declared where it is not honoured: a public POST (the certificate lookup,
    a read: no caller to key on)."""
    posts = own = 0
    for path, method, op in operations(merged_openapi):
        names = {p["name"].lower() for p in op.get("parameters", ()) if p["in"] == "header"}
        if method == "post" and op["security"]:
            posts += 1
            own += not proxied(path)
            assert "idempotency-key" in names, path
            assert "idempotency_in_flight" in op["responses"]["409"]["x-problem-codes"], path
            assert "Retry-After" in op["responses"]["409"]["headers"], path
        else:
            assert "idempotency-key" not in names, path
    assert posts >= 15 and own >= 8


def test_conditional_headers_where_entity_tags_are_answered(merged_openapi):
    def headers(path, method):
        op = merged_openapi["paths"][path][method]
        return {p["name"] for p in op.get("parameters", ()) if p["in"] == "header"}

    for path in (
        "/registry/v1/enterprises/{credit_code}",
        "/registry/v1/parks/{park_id}",
        "/finance/v1/institutions/{code}",
        "/standards/v1/standards/{code}",
        "/standards/v1/certifications/{certificate_no}",
        "/standards/v1/public/certifications/{certificate_no}",
    ):
        assert "If-None-Match" in headers(path, "get"), path
    for path in (
        "/registry/v1/enterprises/{credit_code}",
        "/registry/v1/parks/{park_id}",
        "/standards/v1/standards/{code}",
    ):
        assert "If-Match" in headers(path, "patch"), path
        assert (
            "precondition_failed"
            in merged_openapi["paths"][path]["patch"]["responses"]["412"]["x-problem-codes"]
        )


def test_limited_routes_declare_429_and_the_rate_limit_headers(merged_openapi):
    for path, method, op in operations(merged_openapi):
        if not (proxied(path) or op.get("security")):
            continue  # the gateway's health and metrics: not limited
        responses = op["responses"]
        assert "rate_limited" in responses["429"]["x-problem-codes"], (method, path)
        assert "Retry-After" in responses["429"]["headers"], (method, path)
        for status, response in responses.items():
            if status != "401":
                assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
                    response.get("headers", {})
                ), (method, path, status)
        if "upstream_unavailable" in responses.get("503", {}).get("x-problem-codes", ()):
            assert "Retry-After" in responses["503"]["headers"], (method, path)


def test_every_error_response_is_a_problem_detail_and_nothing_else(merged_openapi):
    for path, method, op in operations(merged_openapi):
        for status, response in op["responses"].items():
            if int(status) < 400:
                continue
            assert set(response.get("content", {})) == {"application/problem+json"}, (method, path, status)
            media = response["content"]["application/problem+json"]
            assert media["schema"] == {"$ref": PROBLEM}, (method, path, status)
            assert response["x-problem-codes"], (method, path, status)


def test_schema_names_and_titles_are_unique_and_leak_no_module_paths(merged_openapi):
    schemas = merged_openapi["components"]["schemas"]
    assert not [n for n in schemas if "__" in n]
    titles = Counter(s.get("title") for s in schemas.values())
    assert not [t for t, n in titles.items() if n > 1]
    assert all(s.get("title") == name for name, s in schemas.items())
    # the kit's shapes are kept once for all services
    assert {"ProblemDetail", "BatchResponse", "RuleSetOut"} <= set(schemas)
    assert not {"finance_ProblemDetail", "registry_BatchResponse"} & set(schemas)


def test_document_level_contract(merged_openapi):
    assert merged_openapi["servers"] and merged_openapi["info"]["contact"]["name"]
    described = {t["name"]: t.get("description") for t in merged_openapi["tags"]}
    for path, method, op in operations(merged_openapi):
        assert op.get("description") and op.get("summary"), (method, path)
        for tag in op.get("tags", ()):
            assert described.get(tag), (tag, method, path)


def test_the_profile_parts_are_the_services_own_schemas(merged_openapi):
    schemas = merged_openapi["components"]["schemas"]
    profile = schemas["EnterpriseProfile"]["properties"]

    def answer(path: str) -> str:
        schema = merged_openapi["paths"][path]["get"]["responses"]["200"]["content"]["application/json"][
            "schema"
        ]
        return schema["$ref"]

    def nullable_ref(prop) -> str:
        [ref] = [b["$ref"] for b in prop["anyOf"] if "$ref" in b]
        return ref

    assert nullable_ref(profile["enterprise"]) == answer("/registry/v1/enterprises/{credit_code}")
    assert nullable_ref(profile["finance"]) == answer(
        "/finance/v1/enterprises/{credit_code}/financing-summary"
    )
    standards = schemas[profile["standards"]["anyOf"][0]["$ref"][len(REF) :]]["properties"]
    certs = schemas[answer("/standards/v1/certifications")[len(REF) :]]["properties"]["items"]["items"]
    led = schemas[answer("/standards/v1/enterprises/{credit_code}/standards")[len(REF) :]]
    assert standards["certifications"]["items"] == certs
    assert standards["standards"]["items"] == led["properties"]["items"]["items"]
    assert not any(PART in str(s) for s in schemas.values() for PART in ("x-eaglet-part-of",))


def test_merge_keeps_alike_schemas_once_and_prefixes_the_rest():
    """Unit: a schema alike in every document that has it (and whose references are alike too) is
    kept once; one that differs anywhere is prefixed in each service; a part whose service is
    missing stays untyped, and its marker does not leak."""
    from gateway.openapi import merge
    from gateway.profile.schemas import PART_OF

    def doc(schemas, paths=None):
        return {
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "paths": paths or {},
            "components": {"schemas": schemas},
        }

    problem = {"type": "object", "properties": {"code": {"type": "string"}}}
    wrapper = {"type": "object", "properties": {"p": {"$ref": REF + "Problem"}}}
    target_a = {"type": "object", "properties": {"a": {"type": "integer"}}}
    target_b = {"type": "object", "properties": {"b": {"type": "integer"}}}
    uses = {"$ref": REF + "Wrapper"}

    def get(ref, op):
        return {
            "/v1/x": {
                "get": {
                    "operationId": op,
                    "responses": {"200": {"content": {"application/json": {"schema": {"$ref": REF + ref}}}}},
                }
            }
        }

    own = doc(
        {
            "Problem": problem,
            "Profile": {
                "type": "object",
                "properties": {
                    "reg": {
                        "anyOf": [{"type": "object"}, {"type": "null"}],
                        PART_OF: {"service": "registry", "operationId": "get_x"},
                    },
                    "fin": {"type": "object", PART_OF: {"service": "finance", "operationId": "get_x"}},
                },
            },
        },
        {
            "/v1/profile": {
                "get": {
                    "responses": {
                        "200": {"content": {"application/json": {"schema": {"$ref": REF + "Profile"}}}}
                    }
                }
            }
        },
    )
    registry = doc(
        {"Problem": problem, "Wrapper": wrapper, "Target": target_a, "Body": uses},
        {**get("Target", "get_x"), "/v1/b": get("Body", "get_b")["/v1/x"]},
    )
    standards = doc({"Problem": problem, "Wrapper": wrapper, "Target": target_b}, get("Target", "get_y"))
    merged = merge(own, {"registry": registry, "finance": None, "standards": standards})
    schemas = merged["components"]["schemas"]
    assert set(schemas) == {
        "Problem",
        "Wrapper",
        "registry_Target",
        "registry_Body",
        "standards_Target",
        "Profile",
    }
    assert "registry_Problem" not in schemas and "standards_Wrapper" not in schemas
    assert all(s["title"] == name for name, s in schemas.items())
    profile = schemas["Profile"]["properties"]
    assert profile["reg"]["anyOf"] == [{"$ref": REF + "registry_Target"}, {"type": "null"}]
    assert profile["fin"] == {"type": "object"}  # finance missing: untyped, no marker left
    assert merged["info"]["x-eaglet-missing-services"] == ["finance"]

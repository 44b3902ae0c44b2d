"""Where one home for each problem showed two answers to one situation: which answer each route
gives, pinned (behaviour unchanged; see services.common.errors and the domains' errors.py)."""

from __future__ import annotations

from services.common.credit_code import make_credit_code
from tests.finance.helpers import loan
from tests.registry_data import add_enterprise
from tests.standards.helpers import add_standard, cert, push

BAD_CODE = make_credit_code("91330106MA2B3C4D5")[:-1] + "0"  # a wrong check character


async def test_a_number_several_bodies_hold_is_one_problem_with_one_field_code(client_for, as_):
    """`ambiguous_certificate_no` was built twice (the public check's field code `choose_one`, one
    error per body; the certificate read's `required` at ?certifier=). The public check now
    answers every holder; the read's problem is the one definition."""
    c = client_for("standards")
    await push(c, as_("certifier", org="BODY-A"), [cert(certificate_no="DUP")])
    await push(c, as_("certifier", org="BODY-B"), [cert(certificate_no="DUP")])
    r = await c.get("/v1/certifications/DUP/history", headers=as_())
    body = r.json()
    assert r.status_code == 409 and body["code"] == "ambiguous_certificate_no"
    assert body["title"] == "Conflict"
    assert body["detail"] == "certificate DUP exists at several bodies (BODY-A, BODY-B); pass ?certifier="
    assert body["errors"] == [
        {"pointer": "#/query/certifier", "code": "required", "message": "one of: BODY-A, BODY-B"}
    ]
    r = await c.get("/v1/public/certifications/DUP")
    assert r.status_code == 200 and len(r.json()["items"]) == 2


async def test_a_bad_credit_code_in_the_path_is_the_checks_code_only_in_the_registry(client_for, as_):
    """The registry reads a path credit code through its own check (the problem's code is the
    check's: `credit_code_check`); the other services through the kit's `CreditCode` type
    (`validation_failed`, the check's message at the same pointer). Both kept."""
    r = await client_for("registry").get(f"/v1/enterprises/{BAD_CODE}", headers=as_())
    assert r.status_code == 422 and r.json()["code"] == "credit_code_check"
    assert r.json()["errors"][0]["pointer"] == "#/path/credit_code"
    r = await client_for("finance").get(f"/v1/enterprises/{BAD_CODE}/financing-summary", headers=as_())
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    assert r.json()["errors"][0]["pointer"] == "#/path/credit_code"


async def test_a_writer_without_its_org_code_is_refused_with_each_services_code(client_for, as_):
    """A bank posting loans without an org is `no_institution`; a certifier pushing certificates
    without one is `forbidden`. Both 403, both kept."""
    r = await client_for("finance").post("/v1/loans/batch", json={"records": [loan()]}, headers=as_("bank"))
    assert r.status_code == 403 and r.json()["code"] == "no_institution"
    r = await client_for("standards").post(
        "/v1/certifications/batch", json={"records": [cert()]}, headers=as_("certifier")
    )
    assert r.status_code == 403 and r.json()["code"] == "forbidden"


async def test_a_required_field_cleared_is_one_problem_worded_per_service(client_for, as_, db):
    """`required`: the registry says a field "cannot be cleared", standards "cannot be null"."""
    code = await add_enterprise(db)
    r = await client_for("registry").patch(f"/v1/enterprises/{code}", json={"name": None}, headers=as_())
    assert r.status_code == 422 and r.json()["code"] == "required"
    assert r.json()["errors"] == [
        {"pointer": "/name", "code": "required", "message": "name cannot be cleared"}
    ]
    c = client_for("standards")
    standard = await add_standard(c, as_())
    r = await c.patch(f"/v1/standards/{standard['code']}", json={"title": None}, headers=as_())
    assert r.status_code == 422 and r.json()["code"] == "required"
    assert r.json()["errors"] == [
        {"pointer": "/title", "code": "required", "message": "title cannot be null"}
    ]

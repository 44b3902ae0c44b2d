"""The submission kit across its six kinds: each service's `/v1/submissions?kind=` takes a CSV of
its batch's records, the worker runs each chunk through that kind's own batch ingest, a bad line
is reported by line, rule and pointer while the good ones are stored; a submission is its
owner's (another's is a 404) and only the kinds the batch takes may submit (403)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import pytest

from services.common.settings import get_settings
from services.finance import submissions as finance
from services.registry import submissions as registry
from services.standards import submissions as standards
from tests.finance.helpers import application, guarantee, line, loan
from tests.registry_data import new_credit_code
from tests.standards.helpers import add_standard, cert

SERVICES = {"finance": finance, "standards": standards, "registry": registry}


def csv_of(fields: list[str], records: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\r\n")
    writer.writeheader()
    for r in records:
        writer.writerow({k: ("true" if v is True else "false" if v is False else v) for k, v in r.items()})
    return "\ufeff".encode() + out.getvalue().encode()


async def submit(c, headers, kind: str, body: bytes, **params):
    return await c.post(
        "/v1/submissions",
        content=body,
        headers={**headers, "content-type": "text/csv"},
        params={"kind": kind, **params},
    )


def worker_settings():
    """The worker's own settings (its database role: the grants each kind's batch needs)."""
    return get_settings().for_process("worker")


async def run(service: str, submission_id: int) -> None:
    await SERVICES[service].process(worker_settings(), submission_id)


@dataclass(frozen=True)
class Case:
    service: str
    kind: str
    caller: dict[str, Any]  # as_(**caller)
    other: dict[str, Any]  # another owner of the same kind
    records: Any  # () -> three records; the second is bad
    bad: tuple[str, str]  # the second record's rule and field
    table: str  # where good lines are stored
    key: str  # the stored key column (= the batch's key field)


BORROWER = new_credit_code("330106")
CASES = [
    Case("finance", "loans", {"kind": "bank", "org": "KB01"}, {"kind": "bank", "org": "KB02"},
         lambda: [loan(), loan(annual_rate="37"), loan()], ("FIN-V006", "annual_rate"),
         "finance.loans", "loan_ref"),
    Case("finance", "credit_lines", {"kind": "bank", "org": "KB01"}, {"kind": "bank", "org": "KB02"},
         lambda: [line(BORROWER), line(BORROWER, status="nonsense"), line(BORROWER)], ("FIN-V003", "status"),
         "finance.credit_lines", "line_ref"),
    Case("finance", "applications", {"kind": "bank", "org": "KB01"}, {"kind": "bank", "org": "KB02"},
         lambda: [application(BORROWER), application(BORROWER, decision="maybe"), application(BORROWER)],
         ("FIN-V003", "decision"), "finance.loan_applications", "application_ref"),
    Case("finance", "guarantees", {"kind": "guarantor", "org": "KG01"}, {"kind": "guarantor", "org": "KG02"},
         lambda: [guarantee(BORROWER), guarantee(BORROWER, status="nonsense"), guarantee(BORROWER)],
         ("FIN-V003", "status"), "finance.guarantees", "guarantee_ref"),
    Case("standards", "certifications", {"kind": "certifier", "org": "KC01"},
         {"kind": "certifier", "org": "KC02"},
         lambda: [cert(), cert(expires_on="2000-01-01"), cert()], ("STD-V007", "expires_on"),
         "standards.certificates", "certificate_no"),
    Case("registry", "enterprises", {"kind": "official", "region": "330100", "sub": "official:k1"},
         {"kind": "official", "region": "330100", "sub": "official:k2"},
         lambda: [enterprise(), enterprise(region_code="330212"), enterprise()], ("REG-E006", "region_code"),
         "registry.enterprises", "credit_code"),
]  # fmt: skip
IDS = [c.kind for c in CASES]


def enterprise(**over) -> dict[str, Any]:
    r = {
        "credit_code": new_credit_code(over.get("region_code", "330106")),
        "name": "杭州雏鹰精密机械有限公司",
        "region_code": "330106",
        "industry_code": "3484",
        "established_on": "2012-05-01",
        "registered_capital": "5000000",
    }
    r.update(over)
    return r


@pytest.fixture
async def arranged(client_for, as_):
    """What every kind's batch needs to exist first (the standard certificates cite)."""
    await add_standard(client_for("standards"), as_())


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_a_file_of_each_kind_stores_its_good_lines_and_reports_the_bad_by_line_rule_and_pointer(
    case, arranged, client_for, as_, db
):
    c, who = client_for(case.service), as_(**case.caller)
    kind = SERVICES[case.service].SUBMISSIONS.kind(case.kind)
    records = case.records()
    r = await submit(c, who, case.kind, csv_of(kind.fields, records))
    assert r.status_code == 202, r.text
    sub = r.json()
    assert sub["kind"] == case.kind and sub["status"] == "received"
    assert sub["links"]["self"] == f"/{case.service}/v1/submissions/{sub['id']}"
    assert sub["rule_set_version"] == kind.rule_set.version
    queued = await db.fetchval(
        "SELECT count(*) FROM jobs.procrastinate_jobs WHERE task_name = $1 AND args->>'submission_id' = $2",
        f"{case.service}.submissions:submission",
        str(sub["id"]),
    )
    assert queued == 1

    await run(case.service, sub["id"])

    done = (await c.get(f"/v1/submissions/{sub['id']}", headers=who)).json()
    assert done["status"] == "completed_with_errors", done
    assert done["rows_total"] == done["rows_done"] == 3
    assert done["counts"]["rejected"] == 1 and done["counts"]["created"] == 2
    stored = {r[0] for r in await db.fetch(f"SELECT {case.key} FROM {case.table}")}
    assert {records[0][case.key], records[2][case.key]} <= stored
    assert records[1][case.key] not in stored
    found = (await c.get(f"/v1/submissions/{sub['id']}/findings", headers=who)).json()["items"]
    errors = [(f["line"], f["rule"], f["pointer"]) for f in found if f["severity"] == "error"]
    rule, field = case.bad
    assert errors == [(3, rule, f"/lines/3/{field}")]  # the header is line 1, the bad record line 3


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_another_owners_submission_is_a_404_and_admin_reads_it(case, client_for, as_):
    c = client_for(case.service)
    kind = SERVICES[case.service].SUBMISSIONS.kind(case.kind)
    sub = (await submit(c, as_(**case.caller), case.kind, csv_of(kind.fields, case.records()[:1]))).json()
    for tail in ("", "/findings", "/report.csv"):
        r = await c.get(f"/v1/submissions/{sub['id']}{tail}", headers=as_(**case.other))
        assert r.status_code == 404 and r.json()["code"] == "not_found", (tail, r.text)
    r = await c.post(f"/v1/submissions/{sub['id']}/retry", headers=as_(**case.other))
    assert r.status_code == 404
    assert (await c.get(f"/v1/submissions/{sub['id']}", headers=as_())).status_code == 200


WRONG_CALLERS = [
    ("finance", "loans", {"kind": "guarantor", "org": "KG01"}),
    ("finance", "guarantees", {"kind": "bank", "org": "KB01"}),
    ("finance", "loans", {"kind": "certifier", "org": "KC01"}),
    ("finance", "loans", {"kind": "admin"}),
    ("standards", "certifications", {"kind": "bank", "org": "KB01"}),
    ("standards", "certifications", {"kind": "official", "region": "330100"}),
    ("registry", "enterprises", {"kind": "bank", "org": "KB01"}),
    ("registry", "enterprises", {"kind": "certifier", "org": "KC01"}),
]


@pytest.mark.parametrize(("service", "kind", "caller"), WRONG_CALLERS)
async def test_a_caller_the_kinds_batch_does_not_take_is_a_403_and_nothing_is_kept(
    service, kind, caller, client_for, as_, db
):
    c = client_for(service)
    r = await submit(c, as_(**caller), kind, b"x\r\n1\r\n")
    assert r.status_code == 403, r.text
    assert await db.fetchval(f"SELECT count(*) FROM {service}.submissions") == 0


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_each_kinds_template_is_its_batch_fields_with_its_documented_sample(case, client_for, as_):
    c = client_for(case.service)
    r = await c.get("/v1/submissions/template", params={"kind": case.kind}, headers=as_(**case.caller))
    assert r.status_code == 200, r.text
    header, sample = list(csv.reader(io.StringIO(r.content.decode("utf-8"))))
    kind = SERVICES[case.service].SUBMISSIONS.kind(case.kind)
    assert header == kind.fields and sample[0] == str(kind.sample[kind.fields[0]])


async def test_an_unknown_kind_is_a_422_naming_the_service_kinds(client_for, as_):
    r = await submit(client_for("standards"), as_("certifier", org="KC01"), "loans", b"x\r\n")
    assert r.status_code == 422 and "certifications" in r.text


async def completed_events(c, headers) -> list[dict]:
    r = await c.get("/v1/events", params={"types": "submission.completed", "limit": 500}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_the_end_of_a_submission_is_an_event_its_owner_sees_and_no_one_else(
    case, arranged, client_for, as_
):
    c, who = client_for(case.service), as_(**case.caller)
    kind = SERVICES[case.service].SUBMISSIONS.kind(case.kind)
    sub = (await submit(c, who, case.kind, csv_of(kind.fields, case.records()))).json()
    assert await completed_events(c, who) == []  # not ended yet
    await run(case.service, sub["id"])

    (event,) = await completed_events(c, who)
    assert event["type"] == "submission.completed"
    assert event["subject"] == {"type": "submission", "key": str(sub["id"])}
    self = f"/{case.service}/v1/submissions/{sub['id']}"
    assert event["links"] == {"self": self}
    assert event["data"] == {
        "id": sub["id"],
        "kind": case.kind,
        "status": "completed_with_errors",
        "counts": {"created": 2, "updated": 0, "unchanged": 0, "rejected": 1},
        "rows_total": 3,
        "links": {
            "self": self,
            "findings": f"{self}/findings",
            "report": f"{self}/report.csv",
            "retry": f"{self}/retry",
        },
    }
    assert await completed_events(c, as_(**case.other)) == []
    assert [e["id"] for e in await completed_events(c, as_())] == [event["id"]]  # admin
    await run(case.service, sub["id"])  # an ended submission: no second event
    assert len(await completed_events(c, who)) == 1

"""Certification bodies push certificate decisions in batches: per-record results with stable rule
ids, the lifecycle across stored state and within a batch, atomic mode, idempotent retries."""

import asyncio
import json
from datetime import timedelta

import pytest

from tests.standards.helpers import Y, add_standard, cert, push, today_shanghai


@pytest.fixture
def c(client_for):
    return client_for("standards")


@pytest.fixture
def body_a(as_):
    return as_("certifier", org="CQM")


async def _rules_of(result):
    return {f["rule"] for f in result["errors"]}


async def test_new_certificates_are_created_and_stamped_with_the_rule_set(c, body_a, db, as_):
    await add_standard(c, as_())
    r = await push(c, body_a, [cert(certificate_no="A-1"), cert(certificate_no="A-2")])
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["committed"] is True and out["summary"] == {
        "received": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
    }
    assert [x["key"] for x in out["results"]] == ["A-1", "A-2"]
    rows = await db.fetch("SELECT certifier, rule_set_version, revision FROM standards.certificates")
    assert {(r["certifier"], r["rule_set_version"], r["revision"]) for r in rows} == {
        ("CQM", out["rule_set_version"], 1)
    }


async def test_reposting_the_same_batch_is_unchanged_and_a_change_is_updated(c, body_a, as_):
    await add_standard(c, as_())
    record = cert(certificate_no="A-1")
    await push(c, body_a, [record])
    again = (await push(c, body_a, [record])).json()
    assert again["results"][0]["status"] == "unchanged"
    changed = (await push(c, body_a, [{**record, "product": "永磁同步电机"}])).json()
    assert changed["results"][0]["status"] == "updated"


RULE_CASES = [
    ("STD-V001", {"certificate_no": ""}, "/certificate_no"),
    ("STD-V002", {"holder_credit_code": "91330106MA2AAAAA0X"}, "/holder_credit_code"),
    ("STD-V003", {"holder_name": " "}, "/holder_name"),
    ("STD-V003", {"product": None}, "/product"),
    ("STD-V004", {"standard_code": ""}, "/standard_code"),
    ("STD-V005", {"rule_code": "ABC-006"}, "/rule_code"),
    ("STD-V006", {"issued_on": f"{Y}-02-30"}, "/issued_on"),
    ("STD-V006", {"expires_on": None}, "/expires_on"),
    ("STD-V007", {"issued_on": f"{Y}-03-01", "expires_on": f"{Y}-03-01"}, "/expires_on"),
    ("STD-V008", {"status_effective_on": f"{Y}-02-28"}, "/status_effective_on"),
    ("STD-V010", {"status": "expired"}, "/status"),
    ("STD-V011", {"status": "suspended", "status_effective_on": f"{Y}-06-01"}, "/status_reason"),
    ("STD-V014", {"colour": "red"}, "/colour"),
]


@pytest.mark.parametrize(("rule", "change", "pointer"), RULE_CASES)
async def test_each_error_rule_rejects_the_record_with_its_id_and_pointer(c, body_a, rule, change, pointer):
    r = await push(c, body_a, [cert(**change), cert()])
    out = r.json()
    bad, good = out["results"]
    assert bad["status"] == "rejected"
    assert {(f["rule"], f["pointer"], f["severity"]) for f in bad["errors"]} >= {(rule, pointer, "error")}
    assert good["status"] == "created"
    assert out["committed"] is True


async def test_issued_in_the_future_is_rejected_by_std_v009(c, body_a):
    tomorrow = today_shanghai() + timedelta(days=1)
    record = cert(
        issued_on=tomorrow.isoformat(),
        status_effective_on=tomorrow.isoformat(),
        expires_on=(tomorrow + timedelta(days=1095)).isoformat(),
    )
    result = (await push(c, body_a, [record])).json()["results"][0]
    assert result["status"] == "rejected" and [f["rule"] for f in result["errors"]] == ["STD-V009"]


async def test_unknown_and_non_zhejiang_made_standards_are_warnings(c, body_a, as_):
    await add_standard(c, as_(), code="GB/T 19001-2016", level="national", title="质量管理体系 要求")
    out = (
        await push(
            c,
            body_a,
            [
                cert(standard_code="T/ZZB 9999-2024"),  # not in the catalogue
                cert(standard_code="GB/T 19001—2016"),  # in the catalogue, not 浙江制造
            ],
        )
    ).json()
    unknown, national = out["results"]
    assert unknown["status"] == national["status"] == "created"
    assert {w["rule"] for w in unknown["warnings"]} == {"STD-W001", "STD-W003"}
    assert {w["rule"] for w in national["warnings"]} == {"STD-W002", "STD-W003"}
    assert all(w["severity"] == "warning" for w in unknown["warnings"] + national["warnings"])


async def test_a_holder_unknown_to_the_registry_is_kept_as_unmatched_with_a_warning(c, body_a, db, as_):
    from tests.registry_data import add_enterprise

    known = await add_enterprise(db, region_code="330106")
    await add_standard(c, as_())
    out = (await push(c, body_a, [cert(holder_credit_code=known), cert()])).json()
    assert [r["status"] for r in out["results"]] == ["created", "created"]
    assert out["results"][0]["warnings"] == []
    assert [w["rule"] for w in out["results"][1]["warnings"]] == ["STD-W003"]


async def test_the_rules_are_listed_with_the_version(c, body_a):
    r = await c.get("/v1/rules", headers=body_a)
    rules = {x["id"]: x for x in r.json()["rules"]}
    assert r.json()["version"]
    assert {f"STD-V{i:03d}" for i in range(1, 16)} | {"STD-W001", "STD-W002", "STD-W003"} == set(rules)
    assert rules["STD-W001"]["severity"] == "warning" and rules["STD-V012"]["severity"] == "error"


# ---- lifecycle ----------------------------------------------------------------------------------


def _status(record, status, on, reason="监督抽查不合格"):
    return {**record, "status": status, "status_effective_on": on, "status_reason": reason}


async def test_valid_and_suspended_alternate_and_revoked_is_terminal(c, body_a):
    rec = cert(certificate_no="L-1")
    assert (await push(c, body_a, [rec])).json()["results"][0]["status"] == "created"
    steps = [
        (_status(rec, "suspended", f"{Y}-09-01"), "updated"),
        (_status(rec, "valid", f"{Y}-10-01", None), "updated"),
        (_status(rec, "revoked", f"{Y}-11-01"), "updated"),
    ]
    for record, expected in steps:
        assert (await push(c, body_a, [record])).json()["results"][0]["status"] == expected
    back = (await push(c, body_a, [_status(rec, "valid", f"{Y}-12-01", None)])).json()["results"][0]
    assert back["status"] == "rejected" and [f["rule"] for f in back["errors"]] == ["STD-V012"]
    other = (await push(c, body_a, [_status(rec, "cancelled", f"{Y}-12-01")])).json()["results"][0]
    assert [f["rule"] for f in other["errors"]] == ["STD-V012"]


async def test_cancelled_is_terminal_too(c, body_a):
    rec = _status(cert(), "cancelled", f"{Y}-05-01", "持证人申请注销")
    await push(c, body_a, [rec])
    again = (await push(c, body_a, [_status(rec, "suspended", f"{Y}-06-01")])).json()["results"][0]
    assert [f["rule"] for f in again["errors"]] == ["STD-V012"]


async def test_the_effective_date_never_moves_backwards(c, body_a):
    rec = _status(cert(), "suspended", f"{Y}-09-01")
    await push(c, body_a, [rec])
    back = (await push(c, body_a, [_status(rec, "valid", f"{Y}-08-31", None)])).json()["results"][0]
    assert back["status"] == "rejected" and [f["rule"] for f in back["errors"]] == ["STD-V013"]


async def test_within_one_batch_records_apply_in_order(c, body_a, db):
    rec = cert(certificate_no="B-1")
    out = (
        await push(
            c,
            body_a,
            [
                rec,
                _status(rec, "suspended", f"{Y}-06-01"),
                _status(rec, "valid", f"{Y}-07-01", None),
                _status(rec, "revoked", f"{Y}-08-01"),
                _status(rec, "valid", f"{Y}-09-01", None),  # after revoked: terminal
                _status(rec, "revoked", f"{Y}-07-15"),  # backwards
            ],
        )
    ).json()
    assert [r["status"] for r in out["results"]] == [
        "created",
        "updated",
        "updated",
        "updated",
        "rejected",
        "rejected",
    ]
    assert [f["rule"] for f in out["results"][4]["errors"]] == ["STD-V012"]
    assert "STD-V013" in {f["rule"] for f in out["results"][5]["errors"]}
    row = await db.fetchrow(
        "SELECT status, revision FROM standards.certificates WHERE certificate_no = 'B-1'"
    )
    assert (row["status"], row["revision"]) == ("revoked", 4)


async def test_atomic_commits_nothing_when_a_record_is_rejected(c, body_a, db):
    out = (await push(c, body_a, [cert(), cert(status="bogus")], atomic=True)).json()
    assert out["committed"] is False and out["atomic"] is True
    assert out["summary"]["rejected"] == 1
    assert await db.fetchval("SELECT count(*) FROM standards.certificates") == 0
    assert await db.fetchval("SELECT count(*) FROM standards.certificate_history") == 0
    assert await db.fetchval("SELECT count(*) FROM standards.changes") == 0


async def test_an_uncommitted_atomic_push_reports_its_valid_records_unchanged(c, body_a, db):
    """Nothing was written, so nothing was created or updated (as every batch route answers)."""
    stored = cert(certificate_no="U-1")
    await push(c, body_a, [stored])
    records = [cert(certificate_no="U-2"), {**stored, "product": "永磁同步电机"}, cert(status="bogus")]
    out = (await push(c, body_a, records, atomic=True)).json()
    assert out["committed"] is False
    assert [x["status"] for x in out["results"]] == ["unchanged", "unchanged", "rejected"]
    assert out["summary"] == {"received": 3, "created": 0, "updated": 0, "unchanged": 2, "rejected": 1}
    assert await db.fetchval("SELECT count(*) FROM standards.certificate_history") == 1


async def test_a_record_the_lifecycle_rejects_reports_its_errors_and_no_warnings(c, body_a):
    """A warning tells how a record is stored ("accepted; check the number"); a rejected one is not."""
    rec = _status(cert(standard_code="T/ZZB 9999-2024"), "revoked", f"{Y}-05-01")
    first = (await push(c, body_a, [rec])).json()["results"][0]
    assert first["status"] == "created" and {w["rule"] for w in first["warnings"]} == {"STD-W001", "STD-W003"}
    back = (await push(c, body_a, [_status(rec, "valid", f"{Y}-06-01", None)])).json()["results"][0]
    assert back["status"] == "rejected" and [f["rule"] for f in back["errors"]] == ["STD-V012"]
    assert back["warnings"] == [] and back["key"] == rec["certificate_no"]


async def test_only_certification_bodies_push(c, as_):
    for headers in (as_("admin"), as_("official", region="330000"), as_("certifier")):
        r = await push(c, headers, [cert()])
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"


async def test_batches_over_5000_records_are_a_422_problem(c, body_a):
    r = await push(c, body_a, [cert()] * 5001)
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/records"


async def test_a_retry_with_the_same_idempotency_key_replays_the_response(c, body_a, db):
    records = [cert()]
    headers = {**body_a, "Idempotency-Key": "push-1"}
    first = await push(c, headers, records)
    second = await push(c, headers, records)
    assert second.headers.get("idempotent-replayed") == "true" and second.json() == first.json()
    assert await db.fetchval("SELECT count(*) FROM standards.certificate_history") == 1


# ---- history ------------------------------------------------------------------------------------


async def test_history_has_every_accepted_change_with_the_pushed_body_and_is_append_only(c, body_a, db):
    rec = cert(certificate_no="H-1")
    await push(c, body_a, [rec, _status(rec, "suspended", f"{Y}-06-01")])
    await push(c, body_a, [rec])  # backwards → rejected: not in history
    await push(c, body_a, [_status(rec, "suspended", f"{Y}-06-01")])  # unchanged: not in history
    await push(c, body_a, [_status(rec, "valid", f"{Y}-07-01", None)])
    r = await c.get("/v1/certifications/H-1/history", headers=body_a)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [(h["revision"], h["action"], h["status"], h["status_effective_on"]) for h in items] == [
        (1, "created", "valid", f"{Y}-03-01"),
        (2, "updated", "suspended", f"{Y}-06-01"),
        (3, "updated", "valid", f"{Y}-07-01"),
    ]
    assert items[1]["record"] == _status(rec, "suspended", f"{Y}-06-01")
    assert all(h["certifier"] == "CQM" and h["pushed_by"] and h["pushed_at"] for h in items)
    with pytest.raises(Exception, match="append-only"):
        await db.execute("UPDATE standards.certificate_history SET status = 'valid'")
    with pytest.raises(Exception, match="append-only"):
        await db.execute("DELETE FROM standards.certificate_history")


async def test_every_accepted_change_is_in_the_change_log(c, body_a, db):
    rec = cert(certificate_no="CL-1")
    await push(c, body_a, [rec, _status(rec, "suspended", f"{Y}-06-01"), cert(status="nope")])
    rows = await db.fetch(
        "SELECT action, entity_key, actor_org, before, after FROM standards.changes ORDER BY seq"
    )
    assert [(r["action"], r["entity_key"], r["actor_org"]) for r in rows] == [
        ("created", "CQM|CL-1", "CQM"),
        ("updated", "CQM|CL-1", "CQM"),
    ]


async def test_eight_identical_concurrent_pushes_create_and_log_each_certificate_once(c, body_a, db):
    records = [cert() for _ in range(200)]
    responses = await asyncio.gather(*(push(c, body_a, records) for _ in range(8)))
    assert all(r.status_code == 200 for r in responses), [r.text[:300] for r in responses]
    statuses = [x["status"] for r in responses for x in r.json()["results"]]
    assert statuses.count("created") == 200 and statuses.count("unchanged") == 1400
    assert await db.fetchval("SELECT count(*) FROM standards.certificates") == 200
    assert await db.fetchval("SELECT count(*) FROM standards.certificate_history") == 200
    assert (
        await db.fetchval("SELECT count(*) FROM standards.changes WHERE entity_type = 'certificate'") == 200
    )


async def test_hostile_text_rejects_only_its_records_with_std_v015(c, body_a, as_, db):
    """Single-line fields refuse tabs and line breaks; scope and status_reason are free text over
    several lines (tab, LF, CR LF) and refuse the rest."""
    await add_standard(c, as_())
    records = [
        cert(certificate_no="OK-1", scope="一、电机\r\n二、\t配件"),
        cert(certificate_no="NUL-1", holder_name="杭州\x00电机有限公司"),
        cert(certificate_no="SUR-1", product="电机\ud800"),
        cert(certificate_no="TAB-1", product="永磁\t电机"),
        cert(certificate_no="CR-1", scope="一、电机\r二、配件"),
        cert(certificate_no="NO\x00-1"),
        cert(certificate_no="OK-2"),
    ]
    r = await c.post(
        "/v1/certifications/batch",
        content=json.dumps({"records": records}),
        headers={**body_a, "content-type": "application/json"},
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["rule_set_version"] == "STD-2024.2"
    assert [x["status"] for x in out["results"]] == ["created", *["rejected"] * 5, "created"]
    assert [[(e["rule"], e["pointer"], e["code"]) for e in x["errors"]] for x in out["results"][1:6]] == [
        [("STD-V015", "/holder_name", "text_control_character")],
        [("STD-V015", "/product", "text_invalid_unicode")],
        [("STD-V015", "/product", "text_control_character")],
        [("STD-V015", "/scope", "text_control_character")],
        [("STD-V015", "/certificate_no", "text_control_character")],
    ]
    assert out["results"][5]["key"] is None  # a refused value is never echoed
    stored = await db.fetchval("SELECT scope FROM standards.certificates WHERE certificate_no = 'OK-1'")
    assert stored == "一、电机\r\n二、\t配件"


async def test_a_control_character_in_a_public_certificate_number_is_a_422(c):
    r = await c.get("/v1/public/certifications/ZJM%00001")
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert [(e["pointer"], e["code"]) for e in r.json()["errors"]] == [
        ("#/path/certificate_no", "text_control_character")
    ]
    r = await c.get("/v1/public/certifications/ZJM-1", params={"certifier": "CQM\x1b"})
    assert [(e["pointer"], e["code"]) for e in r.json()["errors"]] == [
        ("#/query/certifier", "text_control_character")
    ]

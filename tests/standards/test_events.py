"""The standards change feed: every event type from real writes through the API, and who sees a
certificate's (its body, an official of its holder's region, admin)."""

from __future__ import annotations

from itertools import product
from urllib.parse import quote

import pytest

from services.common.auth import Principal
from services.common.events import EVENT_TYPES, catalogue
from services.standards.certifications.repository import scoped, sees
from tests.registry_data import add_enterprise
from tests.standards.helpers import ZZB, Y, add_standard, cert, push
from tests.support import feed_events


@pytest.fixture
def c(client_for):
    return client_for("standards")


async def pushed(c, headers, records) -> None:
    r = await push(c, headers, records)
    assert r.status_code == 200 and r.json()["summary"]["rejected"] == 0, r.text


async def write_everything(c, as_, db) -> dict:
    await add_standard(c, as_())
    r = await c.patch(
        f"/v1/standards/{quote(ZZB, safe='')}", json={"title": "示例标准（修订）"}, headers=as_()
    )
    assert r.status_code == 200, r.text
    nb = await add_enterprise(db, region_code="330212")
    body = as_("certifier", org="CQM")
    hz = cert(certificate_no="HZ|1")  # a `|` inside the number: the key is `CQM|HZ|1`
    await pushed(c, body, [hz, cert(certificate_no="NB-1", holder_credit_code=nb)])
    await pushed(c, body, [{**hz, "product": "永磁同步电机"}])
    await pushed(
        c,
        body,
        [
            {
                **hz,
                "product": "永磁同步电机",
                "status": "suspended",
                "status_effective_on": f"{Y}-09-01",
                "status_reason": "监督审核不符合",
            }
        ],
    )
    await pushed(c, as_("certifier", org="ZJGX"), [cert(certificate_no="HZ|1")])
    return {"nb": nb}


async def test_every_standards_event_type_comes_from_a_real_write(c, as_, db):
    await write_everything(c, as_, db)
    seen = await feed_events(c, as_("admin"))
    # submission.completed comes from a real submission: tests/common/test_submissions_kit.py
    assert {e["type"] for e in seen} == EVENT_TYPES["standards"] - {"submission.completed"}
    assert [(e["type"], e["subject"]["key"]) for e in seen] == [
        ("standard.created", ZZB),
        ("standard.updated", ZZB),
        ("certificate.created", "CQM|HZ|1"),
        ("certificate.created", "CQM|NB-1"),
        ("certificate.updated", "CQM|HZ|1"),
        ("certificate.status_changed", "CQM|HZ|1"),
        ("certificate.created", "ZJGX|HZ|1"),
    ]
    std, std2, hz, _, upd, status, _ = seen
    assert std["data"] == {
        "code": ZZB,
        "level": "zhejiang_made",
        "title": "示例标准",
        "status": std["data"]["status"],
        "published_on": None,
    }
    assert std["links"] == {"self": f"/standards/v1/standards/{quote(ZZB, safe='')}"}
    assert std2["data"]["changed"] == ["title"] and std2["data"]["title"] == "示例标准（修订）"
    assert hz["data"] == {
        "certifier": "CQM",
        "certificate_no": "HZ|1",
        "revision": 1,
        "holder_credit_code": hz["data"]["holder_credit_code"],
        "standard_code": ZZB,
        "product": "齿轮减速电机",
        "issued_on": f"{Y}-03-01",
        "expires_on": hz["data"]["expires_on"],
        "status": "valid",
    }
    assert hz["links"] == {"self": "/standards/v1/certifications/HZ%7C1?certifier=CQM"}
    assert upd["data"] == {
        "certifier": "CQM",
        "certificate_no": "HZ|1",
        "revision": 2,
        "changed": ["product"],
    }
    assert status["data"] == {
        "certifier": "CQM",
        "certificate_no": "HZ|1",
        "revision": 3,
        "status": "suspended",
        "previous_status": "valid",
        "status_effective_on": f"{Y}-09-01",
        "status_reason": "监督审核不符合",
    }


async def test_a_body_sees_only_its_certificates_and_an_official_its_region(c, as_, db):
    await write_everything(c, as_, db)
    cqm = await feed_events(
        c,
        as_("certifier", org="CQM"),
        types="certificate.created,certificate.updated,certificate.status_changed",
    )
    assert {e["subject"]["key"] for e in cqm} == {"CQM|HZ|1", "CQM|NB-1"}
    zjgx = await feed_events(c, as_("certifier", org="ZJGX"))
    assert [e["subject"]["key"] for e in zjgx if e["subject"]["type"] == "certificate"] == ["ZJGX|HZ|1"]
    # a body whose code is a prefix of another's sees nothing of the other's
    assert [
        e for e in await feed_events(c, as_("certifier", org="CQ")) if e["subject"]["type"] == "certificate"
    ] == []
    certs = {"types": "certificate.created"}
    hangzhou = await feed_events(c, as_("official", region="330100"), **certs)
    assert [e["subject"]["key"] for e in hangzhou] == ["CQM|HZ|1", "ZJGX|HZ|1"]  # holder in 西湖区
    ningbo = await feed_events(c, as_("official", region="330212"), **certs)
    assert [e["subject"]["key"] for e in ningbo] == ["CQM|NB-1"]
    # banks and guarantors read the catalogue, not certificates
    for kind in ("bank", "guarantor"):
        assert {e["subject"]["type"] for e in await feed_events(c, as_(kind, org="B1"))} == {"standard"}


async def test_the_python_scope_is_the_lists_scope(db):
    """`sees` (the feed) and `scoped` (the lists) give one answer for every caller and certificate."""
    from sqlalchemy import select
    from sqlalchemy.dialects.postgresql.asyncpg import dialect

    from services.standards.certifications.models import Certificate

    hz = await add_enterprise(db, region_code="330106")
    holders = product(["CQM", "ZJGX"], [hz, "91330212MA2AAAAA0X"])  # 宁波, unknown to the registry
    rows = [(b, f"{b}-{i}", h) for i, (b, h) in enumerate(holders)]
    await db.execute(
        "INSERT INTO standards.certificates (certifier, certificate_no, holder_credit_code, holder_name, product, "
        "standard_code, rule_code, issued_on, expires_on, status, status_effective_on, revision, rule_set_version) "
        "SELECT b, n, h, 'x', 'x', 'x', 'x', '2023-01-01', '2026-01-01', 'valid', '2023-01-01', 1, 'v' "
        "FROM unnest($1::text[], $2::text[], $3::text[]) AS t(b, n, h)",
        *map(list, zip(*rows, strict=True)),
    )
    callers = [
        Principal("a", "admin"),
        Principal("c", "certifier", org="CQM"),
        Principal("c", "certifier"),
        Principal("o", "official", region="330100"),
        Principal("o", "official", region="330212"),
        Principal("b", "bank", org="CQM"),
    ]
    from services.standards.certifications.repository import holder_regions

    keys = [
        (r["certifier"], r["certificate_no"])
        for r in await db.fetch("SELECT certifier, certificate_no FROM standards.certificates")
    ]
    regions = await holder_regions(db, keys)
    for p in callers:
        stmt = scoped(select(Certificate.certifier, Certificate.certificate_no), p)
        sql = stmt.compile(dialect=dialect())
        args = [sql.params[k] for k in sql.positiontup]
        by_sql = {(r[0], r[1]) for r in await db.fetch(str(sql), *args)}
        by_python = {k for k in keys if sees(p, k[0], regions.get(k))}
        assert by_sql == by_python, p


def test_every_standards_change_shape_is_an_event_or_ignored_for_a_reason():
    cat = catalogue("standards")
    written = {
        ("standard", "created"), ("standard", "updated"), ("certificate", "created"), ("certificate", "updated"),
        ("standard_drafter", "created"), ("standard_drafter", "updated"), ("adoption", "created"), ("adoption", "updated"),
    }  # fmt: skip
    written.add(("submission", "completed"))  # a file submission's end (services/common/submissions)
    assert written == set(cat.sources) | set(cat.ignored)

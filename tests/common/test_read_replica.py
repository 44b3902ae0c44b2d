"""Read replicas (EAGLET_DB__READ_URL, docs/deploy.md "Read replicas"), against a real streaming
replica of the run's database (tests/standby.py): the hot reads go to it and show what it has
replayed; writes, and the detail a caller reads after its own write, go to the primary.

Each service under test connects as its own role on both servers (EAGLET_<SERVICE>__DATABASE_URL
and its replica twin, EAGLET_<SERVICE>__READ_URL: the role exists on the replica as on the
primary, a physical copy). A route reads from the replica when, with the standby's replay paused,
it does not show a write the primary has committed, and shows it once replay resumes."""

from __future__ import annotations

import importlib

import asyncpg
import httpx
import pytest

from services.common.auth import Principal
from services.common.changes import Change, record_changes_on
from services.common.db import plain_url
from services.common.readpool import ReadPools, close_read_pool, pools_of
from services.common.settings import get_settings
from tests.conftest import EMBEDDED, TEST_DB
from tests.finance.helpers import application, guarantee, line, loan
from tests.registry_data import add_enterprise, new_credit_code
from tests.standards.helpers import add_standard, cert, push
from tests.standby import Standby
from tests.support import feed_events


@pytest.fixture(scope="module")
def standby(database_url):
    server = EMBEDDED.get("server")
    if server is None:
        pytest.skip("TEST_DATABASE_URL: no embedded server here to take a streaming replica of")
    s = Standby(server).start()
    yield s
    s.stop()


@pytest.fixture
async def replica(standby, db):
    """A superuser connection to the standby, once it has replayed the primary's state (the
    emptied tables included); replay resumed at the end, whatever the test did."""
    conn = await standby.connect(TEST_DB)
    await standby.caught_up(db, conn)
    yield conn
    await conn.execute("SELECT pg_wal_replay_resume()")
    await conn.close()


@pytest.fixture
async def on_standby(standby, replica):
    """`await on_standby("finance")`: the service's app with its read URL on the standby, its
    role's twin there; (client, app). Closed at the end."""
    opened = []

    async def start(service: str) -> tuple[httpx.AsyncClient, object]:
        settings = get_settings()
        group = getattr(settings, service)
        group = group.model_copy(update={"read_url": standby.url(group.database_url)})
        app = importlib.import_module(f"services.{service}.app").create_app(
            settings.model_copy(update={service: group})
        )
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url=f"http://{service}.test",
        )
        opened.append((client, app))
        return client, app

    yield start
    for client, app in opened:
        await client.aclose()
        await close_read_pool(app)
        await app.state.engine.dispose()


@pytest.fixture
async def registry(on_standby):
    """The registry app with its read URL on the standby; (client, app)."""
    return await on_standby("registry")


def test_without_a_read_url_every_read_is_on_the_database_url(database_url):
    settings = get_settings()
    assert settings.db.read_url is None and not ReadPools(settings, "registry").replica
    same = settings.model_copy(
        update={"db": settings.db.model_copy(update={"read_url": settings.database_url})}
    )
    assert not ReadPools(same, "registry").replica


async def test_the_read_pool_is_on_the_replica_and_the_primary_reader_is_not(registry):
    _, app = registry
    pools = pools_of(app)
    async with pools.connection() as conn:
        assert await conn.fetchval("SELECT pg_is_in_recovery()") is True
        assert await conn.fetchval("SELECT current_user") == "eaglet_registry"
    async with pools.connection(primary=True) as conn:
        assert await conn.fetchval("SELECT pg_is_in_recovery()") is False
    export = await pools.export_pool()
    assert await export.fetchval("SELECT pg_is_in_recovery()") is True


async def test_a_lagging_replica_holds_lists_and_feed_back_never_the_callers_own_write(
    registry, replica, standby, db, as_
):
    c, _ = registry
    admin = as_()
    old = await add_enterprise(db, name="复制前有限公司")
    await standby.caught_up(db, replica)

    def codes(r: httpx.Response) -> dict[str, str]:
        assert r.status_code == 200, r.text
        return {e["credit_code"]: e["name"] for e in r.json()["items"]}

    assert codes(await c.get("/v1/enterprises", headers=admin)) == {old: "复制前有限公司"}
    before = len(await feed_events(c, admin))

    # The replica stops replaying: every write from here on is on the primary only.
    await replica.execute("SELECT pg_wal_replay_pause()")
    new = await add_enterprise(db, name="复制后有限公司")
    r = await c.patch(f"/v1/enterprises/{old}", json={"name": "改名后有限公司"}, headers=admin)
    assert r.status_code == 200, r.text  # the write went to the primary
    assert (
        await db.fetchval("SELECT name FROM registry.enterprises WHERE credit_code = $1", old)
        == "改名后有限公司"
    )
    assert (
        await replica.fetchval("SELECT name FROM registry.enterprises WHERE credit_code = $1", old)
        == "复制前有限公司"
    )

    # The caller's own write, read back: the detail is read on the primary.
    r = await c.get(f"/v1/enterprises/{old}", headers=admin)
    assert r.status_code == 200 and r.json()["name"] == "改名后有限公司"
    assert (await c.get(f"/v1/enterprises/{new}", headers=admin)).status_code == 200
    # The list and the feed show the replica's state: as of the pause.
    assert codes(await c.get("/v1/enterprises", headers=admin)) == {old: "复制前有限公司"}
    assert len(await feed_events(c, admin)) == before

    # Replay resumes: once caught up, the list and the feed show everything.
    await replica.execute("SELECT pg_wal_replay_resume()")
    await standby.caught_up(db, replica)
    assert codes(await c.get("/v1/enterprises", headers=admin)) == {
        old: "改名后有限公司",
        new: "复制后有限公司",
    }
    assert len(await feed_events(c, admin)) > before


def ok(r: httpx.Response) -> dict:
    assert r.status_code == 200, r.text
    return r.json()


def keys(r: httpx.Response, field: str) -> list[str]:
    return [item[field] for item in ok(r)["items"]]


async def test_finance_lists_read_the_replica_and_a_record_read_after_its_write_the_primary(
    on_standby, replica, standby, db, as_
):
    c, _ = await on_standby("finance")
    bank, official, admin, guarantor = (
        as_("bank", org="B001"),
        as_("official", region="330000"),
        as_("admin"),
        as_("guarantor", org="G001"),
    )
    borrower = new_credit_code("330106")
    first = loan(borrower=borrower)
    ok(await c.post("/v1/loans/batch", json={"records": [first]}, headers=bank))
    await standby.caught_up(db, replica)
    lists = {
        "/v1/loans": "loan_ref",
        "/v1/credit-lines": "line_ref",
        "/v1/applications": "application_ref",
        "/v1/guarantees": "guarantee_ref",
    }

    async def seen() -> dict[str, list[str]]:
        return {path: keys(await c.get(path, headers=admin), field) for path, field in lists.items()}

    assert await seen() == {
        "/v1/loans": [first["loan_ref"]],
        "/v1/credit-lines": [],
        "/v1/applications": [],
        "/v1/guarantees": [],
    }

    await replica.execute("SELECT pg_wal_replay_pause()")
    second = loan(borrower=borrower)
    rec_line, rec_app, rec_guarantee = line(borrower), application(borrower), guarantee(borrower)
    ok(await c.post("/v1/loans/batch", json={"records": [second]}, headers=bank))
    ok(await c.post("/v1/credit-lines/batch", json={"records": [rec_line]}, headers=bank))
    ok(await c.post("/v1/applications/batch", json={"records": [rec_app]}, headers=bank))
    ok(await c.post("/v1/guarantees/batch", json={"records": [rec_guarantee]}, headers=guarantor))

    # The bank reads its new loan back at once: the detail is on the primary.
    assert ok(await c.get(f"/v1/loans/{second['loan_ref']}", headers=bank))["loan_ref"] == second["loan_ref"]
    assert (
        ok(await c.get(f"/v1/lenders/B001/loans/{second['loan_ref']}", headers=official))["lender"] == "B001"
    )
    # Every list, for every kind of caller, is the replica's: as of the pause.
    assert await seen() == {
        "/v1/loans": [first["loan_ref"]],
        "/v1/credit-lines": [],
        "/v1/applications": [],
        "/v1/guarantees": [],
    }
    assert keys(await c.get("/v1/loans", headers=bank), "loan_ref") == [first["loan_ref"]]
    assert keys(await c.get("/v1/loans", headers=official), "loan_ref") == [first["loan_ref"]]
    assert keys(await c.get("/v1/guarantees", headers=guarantor), "guarantee_ref") == []
    # The export is the replica's too.
    r = await c.get("/v1/loans/export", headers=admin)
    assert r.status_code == 200 and first["loan_ref"] in r.text and second["loan_ref"] not in r.text

    await replica.execute("SELECT pg_wal_replay_resume()")
    await standby.caught_up(db, replica)
    assert await seen() == {
        "/v1/loans": [first["loan_ref"], second["loan_ref"]],
        "/v1/credit-lines": [rec_line["line_ref"]],
        "/v1/applications": [rec_app["application_ref"]],
        "/v1/guarantees": [rec_guarantee["guarantee_ref"]],
    }
    # Same scope rules and pagination as on the primary: one per page, the cursor resumes.
    page = ok(await c.get("/v1/loans", params={"limit": 1}, headers=bank))
    assert [i["loan_ref"] for i in page["items"]] == [first["loan_ref"]] and page["next_cursor"]
    page = ok(await c.get("/v1/loans", params={"limit": 1, "cursor": page["next_cursor"]}, headers=bank))
    assert [i["loan_ref"] for i in page["items"]] == [second["loan_ref"]] and page["next_cursor"] is None
    assert keys(await c.get("/v1/loans", headers=as_("bank", org="B002")), "loan_ref") == []
    assert keys(await c.get("/v1/guarantees", headers=guarantor), "guarantee_ref") == [
        rec_guarantee["guarantee_ref"]
    ]


async def test_standards_lists_verification_and_statistics_read_the_replica(
    on_standby, replica, standby, db, as_
):
    c, _ = await on_standby("standards")
    admin, body = as_("admin"), as_("certifier", org="CQM")
    official = as_("official", region="330000")
    await add_standard(c, admin)
    old = cert()
    assert (await push(c, body, [old])).status_code == 200
    await standby.caught_up(db, replica)
    year = int(old["issued_on"][:4])
    stats_before = ok(await c.get("/v1/stats", params={"year": year}, headers=official))

    await replica.execute("SELECT pg_wal_replay_pause()")
    new = cert()
    assert (await push(c, body, [new])).status_code == 200
    second = await add_standard(c, admin, code="T/ZZB 0002—2023", title="第二个标准")

    # The standard just created reads back from the primary (the detail), and so does the
    # certificate the body just pushed (its own detail).
    assert ok(await c.get(f"/v1/standards/{second['code']}", headers=admin))["title"] == "第二个标准"
    assert ok(await c.get(f"/v1/certifications/{new['certificate_no']}", headers=body))["revision"] == 1
    # The catalogue, the certificate list, public verification and the statistics: the replica's.
    assert keys(await c.get("/v1/standards", headers=admin), "code") == ["T/ZZB 0001—2023"]
    assert keys(await c.get("/v1/certifications", headers=body), "certificate_no") == [old["certificate_no"]]
    assert (await c.get(f"/v1/public/certifications/{new['certificate_no']}")).status_code == 404
    assert ok(await c.get(f"/v1/public/certifications/{old['certificate_no']}"))["items"]
    assert ok(await c.get("/v1/stats", params={"year": year}, headers=official)) == stats_before

    await replica.execute("SELECT pg_wal_replay_resume()")
    await standby.caught_up(db, replica)
    assert keys(await c.get("/v1/standards", headers=admin), "code") == ["T/ZZB 0001—2023", "T/ZZB 0002—2023"]
    assert keys(await c.get("/v1/certifications", headers=body), "certificate_no") == [
        old["certificate_no"],
        new["certificate_no"],
    ]
    assert ok(await c.get(f"/v1/public/certifications/{new['certificate_no']}"))["items"]
    # The new standard (no publication date) counts among the province's 浙江制造 standards.
    stats_after = ok(await c.get("/v1/stats", params={"year": year}, headers=official))
    assert stats_after["zhejiang_made_standards"] == stats_before["zhejiang_made_standards"] + 1


ADMIN = Principal(sub="admin:test", kind="admin")


def created(code: str) -> Change:
    return Change("created", "enterprise", code, after={"name": "事务有限公司", "region_code": "330106"})


async def test_the_feeds_commit_order_rule_holds_on_a_hot_standby(registry, replica, standby, db, as_):
    """The feed serves a row only below the snapshot's xmin (services/common/changes.py). On a
    standby the snapshot is the replayed one: a transaction id the primary handed out counts as
    running there from the first WAL record of any later transaction (the standby takes every id
    below the newest it has seen as assigned), until its commit or abort is replayed. So a later
    transaction's row waits behind an earlier one still open on the primary, on the replica too."""
    c, _ = registry
    admin = as_()
    # What the standby cannot do: hand out a transaction id. The feed never asks for one.
    with pytest.raises(asyncpg.PostgresError, match="recovery"):
        await replica.fetchval("SELECT pg_current_xact_id()")
    await standby.caught_up(db, replica)
    after = ok(await c.get("/v1/events", params={"limit": 500}, headers=admin))
    while after["has_more"]:
        after = ok(await c.get("/v1/events", params={"after": after["next_cursor"]}, headers=admin))
    cursor = after["next_cursor"]

    a = await asyncpg.connect(plain_url(get_settings().database_url))
    try:
        tx = a.transaction()
        await tx.start()
        xid_a = int(await a.fetchval("SELECT pg_current_xact_id()::text"))  # an id, no WAL yet
        code_a, code_b = new_credit_code("330106"), new_credit_code("330106")
        await record_changes_on(db, "registry", ADMIN, [created(code_b)], None)  # committed
        await standby.caught_up(db, replica)
        # The replica holds B's row, and counts A as running: its xmin is at or below A's id.
        assert (
            await replica.fetchval("SELECT count(*) FROM registry.changes WHERE entity_key = $1", code_b) == 1
        )
        assert int(await replica.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")) <= xid_a
        page = ok(await c.get("/v1/events", params={"after": cursor}, headers=admin))
        assert page["items"] == [] and page["has_more"] is False
        await record_changes_on(a, "registry", ADMIN, [created(code_a)], None)
        await tx.commit()
    finally:
        await a.close()
    await standby.caught_up(db, replica)
    page = ok(await c.get("/v1/events", params={"after": cursor}, headers=admin))
    # A began first and took the lower id: its row comes first though it committed last.
    assert [e["subject"]["key"] for e in page["items"]] == [code_a, code_b]

"""Read replicas (EAGLET_DB__READ_URL, docs/deploy.md "Read replicas"), against a real streaming
replica of the run's database (tests/standby.py): the hot reads go to it and show what it has
replayed; writes, and the detail a caller reads after its own write, go to the primary.

The registry under test connects as its own role on both servers (EAGLET_REGISTRY__DATABASE_URL
and its replica twin, EAGLET_REGISTRY__READ_URL: the role exists on the replica as on the
primary, a physical copy)."""

from __future__ import annotations

import httpx
import pytest

from services.common.readpool import ReadPools, close_read_pool, pools_of
from services.common.settings import get_settings
from services.registry.app import create_app
from tests.conftest import EMBEDDED, TEST_DB
from tests.registry_data import add_enterprise
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
async def registry(standby, replica):
    """The registry app with its read URL on the standby; (client, app)."""
    settings = get_settings()
    own = settings.registry.database_url
    group = settings.registry.model_copy(update={"read_url": standby.url(own)})
    app = create_app(settings.model_copy(update={"registry": group}))
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://registry.test"
    )
    yield client, app
    await client.aclose()
    await close_read_pool(app)
    await app.state.engine.dispose()


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

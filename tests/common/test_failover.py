"""The database going away and coming back, or a standby taking over: what callers see.

Every test here runs against a PostgreSQL of its own (tests/scratch_pg.py), never the run's shared
server: it is crashed (`pg_ctl stop -m immediate`), started again and failed over. The apps are
the real ones, built once on that server's URL and never rebuilt: after the outage the *same* app
answers, its pools having replaced the dead connections themselves.

What a caller sees while the database is away: the 503 problem `database_unavailable` with
Retry-After, for reads and writes alike, on the FastAPI routes and the fast routes — never a 500,
never a hang (every request here is bounded by `BOUND_S`). A write cut off mid-transaction leaves
nothing behind (PostgreSQL commits a transaction whole or not at all), and the same batch sent
again with the same Idempotency-Key after the outage is stored once.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import httpx
import pytest

from services.common.db import plain_url
from services.common.readpool import DatabaseGone, pools_of
from services.common.settings import get_settings
from tests.finance.helpers import loan
from tests.scratch_pg import Proxy, ScratchPostgres, promote, scratch_settings, stop_standby
from tests.standby import Standby

BANK = "B001"
BOUND_S = 20  # no request may take longer: a hang fails the test
DB = "eaglet"


@pytest.fixture(scope="module")
def scratch(database_url):
    """A migrated PostgreSQL of this module's own (the run's server is never stopped)."""
    from services.cli import run_migrations

    pg = ScratchPostgres().init()
    try:
        run_migrations(pg.create_database(DB))
        yield pg
    finally:
        pg.remove()


async def _ensure_up(pg: ScratchPostgres) -> None:
    try:
        conn = await asyncpg.connect(pg.url(DB), timeout=2)
    except (OSError, asyncpg.PostgresError):
        pg.start()
    else:
        await conn.close()


@contextlib.asynccontextmanager
async def apps_on(url: str):
    """The finance and registry apps on `url` (their lifespans run), with in-process clients."""
    from services.finance.app import create_app as finance_app
    from services.registry.app import create_app as registry_app

    settings = scratch_settings(get_settings(), url)
    made = [finance_app(settings), registry_app(settings)]
    clients = []
    async with contextlib.AsyncExitStack() as stack:
        for app in made:
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            client = httpx.AsyncClient(transport=transport, base_url="http://eaglet.test")
            clients.append(await stack.enter_async_context(client))
        yield (*clients, *made)


async def call(client: httpx.AsyncClient, method: str, path: str, **kw) -> httpx.Response:
    async with asyncio.timeout(BOUND_S):
        return await client.request(method, path, **kw)


def unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "database_unavailable"
    assert r.headers["retry-after"] == str(get_settings().db.retry_after_s)


async def post_batch(client, headers, key: str, records: list[dict]) -> httpx.Response:
    return await call(
        client,
        "POST",
        "/v1/loans/batch",
        json={"records": records},
        headers={**headers, "Idempotency-Key": key},
    )


async def retry_batch(client, headers, key: str, records: list[dict]) -> httpx.Response:
    """Send the batch as a bank would after a 503 or 409: again, after Retry-After (bounded)."""
    async with asyncio.timeout(BOUND_S * 3):
        while True:
            r = await post_batch(client, headers, key, records)
            if r.status_code not in (409, 503):
                return r
            await asyncio.sleep(min(float(r.headers.get("retry-after", "1")), 2.0))


async def rows(url: str, refs: list[str]) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM finance.loans WHERE loan_ref = ANY($1::text[])", refs
        )
    finally:
        await conn.close()


READS = (
    (0, "/v1/loans", "bank"),  # finance, through the engine's session
    (1, "/v1/enterprises", "admin"),  # registry's fast route, on the read pool
    (1, "/v1/enterprises?name=测试", "admin"),  # registry's FastAPI route, on the read pool
)


async def read_all(clients, as_) -> list[httpx.Response]:
    headers = {"bank": as_("bank", org=BANK), "admin": as_("admin")}
    return [await call(clients[i], "GET", path, headers=headers[who]) for i, path, who in READS]


async def test_while_the_database_is_down_reads_and_writes_are_503_and_the_same_apps_serve_again_after_it(
    scratch, as_
):
    await _ensure_up(scratch)
    bank = as_("bank", org=BANK)
    async with apps_on(scratch.url(DB)) as (finance, registry, *_):
        clients = (finance, registry)
        before = [loan(), loan()]
        assert (await post_batch(finance, bank, "before", before)).status_code == 200
        assert [r.status_code for r in await read_all(clients, as_)] == [200, 200, 200]

        scratch.stop("immediate")
        for r in await read_all(clients, as_):
            unavailable(r)
        during = [loan(), loan()]
        unavailable(await post_batch(finance, bank, "during", during))

        scratch.start()
        assert [r.status_code for r in await read_all(clients, as_)] == [200, 200, 200]
        r = await retry_batch(finance, bank, "during", during)
        assert r.status_code == 200, r.text
        again = await post_batch(finance, bank, "during", during)
        assert again.status_code == 200 and again.headers.get("idempotent-replayed") == "true"
        assert again.json() == r.json()
        url = plain_url(scratch.url(DB))
        assert await rows(url, [x["loan_ref"] for x in before + during]) == 4  # each stored once


async def test_a_write_cut_off_mid_transaction_is_503_leaves_nothing_and_goes_through_once_when_sent_again(
    scratch, as_
):
    await _ensure_up(scratch)
    bank = as_("bank", org=BANK)
    url = plain_url(scratch.url(DB))
    async with apps_on(scratch.url(DB)) as (finance, *_):
        records = [loan(), loan(), loan()]
        refs = [x["loan_ref"] for x in records]
        holder, watcher = await asyncpg.connect(url), await asyncpg.connect(url)
        # The batch's writes include its change log, which waits behind this lock: its transaction
        # is open, part-way through its statements, when the server goes away.
        await holder.execute("BEGIN; LOCK TABLE finance.changes IN EXCLUSIVE MODE")
        batch = asyncio.create_task(post_batch(finance, bank, "cut", records))
        async with asyncio.timeout(BOUND_S):
            # (watched from a connection outside a transaction: the holder's would see one snapshot)
            while not await watcher.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"):
                assert not batch.done(), batch.result().text
                await asyncio.sleep(0.05)  # noqa: ASYNC110 - polling the server
        scratch.stop("immediate")
        unavailable(await batch)
        for conn in (holder, watcher):
            with contextlib.suppress(Exception):
                await conn.close(timeout=1)

        scratch.start()
        assert await rows(url, refs) == 0  # nothing of the cut-off transaction was committed
        r = await retry_batch(finance, bank, "cut", records)
        assert r.status_code == 200, r.text
        assert await rows(url, refs) == 3


async def test_a_read_whose_connection_dies_under_it_runs_once_more_on_a_fresh_connection(scratch):
    await _ensure_up(scratch)
    async with apps_on(scratch.url(DB)) as (_, _, _, registry_app):
        pools = pools_of(registry_app)
        admin = await asyncpg.connect(plain_url(scratch.url(DB)))
        try:
            await admin.execute("DROP SEQUENCE IF EXISTS public.runs; CREATE SEQUENCE public.runs")
            # Its first run ends its own connection (as a restart would); the second answers.
            first_run_dies = (
                "SELECT CASE WHEN nextval('public.runs') = 1 THEN pg_terminate_backend(pg_backend_pid()) "
                "END, currval('public.runs') AS run"
            )
            [row] = await pools.fetch(first_run_dies)
            assert row["run"] == 2
            # One that always dies is run twice, then answered as the 503 problem.
            with pytest.raises(DatabaseGone) as gone:
                await pools.fetch("SELECT nextval('public.runs'), pg_terminate_backend(pg_backend_pid())")
            assert gone.value.status == 503 and gone.value.code == "database_unavailable"
            assert await admin.fetchval("SELECT last_value FROM public.runs") == 4
            assert (await pools.fetch("SELECT 1 AS one"))[0]["one"] == 1  # the pool goes on
        finally:
            await admin.execute("DROP SEQUENCE IF EXISTS public.runs")
            await admin.close()


async def test_the_job_worker_and_its_loops_run_through_an_outage_and_resume(scratch):
    await _ensure_up(scratch)
    from services.common.settings import JobsSettings
    from services.jobs.worker import run
    from tests.support import FAST_WORKER_ENV

    url = scratch.url(DB)
    jobs = {k.removeprefix("EAGLET_JOBS__").lower(): v for k, v in FAST_WORKER_ENV.items()}
    base = scratch_settings(get_settings(), url)
    settings = base.model_copy(update={"jobs": JobsSettings(**{**base.jobs.model_dump(), **jobs})})
    conn_url = plain_url(url)

    async def succeeded() -> int:
        conn = await asyncpg.connect(conn_url)
        try:
            return await conn.fetchval(
                "SELECT count(*) FROM jobs.procrastinate_jobs WHERE status = 'succeeded'"
            )
        finally:
            await conn.close()

    async def more_than(n: int) -> int:
        async with asyncio.timeout(BOUND_S * 2):
            while (now := await succeeded()) <= n:  # noqa: ASYNC110 - polling the server
                await asyncio.sleep(0.2)
        return now

    stop = asyncio.Event()
    worker = asyncio.create_task(run(settings, stop))
    try:
        ran = await more_than(0)  # the periodic stalled-jobs check, deferred and run every second
        scratch.stop("immediate")
        await asyncio.sleep(3)  # heartbeats, fetches and the webhook rounds fail meanwhile
        assert not worker.done()
        scratch.start()
        await more_than(ran)  # procrastinate's worker started again, on a new pool
        assert not worker.done()
    finally:
        stop.set()
        await asyncio.wait_for(worker, 60)


@pytest.fixture
def failing_over(database_url):
    """A migrated PostgreSQL of this test's own: its primary is lost for good."""
    from services.cli import run_migrations

    pg = ScratchPostgres().init()
    try:
        run_migrations(pg.create_database(DB))
        yield pg
    finally:
        pg.remove()


async def test_a_promoted_standby_behind_the_moved_address_takes_over_without_losing_an_acknowledged_write(
    failing_over, as_
):
    scratch = failing_over
    bank = as_("bank", org=BANK)
    standby = Standby(scratch).start()
    proxy = await Proxy(scratch.root).start()
    try:
        primary = await asyncpg.connect(plain_url(scratch.url(DB)))
        # Synchronous replication, as the CloudNativePG cluster runs: an acknowledged commit is
        # on the standby already.
        await primary.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
        await primary.execute("SELECT pg_reload_conf()")
        await primary.close()
        async with apps_on(proxy.url(DB)) as (finance, registry, *_):
            clients = (finance, registry)
            before = [loan(), loan()]
            assert (await post_batch(finance, bank, "before-failover", before)).status_code == 200

            scratch.stop("immediate")  # the primary is gone; the address still leads to it
            for r in await read_all(clients, as_):
                unavailable(r)

            proxy.point_at(standby.root)  # the address moves before the standby is promoted
            assert [r.status_code for r in await read_all(clients, as_)] == [200, 200, 200]
            after = [loan()]
            unavailable(await post_batch(finance, bank, "after-failover", after))  # read-only yet

            promote(standby)
            r = await retry_batch(finance, bank, "after-failover", after)
            assert r.status_code == 200, r.text
            url = plain_url(standby.url(scratch.url(DB)))
            assert await rows(url, [x["loan_ref"] for x in before + after]) == 3
    finally:
        await proxy.close()
        stop_standby(standby)
        import shutil

        shutil.rmtree(standby.root, ignore_errors=True)

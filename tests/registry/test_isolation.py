"""One tenant cannot starve or stall the others: exports have their own connections, a bounded
number per caller and a send timeout; list and search statements take at most the caller's share
of the read pool and answer a problem when they run past the read timeout."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from services.common import readpool
from services.common.auth import PRINCIPAL_HEADER, principal_headers, verify_principal
from services.common.settings import DatabaseSettings, get_settings
from services.registry.app import create_app
from tests.registry_data import add_enterprise
from tests.support import start_live

HEAVY_ROWS = 3000  # with long addresses: a CSV of several MB, more than socket buffers hold


async def add_many(db, n: int = HEAVY_ROWS, region: str = "330106") -> None:
    """n enterprises with long addresses (an export of them fills any socket buffer)."""
    await db.execute(
        "INSERT INTO registry.enterprises (credit_code, name, region_code, industry_code, address) "
        "SELECT '91' || $2::text || lpad(i::text, 9, '0') || 'X', '杭州隔离测试' || i || '有限公司', "
        "$2::text, '3311', repeat('浙江省杭州市西湖区文三路', 40) FROM generate_series(1, $1::int) i",
        n,
        region,
    )


def official(sub: str, region: str = "330106") -> dict[str, str]:
    return principal_headers("official", region=region, sub=sub)


class Stalled:
    """An HTTP request whose client reads the response head and then stops reading."""

    def __init__(self, port: int, path: str, headers: dict[str, str]) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(30)
        self.sock.connect(("127.0.0.1", port))
        lines = [f"GET {path} HTTP/1.1", "Host: registry.test"] + [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1024)
            assert chunk, "the server closed before answering"
            head += chunk
        self.status = int(head.split(b" ", 2)[1])
        self.head = head.decode("latin-1")

    def read_to_end(self) -> bytes:
        """Everything the server still sends, until it closes the connection."""
        data = b""
        while chunk := self.sock.recv(1 << 16):
            data += chunk
        return data

    def close(self) -> None:
        self.sock.close()


EXPORT = "/v1/enterprises/export?format=csv"


async def export_transactions(db) -> int:
    """The registry's database sessions holding a transaction open (an export's cursor)."""
    return await db.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'eaglet-registry%' "
        "AND xact_start IS NOT NULL AND datname = current_database()"
    )


async def until(check, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
def registry_small_pool(database_url):
    """A registry server with 2 read connections, 3 export connections, 1 export per caller, a
    short wait for an export connection and a long send timeout."""
    server = start_live(
        "registry",
        env={
            "EAGLET_DB__READ_POOL_SIZE": "2",
            "EAGLET_EXPORT__CONNECTIONS": "3",
            "EAGLET_EXPORT__PER_CALLER": "1",
            "EAGLET_EXPORT__WAIT_S": "1",
            "EAGLET_EXPORT__SEND_TIMEOUT_S": "120",
        },
    )
    yield server
    server.stop()


async def test_stalled_export_downloads_do_not_block_directory_lookups(registry_small_pool, db):
    await add_many(db)
    code = await add_enterprise(db, region_code="330106")
    stalled = [Stalled(registry_small_pool.port, EXPORT, official(f"stall-{i}")) for i in range(3)]
    try:
        assert [s.status for s in stalled] == [200, 200, 200]
        await until(lambda: _at_least(db, 2))  # the downloads hold their cursors
        async with httpx.AsyncClient(base_url=registry_small_pool.url, timeout=15) as http:
            bank = principal_headers("bank", org="B001")
            r = await http.get(f"/v1/enterprises/{code}", headers=bank)
            assert r.status_code == 200 and r.json()["credit_code"] == code
            listed = await http.get("/v1/enterprises", headers=official("reader"))
            assert listed.status_code == 200
            # The export connections are all taken: one more download is refused, not queued forever.
            busy = await http.get(EXPORT, headers=official("fourth"))
            assert busy.status_code == 429 and busy.json()["code"] == "exports_busy"
            assert int(busy.headers["retry-after"]) >= 1
        # All three still stalled, each holding its cursor: the lookups did not wait for them.
        assert await export_transactions(db) == 3
    finally:
        for s in stalled:
            s.close()
    await until(lambda: _at_most(db, 0))


async def _at_least(db, n: int) -> bool:
    return await export_transactions(db) >= n


async def _at_most(db, n: int) -> bool:
    return await export_transactions(db) <= n


async def test_exports_beyond_a_callers_limit_are_refused_with_429(registry_small_pool, db):
    await add_many(db)
    first = Stalled(registry_small_pool.port, EXPORT, official("busy"))
    try:
        assert first.status == 200
        async with httpx.AsyncClient(base_url=registry_small_pool.url, timeout=30) as http:
            r = await http.get(EXPORT, headers=official("busy"))
            assert r.status_code == 429, r.text[:300]
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["code"] == "too_many_exports" and int(r.headers["retry-after"]) >= 1
            other = await http.get(EXPORT, headers=official("someone-else"))
            assert other.status_code == 200 and other.content.count(b"\n") == HEAVY_ROWS + 1
    finally:
        first.close()
    await until(lambda: _at_most(db, 0))


async def test_a_client_that_stops_reading_is_dropped_and_its_cursor_freed(database_url, db):
    await add_many(db)
    server = start_live(
        "registry",
        env={
            "EAGLET_EXPORT__CONNECTIONS": "1",
            "EAGLET_EXPORT__PER_CALLER": "1",
            "EAGLET_EXPORT__SEND_TIMEOUT_S": "1",
        },
    )
    stalled = None
    try:
        stalled = Stalled(server.port, EXPORT, official("sleepy"))
        assert stalled.status == 200
        await until(lambda: _at_least(db, 1))
        # Dropped after the send timeout: its transaction (the cursor) ends although the client
        # never reads or closes; the caller's export slot and the export connection are free again.
        await until(lambda: _at_most(db, 0))
        # It was dropped, not finished: what the kernel held arrives, then the connection closes
        # without the chunked body's last chunk.
        rest = await asyncio.to_thread(stalled.read_to_end)
        assert not rest.endswith(b"0\r\n\r\n")
        assert (stalled.head + rest.decode("utf-8", "replace")).count("\n") < HEAVY_ROWS
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            again = await http.get(EXPORT, headers=official("sleepy"))
            assert again.status_code == 200 and again.content.count(b"\n") == HEAVY_ROWS + 1
    finally:
        if stalled:
            stalled.close()
        server.stop()


# ---- the read pool's share per caller and the read timeout (in-process) ----------------------


async def _app_client(db_settings: DatabaseSettings) -> AsyncIterator[tuple]:
    app = create_app(get_settings().model_copy(update={"db": db_settings}))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry.test", timeout=30) as c:
        yield app, c
    await readpool.close_read_pool(app)
    await app.state.engine.dispose()


@pytest.fixture
async def one_turn_each(database_url):
    """The registry with 4 read connections, at most one per caller."""
    async for pair in _app_client(DatabaseSettings(read_pool_size=4, read_pool_per_caller=1)):
        yield pair


async def test_a_callers_searches_wait_for_their_own_share_while_others_are_served(one_turn_each, db):
    app, c = one_turn_each
    code = await add_enterprise(db, name="杭州共享测试有限公司", region_code="330106")
    searcher = official("searcher")
    me = readpool.caller_key(verify_principal(searcher[PRINCIPAL_HEADER]))
    async with readpool.pools_of(app).connection(caller=me):  # the searcher's one turn is taken
        search = asyncio.create_task(c.get("/v1/enterprises", params={"q": "有限公司"}, headers=searcher))
        bank = await c.get(f"/v1/enterprises/{code}", headers=principal_headers("bank", org="B001"))
        assert bank.status_code == 200
        other = await c.get("/v1/enterprises", params={"q": "有限公司"}, headers=official("another"))
        assert other.status_code == 200 and [i["credit_code"] for i in other.json()["items"]] == [code]
        assert not search.done(), "the searcher's statement ran beyond their share"
    r = await asyncio.wait_for(search, 15)
    assert r.status_code == 200 and [i["credit_code"] for i in r.json()["items"]] == [code]


@pytest.fixture
async def quick_timeout(database_url):
    async for pair in _app_client(DatabaseSettings(read_statement_timeout_ms=200)):
        yield pair


async def test_a_search_past_the_read_timeout_is_a_422_query_too_broad_problem(quick_timeout, database_url):
    import asyncpg

    from services.common.db import plain_url

    app, c = quick_timeout
    locker = await asyncpg.connect(plain_url(database_url))
    try:
        # Every list statement reads registry.titles: while the table is locked they wait, and the
        # read timeout cancels them.
        tx = locker.transaction()
        await tx.start()
        await locker.execute("LOCK TABLE registry.titles IN ACCESS EXCLUSIVE MODE")
        for params in ({"q": "有限公司"}, {"region": "3301"}):
            r = await c.get("/v1/enterprises", params=params, headers=official("patient", "330000"))
            assert r.status_code == 422, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["code"] == "query_too_broad" and int(r.headers["retry-after"]) >= 1
        await tx.rollback()
        r = await c.get("/v1/enterprises", params={"q": "有限公司"}, headers=official("patient", "330000"))
        assert r.status_code == 200
    finally:
        await locker.close()


async def test_the_fast_routes_query_too_broad_is_the_routes_byte_for_byte(database_url, routes_only):
    """A statement past the read timeout is answered by the fast route itself (a final problem):
    the same bytes and headers as the FastAPI route's answer to the same request."""
    import asyncpg

    from services.common.db import plain_url

    settings = get_settings().model_copy(update={"db": DatabaseSettings(read_statement_timeout_ms=200)})
    slow_c = routes_only("registry", settings)
    locker = await asyncpg.connect(plain_url(database_url))
    try:
        async for _app, fast_c in _app_client(DatabaseSettings(read_statement_timeout_ms=200)):
            tx = locker.transaction()
            await tx.start()
            await locker.execute("LOCK TABLE registry.titles IN ACCESS EXCLUSIVE MODE")
            headers = {**official("patient", "330000"), "X-Request-ID": "rid-too-broad"}
            for params in ({"q": "有限公司"}, {"region": "3301"}):
                fast = await fast_c.get("/v1/enterprises", params=params, headers=headers)
                slow = await slow_c.get("/v1/enterprises", params=params, headers=headers)
                assert fast.status_code == slow.status_code == 422, fast.text
                assert fast.content == slow.content
                for name in ("content-type", "content-length", "retry-after", "x-request-id"):
                    assert fast.headers.get(name) == slow.headers.get(name), name
            await tx.rollback()
    finally:
        await locker.close()

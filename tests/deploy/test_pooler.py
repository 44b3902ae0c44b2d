"""The processes' database settings of the manifests, through a real PgBouncer in transaction
mode (Debian's `pgbouncer`; .ci/run installs it): what Pooler eaglet-db-pooler-rw gives the
services and the gateway.

Two server connections for twenty clients, so that consecutive statements of one client land on
different server connections: with the manifests' EAGLET_DB__STATEMENT_CACHE_SIZE=0 every read and
every transaction succeeds, on the engine and on the read pool; with asyncpg's default cache the
same load fails (the control, showing the load does move clients between server connections).
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from services.common.db import create_engine
from services.common.readpool import ReadPools
from services.common.settings import Settings
from tests.deploy.conftest import render

CLIENTS = 20
ROUNDS = 30
# What CloudNativePG appends to a Pooler's ignore_startup_parameters (pkg/management/pgbouncer/config).
CNPG_IGNORED = "extra_float_digits,options"


def _pgbouncer() -> str:
    path = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None
    )
    if path is None:
        pytest.fail("pgbouncer is needed (Debian: apt-get install pgbouncer)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _manifest_pooler() -> dict:
    (pooler,) = [d for d in render("prod") if d["kind"] == "Pooler" and d["spec"]["type"] == "rw"]
    return pooler["spec"]["pgbouncer"]


def _manifest_cache_size() -> int:
    (config,) = [d for d in render("prod") if d["kind"] == "ConfigMap"]
    return int(config["data"]["EAGLET_DB__STATEMENT_CACHE_SIZE"])


@pytest.fixture(scope="module")
def pooled_url(database_url: str) -> Iterator[str]:
    """The test database behind a PgBouncer configured as the manifests' read-write Pooler."""
    url = make_url(database_url)
    socket_dir = parse_qs(url.render_as_string().partition("?")[2]).get("host", [url.host or ""])[0]
    server = f"host={socket_dir}" + (f" port={url.port}" if url.port else "")
    bouncer = _manifest_pooler()
    assert bouncer["poolMode"] == "transaction"
    ignored = ",".join(filter(None, [bouncer["parameters"].get("ignore_startup_parameters"), CNPG_IGNORED]))
    port = _free_port()
    folder = Path(tempfile.mkdtemp(prefix="eaglet-pgbouncer-"))
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\n* = {server} user={url.username}\n\n[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\nauth_type = any\n"
        f"pool_mode = {bouncer['poolMode']}\ndefault_pool_size = 2\nmax_client_conn = 200\n"
        f"ignore_startup_parameters = {ignored}\nlogfile = {folder / 'pgbouncer.log'}\n"
    )
    command = [_pgbouncer(), str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root: as the owner of the server's socket
        owner = os.stat(socket_dir).st_uid if socket_dir.startswith("/") else pwd.getpwnam("nobody").pw_uid
        command[1:1] = ["-u", pwd.getpwuid(owner).pw_name]
        shutil.chown(folder, user=owner)
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"pgbouncer did not start: {proc.stderr.read().decode() if proc.stderr else ''}"
                    )
                time.sleep(0.05)
        yield f"postgresql://{url.username}@127.0.0.1:{port}/{url.database}"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def _settings(url: str, cache: int) -> Settings:
    s = Settings(database_url=url)
    return s.model_copy(
        update={"db": s.db.model_copy(update={"statement_cache_size": cache, "pool_size": CLIENTS})}
    )


async def _engine_load(settings: Settings) -> tuple[int, list[str]]:
    engine = create_engine(settings, "eaglet-pooler-test")
    reads = engine.execution_options(isolation_level="AUTOCOMMIT")  # as unit_of_work reads
    done, failed = 0, []

    async def client(i: int) -> None:
        nonlocal done
        for n in range(ROUNDS):
            try:
                async with reads.connect() as conn:
                    await conn.execute(text(f"SELECT :n + {n % 5}"), {"n": n})
                async with engine.begin() as conn:  # as unit_of_work writes
                    await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 7_400_000 + i})
                    await conn.execute(text(f"SELECT :n * {n % 3}"), {"n": n})
                done += 1
            except Exception as e:
                failed.append(f"{type(e).__name__}: {e}"[:120])

    try:
        await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    finally:
        await engine.dispose()
    return done, failed


async def _read_pool_load(settings: Settings) -> tuple[int, list[str]]:
    settings = settings.model_copy(update={"db": settings.db.model_copy(update={"read_pool_size": CLIENTS})})
    pools = ReadPools(settings, "registry")
    done, failed = 0, []

    async def client() -> None:
        nonlocal done
        pool = await pools.read_pool()
        for n in range(ROUNDS):
            try:
                async with pool.acquire() as conn:
                    await conn.fetchval(f"SELECT $1::int + {n % 5}", n)
                done += 1
            except Exception as e:
                failed.append(f"{type(e).__name__}: {e}"[:120])

    try:
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
    finally:
        await pools.close()
    return done, failed


async def test_the_manifests_cache_setting_works_through_transaction_pooling(pooled_url):
    cache = _manifest_cache_size()
    assert cache == 0
    done, failed = await _engine_load(_settings(pooled_url, cache))
    assert (done, failed[:3]) == (CLIENTS * ROUNDS, [])
    done, failed = await _read_pool_load(_settings(pooled_url, cache))
    assert (done, failed[:3]) == (CLIENTS * ROUNDS, [])


async def test_the_default_cache_fails_through_transaction_pooling(pooled_url):
    """Errors, with pre-ping off. With it on (the default) the failure is worse: the ping's own
    prepared statement fails inside its transaction and the server connections stay held in
    aborted transactions, so every other client of the pooler waits (docs/deploy.md)."""
    settings = _settings(pooled_url, 100)
    settings = settings.model_copy(update={"db": settings.db.model_copy(update={"pre_ping": False})})
    done, failed = await _engine_load(settings)
    assert failed and any("prepared statement" in f for f in failed)
    done, failed = await _read_pool_load(_settings(pooled_url, 100))
    assert failed and any("prepared statement" in f for f in failed)


async def test_the_pooler_drops_the_startup_statement_timeout(pooled_url):
    """Why the Cluster sets the database's default timeout: the one the engine sends at startup
    does not reach the server through PgBouncer (which would refuse it, were it not ignored)."""
    import asyncpg

    conn = await asyncpg.connect(
        pooled_url, statement_cache_size=0, server_settings={"statement_timeout": "1234"}
    )
    try:
        assert await conn.fetchval("SHOW statement_timeout") != "1234ms"
    finally:
        await conn.close()


async def _gateway_behind_the_pooler(
    pooled_url: str, listen_url: str, live_services, database_url: str
) -> bool:
    """A live gateway with its engine through the pooler (cache off) and its LISTEN connection on
    `listen_url`: it serves an API key; then the key is revoked from another process. Whether
    the gateway refused the key within 2 s (the cache TTL is 10 s: only the notification can)."""
    import uuid
    from decimal import Decimal

    import httpx

    from gateway.clients.schemas import ClientCreate
    from gateway.clients.service import create_client, revoke_client
    from services.common.auth import Principal
    from services.common.db import create_sessionmaker
    from tests.gateway.conftest import bearer, start_gateway

    direct = _settings(database_url, 100)
    engine = create_engine(
        direct.model_copy(update={"db": direct.db.model_copy(update={"pool": "null"})}), "eaglet-test"
    )
    sessions = create_sessionmaker(engine)
    admin = Principal(sub="test", kind="admin")
    env = {
        "EAGLET_DATABASE_URL": pooled_url,
        "EAGLET_DB__STATEMENT_CACHE_SIZE": "0",
        "EAGLET_DB__LISTEN_URL": listen_url,
    }
    server = start_gateway(live_services, env)
    try:
        async with sessions() as session:
            data = ClientCreate(kind="bank", name="pooled bank", org="B-POOL", rate_per_s=Decimal("1000"))
            created = await create_client(session, admin, data)
            await session.commit()
        url = server.url + "/finance/v1/whoami"
        async with httpx.AsyncClient(timeout=15) as http:
            answers = await asyncio.gather(*(http.get(url, headers=bearer(created.key)) for _ in range(20)))
            assert [r.status_code for r in answers] == [200] * 20, answers[0].text
            async with sessions() as session:  # as `eaglet clients revoke` does, from another process
                await revoke_client(session, admin, uuid.UUID(str(created.id)))
                await session.commit()
            revoked = time.monotonic()
            while time.monotonic() - revoked < 2:
                if (await http.get(url, headers=bearer(created.key))).status_code == 401:
                    return True
                await asyncio.sleep(0.05)
            return False
    finally:
        server.stop()
        await engine.dispose()


async def test_a_gateway_behind_the_pooler_hears_revocations_on_its_listen_url(
    pooled_url, live_services, database_url
):
    assert await _gateway_behind_the_pooler(pooled_url, database_url, live_services, database_url)


async def test_a_listen_through_the_pooler_hears_nothing(pooled_url, live_services, database_url):
    """Why EAGLET_DB__LISTEN_URL: LISTEN through transaction pooling registers on a server
    connection the client no longer holds; the notification never reaches the gateway."""
    assert not await _gateway_behind_the_pooler(pooled_url, pooled_url, live_services, database_url)

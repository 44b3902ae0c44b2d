"""Test harness: one real PostgreSQL per run (embedded in a temp folder, or TEST_DATABASE_URL),
migrated with Alembic, tables emptied before each test; apps called in-process over ASGI or as
real uvicorn servers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable

import asyncpg
import httpx
import pytest

from services.common.auth import principal_headers
from services.common.db import plain_url
from services.common.settings import get_settings
from tests.support import SERVICE_FACTORIES, LiveServer, start_live

# Tables holding reference data loaded by migrations: never emptied between tests.
KEEP_TABLES: set[str] = {
    "public.alembic_version",
    "public.eaglet_seeds",
    "registry.programme_targets",
    "registry.programme_indicators",
}
# The service schemas, and the job queue's (procrastinate's jobs, events and workers: a job left
# queued by one test must not run in the next one's worker).
SCHEMAS = ("registry", "finance", "standards", "gateway", "jobs")
TEST_DB = "eaglet_test"
# The embedded server of the run (None on TEST_DATABASE_URL): tests/standby.py starts its standby.
EMBEDDED: dict[str, object] = {}


def _create_database(admin_url: str, name: str) -> str:
    import asyncio

    async def go() -> None:
        conn = await asyncpg.connect(plain_url(admin_url))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(go())
    from sqlalchemy.engine import make_url

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _login_as_roles(url: str) -> dict[str, str]:
    """Every process of the run connects as its own role (docs/roles.md), as deployed: the roles
    get LOGIN and a test password (`eaglet db-roles` does the same), and each process's URL
    (EAGLET_FINANCE__DATABASE_URL, …) is exported. EAGLET_DATABASE_URL stays the owner's: the
    migrations, the `db` fixture arranging and checking data, the CLI."""
    import asyncio

    from services.cli.roles import ROLES, URL_VARIABLES, ensure_roles, role_url

    urls = {URL_VARIABLES[p]: role_url(url, role, f"eaglet-test-{role}-0000") for p, role in ROLES.items()}
    os.environ.update(urls)
    get_settings.cache_clear()
    asyncio.run(ensure_roles(url, get_settings()))
    return urls


@pytest.fixture(scope="session")
def database_url() -> str:
    """A migrated, empty database for this run; its URL (the owner's) is also exported as
    EAGLET_DATABASE_URL, and each process's own URL (its role's) as EAGLET_<PROCESS>__DATABASE_URL."""
    pg = None
    tmp = None
    admin_url = os.environ.get("TEST_DATABASE_URL")
    if not admin_url:
        from services.common.embedded_pg import EmbeddedPostgres

        tmp = tempfile.mkdtemp(prefix="eaglet-test-")
        pg = EmbeddedPostgres(os.path.join(tmp, "pgdata"), delete_on_stop=True)
        admin_url = pg.url("postgres")
        EMBEDDED["server"] = pg
    url = _create_database(admin_url, TEST_DB)
    os.environ["EAGLET_DATABASE_URL"] = url
    os.environ["EAGLET_ENV"] = "dev"
    submissions = tempfile.mkdtemp(prefix="eaglet-test-submissions-")  # files the tests upload
    os.environ["EAGLET_SUBMISSIONS__DIR"] = submissions
    os.environ.setdefault("EAGLET_LOG_LEVEL", "WARNING")
    get_settings.cache_clear()

    from services.cli import run_migrations

    run_migrations(url)
    _login_as_roles(url)
    yield url
    if pg is not None:
        pg.stop()
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(submissions, ignore_errors=True)


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A raw connection for arranging data and checking what was written."""
    conn = await asyncpg.connect(plain_url(database_url))
    yield conn
    await conn.close()


@pytest.fixture(scope="session")
async def _truncate_sql(db: asyncpg.Connection) -> str | None:
    rows = await db.fetch(
        "SELECT schemaname || '.' || tablename AS t FROM pg_tables WHERE schemaname = ANY($1::text[])",
        list(SCHEMAS),
    )
    tables = sorted(r["t"] for r in rows if r["t"] not in KEEP_TABLES)
    return f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE" if tables else None


@pytest.fixture(autouse=True)
async def clean_db(db: asyncpg.Connection, _truncate_sql: str | None) -> None:
    """Every test starts from empty service tables (reference data kept)."""
    if _truncate_sql:
        await db.execute(_truncate_sql)


@pytest.fixture(scope="session")
def apps(database_url: str) -> dict:
    """One in-process app per service, shared by the run (engines bound to the session loop)."""
    return {name: factory() for name, factory in SERVICE_FACTORIES.items()}


@pytest.fixture
async def routes_only(database_url: str) -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """`routes_only("registry")` → a client for that service built without its fast routes, so
    every request is answered by the FastAPI routes: the reference a fast route must equal."""
    from services.common.app import create_service_app
    from services.common.readpool import close_read_pool
    from services.finance.app import ROUTERS as FINANCE
    from services.registry.app import ROUTERS as REGISTRY
    from services.standards.app import ROUTERS as STANDARDS

    routers = {"registry": REGISTRY, "finance": FINANCE, "standards": STANDARDS}
    made: list[tuple[object, httpx.AsyncClient]] = []

    def make(name: str, settings=None) -> httpx.AsyncClient:
        app = create_service_app(
            name, title=name, description="routes only", routers=routers[name], settings=settings
        )
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url="http://routed.test", timeout=30)
        made.append((app, client))
        return client

    yield make
    for app, client in made:
        await client.aclose()
        await close_read_pool(app)
        await app.state.engine.dispose()


@pytest.fixture
def client_for(apps: dict) -> Callable[[str], httpx.AsyncClient]:
    """`client_for("registry")` → an httpx client calling that app in-process."""
    made: list[httpx.AsyncClient] = []

    def make(name: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=apps[name], raise_app_exceptions=False)
        c = httpx.AsyncClient(transport=transport, base_url=f"http://{name}.test", timeout=30)
        made.append(c)
        return c

    return make


@pytest.fixture
def as_(database_url: str) -> Callable[..., dict[str, str]]:
    """`as_("bank", org="B001")` → headers with a freshly signed principal of that caller."""

    def headers(
        kind: str = "admin", org: str | None = None, region: str | None = None, **kw
    ) -> dict[str, str]:
        return principal_headers(kind=kind, org=org, region=region, **kw)

    return headers


@pytest.fixture(scope="session")
def live_services(database_url: str) -> AsyncIterator[dict[str, LiveServer]]:
    """Real uvicorn processes for registry, finance and standards (started once per run)."""
    servers = {name: start_live(name) for name in ("registry", "finance", "standards")}
    yield servers
    for s in servers.values():
        s.stop()


@pytest.fixture
async def in_process_worker(database_url):
    """`await in_process_worker(settings=None)`: the job worker (services/jobs/worker.py) running
    on this test's event loop, with short intervals (tests.support.fast_worker_settings);
    stopped, its running jobs finished or aborted, when the test ends."""
    import asyncio

    from services.jobs.worker import run
    from tests.support import fast_worker_settings

    started: list[tuple[asyncio.Event, asyncio.Task]] = []

    async def start(settings=None) -> asyncio.Task:
        stop = asyncio.Event()
        task = asyncio.create_task(run(settings or fast_worker_settings(), stop))
        started.append((stop, task))
        return task

    yield start
    for stop, _ in started:
        stop.set()
    for _, task in started:
        await asyncio.wait_for(task, 60)


@pytest.fixture(scope="session")
def settings_forged(database_url: str):
    """Settings whose internal key is not the services' key (to forge principals)."""
    from pydantic import SecretStr

    return get_settings().model_copy(
        update={"internal_key": SecretStr("some-other-key-entirely-000000000000")}
    )


@pytest.fixture
async def connect(database_url: str) -> AsyncIterator[Callable[[], asyncpg.Connection]]:
    """`await connect()` → a raw connection of its own (to hold a transaction open beside
    others); every one made is closed when the test ends."""
    made: list[asyncpg.Connection] = []

    async def make() -> asyncpg.Connection:
        conn = await asyncpg.connect(plain_url(database_url))
        made.append(conn)
        return conn

    yield make
    for conn in made:
        await conn.close()

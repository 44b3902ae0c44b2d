"""A benchmark's database: a named scratch database, migrated, filled by the benchmark's generator.

The server is the one DATABASE_URL (or EAGLET_DATABASE_URL) names, else an embedded PostgreSQL in
a temp folder, removed when the benchmark stops. The scratch database is dropped and created again
on every run, unless the benchmark passes a `keep_if` check (its `--reuse`) and the database
exists and holds what the check expects: then it is kept and the generator does not run. Either
way it is migrated to head, and this process and the services it starts read it from
EAGLET_DATABASE_URL.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

# A check on a database found in place: True when it holds the data the benchmark expects.
Check = Callable[[asyncpg.Connection], Awaitable[bool]]
# Fills a fresh database (after the migrations).
Generator = Callable[[asyncpg.Connection], Awaitable[object]]


@dataclass
class BenchDatabase:
    url: str  # the services' form (SQLAlchemy URL); `dsn` for asyncpg
    dsn: str
    fresh: bool  # created in this run (False: kept by `keep_if`)
    generated_s: float | None  # how long the generator took (None: it did not run)
    embedded: object | None = None  # the EmbeddedPostgres to stop, if this run started one
    tmp: str | None = None

    def stop(self) -> None:
        """Stop the embedded server, if any, and remove its folder (a scratch database on a
        server of yours is left for a later --reuse)."""
        if self.embedded is not None:
            self.embedded.stop()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def generated_enterprises(count: int) -> Check:
    """The check for a registry loaded by `services.registry.seed.generate`: exactly `count`
    generated enterprises (their credit codes carry a G at position 9)."""

    async def holds(conn: asyncpg.Connection) -> bool:
        try:
            have = await conn.fetchval(
                "SELECT count(*) FROM registry.enterprises WHERE substr(credit_code, 9, 1) = 'G'"
            )
        except asyncpg.UndefinedTableError:  # a database that was never migrated
            return False
        return have == count

    return holds


async def prepare(
    name: str, *, keep_if: Check | None = None, generate: Generator | None = None
) -> BenchDatabase:
    """The scratch database `name`, migrated (see the module's docstring). The caller stops it."""
    from sqlalchemy.engine import make_url

    from services.cli import run_migrations
    from services.common.db import plain_url
    from services.common.settings import get_settings

    embedded = tmp = None
    server_url = os.environ.get("DATABASE_URL") or os.environ.get("EAGLET_DATABASE_URL")
    if not server_url:
        from services.common.embedded_pg import EmbeddedPostgres

        tmp = tempfile.mkdtemp(prefix="eaglet-bench-")
        embedded = EmbeddedPostgres(Path(tmp) / "pgdata", delete_on_stop=True)
        server_url = embedded.url("postgres")
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    db = BenchDatabase(url=url, dsn=plain_url(url), fresh=True, generated_s=None, embedded=embedded, tmp=tmp)
    try:
        admin = await asyncpg.connect(plain_url(server_url))
        try:
            if keep_if is not None and await admin.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", name
            ):
                probe = await asyncpg.connect(db.dsn)
                try:
                    db.fresh = not await keep_if(probe)
                finally:
                    await probe.close()
            if db.fresh:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        os.environ["EAGLET_DATABASE_URL"] = url
        os.environ.setdefault("EAGLET_LOG_LEVEL", "WARNING")
        get_settings.cache_clear()
        await asyncio.to_thread(run_migrations, url)
        if db.fresh and generate is not None:
            conn = await asyncpg.connect(db.dsn)
            try:
                started = time.perf_counter()
                await generate(conn)
                db.generated_s = time.perf_counter() - started
            finally:
                await conn.close()
    except BaseException:
        db.stop()
        raise
    return db

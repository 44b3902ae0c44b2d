"""Least privilege: what each service's database role may do, granted here (docs/roles.md).

One role per process — eaglet_registry, eaglet_finance, eaglet_standards, eaglet_gateway and
eaglet_worker — and the owner, the role that runs `eaglet migrate` (it creates, and so owns, every
schema and table; it alone may alter them). The roles are created NOLOGIN here when missing, so a
migration never needs a manual step first; `eaglet db-roles` gives them LOGIN and a password
(or the platform does: CloudNativePG's managed roles exist before the first migration, and then
the migration creates nothing). Roles belong to the server, not the database: the downgrade
revokes what this revision granted and leaves the roles.

- Each service reads and writes its own schema: every table, view and sequence now, and every
  one its later migrations create (`ALTER DEFAULT PRIVILEGES FOR ROLE <owner> IN SCHEMA …`).
- Append-only tables (every schema's `changes`, `standards.certificate_history`): their service
  may SELECT and INSERT, nobody but the owner UPDATE or DELETE (their triggers refuse even the
  owner's). No role but the owner may TRUNCATE anything. A later append-only table revokes the
  same way in its own migration: the default privileges grant UPDATE and DELETE.
- Finance and standards read the registry only through its published views
  (docs/contracts.md): `enterprise_directory`, `enterprise_sizes`, `scale_status_history`,
  `programme_target_directory`. The views run with their owner's rights, so the readers need
  nothing on the tables below them. The gateway reads only `programme_target_directory` (the
  progress bulletin; its profile calls the services over HTTP).
- The registry defers its jobs in its own transactions (services/common/jobs.py calls
  `jobs.procrastinate_defer_jobs_v1`, which inserts the job and, through procrastinate's
  trigger, its event).
- The worker: procrastinate's schema `jobs` entirely (now and later tables); the registry's
  tables read by its tasks, written where its tasks write (job status, screenings and their
  results, export files, the cached titles of enterprises and the summaries their triggers keep,
  the change log by INSERT); the webhook dispatcher's gateway tables and the feeds it reads
  (each schema's `changes` and the rows that decide who may see an event); retention and the
  Idempotency-Key purge in every schema.

A new table in another service's schema that a role needs is granted by the migration adding it.

Revision ID: 0021_roles_grants
Revises: 0020_gateway_webhooks
"""

from alembic import op
from sqlalchemy import text

revision = "0021_roles_grants"
down_revision = "0020_gateway_webhooks"
branch_labels = None
depends_on = None

# The schema each service owns, and its role.
OWN = {
    "registry": "eaglet_registry",
    "finance": "eaglet_finance",
    "standards": "eaglet_standards",
    "gateway": "eaglet_gateway",
}
WORKER = "eaglet_worker"
ROLES = (*OWN.values(), WORKER)

APPEND_ONLY = {
    "registry": ("changes",),
    "finance": ("changes",),
    "standards": ("changes", "certificate_history"),
    "gateway": ("changes",),
}

REGISTRY_VIEWS = (
    "enterprise_directory",
    "enterprise_sizes",
    "scale_status_history",
    "programme_target_directory",
)
VIEW_READERS = {
    "eaglet_finance": REGISTRY_VIEWS,
    "eaglet_standards": REGISTRY_VIEWS,
    "eaglet_gateway": ("programme_target_directory",),
}

# The registry's defer (procrastinate_defer_jobs_v1 runs with the caller's rights).
REGISTRY_QUEUE = {
    "jobs.procrastinate_jobs": "SELECT, INSERT",
    "jobs.procrastinate_events": "INSERT",
}

# The worker outside schema `jobs` (which it has whole): table → privileges. Beside these it
# reads every registry table (its tasks evaluate and export the registry).
WORKER_TABLES = {
    # job status (services/common/jobs.py), retention of finished jobs
    "registry.jobs": "UPDATE, DELETE",
    # background screenings (registry/pool/tasks.py, evaluation.py)
    "registry.screenings": "UPDATE",
    "registry.screening_results": "INSERT, DELETE",
    # asynchronous exports and their expiry (registry/exports/)
    "registry.export_files": "INSERT, UPDATE, DELETE",
    "registry.export_chunks": "INSERT, DELETE",
    # the title refresh (registry/titles/): the cached titles, and the summaries and data
    # version its statement triggers keep (registry/stats/db.py)
    "registry.enterprises": "UPDATE (active_titles, titles_until)",
    "registry.region_year_summaries": "INSERT, UPDATE, DELETE",
    # what its tasks log
    "registry.changes": "INSERT",
    # the feeds the webhook dispatcher reads, and what decides who may see their events
    "finance.changes": "SELECT",
    "finance.loans": "SELECT",
    "finance.credit_lines": "SELECT",
    "finance.loan_applications": "SELECT",
    "finance.guarantees": "SELECT",
    "standards.changes": "SELECT",
    "standards.certificates": "SELECT",
    "standards.standards": "SELECT",
    "gateway.changes": "SELECT",
    # the dispatcher (gateway/webhooks/dispatcher.py) and its retention
    "gateway.api_clients": "SELECT",
    "gateway.webhook_endpoints": "SELECT, UPDATE",
    "gateway.webhook_secrets": "SELECT",
    "gateway.webhook_cursors": "SELECT, UPDATE",
    "gateway.webhook_deliveries": "SELECT, INSERT, UPDATE, DELETE",
    "gateway.webhook_attempts": "SELECT, INSERT, DELETE",
    # the hourly purge of expired Idempotency-Keys (services/common/idempotency.py)
    "registry.idempotency_keys": "SELECT, DELETE",
    "finance.idempotency_keys": "SELECT, DELETE",
    "standards.idempotency_keys": "SELECT, DELETE",
    "gateway.idempotency_keys": "SELECT, DELETE",
}
WORKER_SEQUENCES = ("registry.data_version",)

DML = "SELECT, INSERT, UPDATE, DELETE"


def _ident(name: str) -> str:
    return op.get_bind().dialect.identifier_preparer.quote(name)


def _owner() -> str:
    return op.get_bind().execute(text("SELECT current_user")).scalar_one()


def _database() -> str | None:
    """The database, when the migrating role may grant on it (its owner, or a superuser); else
    None: its CONNECT and TEMPORARY stay PUBLIC's, as PostgreSQL creates every database."""
    return (
        op.get_bind()
        .execute(
            text(
                "SELECT datname FROM pg_database WHERE datname = current_database() AND "
                "(datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user) "
                "OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user))"
            )
        )
        .scalar_one_or_none()
    )


def _schemas_of(tables) -> list[str]:
    return sorted({t.split(".")[0] for t in tables})


def upgrade() -> None:
    for role in ROLES:
        # CREATE ROLE needs CREATEROLE; a server whose roles exist already (eaglet db-roles, the
        # platform's managed roles) asks nothing of the migration's role here.
        op.execute(
            f"""DO $$ BEGIN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                BEGIN
                  CREATE ROLE {role} NOLOGIN;
                EXCEPTION WHEN insufficient_privilege THEN
                  RAISE EXCEPTION 'role {role} does not exist and % may not create it', current_user
                    USING HINT = 'run eaglet db-roles first, as a role that may create roles';
                END;
              END IF;
            END $$"""
        )
    owner = _ident(_owner())
    everyone = ", ".join(ROLES)
    if database := _database():
        op.execute(f"GRANT CONNECT, TEMPORARY ON DATABASE {_ident(database)} TO {everyone}")

    for schema, role in OWN.items():
        op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        op.execute(f"GRANT {DML} ON ALL TABLES IN SCHEMA {schema} TO {role}")
        op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}")
        op.execute(f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {schema} TO {role}")
        op.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} GRANT {DML} ON TABLES TO {role}"
        )
        op.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
            f"GRANT USAGE, SELECT ON SEQUENCES TO {role}"
        )
        op.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} GRANT EXECUTE ON FUNCTIONS TO {role}"
        )
        for table in APPEND_ONLY[schema]:
            op.execute(f"REVOKE UPDATE, DELETE ON {schema}.{table} FROM {role}")

    for role, views in VIEW_READERS.items():
        op.execute(f"GRANT USAGE ON SCHEMA registry TO {role}")
        op.execute(f"GRANT SELECT ON {', '.join(f'registry.{v}' for v in views)} TO {role}")

    op.execute("GRANT USAGE ON SCHEMA jobs TO eaglet_registry")
    for table, privileges in REGISTRY_QUEUE.items():
        op.execute(f"GRANT {privileges} ON {table} TO eaglet_registry")
    op.execute(
        "GRANT USAGE ON SEQUENCE jobs.procrastinate_jobs_id_seq, jobs.procrastinate_events_id_seq TO eaglet_registry"
    )
    op.execute("GRANT EXECUTE ON FUNCTION jobs.procrastinate_defer_jobs_v1 TO eaglet_registry")

    op.execute(f"GRANT USAGE ON SCHEMA jobs TO {WORKER}")
    op.execute(f"GRANT {DML} ON ALL TABLES IN SCHEMA jobs TO {WORKER}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA jobs TO {WORKER}")
    op.execute(f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA jobs TO {WORKER}")
    op.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA jobs GRANT {DML} ON TABLES TO {WORKER}")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA jobs "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {WORKER}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA jobs GRANT EXECUTE ON FUNCTIONS TO {WORKER}"
    )
    for schema in _schemas_of(WORKER_TABLES):
        op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {WORKER}")
    op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA registry TO {WORKER}")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA registry GRANT SELECT ON TABLES TO {WORKER}"
    )
    for table, privileges in WORKER_TABLES.items():
        op.execute(f"GRANT {privileges} ON {table} TO {WORKER}")
    for sequence in WORKER_SEQUENCES:
        op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {sequence} TO {WORKER}")


def downgrade() -> None:
    owner = _ident(_owner())
    everyone = ", ".join(ROLES)
    schemas = (*OWN, "jobs")
    for schema in schemas:
        op.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} REVOKE ALL ON TABLES FROM {everyone}"
        )
        op.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} REVOKE ALL ON SEQUENCES FROM {everyone}"
        )
        op.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} REVOKE ALL ON FUNCTIONS FROM {everyone}"
        )
        op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {everyone}")
        op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {everyone}")
        op.execute(f"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {schema} FROM {everyone}")
        op.execute(f"REVOKE ALL ON SCHEMA {schema} FROM {everyone}")
    if database := _database():
        op.execute(f"REVOKE ALL ON DATABASE {_ident(database)} FROM {everyone}")

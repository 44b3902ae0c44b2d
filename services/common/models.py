"""Declarative base with the constraint naming convention, and the tables every schema has."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import UserDefinedType

SCHEMAS = ("registry", "finance", "standards", "gateway")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Base(DeclarativeBase):
    metadata = metadata


class XID8(UserDefinedType):
    """PostgreSQL's 64-bit transaction id (`xid8`); asyncpg reads it as an int."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "XID8"


# so that reflection (autogenerate, `alembic check`) knows the type it is compared with
ischema_names.setdefault("xid8", XID8)


def changes_table(schema: str) -> Table:
    """Append-only change log: the audit trail and the source of change feeds.

    `xid` is the writing transaction's id: the feed orders by (xid, seq) and serves a row only once
    its transaction is below every running one (`changes.changes_after`); `seq` alone is handed
    out before commit, so it is not commit order.
    """
    return Table(
        "changes",
        metadata,
        Column("seq", BigInteger, Identity(), primary_key=True),
        Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("actor_subject", Text, nullable=False),
        Column("actor_kind", String(16), nullable=False),
        Column("actor_org", Text),
        Column("action", String(32), nullable=False),
        Column("entity_type", String(64), nullable=False),
        Column("entity_key", Text, nullable=False),
        Column("before", JSONB),
        Column("after", JSONB),
        Column("request_id", Text),
        Column("xid", XID8(), nullable=False, server_default=func.pg_current_xact_id()),
        Index("ix_changes_entity_type_entity_key", "entity_type", "entity_key"),
        Index("ix_changes_xid_seq", "xid", "seq"),
        # the feed finds its horizon (the first row of the last N days) by time
        Index("ix_changes_occurred_at", "occurred_at", "xid", "seq"),
        schema=schema,
    )


def idempotency_table(schema: str) -> Table:
    return Table(
        "idempotency_keys",
        metadata,
        Column("owner", Text, primary_key=True),
        Column("key", String(255), primary_key=True),
        Column("request_hash", String(64), nullable=False),
        Column("state", String(16), nullable=False),  # in_flight | done
        Column("status_code", Integer),
        Column("content_type", Text),
        Column("response_body", LargeBinary),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("completed_at", DateTime(timezone=True)),
        Column("holder", Text),  # the process running the request (host:pid:token)
        Column("claim", Text),  # that run's token
        Column("lease_until", DateTime(timezone=True)),  # free to take over after, unless renewed
        Index("ix_idempotency_keys_created_at", "created_at"),  # expired keys are purged by age
        schema=schema,
    )


def jobs_table(schema: str) -> Table:
    """The status of the jobs a service starts (services/common/jobs.py): what `GET /v1/jobs/{id}`
    answers, whose caller it belongs to, and what its runs wrote.

    The queue itself is procrastinate's (schema `jobs`, `queue_job_id`); it knows nothing of
    owners, progress or results, and removes its finished jobs, so this row is the record.
    `attempt` counts the runs started: a run writes only while the row still carries its number
    (a run taken for dead and started again elsewhere writes nothing more).
    """
    return Table(
        "jobs",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("kind", Text, nullable=False),  # screening | export
        Column("status", Text, nullable=False, server_default="queued"),
        Column("owner_kind", Text, nullable=False),
        Column("owner_sub", Text, nullable=False),
        Column("owner_org", Text),
        Column("owner_region", Text),  # the owner as a principal: a task acts within their scope
        Column("params", JSONB, nullable=False),  # what the task needs (filters, format, request id…)
        Column("subject_id", BigInteger),  # the record it works on (a screening's id)
        Column("queue_job_id", BigInteger),  # jobs.procrastinate_jobs.id (no key: procrastinate prunes)
        Column("attempt", Integer, nullable=False, server_default="0"),
        Column("progress", Integer, nullable=False, server_default="0"),
        Column("total", Integer),
        Column("result", JSONB),
        Column("error", JSONB),  # a problem body (RFC 9457) when it failed
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("started_at", DateTime(timezone=True)),
        Column("updated_at", DateTime(timezone=True)),
        Column("finished_at", DateTime(timezone=True)),
        CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name="status"),
        Index("ix_jobs_kind_subject_id", "kind", "subject_id"),
        Index("ix_jobs_finished_at", "finished_at"),  # retention removes finished jobs by age
        schema=schema,
    )


# Which demo data sets `eaglet up` has loaded (first start only), by seed module name.
SEEDS = Table(
    "eaglet_seeds",
    metadata,
    Column("name", Text, primary_key=True),
    Column("seeded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    schema="public",
)

CHANGES = {s: changes_table(s) for s in SCHEMAS}
IDEMPOTENCY = {s: idempotency_table(s) for s in SCHEMAS}
# The schemas whose service starts jobs (a status resource `GET /v1/jobs/{id}`).
JOB_SCHEMAS = ("registry",)
JOBS = {s: jobs_table(s) for s in JOB_SCHEMAS}

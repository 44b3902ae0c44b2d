"""File submissions of every kind: the kit's tables in standards and registry too, and the
lifecycle columns in all three schemas.

- `owner`: whose the submission is (services/common/submissions/kinds.py `owner_of`: an
  institution's org, or an official's or admin's own `sub`), which the Idempotency-Key is unique
  under; `owner_region`: an official's region (its enterprise batch is scoped by it).
- status `expired` (the sweep: no heartbeat for EAGLET_SUBMISSIONS__STALL_S), `heartbeat_at`,
  and `file_removed_at` (retention deleted the file; summary and findings stay).
- standards defers its submissions' jobs (as finance does since 0027); the worker writes what
  each kind's batch writes: finance's credit lines, applications and guarantees, standards'
  certificates and their history, the registry's enterprises.

Revision ID: 0030_submission_kinds
Revises: 0029_lender_summaries
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0030_submission_kinds"
down_revision = "0029_lender_summaries"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
OLD_STATUSES = "'received', 'validating', 'completed', 'completed_with_errors', 'failed'"
STATUSES = f"{OLD_STATUSES}, 'expired'"
NEW_SCHEMAS = ("standards", "registry")

QUEUE = {
    "jobs.procrastinate_jobs": "SELECT, INSERT",
    "jobs.procrastinate_events": "INSERT",
}
# What the worker's submission tasks write beyond 0027's (each kind's batch, and its own rows).
WORKER_TABLES = {
    "finance.credit_lines": "INSERT, UPDATE",
    "finance.loan_applications": "INSERT, UPDATE",
    "finance.guarantees": "INSERT, UPDATE",
    "standards.submissions": "SELECT, UPDATE",
    "standards.submission_findings": "SELECT, INSERT",
    "standards.certificates": "SELECT, INSERT, UPDATE",
    "standards.certificate_history": "SELECT, INSERT",
    "standards.changes": "INSERT",
    "standards.standards": "SELECT",
    "registry.submissions": "UPDATE",
    "registry.submission_findings": "INSERT",
    "registry.enterprises": "INSERT, UPDATE",
}


def _owner_indexes(schema: str) -> None:
    op.create_index("ix_submissions_owner_kind_owner", "submissions", ["owner_kind", "owner"], schema=schema)
    op.create_index(
        "uq_submissions_owner_idempotency_key",
        "submissions",
        ["owner_kind", "owner", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
        schema=schema,
    )


def _create_tables(schema: str) -> None:
    op.create_table(
        "submissions",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="received"),
        sa.Column("validate_only", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("owner_kind", sa.Text, nullable=False),
        sa.Column("owner_sub", sa.Text, nullable=False),
        sa.Column("owner_org", sa.Text),
        sa.Column("request_id", sa.Text),
        sa.Column("idempotency_key", sa.Text),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("file", sa.Text, nullable=False),
        sa.Column("rule_set_version", sa.Text, nullable=False),
        sa.Column("chunk_rows", sa.Integer, nullable=False),
        sa.Column("chunks_done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_total", sa.Integer),
        sa.Column("rows_done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
        sa.Column("unchanged", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", postgresql.JSONB),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("finished_at", TS),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_submissions_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        schema=schema,
    )
    op.create_table(
        "submission_findings",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("submission_id", sa.BigInteger, nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("key", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("rule", sa.Text),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("pointer", sa.Text, nullable=False),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            [f"{schema}.submissions.id"],
            name=op.f("fk_submission_findings_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_findings")),
        schema=schema,
    )
    op.create_index(
        "ix_submission_findings_submission_id_id",
        "submission_findings",
        ["submission_id", "id"],
        schema=schema,
    )


def _add_lifecycle(schema: str) -> None:
    """The columns 0027's finance table lacks (the new tables get them the same way)."""
    op.add_column("submissions", sa.Column("owner_region", sa.Text), schema=schema)
    op.add_column("submissions", sa.Column("owner", sa.Text), schema=schema)
    op.execute(
        f"UPDATE {schema}.submissions SET owner = CASE WHEN owner_kind IN ('bank', 'guarantor', 'certifier') "
        "THEN owner_org ELSE owner_sub END"
    )
    op.alter_column("submissions", "owner", nullable=False, schema=schema)
    op.add_column("submissions", sa.Column("heartbeat_at", TS), schema=schema)
    op.add_column("submissions", sa.Column("file_removed_at", TS), schema=schema)
    op.drop_constraint(op.f("ck_submissions_status"), "submissions", schema=schema)
    op.create_check_constraint(
        op.f("ck_submissions_status"), "submissions", f"status IN ({STATUSES})", schema=schema
    )


def upgrade() -> None:
    op.drop_index("uq_submissions_owner_idempotency_key", "submissions", schema="finance")
    op.drop_index("ix_submissions_owner_org", "submissions", schema="finance")
    _add_lifecycle("finance")
    _owner_indexes("finance")
    for schema in NEW_SCHEMAS:
        _create_tables(schema)
        _add_lifecycle(schema)
        _owner_indexes(schema)
    # Each service role has its schema's new tables by default privileges (0021); standards
    # defers its submissions' jobs (the registry could since 0021, finance since 0027).
    op.execute("GRANT USAGE ON SCHEMA jobs TO eaglet_standards")
    for table, privileges in QUEUE.items():
        op.execute(f"GRANT {privileges} ON {table} TO eaglet_standards")
    op.execute(
        "GRANT USAGE ON SEQUENCE jobs.procrastinate_jobs_id_seq, jobs.procrastinate_events_id_seq "
        "TO eaglet_standards"
    )
    op.execute("GRANT EXECUTE ON FUNCTION jobs.procrastinate_defer_jobs_v1 TO eaglet_standards")
    op.execute("GRANT USAGE ON SCHEMA standards TO eaglet_worker")
    for table, privileges in WORKER_TABLES.items():
        op.execute(f"GRANT {privileges} ON {table} TO eaglet_worker")
    for schema in NEW_SCHEMAS:
        op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO eaglet_worker")


def downgrade() -> None:
    for schema in NEW_SCHEMAS:
        op.execute(f"REVOKE USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} FROM eaglet_worker")
    for table, privileges in WORKER_TABLES.items():
        if ".submission" not in table or table.startswith("finance."):
            op.execute(f"REVOKE {privileges} ON {table} FROM eaglet_worker")
    op.execute("REVOKE EXECUTE ON FUNCTION jobs.procrastinate_defer_jobs_v1 FROM eaglet_standards")
    op.execute(
        "REVOKE USAGE ON SEQUENCE jobs.procrastinate_jobs_id_seq, jobs.procrastinate_events_id_seq "
        "FROM eaglet_standards"
    )
    for table, privileges in QUEUE.items():
        op.execute(f"REVOKE {privileges} ON {table} FROM eaglet_standards")
    op.execute("REVOKE USAGE ON SCHEMA jobs FROM eaglet_standards")
    for schema in NEW_SCHEMAS:
        op.drop_table("submission_findings", schema=schema)
        op.drop_table("submissions", schema=schema)
    S = "finance"
    op.drop_index("uq_submissions_owner_idempotency_key", "submissions", schema=S)
    op.drop_index("ix_submissions_owner_kind_owner", "submissions", schema=S)
    op.execute(f"DELETE FROM {S}.submissions WHERE status = 'expired' OR owner_org IS NULL")
    op.drop_constraint(op.f("ck_submissions_status"), "submissions", schema=S)
    op.create_check_constraint(
        op.f("ck_submissions_status"), "submissions", f"status IN ({OLD_STATUSES})", schema=S
    )
    for column in ("file_removed_at", "heartbeat_at", "owner", "owner_region"):
        op.drop_column("submissions", column, schema=S)
    op.create_index("ix_submissions_owner_org", "submissions", ["owner_org"], schema=S)
    op.create_index(
        "uq_submissions_owner_idempotency_key",
        "submissions",
        ["owner_kind", "owner_org", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
        schema=S,
    )

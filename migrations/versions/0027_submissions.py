"""File submissions (finance loans): the submission's status and committed chunks, its findings.

The finance service adds a submission and defers its job (it gets the queue's defer, as the
registry has); the worker reads the file, writes the loans through the batch pipeline (the
loans, their change log, the inclusive recomputation) and records each committed chunk.

Revision ID: 0027_submissions
Revises: 0026_institutions_reported
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0027_submissions"
down_revision = "0026_institutions_reported"
branch_labels = None
depends_on = None

S = "finance"
TS = sa.DateTime(timezone=True)
STATUSES = "'received', 'validating', 'completed', 'completed_with_errors', 'failed'"

FINANCE_QUEUE = {
    "jobs.procrastinate_jobs": "SELECT, INSERT",
    "jobs.procrastinate_events": "INSERT",
}
# What the worker's submission task writes in finance (services/finance/submissions/tasks.py).
WORKER_TABLES = {
    "finance.submissions": "SELECT, UPDATE",
    "finance.submission_findings": "SELECT, INSERT",
    "finance.loans": "INSERT, UPDATE",
    "finance.changes": "INSERT",
    "finance.institutions": "SELECT",
    # the loans' summaries, kept by their statement triggers (services/finance/stats/db.py)
    "finance.loan_month_totals": "SELECT, INSERT, UPDATE, DELETE",
    "finance.loan_inclusive_islands": "SELECT, INSERT, UPDATE, DELETE",
    "finance.loan_inclusive_borrower_months": "SELECT, INSERT, UPDATE, DELETE",
    "finance.loan_summary_marks": "SELECT, INSERT, UPDATE, DELETE",
}


def upgrade() -> None:
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
        schema=S,
    )
    op.create_index("ix_submissions_owner_org", "submissions", ["owner_org"], schema=S)
    op.create_index(
        "uq_submissions_owner_idempotency_key",
        "submissions",
        ["owner_kind", "owner_org", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
        schema=S,
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
            ["finance.submissions.id"],
            name=op.f("fk_submission_findings_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_findings")),
        schema=S,
    )
    op.create_index(
        "ix_submission_findings_submission_id_id", "submission_findings", ["submission_id", "id"], schema=S
    )
    # The finance role has its schema's new tables by default privileges (0021); it defers jobs.
    op.execute("GRANT USAGE ON SCHEMA jobs TO eaglet_finance")
    for table, privileges in FINANCE_QUEUE.items():
        op.execute(f"GRANT {privileges} ON {table} TO eaglet_finance")
    op.execute(
        "GRANT USAGE ON SEQUENCE jobs.procrastinate_jobs_id_seq, jobs.procrastinate_events_id_seq TO eaglet_finance"
    )
    op.execute("GRANT EXECUTE ON FUNCTION jobs.procrastinate_defer_jobs_v1 TO eaglet_finance")
    for table, privileges in WORKER_TABLES.items():
        op.execute(f"GRANT {privileges} ON {table} TO eaglet_worker")
    op.execute("GRANT USAGE ON SCHEMA finance TO eaglet_worker")
    op.execute("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA finance TO eaglet_worker")


def downgrade() -> None:
    op.execute("REVOKE USAGE, SELECT ON ALL SEQUENCES IN SCHEMA finance FROM eaglet_worker")
    for table, privileges in WORKER_TABLES.items():
        if not table.startswith("finance.submission"):
            op.execute(f"REVOKE {privileges} ON {table} FROM eaglet_worker")
    op.execute("REVOKE EXECUTE ON FUNCTION jobs.procrastinate_defer_jobs_v1 FROM eaglet_finance")
    op.execute(
        "REVOKE USAGE ON SEQUENCE jobs.procrastinate_jobs_id_seq, jobs.procrastinate_events_id_seq "
        "FROM eaglet_finance"
    )
    for table, privileges in FINANCE_QUEUE.items():
        op.execute(f"REVOKE {privileges} ON {table} FROM eaglet_finance")
    op.execute("REVOKE USAGE ON SCHEMA jobs FROM eaglet_finance")
    op.drop_table("submission_findings", schema=S)
    op.drop_table("submissions", schema=S)

"""The job runner: procrastinate's queue in schema `jobs`, and the registry's job status.

- Schema `jobs` holds procrastinate's tables, types and functions, applied from procrastinate's
  own schema SQL for the version pinned in pyproject.toml (`migrations/sql/procrastinate-
  3.10.0-schema.sql`, the package's `sql/schema.sql` byte for byte; tests/jobs/test_schema.py
  compares it with the installed package). Its SQL names nothing by schema, so it is applied with
  the search path set to `jobs`, and every connection to the queue sets the same search path
  (services/jobs/app.py, services/common/jobs.py). A later procrastinate version is a new
  migration applying its own files from `procrastinate/sql/migrations/`, never an edit here.
- `registry.jobs`: the status of the jobs the registry starts (owner, progress, result, error),
  which `GET /v1/jobs/{id}` answers; `registry.export_files` and `registry.export_chunks`: the
  files of asynchronous exports, kept in the database until they expire.
- Background screenings left `running` by the in-process runner of earlier versions have no job
  and nothing will finish them: they are marked failed (`screening_abandoned`), as that runner's
  lease would have reported them.

Revision ID: 0018_jobs_schema
Revises: 0017_changes_commit_order
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.util import await_only

revision = "0018_jobs_schema"
down_revision = "0017_changes_commit_order"
branch_labels = None
depends_on = None

PROCRASTINATE_SQL = Path(__file__).resolve().parents[1] / "sql" / "procrastinate-3.10.0-schema.sql"
S = "registry"
TS = sa.DateTime(timezone=True)
ABANDONED = (
    '{"type": "https://eaglet.zj.gov.cn/problems/screening_abandoned", "title": "Service Unavailable", '
    '"status": 503, "code": "screening_abandoned", "detail": "the process running this screening '
    'stopped (no heartbeat within the lease); start it again"}'
)


def _run_script(sql: str) -> None:
    """Several statements at once (asyncpg's simple query protocol), in the migration's transaction."""
    raw = op.get_bind().connection.driver_connection
    await_only(raw.execute(sql))


def upgrade() -> None:
    op.execute("CREATE SCHEMA jobs")
    op.execute("SET LOCAL search_path TO jobs")
    _run_script(PROCRASTINATE_SQL.read_text(encoding="utf-8"))
    op.execute("RESET search_path")

    op.create_table(
        "jobs",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="queued"),
        sa.Column("owner_kind", sa.Text, nullable=False),
        sa.Column("owner_sub", sa.Text, nullable=False),
        sa.Column("owner_org", sa.Text),
        sa.Column("owner_region", sa.Text),
        sa.Column("params", postgresql.JSONB, nullable=False),
        sa.Column("subject_id", sa.BigInteger),
        sa.Column("queue_job_id", sa.BigInteger),
        sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
        sa.Column("progress", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total", sa.Integer),
        sa.Column("result", postgresql.JSONB),
        sa.Column("error", postgresql.JSONB),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("started_at", TS),
        sa.Column("updated_at", TS),
        sa.Column("finished_at", TS),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')", name=op.f("ck_jobs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        schema=S,
    )
    op.create_index("ix_jobs_kind_subject_id", "jobs", ["kind", "subject_id"], schema=S)
    op.create_index("ix_jobs_finished_at", "jobs", ["finished_at"], schema=S)

    op.create_table(
        "export_files",
        sa.Column("job_id", sa.BigInteger, nullable=False),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("chunks", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("expires_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["registry.jobs.id"], name=op.f("fk_export_files_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_export_files")),
        schema=S,
    )
    op.create_index("ix_export_files_expires_at", "export_files", ["expires_at"], schema=S)
    op.create_table(
        "export_chunks",
        sa.Column("job_id", sa.BigInteger, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["registry.export_files.job_id"],
            name=op.f("fk_export_chunks_job_id_export_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "seq", name=op.f("pk_export_chunks")),
        schema=S,
    )
    op.execute(
        f"UPDATE {S}.screenings SET status = 'failed', finished_at = now(), error = '{ABANDONED}'::jsonb "
        "WHERE status = 'running'"
    )


def downgrade() -> None:
    op.drop_table("export_chunks", schema=S)
    op.drop_table("export_files", schema=S)
    op.drop_table("jobs", schema=S)
    op.execute("DROP SCHEMA jobs CASCADE")

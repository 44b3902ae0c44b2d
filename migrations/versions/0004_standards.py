"""The standards schema: catalogue, drafters, 品字标 certificates with their append-only history, adoption.

Revision ID: 0004_standards
Revises: 0003_finance
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.standards.certifications import db as certifications_db

revision = "0004_standards"
down_revision = "0003_finance"
branch_labels = None
depends_on = None

S = "standards"


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def upgrade() -> None:
    op.create_table(
        "standards",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("published_on", sa.Date),
        sa.Column("status", sa.String(16), nullable=False, server_default="current"),
        sa.Column("adoption_international_code", sa.Text),
        sa.Column("adoption_degree", sa.String(3)),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name="pk_standards"),
        sa.UniqueConstraint("code", name="uq_standards_code"),
        sa.CheckConstraint(
            "level IN ('international', 'national', 'industry', 'local', 'group', 'zhejiang_made')",
            name="ck_standards_level",
        ),
        sa.CheckConstraint("status IN ('current', 'withdrawn')", name="ck_standards_status"),
        sa.CheckConstraint("adoption_degree IN ('IDT', 'MOD', 'NEQ')", name="ck_standards_adoption_degree"),
        schema=S,
    )
    op.create_index("ix_standards_level_code", "standards", ["level", "code"], schema=S)

    op.create_table(
        "standard_drafters",
        sa.Column("standard_id", sa.BigInteger, nullable=False),
        sa.Column("credit_code", sa.Text, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("standard_id", "credit_code", name="pk_standard_drafters"),
        sa.ForeignKeyConstraint(
            ["standard_id"],
            [f"{S}.standards.id"],
            name="fk_standard_drafters_standard_id_standards",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("role IN ('lead', 'participant')", name="ck_standard_drafters_role"),
        schema=S,
    )
    op.create_index("ix_standard_drafters_credit_code", "standard_drafters", ["credit_code"], schema=S)

    op.create_table(
        "certificates",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("certifier", sa.Text, nullable=False),
        sa.Column("certificate_no", sa.Text, nullable=False),
        sa.Column("holder_credit_code", sa.Text, nullable=False),
        sa.Column("holder_name", sa.Text, nullable=False),
        sa.Column("product", sa.Text, nullable=False),
        sa.Column("scope", sa.Text),
        sa.Column("standard_code", sa.Text, nullable=False),
        sa.Column("rule_code", sa.Text, nullable=False),
        sa.Column("issued_on", sa.Date, nullable=False),
        sa.Column("expires_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_effective_on", sa.Date, nullable=False),
        sa.Column("status_reason", sa.Text),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("rule_set_version", sa.String(32), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name="pk_certificates"),
        sa.UniqueConstraint("certifier", "certificate_no", name="uq_certificates_certifier_certificate_no"),
        sa.CheckConstraint(
            "status IN ('valid', 'suspended', 'revoked', 'cancelled')", name="ck_certificates_status"
        ),
        sa.CheckConstraint("expires_on > issued_on", name="ck_certificates_validity"),
        schema=S,
    )
    # Public verification: one index probe by number (the certifier narrows among the few hits).
    op.create_index("ix_certificates_certificate_no", "certificates", ["certificate_no"], schema=S)
    op.create_index("ix_certificates_certifier_id", "certificates", ["certifier", "id"], schema=S)
    op.create_index("ix_certificates_holder_credit_code", "certificates", ["holder_credit_code"], schema=S)
    op.create_index("ix_certificates_standard_code", "certificates", ["standard_code"], schema=S)

    op.create_table(
        "certificate_history",
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("certificate_id", sa.BigInteger, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("certifier", sa.Text, nullable=False),
        sa.Column("certificate_no", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_effective_on", sa.Date, nullable=False),
        sa.Column("status_reason", sa.Text),
        sa.Column("record", postgresql.JSONB, nullable=False),
        sa.Column("rule_set_version", sa.String(32), nullable=False),
        sa.Column("pushed_by", sa.Text, nullable=False),
        sa.Column("request_id", sa.Text),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("seq", name="pk_certificate_history"),
        sa.UniqueConstraint(
            "certificate_id", "revision", name="uq_certificate_history_certificate_id_revision"
        ),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            [f"{S}.certificates.id"],
            name="fk_certificate_history_certificate_id_certificates",
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint(
            "status IN ('valid', 'suspended', 'revoked', 'cancelled')", name="ck_certificate_history_status"
        ),
        sa.CheckConstraint("action IN ('created', 'updated')", name="ck_certificate_history_action"),
        schema=S,
    )
    # Append-only, like the change log (services/standards/certifications/db.py).
    op.create_entity(certifications_db.HISTORY_APPEND_ONLY)
    op.create_entity(certifications_db.HISTORY_APPEND_ONLY_TRIGGER)

    op.create_table(
        "adoption_reports",
        sa.Column("credit_code", sa.Text, nullable=False),
        sa.Column("year", sa.SmallInteger, nullable=False),
        sa.Column("main_products", sa.Integer, nullable=False),
        sa.Column("adopting_count", sa.Integer, nullable=False),
        sa.Column("adopting_products", postgresql.JSONB, nullable=False),
        sa.Column("basis", sa.Text),
        *_stamps(),
        sa.PrimaryKeyConstraint("credit_code", "year", name="pk_adoption_reports"),
        sa.CheckConstraint("main_products > 0", name="ck_adoption_reports_main_products"),
        sa.CheckConstraint(
            "adopting_count >= 0 AND adopting_count <= main_products",
            name="ck_adoption_reports_adopting_count",
        ),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("adoption_reports", schema=S)
    op.drop_entity(certifications_db.HISTORY_APPEND_ONLY_TRIGGER)
    op.drop_table("certificate_history", schema=S)
    op.drop_entity(certifications_db.HISTORY_APPEND_ONLY)
    op.drop_table("certificates", schema=S)
    op.drop_table("standard_drafters", schema=S)
    op.drop_table("standards", schema=S)

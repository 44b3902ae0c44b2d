"""The gateway schema: API clients, their hashed keys, and the programme targets (seeded).

Revision ID: 0005_gateway
Revises: 0004_standards
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_gateway"
down_revision = "0004_standards"
branch_labels = None
depends_on = None

S = "gateway"
TARGETS_VERSION = "chuying-2022/1"
Y = ("2022-01-01", "2022-12-31")
# domain.md §1: the 2022 targets of 雏鹰行动 for Zhejiang (region 330000).
TARGETS_2022 = [
    ("tech_smes", "科技型中小企业", 60000, "enterprises", "registry", Y, None),
    (
        "net_new_above_scale",
        '净增"小升规"企业',
        10000,
        "enterprises",
        "registry",
        Y,
        "net, vs. baseline year",
    ),
    ("champion_candidates", "入库培育隐形冠军企业", 1000, "enterprises", "registry", Y, None),
    ("champions", "产生隐形冠军企业", 200, "enterprises", "registry", Y, "about 200"),
    ("cloud_enterprises", "企业上云", 500000, "enterprises", "registry", Y, None),
    ("champion_cnc_rate", "隐形冠军及培育企业装备数控化率", 60, "percent", "registry", Y, None),
    ("adoption_rate", "规上工业企业主导产品采标率", 70, "percent", "standards", Y, None),
    ("intl_standards_led", "累计主导制(修)订国际标准", 45, "standards", "standards", Y, "cumulative"),
    ("zhejiang_made_standards", '"浙江制造"标准', 3000, "standards", "standards", Y, None),
    ("pinzibiao_smes", '争创"品字标"浙江制造品牌中小企业', 800, "enterprises", "standards", Y, None),
    ("high_tech", "高新技术企业", 20000, "enterprises", "registry", Y, None),
    (
        "smb_new_loans",
        "全省3年新增投向小微企业贷款",
        500000000000,
        "yuan",
        "finance",
        ("2022-01-01", "2024-12-31"),
        "5000亿 over 3 years",
    ),
    ("parks", "小微企业园 (累计)", 1200, "parks", "registry", Y, "cumulative"),
    ("park_tenants", "入园小微企业", 100000, "enterprises", "registry", Y, None),
    ("star_parks", "四星、五星级小微企业园", 100, "parks", "registry", Y, None),
    ("tech_trade", "技术交易额", 120000000000, "yuan", "none", Y, "not tracked by this platform"),
]


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("org", sa.Text),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("region", sa.String(6)),
        sa.Column("scopes", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("rate_per_s", sa.Numeric(10, 2)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("created_by", sa.Text),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_api_clients"),
        sa.CheckConstraint(
            "kind IN ('bank', 'guarantor', 'certifier', 'official', 'admin')", name="ck_api_clients_kind"
        ),
        sa.CheckConstraint("rate_per_s IS NULL OR rate_per_s > 0", name="ck_api_clients_rate_positive"),
        schema=S,
    )
    op.create_table(
        "api_keys",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("client_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.ForeignKeyConstraint(
            ["client_id"],
            [f"{S}.api_clients.id"],
            name="fk_api_keys_client_id_api_clients",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
        schema=S,
    )
    op.create_index("ix_api_keys_client_id", "api_keys", ["client_id"], schema=S)

    targets = op.create_table(
        "programme_targets",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("programme", sa.Text, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("region_code", sa.String(6), nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name_zh", sa.Text, nullable=False),
        sa.Column("target", sa.Numeric(20, 2), nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("owner_service", sa.Text, nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("data_version", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_programme_targets"),
        sa.UniqueConstraint(
            "programme",
            "year",
            "region_code",
            "key",
            name="uq_programme_targets_programme_year_region_code_key",
        ),
        sa.CheckConstraint(
            "owner_service IN ('registry', 'finance', 'standards', 'none')",
            name="ck_programme_targets_owner_service",
        ),
        sa.CheckConstraint("period_start <= period_end", name="ck_programme_targets_period"),
        schema=S,
    )
    from datetime import date

    op.bulk_insert(
        targets,
        [
            {
                "programme": "chuying-2022",
                "year": 2022,
                "region_code": "330000",
                "key": key,
                "position": i + 1,
                "name_zh": name,
                "target": target,
                "unit": unit,
                "owner_service": owner,
                "period_start": date.fromisoformat(period[0]),
                "period_end": date.fromisoformat(period[1]),
                "note": note,
                "data_version": TARGETS_VERSION,
            }
            for i, (key, name, target, unit, owner, period, note) in enumerate(TARGETS_2022)
        ],
    )


def downgrade() -> None:
    op.drop_table("programme_targets", schema=S)
    op.drop_index("ix_api_keys_client_id", table_name="api_keys", schema=S)
    op.drop_table("api_keys", schema=S)
    op.drop_table("api_clients", schema=S)

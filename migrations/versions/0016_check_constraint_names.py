"""Check constraints get their single-prefixed names: `ck_enterprises_credit_code_length`, not
`ck_enterprises_ck_enterprises_credit_code_length`.

Migrations 0002–0005 and 0014 named their check constraints in full inside `op.create_table`,
and the metadata's naming convention (`ck_<table>_<name>`) prefixed them a second time. The
models' convention names them once; this renames the 46 doubled names to those.

Revision ID: 0016_check_constraint_names
Revises: 0015_registry_title_held
"""

from alembic import op

revision = "0016_check_constraint_names"
down_revision = "0015_registry_title_held"
branch_labels = None
depends_on = None

# (schema, table, the names' parts after `ck_<table>_`): each constraint was `ck_<table>_ck_<table>_<part>`.
DOUBLED = [
    ("finance", "credit_lines", ("amount_positive", "status")),
    ("finance", "guarantees", ("amount_positive", "status")),
    ("finance", "institutions", ("kind",)),
    ("finance", "loan_applications", ("decision",)),
    ("finance", "loans", ("amount_positive", "balance_within_amount", "closed_on_status", "status")),
    ("gateway", "api_clients", ("kind", "rate_positive")),
    (
        "registry",
        "enterprises",
        (
            "credit_code_length",
            "industry_code_format",
            "region_code_format",
            "registered_capital_nonnegative",
            "scale_status",
            "size_class",
            "tier",
        ),
    ),
    (
        "registry",
        "indicators",
        ("cnc_basis", "cnc_fraction", "market_share_scope", "size_class", "year_range"),
    ),
    ("registry", "park_tenants", ("dates",)),
    ("registry", "parks", ("region_code_format", "star_rating")),
    ("registry", "pool_decisions", ("decision", "tier")),
    ("registry", "programme_targets", ("owner_service", "window")),
    ("registry", "scale_statuses", ("status",)),
    ("registry", "screening_results", ("outcome",)),
    ("registry", "screenings", ("tier",)),
    ("registry", "titles", ("status", "validity")),
    ("standards", "adoption_reports", ("adopting_count", "main_products")),
    ("standards", "certificate_history", ("action", "status")),
    ("standards", "certificates", ("status", "validity")),
    ("standards", "standard_drafters", ("role",)),
    ("standards", "standards", ("adoption_degree", "level", "status")),
]


def _renames() -> list[tuple[str, str, str]]:
    """(schema.table, doubled name, single name) for every constraint of DOUBLED."""
    return [
        (f"{schema}.{table}", f"ck_{table}_ck_{table}_{part}", f"ck_{table}_{part}")
        for schema, table, parts in DOUBLED
        for part in parts
    ]


def upgrade() -> None:
    for table, doubled, single in _renames():
        op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {doubled} TO {single}")


def downgrade() -> None:
    for table, doubled, single in _renames():
        op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {single} TO {doubled}")

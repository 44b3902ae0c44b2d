"""Each enterprise's active title kinds kept on its row, with the last day they hold
(services/registry/titles/db.py declares the rule, the cache and its trigger).

The list and the detail show an enterprise's active titles. Reading them per row (a subquery on
`titles` for each of a page's rows) cost PostgreSQL about as much as the rest of the page.

Revision ID: 0009_registry_title_cache
Revises: 0008_registry_list_indexes
"""

from alembic import op

from services.registry.titles import db as titles_db

revision = "0009_registry_title_cache"
down_revision = "0008_registry_list_indexes"
branch_labels = None
depends_on = None

S = "registry"


def upgrade() -> None:
    # A new enterprise has no titles: the empty set holds for ever (the defaults).
    op.execute(
        f"ALTER TABLE {S}.enterprises ADD COLUMN active_titles text[] NOT NULL DEFAULT '{{}}', "
        "ADD COLUMN titles_until date NOT NULL DEFAULT 'infinity'"
    )
    for entity in titles_db.ENTITIES:
        op.create_entity(entity)
    op.execute(f"SELECT {S}.refresh_title_cache(ARRAY(SELECT DISTINCT credit_code FROM {S}.titles))")


def downgrade() -> None:
    for entity in reversed(titles_db.ENTITIES):
        op.drop_entity(entity)
    op.execute(f"ALTER TABLE {S}.enterprises DROP COLUMN titles_until, DROP COLUMN active_titles")

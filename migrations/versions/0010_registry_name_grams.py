"""Name search grams: character pairs plus "skip pairs", so a fuzzy search is an index lookup.

A fuzzy name search looks for names within one edit of the query: one character mistyped (the
commonest slip with a pinyin input method: 精蜜 for 精密), one too many or one missing. With only
character pairs indexed, the pairs a mistyped character leaves intact are often a common stretch
shared by a thousand names (…邦研究院), and every one of them had to be read from the table and
ranked. The pair of characters on either side of a gap ("skip pair", stored as `a_b`; three
characters long, so it never equals a pair) pins the mistyped position down: the index answers
with the few names that really are one edit away.

`name_grams` (services/registry/enterprises/db.py) replaces `name_bigrams` (same pairs, plus the
skip pairs), with its GIN index.

Revision ID: 0010_registry_name_grams
Revises: 0009_registry_title_cache
"""

from alembic import op

from services.registry.enterprises import db as enterprises_db

revision = "0010_registry_name_grams"
down_revision = "0009_registry_title_cache"
branch_labels = None
depends_on = None

S = "registry"


def upgrade() -> None:
    op.create_entity(enterprises_db.NAME_GRAMS)
    op.execute(f"DROP INDEX {S}.ix_enterprises_name_bigrams")
    op.execute(f"ALTER TABLE {S}.enterprises DROP COLUMN name_bigrams")
    op.execute(
        f"ALTER TABLE {S}.enterprises ADD COLUMN name_grams text[] NOT NULL "
        f"GENERATED ALWAYS AS ({S}.name_grams(name)) STORED"
    )
    op.execute(f"CREATE INDEX ix_enterprises_name_grams ON {S}.enterprises USING gin (name_grams)")
    op.execute(f"ANALYZE {S}.enterprises")


def downgrade() -> None:
    op.execute(f"DROP INDEX {S}.ix_enterprises_name_grams")
    op.execute(f"ALTER TABLE {S}.enterprises DROP COLUMN name_grams")
    op.execute(
        f"ALTER TABLE {S}.enterprises ADD COLUMN name_bigrams text[] NOT NULL "
        f"GENERATED ALWAYS AS ({S}.name_bigrams(name)) STORED"
    )
    op.execute(f"CREATE INDEX ix_enterprises_name_bigrams ON {S}.enterprises USING gin (name_bigrams)")
    op.drop_entity(enterprises_db.NAME_GRAMS)

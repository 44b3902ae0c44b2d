"""Enterprises and parks filed under a retired county code move to its successor, where it has
exactly one (docs/registry.md, "Retired regions").

A retired code is no longer accepted as a record's region. The rows written under one before it
retired move here, each move appended to `registry.changes` as an update by this migration, so
the change feed and its webhooks carry it. A code split between several successors (330104 江干区
→ 330102 上城区 and 330114 钱塘区) is not guessed: its rows stay, every successor's officials see
them, and one of them moves each. A park whose name the successor already has stays too.

The moves are the region table's (services/common/data/regions.json, version GB/T 2260
Zhejiang 2024-01) as of this revision, written out so that the revision never changes;
tests/registry/test_retired_regions.py holds them equal to the table. A later retirement
comes with a revision of its own.

The downgrade leaves the rows where they are: the changes say where each came from.

Revision ID: 0022_retired_regions
Revises: 0021_roles_grants
"""

from alembic import op

revision = "0022_retired_regions"
down_revision = "0021_roles_grants"
branch_labels = None
depends_on = None

# retired code → its one successor
MOVES = {
    "330103": "330105",
    "330183": "330111",
    "330185": "330112",
    "330204": "330212",
    "330283": "330213",
    "330322": "330305",
    "330621": "330603",
    "330682": "330604",
    "331021": "331083",
}
ACTOR = "migration:0022_retired_regions"


def _values() -> str:
    return ", ".join(f"('{old}', '{new}')" for old, new in MOVES.items())


def upgrade() -> None:
    op.execute(
        f"""
        WITH moves(old, new) AS (VALUES {_values()}),
        moved AS (
            UPDATE registry.enterprises e SET region_code = m.new, updated_at = now()
              FROM moves m WHERE e.region_code = m.old
            RETURNING e.credit_code, m.old, m.new
        )
        INSERT INTO registry.changes (actor_subject, actor_kind, action, entity_type, entity_key, before, after)
        SELECT '{ACTOR}', 'admin', 'updated', 'enterprise', credit_code,
               jsonb_build_object('region_code', old), jsonb_build_object('region_code', new)
          FROM moved
        """
    )
    op.execute(
        f"""
        WITH moves(old, new) AS (VALUES {_values()}),
        moved AS (
            UPDATE registry.parks p SET region_code = m.new, updated_at = now()
              FROM moves m
             WHERE p.region_code = m.old
               AND NOT EXISTS (SELECT 1 FROM registry.parks q WHERE q.region_code = m.new AND q.name = p.name)
            RETURNING p.id, m.old, m.new
        )
        INSERT INTO registry.changes (actor_subject, actor_kind, action, entity_type, entity_key, before, after)
        SELECT '{ACTOR}', 'admin', 'updated', 'park', id::text,
               jsonb_build_object('region_code', old), jsonb_build_object('region_code', new)
          FROM moved
        """
    )


def downgrade() -> None:
    pass

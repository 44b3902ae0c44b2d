"""Each enterprise's active title kinds kept on its row, with the last day they hold.

The list and the detail show an enterprise's active titles. Reading them per row (a subquery on
`titles` for each of a page's 51 rows) cost PostgreSQL about as much as the rest of the page and,
on a shared 2-core host, a third of the list's throughput. `active_titles` holds the kinds that are
active today and `titles_until` the last day that set stays the same: the day before the next
title starts counting, or the day the next one expires. Readers use the row's set while
CURRENT_DATE <= titles_until and compute it from `titles` otherwise, so a title still stops
counting the day after its valid_to without anyone touching it. A statement trigger on `titles`
recomputes the rows of the enterprises whose titles changed.

Revision ID: 0009_registry_title_cache
Revises: 0008_registry_list_indexes
"""

from alembic import op
from sqlalchemy import text

revision = "0009_registry_title_cache"
down_revision = "0008_registry_list_indexes"
branch_labels = None
depends_on = None

S = "registry"

REFRESH = f"""
CREATE FUNCTION {S}.refresh_title_cache(codes text[]) RETURNS void LANGUAGE sql AS $$
  UPDATE {S}.enterprises e
  SET active_titles = c.kinds, titles_until = c.until
  FROM (
    SELECT x.code,
      COALESCE((SELECT array_agg(DISTINCT t.kind ORDER BY t.kind) FROM {S}.titles t
                WHERE t.credit_code = x.code AND t.status = 'active' AND t.valid_from <= current_date
                  AND (t.valid_to IS NULL OR t.valid_to >= current_date)), '{{}}') AS kinds,
      COALESCE((SELECT min(CASE WHEN t.valid_from > current_date THEN t.valid_from - 1 ELSE t.valid_to END)
                FROM {S}.titles t
                WHERE t.credit_code = x.code AND t.status = 'active'
                  AND (t.valid_from > current_date OR t.valid_to >= current_date)), 'infinity') AS until
    FROM (SELECT DISTINCT unnest(codes) AS code) x
  ) c
  WHERE e.credit_code = c.code
$$
"""

ON_CHANGE = f"""
CREATE FUNCTION {S}.titles_refresh_cache() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM {S}.refresh_title_cache(ARRAY(SELECT DISTINCT credit_code FROM changed_rows));
  RETURN NULL;
END $$
"""


# The enterprises' update trigger (0007) looked for moved enterprises by joining its two transition
# tables: a nested loop over both, so updating n enterprises in one statement cost n² (60,000 rows:
# minutes). A set difference finds the same rows (old code and region no longer among the new) by
# hashing. Only the test changes; moves are still handled by the same statements.
MOVED_JOIN = """IF EXISTS (SELECT o.credit_code FROM old_rows o JOIN new_rows n USING (credit_code)
    WHERE o.region_code IS DISTINCT FROM n.region_code) THEN"""
MOVED_EXCEPT = """IF EXISTS (SELECT credit_code, region_code FROM old_rows
    EXCEPT SELECT credit_code, region_code FROM new_rows) THEN"""


def _swap_moved_test(old: str, new: str) -> None:
    fn = "'registry.summarize_enterprises_update()'::regprocedure"
    body = op.get_bind().execute(text(f"SELECT pg_get_functiondef({fn})")).scalar_one()
    if old not in body:
        raise RuntimeError("summarize_enterprises_update() is not the function this migration expects")
    op.execute(body.replace(old, new))


def upgrade() -> None:
    _swap_moved_test(MOVED_JOIN, MOVED_EXCEPT)
    # A new enterprise has no titles: the empty set holds for ever (the defaults).
    op.execute(
        f"ALTER TABLE {S}.enterprises ADD COLUMN active_titles text[] NOT NULL DEFAULT '{{}}', "
        "ADD COLUMN titles_until date NOT NULL DEFAULT 'infinity'"
    )
    op.execute(REFRESH)
    op.execute(ON_CHANGE)
    for event, ref in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        op.execute(
            f"CREATE TRIGGER titles_refresh_cache_{event.lower()} AFTER {event} ON {S}.titles "
            f"REFERENCING {ref} TABLE AS changed_rows FOR EACH STATEMENT "
            f"EXECUTE FUNCTION {S}.titles_refresh_cache()"
        )
    op.execute(f"SELECT {S}.refresh_title_cache(ARRAY(SELECT DISTINCT credit_code FROM {S}.titles))")


def downgrade() -> None:
    _swap_moved_test(MOVED_EXCEPT, MOVED_JOIN)
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER titles_refresh_cache_{event} ON {S}.titles")
    op.execute(f"DROP FUNCTION {S}.titles_refresh_cache()")
    op.execute(f"DROP FUNCTION {S}.refresh_title_cache(text[])")
    op.execute(f"ALTER TABLE {S}.enterprises DROP COLUMN titles_until, DROP COLUMN active_titles")

"""The "active title" rule in SQL, and the per-enterprise cache of active title kinds.

A title counts from valid_from through valid_to (inclusive) while its status is active: expired
titles stop counting without anyone touching them. `service.state()` is the same rule in Python
(tests/registry/titles/test_db.py runs both over the same titles). CURRENT_DATE is the
database's date (sessions run in UTC).

The statistics count titles *held* on a past day instead (`held_on`): a title revoked later was
still held that day. On today's date the two differ only for a revocation dated in the future
(revoked already, so not active; held until its revoked_on).

Each enterprise row keeps the kinds active today (`active_titles`) and the last day that set stays
the same (`titles_until`: the day before the next title starts counting, or the day the next one
expires). Readers use the row's set while CURRENT_DATE <= titles_until and compute it from `titles`
otherwise (`titles_of`); a statement trigger on `titles` recomputes the rows of the enterprises
whose titles changed, and `cache.refresh_stale` the rows whose set ran out.
"""

from __future__ import annotations

from alembic_utils.pg_function import PGFunction

from services.common.db_entities import changed_rows_triggers

S = "registry"


def active_on(t: str = "t", day: str = "current_date") -> str:
    """SQL: title `t` counts on `day`."""
    return f"{t}.status = 'active' AND {t}.valid_from <= {day} AND ({t}.valid_to IS NULL OR {t}.valid_to >= {day})"


def held_on(t: str, day: str) -> str:
    """SQL: title `t` was held on `day` (revoked after that day: still held then)."""
    return (
        f"{t}.valid_from <= {day} AND ({t}.valid_to IS NULL OR {t}.valid_to >= {day}) "
        f"AND ({t}.status = 'active' OR {t}.revoked_on > {day})"
    )


ACTIVE_TITLE = active_on("t", "CURRENT_DATE")


def titles_of(alias: str) -> str:
    """SQL: the active title kinds of enterprise row `alias`: its cached set while today is within
    the days it holds, else read from titles."""
    return (
        f"CASE WHEN CURRENT_DATE <= {alias}.titles_until THEN {alias}.active_titles ELSE "
        f"ARRAY(SELECT DISTINCT t.kind FROM registry.titles t "
        f"WHERE t.credit_code = {alias}.credit_code AND {ACTIVE_TITLE} ORDER BY t.kind) END AS titles"
    )


REFRESH_TITLE_CACHE = PGFunction(
    schema=S,
    signature="refresh_title_cache(codes text[])",
    definition=f"""RETURNS void LANGUAGE sql AS $$
  UPDATE {S}.enterprises e
  SET active_titles = c.kinds, titles_until = c.until
  FROM (
    SELECT x.code,
      COALESCE((SELECT array_agg(DISTINCT t.kind ORDER BY t.kind) FROM {S}.titles t
                WHERE t.credit_code = x.code AND {active_on()}), '{{}}') AS kinds,
      COALESCE((SELECT min(CASE WHEN t.valid_from > current_date THEN t.valid_from - 1 ELSE t.valid_to END)
                FROM {S}.titles t
                WHERE t.credit_code = x.code AND t.status = 'active'
                  AND (t.valid_from > current_date OR t.valid_to >= current_date)), 'infinity') AS until
    FROM (SELECT DISTINCT unnest(codes) AS code) x
  ) c
  WHERE e.credit_code = c.code
$$""",
)

TITLES_REFRESH_CACHE = PGFunction(
    schema=S,
    signature="titles_refresh_cache()",
    definition=f"""RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM {S}.refresh_title_cache(ARRAY(SELECT DISTINCT credit_code FROM changed_rows));
  RETURN NULL;
END $$""",
)


CACHE_TRIGGERS = changed_rows_triggers(S, "titles", "titles_refresh_cache", "titles_refresh_cache")

ENTITIES = [REFRESH_TITLE_CACHE, TITLES_REFRESH_CACHE, *CACHE_TRIGGERS]

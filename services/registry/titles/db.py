"""The "held title" rule in SQL, and the per-enterprise cache of the title kinds held today.

A title is held on day D when valid_from <= D, D <= valid_to (or no valid_to), and it is not
revoked on or before D: a revocation dated in the future takes effect on its date. Expired titles
stop counting without anyone touching them. "Active" is held today, today being the Shanghai
calendar date (`services.common.today`). `service.held_on` is the same rule in Python
(tests/registry/titles/test_db.py runs both over the same titles); the statistics count titles
held on their as-of date with the same predicate.

Each enterprise row keeps the kinds held today (`active_titles`) and the last day that set stays
the same (`titles_until`: the day before the next title starts being held, or the last day a held
one is held: its valid_to or the day before its revocation). Readers use the row's set while today
<= titles_until and compute it from `titles` otherwise (`titles_of`); a statement trigger on
`titles` recomputes the rows of the enterprises whose titles changed, and `cache.refresh_stale`
the rows whose set ran out.
"""

from __future__ import annotations

from alembic_utils.pg_function import PGFunction

from services.common.db_entities import changed_rows_triggers
from services.common.today import TODAY_SQL

S = "registry"


def held_on(t: str, day: str) -> str:
    """SQL: title `t` is held on `day`."""
    return (
        f"({t}.valid_from <= {day} AND ({t}.valid_to IS NULL OR {t}.valid_to >= {day}) "
        f"AND ({t}.status = 'active' OR {t}.revoked_on > {day}))"
    )


def active(t: str = "t") -> str:
    """SQL: title `t` is held today."""
    return held_on(t, TODAY_SQL)


def last_held_day(t: str) -> str:
    """SQL: the last day title `t` is held (NULL: no end), given it is held some day."""
    return f"least({t}.valid_to, CASE WHEN {t}.status = 'revoked' THEN {t}.revoked_on - 1 END)"


ACTIVE_TITLE = active("t")


def titles_of(alias: str) -> str:
    """SQL: the title kinds enterprise row `alias` holds today: its cached set while today is
    within the days it holds, else read from titles."""
    return (
        f"CASE WHEN {TODAY_SQL} <= {alias}.titles_until THEN {alias}.active_titles ELSE "
        f"ARRAY(SELECT DISTINCT t.kind FROM registry.titles t "
        f"WHERE t.credit_code = {alias}.credit_code AND {ACTIVE_TITLE} ORDER BY t.kind) END AS titles"
    )


# The set changes the day after a held title's last held day, or on the first day of a title
# held later (the day before it is the set's last day); titles never held again do not count.
REFRESH_TITLE_CACHE = PGFunction(
    schema=S,
    signature="refresh_title_cache(codes text[])",
    definition=f"""RETURNS void LANGUAGE sql AS $$
  UPDATE {S}.enterprises e
  SET active_titles = c.kinds, titles_until = c.until
  FROM (
    SELECT x.code,
      COALESCE((SELECT array_agg(DISTINCT t.kind ORDER BY t.kind) FROM {S}.titles t
                WHERE t.credit_code = x.code AND {active()}), '{{}}') AS kinds,
      COALESCE((SELECT min(CASE WHEN t.valid_from > {TODAY_SQL} THEN t.valid_from - 1 ELSE {last_held_day("t")} END)
                FROM {S}.titles t
                WHERE t.credit_code = x.code
                  AND ({active()} OR (t.valid_from > {TODAY_SQL} AND {held_on("t", "t.valid_from")}))),
               'infinity') AS until
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

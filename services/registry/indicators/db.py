"""An enterprise's current size class: the size class of its latest indicator year that has one.

`enterprises.size_class`/`size_year` are kept by statement triggers on `indicators`, so every
writer (API, seeds, COPY, test helpers) leaves the enterprise row and the directory view consistent.
"""

from __future__ import annotations

from alembic_utils.pg_function import PGFunction

from services.common.db_entities import changed_rows_triggers

S = "registry"

REFRESH_SIZE = PGFunction(
    schema=S,
    signature="refresh_size()",
    definition=f"""RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE {S}.enterprises e SET size_class = l.size_class, size_year = l.year
  FROM (SELECT c.credit_code, x.year, x.size_class
        FROM (SELECT DISTINCT credit_code FROM changed_rows) c
        LEFT JOIN LATERAL (SELECT i.year, i.size_class FROM {S}.indicators i
                           WHERE i.credit_code = c.credit_code AND i.size_class IS NOT NULL
                           ORDER BY i.year DESC LIMIT 1) x ON true) l
  WHERE e.credit_code = l.credit_code
    AND (e.size_class, e.size_year) IS DISTINCT FROM (l.size_class, l.year);
  RETURN NULL;
END $$""",
)
TRIGGERS = changed_rows_triggers(S, "indicators", "indicators_refresh_size", "refresh_size")

ENTITIES = [REFRESH_SIZE, *TRIGGERS]

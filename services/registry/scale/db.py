"""An enterprise's current scale status (规上/规下): its latest scale fact (latest effective year,
then latest recorded).

`enterprises.scale_status`/`scale_year` are kept by statement triggers on `scale_statuses`.
"""

from __future__ import annotations

from alembic_utils.pg_function import PGFunction

from services.common.db_entities import changed_rows_triggers

S = "registry"

REFRESH_SCALE = PGFunction(
    schema=S,
    signature="refresh_scale()",
    definition=f"""RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE {S}.enterprises e SET scale_status = l.status, scale_year = l.effective_year
  FROM (SELECT c.credit_code, x.status, x.effective_year
        FROM (SELECT DISTINCT credit_code FROM changed_rows) c
        LEFT JOIN LATERAL (SELECT s.status, s.effective_year FROM {S}.scale_statuses s
                           WHERE s.credit_code = c.credit_code
                           ORDER BY s.effective_year DESC, s.id DESC LIMIT 1) x ON true) l
  WHERE e.credit_code = l.credit_code
    AND (e.scale_status, e.scale_year) IS DISTINCT FROM (l.status, l.effective_year);
  RETURN NULL;
END $$""",
)
TRIGGERS = changed_rows_triggers(S, "scale_statuses", "scale_statuses_refresh_scale", "refresh_scale")

ENTITIES = [REFRESH_SCALE, *TRIGGERS]

"""An enterprise's pool tier: its latest admit or exit decision (latest year, then latest made);
an exit leaves no tier.

`enterprises.tier`/`tier_year` are kept by statement triggers on `pool_decisions`.
"""

from __future__ import annotations

from alembic_utils.pg_function import PGFunction

from services.common.db_entities import changed_rows_triggers

S = "registry"

REFRESH_TIER = PGFunction(
    schema=S,
    signature="refresh_tier()",
    definition=f"""RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE {S}.enterprises e
  SET tier = CASE WHEN l.decision = 'admit' THEN l.tier END,
      tier_year = CASE WHEN l.decision = 'admit' THEN l.year END
  FROM (SELECT c.credit_code, x.tier, x.year, x.decision
        FROM (SELECT DISTINCT credit_code FROM changed_rows) c
        LEFT JOIN LATERAL (SELECT d.tier, d.year, d.decision FROM {S}.pool_decisions d
                           WHERE d.credit_code = c.credit_code AND d.decision IN ('admit', 'exit')
                           ORDER BY d.year DESC, d.id DESC LIMIT 1) x ON true) l
  WHERE e.credit_code = l.credit_code;
  RETURN NULL;
END $$""",
)
TRIGGERS = changed_rows_triggers(S, "pool_decisions", "pool_decisions_refresh_tier", "refresh_tier")

ENTITIES = [REFRESH_TIER, *TRIGGERS]

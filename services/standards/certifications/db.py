"""Database objects of the 品字标 certificates: their history is append-only, like the change log.

Every accepted push appends one revision to `certificate_history`; an UPDATE or DELETE of a
history row fails (insufficient_privilege), so a certificate's past states stay as pushed.
"""

from __future__ import annotations

from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_trigger import PGTrigger

S = "standards"

HISTORY_APPEND_ONLY = PGFunction(
    schema=S,
    signature="certificate_history_append_only()",
    definition="""RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'certificate history is append-only' USING ERRCODE = 'insufficient_privilege';
        END $$""",
)
HISTORY_APPEND_ONLY_TRIGGER = PGTrigger(
    schema=S,
    signature="certificate_history_append_only",
    on_entity=f"{S}.certificate_history",
    definition=f"BEFORE UPDATE OR DELETE ON {S}.certificate_history "
    f"FOR EACH ROW EXECUTE FUNCTION {S}.certificate_history_append_only()",
)

ENTITIES = [HISTORY_APPEND_ONLY, HISTORY_APPEND_ONLY_TRIGGER]

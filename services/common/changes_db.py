"""Database objects of the change log (`changes.py`): the log is append-only in every schema.

An UPDATE or DELETE on a schema's `changes` table fails (insufficient_privilege), whoever runs it:
the audit trail is never edited.
"""

from __future__ import annotations

from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_trigger import PGTrigger

from services.common.models import SCHEMAS

_REFUSE = """RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION 'the change log is append-only' USING ERRCODE = 'insufficient_privilege';
            END $$"""


def append_only_function(schema: str) -> PGFunction:
    return PGFunction(schema=schema, signature="changes_append_only()", definition=_REFUSE)


def append_only_trigger(schema: str) -> PGTrigger:
    return PGTrigger(
        schema=schema,
        signature="changes_append_only",
        on_entity=f"{schema}.changes",
        definition=f"BEFORE UPDATE OR DELETE ON {schema}.changes "
        f"FOR EACH ROW EXECUTE FUNCTION {schema}.changes_append_only()",
    )


ENTITIES = [e for s in SCHEMAS for e in (append_only_function(s), append_only_trigger(s))]

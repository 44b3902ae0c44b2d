"""Database objects of the published bulletins (`bulletins.py`): a published bulletin is never
edited or removed.

An UPDATE or DELETE on `gateway.published_bulletins` fails (insufficient_privilege), whoever runs
it, the owner too: a bulletin's number answers the same content forever after.
"""

from __future__ import annotations

from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_trigger import PGTrigger

REFUSE = PGFunction(
    schema="gateway",
    signature="published_bulletins_immutable()",
    definition="""RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION 'a published bulletin is immutable' USING ERRCODE = 'insufficient_privilege';
            END $$""",
)

IMMUTABLE = PGTrigger(
    schema="gateway",
    signature="published_bulletins_immutable",
    on_entity="gateway.published_bulletins",
    definition="BEFORE UPDATE OR DELETE ON gateway.published_bulletins "
    "FOR EACH ROW EXECUTE FUNCTION gateway.published_bulletins_immutable()",
)

ENTITIES = [REFUSE, IMMUTABLE]

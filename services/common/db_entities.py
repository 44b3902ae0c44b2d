"""Small builders for the database objects that `db.py` modules declare (alembic_utils entities).

The common shape: one statement-level trigger per write event, each passing the rows it wrote
(the new rows of an INSERT or UPDATE, the old rows of a DELETE) as the transition table
`changed_rows` to one function.
"""

from __future__ import annotations

from alembic_utils.pg_trigger import PGTrigger

EVENTS = (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))


def changed_rows_triggers(schema: str, table: str, prefix: str, function: str) -> list[PGTrigger]:
    """Triggers `{prefix}_insert|update|delete` on `schema.table` running `schema.function()`."""
    return [
        PGTrigger(
            schema=schema,
            signature=f"{prefix}_{event.lower()}",
            on_entity=f"{schema}.{table}",
            definition=f"AFTER {event} ON {schema}.{table} REFERENCING {ref} TABLE AS changed_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {schema}.{function}()",
        )
        for event, ref in EVENTS
    ]

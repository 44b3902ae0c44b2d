"""The programme targets as the other services and the gateway read them: the registry owns the
table (`models.py`), the rest of the house reads this view only (docs/contracts.md)."""

from __future__ import annotations

from alembic_utils.pg_view import PGView

DIRECTORY = PGView(
    schema="registry",
    signature="programme_target_directory",
    definition="""SELECT programme, programme_name, year, region_code, key, position, name_zh, value, unit,
       owner_service, window_start, window_end, note, data_version
FROM registry.programme_targets""",
)

ENTITIES = [DIRECTORY]

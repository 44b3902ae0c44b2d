"""The programme targets and indicators as the other services and the gateway read them: the
registry owns the tables (`models.py`), the rest of the house reads these views only
(docs/contracts.md), through services/common/targets.py."""

from __future__ import annotations

from alembic_utils.pg_view import PGView

DIRECTORY = PGView(
    schema="registry",
    signature="programme_target_directory",
    definition="""SELECT programme, programme_name, year, region_code, key, position, name_zh, value, unit,
       owner_service, window_start, window_end, note, data_version
FROM registry.programme_targets""",
)
INDICATORS = PGView(
    schema="registry",
    signature="programme_indicator_directory",
    definition="""SELECT programme, programme_name, key, position, name_zh, unit, owner_service,
       default_window_years, source_document, settled, note, data_version
FROM registry.programme_indicators""",
)

ENTITIES = [DIRECTORY, INDICATORS]

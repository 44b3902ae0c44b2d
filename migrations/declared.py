"""What the database should hold, as the code declares it: every model (tables) and every
replaceable entity (functions, triggers, views) from the `db.py` modules beside their rules.

`env.py` compares the migrated database against both (`alembic check`); tests do the same.
"""

from __future__ import annotations

import gateway.models  # noqa: F401 - each import adds its tables to the metadata
import gateway.progress.models  # noqa: F401
import gateway.webhooks.models  # noqa: F401
import services.finance.applications.models  # noqa: F401
import services.finance.book.models  # noqa: F401
import services.finance.guarantees.models  # noqa: F401
import services.finance.institutions.models  # noqa: F401
import services.finance.lines.models  # noqa: F401
import services.finance.loans.models  # noqa: F401
import services.finance.stats.models  # noqa: F401
import services.finance.submissions  # noqa: F401
import services.registry.enterprises.models  # noqa: F401
import services.registry.exports.models  # noqa: F401
import services.registry.indicators.models  # noqa: F401
import services.registry.institutions.models  # noqa: F401
import services.registry.parks.models  # noqa: F401
import services.registry.pool.models  # noqa: F401
import services.registry.scale.models  # noqa: F401
import services.registry.stats.models  # noqa: F401
import services.registry.submissions  # noqa: F401
import services.registry.targets.models  # noqa: F401
import services.registry.titles.models  # noqa: F401
import services.standards.adoption.models  # noqa: F401
import services.standards.catalogue.models  # noqa: F401
import services.standards.certifications.models  # noqa: F401
import services.standards.submissions  # noqa: F401
from gateway.progress import db as bulletins_db
from services.common import changes_db
from services.common.models import metadata
from services.finance import ledgers
from services.finance.stats import db as finance_stats_db
from services.registry.enterprises import db as enterprises_db
from services.registry.indicators import db as indicators_db
from services.registry.pool import db as pool_db
from services.registry.scale import db as scale_db
from services.registry.stats import db as registry_stats_db
from services.registry.targets import db as targets_db
from services.registry.titles import db as titles_db
from services.standards.certifications import db as certifications_db

# Every function, trigger and view the migrations create, as declared beside its rule.
ENTITIES = [
    *changes_db.ENTITIES,
    *bulletins_db.ENTITIES,
    *enterprises_db.ENTITIES,
    *indicators_db.ENTITIES,
    *scale_db.ENTITIES,
    *pool_db.ENTITIES,
    *titles_db.ENTITIES,
    *registry_stats_db.ENTITIES,
    *targets_db.ENTITIES,
    *finance_stats_db.ENTITIES,
    *ledgers.ENTITIES,
    *certifications_db.ENTITIES,
]


# Procrastinate's schema: its tables, types, functions and triggers come from procrastinate's own
# SQL (migration 0018), not from models or db.py declarations, so autogenerate leaves it alone
# (it would otherwise propose dropping every one of them).
QUEUE_SCHEMA = "jobs"


def include_name(name, type_, parent_names) -> bool:
    if type_ == "schema":
        return name != QUEUE_SCHEMA
    return parent_names.get("schema_name") != QUEUE_SCHEMA


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's own version table is not a model; the queue's schema is procrastinate's; the
    roles' privileges are the migrations' GRANTs (0021_roles_grants, docs/roles.md), proven by
    logging in as each role (tests/test_roles.py), not declared entities (alembic_utils would
    otherwise propose revoking every one)."""
    if type_ == "grant_table":
        return False
    if getattr(obj, "schema", None) == QUEUE_SCHEMA:
        return False
    if type_ == "table" and getattr(obj, "schema", None) == "finance" and ledgers.is_partition(name):
        return False  # a ledger's partition: made by finance.ledger_partitions, not a model
    return not (type_ == "table" and name == "alembic_version")


def compare_options() -> dict:
    """How autogenerate (and `alembic check`) compares the database with the code."""
    return {
        "include_schemas": True,
        "compare_type": True,
        # defaults too; a generated column it can only compare crudely (it warns about
        # enterprises.industry_section: tests/test_migrations.py compares the expressions exactly)
        "compare_server_default": True,
        "include_object": include_object,
        "include_name": include_name,
    }


__all__ = ["ENTITIES", "compare_options", "metadata"]

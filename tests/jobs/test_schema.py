"""The queue's schema is procrastinate's own SQL, applied under schema `jobs`; every task the
domains defer is one the worker knows."""

from importlib import resources
from pathlib import Path

import procrastinate

from services.jobs.app import PERIODIC, TASK_MODULES, app
from services.registry.exports import tasks as export_tasks
from services.registry.pool import tasks as screening_tasks

ROOT = Path(__file__).resolve().parents[2]


def test_the_migration_applies_the_installed_procrastinates_schema_sql():
    """Upgrading procrastinate past 3.10 fails here: write a migration applying its own files of
    `procrastinate/sql/migrations/` (and keep this file as the record of what 0018 applied)."""
    vendored = (ROOT / "migrations/sql/procrastinate-3.10.0-schema.sql").read_text(encoding="utf-8")
    installed = (resources.files("procrastinate.sql") / "schema.sql").read_text(encoding="utf-8")
    assert procrastinate.__version__.startswith("3.10.")
    assert installed == vendored


async def test_procrastinates_tables_and_functions_are_in_schema_jobs_only(db):
    tables = await db.fetch(
        "SELECT schemaname, tablename FROM pg_tables WHERE tablename LIKE 'procrastinate%' ORDER BY 2"
    )
    assert {t["schemaname"] for t in tables} == {"jobs"}
    assert [t["tablename"] for t in tables] == [
        "procrastinate_events",
        "procrastinate_jobs",
        "procrastinate_periodic_defers",
        "procrastinate_workers",
    ]
    schemas = await db.fetch(
        "SELECT DISTINCT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE p.proname LIKE 'procrastinate%'"
    )
    assert [s["nspname"] for s in schemas] == ["jobs"]


def test_every_task_the_domains_defer_is_registered_and_every_periodic_one_has_a_schedule():
    assert screening_tasks.SCREENING in app.tasks
    assert export_tasks.EXPORT in app.tasks
    for module in TASK_MODULES:
        assert all(name.startswith(f"{module.NAMESPACE}:") for name in module.blueprint.tasks)
    from services.common.settings import JobsSettings

    for task, field in PERIODIC:
        assert task.name in app.tasks
        assert isinstance(getattr(JobsSettings(), field), str)

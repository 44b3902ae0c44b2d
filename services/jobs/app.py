"""The procrastinate App of the job runner: every task in one list, the periodic ones' schedules,
and its own psycopg pool on schema `jobs`.

Tasks are declared where their work belongs (a `blueprint` and its `NAMESPACE` in the domain's
`tasks.py`), and added here once: a task's name is `<namespace>:<name>`, which is what the domain
defers (e.g. services/registry/pool/tasks.py `SCREENING`). The services never open this App:
they defer in their own transaction (services/common/jobs.py `enqueue`). Only `eaglet worker`
(services/jobs/worker.py) opens it.
"""

from __future__ import annotations

from procrastinate import App, PsycopgConnector
from procrastinate.periodic import PeriodicRegistry

from services.common.db import plain_url
from services.common.jobs import QUEUE_SCHEMA
from services.common.settings import Settings
from services.finance import partitions as ledger_partitions
from services.finance import submissions as finance_submissions
from services.jobs import upkeep
from services.registry import submissions as registry_submissions
from services.registry.exports import tasks as export_tasks
from services.registry.pool import tasks as screening_tasks
from services.registry.titles import tasks as title_tasks
from services.standards import submissions as standards_submissions

# Every module declaring tasks: its `blueprint`, under its `NAMESPACE`.
TASK_MODULES = (
    upkeep,
    screening_tasks,
    export_tasks,
    title_tasks,
    finance_submissions,
    standards_submissions,
    registry_submissions,
    ledger_partitions,
)

# The periodic jobs: each task with the JobsSettings field holding its cron line. A periodic task
# takes `timestamp` (the scheduled time, in seconds); procrastinate defers it once per time,
# however many workers run.
PERIODIC = (
    (upkeep.retry_stalled, "stalled_cron"),
    (title_tasks.refresh_titles, "titles_cron"),
    (upkeep.purge_idempotency_keys, "idempotency_cron"),
    (upkeep.retention, "retention_cron"),
    (ledger_partitions.ledger_partitions, "ledger_partitions_cron"),
    (upkeep.expire_submissions, "submissions_cron"),
)

# The connector of each run is `queue_connector(settings)` (worker.py); this one is never opened.
app = App(connector=PsycopgConnector())
for _module in TASK_MODULES:
    app.add_tasks_from(_module.blueprint, namespace=_module.NAMESPACE)


def schedule(settings: Settings) -> None:
    """Register the periodic jobs with the schedules of `settings` (replacing earlier ones)."""
    app.periodic_registry = PeriodicRegistry()
    for task, field in PERIODIC:
        app.periodic_registry.register_task(
            task=task, cron=getattr(settings.jobs, field), periodic_id="", configure_kwargs={}
        )


def queue_connector(settings: Settings) -> PsycopgConnector:
    """The queue's connector: its own psycopg 3 pool (opened with the App), the search path on
    procrastinate's schema, as its SQL names nothing by schema."""
    if not settings.database_url:
        raise RuntimeError("no database configured: set EAGLET_DATABASE_URL (or run `eaglet up`)")
    return PsycopgConnector(
        conninfo=plain_url(settings.database_url),
        min_size=1,
        max_size=settings.jobs.pool_size,
        kwargs={"options": f"-c search_path={QUEUE_SCHEMA}", "application_name": "eaglet-worker"},
    )

"""`eaglet worker`: the job runner's process (services/jobs/worker.py)."""

from __future__ import annotations

import sys

import typer

from services.common.commands import database, fail
from services.common.logging import configure_logging
from services.common.settings import get_settings


def worker(
    concurrency: int | None = typer.Option(None, min=1, help="Jobs run at once (EAGLET_JOBS__CONCURRENCY)"),
) -> None:
    """Run the job worker: queued jobs (background screenings, exports), the periodic upkeep
    (title refresh, Idempotency-Key purge, retention, stalled jobs) and the loops beside them,
    until SIGTERM or Ctrl-C. Needs only the database (DATABASE_URL, else the embedded server)."""
    from services.jobs.worker import main

    settings = get_settings()
    if concurrency is not None:
        settings = settings.model_copy(
            update={"jobs": settings.jobs.model_copy(update={"concurrency": concurrency})}
        )
    configure_logging("worker", settings.log_level)
    with database(settings) as url:
        try:
            main(settings.model_copy(update={"database_url": url}))
        except RuntimeError as e:
            fail(str(e))


def worker_command(*options: str) -> list[str]:
    """The command line that runs the worker (`eaglet worker`) with this interpreter."""
    return [sys.executable, "-m", "services.cli", "worker", *options]

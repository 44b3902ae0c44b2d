"""The worker's task of a service's file submissions (service.py `process`), one per service
schema: `<service>.submissions:submission`, made by `blueprint_for` in the service's own
submissions module and registered in services/jobs/app.py. A run that raises is retried by
`RETRY` and resumes after the last committed chunk; the last failure marks the submission
`failed` (a retry resumes it: router.py). A file that cannot be read fails it at once."""

from __future__ import annotations

from procrastinate import Blueprint, JobContext, RetryStrategy

from services.common.db import create_engine, create_sessionmaker, raw_connection
from services.common.errors import JobFailed
from services.common.jobs import resources
from services.common.submissions import repository, service
from services.common.submissions.kinds import SubmissionService

RETRY = RetryStrategy(max_attempts=2, exponential_wait=10)


def blueprint_for(submissions: SubmissionService) -> Blueprint:
    """The blueprint holding the service's task (its namespace: `<service>.submissions`)."""
    blueprint = Blueprint()

    @blueprint.task(name="submission", pass_context=True, retry=RETRY)
    async def submission(context: JobContext, submission_id: int) -> None:
        settings = resources(context).settings
        try:
            await service.process(settings, submissions, submission_id)
        except Exception:
            if context.job.attempts >= RETRY.max_attempts:
                engine = create_engine(settings, "eaglet-worker-submissions")
                try:
                    async with create_sessionmaker(engine)() as session:
                        conn = await raw_connection(session)
                        await repository.fail(conn, submissions.name, submission_id, JobFailed.body())
                        await session.commit()
                finally:
                    await engine.dispose()
            raise

    return blueprint

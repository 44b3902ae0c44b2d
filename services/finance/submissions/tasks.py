"""The worker's task of a file submission (services/finance/submissions/service.py `process`).
A run that raises is retried by `RETRY` and resumes after the last committed chunk; the last
failure marks the submission `failed`. A file that cannot be read fails it at once."""

from __future__ import annotations

from procrastinate import Blueprint, JobContext, RetryStrategy

from services.common.db import create_engine, create_sessionmaker, raw_connection
from services.common.errors import JobFailed
from services.common.jobs import resources
from services.finance.submissions import repository, service

NAMESPACE = "finance.submissions"
blueprint = Blueprint()
SUBMISSION = f"{NAMESPACE}:submission"
RETRY = RetryStrategy(max_attempts=2, exponential_wait=10)


@blueprint.task(name="submission", pass_context=True, retry=RETRY)
async def submission(context: JobContext, submission_id: int) -> None:
    settings = resources(context).settings
    try:
        await service.process(settings, submission_id)
    except Exception:
        if context.job.attempts >= RETRY.max_attempts:
            engine = create_engine(settings, "eaglet-worker-submissions")
            try:
                async with create_sessionmaker(engine)() as session:
                    await repository.fail(await raw_connection(session), submission_id, JobFailed.body())
                    await session.commit()
            finally:
                await engine.dispose()
        raise

"""Where a job's status resource and its result are, as gateway paths."""

from __future__ import annotations

from services.common.jobs import Job, JobOut, job_out

PREFIX = "/registry/v1"


def job_href(job_id: int) -> str:
    return f"{PREFIX}/jobs/{job_id}"


def result_href(job: Job) -> str | None:
    """What a job produces: the screening it evaluates (at once), the export's file (once done)."""
    if job.kind == "screening" and job.subject_id is not None:
        return f"{PREFIX}/screenings/{job.subject_id}"
    if job.kind == "export" and job.status == "succeeded":
        return f"{PREFIX}/exports/{job.id}/file"
    return None


def view(job: Job) -> JobOut:
    return job_out(job, job_href(job.id), result_href(job))

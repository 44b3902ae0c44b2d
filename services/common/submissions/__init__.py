"""File submissions, the kit's part: one implementation every service mounts with its own kinds.

A service declares what a file may hold (services/<service>/submissions.py: its `SubmissionKind`s
in one `SubmissionService`); the kit gives it the tables (`models.py`, one factory for the three
schemas), their SQL (`repository.py`), the routes (`router.py`, at `/v1/submissions`), the
worker's run (`service.py`) and its task (`tasks.py`). Each chunk of a file goes through the
kind's own batch ingest: the same rules and upsert as its JSON batch, never a second validation.
"""

from services.common.submissions.receive import (
    SERVICES_WITH_SUBMISSIONS,
    SUBMISSIONS_PATH,
    Received,
    SubmissionExpired,
    SubmissionFileUnreadable,
    SubmissionNotRetryable,
    SubmissionUnreadable,
    UnsupportedFileType,
    receive_file,
)

__all__ = [
    "SERVICES_WITH_SUBMISSIONS",
    "SUBMISSIONS_PATH",
    "Received",
    "SubmissionExpired",
    "SubmissionFileUnreadable",
    "SubmissionNotRetryable",
    "SubmissionUnreadable",
    "UnsupportedFileType",
    "receive_file",
]

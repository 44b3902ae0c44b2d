"""The registry's file submissions (the kit: services/common/submissions/): an official's (or
admin's) enterprise list, run through the enterprise batch (`POST /v1/enterprises/batch`), so
a line outside the official's region is rejected as there (REG-E006). An official's submission
is its own (its `sub`): officials share no institution; admin reads all."""

from __future__ import annotations

from services.common.settings import Settings
from services.common.submissions.kinds import SubmissionKind, SubmissionService
from services.common.submissions.models import submission_models
from services.common.submissions.router import router_for
from services.common.submissions.service import process as process_in
from services.common.submissions.tasks import blueprint_for
from services.registry.enterprises import service as enterprises
from services.registry.enterprises.schemas import EnterpriseBatchRequest
from services.registry.scope import MANAGERS

Submission, SubmissionFinding = submission_models("registry")

SUBMISSIONS = SubmissionService(
    "registry",
    kinds=(
        SubmissionKind(
            "enterprises",
            EnterpriseBatchRequest,
            enterprises.batch,
            MANAGERS,
            enterprises.ENTERPRISE_RULES,
            description="enterprises, as `POST /v1/enterprises/batch`",
        ),
    ),
    submission=Submission,
    finding=SubmissionFinding,
)

router = router_for(SUBMISSIONS)
NAMESPACE = "registry.submissions"
blueprint = blueprint_for(SUBMISSIONS)


async def process(settings: Settings, submission_id: int, **kw) -> None:
    """The worker's run of one registry submission (services/common/submissions/service.py)."""
    await process_in(settings, SUBMISSIONS, submission_id, **kw)

"""The standards service's file submissions (the kit: services/common/submissions/): a
certification body's certificate register, run through the certificate push's own batch
(`POST /v1/certifications/batch`). A submission is its body's (the caller's org)."""

from __future__ import annotations

from services.common.auth import Principal
from services.common.errors import Forbidden
from services.common.settings import Settings
from services.common.submissions.kinds import SubmissionKind, SubmissionService
from services.common.submissions.models import submission_models
from services.common.submissions.router import router_for
from services.common.submissions.service import process as process_in
from services.common.submissions.tasks import blueprint_for
from services.standards.certifications import service as certifications
from services.standards.certifications.rules import RULES
from services.standards.certifications.schemas import CertificateBatchRequest

Submission, SubmissionFinding = submission_models("standards")


def _body(principal: Principal) -> None:
    """The push's own refusal of a body without its code, at upload."""
    if not principal.org:
        raise Forbidden("only a certification body (with its org code) pushes certificates")


SUBMISSIONS = SubmissionService(
    "standards",
    kinds=(
        SubmissionKind(
            "certifications",
            CertificateBatchRequest,
            certifications.push_batch,
            ("certifier",),
            RULES,
            _body,
            "certificate decisions, as `POST /v1/certifications/batch`",
        ),
    ),
    submission=Submission,
    finding=SubmissionFinding,
)

router = router_for(SUBMISSIONS)
NAMESPACE = "standards.submissions"
blueprint = blueprint_for(SUBMISSIONS)


async def process(settings: Settings, submission_id: int, **kw) -> None:
    """The worker's run of one standards submission (services/common/submissions/service.py)."""
    await process_in(settings, SUBMISSIONS, submission_id, **kw)

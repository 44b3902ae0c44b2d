"""The finance service's file submissions (the kit: services/common/submissions/): a bank's
loans, credit lines or loan applications, a guarantor's guarantees, each kind run through its
own batch ingest. A submission is its institution's (the caller's org)."""

from __future__ import annotations

from services.common.auth import Principal
from services.common.settings import Settings
from services.common.submissions.kinds import SubmissionKind, SubmissionService
from services.common.submissions.models import submission_models
from services.common.submissions.router import router_for
from services.common.submissions.service import process as process_in
from services.common.submissions.tasks import blueprint_for
from services.finance.applications import service as applications
from services.finance.applications.schemas import ApplicationBatchRequest
from services.finance.errors import NoInstitution
from services.finance.guarantees import service as guarantees
from services.finance.guarantees.schemas import GuaranteeBatchRequest
from services.finance.lines import service as lines
from services.finance.lines.schemas import CreditLineBatchRequest
from services.finance.loans import service as loans
from services.finance.loans.schemas import LoanBatchRequest
from services.finance.rules import RULES

Submission, SubmissionFinding = submission_models("finance")


def _institution(kind: str):
    """The batch's own refusal of a client without an institution code, at upload."""

    def admit(principal: Principal) -> None:
        if not principal.org:
            raise NoInstitution(kind=kind)

    return admit


BANK = ("bank",)
SUBMISSIONS = SubmissionService(
    "finance",
    kinds=(
        SubmissionKind("loans", LoanBatchRequest, loans.ingest, BANK, RULES, _institution("bank"),
                       "loans, as `POST /v1/loans/batch`"),
        SubmissionKind("credit_lines", CreditLineBatchRequest, lines.ingest, BANK, RULES,
                       _institution("bank"), "credit lines, as `POST /v1/credit-lines/batch`"),
        SubmissionKind("applications", ApplicationBatchRequest, applications.ingest, BANK, RULES,
                       _institution("bank"), "loan applications, as `POST /v1/applications/batch`"),
        SubmissionKind("guarantees", GuaranteeBatchRequest, guarantees.ingest, ("guarantor",), RULES,
                       _institution("guarantor"), "guarantees, as `POST /v1/guarantees/batch`"),
    ),
    submission=Submission,
    finding=SubmissionFinding,
    problems=(NoInstitution,),
)  # fmt: skip

router = router_for(SUBMISSIONS)
NAMESPACE = "finance.submissions"
blueprint = blueprint_for(SUBMISSIONS)


async def process(settings: Settings, submission_id: int, **kw) -> None:
    """The worker's run of one finance submission (services/common/submissions/service.py)."""
    await process_in(settings, SUBMISSIONS, submission_id, **kw)

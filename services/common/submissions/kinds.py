"""What a service declares for its file submissions: each kind a file may hold, as an adapter
over the kind's JSON batch, and who owns a submission.

A kind is its batch: the header row is the batch record model's fields, the template's sample
line is the batch request's OpenAPI example, and every chunk of lines is given to the batch's own
ingest (`(session, principal, records, atomic) -> batch answer`), so a line is checked and
stored exactly as the same record posted to `POST /v1/<things>/batch` would be.

Owner scope (`owner_of`, the jobs' rule): an institution's submission is its institution's — a bank's,
a guarantor's or a certification body's org code, so every client of that institution reads it;
an official's or an admin's is its own principal's (`sub`): officials of one county are separate
callers with no institution to share. Admin reads every submission. Another caller's submission
is a 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.batch import BatchBody, RuleSet
from services.common.jobs import ORG_KINDS

Ingest = Callable[[AsyncSession, Principal, list[dict[str, Any]], bool], Awaitable[dict[str, Any]]]
Admit = Callable[[Principal], None]


def owner_of(principal: Principal) -> str | None:
    """The value of a submission's `owner` column for this caller: the rule of a job's owner
    (services/common/jobs.py `ORG_KINDS`), kept in one column."""
    return principal.org if principal.kind in ORG_KINDS else principal.sub


def _no_check(principal: Principal) -> None:
    return None


@dataclass(frozen=True)
class SubmissionKind:
    """One kind of file: `?kind=<name>`."""

    name: str
    batch: type[BatchBody]  # the batch route's body (`batch_request`): record model and example
    ingest: Ingest
    callers: tuple[str, ...]  # the caller kinds the batch route allows (`require_kind`)
    rule_set: RuleSet  # whose version is stamped on the submission
    # refuses a caller the ingest would refuse on every line (no institution code…), at upload
    admit: Admit = _no_check
    description: str = ""

    @property
    def record_model(self) -> type[BaseModel]:
        return self.batch.record_model

    @cached_property
    def fields(self) -> list[str]:
        """The header row: the record model's fields, in its order."""
        return list(self.record_model.model_fields)

    @cached_property
    def sample(self) -> dict[str, Any]:
        """The template's sample line: the batch request's documented example record."""
        return self.batch.model_config["json_schema_extra"]["examples"][0]["records"][0]  # type: ignore[index]


@dataclass(frozen=True)
class SubmissionService:
    """A service's submissions: its schema (also its gateway prefix), its kinds and its tables
    (`models.submission_models(schema)`)."""

    name: str
    kinds: tuple[SubmissionKind, ...]
    submission: Any  # the mapped `<schema>.submissions`
    finding: Any  # the mapped `<schema>.submission_findings`
    problems: tuple[Any, ...] = field(default=())  # what `admit` may raise (OpenAPI)

    def kind(self, name: str) -> SubmissionKind:
        return next(k for k in self.kinds if k.name == name)

    @cached_property
    def kind_names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.kinds)

    @cached_property
    def Kind(self) -> Any:  # noqa: N802 - a type
        return Literal[self.kind_names]  # type: ignore[valid-type]

    @cached_property
    def submitters(self) -> tuple[str, ...]:
        """Every caller kind that may submit a file of some kind."""
        return tuple(dict.fromkeys(c for k in self.kinds for c in k.callers))

    @cached_property
    def readers(self) -> tuple[str, ...]:
        """Who may read submissions (each its own; admin all)."""
        return tuple(dict.fromkeys((*self.submitters, "admin")))

    @cached_property
    def task(self) -> str:
        """The worker's task of this service's submissions (tasks.py)."""
        return f"{self.name}.submissions:submission"

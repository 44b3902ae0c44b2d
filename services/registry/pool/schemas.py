from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.common.errors import ProblemDetail
from services.common.jobs import JobRef
from services.common.types import CreditCode, RegionPrefix, text
from services.registry.enterprises.schemas import Tier


class CriterionOut(BaseModel):
    """One criterion (indicator, op, threshold, years), or a group of them: `any_of` (one must
    hold: an official text's alternatives) or `all_of` (all must hold)."""

    id: str
    description: str
    indicator: str | None = None
    op: str | None = None
    threshold: Any = None
    unit: str | None = None
    years: list[int] | None = Field(
        None, description="Indicator years needed, relative to the screening year (0, -1)"
    )
    aggregate: Literal["each", "mean", "sum"] | None = Field(
        None, description="Over several years: each must hold (default), or their mean / sum is compared"
    )
    settled: bool | None = Field(None, description="false: the threshold or wording is not confirmed")
    any_of: list[CriterionOut] | None = None
    all_of: list[CriterionOut] | None = None


class ScreeningRuleSetOut(BaseModel):
    """A screening rule set of the cultivation pool (criteria per tier; not a batch rule set)."""

    id: str
    name: str
    version: str
    tiers: list[str]
    source: str = Field(description="The official text the criteria are taken from")
    settled: bool = Field(description="false: some criterion is unconfirmed (see notes, criteria)")
    unsettled: bool = Field(description="not settled (kept for earlier clients)")
    notes: str | None = None
    criteria: list[CriterionOut]


class RuleSetList(BaseModel):
    version: str
    items: list[ScreeningRuleSetOut]


class ScreeningIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tier: Tier
    year: Annotated[int, Field(ge=1949, le=2100, description="Indicator year evaluated ('last year')")]
    rule_set: text(StringConstraints(max_length=100)) = Field(examples=["specialized_sme-2022"])
    region: RegionPrefix | None = Field(
        None, description="Region prefix to screen (defaults to the caller's region)"
    )


class CriterionResult(BaseModel):
    id: str
    result: Literal["pass", "fail", "missing_data"]
    values: dict[str, Any] = Field(description="The values used, by year")
    threshold: Any
    missing: list[str] = Field(default_factory=list)
    group: Literal["any_of", "all_of"] | None = Field(None, description="A group's results are in `criteria`")
    criteria: list[CriterionResult] | None = None


class Candidate(BaseModel):
    credit_code: str
    name: str | None = None
    region_code: str | None = None
    outcome: Literal["eligible", "ineligible", "incomplete"]
    criteria: list[CriterionResult]


class CandidatePage(BaseModel):
    items: list[Candidate]
    next_cursor: str | None = None


class ScreeningProgress(BaseModel):
    evaluated: int = Field(description="Enterprises evaluated so far")
    total: int | None = Field(None, description="Enterprises in scope (known once the run has started)")


class ScreeningOut(BaseModel):
    id: int
    status: Literal["running", "done", "failed"] = Field(
        description="running: evaluated in the background (queued or running in the worker: poll "
        "this resource, or its `job`); done: the results below are complete; failed: see `error`"
    )
    progress: ScreeningProgress
    error: ProblemDetail | None = Field(None, description="Why the run failed (a problem body)")
    job: JobRef | None = Field(
        None, description="The job evaluating it in the background (none for an answered screening)"
    )
    finished_at: datetime | None = None
    tier: str
    year: int
    rule_set: str
    rule_version: str
    region: str | None
    evaluated: int
    eligible: int
    ineligible: int
    incomplete: int
    created_by: str
    created_at: datetime
    candidates: CandidatePage


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credit_code: CreditCode
    tier: Tier
    year: Annotated[int, Field(ge=1949, le=2100)]
    decision: Literal["admit", "reject", "exit"]
    reason: text(StringConstraints(strip_whitespace=True, max_length=500), multiline=True) | None = None
    screening_id: Annotated[int, Field(ge=1, le=2**62)] | None = None


class DecisionOut(BaseModel):
    id: int
    credit_code: str
    tier: str
    year: int
    decision: str
    reason: str | None
    previous_tier: str | None
    screening_id: int | None
    decided_by: str
    decided_at: datetime
    active_tier: str | None = Field(None, description="The enterprise's tier after this decision")


class PoolMember(BaseModel):
    credit_code: str
    name: str
    region_code: str
    industry_code: str
    size_class: str | None
    tier: str
    tier_year: int

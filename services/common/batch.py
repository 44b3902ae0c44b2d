"""Batch writes as architecture.md specifies, and the numbered validation rules behind them.

`POST /v1/<things>/batch` takes `{"records": [...]}` (≤ 5,000). Each record is parsed on its own
(one bad record never fails the request), checked against the service's rule set, and reported
as `created | updated | unchanged | rejected` with `{rule, severity, pointer, code, message}`
findings. Valid records are committed together; with `?atomic=true` nothing is committed if any
record is rejected. Warnings never block. The rule-set version is stamped on accepted records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, Field, ValidationError

from services.common.errors import loc_to_pointer
from services.common.types import text_problem

MAX_BATCH = 5000
Severity = Literal["error", "warning"]
Status = Literal["created", "updated", "unchanged", "rejected"]


class BatchRequest(BaseModel):
    records: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


AtomicParam = Annotated[
    bool, Query(description="Commit nothing if any record is rejected (default: commit the valid ones)")
]


class Finding(BaseModel):
    rule: str | None = Field(None, description="Stable rule id, e.g. FIN-V012 (see GET /v1/rules)")
    severity: Severity
    pointer: str = Field(description="JSON Pointer into the record, e.g. /amount")
    code: str
    message: str


class RecordResult(BaseModel):
    index: int
    key: str | None = None
    status: Status
    errors: list[Finding] = Field(default_factory=list)
    warnings: list[Finding] = Field(default_factory=list)


class BatchSummary(BaseModel):
    received: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0


class BatchResponse(BaseModel):
    rule_set_version: str
    atomic: bool
    committed: bool = Field(
        description="False when atomic=true and a record was rejected: nothing was written"
    )
    summary: BatchSummary
    results: list[RecordResult]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    pointer: str
    description: str


class RuleOut(BaseModel):
    id: str
    severity: Severity
    pointer: str
    description: str


class RuleSetOut(BaseModel):
    name: str
    version: str
    rules: list[RuleOut]


class RuleSet:
    """A named, versioned set of validation rules; the version is stamped on accepted records."""

    def __init__(self, name: str, version: str, rules: Iterable[Rule]) -> None:
        self.name = name
        self.version = version
        self.rules = {r.id: r for r in rules}

    def finding(
        self, rule_id: str, message: str, pointer: str | None = None, code: str | None = None
    ) -> Finding:
        rule = self.rules[rule_id]
        return Finding(
            rule=rule.id,
            severity=rule.severity,
            pointer=pointer or rule.pointer,
            code=code or rule.id,
            message=message,
        )

    def describe(self) -> RuleSetOut:
        return RuleSetOut(
            name=self.name,
            version=self.version,
            rules=[
                RuleOut(id=r.id, severity=r.severity, pointer=r.pointer, description=r.description)
                for r in self.rules.values()
            ],
        )


@dataclass
class Parsed:
    index: int
    record: Any  # the validated pydantic model
    raw: dict[str, Any]
    warnings: list[Finding]


def parse_records(
    records: list[dict[str, Any]],
    model: type[BaseModel],
    rule_for_error: Callable[[dict[str, Any]], str | None],
    rule_set: RuleSet,
) -> tuple[list[Parsed], dict[int, list[Finding]]]:
    """Validate each record with `model`; map each pydantic error to a rule id via `rule_for_error`.

    Returns the parsed records and, by index, the findings of the rejected ones.
    """
    parsed: list[Parsed] = []
    rejected: dict[int, list[Finding]] = {}
    for index, raw in enumerate(records):
        try:
            parsed.append(Parsed(index, model.model_validate(raw), raw, []))
        except ValidationError as e:
            findings = []
            for err in e.errors(include_url=False):
                rule_id = rule_for_error(err)
                pointer = loc_to_pointer(("body", *err["loc"]))
                message = err["msg"]
                if rule_id:
                    findings.append(rule_set.finding(rule_id, message, pointer, err["type"]))
                else:
                    findings.append(
                        Finding(
                            rule=None, severity="error", pointer=pointer, code=err["type"], message=message
                        )
                    )
            rejected[index] = findings
    return parsed, rejected


def rejected_key(raw: Any, key_field: str) -> str | None:
    """A rejected record's `key` as sent, so the caller recognises it: the key field when it is a
    string or number, stripped and cut to 64 characters — unless the text rule refuses it (the
    index still identifies the record). A refused value is never echoed: a lone surrogate could
    not even be encoded in the answer, and a control character has no business in a caller's log."""
    v = raw.get(key_field) if isinstance(raw, dict) else None
    if isinstance(v, bool) or not isinstance(v, str | int):
        return None
    key = str(v).strip()[:64]
    return key if key and text_problem(key) is None else None


def summarize(results: list[RecordResult]) -> BatchSummary:
    s = BatchSummary(received=len(results))
    for r in results:
        setattr(s, r.status, getattr(s, r.status) + 1)
    return s

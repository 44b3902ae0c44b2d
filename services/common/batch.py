"""Batch writes as architecture.md specifies: the one pipeline, and the numbered rules behind it.

`POST /v1/<things>/batch` takes `{"records": [...]}` (≤ 5,000). Every batch route of every service
runs `run_batch`, whose stages are, in this order:

1. **parse** — each record is validated with the domain's record model on its own (one bad record
   never fails the request); each pydantic error becomes a finding of the rule the domain maps it
   to (the text rule first). The whole list is validated in one call first, and record by record
   only when something is wrong.
2. **rules** — the domain's rules over one parsed record (dates in order, balances, scope…).
3. **in-batch duplicates** — among the records that passed 1–2, by their parsed key, as the domain
   declares: every occurrence rejected, the first kept, or all applied in order.
4. **look-up** — the domain's set-based reads for the survivors (one query per kind, never one per
   record): rules against the stored state, and warnings. Warnings never block.
5. **atomic** — with `?atomic=true` and any record rejected, nothing is written.
6. **upsert** — the survivors go to the domain's upsert (its SQL lives in its repository, change
   log included) in the request's transaction; it reports `created` / `updated` per record (the
   rest are `unchanged`) and may still reject a record it finds it may not write. With
   `?atomic=true` the upsert runs in a savepoint, undone if it rejects anything.
7. **results** — `{index, key, status, errors, warnings}` per record, in posted order, with the
   summary; built as plain data and serialised once.

Rules that hold for every domain, here and nowhere else:
- a record rejected at one stage takes no part in the later ones;
- a rejected record reports its errors and no warnings (a warning describes how a record is
  stored; a rejected record is not);
- `key` is the parsed key (normalised as stored and compared) when the record parsed, else the key
  field as sent (`rejected_key`), or null;
- `committed` is false exactly when `atomic` is set and some record was rejected (before or by the
  upsert); then every other record reports `unchanged`;
- the rule-set version is stamped on accepted records (by the upsert) and answered with the batch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, ClassVar, Literal

from fastapi import Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import loc_to_pointer
from services.common.types import text_problem

MAX_BATCH = 5000
Severity = Literal["error", "warning"]
Status = Literal["created", "updated", "unchanged", "rejected"]
# A finding as plain data, shaped as `Finding` (the model documents it in the OpenAPI): up to
# 5,000 results are not worth a pydantic model each.
FindingData = dict[str, Any]


class BatchBody(BaseModel):
    """Every batch body at runtime: 1–5,000 JSON objects, each parsed later on its own. A route's
    own body class (`batch_request`) documents them with its `record_model`."""

    record_model: ClassVar[type[BaseModel]]
    records: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


def _as_sent(records: Any) -> Any:
    return records


def batch_request(name: str, model: type[BaseModel], example: dict[str, Any]) -> type[BatchBody]:
    """The body of one batch route, ``{"records": [...]}``, read as `BatchBody` reads it (a list of
    1–5,000 JSON objects, each parsed later by `run_batch`, so that a bad record is a rejected
    result, never a 422 for the whole body) but documented with the domain's record model: its
    fields, required ones, formats, enums, patterns and ``additionalProperties: false`` (the record
    model forbids unknown fields; a misspelt field is a rejected record with its pointer). One
    model, one home for the rules: the schema is the record model's own. `example` is one record."""
    documented = Annotated[list[model], Field(min_length=1, max_length=MAX_BATCH)]  # type: ignore[valid-type]
    records = Annotated[
        list[dict[str, Any]],
        Field(
            min_length=1,
            max_length=MAX_BATCH,
            description=f"1–{MAX_BATCH:,} records, each a {model.__name__}",
        ),
        BeforeValidator(_as_sent, json_schema_input_type=documented),
    ]
    namespace = {
        "__module__": model.__module__,
        "__qualname__": name,
        "__doc__": f"A batch of {model.__name__} records, each checked on its own (`rejected` in `results`).",
        "__annotations__": {"records": records},
        "model_config": ConfigDict(json_schema_extra={"examples": [{"records": [example]}]}),
        "record_model": model,
    }
    return type(name, (BatchBody,), namespace)


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
    results: list[RecordResult] = Field(
        description="One per posted record, in posted order", json_schema_extra={"maxItems": MAX_BATCH}
    )


# ---- rule sets ----------------------------------------------------------------------------------


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
    ) -> FindingData:
        """A finding of this rule (error or warning, as the rule says), as plain data."""
        rule = self.rules[rule_id]
        return {
            "rule": rule.id,
            "severity": rule.severity,
            "pointer": pointer or rule.pointer,
            "code": code or rule.id,
            "message": message,
        }

    def describe(self) -> RuleSetOut:
        return RuleSetOut(
            name=self.name,
            version=self.version,
            rules=[
                RuleOut(id=r.id, severity=r.severity, pointer=r.pointer, description=r.description)
                for r in self.rules.values()
            ],
        )


# ---- what a domain fills in ---------------------------------------------------------------------


@dataclass
class Parsed:
    index: int
    record: Any  # the validated pydantic model
    raw: dict[str, Any]
    warnings: list[FindingData] = field(default_factory=list)


@dataclass
class Written:
    """What an upsert did: `created` / `updated` by record index (a record not named is
    `unchanged`), and the records it refused to write, with their findings."""

    statuses: dict[int, Status] = field(default_factory=dict)
    rejected: dict[int, list[FindingData]] = field(default_factory=dict)


@dataclass(frozen=True)
class RejectEvery:
    """A key repeated in the batch rejects every occurrence (nothing says which one is meant)."""

    rule: str


@dataclass(frozen=True)
class KeepFirst:
    """A key repeated in the batch: the first occurrence is kept, every later one rejected."""

    rule: str


@dataclass(frozen=True)
class InOrder:
    """A key may repeat: the records apply one after the other, in posted order (the domain's
    look-up checks each against the state the earlier ones leave; its upsert writes them all)."""


Duplicates = RejectEvery | KeepFirst | InOrder
RecordRules = Callable[[Any], list[FindingData]]
ErrorRule = Callable[[dict[str, Any]], str | None]
# set-based reads for the surviving records: findings that reject some of them, by index;
# warnings go onto `Parsed.warnings`
LookUp = Callable[[AsyncSession, list[Parsed]], Awaitable[dict[int, list[FindingData]]]]
Upsert = Callable[[AsyncSession, list[Parsed]], Awaitable[Written]]


def no_rules(record: Any) -> list[FindingData]:
    return []


@dataclass(frozen=True)
class BatchSpec:
    """One domain's batch: its record model and key, its rule set (ids for pydantic errors, the
    record rules, the duplicate policy), its set-based look-up and its upsert. The callables close
    over the request (caller, owner, today), so a spec is built per request."""

    rule_set: RuleSet
    model: type[BaseModel]
    key_field: str
    rule_for_error: ErrorRule
    duplicates: Duplicates
    upsert: Upsert
    rules: RecordRules = no_rules
    look_up: LookUp | None = None


# ---- the pipeline -------------------------------------------------------------------------------


async def run_batch(
    session: AsyncSession, spec: BatchSpec, records: list[dict[str, Any]], atomic: bool
) -> dict[str, Any]:
    """The batch answer (`BatchResponse` as plain data) after running every stage (module doc)."""
    parsed, rejected = parse(records, spec)
    keys = {p.index: getattr(p.record, spec.key_field) for p in parsed}

    survivors = []
    for p in parsed:
        errors = spec.rules(p.record)
        if errors:
            rejected[p.index] = errors
        else:
            survivors.append(p)
    survivors = _without_duplicates(survivors, keys, spec, rejected)

    if spec.look_up is not None and survivors:
        found = await spec.look_up(session, survivors)
        if found:
            rejected.update(found)
            survivors = [p for p in survivors if p.index not in found]

    committed = not (atomic and rejected)
    statuses: dict[int, Status] = {}
    if committed and survivors:
        savepoint = await session.begin_nested() if atomic else None
        written = await spec.upsert(session, survivors)
        if written.rejected:
            rejected.update(written.rejected)
        if savepoint is not None and written.rejected:
            await savepoint.rollback()
            committed = False
        else:
            if savepoint is not None:
                await savepoint.commit()
            statuses = written.statuses
    return _answer(spec, records, parsed, keys, rejected, statuses, atomic, committed)


@cache
def _list_adapter(model: type[BaseModel]) -> TypeAdapter:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def parse(
    records: list[dict[str, Any]], spec: BatchSpec
) -> tuple[list[Parsed], dict[int, list[FindingData]]]:
    """Validate the whole list in one call; only when something is wrong, record by record (so
    that each bad record gets its own findings and the good ones are kept)."""
    try:
        items = _list_adapter(spec.model).validate_python(records)
    except ValidationError:
        return parse_records(records, spec.model, spec.rule_for_error, spec.rule_set)
    return [Parsed(i, item, raw) for i, (item, raw) in enumerate(zip(items, records, strict=True))], {}


def parse_records(
    records: list[dict[str, Any]],
    model: type[BaseModel],
    rule_for_error: ErrorRule,
    rule_set: RuleSet,
) -> tuple[list[Parsed], dict[int, list[FindingData]]]:
    """Validate each record with `model`; map each pydantic error to a rule id via `rule_for_error`
    (an error it maps to no rule is reported with `rule: null` and the error type as code).

    Returns the parsed records and, by index, the findings of the rejected ones.
    """
    parsed: list[Parsed] = []
    rejected: dict[int, list[FindingData]] = {}
    for index, raw in enumerate(records):
        try:
            parsed.append(Parsed(index, model.model_validate(raw), raw))
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
                        {
                            "rule": None,
                            "severity": "error",
                            "pointer": pointer,
                            "code": err["type"],
                            "message": message,
                        }
                    )
            rejected[index] = findings
    return parsed, rejected


def _without_duplicates(
    survivors: list[Parsed], keys: dict[int, Any], spec: BatchSpec, rejected: dict[int, list[FindingData]]
) -> list[Parsed]:
    policy, name = spec.duplicates, spec.key_field
    if isinstance(policy, InOrder):
        return survivors
    if isinstance(policy, RejectEvery):
        counts = Counter(keys[p.index] for p in survivors)
        if len(counts) == len(survivors):
            return survivors
        kept = []
        for p in survivors:
            key = keys[p.index]
            if counts[key] > 1:
                message = f"{name} {key} appears {counts[key]} times in this batch"
                rejected[p.index] = [spec.rule_set.finding(policy.rule, message, f"/{name}")]
            else:
                kept.append(p)
        return kept
    first: dict[Any, int] = {}
    kept = []
    for p in survivors:
        key = keys[p.index]
        if key in first:
            message = f"{key} already appears at record {first[key]}"
            rejected[p.index] = [spec.rule_set.finding(policy.rule, message, f"/{name}")]
        else:
            first[key] = p.index
            kept.append(p)
    return kept


def rejected_key(raw: Any, key_field: str) -> str | None:
    """A record's `key` as sent, for a record that did not parse, so the caller recognises it: the
    key field when it is a string or number, stripped and cut to 64 characters — unless the text
    rule refuses it (the index still identifies the record). A refused value is never echoed: a
    lone surrogate could not even be encoded in the answer, and a control character has no
    business in a caller's log."""
    v = raw.get(key_field) if isinstance(raw, dict) else None
    if isinstance(v, bool) or not isinstance(v, str | int):
        return None
    key = str(v).strip()[:64]
    return key if key and text_problem(key) is None else None


def _answer(
    spec: BatchSpec,
    records: list[dict[str, Any]],
    parsed: list[Parsed],
    keys: dict[int, Any],
    rejected: dict[int, list[FindingData]],
    statuses: dict[int, Status],
    atomic: bool,
    committed: bool,
) -> dict[str, Any]:
    counts = dict.fromkeys(("created", "updated", "unchanged", "rejected"), 0)
    warnings = {p.index: p.warnings for p in parsed}
    results: list[dict[str, Any]] = []
    for index, raw in enumerate(records):
        errors = rejected.get(index)
        key = keys[index] if index in keys else rejected_key(raw, spec.key_field)
        if errors is not None:
            status, found = "rejected", []
        else:
            status, errors, found = statuses.get(index, "unchanged"), [], warnings[index]
        counts[status] += 1
        results.append({"index": index, "key": key, "status": status, "errors": errors, "warnings": found})
    return {
        "rule_set_version": spec.rule_set.version,
        "atomic": atomic,
        "committed": committed,
        "summary": {"received": len(records), **counts},
        "results": results,
    }

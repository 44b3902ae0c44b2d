"""The batch pipeline every finance ingest route shares (rules → upsert → per-record results).

1. each record is parsed on its own (pydantic) and its errors mapped to rule ids;
2. cross-field rules (dates, balances, statuses) run on the parsed records;
3. refs repeated inside the batch reject every occurrence (FIN-V010);
4. warnings (set-based look-ups) never block;
5. with ``atomic=true`` and any rejection nothing is written and every valid record reports
   ``unchanged``; otherwise the valid records are upserted together (one transaction).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.batch import (
    BatchResponse,
    BatchSummary,
    Finding,
    Parsed,
    RecordResult,
    parse_records,
    rejected_key,
)
from services.common.db import raw_connection
from services.finance import bulk
from services.finance.rules import RULES, rule_for_error

CrossCheck = Callable[[Any], list[Finding]]
WarningsFn = Callable[[AsyncSession, list[Parsed]], Awaitable[None]]
AfterWrite = Callable[[AsyncSession, dict[str, str], list[Parsed]], Awaitable[None]]


async def run_batch(
    session: AsyncSession,
    principal: Principal,
    owner: str,
    records: list[dict[str, Any]],
    *,
    model: type[BaseModel],
    key_field: str,
    cross_check: CrossCheck,
    spec: bulk.UpsertSpec,
    to_row: Callable[[Any], tuple],
    atomic: bool,
    add_warnings: WarningsFn | None = None,
    after_write: AfterWrite | None = None,
) -> BatchResponse:
    parsed, rejected = _parse(records, model)
    valid: list[Parsed] = []
    for p in parsed:
        errors = cross_check(p.record)
        if errors:
            rejected[p.index] = errors
        else:
            valid.append(p)
    counts = Counter(getattr(p.record, key_field) for p in valid)
    dupes = {k for k, n in counts.items() if n > 1}
    if dupes:
        keep = []
        for p in valid:
            ref = getattr(p.record, key_field)
            if ref in dupes:
                rejected[p.index] = [
                    RULES.finding(
                        "FIN-V010",
                        f"{key_field} {ref} appears {counts[ref]} times in this batch",
                        f"/{key_field}",
                    )
                ]
            else:
                keep.append(p)
        valid = keep

    if add_warnings and valid:
        await add_warnings(session, valid)

    committed = not (atomic and rejected)
    statuses: dict[str, str] = {}
    if committed and valid:
        conn = await raw_connection(session)
        statuses = await bulk.upsert(
            conn, spec, owner, [to_row(p.record) for p in valid], principal, RULES.version
        )
        if after_write:
            await after_write(session, statuses, valid)

    # the results are built from already validated values: construct, don't re-validate
    results: list[RecordResult] = []
    counts = dict.fromkeys(("created", "updated", "unchanged", "rejected"), 0)
    by_index = {p.index: p for p in valid}
    new = RecordResult.model_construct
    for index, raw in enumerate(records):
        if index in rejected:
            key = rejected_key(raw, key_field)
            results.append(new(index=index, key=key, status="rejected", errors=rejected[index], warnings=[]))
            counts["rejected"] += 1
            continue
        p = by_index[index]
        ref = getattr(p.record, key_field)
        status = statuses.get(ref, "unchanged") if committed else "unchanged"
        counts[status] += 1
        results.append(new(index=index, key=ref, status=status, errors=[], warnings=p.warnings))
    return BatchResponse.model_construct(
        rule_set_version=RULES.version,
        atomic=atomic,
        committed=committed,
        summary=BatchSummary.model_construct(received=len(results), **counts),
        results=results,
    )


@cache
def _list_adapter(model: type[BaseModel]) -> TypeAdapter:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def _parse(
    records: list[dict[str, Any]], model: type[BaseModel]
) -> tuple[list[Parsed], dict[int, list[Finding]]]:
    """Validate the whole list in one call; only when something is wrong, record by record (so
    that each bad record gets its own findings and the good ones are kept)."""
    try:
        items = _list_adapter(model).validate_python(records)
    except ValidationError:
        return parse_records(records, model, rule_for_error, RULES)
    return [Parsed(i, item, raw, []) for i, (item, raw) in enumerate(zip(items, records, strict=True))], {}


def order_check(rule: str, earlier: Any, later: Any, pointer: str, message: str) -> list[Finding]:
    if earlier is not None and later is not None and later < earlier:
        return [RULES.finding(rule, message, pointer)]
    return []


def finding(rule: str, message: str, pointer: str) -> Finding:
    return RULES.finding(rule, message, pointer)


def warning(rule_id: str, message: str) -> Finding:
    """A warning finding from the rule set, constructed without re-validation (one per record)."""
    rule = RULES.rules[rule_id]
    return Finding.model_construct(
        rule=rule.id, severity=rule.severity, pointer=rule.pointer, code=rule.id, message=message
    )

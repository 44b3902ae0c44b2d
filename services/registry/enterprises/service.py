"""Enterprise rules: scope on create/change, conflicts, batch upserts. No commits here."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.batch import (
    BatchSpec,
    FindingData,
    KeepFirst,
    Parsed,
    Rule,
    RuleSet,
    Written,
    run_batch,
)
from services.common.changes import Change, record_changes
from services.common.conditional import require_match
from services.common.errors import NotFound, Required
from services.common.readpool import Reader
from services.common.scope import RegionScope
from services.common.types import TEXT_ERROR_TYPES
from services.registry.enterprises import repository as repo
from services.registry.enterprises.schemas import (
    EnterpriseCreate,
    EnterpriseOut,
    EnterprisePatch,
    detail_json,
    item,
)
from services.registry.errors import EnterpriseExists

SCHEMA = "registry"

ENTERPRISE_RULES = RuleSet(
    "registry-enterprises",
    "2024.2",  # 2024.2: REG-E010 (text rule)
    [
        Rule(
            "REG-E001",
            "error",
            "/credit_code",
            "统一社会信用代码: 18 characters, GB 32100-2015 alphabet and check character",
        ),
        Rule("REG-E002", "error", "/name", "Registered name: 1–200 characters"),
        Rule(
            "REG-E003",
            "error",
            "/region_code",
            "Current Zhejiang county-level GB/T 2260 code (a retired one names its successors)",
        ),
        Rule(
            "REG-E004",
            "error",
            "/industry_code",
            "A GB/T 4754-2017 class (one of its 1,381; a 2011 code names its 2017 classes)",
        ),
        Rule("REG-E005", "error", "/registered_capital", "Money: yuan, ≥ 0, at most 2 decimal places"),
        Rule(
            "REG-E006", "error", "/region_code", "Officials may only write enterprises under their own region"
        ),
        Rule("REG-E007", "error", "/credit_code", "A credit code appears once per batch"),
        Rule("REG-E008", "error", "/established_on", "Establishment date between 1949-01-01 and today"),
        Rule("REG-E009", "error", "", "Only the documented fields; each of the right type"),
        Rule(
            "REG-E010",
            "error",
            "/",
            "Text may not contain control characters (NUL, tabs, line breaks, …), invisible "
            "formatting characters or broken Unicode (lone surrogates, noncharacters)",
        ),
    ],
)
_FIELD_RULES = {
    "credit_code": "REG-E001",
    "name": "REG-E002",
    "region_code": "REG-E003",
    "industry_code": "REG-E004",
    "registered_capital": "REG-E005",
    "established_on": "REG-E008",
}


def rule_for_error(err: dict[str, Any]) -> str:
    """The rule a pydantic error of a posted record breaks: the text rule for any string, else
    the field's rule, else REG-E009."""
    if err["type"] in TEXT_ERROR_TYPES:
        return "REG-E010"
    return _FIELD_RULES.get(str(err["loc"][0]) if err["loc"] else "", "REG-E009")


def to_out(row: Any) -> EnterpriseOut:
    """A row of `repository.one_statement` as the create and patch answers (the detail's shape)."""
    return EnterpriseOut.model_validate(item(row))


async def create(session: AsyncSession, principal: Principal, body: EnterpriseCreate) -> EnterpriseOut:
    RegionScope.of(principal).require(body.region_code, "/region_code")
    values = body.model_dump()
    values["rule_set_version"] = ENTERPRISE_RULES.version
    if not await repo.insert(session, values):
        raise EnterpriseExists(credit_code=body.credit_code)
    await record_changes(
        session, SCHEMA, principal, [Change("created", "enterprise", body.credit_code, None, values)]
    )
    return to_out(await repo.get(session, principal, body.credit_code))


async def detail(reads: Reader, principal: Principal, code: str) -> Any:
    """The detail record's row; 404 when it does not exist or lies outside the caller's region."""
    row = await repo.one_row(reads, principal, code)
    if row is None:
        raise NotFound(what="enterprise", key=code)
    return row


async def require_visible(session: AsyncSession, principal: Principal, code: str) -> None:
    if not await repo.exists_visible(session, principal, code):
        raise NotFound(what="enterprise", key=code)


async def patch(
    session: AsyncSession, principal: Principal, code: str, body: EnterprisePatch, if_match: str | None = None
) -> bytes:
    """The change, and the detail record after it (the bytes the detail GET answers this caller).
    `If-Match` is compared with the record as it stands once the row is locked."""
    current = await repo.lock_visible(session, principal, code)
    if current is None:
        raise NotFound(what="enterprise", key=code)
    if if_match is not None:
        require_match(if_match, detail_json(await repo.get(session, principal, code), principal))
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items()}
    for required in ("name", "region_code", "industry_code"):
        if required in changes and changes[required] is None:
            raise Required(field=required, how="cleared")
    if "region_code" in changes:
        RegionScope.of(principal).require(changes["region_code"], "/region_code")
    before = {k: getattr(current, k) for k in changes}
    changed = {k: v for k, v in changes.items() if before[k] != v}
    if changed:
        await repo.update_fields(session, code, changed)
        await record_changes(
            session,
            SCHEMA,
            principal,
            [Change("updated", "enterprise", code, {k: before[k] for k in changed}, changed)],
        )
    return detail_json(await repo.get(session, principal, code), principal)


def _batch(principal: Principal) -> BatchSpec:
    scope = RegionScope.of(principal)  # once per batch, not per record

    def in_region(rec: EnterpriseCreate) -> list[FindingData]:
        if scope.covers(rec.region_code):
            return []
        return [ENTERPRISE_RULES.finding("REG-E006", f"region {rec.region_code} is outside your region")]

    async def upsert(session: AsyncSession, accepted: list[Parsed]) -> Written:
        return await _upsert(session, principal, scope, accepted)

    return BatchSpec(
        rule_set=ENTERPRISE_RULES,
        model=EnterpriseCreate,
        key_field="credit_code",
        rule_for_error=rule_for_error,
        duplicates=KeepFirst("REG-E007"),
        rules=in_region,
        upsert=upsert,
    )


async def batch(
    session: AsyncSession, principal: Principal, records: list[dict[str, Any]], atomic: bool
) -> dict[str, Any]:
    return await run_batch(session, _batch(principal), records, atomic)


async def _upsert(
    session: AsyncSession, principal: Principal, scope: RegionScope, accepted: list[Parsed]
) -> Written:
    """Write the valid records: created | updated by index, and the records registered outside
    the caller's region (REG-E006), which are left as they are.

    Never read, then decide, then write: the insert decides `created` (of concurrent inserts of one
    code the primary key lets exactly one win), the other records are locked and read as last
    committed, and the update decides `updated` (rows that differ and lie in the caller's region)."""
    version = ENTERPRISE_RULES.version
    values = {p.index: p.record.model_dump() for p in accepted}
    created: set[str] = set()
    stored: dict[str, dict[str, Any]] = {}
    pending = list(values.values())
    while pending:  # a code neither inserted nor found was deleted meanwhile: insert it again
        created |= await repo.insert_new(session, pending, version)
        rest = [v for v in pending if v["credit_code"] not in created]
        stored |= await repo.lock_many(session, [v["credit_code"] for v in rest])
        pending = [v for v in rest if v["credit_code"] not in stored]

    written = Written()
    diffs: dict[str, list[str]] = {}  # in-region records already registered: fields that differ
    for index, new in values.items():
        code = new["credit_code"]
        if code in created:
            continue
        if scope.covers(stored[code]["region_code"]):
            diffs[code] = [k for k in repo.FIELDS if stored[code][k] != new[k]]
        else:
            written.rejected[index] = [
                ENTERPRISE_RULES.finding(
                    "REG-E006", f"{code} is registered outside your region", "/credit_code"
                )
            ]
    changed = [v for v in values.values() if diffs.get(v["credit_code"])]
    updated = await repo.update_changed(session, principal, changed, version)

    changes: list[Change] = []
    for index, new in values.items():
        code = new["credit_code"]
        if code in created:
            written.statuses[index] = "created"
            changes.append(Change("created", "enterprise", code, None, new))
        elif code in updated:
            written.statuses[index] = "updated"
            old = {k: stored[code][k] for k in diffs[code]}
            changes.append(Change("updated", "enterprise", code, old, {k: new[k] for k in diffs[code]}))
    await record_changes(session, SCHEMA, principal, changes)
    return written

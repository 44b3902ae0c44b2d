"""Certification rules: per-record validation, the lifecycle across stored state and within one
batch, and the derived `expired` status."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.batch import BatchResponse, Finding, RecordResult, parse_records, summarize
from services.common.changes import Change, record_changes
from services.common.context import request_id_var
from services.common.errors import Problem, not_found
from services.common.pagination import PageParams, page_of
from services.standards.catalogue.codes import is_zhejiang_made
from services.standards.certifications import repository as repo
from services.standards.certifications.models import TERMINAL, Certificate
from services.standards.certifications.rules import RULES, rule_for_error
from services.standards.certifications.schemas import CertificateOut, CertificateRecord, HistoryEntry

SCHEMA = "standards"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def today_shanghai() -> date:
    return datetime.now(SHANGHAI).date()


def effective_status(status: str, expires_on: date, today: date) -> str:
    """`expired` from the day after expires_on, unless the body already revoked or cancelled it."""
    if status in ("valid", "suspended") and today > expires_on:
        return "expired"
    return status


def status_changed_on(status: str, status_effective_on: date, expires_on: date, today: date) -> date:
    if effective_status(status, expires_on, today) == "expired":
        return expires_on + timedelta(days=1)
    return status_effective_on


def to_out(c: Certificate, today: date) -> CertificateOut:
    return CertificateOut(
        certifier=c.certifier,
        certificate_no=c.certificate_no,
        holder_credit_code=c.holder_credit_code,
        holder_name=c.holder_name,
        product=c.product,
        scope=c.scope,
        standard_code=c.standard_code,
        rule_code=c.rule_code,
        issued_on=c.issued_on,
        expires_on=c.expires_on,
        status=c.status,
        effective_status=effective_status(c.status, c.expires_on, today),
        status_effective_on=c.status_effective_on,
        status_reason=c.status_reason,
        revision=c.revision,
        rule_set_version=c.rule_set_version,
        updated_at=c.updated_at,
    )


def _state_of(record: CertificateRecord) -> dict[str, Any]:
    return {f: getattr(record, f) for f in repo.STATE_FIELDS}


def _record_findings(r: CertificateRecord, today: date) -> list[Finding]:
    """Rules that need more than one field of the record."""
    out = []
    if r.expires_on <= r.issued_on:
        out.append(
            RULES.finding("STD-V007", f"expires_on {r.expires_on} is not after issued_on {r.issued_on}")
        )
    if r.status_effective_on < r.issued_on:
        out.append(
            RULES.finding(
                "STD-V008", f"status_effective_on {r.status_effective_on} is before issued_on {r.issued_on}"
            )
        )
    if r.issued_on > today:
        out.append(RULES.finding("STD-V009", f"issued_on {r.issued_on} is after today ({today})"))
    if r.status != "valid" and not r.status_reason:
        out.append(RULES.finding("STD-V011", f"a {r.status} certificate needs a status_reason"))
    return out


def _lifecycle_findings(stored: dict[str, Any], new: dict[str, Any]) -> list[Finding]:
    out = []
    if stored["status"] in TERMINAL and new["status"] != stored["status"]:
        out.append(
            RULES.finding(
                "STD-V012",
                f"the certificate is {stored['status']} (terminal) since {stored['status_effective_on']}; "
                f"it cannot become {new['status']}",
            )
        )
    if new["status_effective_on"] < stored["status_effective_on"]:
        out.append(
            RULES.finding(
                "STD-V013",
                f"status_effective_on {new['status_effective_on']} is earlier than the current "
                f"{stored['status_effective_on']}",
            )
        )
    return out


async def push_batch(
    session: AsyncSession, principal: Principal, records: list[dict[str, Any]], atomic: bool
) -> BatchResponse:
    certifier = principal.org
    if principal.kind != "certifier" or not certifier:
        raise Problem(403, "forbidden", "only a certification body (with its org code) pushes certificates")
    today = today_shanghai()
    parsed, rejected = parse_records(records, CertificateRecord, rule_for_error, RULES)
    results: dict[int, RecordResult] = {
        i: RecordResult(index=i, key=_raw_key(records[i]), status="rejected", errors=f)
        for i, f in rejected.items()
    }

    await repo.lock_certifier(session, certifier)
    numbers = sorted({p.record.certificate_no for p in parsed})
    stored = await repo.load_states(session, certifier, numbers) if numbers else {}
    levels = await repo.standard_levels(session, sorted({p.record.standard_code for p in parsed}))
    known = await repo.known_holders(session, sorted({p.record.holder_credit_code for p in parsed}))

    current: dict[str, dict[str, Any]] = {n: s for n, s in stored.items()}
    finals: dict[str, dict[str, Any]] = {}
    history: list[dict[str, Any]] = []
    changes: list[Change] = []
    for p in parsed:
        r: CertificateRecord = p.record
        key = r.certificate_no
        errors = _record_findings(r, today)
        new = _state_of(r)
        before = current.get(key)
        if not errors and before is not None:
            errors = _lifecycle_findings(before, new)
        warnings = []
        if r.standard_code not in levels:
            warnings.append(RULES.finding("STD-W001", f"{r.standard_code} is not in the standards catalogue"))
        if not is_zhejiang_made(r.standard_code):
            warnings.append(
                RULES.finding("STD-W002", f"{r.standard_code} is not a 浙江制造 (T/ZZB) standard")
            )
        if r.holder_credit_code not in known:
            warnings.append(RULES.finding("STD-W003", f"{r.holder_credit_code} is not in the registry"))
        if errors:
            results[p.index] = RecordResult(
                index=p.index, key=key, status="rejected", errors=errors, warnings=warnings
            )
            continue
        if before is not None and all(before[f] == new[f] for f in repo.STATE_FIELDS):
            results[p.index] = RecordResult(index=p.index, key=key, status="unchanged", warnings=warnings)
            continue
        action = "created" if before is None else "updated"
        revision = (before["revision"] if before else 0) + 1
        state = {**new, "revision": revision}
        current[key] = state
        finals[key] = state
        history.append(
            {
                "certificate_no": key,
                "revision": revision,
                "action": action,
                "status": r.status,
                "status_effective_on": r.status_effective_on,
                "status_reason": r.status_reason,
                "record": p.raw,
            }
        )
        changes.append(
            Change(
                action,
                "certificate",
                f"{certifier}|{key}",
                {f: before[f] for f in repo.STATE_FIELDS} if before else None,
                {**new, "revision": revision, "rule_set_version": RULES.version},
            )
        )
        results[p.index] = RecordResult(index=p.index, key=key, status=action, warnings=warnings)

    ordered = [results[i] for i in range(len(records))]
    committed = not (atomic and any(r.status == "rejected" for r in ordered))
    if committed:
        await repo.write_batch(
            session, certifier, finals, history, RULES.version, principal.sub, request_id_var.get()
        )
        await record_changes(session, SCHEMA, principal, changes)
    return BatchResponse(
        rule_set_version=RULES.version,
        atomic=atomic,
        committed=committed,
        summary=summarize(ordered),
        results=ordered,
    )


def _raw_key(raw: Any) -> str | None:
    if isinstance(raw, dict) and isinstance(raw.get("certificate_no"), str):
        return raw["certificate_no"].strip()[:64] or None
    return None


async def list_(
    session: AsyncSession, principal: Principal, params: PageParams, **filters
) -> tuple[list[CertificateOut], str | None]:
    today = today_shanghai()
    rows = await repo.list_certificates(session, principal, params, today=today, **filters)
    rows, cursor = page_of(rows, params, lambda c: (c.id,))
    return [to_out(c, today) for c in rows], cursor


async def _one(
    session: AsyncSession, principal: Principal, certificate_no: str, certifier: str | None
) -> Certificate:
    found = await repo.find_visible(session, principal, certificate_no, certifier)
    if not found:
        raise not_found("certificate", certificate_no)
    if len(found) > 1:
        bodies = ", ".join(c.certifier for c in found)
        raise Problem(
            409,
            "ambiguous_certificate_no",
            f"certificate {certificate_no} exists at several bodies ({bodies}); pass ?certifier=",
            errors=[{"pointer": "#/query/certifier", "code": "required", "message": f"one of: {bodies}"}],
        )
    return found[0]


async def get(
    session: AsyncSession, principal: Principal, certificate_no: str, certifier: str | None
) -> CertificateOut:
    return to_out(await _one(session, principal, certificate_no, certifier), today_shanghai())


async def history(
    session: AsyncSession,
    principal: Principal,
    certificate_no: str,
    certifier: str | None,
    params: PageParams,
) -> tuple[list[HistoryEntry], str | None]:
    cert = await _one(session, principal, certificate_no, certifier)
    rows = await repo.history(session, cert.id, params)
    rows, cursor = page_of(rows, params, lambda h: (h.revision,))
    return [
        HistoryEntry(
            revision=h.revision,
            action=h.action,
            status=h.status,
            status_effective_on=h.status_effective_on,
            status_reason=h.status_reason,
            certifier=h.certifier,
            pushed_by=h.pushed_by,
            pushed_at=h.pushed_at,
            request_id=h.request_id,
            rule_set_version=h.rule_set_version,
            record=h.record,
        )
        for h in rows
    ], cursor

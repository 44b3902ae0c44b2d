"""Certification rules: per-record validation, the lifecycle across stored state and within one
batch, and the derived `expired` status."""

from __future__ import annotations

from datetime import date
from operator import itemgetter
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.batch import (
    Finding,
    Parsed,
    parse_records,
    rejected_key,
)
from services.common.context import request_id_var
from services.common.errors import Forbidden, NotFound
from services.common.pagination import PageParams, page_of
from services.common.today import today_shanghai
from services.standards.catalogue.codes import is_zhejiang_made
from services.standards.certifications import repository as repo
from services.standards.certifications.models import TERMINAL, Certificate
from services.standards.certifications.rules import RULES, rule_for_error
from services.standards.certifications.schemas import CertificateOut, CertificateRecord, HistoryEntry
from services.standards.errors import AmbiguousCertificateNo

SCHEMA = "standards"


def effective_status(status: str, expires_on: date, today: date) -> str:
    """`expired` from the day after expires_on, unless the body already revoked or cancelled it."""
    if status in ("valid", "suspended") and today > expires_on:
        return "expired"
    return status


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


_STATE = itemgetter(*repo.STATE_FIELDS)
_STATUS = repo.STATE_FIELDS.index("status")
_EFFECTIVE_ON = repo.STATE_FIELDS.index("status_effective_on")
_RECORDS = TypeAdapter(list[CertificateRecord])


def _parse(records: list[dict[str, Any]]) -> tuple[list[Parsed], dict[int, list[Finding]]]:
    """Validate the whole list in one call; only when something is wrong, record by record (so
    that each bad record gets its own findings and the good ones are kept)."""
    try:
        items = _RECORDS.validate_python(records)
    except ValidationError:
        return parse_records(records, CertificateRecord, rule_for_error, RULES)
    return [Parsed(i, item, raw, []) for i, (item, raw) in enumerate(zip(items, records, strict=True))], {}


def _warning(rule_id: str, message: str) -> dict[str, Any]:
    """A warning finding as plain data (several per record; no model construction)."""
    rule = RULES.rules[rule_id]
    return {
        "rule": rule.id,
        "severity": rule.severity,
        "pointer": rule.pointer,
        "code": rule.id,
        "message": message,
    }


def _plain(findings: list[Finding]) -> list[dict[str, Any]]:
    return [f.model_dump() for f in findings]


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


def _lifecycle_findings(stored: tuple, new: tuple) -> list[Finding]:
    out = []
    status, effective_on = stored[_STATUS], stored[_EFFECTIVE_ON]
    if status in TERMINAL and new[_STATUS] != status:
        out.append(
            RULES.finding(
                "STD-V012",
                f"the certificate is {status} (terminal) since {effective_on}; "
                f"it cannot become {new[_STATUS]}",
            )
        )
    if new[_EFFECTIVE_ON] < effective_on:
        out.append(
            RULES.finding(
                "STD-V013",
                f"status_effective_on {new[_EFFECTIVE_ON]} is earlier than the current {effective_on}",
            )
        )
    return out


async def push_batch(
    session: AsyncSession, principal: Principal, records: list[dict[str, Any]], atomic: bool
) -> dict[str, Any]:
    """Check every record against the rules and the lifecycle (stored state, then earlier records
    of the batch, in order), then write the accepted transitions set-based in one statement.

    Returns the `BatchResponse` as plain data (serialised once by the router): up to 5,000 results
    with their findings are not worth a pydantic model each."""
    certifier = principal.org
    if principal.kind != "certifier" or not certifier:
        raise Forbidden("only a certification body (with its org code) pushes certificates")
    today = today_shanghai()
    parsed, rejected = _parse(records)
    results: list[dict[str, Any] | None] = [None] * len(records)
    for i, f in rejected.items():
        key = rejected_key(records[i], "certificate_no")
        results[i] = {"index": i, "key": key, "status": "rejected", "errors": _plain(f), "warnings": []}

    await repo.lock_certifier(session, certifier)
    numbers = sorted({p.record.certificate_no for p in parsed})
    stored = await repo.load_states(session, certifier, numbers) if numbers else {}
    levels = await repo.standard_levels(session, sorted({p.record.standard_code for p in parsed}))
    known = await repo.known_holders(session, sorted({p.record.holder_credit_code for p in parsed}))

    # certificate_no → (state tuple, revision): the stored state, then each accepted transition
    current: dict[str, tuple[tuple, int]] = {n: (_STATE(row), row["revision"]) for n, row in stored.items()}
    transitions: list[tuple] = []
    pushed: list[dict[str, Any]] = []
    counts = {"created": 0, "updated": 0, "unchanged": 0, "rejected": len(rejected)}
    for p in parsed:
        r: CertificateRecord = p.record
        key = r.certificate_no
        new = _STATE(r.__dict__)
        before = current.get(key)
        errors = _record_findings(r, today)
        if not errors and before is not None:
            errors = _lifecycle_findings(before[0], new)
        warnings = []
        if r.standard_code not in levels:
            warnings.append(_warning("STD-W001", f"{r.standard_code} is not in the standards catalogue"))
        if not is_zhejiang_made(r.standard_code):
            warnings.append(_warning("STD-W002", f"{r.standard_code} is not a 浙江制造 (T/ZZB) standard"))
        if r.holder_credit_code not in known:
            warnings.append(_warning("STD-W003", f"{r.holder_credit_code} is not in the registry"))
        if errors:
            status = "rejected"
        elif before is not None and before[0] == new:
            status = "unchanged"
        else:
            status = "created" if before is None else "updated"
            revision = before[1] + 1 if before is not None else 1
            current[key] = (new, revision)
            transitions.append((key, *new, revision, status))
            pushed.append(p.raw)
        counts[status] += 1
        results[p.index] = {
            "index": p.index,
            "key": key,
            "status": status,
            "errors": _plain(errors) if errors else [],
            "warnings": warnings,
        }

    committed = not (atomic and counts["rejected"])
    if committed:
        await repo.write_transitions(
            session, certifier, transitions, pushed, RULES.version, principal, request_id_var.get()
        )
    return {
        "rule_set_version": RULES.version,
        "atomic": atomic,
        "committed": committed,
        "summary": {"received": len(records), **counts},
        "results": results,
    }


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
        raise NotFound(what="certificate", key=certificate_no)
    if len(found) > 1:
        bodies = ", ".join(c.certifier for c in found)
        raise AmbiguousCertificateNo(number=certificate_no, bodies=bodies)
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

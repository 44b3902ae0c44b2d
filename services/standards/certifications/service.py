"""Certification rules: per-record validation, the lifecycle across stored state and within one
batch, and the derived `expired` status."""

from __future__ import annotations

from datetime import date
from operator import itemgetter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.batch import (
    BatchSpec,
    FindingData,
    InOrder,
    Parsed,
    Status,
    Written,
    run_batch,
)
from services.common.context import request_id_var
from services.common.errors import Forbidden, NotFound
from services.common.export import Statement, Table
from services.common.pagination import PageParams, page_of
from services.common.readpool import Reader
from services.common.today import today_shanghai
from services.standards.catalogue.codes import is_zhejiang_made
from services.standards.certifications import export
from services.standards.certifications import repository as repo
from services.standards.certifications.models import TERMINAL, Certificate
from services.standards.certifications.rules import RULES, rule_for_error
from services.standards.certifications.schemas import (
    CertificateFilters,
    CertificateOut,
    CertificateRecord,
    HistoryEntry,
)
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


def _record_findings(r: CertificateRecord, today: date) -> list[FindingData]:
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


def _lifecycle_findings(stored: tuple, new: tuple) -> list[FindingData]:
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


def _push(principal: Principal, certifier: str, today: date) -> BatchSpec:
    """A body's push: records of one certificate apply in order, each checked against the state
    the stored row and the earlier records leave (the look-up, under the body's lock), and the
    accepted transitions are written set-based in one statement."""
    transitions: list[tuple] = []  # (certificate_no, *state, revision, action), in push order
    pushed: list[dict[str, Any]] = []  # the matching records exactly as pushed
    statuses: dict[int, Status] = {}

    async def look_up(session: AsyncSession, accepted: list[Parsed]) -> dict[int, list[FindingData]]:
        await repo.lock_certifier(session, certifier)
        stored = await repo.load_states(
            session, certifier, sorted({p.record.certificate_no for p in accepted})
        )
        levels = await repo.standard_levels(session, sorted({p.record.standard_code for p in accepted}))
        known = await repo.known_holders(session, sorted({p.record.holder_credit_code for p in accepted}))
        # certificate_no → (state tuple, revision): the stored state, then each accepted transition
        current = {n: (_STATE(row), row["revision"]) for n, row in stored.items()}
        rejected = {}
        for p in accepted:
            r: CertificateRecord = p.record
            new = _STATE(r.__dict__)
            before = current.get(r.certificate_no)
            if before is not None:
                errors = _lifecycle_findings(before[0], new)
                if errors:
                    rejected[p.index] = errors
                    continue
            if r.standard_code not in levels:
                p.warnings.append(
                    RULES.finding("STD-W001", f"{r.standard_code} is not in the standards catalogue")
                )
            if not is_zhejiang_made(r.standard_code):
                p.warnings.append(
                    RULES.finding("STD-W002", f"{r.standard_code} is not a 浙江制造 (T/ZZB) standard")
                )
            if r.holder_credit_code not in known:
                p.warnings.append(RULES.finding("STD-W003", f"{r.holder_credit_code} is not in the registry"))
            if before is not None and before[0] == new:
                continue  # unchanged
            action: Status = "created" if before is None else "updated"
            revision = before[1] + 1 if before is not None else 1
            current[r.certificate_no] = (new, revision)
            transitions.append((r.certificate_no, *new, revision, action))
            pushed.append(p.raw)
            statuses[p.index] = action
        return rejected

    async def upsert(session: AsyncSession, accepted: list[Parsed]) -> Written:
        # `accepted` are the records the look-up kept: their transitions are the ones it planned
        await repo.write_transitions(
            session, certifier, transitions, pushed, RULES.version, principal, request_id_var.get()
        )
        return Written(statuses)

    return BatchSpec(
        rule_set=RULES,
        model=CertificateRecord,
        key_field="certificate_no",
        rule_for_error=rule_for_error,
        duplicates=InOrder(),
        rules=lambda r: _record_findings(r, today),
        look_up=look_up,
        upsert=upsert,
    )


async def push_batch(
    session: AsyncSession, principal: Principal, records: list[dict[str, Any]], atomic: bool
) -> dict[str, Any]:
    """Check every record against the rules and the lifecycle (stored state, then earlier records
    of the batch, in order), then write the accepted transitions set-based in one statement.
    Returns the `BatchResponse` as plain data."""
    certifier = principal.org
    if principal.kind != "certifier" or not certifier:
        raise Forbidden("only a certification body (with its org code) pushes certificates")
    return await run_batch(session, _push(principal, certifier, today_shanghai()), records, atomic)


async def list_(
    reads: Reader, principal: Principal, params: PageParams, filters: CertificateFilters
) -> tuple[list[CertificateOut], str | None]:
    today = today_shanghai()
    rows = await repo.list_certificates(reads, principal, params, today=today, filters=filters)
    rows, cursor = page_of(rows, params, lambda c: (c.id,))
    return [to_out(c, today) for c in rows], cursor


def export_statement(principal: Principal, filters: CertificateFilters) -> tuple[Table, Statement]:
    """The export's table (effective statuses as of today, Asia/Shanghai, like the list's) and
    the list's statement."""
    today = today_shanghai()
    table = export.certificates_table(lambda row: effective_status(row["status"], row["expires_on"], today))
    return table, repo.export_statement(principal, today, filters, export.COLUMNS)


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

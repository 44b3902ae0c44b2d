"""Public verification: derive the effective status at read time (Asia/Shanghai)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.errors import Problem
from services.standards.certifications.service import effective_status, status_changed_on, today_shanghai
from services.standards.verification import repository as repo
from services.standards.verification.schemas import LookupResponse, LookupResult, PublicCertificate


def _public(row: Any, today) -> PublicCertificate:
    return PublicCertificate(
        certificate_no=row["certificate_no"],
        certifier=row["certifier"],
        holder_name=row["holder_name"],
        holder_credit_code=row["holder_credit_code"],
        product=row["product"],
        standard_code=row["standard_code"],
        issued_on=row["issued_on"],
        expires_on=row["expires_on"],
        status=effective_status(row["status"], row["expires_on"], today),
        status_changed_on=status_changed_on(
            row["status"], row["status_effective_on"], row["expires_on"], today
        ),
    )


async def verify(engine: AsyncEngine, certificate_no: str, certifier: str | None) -> PublicCertificate:
    number = certificate_no.strip()
    rows = await repo.by_number(engine, number, certifier.strip() if certifier else None)
    if not rows:
        raise Problem(404, "certificate_not_found", f"no certificate numbered {number} is on record")
    if len(rows) > 1:
        bodies = [r["certifier"] for r in rows]
        raise Problem(
            409,
            "ambiguous_certificate_no",
            f"certificate {number} was issued by several bodies ({', '.join(bodies)}); "
            "repeat with ?certifier=<one of them>",
            errors=[
                {"pointer": "#/query/certifier", "code": "choose_one", "message": f"certifier={b}"}
                for b in bodies
            ],
        )
    return _public(rows[0], today_shanghai())


async def lookup(engine: AsyncEngine, numbers: list[str]) -> LookupResponse:
    today = today_shanghai()
    found: dict[str, list[PublicCertificate]] = defaultdict(list)
    for row in await repo.by_numbers(engine, sorted(set(numbers))):
        found[row["certificate_no"]].append(_public(row, today))
    return LookupResponse(
        results=[
            LookupResult(certificate_no=n, found=n in found, certificates=found.get(n, [])) for n in numbers
        ]
    )

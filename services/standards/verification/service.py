"""Public verification: derive the effective status at read time (Asia/Shanghai).

The hot path: the answers are built as plain data straight from the asyncpg rows (the router
serialises them once; the pydantic models in `schemas.py` document the same shape in OpenAPI).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import orjson

from services.common.readpool import Reader
from services.common.today import today_shanghai
from services.standards.certifications.service import effective_status
from services.standards.errors import CertificateNotFound
from services.standards.verification import repository as repo

_ONE_DAY = timedelta(days=1)


def encode(content: dict[str, Any]) -> bytes:
    """The JSON of a public answer (the route and the fast path send the same bytes)."""
    return orjson.dumps(content)


def public(row: Any, today: date) -> dict[str, Any]:
    """Exactly the public fields, with the effective status (`expired` derived from expires_on)."""
    status = effective_status(row["status"], row["expires_on"], today)
    changed_on = row["expires_on"] + _ONE_DAY if status == "expired" else row["status_effective_on"]
    return {
        "certificate_no": row["certificate_no"],
        "certifier": row["certifier"],
        "holder_name": row["holder_name"],
        "holder_credit_code": row["holder_credit_code"],
        "product": row["product"],
        "standard_code": row["standard_code"],
        "issued_on": row["issued_on"].isoformat(),
        "expires_on": row["expires_on"].isoformat(),
        "status": status,
        "status_changed_on": changed_on.isoformat(),
    }


async def verify(reads: Reader, certificate_no: str, certifier: str | None) -> dict[str, Any]:
    """Every holder body's public record of this number (ordered by body), or the one body's with
    `certifier`: `{"items": [...]}`. Numbers are each body's own, so one body issuing another's
    number never turns that body's verification into an error. None: a 404 problem."""
    number = certificate_no.strip()
    rows = await repo.by_number(reads, number, certifier.strip() if certifier else None)
    if not rows:
        raise CertificateNotFound(number=number)
    return holders(rows, today_shanghai())


def holders(rows: Any, today: date) -> dict[str, Any]:
    """The verification answer (the route's and the fast path's)."""
    return {"items": [public(row, today) for row in rows]}


async def lookup(reads: Reader, numbers: list[str]) -> dict[str, Any]:
    today = today_shanghai()
    found = {
        n: [public(row, today) for row in rows]
        for n, rows in (await repo.by_numbers(reads, sorted(set(numbers)))).items()
    }
    return {
        "results": [
            {"certificate_no": n, "found": n in found, "certificates": found.get(n, [])} for n in numbers
        ]
    }

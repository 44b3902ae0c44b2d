"""Public verification SQL: indexed probes on certificate_no, only the public columns."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from services.common.readpool import Reader

COLUMNS = (
    "certificate_no, certifier, holder_name, holder_credit_code, product, standard_code, "
    "issued_on, expires_on, status, status_effective_on"
)
# Bodies in byte order of their codes (the same on every database, whatever its collation).
MANY = (
    f"SELECT {COLUMNS} FROM standards.certificates WHERE certificate_no = ANY($1::text[]) "
    'ORDER BY certificate_no, certifier COLLATE "C"'
)


async def by_number(reads: Reader, certificate_no: str, certifier: str | None) -> list[Any]:
    """The certificates with this number — every body's, or this body's — ordered by body.
    Verifications in flight together share one query (`services/common/coalesce.py`, one per
    process beside the read pool): under load that is the difference between a pool hand-out and
    a round trip per scan and one per loop turn."""
    lookups = reads.pools.coalescer("verification", lambda numbers: by_numbers(reads, numbers), ())
    rows = await lookups.get(certificate_no)
    if certifier:
        return [r for r in rows if r["certifier"] == certifier]
    return rows


async def by_numbers(reads: Reader, numbers: list[str]) -> dict[str, list[Any]]:
    """The certificates with these numbers, by number, each number's ordered by body."""
    found: dict[str, list[Any]] = defaultdict(list)
    for row in await reads.fetch(MANY, numbers):
        found[row["certificate_no"]].append(row)
    return found

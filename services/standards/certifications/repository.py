"""All certificate SQL: set-based batch writes, and reads scoped to the caller.

Scoping (the one place it is applied): a certifier sees its own certificates; an official those
whose holder's region (registry directory, else the credit code's area code) falls under theirs;
admin everything. `scoped` is the rule as a query condition (the lists and reads), `sees` the
same rule in Python over one certificate's facts (the change feed, with `holder_regions`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, column, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.code_region import code_region_clause, code_region_sql
from services.common.db import raw_connection
from services.common.export import Statement, compiled
from services.common.pagination import PageParams, keyset
from services.common.reader_select import fetch_objects
from services.common.readpool import Reader
from services.common.scope import RegionScope
from services.standards.certifications.models import Certificate, CertificateHistory
from services.standards.certifications.schemas import CertificateFilters

STATE_FIELDS = (
    "holder_credit_code",
    "holder_name",
    "product",
    "scope",
    "standard_code",
    "rule_code",
    "issued_on",
    "expires_on",
    "status",
    "status_effective_on",
    "status_reason",
)
_directory = table("enterprise_directory", column("credit_code"), column("region_code"), schema="registry")


async def lock_certifier(session: AsyncSession, certifier: str) -> None:
    """Serialise pushes of one body so lifecycle checks see a stable stored state."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('standards.certificates'), hashtext(:c))"),
        {"c": certifier},
    )


async def load_states(session: AsyncSession, certifier: str, numbers: list[str]) -> dict[str, Any]:
    conn = await raw_connection(session)
    rows = await conn.fetch(
        f"SELECT id, certificate_no, revision, {', '.join(STATE_FIELDS)} FROM standards.certificates "
        "WHERE certifier = $1 AND certificate_no = ANY($2::text[])",
        certifier,
        numbers,
    )
    return {r["certificate_no"]: r for r in rows}  # asyncpg Records, read by column name


async def standard_levels(session: AsyncSession, codes: list[str]) -> dict[str, str]:
    conn = await raw_connection(session)
    rows = await conn.fetch("SELECT code, level FROM standards.standards WHERE code = ANY($1::text[])", codes)
    return {r["code"]: r["level"] for r in rows}


async def known_holders(session: AsyncSession, codes: list[str]) -> set[str]:
    conn = await raw_connection(session)
    rows = await conn.fetch(
        "SELECT credit_code FROM registry.enterprise_directory WHERE credit_code = ANY($1::text[])", codes
    )
    return {r["credit_code"] for r in rows}


_UPSERT = f"""
INSERT INTO standards.certificates AS c (certifier, certificate_no, {", ".join(STATE_FIELDS)},
                                         revision, rule_set_version)
SELECT $1, u.*, $15
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
            $9::date[], $10::date[], $11::text[], $12::date[], $13::text[], $14::int[])
     AS u(certificate_no, holder_credit_code, holder_name, product, scope, standard_code, rule_code,
          issued_on, expires_on, status, status_effective_on, status_reason, revision)
ON CONFLICT (certifier, certificate_no) DO UPDATE SET
  {", ".join(f"{f} = excluded.{f}" for f in STATE_FIELDS)},
  revision = excluded.revision, rule_set_version = excluded.rule_set_version, updated_at = now()
WHERE ({", ".join(f"c.{f}" for f in STATE_FIELDS)})
      IS DISTINCT FROM ({", ".join(f"excluded.{f}" for f in STATE_FIELDS)})
RETURNING id, certificate_no
"""

_HISTORY = """
INSERT INTO standards.certificate_history (certificate_id, revision, action, certifier, certificate_no,
    status, status_effective_on, status_reason, record, rule_set_version, pushed_by, request_id)
SELECT u.id, u.revision, u.action, $1, u.no, u.status, u.eff, u.reason, u.record::jsonb, $2, $3, $4
FROM unnest($5::bigint[], $6::int[], $7::text[], $8::text[], $9::text[], $10::date[], $11::text[],
            $12::text[]) AS u(id, revision, action, no, status, eff, reason, record)
"""


async def write_batch(
    session: AsyncSession,
    certifier: str,
    final_states: dict[str, dict],
    history: list[dict],
    rule_set_version: str,
    pushed_by: str,
    request_id: str | None,
) -> None:
    """One upsert of the final state per certificate, then one insert of every history row."""
    if not final_states:
        return
    await write_states(
        await raw_connection(session),
        certifier,
        final_states,
        history,
        rule_set_version,
        pushed_by,
        request_id,
    )


async def write_states(
    conn: Any,
    certifier: str,
    final_states: dict[str, dict],
    history: list[dict],
    rule_set_version: str,
    pushed_by: str,
    request_id: str | None,
) -> None:
    """The bulk SQL on an asyncpg connection (also used by the demo seed)."""
    nos = list(final_states)
    cols = [[final_states[n][f] for n in nos] for f in (*STATE_FIELDS, "revision")]
    rows = await conn.fetch(_UPSERT, certifier, nos, *cols, rule_set_version)
    ids = {r["certificate_no"]: r["id"] for r in rows}
    await conn.execute(
        _HISTORY,
        certifier,
        rule_set_version,
        pushed_by,
        request_id,
        [ids[h["certificate_no"]] for h in history],
        [h["revision"] for h in history],
        [h["action"] for h in history],
        [h["certificate_no"] for h in history],
        [h["status"] for h in history],
        [h["status_effective_on"] for h in history],
        [h["status_reason"] for h in history],
        [json.dumps(h["record"], ensure_ascii=False, default=str) for h in history],
    )


_STATE_TYPES = dict.fromkeys(STATE_FIELDS, "text") | dict.fromkeys(
    ("issued_on", "expires_on", "status_effective_on"), "date"
)


def _state_json(alias: str) -> str:
    return "jsonb_build_object(" + ", ".join(f"'{f}', {alias}.{f}" for f in STATE_FIELDS) + ")"


_STAGED = ", ".join(
    f"unnest(${i}::{t}[])"
    for i, t in enumerate(["text", *(_STATE_TYPES[f] for f in STATE_FIELDS), "int", "text"], start=7)
)
# Every accepted transition of the batch, staged as arrays (one element per transition, in push
# order; a certificate can have several). In one statement: upsert each certificate's last
# transition, append every transition to the history, and log each as a change whose `before` is
# the previous transition or the stored row. All parts read the snapshot taken before the statement,
# so `stored` is the state before this batch.
_WRITE = f"""
WITH s AS (
  SELECT * FROM ROWS FROM ({_STAGED}, jsonb_array_elements($21::jsonb)) WITH ORDINALITY
    AS s(certificate_no, {", ".join(STATE_FIELDS)}, revision, action, record, ord)
),
stored AS (
  SELECT c.certificate_no, {_state_json("c")} AS state
  FROM standards.certificates c
  WHERE c.certifier = $1 AND c.certificate_no IN (SELECT certificate_no FROM s WHERE action = 'updated')
),
up AS (
  INSERT INTO standards.certificates AS c (certifier, certificate_no, {", ".join(STATE_FIELDS)},
                                           revision, rule_set_version)
  SELECT $1, certificate_no, {", ".join(STATE_FIELDS)}, revision, $2
  FROM (  -- the last transition of each certificate, new ones numbered in push order
    SELECT DISTINCT ON (certificate_no) *, min(ord) OVER (PARTITION BY certificate_no) AS first
    FROM s ORDER BY certificate_no, revision DESC
  ) last ORDER BY first
  ON CONFLICT (certifier, certificate_no) DO UPDATE SET
    {", ".join(f"{f} = excluded.{f}" for f in STATE_FIELDS)},
    revision = excluded.revision, rule_set_version = excluded.rule_set_version, updated_at = now()
  RETURNING id, certificate_no
),
history AS (
  INSERT INTO standards.certificate_history (certificate_id, revision, action, certifier, certificate_no,
      status, status_effective_on, status_reason, record, rule_set_version, pushed_by, request_id)
  SELECT up.id, s.revision, s.action, $1, s.certificate_no, s.status, s.status_effective_on,
         s.status_reason, s.record, $2, $3, $4
  FROM s JOIN up USING (certificate_no) ORDER BY s.ord
),
logged AS (
  SELECT s.ord, s.action, s.certificate_no, {_state_json("s")} AS state, s.revision
  FROM s
)
INSERT INTO standards.changes (actor_subject, actor_kind, actor_org, action, entity_type, entity_key,
                               before, after, request_id)
SELECT $3, $5, $6, l.action, 'certificate', $1 || '|' || l.certificate_no,
       CASE WHEN l.action = 'created' THEN NULL
            ELSE coalesce(lag(l.state) OVER (PARTITION BY l.certificate_no ORDER BY l.ord), stored.state)
       END,
       l.state || jsonb_build_object('revision', l.revision, 'rule_set_version', $2::text),
       $4
FROM logged l LEFT JOIN stored USING (certificate_no)
ORDER BY l.ord
"""


async def write_transitions(
    session: AsyncSession,
    certifier: str,
    transitions: list[tuple],
    records: list[dict[str, Any]],
    rule_set_version: str,
    principal: Principal,
    request_id: str | None,
) -> None:
    """Write a batch's accepted transitions in one round trip (see `_WRITE`).

    `transitions` are `(certificate_no, *STATE_FIELDS, revision, action)` tuples in push order and
    `records` the matching records exactly as pushed (serialised once, as one JSON array).
    """
    if not transitions:
        return
    conn = await raw_connection(session)
    columns = [list(c) for c in zip(*transitions, strict=True)]
    await conn.execute(
        _WRITE,
        certifier,
        rule_set_version,
        principal.sub,
        request_id,
        principal.kind,
        principal.org,
        *columns,
        json.dumps(records, ensure_ascii=False, default=str),
    )


# ---- reads -------------------------------------------------------------------------------------


def scoped(stmt: Select, principal: Principal) -> Select:
    if principal.kind == "admin":
        return stmt
    if principal.kind == "certifier":  # a body without an org code holds no certificates
        return stmt.where(Certificate.certifier == principal.org) if principal.org else stmt.where(False)
    if principal.kind != "official":  # any other kind sees nothing
        return stmt.where(False)
    region = code_region_clause(Certificate.holder_credit_code, _directory.c.region_code)
    return stmt.outerjoin(_directory, _directory.c.credit_code == Certificate.holder_credit_code).where(
        RegionScope.of(principal).clause(region)
    )


def sees(
    principal: Principal, certifier: str | None, holder_region: str | None, scope: RegionScope | None = None
) -> bool:
    """`scoped` for one certificate: the body that holds it, its holder's region (`scope`: the
    caller's `RegionScope.of(principal)`, when a loop has built it once)."""
    if principal.kind == "admin":
        return True
    if principal.kind == "certifier":
        return certifier is not None and certifier == principal.org
    if principal.kind != "official":
        return False
    return (scope or RegionScope.of(principal)).covers(holder_region)


_HOLDER_REGIONS = f"""
SELECT c.certifier, c.certificate_no, {code_region_sql("c.holder_credit_code", "d.region_code")} AS region
FROM unnest($1::text[], $2::text[]) AS k(certifier, certificate_no)
JOIN standards.certificates c ON c.certifier = k.certifier AND c.certificate_no = k.certificate_no
LEFT JOIN registry.enterprise_directory d ON d.credit_code = c.holder_credit_code
"""


async def holder_regions(conn: Any, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The region of each of these certificates' holders now (as `scoped` computes it), by
    (certifier, certificate_no); a certificate not stored is absent."""
    if not keys:
        return {}
    certifiers, numbers = [list(c) for c in zip(*keys, strict=True)]
    rows = await conn.fetch(_HOLDER_REGIONS, certifiers, numbers)
    return {(r["certifier"], r["certificate_no"]): r["region"] for r in rows}


def _effective_filter(stmt: Select, status: str, today: date) -> Select:
    if status == "expired":
        return stmt.where(Certificate.status.in_(("valid", "suspended")), Certificate.expires_on < today)
    if status in ("valid", "suspended"):
        return stmt.where(Certificate.status == status, Certificate.expires_on >= today)
    return stmt.where(Certificate.status == status)


def certificates_query(principal: Principal, today: date, f: CertificateFilters) -> Select:
    """The certificates the caller sees that match the list's filters (the list and the export)."""
    stmt = scoped(select(Certificate), principal)
    if f.holder:
        stmt = stmt.where(Certificate.holder_credit_code == f.holder)
    if f.status:
        stmt = _effective_filter(stmt, f.status, today)
    if f.standard:
        stmt = stmt.where(Certificate.standard_code == f.standard)
    if f.expiring_before:
        stmt = stmt.where(Certificate.expires_on < f.expiring_before)
    if f.certifier:
        stmt = stmt.where(Certificate.certifier == f.certifier)
    return stmt


async def list_certificates(
    reads: Reader,
    principal: Principal,
    params: PageParams,
    *,
    today: date,
    filters: CertificateFilters,
) -> list[Any]:
    """A page of the list, on the read pool (a replica's copy when one is configured)."""
    stmt = keyset(certificates_query(principal, today, filters), [Certificate.id], params)
    return await fetch_objects(reads, stmt)


def export_statement(
    principal: Principal, today: date, filters: CertificateFilters, columns: list[str]
) -> Statement:
    """The list's certificates (same scope, same filters, same order) as the export reads them."""
    stmt = certificates_query(principal, today, filters).order_by(Certificate.id)
    return compiled(stmt.with_only_columns(*(Certificate.__table__.c[c] for c in columns)))


async def find_visible(
    session: AsyncSession, principal: Principal, certificate_no: str, certifier: str | None
) -> list[Certificate]:
    stmt = scoped(select(Certificate), principal).where(Certificate.certificate_no == certificate_no)
    if certifier:
        stmt = stmt.where(Certificate.certifier == certifier)
    stmt = stmt.order_by(Certificate.certifier).limit(20)
    return list((await session.execute(stmt)).scalars())


async def history(session: AsyncSession, certificate_id: int, params: PageParams) -> list[CertificateHistory]:
    stmt = select(CertificateHistory).where(CertificateHistory.certificate_id == certificate_id)
    stmt = keyset(stmt, [CertificateHistory.revision], params)
    return list((await session.execute(stmt)).scalars())

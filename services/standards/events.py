"""The standards change feed's catalogue: the standards catalogue and 品字标 certificates.

| change row (entity_type, action)   | event                                                          |
|------------------------------------|----------------------------------------------------------------|
| standard, created / updated        | `standard.created` / `standard.updated`                        |
| certificate, created               | `certificate.created`                                          |
| certificate, updated               | `certificate.status_changed` when the status changed, else `certificate.updated` |
| standard_drafter, adoption (IGNORED) | none                                                         |

A certificate push logs one row per accepted transition (`certifications/repository.py`
`_WRITE`): `after` is the certificate's state after it, `before` the state before (the previous
transition of the same push, or the stored certificate).

Who sees an event: a standard's, every caller (the catalogue is open to all); a certificate's, as
the certificate lists (`certifications/repository.py`, `sees`): the body that holds it, an
official whose region covers its holder's now, admin.
"""

from __future__ import annotations

from urllib.parse import urlencode

import asyncpg

from services.common.auth import Principal
from services.common.events import Catalogue, ChangeRow, Described, changed, segment
from services.common.scope import RegionScope
from services.common.submissions.events import with_submissions
from services.standards.certifications import repository as certificates

STANDARD_FIELDS = ("level", "title", "published_on", "status", "adoption")
CERTIFICATE_FIELDS = (
    "holder_credit_code", "holder_name", "product", "scope", "standard_code", "rule_code", "issued_on",
    "expires_on", "status", "status_effective_on", "status_reason",
)  # fmt: skip


def certificate_key(row: ChangeRow) -> tuple[str, str]:
    """(certifier, certificate_no) of a certificate row, whose key is `<certifier>|<number>`.
    Either part may hold a `|`, so the certifier is read from the row: the pushing body (only a
    certifier pushes, as itself) or, in the demo seed's rows, `after.certifier`."""
    certifier = row.after.get("certifier") or (row.actor_org if row.actor_kind == "certifier" else None)
    key = row.entity_key
    if certifier is not None and key.startswith(certifier + "|"):
        return certifier, key[len(certifier) + 1 :]
    certifier, _, number = key.partition("|")  # a row of neither kind: written before either rule
    return certifier, number


def _standard(row: ChangeRow) -> Described:
    after = row.after
    code = after.get("code") or row.entity_key
    subject = {"type": "standard", "key": code}
    links = {"self": f"/standards/v1/standards/{segment(code)}"}
    facts = {"code": code, **{k: after.get(k) for k in ("level", "title", "status")}}
    if row.action == "created":
        return Described(
            "standard.created", subject, {**facts, "published_on": after.get("published_on")}, links
        )
    return Described(
        "standard.updated", subject, {**facts, "changed": changed(row.before, after, STANDARD_FIELDS)}, links
    )


def _certificate(row: ChangeRow) -> Described:
    certifier, number = certificate_key(row)
    after, before = row.after, row.before
    subject = {"type": "certificate", "key": row.entity_key}
    links = {"self": f"/standards/v1/certifications/{segment(number)}?{urlencode({'certifier': certifier})}"}
    key = {"certifier": certifier, "certificate_no": number, "revision": after.get("revision")}
    if row.action == "created":
        data = {
            **key,
            **{
                k: after.get(k)
                for k in (
                    "holder_credit_code",
                    "standard_code",
                    "product",
                    "issued_on",
                    "expires_on",
                    "status",
                )
            },
        }
        return Described("certificate.created", subject, data, links)
    if before.get("status") != after.get("status"):
        data = {
            **key,
            "status": after.get("status"),
            "previous_status": before.get("status"),
            "status_effective_on": after.get("status_effective_on"),
            "status_reason": after.get("status_reason"),
        }
        return Described("certificate.status_changed", subject, data, links)
    data = {**key, "changed": changed(before, after, CERTIFICATE_FIELDS)}
    return Described("certificate.updated", subject, data, links)


def describe(row: ChangeRow) -> Described | None:
    if row.entity_type == "standard":
        return _standard(row)
    if row.entity_type == "certificate":
        return _certificate(row)
    return None


def may_see(principal: Principal, row: ChangeRow) -> bool:
    if row.entity_type != "certificate" or principal.kind in ("admin", "official"):
        return True
    # a body's own pushes (the seed's rows name their body in `after`, read in `visible`)
    return (
        principal.kind == "certifier"
        and principal.org is not None
        and (row.entity_key.startswith(principal.org + "|") or row.actor_kind != "certifier")
    )


async def visible(conn: asyncpg.Connection, principal: Principal, rows: list[ChangeRow]) -> list[bool]:
    keys = {r.seq: certificate_key(r) for r in rows if r.entity_type == "certificate"}
    regions: dict[tuple[str, str], str] = {}
    if principal.kind == "official" and keys:
        regions = await certificates.holder_regions(conn, sorted(set(keys.values())))
    scope = RegionScope.of(principal)
    out = []
    for r in rows:
        if r.entity_type != "certificate":
            out.append(True)  # the standards catalogue: every caller reads it
            continue
        certifier, number = keys[r.seq]
        out.append(certificates.sees(principal, certifier, regions.get((certifier, number)), scope))
    return out


CATALOGUE = Catalogue(
    service="standards",
    sources={
        ("standard", "created"): frozenset({"standard.created"}),
        ("standard", "updated"): frozenset({"standard.updated"}),
        ("certificate", "created"): frozenset({"certificate.created"}),
        ("certificate", "updated"): frozenset({"certificate.updated", "certificate.status_changed"}),
    },
    ignored={
        ("standard_drafter", "created"): "drafting participation, kept by officials and read with "
        "GET /standards/v1/enterprises/{code}/standards; not in the catalogue",
        ("standard_drafter", "updated"): "as standard_drafter, created",
        ("adoption", "created"): "an enterprise's yearly adoption report, read with "
        "GET /standards/v1/enterprises/{code}/adoption/{year}; not in the catalogue",
        ("adoption", "updated"): "as adoption, created",
    },
    describe=describe,
    visible=visible,
    may_see=may_see,
    resync=("/standards/v1/certifications", "/standards/v1/standards"),
)
# … with its file submissions' `submission.completed`, seen by their owners (services/common/submissions/events.py)
CATALOGUE = with_submissions(CATALOGUE)

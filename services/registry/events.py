"""The registry change feed's catalogue: enterprises, their pool decisions and titles, screenings.

| change row (entity_type, action)               | event                                    |
|------------------------------------------------|------------------------------------------|
| enterprise, created (one or a batch)           | `enterprise.created`                     |
| enterprise, updated (PATCH or a batch)         | `enterprise.updated`                     |
| pool_membership, admitted / rejected / exited  | `enterprise.pool_changed`                |
| title, created / revoked                       | `enterprise.title_changed`               |
| screening, completed (answered or background)  | `screening.completed`                    |
| screening, created                             | none: its `completed` row is the event   |
| the rest (IGNORED)                             | none                                     |

Who sees an event: the registry's managers, as its lists: an official whose region covers the
enterprise's (its region now, the column the lists limit) or the screening's, and admin. Banks,
guarantors and certifiers read directory records one at a time and list nothing: their registry
feed is empty.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from services.common.auth import Principal
from services.common.events import Catalogue, ChangeRow, Described, segment
from services.common.scope import RegionScope
from services.common.submissions.events import with_submissions
from services.registry.enterprises import repository as enterprises
from services.registry.pool import repository as pool
from services.registry.scope import MANAGERS

# The enterprise fields whose new value an `enterprise.updated` carries (the rest: named only).
UPDATED_VALUES = ("name", "region_code", "industry_code")
ENTERPRISE_TYPES = ("enterprise", "pool_membership", "title")


def _code(row: ChangeRow) -> str:
    """The enterprise a row is about (a title's key is `<credit code>/<title id>`; a credit code
    holds no `/`)."""
    return row.entity_key.split("/", 1)[0] if row.entity_type == "title" else row.entity_key


def _enterprise_links(code: str, **more: str) -> dict[str, str]:
    base = f"/registry/v1/enterprises/{segment(code)}"
    return {"self": base, **{name: f"{base}/{tail}" for name, tail in more.items()}}


def describe(row: ChangeRow) -> Described | None:
    t, action = row.entity_type, row.action
    if t == "screening":
        after = row.after
        sid = int(row.entity_key)
        data = {"screening_id": sid, **{k: after.get(k) for k in ("eligible", "ineligible", "incomplete")}}
        return Described(
            "screening.completed",
            {"type": "screening", "key": row.entity_key},
            data,
            {"self": f"/registry/v1/screenings/{sid}"},
        )
    code = _code(row)
    subject = {"type": "enterprise", "key": code}
    after, before = row.after, row.before
    if t == "enterprise" and action == "created":
        data = {"credit_code": code, **{k: after.get(k) for k in ("name", "region_code", "industry_code")}}
        return Described("enterprise.created", subject, data, _enterprise_links(code))
    if t == "enterprise" and action == "updated":
        names = [f for f in enterprises.FIELDS if f in after]
        data: dict[str, Any] = {"credit_code": code, "changed": names}
        data.update({f: after[f] for f in UPDATED_VALUES if f in after})
        return Described("enterprise.updated", subject, data, _enterprise_links(code))
    if t == "pool_membership":
        data = {
            "credit_code": code,
            "decision": after.get("decision"),
            "tier": after.get("tier"),
            "year": after.get("year"),
            "previous_tier": before.get("tier"),
            "active_tier": after.get("active_tier"),
            "screening_id": after.get("screening_id"),
        }
        links = _enterprise_links(code, pool_history="pool-history")
        return Described("enterprise.pool_changed", subject, data, links)
    if t == "title":
        title_id = int(row.entity_key.split("/", 1)[1])
        if action == "created":
            data = {
                "credit_code": code,
                "title_id": title_id,
                "change": "granted",
                **{k: after.get(k) for k in ("kind", "level", "valid_from", "valid_to")},
            }
        else:
            data = {
                "credit_code": code,
                "title_id": title_id,
                "change": "revoked",
                "revoked_on": after.get("revoked_on"),
            }
        return Described("enterprise.title_changed", subject, data, _enterprise_links(code, titles="titles"))
    return None


async def visible(conn: asyncpg.Connection, principal: Principal, rows: list[ChangeRow]) -> list[bool]:
    if principal.kind not in MANAGERS:
        return [False] * len(rows)
    scope = RegionScope.of(principal)
    if not scope.restricted:
        return [True] * len(rows)
    codes = {_code(r) for r in rows if r.entity_type in ENTERPRISE_TYPES}
    ids = {int(r.entity_key) for r in rows if r.entity_type == "screening"}
    regions = await enterprises.regions_of(conn, sorted(codes)) if codes else {}
    screenings = await pool.screening_regions(conn, sorted(ids)) if ids else {}
    return [
        scope.covers(
            screenings.get(int(r.entity_key)) if r.entity_type == "screening" else regions.get(_code(r))
        )
        for r in rows
    ]


_POOL = frozenset({"enterprise.pool_changed"})
_TITLE = frozenset({"enterprise.title_changed"})
_SCREENING = frozenset({"screening.completed"})
CATALOGUE = Catalogue(
    service="registry",
    sources={
        ("enterprise", "created"): frozenset({"enterprise.created"}),
        ("enterprise", "updated"): frozenset({"enterprise.updated"}),
        ("pool_membership", "admitted"): _POOL,
        ("pool_membership", "rejected"): _POOL,
        ("pool_membership", "exited"): _POOL,
        ("title", "created"): _TITLE,
        ("title", "revoked"): _TITLE,
        ("screening", "completed"): _SCREENING,
    },
    ignored={
        ("screening", "created"): "every screening, answered at once or run in the background, "
        "writes a `completed` row when its results are stored: that row is the event",
        ("screening", "failed"): "a failed run is reported by its status resource "
        "(GET /registry/v1/screenings/{id}, status failed, error)",
        ("indicators", "created"): "yearly figures, read with their own route "
        "(GET /registry/v1/enterprises/{code}/indicators); not in the catalogue",
        ("indicators", "replaced"): "as indicators, created",
        ("scale_status", "created"): "规上 status facts, read with their own route "
        "(GET /registry/v1/enterprises/{code}/scale-status); not in the catalogue",
        ("park", "created"): "parks are reference data of the officials' front-ends (GET /registry/v1/parks)",
        ("park", "updated"): "as park, created",
        ("park_tenant", "created"): "park tenancy, read with GET /registry/v1/parks/{id}/tenants",
        ("park_tenant", "updated"): "as park_tenant, created",
        ("programme_targets", "replaced"): "a region's yearly targets, read with "
        "GET /registry/v1/targets/{programme}/{year}/{region}; not in the catalogue",
        ("service_institution", "created"): "reference data of the officials' front-ends "
        "(GET /registry/v1/service-institutions); not in the catalogue",
        ("reported_figure", "created"): "another department's figure, read with its history "
        "(GET /registry/v1/reported-figures) and in the bulletin; not in the catalogue",
    },
    describe=describe,
    visible=visible,
    may_see=lambda principal, row: principal.kind in MANAGERS,
    resync=("/registry/v1/enterprises/export", "/registry/v1/pool", "/registry/v1/enterprises/{code}/titles"),
)
# … with its file submissions' `submission.completed`, seen by their owners (services/common/submissions/events.py)
CATALOGUE = with_submissions(CATALOGUE)

"""`submission.completed`: the event of a submission's end, in its service's change feed (and so
in its webhooks, which read the same feed), so that a filer's system need not poll.

The change row is written by code, in the transaction of the final status change (repository.py
`finish`, `fail`, `expire`): entity `submission`, action `completed`, key the submission's id,
actor the submitting caller, `after` the summary. So an ended submission has exactly one event,
whichever way it ended: completed, completed_with_errors, failed or expired. A retried one that
ends again has one more.

Who sees it: its owner, by the rule of the submission itself (kinds.py `owner_of`: the
institution for banks, guarantors and certifiers, the caller itself for an official or admin),
read from the row's actor alone; and admin. Each service's catalogue takes the event with
`with_submissions`.
"""

from __future__ import annotations

from dataclasses import replace

import asyncpg

from services.common.auth import Principal
from services.common.changes import Change, record_changes_on
from services.common.events import Catalogue, ChangeRow, Described
from services.common.jobs import ORG_KINDS
from services.common.submissions.schemas import links_of

ENTITY = "submission"
COMPLETED = "submission.completed"
COUNTS = ("created", "updated", "unchanged", "rejected")


async def record_end(conn: asyncpg.Connection, schema: str, row: asyncpg.Record) -> None:
    """The change row of a submission that just ended (`row`: its row as the end left it)."""
    owner = Principal(sub=row["owner_sub"], kind=row["owner_kind"], org=row["owner_org"])
    summary = {
        "id": row["id"],
        "kind": row["kind"],
        "status": row["status"],
        "validate_only": row["validate_only"],
        "counts": {k: row[k] for k in COUNTS},
        "rows_total": row["rows_total"],
        "rows_done": row["rows_done"],
    }
    change = Change("completed", ENTITY, str(row["id"]), None, summary)
    await record_changes_on(conn, schema, owner, [change], row["request_id"])


def _describe(service: str, row: ChangeRow) -> Described:
    after = row.after
    links = links_of(service, int(row.entity_key)).model_dump()
    data = {k: after.get(k) for k in ("id", "kind", "status", "counts", "rows_total")} | {"links": links}
    return Described(COMPLETED, {"type": ENTITY, "key": row.entity_key}, data, {"self": links["self"]})


def _owns(principal: Principal, row: ChangeRow) -> bool:
    if principal.is_admin:
        return True
    if row.actor_kind != principal.kind:
        return False
    if principal.kind in ORG_KINDS:
        return principal.org is not None and row.actor_org == principal.org
    return row.record["actor_subject"] == principal.sub


def with_submissions(catalogue: Catalogue) -> Catalogue:
    """The service's catalogue with its submissions' events: their rows described and scoped here,
    every other row as the catalogue does."""
    describe, visible, may_see = catalogue.describe, catalogue.visible, catalogue.may_see
    service = catalogue.service

    def describe_all(row: ChangeRow) -> Described | None:
        return _describe(service, row) if row.entity_type == ENTITY else describe(row)

    def may_see_all(principal: Principal, row: ChangeRow) -> bool:
        return _owns(principal, row) if row.entity_type == ENTITY else may_see(principal, row)

    async def visible_all(
        conn: asyncpg.Connection, principal: Principal, rows: list[ChangeRow]
    ) -> list[bool]:
        others = [r for r in rows if r.entity_type != ENTITY]
        shown = await visible(conn, principal, others) if others else []
        seen = dict(zip((r.seq for r in others), shown, strict=True))
        return [_owns(principal, r) if r.entity_type == ENTITY else seen[r.seq] for r in rows]

    return replace(
        catalogue,
        sources={**catalogue.sources, (ENTITY, "completed"): frozenset({COMPLETED})},
        describe=describe_all,
        visible=visible_all,
        may_see=may_see_all,
    )

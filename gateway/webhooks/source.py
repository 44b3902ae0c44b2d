"""Where the dispatcher reads events: the one seam between webhooks and the change feed.

`read_events(conn, service, principal, after, types, limit)` and the `Event`/`EventPage` shapes
are the feed's (thin events, scoped like the lists, an opaque cursor that resumes exactly).
`head_cursor(conn, service, principal)` is where a new subscription starts: after every event
committed before it, so a new endpoint receives what happens from now on, not the feed's history
(the principal: a feed whose cursors are bound to their reader issues it for that reader).

The reader here is this package's own stand-in until the services publish their feed: it serves
one case, finance loans (`loan.created`, `loan.updated`, `loan.reclassified`), from
`changes_after` (commit order), scoped as the loan list is: a bank sees its own loans (lender =
its org), an official loans of borrowers in its region, an admin all, other kinds none. Other
services' feeds yield no events (their cursor stays at its head). Its cursor is `x<xid>.<seq>` of
the last change row read; it may pass rows the caller cannot see.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import asyncpg

from services.common.auth import Principal
from services.common.changes import changes_after
from services.common.scope import RegionScope


@dataclass(frozen=True)
class Event:
    """The thin event, exactly what the feed and webhooks send."""

    id: str
    type: str
    occurred_at: datetime
    subject: dict
    data: dict
    links: dict

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat(),
            "subject": self.subject,
            "data": self.data,
            "links": self.links,
        }


@dataclass(frozen=True)
class EventPage:
    events: list[Event]
    next_cursor: str
    has_more: bool = False  # the page stopped before the end of the committed log: read again now


def _cursor(xid: int, seq: int) -> str:
    return f"x{xid}.{seq}"


def _position(cursor: str | None) -> tuple[int, int] | None:
    if cursor is None:
        return None
    xid, _, seq = cursor.removeprefix("x").partition(".")
    return int(xid), int(seq)


async def head_cursor(conn: asyncpg.Connection, service: str, principal: Principal) -> str:
    """The cursor after everything already committed: rows of transactions below the snapshot's
    xmin are before it, every transaction still to commit (xid ≥ xmin) after it."""
    xmin = await conn.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
    return _cursor(xmin, 0)


# change-log action of a loan row → event type
_LOAN_TYPES = {"created": "loan.created", "updated": "loan.updated", "reclassified": "loan.reclassified"}
# what a loan event tells (the fields of the loan list the reader may see anyway)
_LOAN_DATA = (
    "lender",
    "loan_ref",
    "borrower_credit_code",
    "amount",
    "outstanding_balance",
    "status",
    "inclusive",
    "inclusive_reason",
)


def _loan_visible(principal: Principal, after: dict) -> bool:
    if principal.kind == "admin":
        return True
    if principal.kind == "bank":
        return bool(principal.org) and after.get("lender") == principal.org
    if principal.kind == "official":
        return RegionScope.of(principal).covers(after.get("borrower_region"))
    return False


def _money(v: Any) -> Any:
    return f"{v:.2f}" if isinstance(v, int | float) else v


def _loan_event(row: asyncpg.Record, after: dict) -> Event:
    data = {k: after.get(k) for k in _LOAN_DATA}
    data["amount"] = _money(data["amount"])
    data["outstanding_balance"] = _money(data["outstanding_balance"])
    lender, ref = after.get("lender") or "", after.get("loan_ref") or ""
    return Event(
        id=f"evt_finance_{row['seq']}",
        type=_LOAN_TYPES[row["action"]],
        occurred_at=row["occurred_at"],
        subject={"type": "loan", "key": row["entity_key"]},
        data=data,
        links={"self": f"/finance/v1/lenders/{quote(lender, safe='')}/loans/{quote(ref, safe='')}"},
    )


async def read_events(
    conn: asyncpg.Connection,
    service: str,
    principal: Principal,
    after: str | None,
    types: frozenset[str] | None,
    limit: int,
) -> EventPage:
    """The caller's events of `service` after the cursor `after`, at most `limit` change rows read."""
    if service != "finance":
        return EventPage([], after if after is not None else await head_cursor(conn, service, principal))
    rows = await changes_after(conn, "finance", _position(after), limit)
    if not rows:
        return EventPage([], after if after is not None else await head_cursor(conn, service, principal))
    events = []
    for row in rows:
        event_type = _LOAN_TYPES.get(row["action"]) if row["entity_type"] == "loan" else None
        if event_type is None or (types is not None and event_type not in types):
            continue
        after_row = _json(row["after"])
        if not isinstance(after_row, dict) or not _loan_visible(principal, after_row):
            continue
        events.append(_loan_event(row, after_row))
    last = rows[-1]
    return EventPage(events, _cursor(last["xid"], last["seq"]), has_more=len(rows) == limit)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value

"""The change feed: thin events read from a schema's change log, in commit order, resumable.

Every `changes` table is the outbox of its schema (`changes.py`): the feed reads it with
`changes_after` (commit order, only rows whose transaction can no longer commit behind them) and
turns rows into events through the service's **catalogue** (`services/<service>/events.py`): which
rows are which event type, what an event's `data` holds (a whitelist, never the raw before/after
rows) and who may see it (the lists' own scope rules). The same `read_events` serves the
`GET /v1/events` routes (`events_route.py`) and the webhook fan-out, so a subscriber receives
exactly what it could read in the feed.

The cursor is the position of the last change row examined — its (xid, seq) and time — signed
with the cursor key and bound to the feed and the caller (`pagination.py`), so it resumes exactly:
no row is served twice, and no row can later appear at or before it. A page examines at most
`events.scan_rows` rows whatever it finds, and its cursor moves past every row it examined, also
the rows the caller may not see: a bank whose events are rare among other banks' rows gets short
(even empty) pages quickly, never a long scan.

The feed keeps `events.retention_days` days: without a cursor it starts at the first row of that
horizon; a cursor whose next rows are older is expired (410 `cursor_expired`, pointing to where the
current state can be re-read). The change log is the audit trail and is never deleted: the horizon
bounds the feed, not the log.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import asyncpg
import orjson

from services.common.auth import Principal
from services.common.changes import change_documents, changes_after, changes_start
from services.common.errors import CursorExpired, InvalidCursor, Problem, UnknownEventType
from services.common.pagination import PageParams, cursor_binding, decode_cursor, encode_cursor
from services.common.settings import Settings, get_settings

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

# The event types of each service's feed: the contract subscribers (and the webhook
# registrations, which cannot import the services) rely on. Each catalogue produces exactly these
# (checked when it is loaded).
EVENT_TYPES: dict[str, frozenset[str]] = {
    "registry": frozenset(
        {
            "enterprise.created",
            "enterprise.updated",
            "enterprise.pool_changed",
            "enterprise.title_changed",
            "screening.completed",
            "submission.completed",
        }
    ),
    "finance": frozenset(
        {
            "loan.created",
            "loan.updated",
            "loan.reclassified",
            "credit_line.created",
            "credit_line.updated",
            "application.created",
            "application.updated",
            "guarantee.created",
            "guarantee.updated",
            "submission.completed",
        }
    ),
    "standards": frozenset(
        {
            "standard.created",
            "standard.updated",
            "certificate.created",
            "certificate.updated",
            "certificate.status_changed",
            "submission.completed",
        }
    ),
}

# Where each service's catalogue lives: an explicit registry (like the CLI's seeds), imported on
# first use, so that the kit and the gateway's webhook fan-out reach a catalogue by service name
# without importing the services.
CATALOGUES: dict[str, str] = {
    "registry": "services.registry.events",
    "finance": "services.finance.events",
    "standards": "services.standards.events",
}


@dataclass(frozen=True)
class Event:
    """The thin event, exactly what the feed and webhooks send."""

    id: str  # "evt_<schema>_<seq>": stable, one per change row
    type: str  # "loan.created", …
    occurred_at: datetime
    subject: dict  # {"type": "loan", "key": "NBCB/L-2022-00012"}
    data: dict  # only fields the caller may read
    links: dict  # {"self": "/finance/v1/lenders/NBCB/loans/L-2022-00012"} (gateway paths)

    def as_json(self) -> dict:
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
    next_cursor: str  # opaque, signed; resumes exactly (may advance past rows the caller cannot see)
    # True when the page stopped before the end of the committed log (its limit or its scan
    # budget): read again at once. False: caught up; nothing more for now.
    has_more: bool = False

    def as_json(self) -> dict:
        return {
            "items": [e.as_json() for e in self.events],
            "next_cursor": self.next_cursor,
            "has_more": self.has_more,
        }


# ---- what a catalogue works with -------------------------------------------------------------


def _json(value: Any) -> Any:
    # orjson: a fifth of the stdlib's time on a row. Its numbers come out as int or float; the
    # log's decimals (numeric(17, 2) money, numeric(7, 4) rates) have at most 15 significant
    # digits, which a double and its repr carry exactly, so `decimal()` gives back the stored value.
    if value is None or isinstance(value, dict):
        return value
    return orjson.loads(value)


def decimal(value: Any) -> Decimal | None:
    """A number read from a change row as the decimal it was stored as (see `_json`)."""
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


class ChangeRow:
    """One change row as a catalogue reads it. The feed reads a page's rows without their JSON
    documents, then the documents of the rows the catalogue's `may_see` keeps; `before` and
    `after` are decoded on first use."""

    __slots__ = ("_after", "_before", "documents", "record")

    def __init__(self, record: Mapping[str, Any], documents: tuple[Any, Any] = (None, None)) -> None:
        self.record = record
        self.documents = documents  # (before, after) as JSON text (or already decoded)
        self._before: Any = _UNREAD
        self._after: Any = _UNREAD

    @property
    def seq(self) -> int:
        return self.record["seq"]

    @property
    def entity_type(self) -> str:
        return self.record["entity_type"]

    @property
    def action(self) -> str:
        return self.record["action"]

    @property
    def entity_key(self) -> str:
        return self.record["entity_key"]

    @property
    def actor_kind(self) -> str:
        return self.record["actor_kind"]

    @property
    def actor_org(self) -> str | None:
        return self.record["actor_org"]

    @property
    def before(self) -> dict[str, Any]:
        if self._before is _UNREAD:
            self._before = _json(self.documents[0]) or {}
        return self._before

    @property
    def after(self) -> dict[str, Any]:
        if self._after is _UNREAD:
            self._after = _json(self.documents[1]) or {}
        return self._after


_UNREAD = object()


@dataclass(frozen=True, slots=True)
class Described:
    """What a catalogue makes of a row: the event but for its id and time."""

    type: str
    subject: dict
    data: dict
    links: dict


Visibility = Callable[[asyncpg.Connection, Principal, list[ChangeRow]], Awaitable[list[bool]]]


@dataclass(frozen=True)
class Catalogue:
    """A service's events: which change rows are events, what they say, who sees them.

    `sources` maps each (entity_type, action) that makes events to the types such a row can
    become; `ignored` names every other shape the service writes, with the reason it is no event
    (rows of any shape in neither are not events either). `describe` makes the event of a row
    (None: not one after all); `visible` says, for rows of one page, which the caller may see —
    the service's list scope rules, at most a query per page. `resync` names where the current
    state can be re-read when a cursor has expired (gateway paths); `may_see` a cheap first look.
    """

    service: str
    sources: Mapping[tuple[str, str], frozenset[str]]
    describe: Callable[[ChangeRow], Described | None]
    visible: Visibility
    resync: tuple[str, ...]
    ignored: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # A first look at a row without its documents (its key, kind, actor): False when it is surely
    # not the caller's, so that its documents are not even read. `visible` decides the rest.
    may_see: Callable[[Principal, ChangeRow], bool] = lambda principal, row: True

    @property
    def types(self) -> frozenset[str]:
        return frozenset().union(*self.sources.values())

    def may_be(self, entity_type: str, action: str, types: frozenset[str] | None) -> bool:
        found = self.sources.get((entity_type, action))
        return found is not None and (types is None or not found.isdisjoint(types))


_loaded: dict[str, Catalogue] = {}


def catalogue(service: str) -> Catalogue:
    """The catalogue of `service` (imported on first use; its types must be EVENT_TYPES')."""
    found = _loaded.get(service)
    if found is None:
        if service not in CATALOGUES:
            raise ValueError(f"no event catalogue for {service!r}")
        found = importlib.import_module(CATALOGUES[service]).CATALOGUE
        if found.service != service or found.types != EVENT_TYPES[service]:
            raise RuntimeError(f"the {service} catalogue does not make exactly EVENT_TYPES[{service!r}]")
        _loaded[service] = found
    return found


_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]*")


def segment(value: Any) -> str:
    """A value as one path segment of a link (every reserved character percent-encoded)."""
    value = str(value)
    return value if _UNRESERVED.fullmatch(value) else quote(value, safe="")


def changed(before: Mapping[str, Any], after: Mapping[str, Any], fields: tuple[str, ...]) -> list[str]:
    """The fields among `fields` whose value differs between the two versions of a record."""
    return [f for f in fields if f in after and before.get(f) != after.get(f)]


# ---- the cursor ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Position:
    """The last change row examined: its (xid, seq) and its time."""

    xid: int
    seq: int
    at: datetime


_CURSOR_TYPES = (int, int, datetime)
AFTER_POINTER = "#/query/after"


def _page(service: str, principal: Principal, cursor: str | None = None) -> PageParams:
    # Bound to the feed and the caller; not to `types`, which filter what a position shows, not
    # where it is (a reader may follow one position with other types).
    binding = cursor_binding(f"{service}.events", principal)
    return PageParams(limit=1, cursor=cursor, binding=binding)


def encode_position(service: str, principal: Principal, position: Position) -> str:
    return encode_cursor(_page(service, principal), [position.xid, position.seq, position.at])


def decode_position(service: str, principal: Principal, cursor: str) -> Position:
    """The position of a cursor this feed issued to this caller, else 400 `invalid_cursor`."""
    try:
        xid, seq, at = decode_cursor(_page(service, principal, cursor), _CURSOR_TYPES)
    except Problem:
        raise InvalidCursor(
            "the cursor is not one this feed issued to this caller; start again without it",
            pointer=AFTER_POINTER,
            message="cursor was altered or truncated, or was issued by another feed or to another caller",
        ) from None
    if xid < 0 or seq < 0 or at.tzinfo is None:
        raise InvalidCursor(pointer=AFTER_POINTER)
    return Position(xid, seq, at)


async def present_cursor(conn: asyncpg.Connection, service: str, principal: Principal) -> str:
    """The caller's cursor after everything already committed (where a new subscription starts):
    every transaction below the snapshot's xmin has ended, and every one still to commit has an xid
    at or above it, so (xmin, 0) is before all of those and after all the rest."""
    if service not in EVENT_TYPES:
        raise ValueError(f"unknown feed: {service!r}")
    xmin = await conn.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
    return encode_position(service, principal, Position(xmin, 0, datetime.now(UTC)))


# ---- reading ---------------------------------------------------------------------------------


def check_types(service: str, types: frozenset[str] | None) -> None:
    """422 `unknown_event_type` for a type this feed does not have."""
    known = EVENT_TYPES[service]
    for t in sorted(types or ()):
        if t not in known:
            raise UnknownEventType(type=t, known=", ".join(sorted(known)))


async def read_events(
    conn: asyncpg.Connection,
    service: str,
    principal: Principal,
    after: str | None,
    types: frozenset[str] | None,
    limit: int,
    *,
    settings: Settings | None = None,
) -> EventPage:
    """The caller's next events of `service` after the cursor `after` (None: from the horizon),
    of `types` only (None: all), at most `limit`; see the module docstring."""
    settings = settings or get_settings()
    cat = catalogue(service)
    check_types(service, types)
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1–{MAX_LIMIT}")
    horizon = datetime.now(UTC) - timedelta(days=settings.events.retention_days)
    if after is not None:
        position = decode_position(service, principal, after)
        # A cursor older than the horizon is expired when the rows after it are too.
        unchecked = position.at < horizon
    else:
        xid, seq = await changes_start(conn, service, horizon)
        position, unchecked = Position(xid, seq, horizon), False

    # An admin sees every row: its rows come with their documents. Anyone else's come without,
    # and only the documents of the rows the catalogue's first look keeps are read.
    everything = principal.is_admin
    events: list[Event] = []
    budget = settings.events.scan_rows
    chunk = limit  # each row makes one event at most: the first read is enough when all are
    more = True  # until the end of the committed log is seen
    while budget > 0 and len(events) < limit:
        want = min(chunk, budget)
        rows = await changes_after(conn, service, (position.xid, position.seq), want, documents=everything)
        budget -= len(rows)
        if unchecked:
            if rows and rows[0]["occurred_at"] < horizon:
                raise CursorExpired(
                    days=settings.events.retention_days,
                    resync=", ".join(cat.resync),
                    headers={"Link": ", ".join(f'<{p}>; rel="related"' for p in cat.resync)},
                )
            unchecked = False
        made = await _events(conn, cat, principal, rows, types, everything)
        last = None
        for last in rows:
            event = made.get(last["seq"])
            if event is not None:
                events.append(event)
                if len(events) == limit:
                    break
        if last is not None:
            position = Position(last["xid"], last["seq"], last["occurred_at"])
        if len(rows) < want and (last is None or last is rows[-1]):  # up to the end of the committed log
            more = False
            break
        chunk = min(chunk * 2, settings.events.scan_rows)
    return EventPage(events, encode_position(service, principal, position), more)


async def _events(
    conn: asyncpg.Connection,
    cat: Catalogue,
    principal: Principal,
    records: list[asyncpg.Record],
    types: frozenset[str] | None,
    with_documents: bool,
) -> dict[int, Event]:
    """The events among `records` the caller may see, by seq (`with_documents`: the records
    hold their documents already)."""
    rows = [
        row
        for row in (ChangeRow(r) for r in records if cat.may_be(r["entity_type"], r["action"], types))
        if cat.may_see(principal, row)
    ]
    if not rows:
        return {}
    if with_documents:
        for row in rows:
            row.documents = (row.record["before"], row.record["after"])
    else:
        documents = await change_documents(conn, cat.service, [r.seq for r in rows])
        for row in rows:
            row.documents = documents.get(row.seq, (None, None))
    out: dict[int, Event] = {}
    for row, seen in zip(rows, await cat.visible(conn, principal, rows), strict=True):
        if not seen:
            continue
        d = cat.describe(row)
        if d is None or (types is not None and d.type not in types):
            continue
        out[row.seq] = Event(
            id=f"evt_{cat.service}_{row.seq}",
            type=d.type,
            occurred_at=row.record["occurred_at"],
            subject=d.subject,
            data=d.data,
            links=d.links,
        )
    return out

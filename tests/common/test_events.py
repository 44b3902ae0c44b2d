"""The change feed's core (services/common/events.py) through `GET /v1/events`: commit order, a
cursor that resumes exactly, the horizon and its 410, a bounded scan, and hostile input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from services.common.auth import Principal
from services.common.changes import Change, changes_after, changes_start, record_changes_on
from services.common.events import CATALOGUES, EVENT_TYPES, catalogue, read_events
from services.common.settings import EventsSettings, get_settings

ADMIN = Principal(sub="admin:test", kind="admin")  # the principal `as_("admin")` signs
WRITER = Principal(sub="bank:BA", kind="bank", org="BA")


@pytest.fixture
def c(client_for):
    return client_for("finance")


def loan_change(ref: str, lender: str = "BA") -> Change:
    row = {"lender": lender, "loan_ref": ref, "borrower_credit_code": "91330106MA2AAAAA0X", "amount": 100}
    return Change("created", "loan", f"{lender}/{ref}", None, row)


async def append(conn: asyncpg.Connection, *refs: str, lender: str = "BA") -> None:
    await record_changes_on(conn, "finance", WRITER, [loan_change(r, lender) for r in refs], None)


async def append_old(db: asyncpg.Connection, refs: list[str], days: int) -> None:
    """Rows written `days` ago (the log refuses UPDATE, so the time is given on insert)."""
    for ref in refs:
        after = json.dumps(loan_change(ref).after)
        await db.execute(
            "INSERT INTO finance.changes (occurred_at, actor_subject, actor_kind, actor_org, action, "
            "entity_type, entity_key, after) VALUES (now() - make_interval(days => $1), 'bank:BA', 'bank', "
            "'BA', 'created', 'loan', $2, $3::jsonb)",
            days,
            f"BA/{ref}",
            after,
        )


async def page(c, headers, **params) -> dict:
    r = await c.get("/v1/events", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def refs(body: dict) -> list[str]:
    return [e["data"]["loan_ref"] for e in body["items"]]


async def test_a_late_committing_transaction_is_not_skipped(c, as_, connect):
    a, b = await connect(), await connect()
    long = a.transaction()
    await long.start()
    await append(a, "A")  # the lower seq and xid; stays open
    async with b.transaction():
        await append(b, "B")  # commits while A runs
    first = await page(c, as_())
    assert first["items"] == [] and first["has_more"] is False  # B waits behind A
    await long.commit()
    second = await page(c, as_(), after=first["next_cursor"])
    assert refs(second) == ["A", "B"]
    assert (await page(c, as_(), after=second["next_cursor"]))["items"] == []


async def test_the_cursor_resumes_exactly_across_pages_and_new_writes(c, as_, connect):
    writer = await connect()
    async with writer.transaction():  # one transaction: one xid, in seq order
        await append(writer, "L0", "L1", "L2")
    for ref in ("L3", "L4", "L5", "L6"):
        async with writer.transaction():
            await append(writer, ref)
    seen, pages, after = [], [], None
    while True:
        body = await page(c, as_(), limit=3, **({"after": after} if after else {}))
        pages.append(refs(body))
        seen += body["items"]
        after = body["next_cursor"]
        if not body["has_more"]:
            break
    assert pages == [["L0", "L1", "L2"], ["L3", "L4", "L5"], ["L6"]]
    async with writer.transaction():
        await append(writer, "L7", "L8")
    more = await page(c, as_(), limit=3, after=after)
    assert refs(more) == ["L7", "L8"] and more["has_more"] is False
    ids = [e["id"] for e in seen + more["items"]]
    assert len(ids) == len(set(ids)) == 9
    # the same cursor again: the same events (a retry after a lost answer loses nothing)
    assert (await page(c, as_(), limit=3, after=after))["items"] == more["items"]


async def test_without_a_cursor_the_feed_starts_at_its_horizon(c, as_, db, connect):
    """From the first row, in commit order, written within the last 30 days: rows are in commit
    order and a row's time is its transaction's start, so the two orders differ only by the
    transactions running across that instant."""
    await append_old(db, ["OLD1", "OLD2"], days=40)
    await append_old(db, ["EDGE"], days=29)
    await append(await connect(), "NEW")
    assert refs(await page(c, as_())) == ["EDGE", "NEW"]


async def test_a_feed_with_nothing_within_its_horizon_starts_after_the_last_row(c, as_, db, connect):
    await append_old(db, ["OLD1", "OLD2"], days=40)
    empty = await page(c, as_())
    assert empty["items"] == [] and empty["has_more"] is False
    await append(await connect(), "NEW")
    assert refs(await page(c, as_(), after=empty["next_cursor"])) == ["NEW"]


async def test_a_cursor_whose_next_events_passed_the_horizon_is_a_410_pointing_to_the_lists(
    c, as_, db, connect
):
    await append_old(db, ["OLD1", "OLD2"], days=40)
    await append(await connect(), "NEW")
    wide = get_settings().model_copy(update={"events": EventsSettings(retention_days=100)})
    reader = await connect()
    held = await read_events(reader, "finance", ADMIN, None, None, 1, settings=wide)
    assert [e.data["loan_ref"] for e in held.events] == ["OLD1"]

    r = await c.get("/v1/events", params={"after": held.next_cursor}, headers=as_())
    assert r.status_code == 410, r.text
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert problem["code"] == "cursor_expired"
    assert problem["errors"][0]["pointer"] == "#/query/after"
    assert "30 days" in problem["detail"] and "/finance/v1/loans" in problem["detail"]
    assert '</finance/v1/loans>; rel="related"' in r.headers["link"]

    # a cursor that read every old row misses nothing: its next events are within the horizon
    caught_up = await read_events(reader, "finance", ADMIN, held.next_cursor, None, 1, settings=wide)
    assert [e.data["loan_ref"] for e in caught_up.events] == ["OLD2"]
    assert refs(await page(c, as_(), after=caught_up.next_cursor)) == ["NEW"]


async def test_an_old_cursor_of_a_quiet_feed_stays_valid(c, as_, db, connect):
    await append_old(db, ["OLD1"], days=40)
    wide = get_settings().model_copy(update={"events": EventsSettings(retention_days=100)})
    held = await read_events(await connect(), "finance", ADMIN, None, None, 50, settings=wide)
    assert len(held.events) == 1 and held.has_more is False
    quiet = await page(c, as_(), after=held.next_cursor)  # its position is 40 days old, nothing since
    assert quiet["items"] == []
    await append(await connect(), "NEW")
    assert refs(await page(c, as_(), after=quiet["next_cursor"])) == ["NEW"]


async def test_a_page_scans_a_bounded_number_of_rows(connect):
    writer, reader = await connect(), await connect()
    async with writer.transaction():
        await append(writer, *[f"A{i}" for i in range(25)], lender="BA")
    settings = get_settings().model_copy(update={"events": EventsSettings(scan_rows=10)})
    bank_b = Principal(sub="bank:BB", kind="bank", org="BB")
    after, pages = None, []
    while True:
        p = await read_events(reader, "finance", bank_b, after, None, 50, settings=settings)
        pages.append((len(p.events), p.has_more))
        after = p.next_cursor
        if not p.has_more:
            break
    # 10 + 10 rows examined, nothing for B, cursors past them; then the last 5 and caught up
    assert pages == [(0, True), (0, True), (0, False)]
    async with writer.transaction():
        await append(writer, "B1", lender="BB")
    p = await read_events(reader, "finance", bank_b, after, None, 50, settings=settings)
    assert [e.data["loan_ref"] for e in p.events] == ["B1"] and p.has_more is False
    # bank A, limited to 10 rows a page, still reads all 25 of its own, in order
    after, seen = None, []
    while True:
        p = await read_events(reader, "finance", WRITER, after, None, 50, settings=settings)
        seen += [e.data["loan_ref"] for e in p.events]
        after = p.next_cursor
        if not p.has_more:
            break
    assert seen == [f"A{i}" for i in range(25)]


async def test_the_start_never_skips_a_transaction_still_running(connect):
    a, b, reader = await connect(), await connect(), await connect()
    long = a.transaction()
    await long.start()
    await append(a, "A")
    async with b.transaction():
        await append(b, "B")
    start = await changes_start(reader, "finance", datetime.now(UTC) - timedelta(days=30))
    await long.commit()
    assert [r["entity_key"] for r in await changes_after(reader, "finance", start, 10)] == ["BA/A", "BA/B"]


async def test_the_start_is_the_first_row_in_commit_order_not_the_first_by_time(connect):
    """A transaction that begins first but writes later has the earlier `occurred_at` (its start)
    and the larger xid: a start at the first row by time would skip the other's row."""
    early, late, reader = await connect(), await connect(), await connect()
    first_to_start = early.transaction()
    await first_to_start.start()
    await early.fetchval("SELECT now()")  # the transaction's time is its start
    async with late.transaction():
        await append(late, "LATE")  # takes its xid first
    await append(early, "EARLY")  # xid after LATE's, occurred_at before it
    await first_to_start.commit()
    rows = await reader.fetch("SELECT entity_key, xid::text::bigint AS xid, occurred_at FROM finance.changes")
    by = {r["entity_key"]: r for r in rows}
    assert by["BA/EARLY"]["occurred_at"] < by["BA/LATE"]["occurred_at"]
    assert by["BA/EARLY"]["xid"] > by["BA/LATE"]["xid"]
    start = await changes_start(reader, "finance", datetime.now(UTC) - timedelta(days=30))
    read = [r["entity_key"] for r in await changes_after(reader, "finance", start, 10)]
    assert read == ["BA/LATE", "BA/EARLY"]


async def test_hostile_parameters_are_4xx_problems(c, as_, client_for):
    admin, bank = as_(), as_("bank", org="BA")
    cursor = (await page(c, admin))["next_cursor"]
    loans_cursor_source = await c.get("/v1/loans", params={"limit": 1}, headers=bank)
    assert loans_cursor_source.status_code == 200
    cases = [
        ({"after": "a\x00b"}, 422, "#/query/after"),
        ({"after": "\ufeffx"}, 422, "#/query/after"),
        ({"after": "x" * 5000}, 422, "#/query/after"),
        ({"after": "junk"}, 400, "#/query/after"),
        ({"after": "junk.junk"}, 400, "#/query/after"),
        ({"after": cursor[:-3]}, 400, "#/query/after"),  # truncated
        ({"after": cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:]}, 400, "#/query/after"),
        ({"types": "loan.created\x00"}, 422, "#/query/types/0"),
        ({"types": ""}, 422, "#/query/types"),
        ({"types": "loan.*"}, 422, "#/query/types"),
        ({"types": "x" * 3000}, 422, "#/query/types/0"),
        ({"limit": 501}, 422, "#/query/limit"),
        ({"limit": 0}, 422, "#/query/limit"),
        ({"limit": "ten"}, 422, "#/query/limit"),
        ({"limit": 10**30}, 422, "#/query/limit"),
    ]
    for params, status, pointer in cases:
        r = await c.get("/v1/events", params=params, headers=admin)
        assert r.status_code == status, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert pointer in [e["pointer"] for e in r.json()["errors"]], (params, r.json())
    r = await c.get("/v1/events?after=%ED%A0%80", headers=admin)  # not UTF-8 (a surrogate's bytes)
    assert 400 <= r.status_code < 500 and r.headers["content-type"].startswith("application/problem+json")
    # a cursor is its caller's and its feed's
    for client, headers in ((c, bank), (client_for("standards"), admin), (client_for("registry"), admin)):
        r = await client.get("/v1/events", params={"after": cursor}, headers=headers)
        assert r.status_code == 400 and r.json()["code"] == "invalid_cursor", r.text
    assert (await c.get("/v1/events")).status_code == 401


def test_every_service_has_its_catalogue_with_the_agreed_types():
    assert set(CATALOGUES) == set(EVENT_TYPES)
    for service, types in EVENT_TYPES.items():
        cat = catalogue(service)
        assert cat.types == types and cat.service == service
        assert cat.resync and all(p.startswith(f"/{service}/v1/") for p in cat.resync)
    with pytest.raises(ValueError):
        catalogue("gateway")


@pytest.mark.parametrize(
    "stored", ["999999999999.99", "1000000000000.00", "0.01", "1234567.89", "4.3500", "36.0000", "0", "12"]
)
def test_a_decimal_read_from_the_log_is_the_stored_one(stored):
    """The log's numbers are decoded by orjson (as float or int); money and rates have at most 15
    significant digits, so they come back exactly."""
    import orjson

    from services.common.events import decimal

    assert decimal(orjson.loads(stored)) == Decimal(stored)

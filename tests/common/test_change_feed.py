"""The change feed follows commit order: a row of a transaction that commits late is never skipped."""

import asyncpg
import pytest

from services.common.auth import Principal
from services.common.changes import Change, changes_after, record_changes_on

ACTOR = Principal(sub="alice", kind="admin")


async def _append(conn: asyncpg.Connection, key: str) -> None:
    await record_changes_on(conn, "finance", ACTOR, [Change("created", "loan", key)], None)


def _cursor(rows) -> tuple[int, int]:
    return rows[-1]["xid"], rows[-1]["seq"]


async def test_a_long_transaction_committing_after_a_short_one_is_not_skipped(connect):
    a, b, reader = await connect(), await connect(), await connect()
    long = a.transaction()
    await long.start()
    await _append(a, "A")  # first: the lower seq, and A stays open
    async with b.transaction():
        await _append(b, "B")  # B commits while A runs
    seqs = dict(await reader.fetch("SELECT entity_key, seq FROM finance.changes"))
    assert seqs == {"B": seqs["B"]}  # only B is visible, and A's row will have the lower seq
    # B is committed but above the snapshot's xmin (A still runs): not served yet
    assert await changes_after(reader, "finance", None, 100) == []

    await long.commit()
    rows = await changes_after(reader, "finance", None, 100)
    assert [r["entity_key"] for r in rows] == ["A", "B"]
    assert rows[0]["seq"] < rows[1]["seq"] and rows[0]["xid"] < rows[1]["xid"]
    assert await changes_after(reader, "finance", _cursor(rows), 100) == []


async def test_a_row_committed_late_comes_after_the_cursor_already_served(connect):
    # a reader that served B's row would skip A's by seq; by (xid, seq) below xmin it never serves
    # B before A ends, and a later transaction always sorts after the cursor
    a, b, reader = await connect(), await connect(), await connect()
    async with b.transaction():
        await _append(b, "first")
    served = await changes_after(reader, "finance", None, 100)
    assert [r["entity_key"] for r in served] == ["first"]
    long = a.transaction()
    await long.start()
    await _append(a, "A")
    async with b.transaction():
        await _append(b, "B")
    assert await changes_after(reader, "finance", _cursor(served), 100) == []
    await long.commit()
    rows = await changes_after(reader, "finance", _cursor(served), 100)
    assert [r["entity_key"] for r in rows] == ["A", "B"]


async def test_a_rolled_back_transaction_does_not_hold_the_feed(connect):
    a, b, reader = await connect(), await connect(), await connect()
    aborted = a.transaction()
    await aborted.start()
    await _append(a, "gone")
    async with b.transaction():
        await _append(b, "B")
    await aborted.rollback()
    rows = await changes_after(reader, "finance", None, 100)
    assert [r["entity_key"] for r in rows] == ["B"]


async def test_the_cursor_resumes_exactly(connect):
    writer, reader = await connect(), await connect()
    keys = [f"L{i}" for i in range(7)]
    async with writer.transaction():  # one transaction: the same xid, ordered by seq
        await record_changes_on(
            writer, "finance", ACTOR, [Change("created", "loan", k) for k in keys[:3]], None
        )
    for k in keys[3:]:  # then one transaction each
        async with writer.transaction():
            await _append(writer, k)
    assert [r["entity_key"] for r in await changes_after(reader, "finance", None, 100)] == keys

    seen, cursor = [], None
    while page := await changes_after(reader, "finance", cursor, 1):
        assert len(page) == 1
        seen.append(page[0]["entity_key"])
        cursor = _cursor(page)
    assert seen == keys

    pages, cursor = [], None
    while page := await changes_after(reader, "finance", cursor, 3):
        pages.append([r["entity_key"] for r in page])
        cursor = _cursor(page)
    assert pages == [keys[:3], keys[3:6], keys[6:]]


async def test_the_feed_reads_only_a_known_schema(connect):
    with pytest.raises(ValueError):
        await changes_after(await connect(), "public; DROP TABLE x", None, 1)

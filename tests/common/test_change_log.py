"""The change log is written with the data and can never be edited."""

import asyncpg
import pytest

from services.common.auth import Principal
from services.common.changes import Change, record_changes


async def test_changes_are_appended_with_actor_and_request_id(apps, db):
    actor = Principal(sub="alice", kind="official", org=None, region="330106")
    async with apps["registry"].state.sessionmaker() as session:
        await record_changes(
            session,
            "registry",
            actor,
            [
                Change("created", "enterprise", "91330000733796106P", None, {"name": "甲"}),
                Change("updated", "enterprise", "91330000733796106P", {"name": "甲"}, {"name": "乙"}),
            ],
        )
        await session.commit()
    rows = await db.fetch("SELECT * FROM registry.changes ORDER BY seq")
    assert [r["action"] for r in rows] == ["created", "updated"]
    assert rows[0]["actor_subject"] == "alice" and rows[0]["actor_kind"] == "official"
    assert rows[0]["seq"] < rows[1]["seq"]


async def test_nothing_can_edit_or_delete_the_change_log(apps, db):
    actor = Principal(sub="alice", kind="admin")
    async with apps["finance"].state.sessionmaker() as session:
        await record_changes(session, "finance", actor, [Change("created", "loan", "B1/L1")])
        await session.commit()
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("UPDATE finance.changes SET action = 'x'")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("DELETE FROM finance.changes")
    assert await db.fetchval("SELECT count(*) FROM finance.changes") == 1

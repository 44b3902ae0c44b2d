"""The "active title" rule in Python (`service.state`) and in SQL (`db.active_on`, the enterprise
rows' cached sets, the directory view, the list's `titles_of`) agree on the same titles."""

from datetime import timedelta
from types import SimpleNamespace

from services.registry.titles.db import active_on, held_on, titles_of
from services.registry.titles.service import state
from tests.registry_data import add_enterprise


async def _title(db, code, kind, valid_from, valid_to=None, status="active", revoked_on=None) -> int:
    return await db.fetchval(
        "INSERT INTO registry.titles (credit_code, kind, level, valid_from, valid_to, status, revoked_on) "
        "VALUES ($1, $2, 'provincial', $3, $4, $5, $6) RETURNING id",
        code, kind, valid_from, valid_to, status, revoked_on,
    )  # fmt: skip


async def test_the_python_and_sql_active_title_rules_agree_on_every_kind_of_title(db):
    today = await db.fetchval("SELECT current_date")
    day = timedelta(days=1)
    cases = {
        "open_ended": (today - 400 * day, None, "active", None),
        "starts_today": (today, today + 30 * day, "active", None),
        "starts_tomorrow": (today + day, None, "active", None),
        "ends_today": (today - 30 * day, today, "active", None),
        "ended_yesterday": (today - 30 * day, today - day, "active", None),
        "one_day_today": (today, today, "active", None),
        "revoked": (today - 30 * day, None, "revoked", today - day),
        "revoked_today": (today - 30 * day, None, "revoked", today),
        "revoked_from_tomorrow": (today - 30 * day, None, "revoked", today + day),
        "revoked_before_start": (today + day, None, "revoked", today),
    }
    expected_active = set()
    codes = {}
    for kind, (vf, vt, status, revoked_on) in cases.items():
        codes[kind] = code = await add_enterprise(db)
        await _title(db, code, kind, vf, vt, status, revoked_on)
        t = SimpleNamespace(status=status, valid_from=vf, valid_to=vt)
        if state(t, today) == "active":
            expected_active.add(kind)
    assert expected_active == {"open_ended", "starts_today", "ends_today", "one_day_today"}

    in_sql = {r["kind"] for r in await db.fetch(f"SELECT kind FROM registry.titles t WHERE {active_on()}")}
    assert in_sql == expected_active
    # the rows' cached sets (trigger on titles), the list's read of them and the directory view
    rows = await db.fetch(
        f"SELECT e.credit_code, e.active_titles, {titles_of('e')}, d.titles AS directory "
        "FROM registry.enterprises e JOIN registry.enterprise_directory d USING (credit_code)"
    )
    for r in rows:
        kind = next(k for k, c in codes.items() if c == r["credit_code"])
        want = [kind] if kind in expected_active else []
        assert r["active_titles"] == r["titles"] == r["directory"] == want, kind

    # The statistics' "held on" rule agrees today except for a revocation dated in the future:
    # revoked already (not active, state() says revoked) but still held until its revoked_on.
    held = {
        r["kind"]
        for r in await db.fetch(f"SELECT kind FROM registry.titles t WHERE {held_on('t', 'current_date')}")
    }
    assert held == expected_active | {"revoked_from_tomorrow"}


async def test_a_cached_set_that_ran_out_is_recomputed_by_the_list_read(db):
    """Once today is past `titles_until` the row's set is not trusted: `titles_of` reads titles."""
    today = await db.fetchval("SELECT current_date")
    code = await add_enterprise(db)
    await _title(db, code, "tech_sme", today - timedelta(days=10), today + timedelta(days=10))
    await db.execute(
        "UPDATE registry.enterprises SET active_titles = '{high_tech}', titles_until = $2 WHERE credit_code = $1",
        code, today - timedelta(days=1),
    )  # fmt: skip
    got = await db.fetchval(
        f"SELECT {titles_of('e')} FROM registry.enterprises e WHERE credit_code = $1", code
    )
    assert got == ["tech_sme"]

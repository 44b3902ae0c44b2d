"""The "held title" rule in Python (`service.held_on`, `service.state`) and in SQL (`db.held_on`,
the enterprise rows' cached sets and their last day, the directory view, the list's `titles_of`)
agree on the same titles; active is held on the programme's today (Shanghai)."""

from datetime import timedelta
from types import SimpleNamespace

from services.common.today import TODAY_SQL, today_shanghai
from services.registry.titles.db import active, held_on, titles_of
from services.registry.titles.service import held_on as held_on_py
from services.registry.titles.service import state
from tests.registry_data import add_enterprise

DAY = timedelta(days=1)


async def _title(db, code, kind, valid_from, valid_to=None, status="active", revoked_on=None) -> int:
    return await db.fetchval(
        "INSERT INTO registry.titles (credit_code, kind, level, valid_from, valid_to, status, revoked_on) "
        "VALUES ($1, $2, 'provincial', $3, $4, $5, $6) RETURNING id",
        code, kind, valid_from, valid_to, status, revoked_on,
    )  # fmt: skip


def _cases(today):
    """kind: (valid_from, valid_to, status, revoked_on, the cached set's last day)"""
    inf = "infinity"
    return {
        "open_ended": (today - 400 * DAY, None, "active", None, inf),
        "starts_today": (today, today + 30 * DAY, "active", None, today + 30 * DAY),
        "starts_tomorrow": (today + DAY, None, "active", None, today),
        "ends_today": (today - 30 * DAY, today, "active", None, today),
        "ended_yesterday": (today - 30 * DAY, today - DAY, "active", None, inf),
        "one_day_today": (today, today, "active", None, today),
        "revoked": (today - 30 * DAY, None, "revoked", today - DAY, inf),
        "revoked_no_date": (today - 30 * DAY, None, "revoked", None, inf),
        "revoked_today": (today - 30 * DAY, None, "revoked", today, inf),
        "revoked_from_tomorrow": (today - 30 * DAY, None, "revoked", today + DAY, today),
        "revoked_in_a_week_ends_sooner": (today - 30 * DAY, today + 2 * DAY, "revoked", today + 7 * DAY, today + 2 * DAY),
        "revoked_before_start": (today + DAY, None, "revoked", today, inf),
        "starts_tomorrow_revoked_later": (today + DAY, None, "revoked", today + 5 * DAY, today),
    }  # fmt: skip


async def test_the_python_and_sql_held_title_rules_agree_on_every_kind_of_title_and_day(db):
    today = today_shanghai()
    assert await db.fetchval(f"SELECT {TODAY_SQL}") == today
    cases = _cases(today)
    codes = {}
    for kind, (vf, vt, status, revoked_on, _) in cases.items():
        codes[kind] = code = await add_enterprise(db)
        await _title(db, code, kind, vf, vt, status, revoked_on)

    # held on each day around today, in Python and in SQL
    for day in (today - DAY, today, today + DAY, today + 3 * DAY):
        in_py = {
            kind
            for kind, (vf, vt, status, revoked_on, _) in cases.items()
            if held_on_py(
                SimpleNamespace(status=status, valid_from=vf, valid_to=vt, revoked_on=revoked_on), day
            )
        }
        in_sql = {
            r["kind"]
            for r in await db.fetch(f"SELECT kind FROM registry.titles t WHERE {held_on('t', '$1')}", day)
        }
        assert in_py == in_sql, day

    expected_active = {
        kind
        for kind, (vf, vt, status, revoked_on, _) in cases.items()
        if state(SimpleNamespace(status=status, valid_from=vf, valid_to=vt, revoked_on=revoked_on), today)
        == "active"
    }
    # a revocation dated in the future takes effect on its date
    assert expected_active == {
        "open_ended",
        "starts_today",
        "ends_today",
        "one_day_today",
        "revoked_from_tomorrow",
        "revoked_in_a_week_ends_sooner",
    }
    in_sql = {r["kind"] for r in await db.fetch(f"SELECT kind FROM registry.titles t WHERE {active()}")}
    assert in_sql == expected_active
    # the rows' cached sets and their last day (trigger on titles), the list's read of them and
    # the directory view
    rows = await db.fetch(
        f"SELECT e.credit_code, e.active_titles, e.titles_until::text AS until, {titles_of('e')}, d.titles AS directory "
        "FROM registry.enterprises e JOIN registry.enterprise_directory d USING (credit_code) "
        "WHERE e.credit_code = ANY($1::text[])",
        list(codes.values()),
    )
    for r in rows:
        kind = next(k for k, c in codes.items() if c == r["credit_code"])
        want = [kind] if kind in expected_active else []
        assert r["active_titles"] == r["titles"] == r["directory"] == want, kind
        assert r["until"] == str(cases[kind][4]), kind


async def test_a_cached_set_that_ran_out_is_recomputed_by_the_list_read(db):
    """Once today is past `titles_until` the row's set is not trusted: `titles_of` reads titles."""
    today = today_shanghai()
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

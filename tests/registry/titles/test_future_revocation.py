"""A revocation dated in the future takes effect on its date: until then the title is active in
the list's title filter, the enterprise detail, the title's state and the statistics alike; on
that day it drops out of all of them, also from a cached set nobody touched since."""

from datetime import timedelta

import pytest

from services.common.today import today_shanghai
from services.registry.titles.cache import refresh_stale
from tests.registry_data import add_enterprise

DAY = timedelta(days=1)


@pytest.fixture
def c(client_for):
    return client_for("registry")


async def test_a_future_dated_revocation_keeps_the_title_active_until_its_date_then_drops_it(c, as_, db):
    today = today_shanghai()
    code = await add_enterprise(db)
    url = f"/v1/enterprises/{code}/titles"
    r = await c.post(
        url,
        json={"kind": "tech_sme", "level": "provincial", "valid_from": str(today - 30 * DAY)},
        headers=as_(),
    )
    assert r.status_code == 201
    title_id = r.json()["id"]

    async def seen() -> dict:
        listed = (await c.get("/v1/enterprises", params={"title": "tech_sme"}, headers=as_())).json()["items"]
        detail = (await c.get(f"/v1/enterprises/{code}", headers=as_())).json()
        (title,) = (await c.get(url, headers=as_())).json()["items"]
        stats = (await c.get("/v1/stats", params={"year": today.year}, headers=as_())).json()
        return {
            "listed": [e["credit_code"] for e in listed] == [code],
            "detail": detail["titles"] == ["tech_sme"],
            "state": title["state"],
            "statistics": stats["figures"]["tech_smes"],
        }

    held = {"listed": True, "detail": True, "state": "active", "statistics": 1}
    r = await c.post(
        f"{url}/{title_id}/revoke",
        json={"reason": "复核不通过", "revoked_on": str(today + DAY)},
        headers=as_(),
    )
    assert r.status_code == 200 and r.json()["state"] == "active" and r.json()["status"] == "revoked"
    assert await seen() == held
    # the row's set holds through today, the last day the title is held
    row = await db.fetchrow(
        "SELECT active_titles, titles_until FROM registry.enterprises WHERE credit_code = $1", code
    )
    assert (row["active_titles"], row["titles_until"]) == (["tech_sme"], today)

    # The revocation's day comes (the same world one day later: revoked_on is today), while the
    # row still has the set computed the day before, which held through yesterday.
    await db.execute("UPDATE registry.titles SET revoked_on = $2 WHERE id = $1", title_id, today)
    await db.execute(
        "UPDATE registry.enterprises SET active_titles = '{tech_sme}', titles_until = $2 WHERE credit_code = $1",
        code,
        today - DAY,
    )
    assert await seen() == {"listed": False, "detail": False, "state": "revoked", "statistics": 0}
    assert await refresh_stale(db) == 1
    row = await db.fetchrow(
        "SELECT active_titles, titles_until::text FROM registry.enterprises WHERE credit_code = $1", code
    )
    assert (row["active_titles"], row["titles_until"]) == ([], "infinity")


async def test_the_statistics_count_a_title_held_on_their_as_of_day_until_its_revocation(c, as_, db):
    code = await add_enterprise(db)
    year = today_shanghai().year - 3
    await db.execute(
        "INSERT INTO registry.titles (credit_code, kind, level, valid_from, status, revoked_on) "
        "VALUES ($1, 'tech_sme', 'provincial', make_date($2, 1, 1), 'revoked', make_date($2 + 1, 1, 1))",
        code,
        year,
    )

    async def counted(y: int) -> int:
        return (await c.get("/v1/stats", params={"year": y}, headers=as_())).json()["figures"]["tech_smes"]

    assert (await counted(year), await counted(year + 1)) == (1, 0)

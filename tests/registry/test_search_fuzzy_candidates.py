"""Fuzzy search's candidates: each gram set is probed on its own and the candidates are read back by
row address (repository._fuzzy_match), so a name several sets reach, a name changed since, and a
name outside the caller's region must still come out right."""

from services.registry.enterprises import search
from tests.registry_data import add_enterprise

HZ_XIHU, NB_YINZHOU = "330106", "330212"


async def test_a_name_reached_through_several_gram_sets_is_listed_once(client_for, as_, db):
    c = client_for("registry")
    # Both spellings in one name: the query (one character too many) is one edit from each.
    code = await add_enterprise(db, name="华东精密仪器华东精蜜仪器有限公司")
    q = "华东精密蜜仪器"
    reaching = [gs for gs in search.one_edit_grams(q) if set(gs) <= set(await _grams(db, code))]
    assert len(reaching) > 1  # the case under test: more than one set holds the name
    items = (await c.get("/v1/enterprises", params={"q": q}, headers=as_())).json()["items"]
    assert [e["credit_code"] for e in items] == [code]


async def test_fuzzy_matches_stay_within_the_officials_region(client_for, as_, db):
    c = client_for("registry")
    here = await add_enterprise(db, name="华东精密仪器有限公司", region_code=HZ_XIHU)
    await add_enterprise(db, name="华东精密仪器制造有限公司", region_code=NB_YINZHOU)
    items = (
        await c.get("/v1/enterprises", params={"q": "华东精蜜仪器"}, headers=as_("official", region="330100"))
    ).json()["items"]
    assert [e["credit_code"] for e in items] == [here]


async def test_a_renamed_enterprise_is_found_by_its_new_name_only(client_for, as_, db):
    c = client_for("registry")
    code = await add_enterprise(db, name="华东精密仪器有限公司")
    await db.execute(
        "UPDATE registry.enterprises SET name = '江南纺织机械有限公司' WHERE credit_code = $1", code
    )
    old = (await c.get("/v1/enterprises", params={"q": "华东精蜜仪器"}, headers=as_())).json()["items"]
    new = (await c.get("/v1/enterprises", params={"q": "江南纺蜜机械"}, headers=as_())).json()["items"]
    assert old == []
    assert [(e["credit_code"], e["name"]) for e in new] == [(code, "江南纺织机械有限公司")]


async def _grams(db, code: str) -> list[str]:
    return await db.fetchval("SELECT name_grams FROM registry.enterprises WHERE credit_code = $1", code)

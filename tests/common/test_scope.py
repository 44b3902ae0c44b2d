"""The region scope: one rule (`covers`), and its SQL renderings agree with it on every code."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from services.common.auth import Principal
from services.common.errors import Problem
from services.common.scope import UNRESTRICTED, RegionScope, named, region_prefix


def official(region: str) -> Principal:
    return Principal(sub=f"official:{region}", kind="official", region=region)


SCOPES = {
    "admin": RegionScope.of(Principal(sub="a", kind="admin")),
    "bank": RegionScope.of(Principal(sub="b", kind="bank", org="ICBC")),
    "province": RegionScope.of(official("330000")),
    "city": RegionScope.of(official("330100")),
    "county": RegionScope.of(official("330106")),
    "successor county": RegionScope.of(official("330102")),  # 上城区, a successor of 330104 江干区
    # Filters an admin may name: 2 to 6 digits, normalised.
    "filter 33": UNRESTRICTED.narrow("33"),
    "filter 3300": UNRESTRICTED.narrow("3300"),
    "filter 330": UNRESTRICTED.narrow("330"),
    "filter 3301": UNRESTRICTED.narrow("3301"),
    "filter 33010": UNRESTRICTED.narrow("33010"),
    "filter 330106": UNRESTRICTED.narrow("330106"),
}
CODES = [
    "330000", "330100", "330106", "330108", "330110", "330200", "330212", "340100",
    "330102", "330104", "330103", "330114",  # a successor, its retired predecessors, a co-successor
    "33", "3301", "330", "33010", "3302",  # prefixes (screenings and summary cells store them)
    "3301061", "33010600", "", " 330106", "330106 ", "abc", "33%", "3_0106", "3301_6", "%",
    None,
]  # fmt: skip


def test_an_officials_scope_is_never_blank():
    assert RegionScope.of(official("330100")).prefix == "3301"
    assert RegionScope.of(Principal(sub="a", kind="admin")).prefix is None
    for odd in (" ", "", "%", None, "3301", "339999"):
        with pytest.raises(Problem) as e:
            RegionScope.of(Principal(sub="o", kind="official", region=odd))
        assert e.value.status == 401 and e.value.code == "principal_invalid"


def test_the_normalisation_drops_trailing_zero_pairs_down_to_the_province():
    assert [region_prefix(c) for c in ("330000", "3300", "33", "330100", "3301", "330106", "330")] == [
        "33", "33", "33", "3301", "3301", "330106", "330",
    ]  # fmt: skip
    assert SCOPES["filter 3300"] == SCOPES["filter 33"] == RegionScope("33")
    assert SCOPES["province"].prefix == "33" and SCOPES["city"].prefix == "3301"


def test_covers_follows_the_hierarchy():
    province, city, county = SCOPES["province"], SCOPES["city"], SCOPES["county"]
    assert all(province.covers(c) for c in ("330000", "330100", "330106", "330212"))
    assert city.covers("330100") and city.covers("330106") and not city.covers("330212")
    assert county.covers("330106") and not county.covers("330108") and not county.covers("330100")
    assert not province.covers("340100") and not province.covers(None)
    assert SCOPES["admin"].covers(None) and SCOPES["bank"].covers("340100")


def test_a_county_covers_exactly_its_own_code():
    # Disagreement: the list's SQL compared a county as an equality, every other copy as a LIKE
    # prefix ('330106%'). Equality won: a county code has no sub-regions, stored codes are six
    # characters (CHECK / varchar(6)), and the equality is what the list's indexes answer in order.
    county = SCOPES["county"]
    assert county.covers("330106")
    assert not county.covers("3301061") and not county.covers("33010600")
    assert county.where("e.region_code", lambda v: f"'{v}'") == "e.region_code = '330106'"


def test_a_county_covers_the_retired_codes_it_succeeded():
    """Enterprises still filed under a retired code stay visible to its successors' officials:
    330104 江干区 was split between 330102 上城区 and 330114 钱塘区, so both see its enterprises."""
    shangcheng = SCOPES["successor county"]
    qiantang = RegionScope.of(official("330114"))
    assert shangcheng.covers("330104") and qiantang.covers("330104")
    assert not shangcheng.covers("330103") and not shangcheng.covers("330114")
    assert RegionScope.of(official("330105")).covers("330103")  # 拱墅区 ← 下城区
    assert shangcheng.where("e.region_code", lambda v: f"'{v}'") == (
        "(e.region_code = '330102' OR e.region_code = '330104')"
    )
    params: dict = {}
    shangcheng.where("e.region_code", named(params, "r"))
    assert params == {"r": "330102", "r_2": "330104"}


def test_a_prefix_is_digits_only_so_no_rendering_needs_like_escapes():
    # Disagreement: finance and certifications escaped LIKE wildcards, the registry and the
    # statistics did not. A scope's prefix is now 2–6 digits or nothing, so it carries none.
    for bad in ("33%", "3_", "%", "", "3", "3301061", "33 ", "abcd"):
        with pytest.raises(ValueError):
            RegionScope(bad)


def test_an_unrestricted_scope_adds_no_condition():
    # Disagreement: the statistics and screenings scoped an admin with LIKE '%' (which drops a NULL
    # region), the lists with no condition. No condition won: admin sees everything.
    assert UNRESTRICTED.where("x", lambda v: "$1") == "TRUE"
    assert UNRESTRICTED.covers(None) and UNRESTRICTED.covers("")
    assert not UNRESTRICTED.restricted and UNRESTRICTED.whole_province
    assert SCOPES["province"].whole_province and not SCOPES["city"].whole_province


def test_narrowing_to_a_region_outside_the_scope_is_403_naming_the_region_as_asked():
    city = SCOPES["city"]
    assert city.narrow(None) is city
    assert city.narrow("330106").prefix == "330106" and city.narrow("330100").prefix == "3301"
    for outside in ("330200", "3302", "33", "330000"):
        with pytest.raises(Problem) as e:
            city.narrow(outside, "/region")
        assert e.value.status == 403 and e.value.code == "region_out_of_scope"
        # Disagreement: the registry named the normalised prefix (3302), finance and standards the
        # region as the caller wrote it (330200). As written won: it is what the caller recognises.
        assert e.value.detail == f"region {outside} is outside your region 330100"
        assert e.value.errors[0]["pointer"] == "/region"
    with pytest.raises(Problem) as e:
        SCOPES["county"].require("330108", "/region_code")
    assert e.value.status == 403 and e.value.errors[0]["pointer"] == "/region_code"


async def test_every_sql_rendering_agrees_with_covers_on_every_code(db):
    """The raw-SQL fragment (both shapes) and the SQLAlchemy condition, run by PostgreSQL on the
    crafted codes, select exactly the codes `covers` accepts, for every kind of scope."""
    for name, scope in SCOPES.items():
        for code in CODES:
            expected = scope.covers(code)
            for city_index in (False, True):
                args: list = [code]

                def bind(value: str, args: list = args) -> str:
                    args.append(value)
                    return f"${len(args)}::text"

                where = scope.where("t.c", bind, city_index=city_index)
                raw = await db.fetchval(f"SELECT count(*) FROM (SELECT $1::text AS c) t WHERE {where}", *args)
                assert raw == expected, (name, code, city_index, where)

                t = sa.select(sa.cast(sa.literal(code), sa.Text).label("c")).subquery("t")
                stmt = (
                    sa.select(sa.func.count())
                    .select_from(t)
                    .where(scope.clause(t.c.c, city_index=city_index))
                )
                compiled = stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
                assert await db.fetchval(str(compiled)) == expected, (name, code, city_index, str(compiled))


def test_a_city_renders_as_an_index_equality_only_where_asked():
    city = SCOPES["city"]
    assert city.where("e.region_code", lambda v: "$1") == "e.region_code LIKE $1"
    assert city.where("e.region_code", lambda v: "$1", city_index=True) == "substr(e.region_code, 1, 4) = $1"
    seen: list[str] = []
    city.where("e.region_code", lambda v: seen.append(v) or "$1")
    assert seen == ["3301%"]


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("registry", "/v1/stats"),
        ("finance", "/v1/stats"),
        ("standards", "/v1/stats"),
        ("registry", "/v1/parks"),
    ],
)
async def test_an_official_without_a_region_is_refused_everywhere_as_an_invalid_principal(
    client_for, as_, service, path
):
    # Disagreement: finance statistics answered an official without a region 403 "forbidden", the
    # other services refused the principal (401). The refusal won (it is checked where a principal
    # is verified, before any route), so the 403 branch could never run and is gone.
    r = await client_for(service).get(path, headers=as_("official", region=None))
    assert r.status_code == 401 and r.json()["code"] == "principal_invalid"

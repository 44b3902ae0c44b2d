"""The programme targets: one table (registry.programme_targets), loaded from one data file,
published as the view every other process reads (docs/contracts.md)."""

from datetime import date
from decimal import Decimal

import pytest

from services.common.targets import REPORTED, reported_targets, targets_of
from services.registry.targets.data import document, rows

Y2022 = (date(2022, 1, 1), date(2022, 12, 31))
# domain.md §1 (from the programme text, ../shared/programme.md): key → (value, unit, owner, window).
# The window of smb_new_loans ("全省3年新增5000亿元", unsettled) is the 3 years to 2022: domain.md §1
# sets 2020-01-01…2022-12-31 as the default; migration 0005 had 2022–2024, finance 2020–2022.
# 净增小升规 is counted from the programme baseline (end of 2019 by default, domain.md §1): its
# window runs from there.
FROM_BASELINE = (date(2020, 1, 1), date(2022, 12, 31))
DOMAIN_TARGETS = {
    "tech_smes": ("60000", "enterprises", "registry", Y2022),
    "net_new_above_scale": ("10000", "enterprises", "registry", FROM_BASELINE),
    "champion_candidates": ("1000", "enterprises", "registry", Y2022),
    "champions": ("200", "enterprises", "registry", Y2022),
    "cloud_enterprises": ("500000", "enterprises", "registry", Y2022),
    "champion_cnc_rate": ("60", "percent", "registry", Y2022),
    "adoption_rate": ("70", "percent", "standards", Y2022),
    "intl_standards_led": ("45", "standards", "standards", Y2022),
    "zhejiang_made_standards": ("3000", "standards", "standards", Y2022),
    "pinzibiao_smes": ("800", "enterprises", "standards", Y2022),
    "high_tech": ("20000", "enterprises", "registry", Y2022),
    "smb_new_loans": ("500000000000", "yuan", "finance", (date(2020, 1, 1), date(2022, 12, 31))),
    "parks": ("1200", "parks", "registry", Y2022),
    "park_tenants": ("100000", "enterprises", "registry", Y2022),
    "star_parks": ("100", "parks", "registry", Y2022),
    "tech_trade": ("120000000000", "yuan", "registry", Y2022),  # a reported figure the registry holds
    "two_increases": ("100", "percent", "finance", Y2022),  # lenders passing ÷ lenders assessed
    "national_demo_bases": ("20", "parks", "registry", Y2022),
    "industrial_apps": ("50000", "apps", "registry", Y2022),
    "service_institutions": ("100", "institutions", "registry", Y2022),
    "county_platform_coverage": ("100", "percent", "registry", Y2022),
    "export_support_funds": ("2000000000", "yuan", "registry", (date(2020, 1, 1), date(2022, 12, 31))),
    "special_credit_fund": ("8000000000", "yuan", "registry", Y2022),
    "customs_clearance_time": ("33.33", "percent", "registry", Y2022),  # 再压缩1/3以上
}


async def _loaded(db) -> dict:
    return {t.key: t for t in await targets_of(db, *REPORTED)}


@pytest.mark.parametrize("key", sorted(DOMAIN_TARGETS))
async def test_each_target_row_is_loaded_as_domain_md_states_it(db, key):
    value, unit, owner, (start, end) = DOMAIN_TARGETS[key]
    t = (await _loaded(db))[key]
    assert (t.value, t.unit, t.owner_service) == (Decimal(value), unit, owner)
    assert (t.window_start, t.window_end) == (start, end)
    assert (t.programme, t.year, t.region_code) == ("chuying-2022", 2022, "330000")
    assert t.data_version == document()["data_version"]


@pytest.mark.parametrize(
    "row", rows(), ids=lambda r: f"{r['programme']}-{r['year']}-{r['region_code']}-{r['key']}"
)
async def test_each_row_of_the_data_file_is_in_the_table(db, row):
    stored = await db.fetchrow(
        "SELECT * FROM registry.programme_targets WHERE programme = $1 AND year = $2 AND region_code = $3"
        " AND key = $4",
        row["programme"],
        row["year"],
        row["region_code"],
        row["key"],
    )
    assert stored is not None
    assert {k: stored[k] for k in row} == row
    published = await db.fetchrow(
        "SELECT * FROM registry.programme_target_directory WHERE programme = $1 AND key = $2",
        row["programme"],
        row["key"],
    )
    assert dict(published) == {k: v for k, v in dict(stored).items() if k != "id"}


async def test_the_loaded_keys_are_domain_md_s_every_one(db):
    assert set(await _loaded(db)) == set(DOMAIN_TARGETS)
    assert await db.fetchval("SELECT count(*) FROM registry.programme_targets") == len(rows())


async def test_each_service_reports_against_the_rows_it_owns(db):
    for owner in ("registry", "finance", "standards"):
        owned = await reported_targets(db, owner)
        assert set(owned) == {k for k, v in DOMAIN_TARGETS.items() if v[2] == owner}


async def test_values_read_as_the_statistics_show_them(db):
    loaded = await _loaded(db)
    # money in yuan with 2 places (README); counts and percents as the whole numbers they are
    assert loaded["smb_new_loans"].value_text == "500000000000.00"
    assert loaded["tech_smes"].value_text == "60000" and loaded["adoption_rate"].value_text == "70"
    assert loaded["smb_new_loans"].window_years == [2020, 2021, 2022]
    assert loaded["adoption_rate"].programme_name == "雏鹰行动 2022"

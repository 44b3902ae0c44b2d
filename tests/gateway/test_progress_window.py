"""The progress bulletin measures a figure and its elapsed share over one window: the target's."""

from datetime import date, timedelta
from decimal import Decimal

from gateway.progress.service import elapsed_share
from services.common.auth import principal_headers
from services.common.today import today_shanghai
from tests.finance.helpers import loan
from tests.gateway.conftest import bearer
from tests.gateway.test_aggregates import post_loans

ROW = "programme = 'chuying-2022' AND year = 2022 AND region_code = '330000' AND key = 'smb_new_loans'"


async def test_the_bulletins_actual_and_elapsed_share_use_the_same_window(
    gateway_live, live_services, db, new_client, http
):
    today = today_shanghai()
    start, end = today - timedelta(days=200), today + timedelta(days=165)  # not whole months either
    saved = await db.fetchrow(f"SELECT window_start, window_end FROM registry.programme_targets WHERE {ROW}")
    await db.execute(
        f"UPDATE registry.programme_targets SET window_start = $1, window_end = $2 WHERE {ROW}", start, end
    )
    try:
        _, bank = await new_client("bank", org="B-WINDOW")
        inside = [start, today - timedelta(days=1)]
        outside = [start - timedelta(days=1), date(2021, 6, 1)]
        await post_loans(
            http,
            gateway_live,
            bank,
            [
                loan(amount="1000000.00", outstanding_balance="1000000.00", issued_on=d.isoformat(),
                     matures_on=(d + timedelta(days=400)).isoformat(), status="outstanding")
                for d in inside + outside
            ],
        )  # fmt: skip
        _, official = await new_client("official", region="330000")
        report = (
            await http.get(f"{gateway_live.url}/v1/progress?year=2022", headers=bearer(official))
        ).json()
        item = next(i for i in report["items"] if i["key"] == "smb_new_loans")
        # the actual: the small-micro balance's growth over the window — the two loans issued in
        # it (1M each, still owed); the two issued before it count at both ends and cancel out
        assert Decimal(item["actual"]) == Decimal("2000000.00")
        # the elapsed share: of the same window
        assert (item["period_start"], item["period_end"]) == (start.isoformat(), end.isoformat())
        share = (elapsed_share(start, end, today) * 100).quantize(Decimal("0.01"))
        assert Decimal(item["expected_ratio"]) == share and Decimal(0) < share < Decimal(100)
        # and the finance service says which window it summed over
        stats = (
            await http.get(
                f"{live_services['finance'].url}/v1/stats?year=2022&region=330000",
                headers=principal_headers("official", region="330000"),
            )
        ).json()["targets"]["smb_new_loans"]
        assert stats["years"] == list(range(start.year, end.year + 1))
        assert f"{start.isoformat()}..{end.isoformat()}" in stats["definition"]
    finally:
        await db.execute(
            f"UPDATE registry.programme_targets SET window_start = $1, window_end = $2 WHERE {ROW}", *saved
        )


async def test_the_default_window_is_the_one_the_finance_figure_always_summed(db):
    # domain.md §1: the 3-year window of 5000亿 defaults to 2020-01-01…2022-12-31 (migration 0005
    # had stored 2022-01-01…2024-12-31 while finance summed 2020–2022).
    row = await db.fetchrow(
        f"SELECT window_start, window_end FROM registry.programme_target_directory WHERE {ROW}"
    )
    assert (row["window_start"], row["window_end"]) == (date(2020, 1, 1), date(2022, 12, 31))

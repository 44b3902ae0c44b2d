"""The two views that need all three services: the enterprise profile and the progress bulletin."""

import io
from decimal import Decimal

from openpyxl import load_workbook

from services.common.auth import principal_headers
from tests.finance.helpers import loan
from tests.gateway.conftest import bearer, restart
from tests.registry_data import add_enterprise


async def post_loans(http, gw, key, records):
    r = await http.post(gw.url + "/finance/v1/loans/batch", json={"records": records}, headers=bearer(key))
    assert r.status_code == 200, r.text
    assert r.json()["summary"]["rejected"] == 0, r.text


async def test_a_banks_profile_shows_only_its_own_loans(gateway_live, db, new_client, http):
    code = await add_enterprise(db, region_code="330106", sizes={2022: "small"})
    _, bank_a = await new_client("bank", org="B-PROF-A")
    _, bank_b = await new_client("bank", org="B-PROF-B")
    _, admin = await new_client("admin")
    await post_loans(http, gateway_live, bank_a, [loan(borrower=code), loan(borrower=code)])
    await post_loans(
        http, gateway_live, bank_b, [loan(borrower=code, amount="500000.00", outstanding_balance="0.00")]
    )

    url = f"{gateway_live.url}/v1/enterprises/{code}/profile"
    a = (await http.get(url, headers=bearer(bank_a))).json()
    assert a["partial"] is False and a["degraded"] == []
    assert a["enterprise"]["credit_code"] == code
    assert a["finance"]["loans_count"] == 2 and a["finance"]["loans_amount"] == "2000000.00"
    assert "standards" in a["withheld"]  # banks may not read certification records
    b = (await http.get(url, headers=bearer(bank_b))).json()
    assert b["finance"]["loans_count"] == 1 and b["finance"]["loans_amount"] == "500000.00"
    full = (await http.get(url, headers=bearer(admin))).json()
    assert full["finance"]["loans_count"] == 3
    assert full["standards"] == {"certifications": [], "certifications_truncated": False, "standards": []}


async def test_profile_of_an_enterprise_outside_the_callers_region_is_404(gateway_live, db, new_client, http):
    code = await add_enterprise(db, region_code="330212")
    _, official = await new_client("official", region="330106")
    r = await http.get(f"{gateway_live.url}/v1/enterprises/{code}/profile", headers=bearer(official))
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = await http.get(
        f"{gateway_live.url}/v1/enterprises/91330000733796106X/profile", headers=bearer(official)
    )
    assert r.status_code == 422  # bad check character


async def test_profile_is_partial_when_a_service_is_down(flaky, db, new_client, http):
    code = await add_enterprise(db, region_code="330106")
    _, admin = await new_client("admin")
    finance = flaky["finance"]
    finance.stop()
    try:
        r = await http.get(f"{flaky['gateway'].url}/v1/enterprises/{code}/profile", headers=bearer(admin))
        assert r.status_code == 200
        body = r.json()
        assert body["partial"] is True
        assert "finance" in body["degraded"] and body["finance"] is None
        assert body["enterprise"]["credit_code"] == code  # the registry part is still there
    finally:
        restart(finance)


async def test_progress_bulletin_equals_the_services_statistics(
    gateway_live, live_services, db, new_client, http
):
    for titles in (["tech_sme"], ["tech_sme", "high_tech"], ["high_tech"]):
        await add_enterprise(db, region_code="330106", sizes={2022: "small"}, titles=titles)
    code = await add_enterprise(db, region_code="330106", sizes={2022: "micro"}, tier="champion_candidate")
    _, bank = await new_client("bank", org="B-PROG")
    await post_loans(
        http, gateway_live, bank, [loan(borrower=code, amount="2500000.00", outstanding_balance="2500000.00")]
    )
    _, official = await new_client("official", region="330000")

    r = await http.get(f"{gateway_live.url}/v1/progress?year=2022&region=330000", headers=bearer(official))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["partial"] is False and report["targets_version"]
    items = {i["key"]: i for i in report["items"]}
    assert len(items) == 24 and items["tech_smes"]["name_zh"] == "科技型中小企业"  # every commitment

    headers = principal_headers("official", region="330000")
    targets = {
        r["key"]
        for r in await db.fetch(
            "SELECT key FROM registry.programme_targets"
            " WHERE programme = 'chuying-2022' AND year = 2022 AND region_code = '330000'"
        )
    }
    for service in ("registry", "finance", "standards"):
        stats = (
            await http.get(f"{live_services[service].url}/v1/stats?year=2022&region=330000", headers=headers)
        ).json()
        for key, fact in stats["targets"].items():
            if key not in targets:  # a figure with no target row here (two_increases, until it has one)
                continue
            assert key in items, key
            if fact["value"] is None:  # no figures yet (e.g. no adoption reports): shown as not tracked
                assert items[key]["actual"] is None and items[key]["status"] == "not_tracked"
            else:
                assert Decimal(items[key]["actual"]) == Decimal(fact["value"]), (service, key)
            assert items[key]["owner_service"] == service
    assert Decimal(items["smb_new_loans"]["actual"]) >= Decimal("2500000")
    assert items["tech_trade"]["status"] == "not_tracked" and items["tech_trade"]["actual"] is None
    loans = items["smb_new_loans"]  # 2020–2022 is over and 2.5 million ≪ 500 billion
    assert loans["status"] == "behind" and loans["expected_ratio"] == "100.00"
    ratio = Decimal(loans["actual"]) / Decimal("500000000000") * 100
    assert Decimal(loans["ratio"]) == ratio.quantize(Decimal("0.01"))

    x = await http.get(
        f"{gateway_live.url}/v1/progress?year=2022&region=330000&format=xlsx", headers=bearer(official)
    )
    assert x.status_code == 200 and x.headers["content-type"].startswith("application/vnd.openxmlformats")
    ws = load_workbook(io.BytesIO(x.content)).active
    rows = {row[1]: row for row in ws.iter_rows(values_only=True) if row and row[1] in items}
    assert len(rows) == 24
    assert Decimal(str(rows["smb_new_loans"][4])) == Decimal(loans["actual"])
    assert rows["tech_smes"][2] == "科技型中小企业" and rows["smb_new_loans"][8] == "滞后"


async def test_progress_is_for_officials_of_the_region(gateway_live, new_client, http):
    _, county = await new_client("official", region="330106")
    r = await http.get(f"{gateway_live.url}/v1/progress?region=330000", headers=bearer(county))
    assert r.status_code == 403 and r.json()["code"] == "region_out_of_scope"
    r = await http.get(f"{gateway_live.url}/v1/progress", headers=bearer(county))
    assert r.status_code == 200  # no county targets loaded: every row without a target, none borrowed
    assert all(i["target"] is None for i in r.json()["items"])
    _, bank = await new_client("bank", org="B-X")
    assert (await http.get(f"{gateway_live.url}/v1/progress", headers=bearer(bank))).status_code == 403


async def test_scopes_hold_in_the_aggregates(gateway_live, db, new_client, http):
    code = await add_enterprise(db, region_code="330106", sizes={2022: "small"})
    profile = f"{gateway_live.url}/v1/enterprises/{code}/profile"
    progress = f"{gateway_live.url}/v1/progress?year=2022&region=330000"

    _, gateway_only = await new_client("official", region="330000", scopes=["gateway:read"])
    p = (await http.get(profile, headers=bearer(gateway_only))).json()
    assert p["enterprise"] is None and p["finance"] is None and p["standards"] is None, p
    assert p["withheld"] == ["registry", "finance", "standards"] and p["partial"] is False
    r = (await http.get(progress, headers=bearer(gateway_only))).json()
    assert r["withheld"] == ["finance", "registry", "standards"] and r["partial"] is False
    assert all(i["actual"] is None and i["status"] == "not_tracked" for i in r["items"]), r["items"]

    _, finance_too = await new_client("official", region="330000", scopes=["gateway:read", "finance:read"])
    p = (await http.get(profile, headers=bearer(finance_too))).json()
    assert p["enterprise"] is None and p["finance"] is not None and p["standards"] is None
    assert p["withheld"] == ["registry", "standards"]
    r = (await http.get(progress, headers=bearer(finance_too))).json()
    assert r["withheld"] == ["registry", "standards"]
    assert {i["owner_service"] for i in r["items"] if i["actual"] is not None} == {"finance"}


async def test_aggregates_answer_within_the_deadline_when_a_service_hangs(hung, db, new_client, http):
    import asyncio
    import time

    code = await add_enterprise(db, region_code="330106")
    _, official = await new_client("official", region="330000")

    async def timed(url):
        started = time.monotonic()
        r = await http.get(url, headers=bearer(official), timeout=30)
        return r, time.monotonic() - started

    (profile, t_profile), (progress, t_progress) = await asyncio.gather(
        timed(f"{hung.url}/v1/enterprises/{code}/profile"), timed(f"{hung.url}/v1/progress?year=2022")
    )
    assert profile.status_code == 200 and t_profile < 4.5, (profile.text, t_profile)  # deadline 3 s
    body = profile.json()
    assert body["partial"] is True and body["degraded"] == ["finance"] and body["finance"] is None
    assert body["enterprise"]["credit_code"] == code and body["standards"] is not None
    assert progress.status_code == 200 and t_progress < 4.5, (progress.text, t_progress)
    report = progress.json()
    assert report["partial"] is True and report["degraded"] == ["finance"]

    # A proxied call keeps its own (long) read timeout: 5 s here, then a 504 problem.
    r, t = await timed(f"{hung.url}/finance/v1/whoami")
    assert r.status_code == 504 and r.json()["code"] == "upstream_timeout" and t >= 4.9, (r.text, t)


async def test_a_profile_whose_registry_part_did_not_come_shows_the_other_parts(
    live_services, gateway_live, db, new_client, http
):
    """The registry is down: no 404 can be told apart from an outage, so the answer is 200 with
    `enterprise: null`, the registry named in `degraded`, and the parts the other services scope."""
    from tests.gateway.conftest import start_gateway
    from tests.support import free_port

    code = await add_enterprise(db, region_code="330106")
    _, bank = await new_client("bank", org="B-PROF-DOWN")
    down = start_gateway(live_services, registry=f"http://127.0.0.1:{free_port()}")
    try:
        await post_loans(http, gateway_live, bank, [loan(borrower=code)])
        r = await http.get(f"{down.url}/v1/enterprises/{code}/profile", headers=bearer(bank))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["partial"] is True and body["degraded"] == ["registry"]
        assert body["enterprise"] is None
        assert body["finance"]["loans_count"] == 1
    finally:
        down.stop()

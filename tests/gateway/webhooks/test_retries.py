"""The retry schedule (with an injected clock), Retry-After, the delivery log, disabling on 410
and after 5 days of failures, manual retries, redirects and timeouts."""

import asyncio
import random
from datetime import datetime, timedelta

from gateway.webhooks.schedule import JITTER, RETRY_DELAYS
from tests.gateway.webhooks.conftest import FakeClock, bearer, loan, post_loans, register

TYPES = ["loan.created", "loan.updated"]


def fails(status=500, headers=None, body=b"boom"):
    async def handler(_request):
        return status, headers or {}, body

    return handler


async def delivery(db):
    return await db.fetchrow("SELECT * FROM gateway.webhook_deliveries ORDER BY created_at DESC LIMIT 1")


async def test_a_failing_delivery_follows_the_schedule_and_the_log_shows_every_attempt(
    gateway_live, new_client, http, db, receivers, dispatcher
):
    _, key = await new_client("bank", org="B-RETRY")
    behaviour = {"handler": fails(500, body=b"\x00" + b"x" * 5000)}

    async def handler(request):
        return await behaviour["handler"](request)

    receiver = await receivers(handler)
    created = await register(http, gateway_live.url, key, receiver.url, TYPES)
    await post_loans(http, gateway_live.url, key, [loan(loan_ref="R-1")])
    clock = FakeClock()
    d = await dispatcher(clock=clock, rng=random.Random(16))
    await d.fan_out()
    attempt_times = [clock()]
    assert await d.send_due() == 1
    for n, delay in enumerate(RETRY_DELAYS, start=1):
        row = await delivery(db)
        assert (row["status"], row["attempts"], row["last_status_code"]) == ("pending", n, 500)
        wait = row["next_attempt_at"] - attempt_times[-1]
        assert delay * (1 - JITTER) <= wait <= delay * (1 + JITTER), (n, wait)
        clock.to(row["next_attempt_at"] - timedelta(milliseconds=1))
        assert await d.send_due() == 0  # not before its time
        clock.to(row["next_attempt_at"])
        attempt_times.append(clock())
        assert await d.send_due() == 1
    row = await delivery(db)
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("failed", 10, None)
    clock.advance(days=30)
    assert await d.send_due() == 0

    # every attempt had the same webhook-id, stamped with its own time
    assert len({r.webhook_id for r in receiver.requests}) == 1 and len(receiver.requests) == 10
    stamps = [int(r.headers["webhook-timestamp"]) for r in receiver.requests]
    assert stamps == [int(t.timestamp()) for t in attempt_times]
    # the log: each attempt, its status, its excerpt (≤ 2 KB, storable), and when the next was due
    base = f"{gateway_live.url}/v1/webhooks/{created['id']}"
    detail = (await http.get(f"{base}/deliveries/{row['id']}", headers=bearer(key))).json()
    log = detail["attempt_log"]
    assert [a["attempt"] for a in log] == list(range(1, 11))
    assert [datetime.fromisoformat(a["started_at"]) for a in log] == attempt_times
    assert all(a["status_code"] == 500 for a in log)
    assert [a["next_attempt_at"] is None for a in log] == [False] * 9 + [True]
    assert all(
        len(a["response_excerpt"].encode()) <= 2048 + 2 and "\x00" not in a["response_excerpt"] for a in log
    )
    listed = (await http.get(f"{base}/deliveries", headers=bearer(key))).json()["items"]
    assert [(x["status"], x["attempts"], x["last_status_code"]) for x in listed] == [("failed", 10, 500)]
    assert listed[0]["last_duration_ms"] >= 0 and listed[0]["last_response"].startswith("\ufffdxxx")
    # nine retries over about three days: not yet the five days that disable an endpoint
    endpoint = (await http.get(base, headers=bearer(key))).json()
    assert endpoint["enabled"] and datetime.fromisoformat(endpoint["failing_since"]) == attempt_times[0]

    # a manual retry sends it once more, same webhook-id; success ends the failing period
    behaviour["handler"] = fails(200, body=b"ok")
    r = await http.post(f"{base}/deliveries/{row['id']}/retry", headers=bearer(key))
    assert r.status_code == 202
    clock.to(datetime.fromisoformat(r.json()["next_attempt_at"]))
    assert await d.send_due() == 1
    row = await delivery(db)
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("delivered", 11, 200)
    assert receiver.requests[-1].webhook_id == receiver.requests[0].webhook_id
    assert (await http.get(base, headers=bearer(key))).json()["failing_since"] is None


async def test_retry_after_moves_the_next_attempt_later_never_earlier(
    gateway_live, new_client, http, db, receivers, dispatcher
):
    _, key = await new_client("bank", org="B-RA")
    answers = iter(
        [
            (503, {"Retry-After": "120"}),
            (429, {"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}),  # far: at most 24 h
            (503, {"Retry-After": "1"}),  # sooner than the schedule: the schedule stands
        ]
    )

    async def handler(_request):
        status, headers = next(answers)
        return status, headers, b""

    receiver = await receivers(handler)
    await register(http, gateway_live.url, key, receiver.url, TYPES)
    await post_loans(http, gateway_live.url, key, [loan(loan_ref="RA-1")])
    clock = FakeClock()
    d = await dispatcher(clock=clock, rng=random.Random(1))
    await d.fan_out()
    waits = []
    for _ in range(3):
        at = clock()
        assert await d.send_due() == 1
        row = await delivery(db)
        waits.append(row["next_attempt_at"] - at)
        clock.to(row["next_attempt_at"])
    assert waits[0] == timedelta(seconds=120)
    assert waits[1] == timedelta(hours=24)
    assert RETRY_DELAYS[2] * (1 - JITTER) <= waits[2] <= RETRY_DELAYS[2] * (1 + JITTER)
    assert len(receiver.requests) == 3


async def test_a_410_disables_the_endpoint_and_enabling_it_resumes_where_it_stopped(
    gateway_live, new_client, http, db, receivers, dispatcher
):
    _, key = await new_client("bank", org="B-GONE")
    behaviour = {"status": 410}

    async def handler(_request):
        return behaviour["status"], {}, b"gone"

    receiver = await receivers(handler)
    created = await register(http, gateway_live.url, key, receiver.url, TYPES)
    base = f"{gateway_live.url}/v1/webhooks/{created['id']}"
    await post_loans(http, gateway_live.url, key, [loan(loan_ref="G-1")])
    clock = FakeClock()
    d = await dispatcher(clock=clock)
    await d.fan_out()
    assert await d.send_due() == 1
    endpoint = (await http.get(base, headers=bearer(key))).json()
    assert endpoint["enabled"] is False and "410" in endpoint["disabled_reason"]
    assert endpoint["disabled_at"] is not None

    # while disabled: nothing is sent and its feed waits
    await post_loans(http, gateway_live.url, key, [loan(loan_ref="G-2")])
    clock.advance(hours=1)
    await d.fan_out()
    assert await d.send_due() == 0 and len(receiver.requests) == 1
    assert await db.fetchval("SELECT count(*) FROM gateway.webhook_deliveries") == 1

    behaviour["status"] = 204
    r = await http.patch(base, json={"enabled": True}, headers=bearer(key))
    assert r.json()["enabled"] and r.json()["disabled_reason"] is None
    await d.fan_out()
    assert await d.send_due() == 2  # the retry of G-1 and G-2, written while it was disabled
    assert sorted(r.event["data"]["loan_ref"] for r in receiver.requests[1:]) == ["G-1", "G-2"]


async def test_an_endpoint_failing_for_five_days_is_disabled_and_says_why(
    gateway_live, new_client, http, db, receivers, dispatcher
):
    _, key = await new_client("bank", org="B-5D")
    receiver = await receivers(fails(500))
    created = await register(http, gateway_live.url, key, receiver.url, TYPES)
    base = f"{gateway_live.url}/v1/webhooks/{created['id']}"
    clock = FakeClock()
    start = clock()
    d = await dispatcher(clock=clock)
    await post_loans(http, gateway_live.url, key, [loan(loan_ref="F-1")])
    await d.fan_out()
    await d.send_due()
    clock.advance(days=4, hours=23)
    await post_loans(http, gateway_live.url, key, [loan(loan_ref="F-2")])
    await d.fan_out()
    await d.send_due()
    assert (await http.get(base, headers=bearer(key))).json()["enabled"] is True
    clock.advance(hours=1, seconds=1)
    await post_loans(http, gateway_live.url, key, [loan(loan_ref="F-3")])
    await d.fan_out()
    assert await d.send_due() >= 1
    endpoint = (await http.get(base, headers=bearer(key))).json()
    assert endpoint["enabled"] is False
    reason = endpoint["disabled_reason"]
    assert "120 hours" in reason and f"{start:%Y-%m-%d %H:%M:%S}" in reason and "HTTP 500" in reason
    clock.advance(days=2)
    assert await d.send_due() == 0


async def test_redirects_are_not_followed_and_a_hung_receiver_times_out(
    gateway_live, new_client, http, db, receivers, dispatcher
):
    _, key = await new_client("bank", org="B-RD")
    elsewhere = await receivers()
    release = asyncio.Event()

    async def redirect(_request):
        return 307, {"Location": elsewhere.url}, b""

    async def hang(_request):
        await release.wait()
        return 200, {}, b""

    moved = await receivers(redirect)
    stuck = await receivers(hang)
    await register(http, gateway_live.url, key, moved.url, ["loan.created"])
    await register(http, gateway_live.url, key, stuck.url, ["loan.created"])
    await post_loans(http, gateway_live.url, key, [loan(loan_ref="RD-1")])
    d = await dispatcher(timeout_s=1, lease_s=5)
    await d.fan_out()
    try:
        assert await d.send_due() == 2
    finally:
        release.set()
    rows = {
        r["url"]: r
        for r in await db.fetch(
            "SELECT e.url, d.* FROM gateway.webhook_deliveries d JOIN gateway.webhook_endpoints e ON e.id = d.endpoint_id"
        )
    }
    assert rows[moved.url]["last_status_code"] == 307 and rows[moved.url]["status"] == "pending"
    assert "redirects are not followed" in rows[moved.url]["last_error"]
    assert elsewhere.requests == []
    assert rows[stuck.url]["last_status_code"] is None
    assert rows[stuck.url]["last_error"] == "no answer within 1 s" and rows[stuck.url]["status"] == "pending"


async def test_an_endpoint_whose_place_in_the_feed_expired_is_disabled_and_restarts_at_the_present(
    gateway_live, new_client, http, db, receivers, dispatcher, monkeypatch
):
    """The feed answers an expired cursor with a 410 problem (events past the horizon are gone):
    the endpoint is disabled and says why; enabled again, it follows the feed from then on."""
    from gateway.webhooks import source
    from services.common.errors import Problem

    _, key = await new_client("bank", org="B-EXP")
    receiver = await receivers()
    created = await register(http, gateway_live.url, key, receiver.url, TYPES)
    base = f"{gateway_live.url}/v1/webhooks/{created['id']}"
    stored = await db.fetchval("SELECT cursor FROM gateway.webhook_cursors")
    read = source.read_events

    async def expired(conn, service, principal, after, types, limit):
        if after == stored:
            raise Problem(410, "cursor_expired", "the cursor is older than the event horizon")
        return await read(conn, service, principal, after, types, limit)

    monkeypatch.setattr(source, "read_events", expired)
    await post_loans(http, gateway_live.url, key, [loan(loan_ref="EXP-1")])
    d = await dispatcher()
    await d.fan_out()
    endpoint = (await http.get(base, headers=bearer(key))).json()
    assert endpoint["enabled"] is False and "no longer holds the events" in endpoint["disabled_reason"]
    assert await db.fetchval("SELECT last_error FROM gateway.webhook_cursors") == (
        "the cursor is older than the event horizon"
    )
    r = await http.patch(base, json={"enabled": True}, headers=bearer(key))
    assert r.json()["enabled"] is True
    row = await db.fetchrow("SELECT cursor, last_error FROM gateway.webhook_cursors")
    assert row["cursor"] != stored and row["last_error"] is None
    await post_loans(http, gateway_live.url, key, [loan(loan_ref="EXP-2")])
    await d.fan_out()
    assert await d.send_due() == 1
    assert [r.event["data"]["loan_ref"] for r in receiver.requests] == ["EXP-2"]

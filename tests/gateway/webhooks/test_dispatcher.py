"""The dispatcher as it runs: its loop, several at once (nothing doubled), a slow receiver that
delays nobody else, a dispatcher killed mid-delivery (redelivered with the same webhook-id), and
the retention of delivery logs."""

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta

from standardwebhooks import Webhook

from gateway.webhooks.retention import purge_deliveries
from services.cli import ROOT
from services.jobs.retention import webhook_deliveries
from tests.gateway.webhooks.conftest import loan, post_loans, register, webhook_settings

TYPES = ["loan.created", "loan.updated"]


async def test_several_dispatchers_deliver_each_event_once_to_each_endpoint(
    gateway_live, new_client, http, db, receivers, running
):
    _, a = await new_client("bank", org="B-MANY")
    rx = [await receivers() for _ in range(3)]
    for r in rx:
        await register(http, gateway_live.url, a, r.url, TYPES)
    for _ in range(3):
        await running(poll_s=0.02, batch=7)
    for i in range(4):
        await post_loans(http, gateway_live.url, a, [loan(loan_ref=f"M-{i}-{j}") for j in range(10)])
    await post_loans(http, gateway_live.url, a, [loan(loan_ref="M-0-0", status="overdue")])
    for r in rx:
        got = await r.wait_for(41)
        await asyncio.sleep(0.3)  # anything doubled would show up now
        ids = [x.webhook_id for x in got]
        assert len(ids) == len(set(ids)) == 41
    assert (
        await db.fetchval("SELECT count(*) FROM gateway.webhook_deliveries WHERE status = 'delivered'") == 123
    )


async def test_a_slow_receiver_fills_only_its_own_slots(
    gateway_live, new_client, http, db, receivers, running
):
    """The slow receiver holds every request until the healthy one has had all of its: the healthy
    one is served meanwhile, and the slow one never has more than `per_endpoint` at once."""
    _, slow_bank = await new_client("bank", org="B-SLOW")
    _, healthy_bank = await new_client("bank", org="B-HEALTHY")
    release = asyncio.Event()

    async def held(_request):
        await release.wait()
        return 200, {}, b""

    slow = await receivers(held)
    healthy = await receivers()
    await register(http, gateway_live.url, slow_bank, slow.url, TYPES)
    await register(http, gateway_live.url, healthy_bank, healthy.url, TYPES)
    await running(per_endpoint=2, timeout_s=60, lease_s=90, poll_s=0.02)
    try:
        for i in range(3):
            await post_loans(
                http, gateway_live.url, slow_bank, [loan(loan_ref=f"S-{i}-{j}") for j in range(4)]
            )
            await post_loans(
                http, gateway_live.url, healthy_bank, [loan(loan_ref=f"H-{i}-{j}") for j in range(4)]
            )
        await healthy.wait_for(12)
        assert len(slow.requests) == 2 and slow.in_flight == 2  # its two slots, both held
    finally:
        release.set()
    await slow.wait_for(12)
    assert slow.max_in_flight == 2 and healthy.max_in_flight <= 2
    assert sorted(r.event["data"]["loan_ref"] for r in slow.requests)[:2] == ["S-0-0", "S-0-1"]


async def test_a_dispatcher_killed_mid_delivery_is_followed_by_a_redelivery_with_the_same_webhook_id(
    gateway_live, new_client, http, db, receivers, running
):
    _, key = await new_client("bank", org="B-KILL")
    first = asyncio.Event()

    async def hang_first(_request):
        if not first.is_set():
            first.set()
            await asyncio.sleep(3600)  # the sender dies while waiting for this answer
        return 200, {}, b"ok"

    receiver = await receivers(hang_first)
    created = await register(http, gateway_live.url, key, receiver.url, TYPES)
    env = {
        **os.environ,
        "EAGLET_WEBHOOKS__TIMEOUT_S": "5",
        "EAGLET_WEBHOOKS__LEASE_S": "6",
        "EAGLET_WEBHOOKS__POLL_S": "0.05",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.webhooks.dispatcher", cwd=ROOT, env=env
    )
    try:
        await post_loans(http, gateway_live.url, key, [loan(loan_ref="K-1")])
        await asyncio.wait_for(first.wait(), 30)
        proc.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(proc.wait(), 10) == -signal.SIGKILL
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    row = await db.fetchrow("SELECT * FROM gateway.webhook_deliveries")
    assert row["status"] == "pending" and row["attempts"] == 1 and row["lease"] is not None
    assert await db.fetchval("SELECT count(*) FROM gateway.webhook_attempts") == 0  # it never got to write

    await running(timeout_s=5, lease_s=6, poll_s=0.05)  # another dispatcher, after the lease
    second, redelivered = await receiver.wait_for(2, timeout_s=30)
    assert redelivered.webhook_id == second.webhook_id == row["event_id"]
    assert redelivered.body == second.body
    Webhook(created["secret"]).verify(redelivered.body, redelivered.headers)
    for _ in range(50):
        row = await db.fetchrow("SELECT * FROM gateway.webhook_deliveries")
        if row["status"] == "delivered":
            break
        await asyncio.sleep(0.1)
    assert (row["status"], row["attempts"], row["lease"]) == ("delivered", 2, None)


async def test_the_loop_stops_when_asked(database_url):
    from gateway.webhooks.dispatcher import run

    stop = asyncio.Event()
    task = asyncio.create_task(run(webhook_settings(poll_s=0.01), stop))
    await asyncio.sleep(0.2)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 10)


async def test_delivery_logs_older_than_the_event_horizon_are_deleted(gateway_live, new_client, http, db):
    _, key = await new_client("bank", org="B-RET")
    created = await register(http, gateway_live.url, key, "http://127.0.0.1:9/hook", TYPES)
    for _ in range(4):
        await http.post(
            f"{gateway_live.url}/v1/webhooks/{created['id']}/test", headers={"Authorization": f"Bearer {key}"}
        )
    ids = [r["id"] for r in await db.fetch("SELECT id FROM gateway.webhook_deliveries ORDER BY created_at")]
    await db.execute(
        "INSERT INTO gateway.webhook_attempts (delivery_id, attempt, started_at, duration_ms) "
        "SELECT id, 1, now(), 1 FROM gateway.webhook_deliveries"
    )
    await db.execute(
        "UPDATE gateway.webhook_deliveries SET created_at = now() - interval '31 days' WHERE id = ANY($1::uuid[])",
        ids[:3],
    )
    settings = webhook_settings()
    horizon = datetime.now(UTC) - timedelta(days=settings.events.retention_days)
    assert await webhook_deliveries(db, settings, horizon) == 3  # the retention job's step
    left = [r["id"] for r in await db.fetch("SELECT id FROM gateway.webhook_deliveries")]
    assert left == ids[3:]
    assert await db.fetchval("SELECT count(*) FROM gateway.webhook_attempts") == 1
    # in batches: a backlog larger than one batch goes all the same
    await db.execute("UPDATE gateway.webhook_deliveries SET created_at = now() - interval '40 days'")
    assert await purge_deliveries(db, datetime.now(UTC) - timedelta(days=30), batch=1) == 1

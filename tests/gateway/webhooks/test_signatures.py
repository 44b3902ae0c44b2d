"""Deliveries are signed as Standard Webhooks says, with the subscriber's secret: a receiver
verifies them with `standardwebhooks.Webhook.verify`; during a rotation both secrets sign."""

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from gateway.webhooks.secrets import new_secret
from tests.gateway.webhooks.conftest import bearer, loan, post_loans, register, step_until_delivered


async def test_a_delivery_verifies_with_the_subscribers_secret_and_carries_the_thin_event(
    gateway_live, new_client, http, db, receivers, dispatcher
):
    _, key = await new_client("bank", org="B-SIG")
    receiver = await receivers()
    created = await register(http, gateway_live.url, key, receiver.url, ["loan.created", "loan.updated"])
    secret = created["secret"]
    assert secret.startswith("whsec_") and Webhook(secret)  # base64 the package reads
    # shown once: never in a read, never stored as such, never in the change log
    shown = (await http.get(f"{gateway_live.url}/v1/webhooks/{created['id']}", headers=bearer(key))).json()
    assert "secret" not in shown and len(shown["secrets"]) == 1 and shown["secrets"][0]["expires_at"] is None
    sealed = await db.fetchval("SELECT sealed FROM gateway.webhook_secrets")
    assert secret.encode() not in sealed and secret[6:].encode() not in sealed
    log = await db.fetch("SELECT coalesce(after::text, '') AS a FROM gateway.changes")
    assert log and all(secret[6:] not in row["a"] for row in log)

    record = loan(loan_ref="L-SIG-1", amount="2500000.00", outstanding_balance="2500000.00")
    await post_loans(http, gateway_live.url, key, [record])
    d = await dispatcher()
    await step_until_delivered(d, 1)
    (got,) = receiver.requests
    event = Webhook(secret).verify(got.body, got.headers)
    assert event["type"] == "loan.created" and event["id"] == got.webhook_id
    assert event["subject"] == {"type": "loan", "key": "B-SIG/L-SIG-1"}
    assert event["data"]["lender"] == "B-SIG" and event["data"]["amount"] == "2500000.00"
    assert event["links"]["self"] == "/finance/v1/lenders/B-SIG/loans/L-SIG-1"
    assert got.headers["content-type"] == "application/json"
    assert abs(int(got.headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 300
    assert got.body.decode() == await db.fetchval("SELECT body FROM gateway.webhook_deliveries")
    # a body changed on the way, or another secret, does not verify
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(got.body.replace(b"2500000.00", b"9500000.00"), got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(got.body, got.headers)

    deliveries = (
        await http.get(f"{gateway_live.url}/v1/webhooks/{created['id']}/deliveries", headers=bearer(key))
    ).json()["items"]
    assert [(x["event_id"], x["status"], x["attempts"], x["last_status_code"]) for x in deliveries] == [
        (event["id"], "delivered", 1, 200)
    ]
    assert deliveries[0]["last_response"] == '{"received": true}' and deliveries[0]["next_attempt_at"] is None


async def test_during_a_rotation_both_secrets_sign_and_after_it_only_the_new_one(
    gateway_live, new_client, http, db, receivers, dispatcher
):
    _, key = await new_client("bank", org="B-ROT")
    receiver = await receivers()
    created = await register(http, gateway_live.url, key, receiver.url, ["loan.created"])
    old = created["secret"]
    before = datetime.now(UTC)
    r = await http.post(f"{gateway_live.url}/v1/webhooks/{created['id']}/rotate-secret", headers=bearer(key))
    assert r.status_code == 201, r.text
    rotated = r.json()
    new = rotated["secret"]
    assert new != old and new.startswith("whsec_")
    grace_end = datetime.fromisoformat(rotated["previous_secrets_expire_at"])
    assert before + timedelta(hours=24) <= grace_end <= datetime.now(UTC) + timedelta(hours=24)
    shown = (await http.get(f"{gateway_live.url}/v1/webhooks/{created['id']}", headers=bearer(key))).json()
    assert sorted(s["expires_at"] is None for s in shown["secrets"]) == [False, True]

    d = await dispatcher()
    await post_loans(http, gateway_live.url, key, [loan(loan_ref="L-ROT-1")])
    await step_until_delivered(d, 1)
    got = receiver.requests[-1]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):  # a receiver still on the old secret, and one already on the new
        assert Webhook(secret).verify(got.body, got.headers)["data"]["loan_ref"] == "L-ROT-1"

    # the grace period over: only the new secret signs
    await db.execute("UPDATE gateway.webhook_secrets SET expires_at = now() WHERE expires_at IS NOT NULL")
    await post_loans(http, gateway_live.url, key, [loan(loan_ref="L-ROT-2")])
    await step_until_delivered(d, 1)
    got = receiver.requests[-1]
    assert len(got.headers["webhook-signature"].split(" ")) == 1
    assert Webhook(new).verify(got.body, got.headers)["data"]["loan_ref"] == "L-ROT-2"
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(got.body, got.headers)

"""A subscriber receives only the events it could read in the feed: bank B's endpoint never gets
bank A's loan events; an official's gets its region's; a revoked client's endpoints get nothing."""

from tests.gateway.webhooks.conftest import loan, post_loans, register, step_until_delivered
from tests.registry_data import new_credit_code

TYPES = ["loan.created", "loan.updated"]


async def test_bank_b_never_receives_bank_as_loan_events(
    gateway_live, new_client, http, receivers, dispatcher
):
    _, a = await new_client("bank", org="B-SCOPE-A")
    _, b = await new_client("bank", org="B-SCOPE-B")
    _, official = await new_client("official", region="330100")
    _, admin = await new_client("admin")
    rx = {name: await receivers() for name in ("a", "b", "official", "admin")}
    for name, key in (("a", a), ("b", b), ("official", official), ("admin", admin)):
        await register(http, gateway_live.url, key, rx[name].url, TYPES)

    ningbo = new_credit_code("330203")
    await post_loans(http, gateway_live.url, a, [loan(loan_ref="A-1"), loan(loan_ref="A-2", borrower=ningbo)])
    await post_loans(http, gateway_live.url, b, [loan(loan_ref="B-1")])
    await post_loans(http, gateway_live.url, a, [loan(loan_ref="A-1", status="overdue")])  # an update
    d = await dispatcher()
    await step_until_delivered(d, 2 + 1 + 2 + 4)

    def seen(name):
        return sorted((r.event["type"], r.event["subject"]["key"]) for r in rx[name].requests)

    assert seen("a") == [
        ("loan.created", "B-SCOPE-A/A-1"),
        ("loan.created", "B-SCOPE-A/A-2"),
        ("loan.updated", "B-SCOPE-A/A-1"),
    ]
    assert seen("b") == [("loan.created", "B-SCOPE-B/B-1")]
    # Hangzhou's official: the Hangzhou borrowers' loans of both banks, not the Ningbo one
    assert seen("official") == [
        ("loan.created", "B-SCOPE-A/A-1"),
        ("loan.created", "B-SCOPE-B/B-1"),
        ("loan.updated", "B-SCOPE-A/A-1"),
    ]
    assert len(seen("admin")) == 4
    # nothing more is waiting for anyone
    await d.fan_out()
    assert await d.send_due() == 0
    for r in rx["b"].requests:
        assert "B-SCOPE-A" not in r.body.decode()


async def test_types_not_subscribed_are_not_sent(gateway_live, new_client, http, receivers, dispatcher):
    _, key = await new_client("bank", org="B-TYPES")
    receiver = await receivers()
    await register(http, gateway_live.url, key, receiver.url, ["loan.updated"])
    await post_loans(http, gateway_live.url, key, [loan(loan_ref="T-1")])
    await post_loans(http, gateway_live.url, key, [loan(loan_ref="T-1", status="overdue")])
    d = await dispatcher()
    await step_until_delivered(d, 1)
    await d.fan_out()
    assert await d.send_due() == 0
    assert [r.event["type"] for r in receiver.requests] == ["loan.updated"]


async def test_a_new_endpoint_receives_what_happens_from_now_on(
    gateway_live, new_client, http, receivers, dispatcher
):
    _, key = await new_client("bank", org="B-NOW")
    await post_loans(http, gateway_live.url, key, [loan(loan_ref="BEFORE-1")])
    receiver = await receivers()
    await register(http, gateway_live.url, key, receiver.url, TYPES)
    await post_loans(http, gateway_live.url, key, [loan(loan_ref="AFTER-1")])
    d = await dispatcher()
    await step_until_delivered(d, 1)
    await d.fan_out()
    assert await d.send_due() == 0
    assert [r.event["data"]["loan_ref"] for r in receiver.requests] == ["AFTER-1"]


async def test_a_revoked_clients_endpoints_receive_nothing(
    gateway_live, new_client, http, receivers, dispatcher, db
):
    client_id, key = await new_client("bank", org="B-REV")
    receiver = await receivers()
    await register(http, gateway_live.url, key, receiver.url, TYPES)
    await post_loans(http, gateway_live.url, key, [loan(loan_ref="R-1")])
    await db.execute("UPDATE gateway.api_clients SET revoked_at = now() WHERE id = $1::uuid", client_id)
    d = await dispatcher()
    await d.fan_out()
    assert await d.send_due() == 0 and receiver.requests == []
    assert await db.fetchval("SELECT count(*) FROM gateway.webhook_deliveries") == 0

"""The webhook routes: every kind of caller registers endpoints for itself; an endpoint is its
owner's alone (anyone else: 404); hostile input is a 4xx problem with a pointer, never a 500 or a
partial write."""

import json
import uuid

import pytest

from services.common.settings import get_settings
from tests.gateway.webhooks.conftest import bearer, register

HOOK = "http://127.0.0.1:9/hook"  # dev: loopback receivers are allowed (nothing listens: never sent here)


@pytest.mark.parametrize(
    "kind,facts",
    [
        ("bank", {"org": "B-K1"}),
        ("guarantor", {"org": "G-K1"}),
        ("certifier", {"org": "C-K1"}),
        ("official", {"region": "330106"}),
        ("admin", {}),
    ],
)
async def test_every_kind_of_client_subscribes_for_itself(gateway_live, new_client, http, db, kind, facts):
    client_id, key = await new_client(kind, **facts)
    created = await register(
        http, gateway_live.url, key, HOOK, ["loan.created", "certificate.created"], description="our system"
    )
    row = await db.fetchrow("SELECT * FROM gateway.webhook_endpoints WHERE id = $1::uuid", created["id"])
    assert (row["owner_kind"], row["owner_org"], row["owner_region"]) == (
        kind,
        facts.get("org"),
        facts.get("region"),
    )
    assert row["owner_sub"] == f"client:{client_id}" and str(row["owner_client_id"]) == client_id
    # it follows the two feeds its types come from
    services = await db.fetch("SELECT service FROM gateway.webhook_cursors ORDER BY 1")
    assert [r["service"] for r in services] == ["finance", "standards"]
    listed = (await http.get(gateway_live.url + "/v1/webhooks", headers=bearer(key))).json()
    assert [w["id"] for w in listed["items"]] == [created["id"]]
    assert listed["items"][0]["event_types"] == ["certificate.created", "loan.created"]


async def test_an_endpoint_is_its_owners_alone(gateway_live, new_client, http, db):
    """Bank B names bank A's endpoint on every route: 404 each time, and nothing changes."""
    _, a = await new_client("bank", org="B-A")
    _, b = await new_client("bank", org="B-B")
    _, admin = await new_client("admin")
    mine = await register(http, gateway_live.url, a, HOOK, ["loan.created"])
    await http.post(f"{gateway_live.url}/v1/webhooks/{mine['id']}/test", headers=bearer(a))
    delivery = await db.fetchval("SELECT id::text FROM gateway.webhook_deliveries")
    base = f"{gateway_live.url}/v1/webhooks/{mine['id']}"
    calls = [
        ("GET", base, None),
        ("PATCH", base, {"description": "taken over"}),
        ("PATCH", base, {"url": "http://127.0.0.1:10/evil"}),
        ("DELETE", base, None),
        ("POST", base + "/rotate-secret", None),
        ("POST", base + "/test", None),
        ("GET", base + "/deliveries", None),
        ("GET", f"{base}/deliveries/{delivery}", None),
        ("POST", f"{base}/deliveries/{delivery}/retry", None),
    ]
    before = await db.fetchrow("SELECT * FROM gateway.webhook_endpoints")
    secrets = await db.fetchval("SELECT count(*) FROM gateway.webhook_secrets")
    for other in (b, admin):
        for method, url, body in calls:
            r = await http.request(method, url, json=body, headers=bearer(other))
            assert r.status_code == 404, (method, url, r.text)
            assert r.json()["code"] == "not_found"
        listed = (await http.get(gateway_live.url + "/v1/webhooks", headers=bearer(other))).json()
        assert listed["items"] == []
    assert await db.fetchrow("SELECT * FROM gateway.webhook_endpoints") == before
    assert await db.fetchval("SELECT count(*) FROM gateway.webhook_secrets") == secrets
    assert await db.fetchval("SELECT count(*) FROM gateway.webhook_deliveries") == 1
    # a delivery of A's named under B's own endpoint is not found either
    theirs = await register(http, gateway_live.url, b, HOOK, ["loan.created"])
    r = await http.get(
        f"{gateway_live.url}/v1/webhooks/{theirs['id']}/deliveries/{delivery}", headers=bearer(b)
    )
    assert r.status_code == 404
    assert (await http.get(base, headers=bearer(a))).status_code == 200


async def test_change_pause_enable_and_delete(gateway_live, new_client, http, db):
    _, key = await new_client("bank", org="B-CH")
    created = await register(http, gateway_live.url, key, HOOK, ["loan.created"])
    url = f"{gateway_live.url}/v1/webhooks/{created['id']}"
    r = await http.patch(
        url, json={"event_types": ["loan.updated", "certificate.created"]}, headers=bearer(key)
    )
    assert r.status_code == 200, r.text
    assert r.json()["event_types"] == ["certificate.created", "loan.updated"]
    finance_cursor = await db.fetchval("SELECT cursor FROM gateway.webhook_cursors WHERE service = 'finance'")
    services = [
        r["service"] for r in await db.fetch("SELECT service FROM gateway.webhook_cursors ORDER BY 1")
    ]
    assert services == ["finance", "standards"]
    r = await http.patch(url, json={"event_types": ["certificate.created"]}, headers=bearer(key))
    services = [
        r["service"] for r in await db.fetch("SELECT service FROM gateway.webhook_cursors ORDER BY 1")
    ]
    assert services == ["standards"] and finance_cursor
    r = await http.patch(url, json={"enabled": False}, headers=bearer(key))
    assert (r.json()["enabled"], r.json()["disabled_reason"]) == (False, "disabled by its owner")
    r = await http.post(url + "/test", headers=bearer(key))
    assert r.status_code == 409 and r.json()["code"] == "webhook_disabled"
    r = await http.patch(url, json={"enabled": True, "description": "back"}, headers=bearer(key))
    out = r.json()
    assert (out["enabled"], out["disabled_reason"], out["description"]) == (True, None, "back")
    changes = await db.fetch(
        "SELECT action FROM gateway.changes WHERE entity_type = 'webhook_endpoint' ORDER BY seq"
    )
    assert [c["action"] for c in changes] == ["created", "updated", "updated", "updated", "updated"]
    r = await http.delete(url, headers=bearer(key))
    assert r.status_code == 204
    assert (await http.get(url, headers=bearer(key))).status_code == 404
    for table in ("webhook_endpoints", "webhook_secrets", "webhook_cursors"):
        assert await db.fetchval(f"SELECT count(*) FROM gateway.{table}") == 0


async def test_the_test_event_and_a_manual_retry_are_queued_deliveries(gateway_live, new_client, http, db):
    _, key = await new_client("certifier", org="C-T")
    created = await register(http, gateway_live.url, key, HOOK, ["certificate.status_changed"])
    base = f"{gateway_live.url}/v1/webhooks/{created['id']}"
    r = await http.post(base + "/test", headers=bearer(key))
    assert r.status_code == 202, r.text
    queued = r.json()
    assert queued["event_type"] == "webhook.test" and queued["status"] == "pending"
    assert (
        queued["event_id"].startswith("evt_test_") and r.headers["location"] == f"deliveries/{queued['id']}"
    )
    detail = (await http.get(f"{base}/deliveries/{queued['id']}", headers=bearer(key))).json()
    assert detail["attempt_log"] == [] and '"type":"webhook.test"' in detail["body"]
    await db.execute("UPDATE gateway.webhook_deliveries SET status = 'failed', next_attempt_at = NULL")
    r = await http.post(f"{base}/deliveries/{queued['id']}/retry", headers=bearer(key))
    assert r.status_code == 202 and r.json()["status"] == "pending" and r.json()["next_attempt_at"]
    # one being sent right now is not queued twice
    await db.execute("UPDATE gateway.webhook_deliveries SET locked_until = now() + interval '1 minute'")
    r = await http.post(f"{base}/deliveries/{queued['id']}/retry", headers=bearer(key))
    assert r.status_code == 409 and r.json()["code"] == "delivery_in_flight"
    pages = (await http.get(base + "/deliveries?status=delivered", headers=bearer(key))).json()
    assert pages == {"items": [], "next_cursor": None}


async def test_the_delivery_log_pages_newest_first(gateway_live, new_client, http):
    _, key = await new_client("bank", org="B-PG")
    created = await register(http, gateway_live.url, key, HOOK, ["loan.created"])
    base = f"{gateway_live.url}/v1/webhooks/{created['id']}"
    ids = [(await http.post(base + "/test", headers=bearer(key))).json()["id"] for _ in range(5)]
    seen, cursor = [], None
    while True:
        r = await http.get(
            base + "/deliveries",
            params={"limit": 2, **({"cursor": cursor} if cursor else {})},
            headers=bearer(key),
        )
        page = r.json()
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids[::-1]
    r = await http.get(base + "/deliveries", params={"cursor": cursor or "bogus.x"}, headers=bearer(key))
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    "body,pointer,code",
    [
        ({"url": HOOK, "event_types": ["loan.exploded"]}, "/event_types/0", "value_error"),
        ({"url": HOOK, "event_types": []}, "/event_types", "too_short"),
        ({"url": HOOK}, "/event_types", "missing"),
        ({"url": HOOK, "event_types": "loan.created"}, "/event_types", "list_type"),
        ({"url": HOOK + "\x00", "event_types": ["loan.created"]}, "/url", "text_control_character"),
        ({"url": "http://127.0.0.1/\ud800", "event_types": ["loan.created"]}, "/url", "text_invalid_unicode"),
        ({"url": "http://h/" + "a" * 3000, "event_types": ["loan.created"]}, "/url", "string_too_long"),
        (
            {"url": HOOK, "event_types": ["loan.created"], "secret": "whsec_mine"},
            "/secret",
            "extra_forbidden",
        ),
        (
            {"url": HOOK, "event_types": ["loan.created"], "description": "x" * 501},
            "/description",
            "string_too_long",
        ),
        ({"url": HOOK, "event_types": ["loan.created\u202e"]}, "/event_types/0", "text_control_character"),
        ({"url": "ftp://127.0.0.1/x", "event_types": ["loan.created"]}, "/url", "webhook_url_scheme"),
        (
            {"url": "http://user:pw@127.0.0.1/x", "event_types": ["loan.created"]},
            "/url",
            "webhook_url_invalid",
        ),
        ({"url": "http://127.0.0.1/x#frag", "event_types": ["loan.created"]}, "/url", "webhook_url_invalid"),
        ({"url": "http://127.0.0.1:99999/x", "event_types": ["loan.created"]}, "/url", "webhook_url_invalid"),
        ({"url": "http:///x", "event_types": ["loan.created"]}, "/url", "webhook_url_invalid"),
        ({"url": "http://[::1/x", "event_types": ["loan.created"]}, "/url", "webhook_url_invalid"),
        ({"url": "http://a..b/x", "event_types": ["loan.created"]}, "/url", "webhook_url_invalid"),
        (
            {"url": "http://127.0.0.1\\@evil/x", "event_types": ["loan.created"]},
            "/url",
            "webhook_url_invalid",
        ),
        ({"url": "not a url", "event_types": ["loan.created"]}, "/url", "webhook_url_invalid"),
    ],
)
async def test_hostile_registrations_are_problems_with_pointers(
    gateway_live, new_client, http, db, body, pointer, code
):
    _, key = await new_client("bank", org="B-H")
    headers = {**bearer(key), "content-type": "application/json"}
    # as JSON text with escapes: a lone surrogate travels as `\ud800`
    r = await http.post(gateway_live.url + "/v1/webhooks", content=json.dumps(body), headers=headers)
    assert 400 <= r.status_code < 500 and r.headers["content-type"] == "application/problem+json", r.text
    assert [(e["pointer"], e["code"]) for e in r.json()["errors"]][:1] == [(pointer, code)], r.text
    assert await db.fetchval("SELECT count(*) FROM gateway.webhook_endpoints") == 0


async def test_hostile_changes_are_problems_and_change_nothing(gateway_live, new_client, http, db):
    _, key = await new_client("bank", org="B-HP")
    created = await register(http, gateway_live.url, key, HOOK, ["loan.created"])
    url = f"{gateway_live.url}/v1/webhooks/{created['id']}"
    before = await db.fetchrow("SELECT * FROM gateway.webhook_endpoints")
    for body, pointer in [
        ({"url": None}, "/url"),
        ({"event_types": None}, "/event_types"),
        ({"enabled": None}, "/enabled"),
        ({"url": "gopher://x/"}, "/url"),
        ({"event_types": ["nope"]}, "/event_types/0"),
        ({"owner_org": "B-OTHER"}, "/owner_org"),
    ]:
        r = await http.patch(url, json=body, headers=bearer(key))
        assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == pointer, r.text
    for bad in ("not-a-uuid", "1" * 300, "%00"):
        r = await http.get(f"{gateway_live.url}/v1/webhooks/{bad}", headers=bearer(key))
        assert 400 <= r.status_code < 500, (bad, r.text)
    r = await http.get(f"{url}/deliveries/{uuid.uuid4()}", headers=bearer(key))
    assert r.status_code == 404
    assert await db.fetchrow("SELECT * FROM gateway.webhook_endpoints") == before


async def test_a_scoped_credential_subscribes_only_to_feeds_it_may_read(gateway_live, new_client, http, db):
    _, key = await new_client("bank", org="B-SC", scopes=["gateway:*", "standards:read"])
    r = await http.post(
        gateway_live.url + "/v1/webhooks",
        json={"url": HOOK, "event_types": ["certificate.created", "loan.created"]},
        headers=bearer(key),
    )
    assert r.status_code == 422 and r.json()["code"] == "event_type_out_of_scope", r.text
    assert r.json()["errors"][0]["pointer"] == "/event_types/1" and "finance:read" in r.json()["detail"]
    created = await register(http, gateway_live.url, key, HOOK, ["certificate.created"])
    row = await db.fetchrow("SELECT owner_scopes FROM gateway.webhook_endpoints")
    assert sorted(row["owner_scopes"]) == ["gateway:*", "standards:read"] and created["id"]


async def test_an_owner_has_at_most_the_configured_number_of_endpoints(gateway_live, new_client, http, db):
    _, key = await new_client("bank", org="B-MAX")
    limit = get_settings().webhooks.max_endpoints_per_owner
    for _ in range(limit):
        await register(http, gateway_live.url, key, HOOK, ["loan.created"])
    r = await http.post(
        gateway_live.url + "/v1/webhooks",
        json={"url": HOOK, "event_types": ["loan.created"]},
        headers=bearer(key),
    )
    assert r.status_code == 409 and r.json()["code"] == "too_many_webhooks"
    assert await db.fetchval("SELECT count(*) FROM gateway.webhook_endpoints") == limit

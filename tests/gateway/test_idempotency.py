"""Idempotency-Key on the gateway's own POSTs (gateway/idempotency.py): one write per key and
caller, the stored answer replayed, a reused key refused, and the admission (credential, policy,
rate limit) taken exactly once per request, a replay too."""

import asyncio

from tests.gateway.conftest import bearer


async def test_a_client_created_twice_with_one_key_is_created_once(gateway_live, new_client, http, db):
    _, admin = await new_client("admin")
    url = gateway_live.url + "/v1/clients"
    body = {"kind": "guarantor", "org": "G-IDEM", "name": "担保公司"}
    headers = {**bearer(admin), "Idempotency-Key": "create-g-idem-1"}
    first = await http.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await http.post(url, json=body, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()  # the same client and key, not a second one
    assert await db.fetchval("SELECT count(*) FROM gateway.api_clients WHERE org = 'G-IDEM'") == 1
    # the replay passed admission like any request: it carries the rate-limit answer
    assert "ratelimit-remaining" in first.headers

    reused = await http.post(url, json={**body, "org": "G-OTHER"}, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"


async def test_keys_are_per_caller(gateway_live, new_client, http, db):
    _, one = await new_client("admin")
    _, two = await new_client("admin")
    url = gateway_live.url + "/v1/clients"
    for admin, org in ((one, "G-ONE"), (two, "G-TWO")):
        r = await http.post(
            url,
            json={"kind": "guarantor", "org": org, "name": "担保"},
            headers={**bearer(admin), "Idempotency-Key": "same-key"},
        )
        assert r.status_code == 201, r.text
        assert "idempotent-replayed" not in r.headers
    assert await db.fetchval("SELECT count(*) FROM gateway.api_clients WHERE org IN ('G-ONE', 'G-TWO')") == 2


async def test_concurrent_posts_with_one_key_write_once(gateway_live, new_client, http, db):
    _, bank = await new_client("bank", org="IDEMB")
    url = gateway_live.url + "/v1/webhooks"
    body = {"url": "https://hooks.example.com/eaglet", "event_types": ["loan.created"]}
    headers = {**bearer(bank), "Idempotency-Key": "hook-1"}
    answers = await asyncio.gather(*(http.post(url, json=body, headers=headers) for _ in range(4)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}, [a.text for a in answers]
    for a in answers:
        if a.status_code == 409:
            assert a.json()["code"] == "idempotency_in_flight" and "retry-after" in a.headers
    assert await db.fetchval("SELECT count(*) FROM gateway.webhook_endpoints") == 1


async def test_refused_callers_are_answered_by_the_route_and_claim_nothing(
    gateway_live, new_client, http, db
):
    url = gateway_live.url + "/v1/clients"
    body = {"kind": "guarantor", "org": "G-NOPE", "name": "担保"}
    r = await http.post(url, json=body, headers={"Idempotency-Key": "k"})
    assert r.status_code == 401 and r.json()["code"] == "credentials_missing"
    r = await http.post(url, json=body, headers={**bearer("egk_not-a-key"), "Idempotency-Key": "k"})
    assert r.status_code == 401
    _, bank = await new_client("bank", org="IDEMC")
    r = await http.post(url, json=body, headers={**bearer(bank), "Idempotency-Key": "k"})
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert await db.fetchval("SELECT count(*) FROM gateway.idempotency_keys") == 0


async def test_a_hostile_key_is_a_problem(gateway_live, new_client, http):
    _, admin = await new_client("admin")
    r = await http.post(
        gateway_live.url + "/v1/clients",
        json={"kind": "guarantor", "org": "G-BAD", "name": "担保"},
        headers={**bearer(admin), "Idempotency-Key": "x" * 300},
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_idempotency_key"

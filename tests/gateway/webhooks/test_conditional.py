"""A webhook endpoint is a single resource with an ETag: its owner revalidates it (304), and two
systems of one bank changing it at once no longer overwrite each other: the one holding the old
tag gets a 412 `precondition_failed` and nothing is written (a PATCH) or deleted (a DELETE)."""

import asyncio

from tests.gateway.webhooks.conftest import bearer, register

HOOK = "http://127.0.0.1:9/hook"  # dev: loopback receivers are allowed (nothing listens)


async def test_an_endpoint_revalidates_and_refuses_a_stale_change(gateway_live, new_client, http, db):
    _, key = await new_client("bank", org="B-ETAG")
    created = await register(http, gateway_live.url, key, HOOK, ["loan.created"], description="core")
    url = f"{gateway_live.url}/v1/webhooks/{created['id']}"
    got = await http.get(url, headers=bearer(key))
    assert got.status_code == 200
    tag = got.headers["etag"]
    again = await http.get(url, headers={**bearer(key), "If-None-Match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
    head = await http.head(url, headers={**bearer(key), "If-None-Match": tag})
    assert head.status_code == 304

    changed = await http.patch(
        url, json={"description": "core banking"}, headers={**bearer(key), "If-Match": tag}
    )
    assert changed.status_code == 200, changed.text
    new_tag = changed.headers["etag"]
    assert new_tag != tag and changed.json()["description"] == "core banking"
    # the answer's tag is the one a GET gives now
    now = await http.get(url, headers=bearer(key))
    assert now.headers["etag"] == new_tag and now.json() == changed.json()
    assert (await http.get(url, headers={**bearer(key), "If-None-Match": tag})).status_code == 200

    stale = await http.patch(url, json={"enabled": False}, headers={**bearer(key), "If-Match": tag})
    assert stale.status_code == 412, stale.text
    problem = stale.json()
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert problem["code"] == "precondition_failed"
    assert problem["errors"][0]["pointer"] == "#/header/if-match"
    weak = await http.patch(url, json={"enabled": False}, headers={**bearer(key), "If-Match": "W/" + new_tag})
    assert weak.status_code == 412  # If-Match compares strongly
    gone = await http.delete(url, headers={**bearer(key), "If-Match": tag})
    assert gone.status_code == 412
    row = await db.fetchrow("SELECT enabled, description FROM gateway.webhook_endpoints")
    assert (row["enabled"], row["description"]) == (True, "core banking")

    # a rotation changes what the endpoint shows (its secrets): the tag read before is stale
    rotated = await http.post(url + "/rotate-secret", headers=bearer(key))
    assert rotated.status_code == 201
    assert (await http.delete(url, headers={**bearer(key), "If-Match": new_tag})).status_code == 412
    current = (await http.get(url, headers=bearer(key))).headers["etag"]
    deleted = await http.delete(url, headers={**bearer(key), "If-Match": current})
    assert deleted.status_code == 204
    assert await db.fetchval("SELECT count(*) FROM gateway.webhook_endpoints") == 0


async def test_of_two_changes_from_one_tag_exactly_one_writes(gateway_live, new_client, http, db):
    _, key = await new_client("bank", org="B-ETAG2")
    created = await register(http, gateway_live.url, key, HOOK, ["loan.created"])
    url = f"{gateway_live.url}/v1/webhooks/{created['id']}"
    tag = (await http.get(url, headers=bearer(key))).headers["etag"]
    answers = await asyncio.gather(
        *(
            http.patch(url, json={"description": f"system {i}"}, headers={**bearer(key), "If-Match": tag})
            for i in range(4)
        )
    )
    assert sorted(r.status_code for r in answers) == [200, 412, 412, 412]
    winner = next(r for r in answers if r.status_code == 200)
    row = await db.fetchrow("SELECT description FROM gateway.webhook_endpoints")
    assert row["description"] == winner.json()["description"]


async def test_if_match_star_and_unknown_endpoints(gateway_live, new_client, http):
    _, key = await new_client("bank", org="B-ETAG3")
    created = await register(http, gateway_live.url, key, HOOK, ["loan.created"])
    url = f"{gateway_live.url}/v1/webhooks/{created['id']}"
    r = await http.patch(url, json={"description": "any"}, headers={**bearer(key), "If-Match": "*"})
    assert r.status_code == 200
    other = f"{gateway_live.url}/v1/webhooks/00000000-0000-4000-8000-000000000000"
    assert (await http.delete(other, headers={**bearer(key), "If-Match": "*"})).status_code == 404
    # a bidirectional override (U+202E, UTF-8 in the header): the text rule's 422, never a match
    hostile = await http.patch(
        url, json={"description": "x"}, headers={**bearer(key), "If-Match": '"a\u202e"'.encode()}
    )
    assert hostile.status_code == 422, hostile.text
    assert hostile.json()["errors"][0]["pointer"] == "#/header/if-match"


def test_the_operations_declare_their_conditions(gateway_live):
    import httpx

    doc = httpx.get(gateway_live.url + "/openapi.json", timeout=15).json()
    one = doc["paths"]["/v1/webhooks/{webhook_id}"]
    for method in ("patch", "delete"):
        params = {p["name"]: p for p in one[method]["parameters"] if p["in"] == "header"}
        assert "If-Match" in params, method
        problem = one[method]["responses"]["412"]
        assert "precondition_failed" in problem["x-problem-codes"]
        assert "application/problem+json" in problem["content"]
    get = one["get"]
    assert "If-None-Match" in {p["name"] for p in get["parameters"] if p["in"] == "header"}
    assert "304" in get["responses"] and "ETag" in get["responses"]["200"]["headers"]
    assert "ETag" in one["patch"]["responses"]["200"]["headers"]

"""API clients: created, listed, rotated and revoked over HTTP (admins) and with `eaglet clients`."""

import asyncio
import json
import time

from typer.testing import CliRunner

from services.cli import app as cli
from tests.gateway.conftest import bearer


async def test_admins_manage_clients_over_http(gateway_live, new_client, http, db):
    _, admin = await new_client("admin")
    base = gateway_live.url + "/v1/clients"
    r = await http.post(
        base, json={"kind": "guarantor", "org": "G-HTTP", "name": "担保公司"}, headers=bearer(admin)
    )
    assert r.status_code == 201, r.text
    created = r.json()
    key, cid = created["key"], created["id"]
    assert key.startswith("egk_") and created["keys"][0]["prefix"] == key[:12]
    # only the hash is stored, and the change log never holds the key
    stored = await db.fetchval("SELECT key_hash FROM gateway.api_keys WHERE client_id = $1::uuid", cid)
    assert len(stored) == 32 and key.encode() not in stored
    log = await db.fetch("SELECT after::text AS a FROM gateway.changes WHERE entity_key = $1", cid)
    assert log and all(key not in row["a"] for row in log)

    assert (await http.get(gateway_live.url + "/finance/v1/whoami", headers=bearer(key))).status_code == 200
    listed = (await http.get(base + "?kind=guarantor", headers=bearer(admin))).json()
    assert [c["id"] for c in listed["items"]] == [cid] and listed["next_cursor"] is None
    assert "key" not in listed["items"][0]

    # rotation: the new key works, the old one keeps working during the grace period …
    r = await http.post(f"{base}/{cid}/rotate", json={"grace_hours": 1}, headers=bearer(admin))
    assert r.status_code == 201
    new_key = r.json()["key"]
    for k in (key, new_key):
        assert (await http.get(gateway_live.url + "/finance/v1/whoami", headers=bearer(k))).status_code == 200
    # … or stops at once with grace 0
    r = await http.post(f"{base}/{cid}/rotate", json={"grace_hours": 0}, headers=bearer(admin))
    newest = r.json()["key"]
    assert (
        await http.get(gateway_live.url + "/finance/v1/whoami", headers=bearer(new_key))
    ).status_code == 401
    assert (
        await http.get(gateway_live.url + "/finance/v1/whoami", headers=bearer(newest))
    ).status_code == 200
    detail = (await http.get(f"{base}/{cid}", headers=bearer(admin))).json()
    assert [k["active"] for k in detail["keys"]] == [False, False, True]
    # last use is recorded (at most once a minute per key) after the call, not during it
    started = time.monotonic()
    while detail["keys"][2]["last_used_at"] is None:
        assert time.monotonic() - started < 5, "last_used_at was not recorded"
        await asyncio.sleep(0.05)
        detail = (await http.get(f"{base}/{cid}", headers=bearer(admin))).json()


async def test_the_client_list_cursor_is_the_listing_admins_for_those_filters(gateway_live, new_client, http):
    _, admin = await new_client("admin")
    _, other_admin = await new_client("admin")
    ids = [(await new_client("guarantor", org=f"G-PAGE-{i}"))[0] for i in range(3)]
    base = gateway_live.url + "/v1/clients"
    first = (await http.get(base, params={"kind": "guarantor", "limit": 2}, headers=bearer(admin))).json()
    assert first["next_cursor"]
    r = await http.get(
        base, params={"kind": "guarantor", "limit": 2, "cursor": first["next_cursor"]}, headers=bearer(admin)
    )
    assert r.status_code == 200, r.text
    assert [c["id"] for c in first["items"] + r.json()["items"]] == ids
    for params, key in [({"kind": "guarantor"}, other_admin), ({"kind": "bank"}, admin), ({}, admin)]:
        r = await http.get(base, params={**params, "cursor": first["next_cursor"]}, headers=bearer(key))
        assert r.status_code == 400 and r.json()["code"] == "invalid_cursor", (params, r.text)


async def test_only_admins_may_manage_clients_and_input_is_checked(gateway_live, new_client, http):
    _, bank = await new_client("bank", org="B-NOT-ADMIN")
    _, admin = await new_client("admin")
    base = gateway_live.url + "/v1/clients"
    assert (await http.get(base, headers=bearer(bank))).status_code == 403
    assert (await http.get(base)).status_code == 401
    r = await http.post(base, json={"kind": "official", "name": "no region"}, headers=bearer(admin))
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    r = await http.post(
        base, json={"kind": "bank", "org": "B", "name": "x", "scopes": ["everything"]}, headers=bearer(admin)
    )
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"].startswith("/scopes")
    assert (
        await http.get(base + "/00000000-0000-0000-0000-000000000000", headers=bearer(admin))
    ).status_code == 404


def test_the_cli_creates_lists_rotates_and_revokes(gateway_live):
    runner = CliRunner()
    out = runner.invoke(
        cli, ["clients", "create", "--kind", "bank", "--org", "B-CLI", "--name", "CLI bank", "--json"]
    )
    assert out.exit_code == 0, out.output
    created = json.loads(out.output)
    assert created["id"] and created["key"].startswith("egk_")
    import httpx

    url = gateway_live.url + "/finance/v1/whoami"
    assert httpx.get(url, headers=bearer(created["key"])).json()["org"] == "B-CLI"

    listed = runner.invoke(cli, ["clients", "list"])
    assert created["id"] in listed.output and created["key"] not in listed.output

    rotated = runner.invoke(cli, ["clients", "rotate", created["id"], "--grace-hours", "0", "--json"])
    assert rotated.exit_code == 0, rotated.output
    new_key = json.loads(rotated.output)["key"]
    assert httpx.get(url, headers=bearer(created["key"])).status_code == 401  # another process revoked it
    assert httpx.get(url, headers=bearer(new_key)).status_code == 200

    revoked = runner.invoke(cli, ["clients", "revoke", created["id"]])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert httpx.get(url, headers=bearer(new_key)).status_code == 401  # at once (NOTIFY), not after the TTL

    bad = runner.invoke(cli, ["clients", "create", "--kind", "official", "--name", "no region"])
    assert bad.exit_code == 1


def test_eaglet_token_mints_a_dev_token(gateway_live):
    import httpx

    out = CliRunner().invoke(cli, ["token", "--kind", "official", "--region", "330100", "--sub", "zhang.san"])
    assert out.exit_code == 0, out.output
    token = out.output.strip().splitlines()[-1]
    who = httpx.get(gateway_live.url + "/registry/v1/whoami", headers=bearer(token)).json()
    assert who["sub"] == "zhang.san" and who["kind"] == "official" and who["region"] == "330100"


async def test_demo_seed_gives_working_deterministic_keys(gateway_live, db, http):
    from gateway.seed import demo_credentials, seed_demo

    await seed_demo(db)
    lines = demo_credentials()
    assert any(line.startswith("bank") and "ICBC-ZJ" in line for line in lines)
    key = next(line for line in lines if "ICBC-ZJ" in line).split("key ")[1]
    r = await http.get(gateway_live.url + "/finance/v1/whoami", headers=bearer(key))
    assert r.json()["org"] == "ICBC-ZJ"
    await asyncio.sleep(0)


async def test_demo_keys_are_refused_by_a_gateway_outside_dev(db):
    import pytest

    from gateway.auth import Authenticator
    from gateway.seed import demo_key, seed_demo
    from gateway.settings import GatewaySettings
    from services.common.db import create_engine
    from services.common.errors import Problem
    from services.common.settings import get_settings

    await seed_demo(db)  # a database seeded in dev, then served by a production gateway
    admin = "Bearer " + demo_key("admin", None, None)
    dev = get_settings()
    prod = dev.model_copy(update={"env": "prod"})
    engine = create_engine(dev.model_copy(update={"db": dev.db.model_copy(update={"pool": "null"})}), "t")
    try:
        assert (await Authenticator(dev, GatewaySettings(), engine).authenticate(admin)).principal.is_admin
        with pytest.raises(Problem) as e:
            await Authenticator(prod, GatewaySettings(), engine).authenticate(admin)
        assert e.value.status == 401 and e.value.code == "credentials_invalid"
    finally:
        await engine.dispose()

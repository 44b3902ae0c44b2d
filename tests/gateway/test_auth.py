"""Who may call: API keys, people's tokens, the route policy; the principal the services receive."""

import time

import jwt

from gateway.auth import mint_dev_token
from services.common.settings import get_settings
from tests.gateway.conftest import OIDC_AUDIENCE, OIDC_ISSUER, bearer


async def test_an_api_key_reaches_the_service_as_a_signed_principal(gateway_live, new_client, http):
    client_id, key = await new_client("bank", org="B-TEST-01")
    r = await http.get(gateway_live.url + "/registry/v1/whoami", headers=bearer(key))
    assert r.status_code == 200, r.text
    who = r.json()
    assert who["kind"] == "bank" and who["org"] == "B-TEST-01" and who["sub"] == f"client:{client_id}"


async def test_missing_malformed_and_unknown_credentials_are_401_problems(gateway_live, http):
    url = gateway_live.url + "/registry/v1/whoami"
    cases = [
        ({}, "credentials_missing"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "credentials_malformed"),
        ({"Authorization": "Bearer not-a-key"}, "credentials_malformed"),
        (bearer("egk_" + "x" * 43), "credentials_invalid"),
    ]
    for headers, code in cases:
        r = await http.get(url, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == code
        assert r.headers["www-authenticate"].startswith("Bearer")


async def test_a_revoked_key_is_refused_at_once(gateway_live, new_client, http):
    _, admin = await new_client("admin")
    client_id, key = await new_client("certifier", org="C-TEST")
    url = gateway_live.url + "/registry/v1/whoami"
    assert (await http.get(url, headers=bearer(key))).status_code == 200  # now cached as valid
    r = await http.post(f"{gateway_live.url}/v1/clients/{client_id}/revoke", headers=bearer(admin))
    assert r.status_code == 200 and r.json()["revoked_at"]
    r = await http.get(url, headers=bearer(key))
    assert r.status_code == 401 and r.json()["code"] == "credentials_invalid"


async def test_a_bank_key_on_a_certifier_route_is_403(gateway_live, new_client, http):
    _, key = await new_client("bank", org="B-TEST-02")
    r = await http.post(
        gateway_live.url + "/standards/v1/certifications/batch", json={"records": []}, headers=bearer(key)
    )
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden" and "bank" in r.json()["detail"]


async def test_scoped_keys_are_limited_to_their_scopes(gateway_live, new_client, http):
    _, key = await new_client("official", region="330106", scopes=["finance:read"])
    assert (await http.get(gateway_live.url + "/finance/v1/whoami", headers=bearer(key))).status_code == 200
    r = await http.get(gateway_live.url + "/registry/v1/whoami", headers=bearer(key))
    assert r.status_code == 403 and "registry:read" in r.json()["detail"]


async def test_a_caller_cannot_smuggle_its_own_principal(gateway_live, new_client, http, as_):
    _, key = await new_client("bank", org="B-TEST-03")
    forged = as_("admin")  # a principal header signed with the real internal key, sent by the caller
    r = await http.get(gateway_live.url + "/registry/v1/whoami", headers={**bearer(key), **forged})
    assert r.json()["kind"] == "bank"
    r = await http.get(gateway_live.url + "/registry/v1/whoami", headers=forged)
    assert r.status_code == 401


async def test_people_bring_oidc_tokens(gateway_live, oidc_key, http):
    now = int(time.time())
    claims = {
        "iss": OIDC_ISSUER,
        "aud": OIDC_AUDIENCE,
        "sub": "wang.li",
        "eaglet_kind": "official",
        "eaglet_region": "330106",
        "scope": "openid profile",
        "iat": now,
        "exp": now + 300,
    }
    token = jwt.encode(claims, oidc_key, algorithm="RS256")
    r = await http.get(gateway_live.url + "/registry/v1/whoami", headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "sub": "wang.li",
        "kind": "official",
        "org": None,
        "region": "330106",
        "scopes": ["openid", "profile"],
    }

    expired = jwt.encode({**claims, "exp": now - 120}, oidc_key, algorithm="RS256")
    r = await http.get(gateway_live.url + "/registry/v1/whoami", headers=bearer(expired))
    assert r.status_code == 401 and r.json()["code"] == "credentials_expired"

    wrong_audience = jwt.encode({**claims, "aud": "someone-else"}, oidc_key, algorithm="RS256")
    r = await http.get(gateway_live.url + "/registry/v1/whoami", headers=bearer(wrong_audience))
    assert r.status_code == 401 and r.json()["code"] == "credentials_invalid"

    no_role = jwt.encode({k: v for k, v in claims.items() if k != "eaglet_kind"}, oidc_key, algorithm="RS256")
    r = await http.get(gateway_live.url + "/registry/v1/whoami", headers=bearer(no_role))
    assert r.status_code == 403


async def test_dev_tokens_from_eaglet_token_work_in_dev(gateway_live, http):
    token = mint_dev_token(get_settings(), kind="official", sub="dev.zhang", region="330100")
    r = await http.get(gateway_live.url + "/finance/v1/whoami", headers=bearer(token))
    assert r.status_code == 200 and r.json()["region"] == "330100"


async def test_public_routes_need_no_credentials(gateway_live, http):
    for path in ("/healthz", "/openapi.json", "/docs"):
        r = await http.get(gateway_live.url + path)
        assert r.status_code == 200, path


def oidc_token(oidc_key, **changes) -> str:
    now = int(time.time())
    claims = {
        "iss": OIDC_ISSUER,
        "aud": OIDC_AUDIENCE,
        "sub": "li.na",
        "eaglet_kind": "official",
        "eaglet_region": "330106",
        "iat": now,
        "exp": now + 300,
    }
    claims.update(changes)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, oidc_key, algorithm="RS256")


async def test_a_tokens_eaglet_claims_must_have_their_types_and_a_real_region(gateway_live, oidc_key, http):
    url = gateway_live.url + "/registry/v1/whoami"
    for changes in (
        {"eaglet_region": " "},  # was province-wide write access
        {"eaglet_region": "%"},  # was province-wide reads
        {"eaglet_region": 330106},  # was a 500
        {"eaglet_region": "3301"},
        {"eaglet_region": "339999"},
        {"eaglet_kind": "bank", "eaglet_org": 42},
        {"eaglet_kind": "bank", "eaglet_org": " "},
        {"eaglet_kind": ["admin"]},
        {"scope": 5},
        {"scopes": "registry:read"},
        {"scopes": [1, 2]},
    ):
        r = await http.get(url, headers=bearer(oidc_token(oidc_key, **changes)))
        assert r.status_code == 401, (changes, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "credentials_invalid", changes
    r = await http.get(url, headers=bearer(oidc_token(oidc_key, eaglet_region="330100")))
    assert r.status_code == 200 and r.json()["region"] == "330100"


async def test_eaglet_claims_are_read_only_from_their_configured_names(gateway_live, oidc_key, http):
    url = gateway_live.url + "/registry/v1/whoami"
    generic_admin = oidc_token(oidc_key, eaglet_kind=None, eaglet_region=None, kind="admin")
    r = await http.get(url, headers=bearer(generic_admin))
    assert r.status_code == 403 and r.json()["code"] == "no_eaglet_role"
    generic_region = oidc_token(oidc_key, eaglet_region=None, region="330000")
    r = await http.get(url, headers=bearer(generic_region))
    assert r.status_code == 403 and r.json()["code"] == "no_eaglet_region"
    generic_org = oidc_token(oidc_key, eaglet_kind="bank", eaglet_region=None, org="ICBC-ZJ")
    r = await http.get(url, headers=bearer(generic_org))
    assert r.status_code == 200 and r.json()["org"] is None


async def test_api_clients_obey_the_same_identity_rules(gateway_live, new_client, http, db):
    _, admin = await new_client("admin")
    for region in ("339999", " ", "%"):
        r = await http.post(
            gateway_live.url + "/v1/clients",
            json={"kind": "official", "name": "county bureau", "region": region},
            headers=bearer(admin),
        )
        assert r.status_code == 422, (region, r.text)
        assert any(e["pointer"] == "/region" for e in r.json()["errors"]), r.text
    r = await http.post(
        gateway_live.url + "/v1/clients",
        json={"kind": "bank", "name": "a bank", "org": "ICBC\u200b"},  # a zero-width space
        headers=bearer(admin),
    )
    assert r.status_code == 422 and any(e["pointer"] == "/org" for e in r.json()["errors"]), r.text
    # A client row that predates the rule (or was edited by hand) is refused, not widened.
    client_id, key = await new_client("official", region="330106")
    await db.execute("UPDATE gateway.api_clients SET region = ' ' WHERE id = $1::uuid", client_id)
    r = await http.get(gateway_live.url + "/registry/v1/whoami", headers=bearer(key))
    assert r.status_code == 401 and r.json()["code"] == "credentials_invalid"


async def test_revocation_takes_effect_at_once_after_the_listener_lost_its_connection(
    gateway_live, new_client, http, db, gw_sessionmaker
):
    import asyncio
    import uuid

    from gateway.auth import LISTENER_APPLICATION
    from gateway.clients.service import revoke_client
    from services.common.auth import Principal

    client_id, key = await new_client("bank", org="B-LISTEN")
    url = gateway_live.url + "/finance/v1/whoami"
    name = f"{LISTENER_APPLICATION}:{gateway_live.proc.pid}"
    listener = "SELECT pid FROM pg_stat_activity WHERE application_name = $1"
    old = await db.fetchval(listener, name)
    assert old is not None, "the gateway does not listen for revocations"
    assert await db.fetchval("SELECT pg_terminate_backend($1)", old)  # as a database restart would

    started = time.monotonic()
    while (await db.fetchval(listener, name)) in (None, old):
        assert time.monotonic() - started < 10, "the listener did not reconnect"
        await asyncio.sleep(0.05)
    assert (await http.get(url, headers=bearer(key))).status_code == 200  # verified and cached again

    async with gw_sessionmaker() as session:  # as `eaglet clients revoke` does, from another process
        await revoke_client(session, Principal(sub="test", kind="admin"), uuid.UUID(client_id))
        await session.commit()
    revoked = time.monotonic()
    while (await http.get(url, headers=bearer(key))).status_code == 200:
        assert time.monotonic() - revoked < 2, "the revocation waited for the cache TTL (10 s)"
        await asyncio.sleep(0.05)
    assert (await http.get(url, headers=bearer(key))).json()["code"] == "credentials_invalid"

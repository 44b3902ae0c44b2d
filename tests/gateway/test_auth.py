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

"""The principal JWT: only a token the gateway signed, for these services, still in date, counts."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from services.common.auth import AUDIENCE, ISSUER, Principal, mint_principal, verify_principal
from services.common.errors import Problem
from services.common.settings import get_settings


def signed(claims: dict, key: str | None = None, algorithm: str = "HS256") -> str:
    key = key or get_settings().internal_key.get_secret_value()
    return jwt.encode(claims, key, algorithm=algorithm)


def good_claims(**changes) -> dict:
    now = int(time.time())
    claims = {"sub": "u1", "kind": "official", "region": "330106", "iss": ISSUER, "aud": AUDIENCE}
    claims.update(iat=now, exp=now + 60)
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def code_of(token: str) -> str:
    with pytest.raises(Problem) as e:
        verify_principal(token)
    return e.value.code


def test_a_minted_principal_round_trips():
    p = Principal(sub="u1", kind="bank", org="ICBC-ZJ", scopes=("loans",), client_id="c1")
    assert verify_principal(mint_principal(p)) == p


def test_a_token_within_the_five_second_leeway_is_accepted():
    assert verify_principal(signed(good_claims(exp=int(time.time()) - 2))).sub == "u1"


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "someone-else"},
        {"iss": "not-the-gateway"},
        {"sub": None},
        {"iat": None},
        {"exp": "tomorrow"},
        {"iat": int(time.time()) + 3600},
        {"nbf": int(time.time()) + 3600},
        {"kind": "superuser"},
    ],
)
def test_claims_outside_the_contract_are_invalid(changes):
    assert code_of(signed(good_claims(**changes))) == "principal_invalid"


def test_expired_is_told_apart():
    assert code_of(signed(good_claims(exp=int(time.time()) - 60))) == "principal_expired"


@pytest.mark.filterwarnings("ignore:The HMAC key")  # PyJWT on minting the HS512 token
def test_another_key_or_algorithm_or_an_edited_payload_is_invalid():
    assert (
        code_of(signed(good_claims(), key="another-key-of-sufficient-length-000000")) == "principal_invalid"
    )
    assert code_of(signed(good_claims(), algorithm="HS512")) == "principal_invalid"
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
    payload = base64.urlsafe_b64encode(json.dumps(good_claims()).encode()).decode().rstrip("=")
    assert code_of(f"{header}.{payload}.") == "principal_invalid"
    h, _, s = signed(good_claims()).split(".")
    admin = base64.urlsafe_b64encode(json.dumps(good_claims(kind="admin")).encode()).decode().rstrip("=")
    assert code_of(f"{h}.{admin}.{s}") == "principal_invalid"
    for garbage in ("", "a.b", "a.b.c.d", "é.é.é", "..."):
        assert code_of(garbage) == "principal_invalid"


@pytest.mark.parametrize(
    "changes",
    [
        {"region": " "},  # a blank region is the prefix of every region
        {"region": "%"},  # a LIKE wildcard
        {"region": ""},
        {"region": 330106},  # the right digits, the wrong type
        {"region": "3301"},  # a prefix, not a code
        {"region": "339999"},  # six digits, no such region
        {"region": None},  # an official without a region
        {"org": 42},
        {"org": " ICBC "},
        {"org": ["ICBC"]},
        {"scopes": "registry:read"},
        {"scopes": [1]},
        {"kind": ["admin"]},
        {"cid": 7},
    ],
)
def test_a_principal_whose_identity_facts_are_malformed_is_refused_not_widened(changes):
    assert code_of(signed(good_claims(**changes))) == "principal_invalid"


def test_during_a_rotation_the_retired_key_is_still_accepted_and_never_signs():
    """EAGLET_INTERNAL_KEY_PREVIOUS: a service with the new key accepts a gateway still on the old."""
    from pydantic import SecretStr

    old = get_settings()
    new = old.model_copy(
        update={
            "internal_key": SecretStr("the-new-internal-key-0123456789abcdef"),
            "internal_key_previous": old.internal_key,
        }
    )
    p = Principal(sub="u1", kind="bank", org="ICBC-ZJ")
    assert verify_principal(mint_principal(p), new) == p  # signed with the old key
    assert verify_principal(mint_principal(p, new), new) == p  # signed with the new one
    with pytest.raises(Problem):  # the rotation over (no previous key): the old key is refused
        verify_principal(mint_principal(p), new.model_copy(update={"internal_key_previous": None}))

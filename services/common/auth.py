"""The principal: who is calling, as the gateway vouches in the signed ``X-Eaglet-Principal`` JWT.

Services never trust a bare header: the JWT is HS256-signed with the internal key, short-lived,
and carries subject, kind, org code, region code, scopes and the request id.
"""

from __future__ import annotations

import base64
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import jwt
import orjson
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from services.common.context import request_id_var
from services.common.errors import (
    Forbidden,
    PrincipalExpired,
    PrincipalInvalid,
    PrincipalMissing,
    Problem,
)
from services.common.middleware import header
from services.common.regions import is_region_code
from services.common.settings import Settings, get_settings

PRINCIPAL_HEADER = "X-Eaglet-Principal"
_PRINCIPAL_HEADER_KEY = PRINCIPAL_HEADER.lower().encode()  # as ASGI scopes carry header names
ISSUER = "eaglet-gateway"
AUDIENCE = "eaglet-services"
Kind = Literal["bank", "guarantor", "certifier", "official", "admin"]
KINDS: tuple[str, ...] = ("bank", "guarantor", "certifier", "official", "admin")


@dataclass(frozen=True)
class Principal:
    sub: str
    kind: str
    org: str | None = None
    region: str | None = None
    scopes: tuple[str, ...] = field(default_factory=tuple)
    client_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.kind == "admin"

    @property
    def actor(self) -> dict[str, str | None]:
        return {"subject": self.sub, "kind": self.kind, "org": self.org}


ORG_MAX_LEN = 64


def is_org_code(value: object) -> bool:
    """An institution / certification body code: 1–64 printable characters, no outer spaces."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= ORG_MAX_LEN
        and value == value.strip()
        and value.isprintable()
    )


def principal_problem(kind: object, org: object, region: object, scopes: object) -> tuple[str, str] | None:
    """Why these identity facts cannot make a principal, as (fact, reason); None when they can.

    The one rule for every source of a principal: people's tokens and API clients (gateway), the
    forwarded principal (services). Kind one of KINDS; org absent or an org code; region absent or
    a 6-digit code of the reference table, and present for officials; scopes a list of strings.
    """
    if not isinstance(kind, str) or kind not in KINDS:
        return "kind", f"must be one of {', '.join(KINDS)}"
    if org is not None and not is_org_code(org):
        return "org", f"must be a code of 1–{ORG_MAX_LEN} printable characters"
    if region is not None and not is_region_code(region):
        return "region", "must be a 6-digit region code of the reference table (GB/T 2260, e.g. 330106)"
    if kind == "official" and region is None:
        return "region", "is required for an official"
    if not isinstance(scopes, list | tuple) or not all(isinstance(s, str) for s in scopes):
        return "scopes", "must be a list of strings"
    return None


def mint_principal(
    principal: Principal,
    settings: Settings | None = None,
    ttl_s: int | None = None,
    request_id: str | None = None,
) -> str:
    settings = settings or get_settings()
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": principal.sub,
        "kind": principal.kind,
        "org": principal.org,
        "region": principal.region,
        "scopes": list(principal.scopes),
        "cid": principal.client_id,
        "rid": request_id or request_id_var.get(),
        "iat": now,
        "exp": now + (ttl_s if ttl_s is not None else settings.principal_ttl_s),
    }
    return jwt.encode(claims, settings.internal_key.get_secret_value(), algorithm="HS256")


LEEWAY_S = 5


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def invalid_principal() -> Problem:
    return PrincipalInvalid("the forwarded principal is not valid")


def _hs256_claims(token: str, keys: tuple[bytes, ...]) -> dict[str, Any]:
    """Verify an HS256 JWT and return its claims: algorithm, signature, then exp/iat/nbf, issuer
    and audience; the signature may be by any of `keys` (a key and the one being retired). PyJWT
    mints the tokens; verifying them here is one HMAC and two small JSON
    decodes (PyJWT's general decoder cost more than the rest of a typical read request)."""
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        signed = f"{header_b64}.{payload_b64}".encode("ascii")
        signature = _b64(signature_b64)
    except ValueError:
        raise invalid_principal() from None
    # The signature first: nothing the caller wrote is parsed before it is known to be ours.
    if not any(hmac.compare_digest(signature, hmac.digest(k, signed, "sha256")) for k in keys):
        raise invalid_principal()
    try:
        header = orjson.loads(_b64(header_b64))
        claims = orjson.loads(_b64(payload_b64))
    except ValueError:
        raise invalid_principal() from None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise invalid_principal()
    if not isinstance(claims, dict) or not all(k in claims for k in ("exp", "iat", "sub")):
        raise invalid_principal()
    exp, iat, nbf = claims["exp"], claims["iat"], claims.get("nbf", 0)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (exp, iat, nbf)):
        raise invalid_principal()
    now = time.time()
    if now > exp + LEEWAY_S:
        raise PrincipalExpired()
    if iat > now + LEEWAY_S or nbf > now + LEEWAY_S:
        raise invalid_principal()
    aud = claims.get("aud")
    if claims.get("iss") != ISSUER or not (aud == AUDIENCE or (isinstance(aud, list) and AUDIENCE in aud)):
        raise invalid_principal()
    return claims


def verify_principal(token: str, settings: Settings | None = None) -> Principal:
    settings = settings or get_settings()
    claims = _hs256_claims(token, settings.verifying_keys("internal_key"))
    kind, org, region = claims.get("kind"), claims.get("org"), claims.get("region")
    scopes, cid = claims.get("scopes"), claims.get("cid")
    scopes = [] if scopes is None else scopes
    # Signed by the gateway, still checked: a principal that would widen a scope (a blank region
    # is every region's prefix) is refused, whatever let it through upstream.
    problem = principal_problem(kind, org, region, scopes)
    if problem is not None or not (cid is None or isinstance(cid, str)):
        fact = problem[0] if problem else "cid"
        raise PrincipalInvalid(f"the forwarded principal's {fact} is not valid")
    return Principal(
        sub=str(claims["sub"]),
        kind=kind,
        org=org,
        region=region,
        scopes=tuple(scopes),
        client_id=cid,
    )


# Declared as a security scheme so the OpenAPI shows it and fuzzers can supply it.
_principal_header = APIKeyHeader(
    name=PRINCIPAL_HEADER,
    auto_error=False,
    scheme_name="EagletPrincipal",
    description="Signed principal JWT forwarded by the gateway (internal; the gateway sets it).",
)


def principal_of(scope: Any, token: str | None, settings: Settings) -> Principal:
    """The request's verified principal, cached in its state for the rest of the request."""
    if not token:
        raise PrincipalMissing(f"this route needs the {PRINCIPAL_HEADER} header")
    state = scope.setdefault("state", {})
    cached = state.get("principal")
    if cached is None:
        cached = state["principal"] = verify_principal(token, settings)
    return cached


def scope_principal(scope: Any, settings: Settings) -> Principal:
    """`get_principal` for code that runs before FastAPI's dependencies (the kit's fast paths)."""
    return principal_of(scope, header(scope, _PRINCIPAL_HEADER_KEY), settings)


async def get_principal(
    request: Request, token: Annotated[str | None, Depends(_principal_header)]
) -> Principal:
    return principal_of(request.scope, token, request.app.state.settings)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def check_kind(principal: Principal, kinds: Sequence[str]) -> Principal:
    if principal.kind not in kinds:
        raise Forbidden(f"{principal.kind} callers may not use this route")
    return principal


def require_kind(*kinds: str):
    """Dependency: the caller must be one of these kinds (403 otherwise)."""

    async def _check(principal: CurrentPrincipal) -> Principal:
        return check_kind(principal, kinds)

    return Depends(_check)


def principal_headers(
    kind: str = "admin",
    org: str | None = None,
    region: str | None = None,
    sub: str | None = None,
    scopes: tuple[str, ...] = (),
    settings: Settings | None = None,
) -> dict[str, str]:
    """Test and tooling helper: headers carrying a freshly minted principal."""
    p = Principal(
        sub=sub or f"{kind}:{org or region or 'test'}", kind=kind, org=org, region=region, scopes=scopes
    )
    return {PRINCIPAL_HEADER: mint_principal(p, settings)}

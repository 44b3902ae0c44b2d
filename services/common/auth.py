"""The principal: who is calling, as the gateway vouches in the signed ``X-Eaglet-Principal`` JWT.

Services never trust a bare header: the JWT is HS256-signed with the internal key, short-lived,
and carries subject, kind, org code, region code, scopes and the request id.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated, Literal

import jwt
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from services.common.context import request_id_var
from services.common.errors import Problem
from services.common.settings import Settings, get_settings

PRINCIPAL_HEADER = "X-Eaglet-Principal"
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

    def region_prefix(self) -> str | None:
        """The region prefix an official's reads are limited to (``33``, ``3301``, ``330106``);
        None means no regional limit (admin). Trailing zero pairs are dropped: 330100 → 3301."""
        if self.kind != "official":
            return None
        return region_prefix(self.region or "")

    def covers_region(self, region_code: str | None) -> bool:
        prefix = self.region_prefix()
        if prefix is None:
            return True
        return bool(region_code) and region_code.startswith(prefix)

    @property
    def actor(self) -> dict[str, str | None]:
        return {"subject": self.sub, "kind": self.kind, "org": self.org}


def region_prefix(code: str) -> str:
    """330000 → 33, 330100 → 3301, 330106 → 330106 (GB/T 2260 hierarchy by prefix)."""
    code = code.strip()
    while len(code) > 2 and code.endswith("00"):
        code = code[:-2]
    return code


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


def verify_principal(token: str, settings: Settings | None = None) -> Principal:
    settings = settings or get_settings()
    try:
        claims = jwt.decode(
            token,
            settings.internal_key.get_secret_value(),
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub"]},
            leeway=5,
        )
    except jwt.ExpiredSignatureError as e:
        raise Problem(401, "principal_expired", "the forwarded principal has expired") from e
    except jwt.PyJWTError as e:
        raise Problem(401, "principal_invalid", "the forwarded principal is not valid") from e
    kind = claims.get("kind")
    if kind not in KINDS:
        raise Problem(401, "principal_invalid", "the forwarded principal has an unknown kind")
    return Principal(
        sub=str(claims["sub"]),
        kind=kind,
        org=claims.get("org"),
        region=claims.get("region"),
        scopes=tuple(claims.get("scopes") or ()),
        client_id=claims.get("cid"),
    )


# Declared as a security scheme so the OpenAPI shows it and fuzzers can supply it.
_principal_header = APIKeyHeader(
    name=PRINCIPAL_HEADER,
    auto_error=False,
    scheme_name="EagletPrincipal",
    description="Signed principal JWT forwarded by the gateway (internal; the gateway sets it).",
)


async def get_principal(
    request: Request, token: Annotated[str | None, Depends(_principal_header)]
) -> Principal:
    if not token:
        raise Problem(401, "principal_missing", f"this route needs the {PRINCIPAL_HEADER} header")
    cached = request.scope.get("state", {}).get("principal")
    if cached is not None:
        return cached
    principal = verify_principal(token, request.app.state.settings)
    request.scope.setdefault("state", {})["principal"] = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_kind(*kinds: str):
    """Dependency: the caller must be one of these kinds (403 otherwise)."""

    async def _check(principal: CurrentPrincipal) -> Principal:
        if principal.kind not in kinds:
            raise Problem(403, "forbidden", f"{principal.kind} callers may not use this route")
        return principal

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

"""Signing the forwarded principal cheaply: a standard HS256 JWT (what
``services.common.auth.verify_principal`` checks), built without PyJWT's per-call key preparation,
which costs more than the rest of the gateway's own work on a call
(docs/gateway.md#upstream-client-and-performance). The claims that do not change per request are
serialised once per caller."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from services.common.auth import AUDIENCE, ISSUER, Principal
from services.common.settings import Settings

_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


class PrincipalSigner:
    def __init__(self, settings: Settings) -> None:
        self._mac = hmac.new(settings.internal_key.get_secret_value().encode(), digestmod=hashlib.sha256)
        self.ttl = settings.principal_ttl_s
        self._static: dict[Principal, str] = {}

    def _claims_prefix(self, p: Principal) -> str:
        prefix = self._static.get(p)
        if prefix is None:
            static = {
                "iss": ISSUER,
                "aud": AUDIENCE,
                "sub": p.sub,
                "kind": p.kind,
                "org": p.org,
                "region": p.region,
                "scopes": list(p.scopes),
                "cid": p.client_id,
            }
            prefix = json.dumps(static, separators=(",", ":"), ensure_ascii=False)[:-1]
            if len(self._static) > 50_000:
                self._static.clear()
            self._static[p] = prefix
        return prefix

    def sign(self, principal: Principal, request_id: str | None) -> str:
        now = int(time.time())
        payload = f'{self._claims_prefix(principal)},"rid":{json.dumps(request_id)},"iat":{now},"exp":{now + self.ttl}}}'
        signing_input = _HEADER + b"." + _b64(payload.encode())
        mac = self._mac.copy()
        mac.update(signing_input)
        return (signing_input + b"." + _b64(mac.digest())).decode()

"""The gateway's per-process state and the admission steps every call goes through:
authenticate → check the route policy → take a rate-limit token."""

from __future__ import annotations

from dataclasses import dataclass

from gateway import policy
from gateway.auth import Authenticator, Caller
from gateway.principal import PrincipalSigner
from gateway.ratelimit import Decision, RateLimiter
from gateway.settings import GatewaySettings
from gateway.upstream import Upstreams
from services.common.context import client_id_var
from services.common.errors import Problem
from services.common.settings import Settings


@dataclass
class Admission:
    caller: Caller | None
    decision: Decision


class Gateway:
    def __init__(self, settings: Settings, gw: GatewaySettings, authenticator: Authenticator) -> None:
        self.settings = settings
        self.gw = gw
        self.auth = authenticator
        self.limiter = RateLimiter(gw.rates.burst_s)
        self.upstreams = Upstreams.from_settings(settings, gw.upstream)
        self.signer = PrincipalSigner(settings)

    async def admit(
        self, rule: policy.Rule, method: str, authorization: str | None, client_ip: str
    ) -> Admission:
        """Who is calling and may they use this route now? Raises 401, 403 or 429 problems."""
        caller: Caller | None = None
        if authorization or not rule.public:
            caller = await self.auth.authenticate(authorization)
            p = caller.principal
            reason = policy.denial(rule, p.kind, p.scopes, method)
            if reason:
                raise Problem(403, "forbidden", reason)
            client_id_var.set(caller.client_id or p.sub)
            rate = caller.rate_per_s or self.gw.rates.for_kind(p.kind)
            decision = self.limiter.take(caller.rate_key, rate)
        else:
            decision = self.limiter.take("ip:" + client_ip, self.gw.rates.public_per_ip)
        if not decision.allowed:
            raise Problem(
                429,
                "rate_limited",
                f"too many requests; retry after {decision.retry_after_s} s",
                title="Too Many Requests",
                headers=decision.header_dict(),
            )
        return Admission(caller, decision)


def client_ip(scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"

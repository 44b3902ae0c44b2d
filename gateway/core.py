"""The gateway's per-process state and the admission steps every call goes through:
authenticate → check the route policy → take a rate-limit token."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import NamedTuple

from gateway import policy
from gateway.auth import Authenticator, Caller
from gateway.principal import PrincipalSigner
from gateway.ratelimit import Decision
from gateway.routes import RouteTable
from gateway.settings import GatewaySettings
from gateway.upstream import Upstreams
from services.common.context import client_id_var
from services.common.errors import Forbidden, RateLimited
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
        self.limiter = authenticator.buckets  # one set of buckets per process (gateway/ratelimit.py)
        self.upstreams = Upstreams.from_settings(settings, gw.upstream)
        self.signer = PrincipalSigner(settings)
        self.addresses = ClientAddresses(gw.trusted_proxies)
        self.routes = RouteTable(gw.openapi_max_age_s)

    def client_address(self, scope) -> ClientAddress:
        return self.addresses.of(scope)

    async def admit(
        self, rule: policy.Rule, method: str, authorization: str | None, client_ip: str
    ) -> Admission:
        """Who is calling and may they use this route now? Raises 401, 403 or 429 problems."""
        caller: Caller | None = None
        if authorization or not rule.public:
            caller = await self.auth.authenticate(authorization, client_ip)
            p = caller.principal
            reason = policy.denial(rule, p.kind, p.scopes, method)
            if reason:
                raise Forbidden(reason)
            client_id_var.set(caller.client_id or p.sub)
            rate = caller.rate_per_s or self.gw.rates.for_kind(p.kind)
            decision = await self.limiter.take(caller.rate_key, rate)
        else:
            decision = await self.limiter.take("ip:" + client_ip, self.gw.rates.public_per_ip)
        if not decision.allowed:
            raise RateLimited(
                f"too many requests; retry after {decision.retry_after_s} s", headers=decision.header_dict()
            )
        return Admission(caller, decision)


class ClientAddress(NamedTuple):
    ip: str  # the client: the direct peer, or the address a trusted proxy forwarded for
    forwarded_for: str  # X-Forwarded-For for the services: the verified chain, ending at the peer


class ClientAddresses:
    """Who the client is, by address (per-IP limits, X-Forwarded-For sent on).

    The direct peer, unless it is a trusted proxy (`trusted_proxies`, default none): then the
    right-most address of X-Forwarded-For that is not itself a trusted proxy; what lies left of
    it was written by the client and is dropped. A hop that is not an IP address ends the walk at
    the last hop a trusted proxy vouched for.
    """

    def __init__(self, trusted: Sequence[IPv4Network | IPv6Network]) -> None:
        self.trusted = tuple(trusted)
        self._is_trusted: dict[str, bool] = {}

    def trusted_address(self, ip: str) -> bool:
        known = self._is_trusted.get(ip)
        if known is None:
            try:
                addr = ip_address(ip)
            except ValueError:
                known = False
            else:
                # A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d: the IPv4 entries hold.
                addr = getattr(addr, "ipv4_mapped", None) or addr
                known = any(addr in net for net in self.trusted)
            if len(self._is_trusted) > 10_000:
                self._is_trusted.clear()
            self._is_trusted[ip] = known
        return known

    def of(self, scope) -> ClientAddress:
        client = scope.get("client")
        peer = client[0] if client else "unknown"
        if not self.trusted or not self.trusted_address(peer):
            return ClientAddress(peer, peer)
        hops = [
            hop.strip()
            for name, value in scope["headers"]
            if name == b"x-forwarded-for"
            for hop in value.decode("latin-1").split(",")
        ]
        chain = [peer]
        for hop in reversed(hops):
            try:
                hop = str(ip_address(hop))
            except ValueError:
                break
            chain.append(hop)
            if not self.trusted_address(hop):
                break
        return ClientAddress(chain[-1], ", ".join(reversed(chain)))

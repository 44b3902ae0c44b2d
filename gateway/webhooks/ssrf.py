"""Where a webhook may point: the SSRF guard, at registration and again before every delivery.

A webhook URL makes the gateway send requests where a subscriber says, from inside eaglet's
network. So outside `EAGLET_ENV=dev`:
- the URL is `https`, has a host, no user or password, no fragment;
- its host resolves to public addresses only: none loopback, private, link-local, shared
  (CGNAT, 100.64/10), multicast, reserved, unspecified or otherwise not globally routable,
  also when wrapped in IPv6 (IPv4-mapped `::ffff:a.b.c.d`, 6to4 `2002::/16`, Teredo, NAT64
  `64:ff9b::/96`) or written as a number (`2130706433` resolves to 127.0.0.1 and is refused
  as such);
- unless the host is one of `EAGLET_WEBHOOKS__ALLOW_HOSTS` (exact names): then any address.
Names are resolved again before each delivery (DNS can change between registration and
delivery, or between two deliveries) and the request goes to the address just checked, never to
a second lookup's answer (`pinned`). In dev, http and loopback receivers are allowed so a
developer can try webhooks on their machine; addresses are not checked there.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.common.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port → the addresses it resolves to (injectable: tests stand in for DNS)
Resolver = Callable[[str, int], Awaitable[list[str]]]

NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
CGNAT = ipaddress.ip_network("100.64.0.0/10")


class UrlRefused(ValueError):
    """Why a URL may not be a webhook's (a sentence for the problem's message)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Target:
    """A webhook URL as the guard read it."""

    url: str
    scheme: str
    host: str  # lower case, IDNA (ASCII), no trailing dot, no brackets
    port: int
    literal: IPAddress | None  # the host when it is an IP address


def parse(url: str, settings: Settings) -> Target:
    """The URL's shape rules (no name resolution). Raises UrlRefused."""
    if any(c.isspace() for c in url) or "\\" in url:
        raise UrlRefused("webhook_url_invalid", "the URL contains a space or a backslash")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise UrlRefused("webhook_url_invalid", f"not a valid URL ({e})") from None
    scheme = parts.scheme.lower()
    allowed = ("http", "https") if settings.env == "dev" else ("https",)
    if scheme not in allowed:
        need = "http or https" if settings.env == "dev" else "https"
        raise UrlRefused("webhook_url_scheme", f"the URL must be {need}")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("webhook_url_invalid", "the URL may not carry a user name or password")
    if parts.fragment or url.endswith("#"):
        raise UrlRefused("webhook_url_invalid", "the URL may not have a fragment")
    raw_host = parts.hostname or ""
    if not raw_host:
        raise UrlRefused("webhook_url_invalid", "the URL has no host")
    literal = _literal(raw_host)
    if literal is not None:
        host = raw_host
    else:
        try:
            host = raw_host.rstrip(".").encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise UrlRefused("webhook_url_invalid", "the URL's host is not a valid domain name") from None
        if not host or any(not label for label in host.split(".")):
            raise UrlRefused("webhook_url_invalid", "the URL's host is not a valid domain name")
    return Target(url, scheme, host, port or (443 if scheme == "https" else 80), literal)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def refusal(address: IPAddress) -> str | None:
    """What kind of address a webhook may not reach, or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is None and any(address in n for n in NAT64):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            inner = refusal(embedded)
            if inner is not None:
                return f"{inner} (inside an IPv6 address)"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv4Address) and address in CGNAT:
        return "a shared (CGNAT) address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "an address that is not globally routable"
    return None


def allowed_host(target: Target, settings: Settings) -> bool:
    return target.host in settings.webhooks.allow_hosts


def checks_addresses(target: Target, settings: Settings) -> bool:
    return settings.env != "dev" and not allowed_host(target, settings)


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    out: list[str] = []
    for info in infos:
        addr = info[4][0]
        if addr not in out:
            out.append(addr)
    return out


async def addresses(target: Target, settings: Settings, resolver: Resolver | None = None) -> list[IPAddress]:
    """The addresses the target's host resolves to now (its literal, for an IP host)."""
    if target.literal is not None:
        return [target.literal]
    resolve = resolver or system_resolver
    try:
        found = await asyncio.wait_for(resolve(target.host, target.port), settings.webhooks.dns_timeout_s)
    except (TimeoutError, OSError, UnicodeError) as e:
        raise UrlRefused("webhook_url_unresolvable", f"the URL's host does not resolve ({_why(e)})") from None
    out = [a for a in (_literal(x.split("%", 1)[0]) for x in found) if a is not None]
    if not out:
        raise UrlRefused("webhook_url_unresolvable", "the URL's host resolves to no address")
    return out


def _why(e: BaseException) -> str:
    return "timed out" if isinstance(e, TimeoutError) else (str(e) or type(e).__name__)


def check_addresses(found: list[IPAddress]) -> None:
    """Every address must be public: a name with one private answer is refused, whichever the
    client would pick."""
    for address in found:
        why = refusal(address)
        if why is not None:
            raise UrlRefused("webhook_url_not_public", f"the URL's host resolves to {why}")


async def check_registration(url: str, settings: Settings, resolver: Resolver | None = None) -> Target:
    """The guard at registration (and when the URL is changed). Raises UrlRefused."""
    target = parse(url, settings)
    if checks_addresses(target, settings):
        check_addresses(await addresses(target, settings, resolver))
    return target


async def pinned(url: str, settings: Settings, resolver: Resolver | None = None) -> tuple[Target, IPAddress]:
    """The guard before a delivery: the URL checked again, and the one address to connect to."""
    target = parse(url, settings)
    found = await addresses(target, settings, resolver)
    if checks_addresses(target, settings):
        check_addresses(found)
    return target, found[0]

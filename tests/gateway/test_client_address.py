"""Who the client is, by address: the direct peer, unless that peer is a configured proxy
(`EAGLET_TRUSTED_PROXIES`); a caller cannot choose its own address with `X-Forwarded-For`."""

import asyncio

from gateway.auth import new_key
from tests.gateway.conftest import TRUSTED_PROXY, bearer

PUBLIC = "/registry/v1/tools/size-class"  # public; the fixture's registry echoes the headers


async def test_an_untrusted_peers_forwarded_for_is_neither_believed_nor_passed_on(behind_proxy, http):
    r = await http.get(behind_proxy.url + PUBLIC, headers={"X-Forwarded-For": "203.0.113.7"})
    assert r.status_code == 200, r.text
    assert r.json()["headers"]["x-forwarded-for"] == "127.0.0.1"


async def test_the_per_ip_limit_cannot_be_bypassed_with_a_header(behind_proxy, http):
    # 2/s with a bucket of 4: ten calls, each claiming another address, still share one bucket
    rs = await asyncio.gather(
        *(
            http.get(behind_proxy.url + PUBLIC, headers={"X-Forwarded-For": f"198.51.100.{i}"})
            for i in range(10)
        )
    )
    statuses = [r.status_code for r in rs]
    assert statuses.count(429) >= 5, statuses
    limited = next(r for r in rs if r.status_code == 429)
    assert limited.json()["code"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1


async def test_a_trusted_proxy_names_the_client_and_the_chain_is_rebuilt(behind_proxy, via_proxy):
    # The right-most address the trusted proxy did not add itself is the client; what the client
    # wrote before it (a spoofed 10.0.0.1) is not passed on.
    r = await via_proxy.get(behind_proxy.url + PUBLIC, headers={"X-Forwarded-For": "10.0.0.1, 203.0.113.8"})
    assert r.status_code == 200, r.text
    assert r.json()["headers"]["x-forwarded-for"] == f"203.0.113.8, {TRUSTED_PROXY}"
    # Without a header the proxy itself is the client.
    r = await via_proxy.get(behind_proxy.url + PUBLIC)
    assert r.json()["headers"]["x-forwarded-for"] == TRUSTED_PROXY


async def test_behind_a_trusted_proxy_each_client_has_its_own_bucket(behind_proxy, via_proxy):
    def call(ip: str):
        return via_proxy.get(behind_proxy.url + PUBLIC, headers={"X-Forwarded-For": ip})

    first = await asyncio.gather(*(call("203.0.113.20") for _ in range(8)))
    assert 429 in [r.status_code for r in first]
    assert (await call("203.0.113.21")).status_code == 200  # another client behind the same proxy


async def test_failed_authentications_are_limited_per_ip_before_the_database(
    behind_proxy, via_proxy, new_client
):
    _, key = await new_client("bank", org="B-AUTHFAIL")
    url = behind_proxy.url + "/finance/v1/whoami"
    guesser = {"X-Forwarded-For": "203.0.113.50"}
    assert (
        await via_proxy.get(url, headers={**guesser, **bearer(key)})
    ).status_code == 200  # verified, cached

    # 1 failure/s, a bucket of 5: of 40 random keys only the first few are looked up
    guesses = [await via_proxy.get(url, headers={**guesser, **bearer(new_key())}) for _ in range(40)]
    statuses = [r.status_code for r in guesses]
    assert set(statuses) == {401, 429}, statuses
    assert statuses.count(401) <= 8, statuses  # each 401 was a database lookup; the rest never were
    limited = next(r for r in guesses if r.status_code == 429)
    assert limited.headers["content-type"] == "application/problem+json"
    assert limited.json()["code"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1

    # the key verified before still passes from that address; another address is not limited
    assert (await via_proxy.get(url, headers={**guesser, **bearer(key)})).status_code == 200
    other = await via_proxy.get(url, headers={"X-Forwarded-For": "203.0.113.51", **bearer(new_key())})
    assert other.status_code == 401 and other.json()["code"] == "credentials_invalid"


async def test_repeats_of_one_refused_key_are_answered_from_the_cache_and_not_counted(
    behind_proxy, via_proxy
):
    # A client still sending its revoked key is told 401 each time; it is not locked out.
    url = behind_proxy.url + "/finance/v1/whoami"
    headers = {"X-Forwarded-For": "203.0.113.60", **bearer(new_key())}
    statuses = [(await via_proxy.get(url, headers=headers)).status_code for _ in range(15)]
    assert statuses == [401] * 15


async def test_many_concurrent_calls_with_one_new_key_are_one_lookup_and_not_limited(
    behind_proxy, via_proxy, new_client
):
    # A bank's workers all starting at once (a cold cache): one lookup for the key, which succeeds,
    # so the address's failure bucket (5 here) is not drained by them.
    _, key = await new_client("bank", org="B-HERD")
    url = behind_proxy.url + "/finance/v1/whoami"
    headers = {"X-Forwarded-For": "203.0.113.70", **bearer(key)}
    rs = await asyncio.gather(*(via_proxy.get(url, headers=headers) for _ in range(30)))
    assert [r.status_code for r in rs] == [200] * 30


def test_an_ipv4_proxy_reported_as_an_ipv4_mapped_ipv6_peer_is_still_trusted():
    from ipaddress import ip_network

    from gateway.core import ClientAddresses

    addresses = ClientAddresses([ip_network("10.0.0.0/8")])
    scope = {"client": ("::ffff:10.1.2.3", 5000), "headers": [(b"x-forwarded-for", b"203.0.113.9")]}
    assert addresses.of(scope) == ("203.0.113.9", "203.0.113.9, ::ffff:10.1.2.3")
    untrusted = {"client": ("::ffff:192.0.2.1", 5000), "headers": [(b"x-forwarded-for", b"203.0.113.9")]}
    assert addresses.of(untrusted).ip == "::ffff:192.0.2.1"

"""Who the client is, by address: the direct peer, unless that peer is a configured proxy
(`EAGLET_TRUSTED_PROXIES`); a caller cannot choose its own address with `X-Forwarded-For`."""

import asyncio

from tests.gateway.conftest import TRUSTED_PROXY

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

"""Rate limits shared in Redis (gateway/ratelimit.py), with a real redis-server: the Lua script's
semantics, two gateway processes holding one client to its rate together, and the fallback to
local buckets at rate ÷ replicas while Redis is down or stalled, and back."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from gateway.ratelimit import PREFIX, RateLimiter, RedisBuckets
from tests.gateway.conftest import StubUpstream, bearer, metric, start_gateway, wait_until

FALLBACK = "eaglet_gateway_ratelimit_fallback"
DOWN_LINE = "rate limits: Redis at"
DOWN_WORDS = "does not answer"
BACK_WORDS = "buckets are shared again"


# -- the script ---------------------------------------------------------------------------------


@pytest.fixture
async def buckets(redis_server):
    b = RedisBuckets(redis_server.url, timeout_s=1.0, divisor=1)
    await b.client.flushdb()
    yield b
    await b.close()


async def rewind(b: RedisBuckets, key: str, seconds: float) -> None:
    """Make the bucket's last refill `seconds` older (as if that much time had passed)."""
    ts = float(await b.client.hget(PREFIX + key, "ts"))
    await b.client.hset(PREFIX + key, "ts", f"{ts - seconds:.6f}")


async def test_script_takes_the_burst_then_refuses_with_retry_after(buckets):
    got = [await buckets.take("k", rate=0.5, capacity=3) for _ in range(4)]
    assert [d.allowed for d in got] == [True, True, True, False]
    assert [d.remaining for d in got] == [2, 1, 0, 0]
    assert all(d.limit == 3 for d in got)
    # empty: a token takes 2 s at 0.5/s; the bucket is full again after 6 s
    assert got[3].retry_after_s == 2 and got[3].reset_s == 6
    # the same numbers as the in-process buckets (the headers do not depend on where they live)
    local = RateLimiter(burst_s=2)
    same = [local.take("k", 0.5, now=100.0, capacity=3) for _ in range(4)]
    assert [(d.allowed, d.limit, d.remaining, d.retry_after_s) for d in same] == [
        (d.allowed, d.limit, d.remaining, d.retry_after_s) for d in got
    ]


async def test_script_refills_at_the_rate_up_to_the_capacity(buckets):
    for _ in range(3):
        await buckets.take("r", rate=2, capacity=3)
    assert not (await buckets.take("r", rate=2, capacity=3)).allowed
    await rewind(buckets, "r", 1.0)  # 1 s at 2/s: two tokens
    got = [await buckets.take("r", rate=2, capacity=3) for _ in range(3)]
    assert [d.allowed for d in got] == [True, True, False]
    await rewind(buckets, "r", 3600)  # an hour: full, never more than the capacity
    got = [await buckets.take("r", rate=2, capacity=3) for _ in range(4)]
    assert [d.allowed for d in got] == [True, True, True, False]


async def test_script_keys_expire_when_full_and_a_full_bucket_is_no_key(buckets):
    await buckets.take("e", rate=1, capacity=4)  # 3 left: full again in 1 s
    ttl_ms = await buckets.client.pttl(PREFIX + "e")
    assert 1000 < ttl_ms <= 2000  # time to fill, plus a second
    # giving the token back fills it: the key is gone (a missing bucket is a full one)
    await buckets.take("e", rate=1, capacity=4, cost=-1)
    assert await buckets.client.exists(PREFIX + "e") == 0
    # a give-back never goes past the capacity
    await buckets.take("e", rate=1, capacity=4, cost=-1)
    got = [await buckets.take("e", rate=0.001, capacity=4) for _ in range(5)]
    assert [d.allowed for d in got] == [True, True, True, True, False]


async def test_script_uses_the_servers_clock(buckets):
    """A bucket's refill time is Redis's TIME, never the gateway's clock."""
    await buckets.take("c", rate=1, capacity=2)
    seconds, micros = await buckets.client.time()
    ts = float(await buckets.client.hget(PREFIX + "c", "ts"))
    assert abs(ts - (seconds + micros / 1e6)) < 1.0


# -- two gateways -------------------------------------------------------------------------------

RATE = 10.0  # the test client's own rate; bucket 2 s → 20 tokens
BURST = 20


@pytest.fixture(scope="module")
def pair(live_services, redis_server):
    """Two gateway processes sharing one Redis, each told there are two replicas; their registry is
    a stub (cheap 200s). Public routes 2/s per IP (bucket 4); failed authentications a bucket of 3."""
    stub = StubUpstream()
    env = {
        "EAGLET_REDIS_URL": redis_server.url,
        "EAGLET_GATEWAY__REPLICAS": "2",
        "EAGLET_RATES__PUBLIC_PER_IP": "2",
        "EAGLET_RATES__AUTH_FAILURES_PER_IP": "0.1",
        "EAGLET_RATES__AUTH_FAILURES_BURST": "3",
    }
    a = start_gateway(live_services, env, registry=stub.url)
    b = start_gateway(live_services, env, registry=stub.url)
    yield a, b
    a.stop()
    b.stop()
    stub.close()


async def offer(urls: list[str], key: str, seconds: float, pause_s: float = 0.03) -> tuple[int, float, list]:
    """Calls from one client to each URL in turn-taking loops (one loop per URL, each waiting
    `pause_s` between calls) for `seconds`: (accepted, elapsed from the first call sent to the
    last answer, every status)."""
    statuses: list[int] = []
    last_answer = 0.0

    async def loop(url: str, until: float) -> None:
        nonlocal last_answer
        async with httpx.AsyncClient(timeout=2) as c:
            while time.monotonic() < until:
                r = await c.get(url + "/registry/v1/anything", headers=bearer(key))
                statuses.append(r.status_code)
                last_answer = max(last_answer, time.monotonic())
                await asyncio.sleep(pause_s)

    start = time.monotonic()
    await asyncio.gather(*(loop(u, start + seconds) for u in urls))
    return statuses.count(200), last_answer - start, statuses


def within_10_percent(accepted: int, elapsed: float) -> bool:
    expected = BURST + RATE * elapsed
    return abs(accepted - expected) <= 0.1 * expected


async def test_two_gateways_hold_one_client_to_its_rate_together(pair, new_client, http):
    a, b = pair
    _, key = await new_client("bank", org="B-SHARED", rate=RATE)
    accepted, elapsed, statuses = await offer([a.url, b.url], key, seconds=4)
    # offered ≈ 60/s against a rate of 10/s: the two together accept the bucket plus 10/s, not twice
    assert set(statuses) == {200, 429}
    assert len(statuses) > 2 * (BURST + RATE * elapsed)
    assert within_10_percent(accepted, elapsed), (accepted, elapsed)
    # both answer with the shared bucket's size
    for gw in (a, b):
        r = await http.get(gw.url + "/registry/v1/anything", headers=bearer(key))
        assert r.headers["ratelimit-limit"] == str(BURST)
        assert metric(gw, FALLBACK) == 0


async def test_per_ip_and_failed_authentication_buckets_are_shared(pair):
    """From an address of its own (its buckets emptied here are no other test's)."""
    a, b = pair
    http = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address="127.0.0.5"), timeout=5)
    public = "/registry/v1/tools/credit-code/91330000733796106P"
    assert [(await http.get(a.url + public)).status_code for _ in range(4)] == [200] * 4
    assert (await http.get(b.url + public)).status_code == 429  # the same IP's bucket
    bad = [(await http.get(a.url + "/registry/v1/x", headers=bearer(f"egk_{'x' * 40}{i}"))) for i in range(3)]
    assert [r.status_code for r in bad] == [401] * 3
    refused = await http.get(b.url + "/registry/v1/x", headers=bearer("egk_" + "y" * 43))
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    await http.aclose()


def log_of(gw) -> str:
    with open(gw.log_path, errors="replace") as f:
        return f.read()


def transitions(gw, words: str) -> int:
    return sum(1 for line in log_of(gw).splitlines() if DOWN_LINE in line and words in line)


async def shared_again(a, b, new_client) -> None:
    """Both gateways decide in Redis again: a bucket emptied on one is empty on the other."""
    for gw in (a, b):
        wait_until(lambda gw=gw: metric(gw, FALLBACK) == 0, timeout_s=15)
    _, key = await new_client("bank", org=f"B-AGAIN-{time.monotonic_ns()}", rate=0.01)  # bucket of 1
    async with httpx.AsyncClient(timeout=2) as c:
        assert (await c.get(a.url + "/registry/v1/x", headers=bearer(key))).status_code == 200
        assert (await c.get(a.url + "/registry/v1/x", headers=bearer(key))).status_code == 429
        # in local buckets B would let it through (a bucket of its own): shared, it refuses
        assert (await c.get(b.url + "/registry/v1/x", headers=bearer(key))).status_code == 429


async def test_redis_down_falls_back_to_the_replicas_share_and_comes_back(
    pair, redis_server, new_client, http
):
    a, b = pair
    down_before = [transitions(gw, DOWN_WORDS) for gw in (a, b)]
    back_before = [transitions(gw, BACK_WORDS) for gw in (a, b)]
    redis_server.stop()
    try:
        _, key = await new_client("bank", org="B-FALLBACK", rate=RATE)
        # answered, at once, never a 5xx; each gateway's bucket is its replica's share (20 ÷ 2)
        for gw in (a, b):
            started = time.monotonic()
            r = await http.get(gw.url + "/registry/v1/anything", headers=bearer(key), timeout=2)
            assert r.status_code == 200 and time.monotonic() - started < 1.0
            assert r.headers["ratelimit-limit"] == str(BURST // 2)
            assert metric(gw, FALLBACK) == 1
        _, key = await new_client("bank", org="B-FALLBACK-2", rate=RATE)
        accepted, elapsed, statuses = await offer([a.url, b.url], key, seconds=3)
        assert set(statuses) == {200, 429}
        # two replicas at half the rate each: together the client's rate still
        assert within_10_percent(accepted, elapsed), (accepted, elapsed)
        # said once per gateway, not once per request
        assert [transitions(gw, DOWN_WORDS) for gw in (a, b)] == [n + 1 for n in down_before]
    finally:
        redis_server.start()
    await shared_again(a, b, new_client)
    assert [transitions(gw, BACK_WORDS) for gw in (a, b)] == [n + 1 for n in back_before]


async def test_a_stalled_redis_never_holds_a_request(pair, redis_server, new_client):
    a, b = pair
    _, key = await new_client("bank", org="B-STALL", rate=RATE)
    redis_server.pause()  # accepts connections, never answers
    try:
        for gw in (a, b):
            async with httpx.AsyncClient(timeout=2) as c:
                for _ in range(5):
                    started = time.monotonic()
                    r = await c.get(gw.url + "/registry/v1/anything", headers=bearer(key))
                    assert r.status_code == 200
                    assert time.monotonic() - started < 0.5  # the 50 ms timeout, not a hang
            assert metric(gw, FALLBACK) == 1
    finally:
        redis_server.resume()
    await shared_again(a, b, new_client)


async def test_without_redis_each_process_keeps_its_share():
    """No EAGLET_REDIS_URL: buckets in the process at rate ÷ (replicas × workers); one replica of
    one worker is the configured rate itself."""
    from gateway.ratelimit import Buckets
    from gateway.settings import GatewaySettings
    from services.common.settings import get_settings

    settings = get_settings()
    alone = Buckets.from_settings(settings, GatewaySettings())
    assert alone.redis is None and alone.divisor == 1
    assert (await alone.take("client:x", 10)).limit == 20  # 2 s of 10/s
    gateway = settings.gateway.model_copy(update={"replicas": 3, "workers": 2})
    many = Buckets.from_settings(settings.model_copy(update={"gateway": gateway}), GatewaySettings())
    assert many.redis is None and many.divisor == 6
    got = [await many.take("client:x", 30) for _ in range(11)]  # 60 tokens ÷ 6 processes
    assert got[0].limit == 10 and [d.allowed for d in got].count(True) == 10
    failures = await many.take("authfail:a", 1, capacity=20)  # an explicit bucket: its share too
    assert failures.limit == 3

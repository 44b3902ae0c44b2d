"""A failing or slow service does not take the gateway down: 503/504 problems, the circuit
breaker opening and closing again, rate limits, request ids end to end."""

import asyncio
import re
import time

from tests.gateway.conftest import bearer, restart, wait_until


def breaker_state(metrics: str, upstream: str) -> float:
    m = re.search(rf'eaglet_gateway_breaker_state\{{upstream="{upstream}"\}} (\S+)', metrics)
    assert m, metrics[:2000]
    return float(m.group(1))


async def test_request_id_is_kept_end_to_end(flaky, new_client, http):
    _, key = await new_client("bank", org="B-RID")
    gw, finance = flaky["gateway"], flaky["finance"]
    r = await http.get(gw.url + "/finance/v1/whoami", headers={**bearer(key), "X-Request-ID": "rid-e2e-0042"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "rid-e2e-0042"
    wait_until(lambda: "rid-e2e-0042" in open(finance.log_path).read())  # the service logged the same id
    r = await http.get(gw.url + "/finance/v1/whoami", headers=bearer(key))
    assert len(r.headers["x-request-id"]) >= 16  # generated when absent


async def test_rate_limit_answers_429_with_retry_after(gateway_live, new_client, http):
    _, key = await new_client("bank", org="B-RATE", rate=1)  # bucket of 2 (2 s of rate)
    url = gateway_live.url + "/registry/v1/whoami"
    first = await http.get(url, headers=bearer(key))
    assert first.status_code == 200
    assert first.headers["ratelimit-limit"] == "2" and first.headers["ratelimit-remaining"] == "1"
    statuses = [(await http.get(url, headers=bearer(key))) for _ in range(2)]
    limited = statuses[-1]
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["ratelimit-remaining"] == "0"
    # another client is not affected
    _, other = await new_client("bank", org="B-RATE-2")
    assert (await http.get(url, headers=bearer(other))).status_code == 200


async def test_public_routes_are_limited_per_ip(gateway_live, http):
    # public_per_ip defaults to 20/s with a 2 s bucket: 40 quick calls pass, then 429
    url = gateway_live.url + "/standards/v1/public/certifications/NO-SUCH-CERT"
    rs = await asyncio.gather(*(http.get(url) for _ in range(60)))
    statuses = [r.status_code for r in rs]
    assert 429 in statuses
    assert all(s != 401 for s in statuses)  # no credentials needed
    limited = next(r for r in rs if r.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1


async def test_a_stopped_service_gives_503_then_the_breaker_opens_and_closes(flaky, new_client, http):
    _, key = await new_client("bank", org="B-BRK")
    gw, finance = flaky["gateway"], flaky["finance"]
    url = gw.url + "/finance/v1/whoami"
    assert (await http.get(url, headers=bearer(key))).status_code == 200
    finance.stop()
    try:
        started = time.monotonic()
        r = await http.get(url, headers=bearer(key))
        assert time.monotonic() - started < 1.0  # within the 1 s connect timeout
        assert r.status_code == 503
        assert r.json()["code"] == "upstream_unavailable" and int(r.headers["retry-after"]) >= 1
        # each call counts 2 failures (one retry for GET): the breaker (3 failures) is open now
        await http.get(url, headers=bearer(key))
        metrics = (await http.get(gw.url + "/metrics")).text
        assert breaker_state(metrics, "finance") == 2
        r = await http.get(url, headers=bearer(key))
        assert r.status_code == 503 and "circuit open" in r.json()["detail"]
        assert breaker_state((await http.get(gw.url + "/metrics")).text, "registry") == 0  # others unaffected
    finally:
        restart(finance)
    await asyncio.sleep(1.1)  # breaker_open_s = 1: the next call is the half-open probe
    r = await http.get(url, headers=bearer(key))
    assert r.status_code == 200
    assert breaker_state((await http.get(gw.url + "/metrics")).text, "finance") == 0


async def test_a_service_that_does_not_answer_gives_504(flaky, new_client, http):
    _, key = await new_client("certifier", org="C-SLOW")
    started = time.monotonic()
    r = await http.get(flaky["gateway"].url + "/standards/v1/whoami", headers=bearer(key))
    assert r.status_code == 504 and r.json()["code"] == "upstream_timeout"
    assert time.monotonic() - started < 2.0  # read timeout 0.5 s, GET timeouts are not retried


async def test_bad_routes_are_problems(gateway_live, new_client, http):
    _, key = await new_client("admin")
    r = await http.get(gateway_live.url + "/registry/healthz", headers=bearer(key))
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


async def test_metrics_count_proxied_calls_per_route(gateway_live, new_client, http):
    _, key = await new_client("bank", org="B-MET")
    await http.get(gateway_live.url + "/registry/v1/whoami", headers=bearer(key))
    text = (await http.get(gateway_live.url + "/metrics")).text
    assert 'route="/registry/v1/* (read)",service="gateway",status="200"' in text
    assert 'eaglet_gateway_upstream_responses_total{outcome="200",upstream="registry"}' in text


async def test_a_service_s_own_503_problem_reaches_the_caller_and_never_opens_the_breaker(
    edge, new_client, http
):
    """A service whose database is away answers 503 database_unavailable itself: it is alive, so
    the gateway passes the problem on (code and Retry-After kept, not retried) and its breaker
    stays closed, so callers are served the moment the database is back."""
    _, key = await new_client("admin")
    gw = edge["gateway"].url
    for _ in range(5):  # more than the breaker's 3 failures
        r = await http.get(gw + "/registry/v1/database-away", headers=bearer(key))
        assert r.status_code == 503 and r.json()["code"] == "database_unavailable"
        assert r.headers["retry-after"] == "2"
    assert breaker_state((await http.get(gw + "/metrics")).text, "registry") == 0
    assert (await http.get(gw + "/registry/v1/anything", headers=bearer(key))).status_code == 200


async def test_an_upstream_answer_that_is_not_http_is_a_502_problem(edge, new_client, http):
    _, key = await new_client("admin")
    r = await http.get(edge["gateway"].url + "/registry/v1/not-http", headers=bearer(key))
    assert r.status_code == 502 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "upstream_bad_response"

"""Several processes of one gateway or service (`eaglet serve --workers N`, or replicas): they
share the port, a revoked key stops working on every one of them, one Idempotency-Key writes once
whichever process gets it, and SIGTERM lets the in-flight requests finish."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import httpx
import pytest

from tests.gateway.conftest import StubUpstream, bearer, start_gateway, wait_until
from tests.support import raw_request, start_live


def spawned_workers(pid: int) -> list[int]:
    """The uvicorn worker processes of the supervisor `pid` (multiprocessing's spawned children)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != pid:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except (OSError, ValueError, IndexError):
            continue
        if b"spawn_main" in cmdline:
            found.append(int(entry))
    return found


async def fresh_connections(url: str, key: str, n: int) -> list[int]:
    """`n` calls, each on a connection of its own (so the kernel may give each to another worker)."""
    statuses = []
    for _ in range(n):
        async with httpx.AsyncClient(timeout=5) as c:
            statuses.append((await c.get(url + "/registry/v1/whoami", headers=bearer(key))).status_code)
    return statuses


@pytest.fixture(scope="module")
def two_gateways(live_services):
    """Gateway A (one process) and gateway B (two workers) in front of the same services. B trusts
    a verified key for a minute: only the revocation notice can make it refuse one sooner."""
    a = start_gateway(live_services)
    b = start_gateway(live_services, {"EAGLET_AUTH_CACHE_TTL_S": "60"}, options=("--workers", "2"))
    wait_until(lambda: len(spawned_workers(b.proc.pid)) == 2, timeout_s=30)
    yield a, b
    a.stop()
    b.stop()


def requests_counted(server) -> float:
    """eaglet_http_requests_total summed over its series, scrapes of /metrics left out (a scrape on
    a connection of its own: any worker may answer it)."""
    text = httpx.get(server.url + "/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("eaglet_http_requests_total{") and 'route="/metrics"' not in line
    )


async def test_workers_share_the_port_and_report_one_sum(two_gateways, new_client):
    _, b = two_gateways
    assert len(spawned_workers(b.proc.pid)) == 2
    _, key = await new_client("bank", org="B-WORKERS")
    before = await asyncio.to_thread(requests_counted, b)
    assert await fresh_connections(b.url, key, 12) == [200] * 12
    # whichever worker answers the scrape, it reports both workers' requests
    await asyncio.to_thread(wait_until, lambda: requests_counted(b) == before + 12)
    for _ in range(6):
        assert await asyncio.to_thread(requests_counted, b) == before + 12
    # each worker runs the kit's protocols: a parser refusal is a problem, not uvicorn's text
    for _ in range(4):
        refused = await asyncio.to_thread(raw_request, b.url, b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n")
        assert refused.status == 400 and refused.json()["code"] == "invalid_http_request"


async def test_a_key_revoked_on_one_gateway_is_refused_by_every_process_of_another(
    two_gateways, new_client, http
):
    a, b = two_gateways
    _, admin = await new_client("admin")
    bank_id, key = await new_client("bank", org="B-REVOKE")
    # verified and cached everywhere (both workers of B, most likely: 12 fresh connections)
    assert await fresh_connections(a.url, key, 2) == [200] * 2
    assert await fresh_connections(b.url, key, 12) == [200] * 12
    r = await http.post(f"{a.url}/v1/clients/{bank_id}/revoke", headers=bearer(admin))
    assert r.status_code == 200, r.text
    revoked_at = time.monotonic()
    assert await fresh_connections(a.url, key, 1) == [401]
    # B's workers drop it on PostgreSQL's NOTIFY, well before their 60 s cache would
    while (statuses := await fresh_connections(b.url, key, 12)) != [401] * 12:
        assert time.monotonic() - revoked_at < 2.0, statuses
        await asyncio.sleep(0.05)


@pytest.fixture
def two_service_processes(database_url):
    """Two processes of one service app (tests.common.idempotency_app) on one database."""
    servers = [start_live("idem", app="tests.common.idempotency_app:create_app") for _ in range(2)]
    yield servers
    for s in servers:
        s.stop()


async def test_one_idempotency_key_on_two_processes_writes_once(two_service_processes, as_, db, http):
    headers = {**as_("bank", org="B-IDEM"), "Idempotency-Key": "two-procs-1"}
    body = {"text": "pause two processes"}  # half a second in flight: the others meet it running
    answers = await asyncio.gather(
        *(http.post(s.url + "/v1/notes", json=body, headers=headers) for s in two_service_processes * 2)
    )
    firsts = [r for r in answers if r.status_code == 201 and "idempotent-replayed" not in r.headers]
    assert len(firsts) == 1, [(r.status_code, dict(r.headers)) for r in answers]
    for r in answers:
        if r is not firsts[0]:
            assert (r.status_code == 409 and r.json()["code"] == "idempotency_in_flight") or (
                r.status_code == 201 and r.headers["idempotent-replayed"] == "true"
            ), r.text
    # afterwards each process replays the stored answer (stored a moment after the first answer
    # went out: until then the key is still in flight)
    for s in two_service_processes:
        deadline = time.monotonic() + 3
        while (again := await http.post(s.url + "/v1/notes", json=body, headers=headers)).status_code == 409:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
        assert again.json() == firsts[0].json()
    notes = "SELECT count(*) FROM registry.changes WHERE entity_type = 'note' AND entity_key = $1"
    assert await db.fetchval(notes, body["text"]) == 1


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_sigterm_lets_an_in_flight_request_finish(live_services, new_client, workers):
    stub = StubUpstream()
    options = ("--workers", workers, "--timeout-graceful-shutdown", "10")
    gw = start_gateway(live_services, options=options, registry=stub.url)
    try:
        if workers != "1":
            wait_until(lambda: len(spawned_workers(gw.proc.pid)) == int(workers), timeout_s=30)
        _, key = await new_client("bank", org=f"B-DRAIN-{workers}")
        async with httpx.AsyncClient(timeout=15) as c:
            slow = asyncio.create_task(c.get(gw.url + "/registry/v1/slow?s=2", headers=bearer(key)))
            assert await asyncio.to_thread(stub.slow_started.wait, 10)
            gw.proc.send_signal(signal.SIGTERM)  # as the kubelet does after the preStop pause
            sent = time.monotonic()
            r = await slow
        assert r.status_code == 200 and r.json()["target"] == "/v1/slow?s=2"
        assert r.headers["connection"] == "close"  # the process is going: not kept alive
        code = await asyncio.to_thread(gw.proc.wait, 12)
        # after its graceful shutdown uvicorn ends by the signal it caught (as the kubelet expects)
        assert code in (0, -signal.SIGTERM) and time.monotonic() - sent < 10
    finally:
        gw.stop()
        stub.close()

"""Idempotency-Key on POST: replay, different request → 422, in flight → 409 with Retry-After, 5xx
releases the key, a claim whose holder died is taken over once its lease runs out."""

import asyncio
import time

import httpx
import pytest

from services.common import idempotency
from services.common.idempotency import IdempotencyMiddleware, process_holder, request_digest
from services.common.settings import get_settings
from tests import support
from tests.common.idempotency_app import create_app, gate


@pytest.fixture(scope="module")
def app(database_url):
    return create_app()


@pytest.fixture
def client(app):
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    )


async def _notes(db) -> int:
    return await db.fetchval("SELECT count(*) FROM registry.changes WHERE entity_type = 'note'")


async def test_same_key_same_body_replays_without_writing_again(client, as_, db):
    h = {**as_("bank", org="B1"), "Idempotency-Key": "k-1"}
    first = await client.post("/v1/notes", json={"text": "hello"}, headers=h)
    again = await client.post("/v1/notes", json={"text": "hello"}, headers=h)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await _notes(db) == 1


async def test_same_key_different_body_is_422(client, as_):
    h = {**as_("bank", org="B1"), "Idempotency-Key": "k-2"}
    await client.post("/v1/notes", json={"text": "one"}, headers=h)
    r = await client.post("/v1/notes", json={"text": "two"}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_reused"
    assert r.json()["errors"][0]["pointer"] == "#/header/idempotency-key"


async def test_keys_belong_to_their_caller(client, as_, db):
    await client.post(
        "/v1/notes", json={"text": "a"}, headers={**as_("bank", org="B1"), "Idempotency-Key": "k-3"}
    )
    r = await client.post(
        "/v1/notes", json={"text": "b"}, headers={**as_("bank", org="B2"), "Idempotency-Key": "k-3"}
    )
    assert r.status_code == 201 and await _notes(db) == 2


async def test_a_request_still_in_flight_gives_409(client, as_):
    gate.clear()
    h = {**as_("bank", org="B1"), "Idempotency-Key": "k-4"}
    first = asyncio.create_task(client.post("/v1/notes", json={"text": "slow"}, headers=h))
    await asyncio.sleep(0.3)
    second = await client.post("/v1/notes", json={"text": "slow"}, headers=h)
    assert second.status_code == 409 and second.json()["code"] == "idempotency_in_flight"
    assert 1 <= int(second.headers["retry-after"]) <= get_settings().idempotency_lease_s
    gate.set()
    assert (await first).status_code == 201


async def test_a_server_error_releases_the_key_and_rolls_back(client, as_, db):
    h = {**as_("bank", org="B1"), "Idempotency-Key": "k-5"}
    r = await client.post("/v1/notes", json={"text": "boom"}, headers=h)
    assert r.status_code == 500 and r.json()["code"] == "internal_error" and r.json()["request_id"]
    assert "kaboom" not in r.text
    assert await _notes(db) == 0
    assert await db.fetchval("SELECT count(*) FROM registry.idempotency_keys") == 0


async def test_without_a_key_requests_are_independent(client, as_, db):
    for _ in range(2):
        assert (await client.post("/v1/notes", json={"text": "x"}, headers=as_())).status_code == 201
    assert await _notes(db) == 2


async def test_validation_problems_point_at_the_field(client, as_):
    r = await client.post("/v1/notes", json={"txt": 1}, headers=as_())
    assert r.status_code == 422
    assert r.json()["errors"][0] == {"pointer": "/text", "code": "missing", "message": "Field required"}


# ---- the same request ----------------------------------------------------------------------------


async def test_json_bodies_equal_when_parsed_are_the_same_request(client, as_, db):
    h = {**as_("bank", org="B1"), "Idempotency-Key": "k-json", "Content-Type": "application/json"}
    first = await client.post("/v1/echo", content=b'{"a":1,"b":2}', headers=h)
    again = await client.post("/v1/echo", content=b'{ "b": 2,\n  "a": 1 }', headers=h)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    other = await client.post("/v1/echo", content=b'{"a":1,"b":3}', headers=h)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert await db.fetchval("SELECT count(*) FROM registry.changes WHERE entity_type = 'echo'") == 1


async def test_queries_in_another_order_are_the_same_request(client, as_):
    h = {**as_("bank", org="B1"), "Idempotency-Key": "k-query"}
    first = await client.post("/v1/echo?x=1&y=2", json={}, headers=h)
    again = await client.post("/v1/echo?y=2&x=1", json={}, headers=h)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    other = await client.post("/v1/echo?x=1&y=3", json={}, headers=h)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


async def test_non_json_bodies_compare_as_bytes(client, as_):
    h = {**as_("bank", org="B1"), "Idempotency-Key": "k-bytes", "Content-Type": "text/plain"}
    first = await client.post("/v1/echo", content=b'{"a":1,"b":2}', headers=h)
    again = await client.post("/v1/echo", content=b'{"a":1,"b":2}', headers=h)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    other = await client.post("/v1/echo", content=b'{"b":2,"a":1}', headers=h)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


# ---- claims of requests that died ----------------------------------------------------------------

OWNER = "bank:B1:test-user"


def _bank(as_, key: str) -> dict[str, str]:
    return {**as_("bank", org="B1", sub="test-user"), "Idempotency-Key": key}


async def _leave_claim(db, key: str, holder: str, lease_s: float, body: bytes = b'{"text":"x"}') -> None:
    """A claim as a holder leaves it when it dies mid-request: in flight, its lease running out in
    `lease_s` seconds (negative: already expired)."""
    digest = request_digest("POST", "/v1/notes", b"", "application/json", body)
    await db.execute(
        "INSERT INTO registry.idempotency_keys (owner, key, request_hash, state, holder, claim, lease_until) "
        "VALUES ($1, $2, $3, 'in_flight', $4, 'dead-claim', now() + make_interval(secs => $5))",
        OWNER,
        key,
        digest,
        holder,
        lease_s,
    )


async def test_a_claim_whose_lease_ran_out_is_taken_over_at_once(client, as_, db):
    await _leave_claim(db, "k-dead", "other-host:4242:0000", -1)
    r = await client.post("/v1/notes", json={"text": "x"}, headers=_bank(as_, "k-dead"))
    assert r.status_code == 201, r.text
    assert "idempotent-replayed" not in r.headers
    again = await client.post("/v1/notes", json={"text": "x"}, headers=_bank(as_, "k-dead"))
    assert again.headers["idempotent-replayed"] == "true"


async def test_a_live_lease_of_another_process_is_a_409_until_it_runs_out(client, as_, db):
    await _leave_claim(db, "k-lease", "other-host:4242:0000", 2)
    r = await client.post("/v1/notes", json={"text": "x"}, headers=_bank(as_, "k-lease"))
    assert r.status_code == 409 and r.json()["code"] == "idempotency_in_flight"
    assert 1 <= int(r.headers["retry-after"]) <= 2
    await asyncio.sleep(int(r.headers["retry-after"]) + 0.1)
    r = await client.post("/v1/notes", json={"text": "x"}, headers=_bank(as_, "k-lease"))
    assert r.status_code == 201, r.text


async def test_a_claim_this_process_holds_but_no_longer_runs_is_taken_over_at_once(client, as_, db):
    """Its request ended without releasing the claim (the database was away when it finished):
    the process knows it runs no such request, so the lease need not run out."""
    await _leave_claim(db, "k-own", process_holder(), 60)
    r = await client.post("/v1/notes", json={"text": "x"}, headers=_bank(as_, "k-own"))
    assert r.status_code == 201, r.text


async def test_a_claim_counts_as_running_from_before_it_is_written(client, as_, monkeypatch):
    """Else a second request of this process, reading the claim between its commit and its
    request's start, would take it for one whose request is gone and run it a second time."""
    seen = []
    real = IdempotencyMiddleware._claim

    async def spying(self, engine, owner, key, digest, claim):
        seen.append(claim in idempotency._RUNNING)
        return await real(self, engine, owner, key, digest, claim)

    monkeypatch.setattr(IdempotencyMiddleware, "_claim", spying)
    r = await client.post("/v1/notes", json={"text": "x"}, headers=_bank(as_, "k-early"))
    assert r.status_code == 201 and seen == [True]
    assert not idempotency._RUNNING  # released once the answer is stored


async def test_the_answer_is_stored_before_its_last_part_goes_out(app, as_, db):
    """A client that has the whole answer and retries at once gets the replay, not a second run."""
    states = []

    async def receive():
        return {"type": "http.request", "body": b'{"text": "x"}', "more_body": False}

    async def send(message):
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            states.append(
                await db.fetchval("SELECT state FROM registry.idempotency_keys WHERE key = 'k-stored'")
            )

    headers = {**_bank(as_, "k-stored"), "content-type": "application/json"}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/notes",
        "raw_path": b"/v1/notes",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("t", 80),
    }
    await app(scope, receive, send)
    assert states == ["done"]


async def test_a_request_running_longer_than_the_lease_keeps_its_claim(database_url, as_, db):
    """The holder renews its lease while the request runs: a retry meanwhile is a 409, not a
    second run."""
    short = get_settings().model_copy(update={"idempotency_lease_s": 0.6})
    app = create_app(short)
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    gate.clear()
    h = _bank(as_, "k-long")
    first = asyncio.create_task(c.post("/v1/notes", json={"text": "slow"}, headers=h))
    await asyncio.sleep(2.0)  # three leases
    second = await asyncio.wait_for(c.post("/v1/notes", json={"text": "slow"}, headers=h), 5)
    assert second.status_code == 409 and int(second.headers["retry-after"]) == 1
    gate.set()
    assert (await first).status_code == 201
    assert await db.fetchval("SELECT count(*) FROM registry.changes WHERE entity_type = 'note'") == 1
    await app.state.engine.dispose()


async def test_a_retry_after_the_server_died_mid_request_succeeds_within_seconds(client, as_, db):
    """A real server is killed (SIGKILL) while it runs the request: its claim stays in flight, the
    retry is told when to come back (Retry-After, here within the server's 3 s lease) and then runs."""
    server = support.start_live(
        "idempotency",
        env={"EAGLET_IDEMPOTENCY_LEASE_S": "3", "IDEMPOTENCY_TEST_HANG": "1"},
        app="tests.common.idempotency_app:create_app",
    )
    h = _bank(as_, "k-killed")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as live:
            doomed = asyncio.create_task(live.post("/v1/notes", json={"text": "hang"}, headers=h))
            claimed = "SELECT count(*) FROM registry.idempotency_keys WHERE key = 'k-killed'"
            for _ in range(200):
                if await db.fetchval(claimed):
                    break
                await asyncio.sleep(0.05)
            server.proc.kill()
            server.proc.wait(10)
            with pytest.raises(httpx.HTTPError):
                await doomed
    finally:
        server.stop()
    started = time.monotonic()
    r = await client.post("/v1/notes", json={"text": "hang"}, headers=h)
    assert r.status_code == 409 and 1 <= int(r.headers["retry-after"]) <= 3
    await asyncio.sleep(int(r.headers["retry-after"]))
    r = await client.post("/v1/notes", json={"text": "hang"}, headers=h)
    assert r.status_code == 201, r.text
    assert time.monotonic() - started < 4.5
    assert await db.fetchval("SELECT count(*) FROM registry.changes WHERE entity_type = 'note'") == 1


async def test_a_key_holding_a_control_character_is_a_400_problem_not_stored(client, as_, db):
    for key in (b"k\x00nul", b"k\x1besc", b"k\x85next-line"):  # \x85: latin-1's NEL
        h = {**as_("bank", org="B1"), "Idempotency-Key": key}
        r = await client.post("/v1/notes", json={"text": "x"}, headers=h)
        assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json", r.text
        assert r.json()["code"] == "invalid_idempotency_key"
        assert r.json()["errors"][0]["pointer"] == "#/header/idempotency-key"
    assert await db.fetchval("SELECT count(*) FROM registry.idempotency_keys") == 0
    assert await _notes(db) == 0

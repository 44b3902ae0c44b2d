"""Idempotency-Key on POST: replay, different body → 422, in flight → 409, 5xx releases the key."""

import asyncio

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel

from services.common.app import create_service_app
from services.common.auth import CurrentPrincipal
from services.common.changes import Change, record_change
from services.common.db import DbSession

router = APIRouter()
gate = asyncio.Event()


class Note(BaseModel):
    text: str


@router.post("/v1/notes", status_code=201)
async def create_note(note: Note, session: DbSession, principal: CurrentPrincipal) -> dict:
    await record_change(session, "registry", principal, Change("created", "note", note.text))
    if note.text == "slow":
        await gate.wait()
    if note.text == "boom":
        raise RuntimeError("kaboom")
    return {"text": note.text}


@pytest.fixture(scope="module")
def app(database_url):
    return create_service_app("registry", title="t", description="t", routers=[router])


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

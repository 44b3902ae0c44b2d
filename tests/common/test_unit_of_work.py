"""One unit of work per request: writes commit together or not at all; reads open no transaction."""

import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy import text

from services.common.app import create_service_app
from services.common.auth import CurrentPrincipal
from services.common.changes import Change, record_change
from services.common.db import DbSession
from services.common.errors import Problem

router = APIRouter()


async def _in_transaction(session) -> bool:
    await session.execute(text("SELECT 1"))
    raw = (await (await session.connection()).get_raw_connection()).driver_connection
    return raw.is_in_transaction()


@router.get("/v1/probe")
async def probe_read(session: DbSession) -> dict:
    return {"in_transaction": await _in_transaction(session)}


@router.post("/v1/probe")
async def probe_write(session: DbSession, principal: CurrentPrincipal, fail: bool = False) -> dict:
    await record_change(session, "registry", principal, Change("created", "probe", "p1"))
    if fail:
        raise Problem(409, "conflict", "refused after writing")
    return {"in_transaction": await _in_transaction(session)}


@pytest.fixture(scope="module")
def client(database_url):
    app = create_service_app("registry", title="t", description="t", routers=[router])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_reads_run_without_begin_and_commit(client):
    assert (await client.get("/v1/probe")).json() == {"in_transaction": False}


async def test_writes_commit_together(client, as_, db):
    assert (await client.post("/v1/probe", headers=as_())).json() == {"in_transaction": True}
    assert await db.fetchval("SELECT count(*) FROM registry.changes WHERE entity_type = 'probe'") == 1


async def test_a_problem_rolls_back_everything_written(client, as_, db):
    r = await client.post("/v1/probe", params={"fail": "true"}, headers=as_())
    assert r.status_code == 409
    assert await db.fetchval("SELECT count(*) FROM registry.changes WHERE entity_type = 'probe'") == 0

"""A unique violation anywhere is a 409 problem (one kit handler), whether the database reports it
at a flush, at the unit of work's commit or on the raw connection; nothing of the request stays."""

import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy import text

from services.common.app import create_service_app
from services.common.auth import CurrentPrincipal
from services.common.changes import Change, record_change
from services.common.db import DbSession, raw_connection
from services.registry.enterprises.models import Enterprise
from tests.registry_data import new_credit_code

router = APIRouter()
ROW = {
    "credit_code": new_credit_code(),
    "name": "杭州重复登记有限公司",
    "region_code": "330106",
    "industry_code": "3311",
}
INSERT = (
    "INSERT INTO registry.enterprises (credit_code, name, region_code, industry_code) VALUES ($1, $2, $3, $4)"
)


async def _log(session, principal) -> None:
    await record_change(session, "registry", principal, Change("created", "probe", "p1"))


@router.post("/v1/flush")
async def add_and_flush(session: DbSession, principal: CurrentPrincipal) -> dict:
    await _log(session, principal)
    session.add(Enterprise(**ROW))
    await session.flush()
    return {}


@router.post("/v1/commit")
async def add_and_leave_it_to_the_commit(session: DbSession, principal: CurrentPrincipal) -> dict:
    await _log(session, principal)
    session.add(Enterprise(**ROW))  # flushed by the unit of work's commit, after the route returned
    return {}


@router.post("/v1/raw")
async def insert_on_the_raw_connection(session: DbSession, principal: CurrentPrincipal) -> dict:
    await _log(session, principal)
    conn = await raw_connection(session)
    await conn.execute(INSERT, *ROW.values())
    return {}


@router.post("/v1/core")
async def insert_with_a_core_statement(session: DbSession, principal: CurrentPrincipal) -> dict:
    await _log(session, principal)
    await session.execute(
        text(
            "INSERT INTO registry.enterprises (credit_code, name, region_code, industry_code) "
            "VALUES (:credit_code, :name, :region_code, :industry_code)"
        ),
        ROW,
    )
    return {}


@pytest.fixture(scope="module")
def client(database_url):
    app = create_service_app("registry", title="t", description="t", routers=[router])
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    )


@pytest.mark.parametrize("route", ["/v1/flush", "/v1/commit", "/v1/raw", "/v1/core"])
async def test_a_unique_violation_is_a_409_problem_pointing_at_the_fields(client, as_, db, route):
    await db.execute(INSERT, *ROW.values())
    r = await client.post(route, headers=as_())
    assert r.status_code == 409, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "already_exists" and body["status"] == 409 and body["request_id"]
    assert [e["pointer"] for e in body["errors"]] == ["/credit_code"]
    assert all(e["code"] == "already_exists" for e in body["errors"])
    assert "pk_enterprises" not in r.text and "Key (" not in r.text  # no SQL or constraint internals
    assert await db.fetchval("SELECT count(*) FROM registry.enterprises") == 1
    assert await db.fetchval("SELECT count(*) FROM registry.changes WHERE entity_type = 'probe'") == 0


async def test_other_integrity_errors_stay_a_500_problem(client, as_, db):
    """Only unique violations are the client's conflict; a broken constraint of another kind is ours."""
    await db.execute(
        "ALTER TABLE registry.enterprises ADD CONSTRAINT _probe CHECK (name <> '杭州重复登记有限公司')"
    )
    try:
        r = await client.post("/v1/raw", headers=as_())
    finally:
        await db.execute("ALTER TABLE registry.enterprises DROP CONSTRAINT _probe")
    assert r.status_code == 500 and r.json()["code"] == "internal_error"
    assert "_probe" not in r.text

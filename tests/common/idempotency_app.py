"""A small service app for the Idempotency-Key tests: in process, or as a real uvicorn server
(`uvicorn tests.common.idempotency_app:create_app --factory`) that a test can kill mid-request."""

from __future__ import annotations

import asyncio
import os

from fastapi import APIRouter, Request
from pydantic import BaseModel

from services.common.app import create_service_app
from services.common.auth import CurrentPrincipal
from services.common.changes import Change, record_change
from services.common.db import DbSession
from services.common.settings import Settings

router = APIRouter()
gate = asyncio.Event()


class Note(BaseModel):
    text: str


@router.post("/v1/notes", status_code=201)
async def create_note(note: Note, session: DbSession, principal: CurrentPrincipal) -> dict:
    """`slow` waits for `gate`, `hang` never returns in a server started with IDEMPOTENCY_TEST_HANG=1,
    `boom` fails, `pause…` answers after half a second: each after writing its note."""
    await record_change(session, "registry", principal, Change("created", "note", note.text))
    if note.text == "slow":
        await gate.wait()
    if note.text == "hang" and os.environ.get("IDEMPOTENCY_TEST_HANG") == "1":
        await asyncio.sleep(3600)
    if note.text.startswith("pause"):
        await asyncio.sleep(0.5)
    if note.text == "boom":
        raise RuntimeError("kaboom")
    return {"text": note.text}


@router.post("/v1/echo", status_code=201)
async def echo(request: Request, session: DbSession, principal: CurrentPrincipal) -> dict:
    """Any body, any query: answers what it got and logs one `echo` change per run."""
    body = await request.body()
    await record_change(session, "registry", principal, Change("created", "echo", str(len(body))))
    return {"query": str(request.query_params), "body": body.decode("utf-8", "replace")}


def create_app(settings: Settings | None = None):
    return create_service_app("registry", title="t", description="t", routers=[router], settings=settings)

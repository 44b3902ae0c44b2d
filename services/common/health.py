"""`/healthz` (process alive), `/readyz` (database reachable), `/metrics` (Prometheus)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from sqlalchemy import text

from services.common.errors import DatabaseUnavailable, responses
from services.common.metrics import render

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="readyz",
    summary="The database is reachable",
    responses=responses(DatabaseUnavailable),
)
async def readyz(request: Request) -> dict[str, str]:
    try:
        async with asyncio.timeout(3):
            async with request.app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception as e:
        raise DatabaseUnavailable() from e
    return {"status": "ready"}


@router.get(
    "/metrics",
    operation_id="metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics() -> Response:
    body, content_type = render()
    return Response(body, media_type=content_type)

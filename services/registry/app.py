"""The registry service app: `uvicorn services.registry.app:create_app --factory`."""

from fastapi import FastAPI

from services.common.app import create_service_app
from services.common.settings import Settings

ROUTERS: list = []


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "registry",
        title="eaglet registry",
        description="Enterprise registry and 雏鹰行动 cultivation pool (培育库): enterprises by unified social credit code, annual indicators, size classes, titles and tiers, screenings, parks, statistics.",
        routers=ROUTERS,
        settings=settings,
    )

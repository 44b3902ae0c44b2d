"""The gateway app: `uvicorn gateway.app:create_app --factory`. (Routing and auth arrive with the gateway issue.)"""

from fastapi import FastAPI

from services.common.app import create_service_app
from services.common.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "gateway",
        title="eaglet gateway",
        description="The one front door of eaglet.",
        settings=settings,
    )

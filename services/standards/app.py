"""The standards service app: `uvicorn services.standards.app:create_app --factory`."""

from fastapi import FastAPI

from services.common.app import create_service_app
from services.common.settings import Settings

ROUTERS: list = []


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "standards",
        title="eaglet standards",
        description="Standards catalogue, drafting participation, 品字标 浙江制造 certification push and public verification, adoption statistics.",
        routers=ROUTERS,
        settings=settings,
    )

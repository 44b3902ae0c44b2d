"""The finance service app: `uvicorn services.finance.app:create_app --factory`."""

from fastapi import FastAPI

from services.common.app import create_service_app
from services.common.settings import Settings

ROUTERS: list = []


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "finance",
        title="eaglet finance",
        description="Financing support: bank loans, credit lines and loan applications, guarantees, inclusive-finance statistics.",
        routers=ROUTERS,
        settings=settings,
    )

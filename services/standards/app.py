"""The standards service app: `uvicorn services.standards.app:create_app --factory`."""

from fastapi import FastAPI

from services.common.app import create_service_app
from services.common.events_route import events_router
from services.common.settings import Settings
from services.standards.adoption.router import router as adoption_router
from services.standards.catalogue.router import router as catalogue_router
from services.standards.certifications.router import router as certifications_router
from services.standards.stats.router import router as stats_router
from services.standards.submissions import router as submissions_router
from services.standards.verification import fast_path
from services.standards.verification.router import router as verification_router

# The public verification routes come first: they are the hot path, and routes are matched in order.
ROUTERS: list = [
    verification_router,
    catalogue_router,
    certifications_router,
    adoption_router,
    stats_router,
    submissions_router,
    events_router("standards"),
]


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "standards",
        title="eaglet standards",
        description="Standards catalogue, drafting participation, 品字标 浙江制造 certification push and public verification, adoption statistics.",
        routers=ROUTERS,
        tags={
            "public verification": "Anyone may verify a 品字标 certificate by its number",
            "standards catalogue": "The standards catalogue and its drafters",
            "certifications": "品字标 浙江制造 certificate decisions pushed by certification bodies",
            "adoption": "An enterprise's yearly standards adoption report",
            "statistics": "Standards and certification statistics",
            "submissions": "Large files of certificate decisions, validated and written in the background",
        },
        settings=settings,
        fast_routes=fast_path.ROUTES,
    )

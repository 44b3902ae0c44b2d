"""The registry service app: `uvicorn services.registry.app:create_app --factory`."""

from fastapi import FastAPI

from services.common.app import create_service_app
from services.common.events_route import events_router
from services.common.settings import Settings
from services.registry.enterprises import fast_path
from services.registry.enterprises.router import router as enterprises_router
from services.registry.exports.router import router as exports_router
from services.registry.indicators.router import router as indicators_router
from services.registry.institutions.router import router as institutions_router
from services.registry.jobs.router import router as jobs_router
from services.registry.parks.router import router as parks_router
from services.registry.pool import runner
from services.registry.pool.router import router as pool_router
from services.registry.reference.router import router as reference_router
from services.registry.scale.router import router as scale_router
from services.registry.stats.router import router as stats_router
from services.registry.submissions import router as submissions_router
from services.registry.targets.router import router as targets_router
from services.registry.titles.router import router as titles_router

ROUTERS: list = [
    reference_router,
    enterprises_router,
    indicators_router,
    scale_router,
    titles_router,
    pool_router,
    parks_router,
    institutions_router,
    stats_router,
    targets_router,
    events_router("registry"),
    jobs_router,
    exports_router,
    submissions_router,
]


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "registry",
        title="eaglet registry",
        description="Enterprise registry and 雏鹰行动 cultivation pool (培育库): enterprises by unified social credit code, annual indicators, size classes, titles and tiers, screenings, parks, statistics.",
        routers=ROUTERS,
        tags={
            "reference": "Regions (GB/T 2260), industries (GB/T 4754-2017), size classes, title kinds",
            "enterprises": "The enterprise registry by unified social credit code: batch, search, export",
            "indicators": "Annual indicators of an enterprise, with its size class",
            "scale status": "规上 (above designated size) status and its history",
            "titles": "Titles granted to enterprises (专精特新, 隐形冠军…), and their revocation",
            "cultivation pool": "The 雏鹰行动 cultivation pool (培育库): rule sets, screenings, tiers",
            "parks": "小微企业园 parks and their tenants",
            "service institutions": "省级以上示范服务机构(平台) and the figures other departments report",
            "statistics": "Registry statistics by region, industry and tier",
            "targets": "The programme's yearly targets per region (每年制定目标任务)",
            "jobs": "Background jobs (screenings, exports) and their status",
            "exports": "Asynchronous exports of the enterprise list",
            "submissions": "Large files of enterprises (an official's import), validated and written in the background",
        },
        settings=settings,
        fast_routes=fast_path.ROUTES,
        on_shutdown=(runner.shutdown,),
    )

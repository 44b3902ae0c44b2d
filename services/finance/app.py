"""The finance service app: `uvicorn services.finance.app:create_app --factory`."""

from fastapi import FastAPI

from services.common.app import create_service_app
from services.common.events_route import events_router
from services.common.settings import Settings
from services.finance.applications.router import router as applications_router
from services.finance.book.router import router as book_router
from services.finance.guarantees.router import router as guarantees_router
from services.finance.institutions.router import router as institutions_router
from services.finance.lines.router import router as lines_router
from services.finance.loans.router import router as loans_router
from services.finance.stats.router import router as stats_router
from services.finance.submissions import router as submissions_router

ROUTERS: list = [
    institutions_router,
    loans_router,
    lines_router,
    applications_router,
    book_router,
    guarantees_router,
    stats_router,
    submissions_router,
    events_router("finance"),
]


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "finance",
        title="eaglet finance",
        description="Financing support: bank loans, credit lines and loan applications, guarantees, inclusive-finance statistics.",
        routers=ROUTERS,
        tags={
            "institutions": "Banks and guarantee institutions (admin registers them)",
            "loans": "Bank loans: batch ingest by the lending bank, scoped lists and reads",
            "credit lines": "Credit lines (授信) posted by banks",
            "loan applications": "Loan applications (申贷) and their decisions, posted by banks",
            "loan book reports": "Banks' whole loan books (各项贷款) at period ends, for “两增”",
            "guarantees": "Financing guarantees (融资担保) posted by guarantee institutions",
            "statistics": "Inclusive-finance statistics, the validation rules",
            "submissions": "Large files of loans, credit lines, applications or guarantees, validated and written in the background",
        },
        settings=settings,
    )

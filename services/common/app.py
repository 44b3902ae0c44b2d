"""The app factory every service uses: middleware, error handlers, health routes, operation ids."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from services.common.auth import CurrentPrincipal
from services.common.db import bind_database, create_engine
from services.common.docs import install_docs
from services.common.errors import install_error_handlers
from services.common.fast_path import FastPathMiddleware, FastRoute
from services.common.gc_tuning import freeze_startup_objects
from services.common.head import HeadMiddleware
from services.common.health import router as health_router
from services.common.idempotency import IdempotencyMiddleware
from services.common.logging import configure_logging
from services.common.metrics import process_exiting
from services.common.middleware import BodyLimitMiddleware, RequestContextMiddleware
from services.common.openapi import document_kit_responses
from services.common.readpool import close_read_pool
from services.common.settings import Settings, get_settings
from services.common.submissions import SUBMISSIONS_PATH

VERSION = "0.1.0"
# Who answers for the API, in every document (OpenAPI `info.contact`).
CONTACT = {"name": "eaglet platform team"}


def servers(internal: bool) -> list[dict]:
    """A document's `servers`: the address it was fetched from. A service is internal (callers go
    through the gateway); the gateway is the public front door."""
    about = "this service, behind the gateway" if internal else "the gateway, the public front door"
    return [
        {
            "url": "/",
            "description": f"The address this document was fetched from: {about}",
            "x-internal": internal,
        }
    ]


# The tags of the kit's own routes; a service adds its own (`create_service_app(tags=…)`).
KIT_TAGS = {
    "identity": "Who the verified caller of this request is",
    "events": "The change feed: every accepted change in commit order, resumable by cursor",
    "health": "Liveness, readiness and Prometheus metrics of the process",
}


def openapi_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "description": about} for name, about in {**tags, **KIT_TAGS}.items()]


# eaglet exports Prometheus metrics and JSON logs, not OpenTelemetry: FastAPI 0.16x's built-in
# telemetry otherwise asks the global OTel providers on every request, work nothing reads
# (its cost: docs/architecture.md#measurements).
NO_OTEL = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def operation_id(route: APIRoute) -> str:
    """Stable operation ids: the route function's name (unique within a service, checked by tests)."""
    return route.name


whoami_router = APIRouter(tags=["identity"])


@whoami_router.get(
    "/v1/whoami",
    operation_id="whoami",
    summary="The verified principal of this call",
)
async def whoami(principal: CurrentPrincipal) -> dict:
    return {
        "sub": principal.sub,
        "kind": principal.kind,
        "org": principal.org,
        "region": principal.region,
        "scopes": list(principal.scopes),
    }


def create_service_app(
    name: str,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    tags: dict[str, str] | None = None,
    settings: Settings | None = None,
    schema: str | None = None,
    fast_routes: Sequence[FastRoute] = (),
    on_shutdown: Sequence[Callable[[FastAPI], Awaitable[None]]] = (),
) -> FastAPI:
    """Build a service app bound to its schema (`tags`: the description of each tag its routers
    use, for the OpenAPI). The engine is created here (connections are lazy)
    and disposed on shutdown, after the service's own `on_shutdown` steps."""
    settings = (settings or get_settings()).for_process(name)  # its own role's URL, when set
    configure_logging(name, settings.log_level)
    engine = create_engine(settings, f"eaglet-{name}")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.openapi()  # built once, before the freeze, rather than on the first /openapi.json
        freeze_startup_objects()
        yield
        for step in on_shutdown:
            await step(app)
        await close_read_pool(app)
        await app.state.engine.dispose()
        process_exiting()

    app = FastAPI(
        title=title,
        description=description,
        version=VERSION,
        contact=CONTACT,
        servers=servers(internal=True),
        openapi_tags=openapi_tags(tags or {}),
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
        telemetry=NO_OTEL,
        docs_url=None,  # FastAPI's pages load their assets from a CDN: services.common.docs
        redoc_url=None,
        # A path with a trailing slash is another path: a 404 problem, not a 307 whose Location
        # names this process's own (internal) address.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.service = name
    bind_database(app, engine)

    install_error_handlers(app)
    install_docs(app, title)
    app.include_router(health_router)
    app.include_router(whoami_router)
    for router in routers:
        app.include_router(router)
    document_kit_responses(app)

    # Order: the outermost is added last. Request context wraps everything so even a 413 carries
    # the request id; the body limit applies before idempotency reads the body. A service's fast
    # routes (GETs: no body, no idempotency) are answered just inside the request context, behind the
    # layer that routes a HEAD as its GET.
    app.add_middleware(
        IdempotencyMiddleware,
        schema=schema or name,
        get_engine=lambda: app.state.engine,
        settings=settings,
        streamed=frozenset({SUBMISSIONS_PATH}),
    )
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        limits={SUBMISSIONS_PATH: settings.submissions.max_bytes},
    )
    if fast_routes:
        app.add_middleware(FastPathMiddleware, service_app=app, routes=fast_routes)
    app.add_middleware(HeadMiddleware)  # a HEAD is routed as its GET, fast routes included
    app.add_middleware(RequestContextMiddleware, service=name, retry_after_s=settings.db.retry_after_s)
    return app

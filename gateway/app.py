"""The gateway app: `uvicorn gateway.app:create_app --factory`.

The one front door: authenticates every call (API keys, OIDC JWTs), applies the route policy and
rate limits, forwards `/registry/v1/*`, `/finance/v1/*`, `/standards/v1/*` to the services with a
signed principal (pure-ASGI proxy in front of the router), and serves its own routes: API clients
(admin), the enterprise profile, the progress bulletin, webhook endpoints, and the merged OpenAPI.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from gateway.auth import Authenticator
from gateway.clients.router import router as clients_router
from gateway.compression import CompressionMiddleware
from gateway.core import Gateway
from gateway.cors import CorsHeaders, CorsPolicy, Preflights
from gateway.idempotency import caller_owner
from gateway.openapi import MergedOpenApi
from gateway.profile.router import router as profile_router
from gateway.progress.router import router as progress_router
from gateway.proxy import ProxyMiddleware
from gateway.ratelimit import Buckets
from gateway.settings import GatewaySettings, get_gateway_settings
from gateway.webhooks.router import router as webhooks_router
from services.common.app import CONTACT, NO_OTEL, VERSION, openapi_tags, operation_id, servers
from services.common.db import bind_database, create_engine
from services.common.docs import install_docs
from services.common.errors import install_error_handlers
from services.common.gc_tuning import freeze_startup_objects
from services.common.head import HeadMiddleware
from services.common.health import router as health_router
from services.common.idempotency import IdempotencyMiddleware
from services.common.logging import configure_logging
from services.common.metrics import process_exiting
from services.common.middleware import BodyLimitMiddleware, RequestContextMiddleware
from services.common.openapi import document_kit_responses
from services.common.settings import Settings, get_settings
from services.common.submissions import SERVICES_WITH_SUBMISSIONS, SUBMISSIONS_PATH

DESCRIPTION = """The one front door of eaglet (雏鹰行动 SME cultivation platform).

Send `Authorization: Bearer <API key or OIDC token>`. The services' operations are under
`/registry/v1`, `/finance/v1` and `/standards/v1`; the gateway's own: API clients (admin),
the enterprise profile, the progress bulletin and webhook endpoints (`/v1/webhooks`, any caller,
for its own events). Errors are RFC 9457 problems; 401 missing or
bad credential, 403 route not allowed for the caller, 429 rate limited (`Retry-After`),
503 `upstream_unavailable` (`Retry-After`), 504 `upstream_timeout`.
"""

# The gateway's own tags (the services' come with their documents, prefixed: `finance: loans`).
TAGS = {
    "clients": "API clients and their keys (admin)",
    "aggregates": "Answers composed from several services: the enterprise profile, the progress bulletin",
    "webhooks": "Your webhook endpoints and their deliveries (signed POSTs of your events)",
}


def create_app(settings: Settings | None = None, gateway_settings: GatewaySettings | None = None) -> FastAPI:
    settings = (settings or get_settings()).for_process("gateway")  # its own role's URL, when set
    gw_settings = gateway_settings or get_gateway_settings()
    configure_logging("gateway", settings.log_level)
    engine = create_engine(settings, "eaglet-gateway")
    buckets = Buckets.from_settings(settings, gw_settings)
    authenticator = Authenticator(settings, gw_settings, engine, buckets)
    gateway = Gateway(settings, gw_settings, authenticator)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await gateway.upstreams.start()
        await buckets.start()
        await authenticator.start(settings.db.listen_url or settings.database_url)
        merged.refresh_soon()  # the services' documents, and the methods of their paths
        freeze_startup_objects()
        try:
            yield
        finally:
            await merged.stop()
            await authenticator.stop()
            await buckets.close()
            await gateway.upstreams.close()
            await engine.dispose()
            process_exiting()

    app = FastAPI(
        title="eaglet gateway",
        description=DESCRIPTION,
        version=VERSION,
        contact=CONTACT,
        servers=servers(internal=False),
        openapi_tags=openapi_tags(TAGS),
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        telemetry=NO_OTEL,
        # A path with a trailing slash is another path: a 404 problem, not a 307 whose Location
        # names this process's own (internal) address.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.service = "gateway"
    bind_database(app, engine)
    app.state.gateway = gateway

    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(clients_router)
    app.include_router(profile_router)
    app.include_router(progress_router)
    app.include_router(webhooks_router)
    document_kit_responses(app)

    merged = MergedOpenApi(gateway, app.openapi)
    app.state.openapi = merged
    gateway.routes.refresh = merged.refresh_soon

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_json() -> JSONResponse:
        return JSONResponse(await merged.document())

    install_docs(app, "eaglet API")

    # Outermost last. The CORS headers go on every answer, the request context's own (a 500, an
    # invalid path) too; inside it (request id, access log, metrics) preflights are answered,
    # then compression wraps every body; the proxy sits in front of the router so forwarded
    # calls never touch FastAPI routing; behind it the gateway's own POSTs honour Idempotency-Key,
    # and a HEAD of the gateway's own routes is their GET.
    cors = CorsPolicy(gw_settings.cors.allowed(settings.env), gw_settings.cors.max_age_s)
    app.add_middleware(HeadMiddleware)
    app.add_middleware(
        IdempotencyMiddleware,
        schema="gateway",
        get_engine=lambda: engine,
        settings=settings,
        owner_of=caller_owner(gateway),
    )
    app.add_middleware(ProxyMiddleware, gateway=gateway)
    # a file submission streams through to its service (gateway/proxy.py), under its own limit
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        limits={f"/{s}{SUBMISSIONS_PATH}": settings.submissions.max_bytes for s in SERVICES_WITH_SUBMISSIONS},
    )
    app.add_middleware(CompressionMiddleware, min_bytes=gw_settings.compress_min_bytes)
    app.add_middleware(Preflights, policy=cors)
    app.add_middleware(RequestContextMiddleware, service="gateway", retry_after_s=settings.db.retry_after_s)
    app.add_middleware(CorsHeaders, policy=cors)
    return app

"""API keys for a benchmark's clients, made by the gateway's own client service (as an admin
would through `POST /gateway/v1/clients`), on an unpooled engine of the benchmark's database."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.clients.schemas import ClientCreate
    from services.common.settings import Settings


async def api_keys(settings: Settings, *clients: ClientCreate) -> list[str]:
    """The secret key of each client made, in order, in one transaction."""
    from gateway.clients.service import create_client
    from services.common.auth import Principal
    from services.common.db import create_engine, create_sessionmaker

    engine = create_engine(
        settings.model_copy(update={"db": settings.db.model_copy(update={"pool": "null"})}), "bench"
    )
    try:
        async with create_sessionmaker(engine)() as session:
            admin = Principal(sub="bench", kind="admin")
            keys = [(await create_client(session, admin, c)).key for c in clients]
            await session.commit()
        return keys
    finally:
        await engine.dispose()

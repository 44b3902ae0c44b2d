"""Long-lived loops the worker process runs beside procrastinate's worker (services/jobs/worker.py).

Each is `async def loop(settings, stop)`: it runs until `stop` is set, then returns promptly
(whatever it holds released). A loop that returns or raises before `stop` stops the whole worker,
so a deployment's restart policy brings both back. Add a loop by appending it here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from gateway.webhooks import dispatcher
from services.common.settings import Settings

Loop = Callable[[Settings, asyncio.Event], Awaitable[None]]

LOOPS: list[Loop] = [
    dispatcher.run,  # webhook deliveries: fan-out from the feeds, signed sends, retries
]

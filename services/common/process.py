"""A process that runs one coroutine until SIGTERM or SIGINT (the worker, a standalone loop)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable


def run_until_signalled(body: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `body(stop)` on a new event loop; SIGTERM or SIGINT sets `stop` (the body then ends
    what it holds and returns: a deployment's stop is a clean shutdown, never a kill mid-write)."""

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await body(stop)

    asyncio.run(go())

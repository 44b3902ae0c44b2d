"""Point lookups made in the same event-loop turn, answered by one set-based query.

Under load many requests for single records are in flight at once (people scanning the QR codes
of certified products). Each one paying for its own pool hand-out and round trip costs the worker
more Python than the lookup costs PostgreSQL. A `Coalescer` gathers the keys asked for while the
loop runs the handlers that are ready, then loads them all with one `load_many` call (e.g.
`WHERE key = ANY($1)`); each caller gets its own key's value. An idle service still answers at
once: the load is scheduled for the loop's next turn, not after a delay.

A failed load fails every caller waiting on it with the same exception, as their own queries would
have failed; a caller that goes away (client disconnect) just stops waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalescer(Generic[K, V]):
    def __init__(self, load_many: Callable[[list[K]], Awaitable[Mapping[K, V]]], missing: V) -> None:
        self._load_many = load_many
        self._missing = missing  # the value of a key load_many did not return
        self._waiting: dict[K, list[asyncio.Future[V]]] = {}
        self._loads: set[asyncio.Task] = set()  # strong references until each load finishes

    async def get(self, key: K) -> V:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V] = loop.create_future()
        if not self._waiting:
            # After the handlers already runnable in this turn, so their keys join this load.
            loop.call_soon(self._start_load)
        self._waiting.setdefault(key, []).append(future)
        return await future

    def _start_load(self) -> None:
        waiting, self._waiting = self._waiting, {}
        task = asyncio.ensure_future(self._load(waiting))
        self._loads.add(task)
        task.add_done_callback(self._loads.discard)

    async def _load(self, waiting: dict[K, list[asyncio.Future[V]]]) -> None:
        try:
            found = await self._load_many(list(waiting))
        except BaseException as e:
            for futures in waiting.values():
                for f in futures:
                    if not f.done():
                        f.cancel() if isinstance(e, asyncio.CancelledError) else f.set_exception(e)
            if not isinstance(e, Exception):
                raise
            return
        for key, futures in waiting.items():
            value = found.get(key, self._missing)
            for f in futures:
                if not f.done():
                    f.set_result(value)

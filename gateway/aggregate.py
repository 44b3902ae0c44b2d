"""What the aggregates (the enterprise profile, the progress bulletin) share: each part is asked
of its service only when the caller's scopes include that service's read scope, and the parts run
concurrently under one deadline for the whole answer (`EAGLET_UPSTREAM__AGGREGATE_DEADLINE_S`,
default 3 s; proxied calls keep their own, long read timeouts). A part not done by then is
cancelled and reported as degraded; the answer does not wait for it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any

from gateway.policy import scope_allows
from services.common.auth import Principal


class DeadlineExceeded(Exception):
    """A part that had not answered when the aggregate's deadline came (it was cancelled)."""

    def __init__(self, part: str, deadline_s: float) -> None:
        super().__init__(f"{part}: no answer within the aggregate deadline of {deadline_s:g} s")


def readable(principal: Principal, services: Iterable[str]) -> tuple[list[str], list[str]]:
    """(services whose data this caller's scopes let it read, services withheld), in order.
    A part's data is read with the caller's principal, so reading it needs `<service>:read` as
    the proxied route would (a `gateway:read`-only key gets none of it)."""
    allowed, withheld = [], []
    for s in services:
        (allowed if scope_allows(principal.scopes, s, "GET") else withheld).append(s)
    return allowed, withheld


async def within_deadline(parts: dict[str, Awaitable[Any]], deadline_s: float) -> dict[str, Any]:
    """Run the parts concurrently for at most `deadline_s`: each part's result, or the exception
    it raised, or DeadlineExceeded for a part still running then (cancelled)."""
    tasks = {name: asyncio.ensure_future(part) for name, part in parts.items()}
    if not tasks:
        return {}
    try:
        _done, pending = await asyncio.wait(tasks.values(), timeout=deadline_s)
    finally:  # also when this request itself is cancelled
        for t in tasks.values():
            t.cancel()
    if pending:  # let the cancelled calls release their connections
        await asyncio.gather(*pending, return_exceptions=True)
    out: dict[str, Any] = {}
    for name, t in tasks.items():
        if t in pending:
            out[name] = DeadlineExceeded(name, deadline_s)
        elif t.exception() is not None:
            out[name] = t.exception()
        else:
            out[name] = t.result()
    return out

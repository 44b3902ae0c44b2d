"""Keep the garbage collector's full passes short in a long-running server process.

A service imports and builds a lot once (FastAPI, SQLAlchemy metadata, pydantic models, reference
data). Every full (generation 2) collection walks all of it, and while it does the event loop
answers nobody: under load such pauses become the tail latency of the hot routes
(docs/architecture.md#measurements). Freezing what startup built moves it out of the collector's
reach (it lives as long as the process anyway); objects made afterwards are collected as usual.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    gc.collect()
    gc.freeze()

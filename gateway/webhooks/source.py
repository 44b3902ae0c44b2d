"""Where the dispatcher reads events: the change feed's own reader (services/common/events.py),
the one home of thin events and of who may see them, so a subscriber receives exactly what it could
read with `GET /v1/events`. `head_cursor` is where a new subscription starts: after every event
committed before it (a new endpoint receives what happens from then on, not the feed's history).
"""

from __future__ import annotations

from services.common.events import Event, EventPage, read_events
from services.common.events import present_cursor as head_cursor

__all__ = ["Event", "EventPage", "head_cursor", "read_events"]

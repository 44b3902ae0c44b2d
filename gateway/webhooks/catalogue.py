"""The event types a webhook may subscribe to, by the service whose feed carries them.

`EVENT_TYPES` (service → its types) is the feeds' own catalogue (services/common/events.py): a
subscriber may ask for exactly the types the feeds carry.
"""

from __future__ import annotations

from services.common.events import EVENT_TYPES

# The event `POST /v1/webhooks/{id}/test` sends: never in a feed, always deliverable.
TEST_EVENT_TYPE = "webhook.test"

SERVICE_OF: dict[str, str] = {t: service for service, types in EVENT_TYPES.items() for t in types}


def services_of(event_types: list[str] | frozenset[str]) -> dict[str, frozenset[str]]:
    """The feeds an endpoint follows: service → the endpoint's types in it."""
    out: dict[str, set[str]] = {}
    for t in event_types:
        out.setdefault(SERVICE_OF[t], set()).add(t)
    return {s: frozenset(ts) for s, ts in out.items()}

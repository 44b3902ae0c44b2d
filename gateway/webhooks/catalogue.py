"""The event types a webhook may subscribe to, by the service whose feed carries them.

Until the services publish their own catalogues this is the issue's list, in this one place;
`EVENT_TYPES` has the shape the services' catalogues give (service → its types), so the swap is
this module's body alone.
"""

from __future__ import annotations

EVENT_TYPES: dict[str, frozenset[str]] = {
    "registry": frozenset(
        {
            "enterprise.created",
            "enterprise.updated",
            "enterprise.pool_changed",
            "enterprise.title_changed",
            "screening.completed",
        }
    ),
    "finance": frozenset(
        {
            "loan.created",
            "loan.updated",
            "loan.reclassified",
            "credit_line.created",
            "credit_line.updated",
            "application.created",
            "application.updated",
            "guarantee.created",
            "guarantee.updated",
        }
    ),
    "standards": frozenset(
        {
            "certificate.created",
            "certificate.status_changed",
            "standard.created",
            "standard.updated",
        }
    ),
}

# The event `POST /v1/webhooks/{id}/test` sends: never in a feed, always deliverable.
TEST_EVENT_TYPE = "webhook.test"

SERVICE_OF: dict[str, str] = {t: service for service, types in EVENT_TYPES.items() for t in types}


def services_of(event_types: list[str] | frozenset[str]) -> dict[str, frozenset[str]]:
    """The feeds an endpoint follows: service → the endpoint's types in it."""
    out: dict[str, set[str]] = {}
    for t in event_types:
        out.setdefault(SERVICE_OF[t], set()).add(t)
    return {s: frozenset(ts) for s, ts in out.items()}

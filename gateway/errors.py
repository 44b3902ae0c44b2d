"""The gateway's named problems: its refusals at the front door (credentials, policy, upstreams)
and its own routes' problems. Raised where they happen and declared on the routes (the gateway's
own) or on every proxied operation of the merged OpenAPI (gateway.openapi). The kit's problems
(services.common.errors) are used as they are: `forbidden`, `rate_limited`, `upstream_timeout`,
`bad_gateway`, `not_found`."""

from __future__ import annotations

from services.common.errors import (
    BadGateway,
    Forbidden,
    NamedProblem,
    NotFound,
    RateLimited,
    UpstreamTimeout,
)

# 401, sent with `WWW-Authenticate: Bearer realm="eaglet"` (gateway.auth.unauthorized).
CredentialsMissing = NamedProblem(401, "credentials_missing", "no Authorization header")
CredentialsMalformed = NamedProblem(
    401, "credentials_malformed", "the Authorization header is not 'Bearer <api key or JWT>'"
)
CredentialsInvalid = NamedProblem(
    401, "credentials_invalid", "an unknown, revoked or invalid API key or token"
)
CredentialsExpired = NamedProblem(401, "credentials_expired", "the bearer token has expired")
CREDENTIALS = (CredentialsMissing, CredentialsMalformed, CredentialsInvalid, CredentialsExpired)

# 403: a person's token that maps to no eaglet principal; the policy's refusal is `forbidden`.
NoEagletRole = NamedProblem(403, "no_eaglet_role", "the token carries no eaglet kind claim")
NoEagletRegion = NamedProblem(403, "no_eaglet_region", "an official's token carries no region")

# The upstream could not answer (gateway.upstream.UpstreamError).
UpstreamBadResponse = NamedProblem(
    502,
    "upstream_bad_response",
    "the service's answer was not valid HTTP",
    detail="the {upstream} service sent an answer that is not valid HTTP",
)
UpstreamUnavailable = NamedProblem(
    503, "upstream_unavailable", "the service is unavailable or its circuit is open; see Retry-After"
)
UPSTREAM = (UpstreamBadResponse, UpstreamUnavailable, UpstreamTimeout)
ClientDisconnected = NamedProblem(
    400,
    "client_disconnected",
    "the client went away while sending the body",
    detail="the client went away while sending the body",
)

# A browser's preflight from a page whose origin is not configured (gateway.cors): answered
# without any CORS header, so the browser refuses the call it was asking about.
OriginNotAllowed = NamedProblem(
    403,
    "origin_not_allowed",
    "a cross-origin preflight from an origin the gateway is not configured for (EAGLET_CORS__ORIGINS)",
    detail="cross-origin calls from this origin are not allowed",
)

# What the front door may answer before or instead of a route: credentials (401), the policy
# (403: a route behind it only), the rate limit (429, per caller or per IP).
ADMISSION = (*CREDENTIALS, NoEagletRole, NoEagletRegion, Forbidden, RateLimited)

# The gateway's own routes.
NoTargets = NamedProblem(
    404,
    "no_targets",
    "the programme is not known (it has no indicators)",
    detail="no indicators for programme {programme}, {year}, region {region}{where}",
)
TrendSpan = NamedProblem(
    422,
    "trend_span",
    "to_year must be from from_year to 9 years after it",
    pointer="#/query/to_year",
    detail="to_year must be ≥ from_year and < from_year + 10",
)
ClientRevoked = NamedProblem(
    409,
    "client_revoked",
    "the client is revoked; create a new client",
    detail="client {client_id} is revoked; create a new client",
)

# Webhooks (gateway/webhooks/).
WebhookUrlRefused = NamedProblem(
    422,
    "webhook_url_refused",
    "the URL may not receive webhooks: not https, not a public address, or not a valid URL",
    pointer="/url",
)
EventTypeOutOfScope = NamedProblem(
    422,
    "event_type_out_of_scope",
    "the credential's scopes do not allow reading the feed this event type comes from",
    pointer="/event_types/{index}",
    detail="this credential's scopes do not include {service}:read, the feed of {event_type}",
)
TooManyWebhooks = NamedProblem(
    409,
    "too_many_webhooks",
    "the caller has as many webhook endpoints as allowed; delete one first",
    detail="you have {count} webhook endpoints, the most allowed; delete one first",
)
WebhookDisabled = NamedProblem(
    409,
    "webhook_disabled",
    "the endpoint is disabled; enable it (PATCH enabled: true) first",
    detail="webhook {webhook_id} is disabled ({reason}); enable it first",
)
DeliveryInFlight = NamedProblem(
    409,
    "delivery_in_flight",
    "the delivery is being sent right now; look again in a moment",
    detail="delivery {delivery_id} is being sent right now; look again in a moment",
)

__all__ = [
    "ADMISSION",
    "CREDENTIALS",
    "UPSTREAM",
    "BadGateway",
    "ClientDisconnected",
    "ClientRevoked",
    "CredentialsExpired",
    "CredentialsInvalid",
    "CredentialsMalformed",
    "CredentialsMissing",
    "DeliveryInFlight",
    "EventTypeOutOfScope",
    "Forbidden",
    "NoEagletRegion",
    "NoEagletRole",
    "NoTargets",
    "TrendSpan",
    "NotFound",
    "RateLimited",
    "TooManyWebhooks",
    "UpstreamBadResponse",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "WebhookDisabled",
    "WebhookUrlRefused",
]

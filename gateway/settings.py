"""Gateway-only settings (``EAGLET_`` prefix like every other setting; nested groups with ``__``).

- ``EAGLET_OIDC__ISSUER``, ``EAGLET_OIDC__AUDIENCE``, ``EAGLET_OIDC__JWKS_URL`` or
  ``EAGLET_OIDC__PUBLIC_KEY_PEM``: people's bearer JWTs.
- ``EAGLET_RATES__BANK=50`` (requests per second, per client), ``EAGLET_RATES__PUBLIC_PER_IP=10``,
  ``EAGLET_RATES__BURST_S=2`` (bucket size in seconds of rate); failed authentications per IP
  ``EAGLET_RATES__AUTH_FAILURES_PER_IP=1`` with a bucket of ``…__AUTH_FAILURES_BURST=20``.
- ``EAGLET_REDIS_URL=redis://redis:6379/0``: rate-limit buckets shared by every gateway process
  (gateway/ratelimit.py); a decision waits at most ``EAGLET_REDIS_TIMEOUT_S=0.05``, then is taken
  locally at rate ÷ (``EAGLET_GATEWAY__REPLICAS`` × workers).
- ``EAGLET_TRUSTED_PROXIES=10.0.0.0/8,192.168.1.5``: proxies whose ``X-Forwarded-For`` counts.
- ``EAGLET_CORS__ORIGINS='["https://portal.example.cn"]'``: origins browsers may call from
  (``EAGLET_ENV=dev``: the local dev servers by default), ``EAGLET_CORS__MAX_AGE_S=600``.
- ``EAGLET_COMPRESS_MIN_BYTES=1024``: smallest response compressed.
- ``EAGLET_UPSTREAM__CONNECT_TIMEOUT_S``, ``…__READ_TIMEOUT_S``, ``…__BREAKER_FAILURES``,
  ``…__BREAKER_OPEN_S``, ``…__RETRIES``; per service read timeouts in ``…__READ_TIMEOUTS``;
  the aggregates' deadline ``EAGLET_UPSTREAM__AGGREGATE_DEADLINE_S=3``.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, Field, IPvAnyNetwork, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class OidcSettings(BaseModel):
    # People's tokens (OIDC). Empty issuer: only dev tokens (when accepted) and API keys.
    issuer: str | None = None
    audience: str | None = None
    jwks_url: str | None = None
    public_key_pem: str | None = None
    algorithms: list[str] = ["RS256", "ES256"]
    # Claim names carrying eaglet's identity facts.
    kind_claim: str = "eaglet_kind"
    region_claim: str = "eaglet_region"
    org_claim: str = "eaglet_org"
    # Dev tokens minted by `eaglet token` (HS256, settings.token_key): accepted when EAGLET_ENV=dev
    # or when this is true.
    accept_dev_tokens: bool = False


class RateSettings(BaseModel):
    """Token bucket rates in requests per second; the bucket holds ``burst_s`` seconds of rate."""

    bank: float = 100.0
    guarantor: float = 50.0
    certifier: float = 50.0
    official: float = 50.0
    admin: float = 200.0
    public_per_ip: float = 20.0
    burst_s: float = 2.0
    # Failed authentications (401) per client IP: a bucket of `auth_failures_burst`, refilled at
    # this rate; when it is empty, credentials not already verified get 429 without a lookup.
    auth_failures_per_ip: float = 1.0
    auth_failures_burst: float = 20.0

    def for_kind(self, kind: str) -> float:
        return float(getattr(self, kind, self.official))


class UpstreamSettings(BaseModel):
    connect_timeout_s: float = 2.0
    read_timeout_s: float = 60.0
    # The aggregates (profile, progress) answer within this, with `partial: true` for the parts
    # that did not come; proxied calls keep read_timeout_s.
    aggregate_deadline_s: float = 3.0
    # Per service read timeout overrides, e.g. {"finance": 120}.
    read_timeouts: dict[str, float] = {}
    # Connections kept per upstream (aiohttp TCPConnector limit).
    pool_size: int = 64
    keepalive_s: float = 60.0
    # Circuit breaker: opens after this many consecutive failures, probes after breaker_open_s.
    breaker_failures: int = 5
    breaker_open_s: float = 10.0
    # Extra attempts for GET/HEAD and for POSTs with an Idempotency-Key (connect failures, 502–504).
    retries: int = 1
    retry_backoff_s: float = 0.05
    # Request bodies up to this size are buffered (cheaper, retryable); larger ones stream.
    buffer_body_bytes: int = 256 * 1024


# The front-ends' origins in development (Vite's and the usual React/Next dev servers' ports).
DEV_ORIGINS = ("http://localhost:5173", "http://localhost:3000")
_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$|^https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?$")


class CorsSettings(BaseModel):
    """Browsers' cross-origin calls (gateway/cors.py)."""

    # Origins whose pages may call the API (`scheme://host[:port]`, a JSON list). Unset: none, or
    # DEV_ORIGINS with EAGLET_ENV=dev. `[]` turns them off in dev too.
    origins: list[str] | None = None
    # How long a browser may keep a preflight's answer (seconds; browsers cap it: Chromium at 2 h).
    max_age_s: int = 600

    @field_validator("origins")
    @classmethod
    def _serialised_origins(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        out = []
        for origin in v:
            o = origin.strip().lower()
            if not _ORIGIN.match(o):
                raise ValueError(
                    f"{origin!r} is not an origin: scheme://host[:port], no path, no trailing slash, no '*'"
                )
            out.append(o)
        return out

    def allowed(self, env: str) -> frozenset[str]:
        if self.origins is not None:
            return frozenset(self.origins)
        return frozenset(DEV_ORIGINS) if env == "dev" else frozenset()


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EAGLET_", env_nested_delimiter="__", extra="ignore")

    oidc: OidcSettings = OidcSettings()
    rates: RateSettings = RateSettings()
    upstream: UpstreamSettings = UpstreamSettings()
    cors: CorsSettings = CorsSettings()
    # Responses of at least this many bytes are compressed for a client that accepts it
    # (gateway/compression.py); smaller ones gain less than the header costs.
    compress_min_bytes: int = 1024
    # Proxies in front of the gateway whose X-Forwarded-For is believed (IPs or CIDRs, comma
    # separated or a JSON list). Default none: the client is the direct peer, whatever it writes.
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = []
    # Rate-limit buckets in Redis, shared by every gateway process (replicas and workers); unset:
    # in each process at rate ÷ (EAGLET_GATEWAY__REPLICAS × workers). A secret: it may carry a
    # password (redis://:password@host:6379/0, rediss:// for TLS).
    redis_url: SecretStr | None = None
    # A rate-limit decision waits this long for Redis at most, then is taken in this process.
    redis_timeout_s: float = Field(0.05, gt=0)
    # How long a verified API key (or token) is trusted without looking at the database again.
    # Revocations through this gateway or `eaglet clients revoke` also reach running gateways at
    # once (PostgreSQL NOTIFY); the TTL bounds staleness if that notification is missed.
    auth_cache_ttl_s: float = 10.0
    # last_used_at is written at most this often per key (per gateway process).
    last_used_every_s: float = 60.0
    # How often a missing service's OpenAPI is fetched again for the merged document.
    openapi_refresh_s: float = 5.0
    # How long a service's fetched document (and the methods the gateway knows it serves on each
    # path, gateway/routes.py) is kept before it is fetched again: a deploy's new routes are
    # known within this.
    openapi_max_age_s: float = 60.0

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _address_list(cls, v):
        if isinstance(v, str):
            v = v.strip()
            return json.loads(v) if v.startswith("[") else [a.strip() for a in v.split(",") if a.strip()]
        return v


@lru_cache
def get_gateway_settings() -> GatewaySettings:
    return GatewaySettings()

"""Who is calling: API keys (machine clients) and bearer JWTs (people), with a short cache.

API keys look like ``egk_<43 url-safe characters>``; only their SHA-256 is stored. A verified
key is trusted for ``auth_cache_ttl_s`` (default 10 s) without a database round trip; revoking or
rotating a key sends a PostgreSQL NOTIFY that every running gateway listens to, so revocation
takes effect at once. The listening connection is kept up (reconnected with backoff, the cache
dropped on reconnection); the TTL only bounds staleness while it is down.
People send OIDC JWTs (issuer, audience and keys from settings) or, in development, tokens
minted by ``eaglet token`` (HS256 with ``token_key``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.errors import (
    CredentialsExpired,
    CredentialsInvalid,
    CredentialsMalformed,
    CredentialsMissing,
    NoEagletRegion,
    NoEagletRole,
)
from gateway.ratelimit import Buckets
from gateway.settings import GatewaySettings
from services.common.auth import KINDS, Principal, principal_problem
from services.common.errors import NamedProblem, Problem, RateLimited
from services.common.settings import Settings

log = logging.getLogger("eaglet.gateway.auth")

KEY_PREFIX = "egk_"
# Demo keys (gateway/seed.py) derive from a public string: accepted only with EAGLET_ENV=dev, so a
# database seeded by mistake outside dev does not open the door to README's admin key.
DEMO_KEY_PREFIX = KEY_PREFIX + "demo_"
DEV_ISSUER = "eaglet-dev"
DEV_AUDIENCE = "eaglet"
NOTIFY_CHANNEL = "eaglet_gateway_keys"
# The LISTEN connection: its application_name (with the process id, as pg_stat_activity shows
# it), connect timeout, how often an idle connection is pinged, and the reconnect backoff range.
LISTENER_APPLICATION = "eaglet-gateway-revocations"
LISTENER_CONNECT_TIMEOUT_S = 5.0
LISTENER_PING_S = 30.0
LISTENER_BACKOFF_S = (0.1, 30.0)
WWW_AUTH = {"WWW-Authenticate": 'Bearer realm="eaglet"'}
# Refusals that count against a client address's failure limit. Not an expired token: it was
# genuine (a front-end refreshes it), not a guess.
COUNTED_FAILURES = frozenset({"credentials_malformed", "credentials_invalid"})


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def key_display_prefix(key: str) -> str:
    return key[:12]


@dataclass(frozen=True)
class Caller:
    principal: Principal
    client_id: str | None = None  # API client id; None for people
    key_id: str | None = None
    rate_per_s: float | None = None  # a client's own rate (None: its kind's)
    rate_key: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def unauthorized(problem: NamedProblem, detail: str) -> Problem:
    """A 401 (one of gateway.errors.CREDENTIALS) with the challenge header."""
    return problem(detail, headers=WWW_AUTH)


_LOOKUP = text(
    """
    SELECT k.id AS key_id, k.expires_at, k.last_used_at, c.id AS client_id, c.kind, c.org, c.name,
           c.region, c.scopes, c.rate_per_s
    FROM gateway.api_keys k JOIN gateway.api_clients c ON c.id = k.client_id
    WHERE k.key_hash = :h AND k.revoked_at IS NULL AND c.revoked_at IS NULL
      AND (k.expires_at IS NULL OR k.expires_at > now())
    """
)


def mint_dev_token(
    settings: Settings,
    *,
    kind: str,
    sub: str,
    region: str | None = None,
    org: str | None = None,
    scopes: list[str] | None = None,
    ttl_s: int = 8 * 3600,
) -> str:
    """A person token for development (`eaglet token`), signed with the local token_key."""
    now = int(time.time())
    claims = {
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "sub": sub,
        "eaglet_kind": kind,
        "eaglet_region": region,
        "eaglet_org": org,
        "scope": " ".join(scopes or []),
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(claims, settings.token_key.get_secret_value(), algorithm="HS256")


class Authenticator:
    def __init__(
        self, settings: Settings, gw: GatewaySettings, engine: AsyncEngine, buckets: Buckets | None = None
    ) -> None:
        self.settings = settings
        self.gw = gw
        self.engine = engine
        self.ttl = gw.auth_cache_ttl_s
        # sha256(credential) → (expires at (monotonic), Caller or Problem)
        self._cache: dict[bytes, tuple[float, Caller | Problem]] = {}
        self._client_of: dict[bytes, str] = {}
        self._last_used: dict[str, float] = {}
        self._jwks = None
        self._listener = None  # the LISTEN connection while it is up
        self._listener_task: asyncio.Task | None = None
        self._listening = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self.accept_dev_tokens = settings.env == "dev" or gw.oidc.accept_dev_tokens
        # The process's rate-limit buckets (authfail:<ip> among them; capacity from settings).
        self.buckets = buckets if buckets is not None else Buckets(gw.rates.burst_s)
        self._inflight: dict[bytes, asyncio.Future] = {}  # sha256(credential) → its lookup

    # -- cache ---------------------------------------------------------------------------
    def invalidate(self, client_id: str | None = None) -> None:
        if client_id is None:
            self._cache.clear()
            return
        for h, cid in list(self._client_of.items()):
            if cid == client_id:
                self._cache.pop(h, None)
                self._client_of.pop(h, None)

    async def start(self, database_url: str | None) -> None:
        """Listen for revocations made by other processes (CLI, other gateway replicas), in a
        task that keeps the listening connection up; waits briefly for the first connection."""
        if not database_url:
            return
        from services.common.db import plain_url

        self._listener_task = asyncio.get_running_loop().create_task(self._listen(plain_url(database_url)))
        try:
            await asyncio.wait_for(self._listening.wait(), LISTENER_CONNECT_TIMEOUT_S)
        except TimeoutError:  # the task keeps trying; the TTL bounds staleness meanwhile
            log.warning("not yet listening for key revocations; relying on the cache TTL until then")

    async def _listen(self, url: str) -> None:
        """LISTEN for revocations, reconnecting with backoff whenever the connection is lost (a
        database restart, a terminated backend, a network failure noticed by a periodic ping).
        After a reconnection the whole cache is dropped: notifications sent while nobody listened
        are lost, so nothing verified before may be trusted on."""
        import asyncpg

        backoff = LISTENER_BACKOFF_S[0]
        connected_before = False
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(
                    url,
                    timeout=LISTENER_CONNECT_TIMEOUT_S,
                    server_settings={"application_name": f"{LISTENER_APPLICATION}:{os.getpid()}"},
                )
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
                if connected_before:
                    self.invalidate()
                    log.warning("listening for key revocations again; dropped the credential cache")
                connected_before = True
                backoff = LISTENER_BACKOFF_S[0]
                self._listener = conn
                self._listening.set()
                while not lost.is_set():
                    try:
                        await asyncio.wait_for(lost.wait(), LISTENER_PING_S)
                    except TimeoutError:  # a silent network loss never closes the socket
                        await conn.fetchval("SELECT 1", timeout=LISTENER_CONNECT_TIMEOUT_S)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("key revocation listener: %s: %s", type(e).__name__, e)
            finally:
                self._listening.clear()
                self._listener = None
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            log.warning("not listening for key revocations; reconnecting in %.1f s", backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, LISTENER_BACKOFF_S[1])

    def _on_notify(self, _conn, _pid, _channel, payload: str) -> None:
        self.invalidate(payload or None)

    async def stop(self) -> None:
        if self._listener_task is not None:
            self._listener_task.cancel()
            try:
                await self._listener_task
            except asyncio.CancelledError:
                pass
        for t in list(self._tasks):
            t.cancel()

    # -- authentication ------------------------------------------------------------------
    async def authenticate(self, authorization: str | None, client_ip: str | None = None) -> Caller:
        """The caller behind an Authorization header, or a 401/403 problem; a 429 problem when
        `client_ip` has had too many failed lookups (see `_reserve_lookup`)."""
        if not authorization:
            raise unauthorized(CredentialsMissing, "send 'Authorization: Bearer <api key or token>'")
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise unauthorized(CredentialsMalformed, "the Authorization header must be 'Bearer <credential>'")
        h = hashlib.sha256(credential.encode("utf-8", "replace")).digest()
        now = time.monotonic()
        hit = self._cache.get(h)
        if hit is not None and hit[0] > now:
            result = hit[1]
        else:
            inflight = self._inflight.get(h)
            if inflight is not None:  # one lookup per credential at a time; the others wait for it
                await asyncio.wait([inflight])
            if inflight is not None and not inflight.cancelled():
                result = inflight.result()
            else:
                result = await self._lookup_once(credential, h, client_ip, now)
        if isinstance(result, Problem):
            raise result
        if result.key_id is not None:
            self._touch(result.key_id, now)
        return result

    async def _lookup_once(
        self, credential: str, h: bytes, client_ip: str | None, now: float
    ) -> Caller | Problem:
        """Look a credential up (others sending it meanwhile wait for this lookup) and cache the
        outcome. The failure token reserved for the address is kept only if it is refused."""
        done = asyncio.get_running_loop().create_future()
        self._inflight[h] = done  # before any await: one lookup per credential at a time
        reserved = False
        result: Caller | Problem | None = None
        try:
            if client_ip is not None:
                await self._reserve_lookup(client_ip)
                reserved = True
            result, ttl = await self._lookup(credential, h)
            if len(self._cache) > 100_000:
                self._cache.clear()
                self._client_of.clear()
            self._cache[h] = (now + ttl, result)
            if isinstance(result, Caller) and result.client_id:
                self._client_of[h] = result.client_id
            done.set_result(result)
            return result
        finally:
            if not done.done():  # failed or cancelled: those waiting look it up themselves
                done.cancel()
            self._inflight.pop(h, None)
            if reserved and not (isinstance(result, Problem) and result.code in COUNTED_FAILURES):
                r = self.gw.rates
                await self.buckets.refund(
                    "authfail:" + client_ip, r.auth_failures_per_ip, r.auth_failures_burst
                )

    async def _lookup(self, credential: str, h: bytes) -> tuple[Caller | Problem, float]:
        """Verify a credential that is not cached: (Caller or the problem, how long to cache it)."""
        if credential.startswith(DEMO_KEY_PREFIX) and self.settings.env != "dev":
            return unauthorized(CredentialsInvalid, "demo keys work only with EAGLET_ENV=dev"), 60.0
        if credential.startswith(KEY_PREFIX):
            return await self._verify_key(h)
        if credential.count(".") == 2:
            return await self._verify_token(credential)
        return unauthorized(CredentialsMalformed, "not an eaglet API key or a JWT"), 60.0

    async def _reserve_lookup(self, client_ip: str) -> None:
        """Failed lookups are limited per client address (`authfail:<ip>`). Each lookup takes a
        token before it starts and gives it back unless the credential is refused, so concurrent
        guesses cannot overshoot the limit; repeats of one refused key are answered from the cache
        and take none. With no token left a credential that is not already verified gets 429
        before it is looked up: guessing keys cannot reach the database faster than the limit."""
        r = self.gw.rates
        d = await self.buckets.take(
            "authfail:" + client_ip, r.auth_failures_per_ip, capacity=r.auth_failures_burst
        )
        if not d.allowed:
            raise RateLimited(
                f"too many failed authentications from this address; retry after {d.retry_after_s} s",
                headers={"Retry-After": str(d.retry_after_s)},
            )

    async def _verify_key(self, h: bytes) -> tuple[Caller | Problem, float]:
        async with self.engine.connect() as conn:
            row = (await conn.execute(_LOOKUP, {"h": h})).mappings().first()
        if row is None:
            # Unknown, revoked or expired: remembered briefly so a bad key cannot hammer the database.
            return unauthorized(CredentialsInvalid, "unknown, expired or revoked API key"), min(self.ttl, 2.0)
        ttl = self.ttl
        if row["expires_at"] is not None:
            from datetime import UTC, datetime

            ttl = max(0.0, min(ttl, (row["expires_at"] - datetime.now(UTC)).total_seconds()))
        client_id = str(row["client_id"])
        scopes = list(row["scopes"] or ())
        problem = principal_problem(row["kind"], row["org"], row["region"], scopes)
        if problem is not None:
            # Created before the rule or edited by hand: refused, never given a wider scope.
            log.warning("API client %s has an invalid %s; its keys are refused", client_id, problem[0])
            return unauthorized(
                CredentialsInvalid,
                f"this API client's {problem[0]} {problem[1]}; ask an admin to replace the client",
            ), min(self.ttl, 2.0)
        principal = Principal(
            sub=f"client:{client_id}",
            kind=row["kind"],
            org=row["org"],
            region=row["region"],
            scopes=tuple(scopes),
            client_id=client_id,
        )
        caller = Caller(
            principal=principal,
            client_id=client_id,
            key_id=str(row["key_id"]),
            rate_per_s=float(row["rate_per_s"]) if row["rate_per_s"] is not None else None,
            rate_key=f"client:{client_id}",
            extra={"name": row["name"]},
        )
        return caller, ttl

    def _touch(self, key_id: str, now: float) -> None:
        """Record last use at most once per `last_used_every_s` per key (not a write per request)."""
        last = self._last_used.get(key_id)
        if last is not None and now - last < self.gw.last_used_every_s:
            return
        self._last_used[key_id] = now
        task = asyncio.get_running_loop().create_task(self._write_last_used(key_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write_last_used(self, key_id: str) -> None:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    text("UPDATE gateway.api_keys SET last_used_at = now() WHERE id = CAST(:k AS uuid)"),
                    {"k": key_id},
                )
        except Exception:
            log.warning("could not record last_used_at", exc_info=True)

    async def _verify_token(self, token: str) -> tuple[Caller | Problem, float]:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return unauthorized(CredentialsMalformed, "the bearer token is not a JWT"), 60.0
        try:
            if unverified.get("iss") == DEV_ISSUER and header.get("alg") == "HS256":
                if not self.accept_dev_tokens:
                    return unauthorized(CredentialsInvalid, "development tokens are not accepted here"), 60.0
                claims = jwt.decode(
                    token,
                    self.settings.token_key.get_secret_value(),
                    algorithms=["HS256"],
                    audience=DEV_AUDIENCE,
                    issuer=DEV_ISSUER,
                    options={"require": ["exp", "sub"]},
                    leeway=5,
                )
            else:
                claims = await self._verify_oidc(token, header)
        except Problem as p:
            return p, 10.0
        except jwt.ExpiredSignatureError:
            return unauthorized(CredentialsExpired, "the bearer token has expired"), 60.0
        except jwt.PyJWTError as e:
            return unauthorized(CredentialsInvalid, f"the bearer token is not valid ({e})"), 10.0
        principal = self._principal_of(claims)
        if isinstance(principal, Problem):
            return principal, 10.0
        ttl = min(self.ttl, max(0.0, float(claims["exp"]) - time.time()))
        return Caller(principal=principal, rate_key=f"person:{principal.sub}"), ttl

    def _principal_of(self, claims: dict[str, Any]) -> Principal | Problem:
        """The principal a verified token's claims describe. The eaglet facts come only from
        their configured claim names (a generic `kind`/`region`/`org` claim is someone else's
        vocabulary), and they obey the rule every principal obeys (`principal_problem`)."""
        o = self.gw.oidc
        kind, region, org = claims.get(o.kind_claim), claims.get(o.region_claim), claims.get(o.org_claim)
        if kind is None or (isinstance(kind, str) and kind not in KINDS):
            return NoEagletRole(f"the token carries no eaglet kind claim ({o.kind_claim})")
        if kind == "official" and region is None:
            return NoEagletRegion(f"an official's token must carry a region ({o.region_claim})")
        # Scopes: OAuth's space-separated `scope` string (or a list, as some providers send it), or
        # a `scopes` list.
        if claims.get("scopes") is not None:
            scopes, scope_claim = claims["scopes"], "scopes"
        else:
            raw, scope_claim = claims.get("scope", ""), "scope"
            scopes = raw.split() if isinstance(raw, str) else raw
        problem = principal_problem(kind, org, region, scopes)
        if problem is not None:
            names = {
                "kind": o.kind_claim,
                "org": o.org_claim,
                "region": o.region_claim,
                "scopes": scope_claim,
            }
            fact, reason = problem
            return unauthorized(CredentialsInvalid, f"the token's {names[fact]} claim {reason}")
        return Principal(sub=str(claims["sub"]), kind=kind, org=org, region=region, scopes=tuple(scopes))

    async def _verify_oidc(self, token: str, header: dict) -> dict:
        o = self.gw.oidc
        if not o.issuer or not (o.public_key_pem or o.jwks_url):
            raise unauthorized(CredentialsInvalid, "no OIDC issuer is configured for bearer tokens")
        if o.public_key_pem:
            key: Any = o.public_key_pem
        else:
            if self._jwks is None:
                self._jwks = jwt.PyJWKClient(o.jwks_url, cache_keys=True, lifespan=3600, timeout=5)
            try:
                signing = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
            except jwt.PyJWKClientError as e:
                raise unauthorized(CredentialsInvalid, f"the token's signing key is unknown ({e})") from e
            key = signing.key
        return jwt.decode(
            token,
            key,
            algorithms=o.algorithms,
            audience=o.audience,
            issuer=o.issuer,
            options={"require": ["exp", "sub"], "verify_aud": o.audience is not None},
            leeway=30,
        )

"""The route policy: which kinds of caller may use which routes, in one table.

The gateway checks it before forwarding (403 problem when the caller's kind or scopes do not
allow the route; no credentials needed on public routes). Services enforce their own rules as
well (object scoping, kinds), so this table is a first line, not the only one.

Scopes: a caller whose credential carries no eaglet scopes may use every route its kind allows.
A credential with scopes (``registry:read``, ``finance:write``, ``standards:*``, ``*``) is limited
to them: GET/HEAD need ``<service>:read``, other methods ``<service>:write``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.common.auth import KINDS

PUBLIC = "public"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ALL_METHODS = READ_METHODS | WRITE_METHODS
ANY_KIND = frozenset(KINDS)
SCOPE_RE = re.compile(r"^(registry|finance|standards|gateway|\*):(read|write|\*)$|^\*$")


@dataclass(frozen=True)
class Rule:
    service: str
    methods: frozenset[str]
    pattern: re.Pattern[str]
    allow: frozenset[str] | str  # kinds, or PUBLIC
    path: str  # route template for metrics and docs ("/finance/v1/loans/batch")

    @property
    def public(self) -> bool:
        return self.allow == PUBLIC


def _rule(service: str, methods, regex: str, allow, template: str) -> Rule:
    allow_value = allow if allow == PUBLIC else frozenset(allow)
    return Rule(service, frozenset(methods), re.compile(regex), allow_value, f"/{service}{template}")


OFFICIALS = ("official", "admin")
# First match wins. Paths are the service's own (after the /registry, /finance, /standards prefix).
# Kinds mirror the services' own checks so a refused call never reaches a service.
RULES: tuple[Rule, ...] = (
    # Public helpers and certificate verification: anyone, no credentials (rate-limited per IP).
    _rule("registry", READ_METHODS, r"^/v1/tools/credit-code/[^/]+$", PUBLIC, "/v1/tools/credit-code/{code}"),
    _rule("registry", READ_METHODS, r"^/v1/tools/size-class$", PUBLIC, "/v1/tools/size-class"),
    _rule(
        "standards", READ_METHODS, r"^/v1/public/certifications/.+$", PUBLIC, "/v1/public/certifications/{no}"
    ),
    _rule(
        "standards",
        {"POST"},
        r"^/v1/public/certifications/lookup$",
        PUBLIC,
        "/v1/public/certifications/lookup",
    ),
    # Machine batches: each kind its own. File submissions (and their status, findings, report,
    # template, retry) are their submitter's, of the kinds each service's submissions take
    # (services/<service>/submissions.py), and admin's; the service checks the kind of file.
    _rule(
        "finance", ALL_METHODS, r"^/v1/submissions(/.*)?$", ("bank", "guarantor", "admin"), "/v1/submissions"
    ),
    _rule("standards", ALL_METHODS, r"^/v1/submissions(/.*)?$", ("certifier", "admin"), "/v1/submissions"),
    _rule("registry", ALL_METHODS, r"^/v1/submissions(/.*)?$", OFFICIALS, "/v1/submissions"),
    _rule(
        "finance",
        WRITE_METHODS,
        r"^/v1/(loans|credit-lines|applications)(/.*)?$",
        ("bank",),
        "/v1/{loans|credit-lines|applications}/batch",
    ),
    _rule("finance", WRITE_METHODS, r"^/v1/guarantees(/.*)?$", ("guarantor",), "/v1/guarantees/batch"),
    _rule("finance", WRITE_METHODS, r"^/v1/institutions(/.*)?$", ("admin",), "/v1/institutions (write)"),
    _rule("finance", WRITE_METHODS, r"^/v1/.*$", OFFICIALS, "/v1/* (write)"),
    _rule(
        "standards", WRITE_METHODS, r"^/v1/certifications(/.*)?$", ("certifier",), "/v1/certifications/batch"
    ),
    _rule("standards", WRITE_METHODS, r"^/v1/.*$", OFFICIALS, "/v1/* (write)"),
    # Registry writes: officials and admins.
    _rule("registry", WRITE_METHODS, r"^/v1/.*$", OFFICIALS, "/v1/* (write)"),
    # The change feeds: every authenticated kind, each its own events (the services scope them).
    _rule("registry", READ_METHODS, r"^/v1/events$", ANY_KIND, "/v1/events"),
    _rule("finance", READ_METHODS, r"^/v1/events$", ANY_KIND, "/v1/events"),
    _rule("standards", READ_METHODS, r"^/v1/events$", ANY_KIND, "/v1/events"),
    # List exports (heavy reads): the kinds of their lists, refused here before any upstream call.
    _rule(
        "finance",
        READ_METHODS,
        r"^/v1/(loans|credit-lines)/export$",
        ("bank", "official", "admin"),
        "/v1/{loans|credit-lines}/export",
    ),
    _rule(
        "finance",
        READ_METHODS,
        r"^/v1/guarantees/export$",
        ("guarantor", "bank", "official", "admin"),
        "/v1/guarantees/export",
    ),
    _rule(
        "standards",
        READ_METHODS,
        r"^/v1/certifications/export$",
        ("certifier", "official", "admin"),
        "/v1/certifications/export",
    ),
    # Reads: any authenticated caller; the services decide what each kind sees (404 outside scope).
    _rule("registry", READ_METHODS, r"^/v1/.*$", ANY_KIND, "/v1/* (read)"),
    _rule("finance", READ_METHODS, r"^/v1/.*$", ANY_KIND, "/v1/* (read)"),
    _rule("standards", READ_METHODS, r"^/v1/.*$", ANY_KIND, "/v1/* (read)"),
    # The gateway's own routes.
    _rule("gateway", ALL_METHODS, r"^/v1/clients(/.*)?$", ("admin",), "/v1/clients"),
    _rule(
        "gateway",
        READ_METHODS,
        r"^/v1/enterprises/[^/]+/profile$",
        ANY_KIND,
        "/v1/enterprises/{code}/profile",
    ),
    _rule("gateway", READ_METHODS, r"^/v1/progress$", OFFICIALS, "/v1/progress"),
    _rule("gateway", READ_METHODS, r"^/v1/progress/trend$", OFFICIALS, "/v1/progress/trend"),
    _rule(
        "gateway",
        READ_METHODS | {"POST"},
        r"^/v1/progress/bulletins(/[^/]+)?$",
        OFFICIALS,
        "/v1/progress/bulletins",
    ),
    # Webhook endpoints: every kind, each for its own events (an endpoint is its owner's only).
    _rule("gateway", ALL_METHODS, r"^/v1/webhooks(/.*)?$", ANY_KIND, "/v1/webhooks"),
)
_BY_SERVICE: dict[str, tuple[Rule, ...]] = {}
for _r in RULES:
    _BY_SERVICE.setdefault(_r.service, ())
    _BY_SERVICE[_r.service] += (_r,)


def match(service: str, method: str, path: str) -> Rule | None:
    """The rule for a call, or None (no route: the gateway answers 404)."""
    for rule in _BY_SERVICE.get(service, ()):
        if method in rule.methods and rule.pattern.match(path):
            return rule
    return None


def eaglet_scopes(scopes) -> tuple[str, ...]:
    """The scopes that restrict eaglet routes (others, e.g. OIDC's ``openid``, are ignored)."""
    return tuple(s for s in scopes or () if SCOPE_RE.match(s))


def scope_allows(scopes: tuple[str, ...], service: str, method: str) -> bool:
    own = eaglet_scopes(scopes)
    if not own:
        return True
    need = "read" if method in READ_METHODS else "write"
    return any(s in ("*", "*:*", f"{service}:{need}", f"{service}:*", f"*:{need}") for s in own)


def denial(rule: Rule, kind: str, scopes: tuple[str, ...], method: str) -> str | None:
    """Why this caller may not use the route (None: allowed)."""
    if rule.public:
        return None
    if kind not in rule.allow:
        allowed = ", ".join(sorted(rule.allow))
        return f"{kind} callers may not use {method} {rule.path} (allowed: {allowed})"
    if not scope_allows(scopes, rule.service, method):
        need = "read" if method in READ_METHODS else "write"
        return f"this credential's scopes do not include {rule.service}:{need}"
    return None

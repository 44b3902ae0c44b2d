"""Which methods each service serves on a path, so that the gateway answers a wrong method itself:
a 405 problem with the path's full `Allow`, before credentials, policy or rate limits (the
methods of a path are public: the merged OpenAPI lists them).

The source is each service's own OpenAPI document, the one the merged document is built from
(`gateway/openapi.py` fetches it): one home for the routes (the services' routers), no second
table to keep. A template's parameter matches any non-empty run of characters, slashes included —
the services' `{code:path}` parameters do not show in OpenAPI — so the table can only find more
methods than a service serves on a path, never fewer: a method it calls wrong is one the service
would refuse too. While a service's document is missing (it was down) or older than
`EAGLET_OPENAPI_MAX_AGE_S`, a fetch is started; meanwhile calls go on as before and the service
answers its own 405 (with the same full `Allow`, services.common.errors).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from services.common.errors import MethodNotAllowed

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_PARAM = re.compile(r"\{[^{}/]+\}")


def _pattern(template: str) -> re.Pattern[str]:
    parts = _PARAM.split(template)
    return re.compile(
        "".join(re.escape(p) + (".+" if i < len(parts) - 1 else "") for i, p in enumerate(parts)) + r"\Z"
    )


class RouteTable:
    def __init__(self, max_age_s: float) -> None:
        self.max_age_s = max_age_s
        self._by_service: dict[str, tuple[float, list[tuple[re.Pattern[str], frozenset[str]]]]] = {}
        self.refresh: Callable[[], None] | None = None  # starts a fetch of the documents (set by the app)

    def load(self, service: str, spec: dict[str, Any] | None) -> None:
        if spec is None:
            self._by_service.pop(service, None)
            return
        table = []
        for path, item in (spec.get("paths") or {}).items():
            if not path.startswith("/v1/") or not isinstance(item, dict):
                continue
            methods = {m.upper() for m in item if m in METHODS}
            if "GET" in methods:
                methods.add("HEAD")  # every service answers HEAD wherever GET is
            table.append((_pattern(path), frozenset(methods)))
        self._by_service[service] = (time.monotonic(), table)

    def allowed(self, service: str, path: str) -> list[str] | None:
        """The methods served on this path, or None: not known (no document yet, or no template
        matches: the service answers, a 404)."""
        known = self._by_service.get(service)
        if known is None or time.monotonic() - known[0] > self.max_age_s:
            if self.refresh is not None:
                self.refresh()
        if known is None:
            return None
        methods: set[str] = set()
        for pattern, served in known[1]:
            if pattern.match(path):
                methods |= served
        if not methods:
            return None
        return sorted(methods, key=lambda m: (_ORDER.index(m) if m in _ORDER else 99, m))

    def check(self, service: str, method: str, path: str, shown: str) -> None:
        """Raise the 405 problem when the service serves this path, but not with this method."""
        allowed = self.allowed(service, path)
        if allowed is not None and method not in allowed:
            raise MethodNotAllowed(
                f"{method} is not allowed on {shown}", headers={"Allow": ", ".join(allowed)}
            )

"""The enterprise profile, fetched concurrently from the three services with the caller's own
principal, so each service scopes its part to the caller.

- A part is asked only when the caller's scopes include its service's read scope; otherwise it is
  not fetched and is named in `withheld` (as is a part whose service refuses the caller's kind).
- The parts run under one deadline (`aggregate_deadline_s`); a part that fails, times out or has
  not answered by then degrades the answer (`partial: true`, named in `degraded`), it does not
  fail it.
- The registry decides visibility: its 404 (not there, or outside the caller's region) is the
  profile's 404. When the registry part is missing (withheld or degraded) the other parts are
  still shown, each as its own service scoped it to the caller; nothing is inferred about the
  enterprise's existence.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import quote

from gateway.aggregate import DeadlineExceeded, readable, within_deadline
from gateway.core import Gateway
from gateway.profile.schemas import EnterpriseProfile, StandardsPart
from gateway.upstream import UpstreamError
from services.common.auth import Principal
from services.common.errors import BadGateway, NotFound

log = logging.getLogger("eaglet.gateway.profile")
PAGE = 500
SERVICES = ("registry", "finance", "standards")


class _Degraded(Exception):
    pass


class _Withheld(Exception):
    pass


def _part(result, name: str):
    """A fetched part: its JSON, or an exception saying why it is missing."""
    if isinstance(result, UpstreamError | DeadlineExceeded):
        log.warning("profile part %s degraded: %s", name, result)
        return _Degraded()
    if isinstance(result, BaseException):
        log.warning("profile part %s failed", name, exc_info=result)
        return _Degraded()
    status, body = result
    if status == 200 and body is not None:
        return body
    if status == 404:
        return None
    if status in (401, 403):
        return _Withheld()
    log.warning("profile part %s answered %s", name, status)
    return _Degraded()


async def build_profile(
    gw: Gateway, principal: Principal, credit_code: str, request_id: str | None
) -> EnterpriseProfile:
    code = quote(credit_code, safe="")
    ups = gw.upstreams
    s = gw.signer.sign(principal, request_id)
    allowed, not_in_scopes = readable(principal, SERVICES)
    calls = {}
    if "registry" in allowed:
        calls["registry"] = ups["registry"].get_json(f"/v1/enterprises/{code}", s, request_id)
    if "finance" in allowed:
        calls["finance"] = ups["finance"].get_json(f"/v1/enterprises/{code}/financing-summary", s, request_id)
    if "standards" in allowed:
        calls["certs"] = ups["standards"].get_json(
            "/v1/certifications", s, request_id, {"holder": credit_code, "limit": PAGE}
        )
        calls["led"] = ups["standards"].get_json(f"/v1/enterprises/{code}/standards", s, request_id)
    results = await within_deadline(calls, gw.gw.upstream.aggregate_deadline_s)
    parts = {name: _part(result, name) for name, result in results.items()}
    for name in not_in_scopes:
        for key in ("certs", "led") if name == "standards" else (name,):
            parts[key] = _Withheld()
    registry, finance, certs, led = (parts[n] for n in ("registry", "finance", "certs", "led"))
    if registry is None:
        raise NotFound(what="enterprise", key=credit_code)
    degraded: list[str] = []
    withheld: list[str] = []

    def take(name: str, value):
        if isinstance(value, _Degraded):
            degraded.append(name)
            return None
        if isinstance(value, _Withheld):
            withheld.append(name)
            return None
        return value

    enterprise = take("registry", registry)
    finance_part = take("finance", finance)
    standards_part = None
    if isinstance(certs, _Degraded) or isinstance(led, _Degraded):
        degraded.append("standards")
    elif isinstance(certs, _Withheld) and isinstance(led, _Withheld):
        withheld.append("standards")
    else:
        items = certs.get("items", []) if isinstance(certs, dict) else []
        truncated = bool(isinstance(certs, dict) and certs.get("next_cursor"))
        led_value = None if isinstance(led, _Withheld) else led
        if isinstance(led_value, dict) and "items" in led_value:
            led_value = led_value["items"]
        standards_part = StandardsPart(
            certifications=items, certifications_truncated=truncated, standards=led_value or []
        )
    if not isinstance(finance_part, dict | None):
        raise BadGateway("the finance service answered an unexpected body")
    return EnterpriseProfile(
        credit_code=credit_code,
        enterprise=enterprise if isinstance(enterprise, dict) else None,
        finance=finance_part,
        standards=standards_part,
        partial=bool(degraded),
        degraded=degraded,
        withheld=withheld,
        as_of=datetime.now(UTC),
    )

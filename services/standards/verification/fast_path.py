"""Public verification's common case answered in front of FastAPI's router.

`GET /v1/public/certifications/{no}` is the public's hot path (a QR code on every certified
product points at it). FastAPI's routing, exception and dependency layers cost more Python than the
lookup itself, so the kit's fast-path layer (`services/common/fast_path.py`) answers the plain
case here: a number (and optional `certifier`) of ordinary characters that some body holds — one
body or several, the answer lists every holder's record. Everything else — odd characters, unknown
numbers (404), other query parameters — goes on to the FastAPI route in `router.py`, which stays
the one definition of validation, errors and the OpenAPI. The rows come from the same repository
call and the body is built by the same `service.holders` and `service.encode` as the route's, so
both answer byte for byte alike; this module never imports the router.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from services.common.fast_path import FastRoute
from services.common.readpool import reader
from services.common.today import today_shanghai
from services.standards.verification import repository as repo
from services.standards.verification.schemas import VERIFY_PATH
from services.standards.verification.service import encode, holders

PREFIX = "/v1/public/certifications/"
# Ordinary certificate numbers and body codes: nothing the route's validation could reject or strip.
PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}")


def _plain_number(path: str) -> tuple | None:
    if not path.startswith(PREFIX):
        return None
    number = path[len(PREFIX) :]
    return (number,) if PLAIN.fullmatch(number) and number != "lookup" else None


async def _verify(app: Any, scope: dict, number: str) -> bytes | None:
    certifier = None
    if scope.get("query_string"):
        params = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        if len(params) != 1 or params[0][0] != "certifier" or not PLAIN.fullmatch(params[0][1]):
            return None
        certifier = params[0][1]
    rows = await repo.by_number(reader(app, None), number, certifier)
    return encode(holders(rows, today_shanghai())) if rows else None


ROUTES = (FastRoute(VERIFY_PATH, _plain_number, _verify, conditional=True),)

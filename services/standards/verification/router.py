"""Public verification (no principal): is this certificate genuine and in force?"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.common.conditional import IfNoneMatch, json_answer
from services.common.errors import QueryTooBroad, responses
from services.common.readpool import Reads
from services.standards.certifications.schemas import CertificateNoParam, CertifierParam
from services.standards.errors import CertificateNotFound
from services.standards.verification import schemas, service
from services.standards.verification.schemas import LookupRequest, LookupResponse, Verification

router = APIRouter(tags=["public verification"])
VERIFY_PATH = schemas.VERIFY_PATH


@router.get(
    VERIFY_PATH,
    summary="Verify a 品字标 certificate by number (public, no credentials)",
    description=(
        "Returns `items`: the public record of every body holding a certificate with this number, "
        "ordered by body code — usually one; numbers are each body's own, so several bodies may hold "
        "the same one. `?certifier=` narrows to that body's. Each record has exactly the public "
        "fields; `status` is the effective status: `expired` from the day after `expires_on` "
        "(Asia/Shanghai) unless the body revoked or cancelled it. A number no body holds (or the "
        "named body does not) is a 404 problem. With `ETag`; `If-None-Match` with it: 304 while "
        "nothing changed."
    ),
    response_model=Verification,
    responses=responses(CertificateNotFound, QueryTooBroad),
)
async def verify_certificate(
    certificate_no: Annotated[CertificateNoParam, Path()],
    reads: Reads,
    certifier: Annotated[
        CertifierParam | None, Query(description="Only this certification body's certificate")
    ] = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    # Built as plain data and serialised once; the response model documents it.
    return json_answer(service.encode(await service.verify(reads, certificate_no, certifier)), if_none_match)


@router.post(
    "/v1/public/certifications/lookup",
    summary="Verify up to 100 certificate numbers at once (public)",
    description="One result per number asked, in order; `found: false` for unknown numbers.",
    response_model=LookupResponse,
    responses=responses(QueryTooBroad),
)
async def lookup_certificates(body: LookupRequest, reads: Reads) -> Response:
    return _json(await service.lookup(reads, body.certificate_nos))


def _json(content: dict) -> Response:
    return Response(service.encode(content), media_type="application/json")

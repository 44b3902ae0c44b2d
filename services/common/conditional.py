"""Conditional requests (RFC 9110 §13): entity tags on single resources, `If-None-Match` → 304,
`If-Match` on writes → 412 `precondition_failed`.

An entity tag is a digest of the representation's bytes, exactly as they are sent: the same
resource in the same state gives the same tag on every replica (nothing from process state), and
any change a caller can see in the body changes it. Tags are strong, so they serve `If-Match`; a
representation differs by caller (a bank reads an enterprise's directory record, an official the
full record), and so does its tag, each caller's own.

- A GET answers with `ETag`; with `If-None-Match` naming that tag (weak comparison) or `*`, it is a
  304 with the tag and no body. A header that cannot be read as a list of entity tags is ignored
  (never an error: it only asks for a shortcut).
- A PATCH, PUT or DELETE with `If-Match` goes on only when it names the current tag (strong
  comparison) or is `*`; otherwise 412 `precondition_failed`, and nothing is written. A resource
  that does not exist yet has no current tag: a PUT creating it with any `If-Match` (`*` too) is a
  412 (RFC 9110 §13.1.1). The write routes compare
  inside their unit of work after locking the row, so two callers holding the same tag cannot
  both win. Without `If-Match` a write goes on as before (last write wins).
- A write's answer carries the new representation's tag.

The gateway's compression tags a compressed representation `"<tag>-gzip"` and takes the suffix off
again on the way in (`gateway/compression.py`): services only ever see their own tags.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Annotated

from fastapi import Header, Response
from pydantic import BaseModel, StringConstraints

from services.common.errors import PreconditionFailed
from services.common.types import text, text_problem

# Enough for a list of tens of tags (ours are 24 characters; a browser sends one); a longer value
# is the header's 422, never a parse of whatever a client pads it with.
MAX_HEADER = 1024
# One entity-tag of a list (RFC 9110 §8.8.3): optional W/, a quoted run of etagc, then a comma or
# the end. Read left to right; the first element that does not fit ends the list.
_TAG = re.compile(r'[ \t]*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"[ \t]*(?:,|$)')
_STAR = re.compile(r"[ \t]*\*[ \t]*")

# Like every string a request carries, the headers go through the kit's text rule (a control
# character is a 422 at `#/header/if-none-match`); a value that is text but no list of entity
# tags is ignored.
ConditionHeader = text(StringConstraints(max_length=MAX_HEADER))
IfNoneMatch = Annotated[
    ConditionHeader | None,
    Header(
        alias="If-None-Match",
        description="An `ETag` of this resource from an earlier answer (or `*`): 304 Not Modified, "
        "no body, while it is still current",
    ),
]
IfMatch = Annotated[
    ConditionHeader | None,
    Header(
        alias="If-Match",
        description="The `ETag` of the representation this change is based on: 412 "
        "`precondition_failed`, nothing written, when the resource has changed since",
    ),
]


def entity_tag(body: bytes) -> str:
    """The strong entity tag of a representation: a digest of its bytes."""
    digest = hashlib.blake2b(body, digest_size=16).digest()
    return '"' + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii") + '"'


def representation(model: BaseModel) -> bytes:
    """The JSON bytes of a single resource's model, as its routes send (and tag) it."""
    return model.model_dump_json().encode()


def parse(header: str | None) -> list[tuple[bool, str]] | None:
    """The entity tags of an `If-Match`/`If-None-Match` value as (weak, opaque tag with quotes);
    [] for `*`; None for a value that is no list of entity tags (the header is then ignored)."""
    if header is None or len(header) > MAX_HEADER:
        return None
    if _STAR.fullmatch(header):
        return []
    tags: list[tuple[bool, str]] = []
    pos, end = 0, len(header)
    while pos < end:
        m = _TAG.match(header, pos)
        if m is None or m.end() == pos:
            return None
        tags.append((m.group(1) is not None, f'"{m.group(2)}"'))
        pos = m.end()
    return tags or None


def readable(header: str | None) -> bool:
    """Whether a route would take this header value (the text rule and the length); a fast route
    leaves any other value to the route, which answers its 422."""
    return header is None or (len(header) <= MAX_HEADER and text_problem(header) is None)


def none_match(if_none_match: str | None, etag: str) -> bool:
    """True when `If-None-Match` names `etag` (weak comparison) or is `*`: the caller's copy is
    current."""
    tags = parse(if_none_match)
    if tags is None:
        return False
    return tags == [] or any(opaque == etag for _weak, opaque in tags)


def matches(if_match: str | None, etag: str) -> bool:
    """True when a write may go on: no `If-Match`, `*`, or the current tag among its strong tags."""
    if if_match is None:
        return True
    tags = parse(if_match)
    if tags is None:
        return False
    return tags == [] or any(not weak and opaque == etag for weak, opaque in tags)


def require_match(if_match: str | None, current: bytes | None) -> None:
    """Refuse a write whose `If-Match` does not name the current representation (`current`, the
    bytes a GET by this caller answers now; None: there is none yet): 412, before anything is
    written."""
    if if_match is None:
        return
    if current is None or not matches(if_match, entity_tag(current)):
        raise PreconditionFailed()


def answer(body: bytes, if_none_match: str | None) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body of a GET of `body` (JSON): 200 with its tag, or 304 without a
    body. The FastAPI routes and the fast routes (`services/common/fast_path.py`) both use it."""
    etag = entity_tag(body)
    if none_match(if_none_match, etag):
        return 304, [(b"etag", etag.encode())], b""
    return (
        200,
        [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
            (b"etag", etag.encode()),
        ],
        body,
    )


def json_answer(body: bytes, if_none_match: str | None) -> Response:
    """A route's answer to a GET of a single resource whose JSON representation is `body`."""
    status, headers, content = answer(body, if_none_match)
    response = Response(content, status_code=status)
    response.raw_headers = headers
    return response


def tagged_json(body: bytes, status_code: int = 200) -> Response:
    """A write's answer: the new representation with its tag."""
    return Response(
        body, status_code=status_code, media_type="application/json", headers={"ETag": entity_tag(body)}
    )


# OpenAPI of the conditional routes: the `ETag` header of their answers and a GET's 304.
ETAG_HEADER = {
    "ETag": {
        "description": "The representation's strong entity tag: send it as `If-None-Match` to "
        "revalidate, as `If-Match` to change only what you read",
        "schema": {"type": "string"},
    }
}
NOT_MODIFIED = {
    304: {
        "description": "Not Modified: `If-None-Match` names the current `ETag`; no body",
        "headers": ETAG_HEADER,
    }
}


def tagged(status: int = 200, description: str | None = None) -> dict[int, dict]:
    """An answer (`status`) that carries the representation's `ETag`, for a route's `responses`."""
    return {status: {"headers": ETAG_HEADER} | ({"description": description} if description else {})}

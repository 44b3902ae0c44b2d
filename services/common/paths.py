"""The path rule, on every process: a request is routed on its path percent-decoded once, and a
path that names nothing is refused before anything routes on it; at the gateway, the route policy
checks the path the service will route on, and that very path is what goes upstream.

A path is read as the caller sent it (``raw_path``) and percent-decoded once, as uvicorn decodes it
for the app. It is refused — a 400 problem ``invalid_path`` pointing at ``#/path`` — when it:

- is not UTF-8 once decoded (``%FF``): it names nothing a service holds (uvicorn would hand the
  app U+FFFD in its place, and no later rule could tell);
- has a ``.`` or ``..`` segment, literal or encoded (``/../``, ``%2E%2E``, ``..%2F``): a later hop
  may resolve it (yarl's URL join did) to another route than the one checked. Clients resolve dot
  segments before they send, so only a crafted path holds one; no process guesses;
- ends in a line feed (``%0A``): route patterns — Starlette's and the gateway policy's — end in
  ``$``, which also matches before a final line feed, so ``/healthz%0A`` was answered as
  ``/healthz``.

Other control characters (``%00``, ``%0D``, …) are not this rule's: inside a path parameter they
are the kit's text rule's (a 422 pointing at the parameter), and in a fixed part of a path they
match no route (404).

The kit's request-context middleware applies the rule on every process (``decode``). The gateway's
proxy then matches its policy on the decoded path and forwards that path percent-encoded again
(``normalise``: UTF-8; RFC 3986 ``pchar`` and ``/`` kept as they are), so the service decodes
exactly the path the policy checked: spaces, em-dashes, Chinese characters and control characters
arrive as they were sent rather than raw on the request line. Encoded slashes are slashes:
standard numbers such as ``T/ZZB 0001—2023`` contain one, and the services read ``%2F`` and ``/``
alike (``{code:path}`` parameters), as the policy does.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote_to_bytes

from services.common.errors import InvalidPath

# RFC 3986 pchar besides letters and digits (unreserved, sub-delims, ":" and "@"), and "/".
SAFE = "/-._~!$&'()*+,;=:@"
_PLAIN = re.compile(rb"[A-Za-z0-9/\-._~!$&'()*+,;=:@]*")
_DOT_SEGMENT = re.compile(r"/\.\.?(?=/|$)")
# A query is passed on as sent; only bytes that may not stand on a request line are encoded.
_QUERY_SAFE = SAFE + "?%[]"
_PLAIN_QUERY = re.compile(rb"[A-Za-z0-9/\-._~!$&'()*+,;=:@?%\[\]]*")


def invalid_path(message: str):
    return InvalidPath(message)


def raw_path(scope) -> bytes:
    """The path as the caller sent it (servers that give no ``raw_path``: the decoded one, quoted)."""
    return scope.get("raw_path") or quote_path(scope["path"]).encode()


def decode(raw: bytes) -> str:
    """The path a request is routed on; raises the 400 problem for a path that names nothing."""
    if _PLAIN.fullmatch(raw):  # the common case: nothing encoded
        path = raw.decode("ascii")
    else:
        try:
            path = unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise invalid_path("the path is not UTF-8 once percent-decoded") from None
        if path.endswith("\n"):
            raise invalid_path("the path ends in a line feed (%0A)")
    if _DOT_SEGMENT.search(path):
        raise _dot_segment()
    return path


def normalise(raw: bytes) -> tuple[str, str]:
    """(decoded, encoded): the path the policy checks and the service routes on, and the same path
    as it goes on the upstream request line."""
    path = decode(raw)
    return path, path if _PLAIN.fullmatch(raw) else quote_path(path)


def _dot_segment():
    return invalid_path(
        "the path holds a '.' or '..' segment (literal or percent-encoded); it is not resolved here"
    )


def quote_path(path: str) -> str:
    """A decoded path as it goes on a request line (the inverse of the service's decoding)."""
    return quote(path, safe=SAFE)


def requote_query(query: bytes) -> str:
    """The query as sent, with only the bytes a request line may not carry percent-encoded."""
    if _PLAIN_QUERY.fullmatch(query):
        return query.decode("ascii")
    return quote(query, safe=_QUERY_SAFE)

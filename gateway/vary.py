"""`Vary` on an ASGI response: what a stored copy of an answer depends on besides the URL.

CORS adds `Origin` (gateway/cors.py), compression `Accept-Encoding` (gateway/compression.py); a
service may have set its own. Each name appears once, in one field."""

from __future__ import annotations


def add_vary(headers: list[tuple[bytes, bytes]], name: bytes) -> list[tuple[bytes, bytes]]:
    """`headers` with `name` in its Vary field (merged into one field, case-insensitively)."""
    names: list[bytes] = []
    rest = []
    for k, v in headers:
        if k.lower() == b"vary":
            names += [n.strip() for n in v.split(b",") if n.strip()]
        else:
            rest.append((k, v))
    if b"*" not in names and name.lower() not in {n.lower() for n in names}:
        names.append(name)
    return [*rest, (b"vary", b", ".join(names))]

"""Text the database can store: no NUL or other control characters, no lone surrogates."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def plain_text(v: str) -> str:
    if v.isprintable():  # the common case, in C: no control characters, no surrogates
        return v
    for ch in v:
        o = ord(ch)
        if (o < 32 and ch not in "\t\n\r") or o == 127:
            raise ValueError("control characters are not allowed")
        if 0xD800 <= o <= 0xDFFF:
            raise ValueError("not valid Unicode text")
    return v


PlainText = Annotated[str, AfterValidator(plain_text)]

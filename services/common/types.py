"""Pydantic field types for the HTTP conventions: money and rates as decimal strings, credit codes."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, PlainSerializer, StringConstraints

from services.common.credit_code import normalize_credit_code


def _money_str(v: Decimal) -> str:
    return f"{v:.2f}"


def _rate_str(v: Decimal) -> str:
    return format(v.normalize(), "f") if v == v.to_integral() else format(v, "f")


# Yuan with at most 2 decimal places, ≥ 0; serialised as "1250000.00". Accepts strings or numbers.
Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=17, decimal_places=2, examples=["1250000.00"]),
    PlainSerializer(_money_str, return_type=str, when_used="json"),
]
# Percent as a decimal string: "4.35" means 4.35 %.
Rate = Annotated[
    Decimal,
    Field(ge=0, le=100, max_digits=7, decimal_places=4, examples=["4.35"]),
    PlainSerializer(_rate_str, return_type=str, when_used="json"),
]
# A validated, normalised USCC (strip + uppercase, checksum verified).
CreditCode = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(normalize_credit_code),
    Field(examples=["91330000733796106P"], description="统一社会信用代码 (GB 32100-2015), checksum verified"),
]
RegionCode = Annotated[str, StringConstraints(pattern=r"^\d{6}$"), Field(examples=["330106"])]

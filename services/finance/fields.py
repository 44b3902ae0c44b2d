"""Field types shared by the finance records: amounts, money, rates, references, dates."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, PlainSerializer, StringConstraints

from services.common.types import text
from services.finance.rules import MAX_AMOUNT, MAX_ANNUAL_RATE


def _money(v: Decimal) -> str:
    return f"{v:.2f}"


def _rate(v: Decimal) -> str:
    return format(v.normalize(), "f")


_money_out = PlainSerializer(_money, return_type=str, when_used="json")
_rate_out = PlainSerializer(_rate, return_type=str, when_used="json")

# > 0 and ≤ 1,000,000,000,000.00, 2 decimals (FIN-V004 / FIN-V005)
Amount = Annotated[Decimal, Field(gt=0, le=MAX_AMOUNT, decimal_places=2, examples=["1250000.00"]), _money_out]
# ≥ 0, 2 decimals (balances, compensation, recovery)
MoneyIn = Annotated[Decimal, Field(ge=0, le=MAX_AMOUNT, decimal_places=2, examples=["800000.00"]), _money_out]
# percent 0–36, ≤ 4 decimals (FIN-V006)
RateIn = Annotated[Decimal, Field(ge=0, le=MAX_ANNUAL_RATE, decimal_places=4, examples=["4.35"]), _rate_out]
ShareIn = Annotated[Decimal, Field(ge=0, le=100, decimal_places=4, examples=["40"]), _rate_out]
# 1–64 characters, no spaces at either end (FIN-V013); the text rule (FIN-V017) comes first.
Ref = text(
    StringConstraints(min_length=1, max_length=64, pattern=r"^\S(?:.*\S)?$"),
    Field(examples=["L-2022-000123"]),
)
# An institution code as a filter (any length up to 64; unknown codes simply match nothing).
CodeFilter = text(StringConstraints(max_length=64))
# A name as the bank or an admin wrote it (FIN-V014).
Name = text(StringConstraints(min_length=1, max_length=200))
# Read side
MoneyOut = Annotated[Decimal, _money_out, Field(examples=["1250000.00"])]
RateOut = Annotated[Decimal, _rate_out, Field(examples=["4.35"])]

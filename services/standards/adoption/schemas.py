"""Adoption (采标) report bodies: numerator, denominator and basis, never a bare percentage."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.common.types import Rate, text
from services.standards.catalogue.schemas import StandardCode


class AdoptingProduct(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product: text(StringConstraints(strip_whitespace=True, min_length=1, max_length=500))
    standard_code: StandardCode = Field(description="The international or advanced foreign standard followed")
    degree: Literal["IDT", "MOD", "NEQ"] = Field(
        description="IDT identical and MOD modified adoption count; NEQ is recorded but does not count"
    )


class AdoptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    main_products: int = Field(
        ge=1, le=100_000, description="Number of main (主导) products: the denominator"
    )
    adopting_products: list[AdoptingProduct] = Field(
        max_length=1000, description="Main products produced to an international or advanced foreign standard"
    )
    basis: text(StringConstraints(strip_whitespace=True, max_length=500), multiline=True) | None = Field(
        None, description="Where the figures come from (e.g. the enterprise's annual statistical report)"
    )

    @model_validator(mode="after")
    def _fits(self) -> AdoptionIn:
        names = [p.product for p in self.adopting_products]
        if len(set(names)) != len(names):
            raise ValueError("each product appears once in adopting_products")
        counted = sum(1 for p in self.adopting_products if p.degree in ("IDT", "MOD"))
        if counted > self.main_products:
            raise ValueError(
                f"{counted} products adopt with IDT/MOD but there are only {self.main_products} main products"
            )
        return self


class AdoptionOut(BaseModel):
    credit_code: str
    year: int
    main_products: int
    adopting_products: list[AdoptingProduct]
    basis: str | None
    numerator: int = Field(description="Main products with IDT or MOD adoption")
    denominator: int = Field(description="Main products")
    rate: Rate = Field(description="numerator ÷ denominator, percent with 2 places")
    updated_at: datetime


def rate_of(numerator: int, denominator: int) -> Decimal:
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(Decimal("0.01"))

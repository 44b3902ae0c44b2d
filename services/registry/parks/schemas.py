from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.common.types import Text
from services.registry.enterprises.schemas import Address, Name, check_region

Stars = Annotated[int, Field(ge=1, le=5)]


class ParkFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: Address | None = None
    opened_on: date | None = None
    star_rating: Stars | None = Field(None, description="星级 1–5 (四星、五星 count as star parks)")
    rated_on: date | None = None
    national_demo_base: bool | None = Field(None, description="国家小型微型企业创业创新示范基地")

    @model_validator(mode="after")
    def _rating(self) -> ParkFields:
        if (
            self.rated_on is not None
            and self.star_rating is None
            and "star_rating" not in self.model_fields_set
        ):
            raise ValueError("rated_on needs a star_rating")
        return self


class ParkIn(ParkFields):
    name: Name
    region_code: Text

    _region = field_validator("region_code")(classmethod(lambda cls, v: check_region(v)))


class ParkPatch(ParkFields):
    name: Name | None = None
    region_code: Text | None = None

    @field_validator("region_code")
    @classmethod
    def _region(cls, v: str | None) -> str | None:
        return None if v is None else check_region(v)


class ParkOut(BaseModel):
    id: int
    name: str
    region_code: str
    address: str | None
    opened_on: date | None
    star_rating: int | None
    rated_on: date | None
    national_demo_base: bool
    tenants: int = Field(description="Enterprises currently in the park")
    created_at: datetime
    updated_at: datetime


class TenancyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    moved_in_on: date
    moved_out_on: date | None = None

    @model_validator(mode="after")
    def _dates(self) -> TenancyIn:
        if self.moved_out_on is not None and self.moved_out_on < self.moved_in_on:
            raise ValueError("moved_out_on is before moved_in_on")
        return self


class TenancyOut(BaseModel):
    park_id: int
    credit_code: str
    name: str | None = None
    moved_in_on: date
    moved_out_on: date | None

"""Institutions as admins register them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.common.types import RegionCode
from services.finance.fields import MoneyIn, MoneyOut, Name, Ref

Kind = Literal["bank", "guarantor"]


class InstitutionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Ref = Field(description="Institution code; machine clients of this institution carry it as org")
    name: Name
    kind: Kind
    region_code: RegionCode
    net_assets: MoneyIn | None = Field(None, description="Guarantors: net assets (leverage denominator)")
    small_micro_focused: bool = Field(
        False, description="Guarantors focused on small-micro business (leverage cap 15× instead of 10×)"
    )

    @model_validator(mode="after")
    def _guarantor_fields(self) -> InstitutionIn:
        if self.kind == "bank" and (self.net_assets is not None or self.small_micro_focused):
            raise ValueError("net_assets and small_micro_focused apply to guarantors only")
        return self


class InstitutionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    kind: Kind
    region_code: str
    net_assets: MoneyOut | None
    small_micro_focused: bool
    created_at: datetime
    updated_at: datetime

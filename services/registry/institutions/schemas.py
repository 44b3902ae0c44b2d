from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints, field_validator

from services.common.regions import region as region_info
from services.common.types import CreditCode, Text, text
from services.registry.enterprises.schemas import Name, check_region

Kind = Literal["institution", "platform"]
Level = Literal["provincial", "national"]
# The figures other departments own, reported to the platform (docs/definitions.md): which keys
# are reported is this list; each key's unit is its indicator's (services/common/targets.py).
REPORTED_KEYS = ("industrial_apps", "tech_trade", "export_support_funds", "special_credit_fund",
                 "customs_clearance_time")  # fmt: skip
ReportedKey = Literal["industrial_apps", "tech_trade", "export_support_funds", "special_credit_fund",
                      "customs_clearance_time"]  # fmt: skip
Amount = Annotated[
    Decimal,
    Field(ge=0, max_digits=20, decimal_places=2, examples=["125000000000.00"]),
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json"),
]
Document = text(StringConstraints(strip_whitespace=True, min_length=1, max_length=500))


class InstitutionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    credit_code: CreditCode
    region_code: Text = Field(description="A current county-level code (GET /v1/regions)")
    kind: Kind = Field(description="institution (服务机构) or platform (公共服务平台)")
    level: Level = Field(description="Recognised at provincial (省级) or national (国家级) level")
    recognised_on: date

    _region = field_validator("region_code")(classmethod(lambda cls, v: check_region(v)))


class InstitutionOut(BaseModel):
    id: int
    name: str
    credit_code: str
    region_code: str
    kind: Kind
    level: Level
    recognised_on: date
    created_at: datetime


def check_current_region(v: str) -> str:
    """A reported figure's region: a current code of any level (330000 the province, a city, a county)."""
    v = v.strip()
    r = region_info(v)
    if r is None:
        raise ValueError(f"{v} is not a known Zhejiang region code (GB/T 2260; see GET /v1/regions)")
    if r.retired:
        raise ValueError(f"{v} {r.name} was retired on {r.retired_on}; use {'、'.join(r.successors)}")
    return v


class ReportedFigureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: ReportedKey
    region: Text = Field(examples=["330000"], description="A current region code of any level")
    period_end: date = Field(description="The last day the figure covers")
    value: Amount
    unit: Literal["yuan", "apps", "percent"] = Field(description="The indicator's own unit")
    source_document: Document = Field(description="The document the figure is taken from (文件名称及文号)")

    _region = field_validator("region")(classmethod(lambda cls, v: check_current_region(v)))


class ReportedFigureOut(BaseModel):
    id: int
    key: str
    region: str
    period_end: date
    value: Amount
    unit: str
    source_document: str
    reported_by: str
    created_at: datetime

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from services.common.today import today_shanghai
from services.common.types import Money
from services.registry.reference.schemas import SizeOut

SignedMoney = Annotated[
    Decimal,
    Field(ge=Decimal("-1e15"), le=Decimal("1e15"), decimal_places=2, examples=["-125000.00"]),
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json"),
]
Count = Annotated[int, Field(ge=0, le=10_000_000)]


def max_year() -> int:
    return today_shanghai().year + 1


class CncEquipment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    numerator: Annotated[Decimal, Field(ge=0, le=Decimal("1e15"), decimal_places=2)] = Field(
        description="NC-controlled production equipment (count, or value in yuan)"
    )
    denominator: Annotated[Decimal, Field(gt=0, le=Decimal("1e15"), decimal_places=2)] = Field(
        description="All production equipment (same basis)"
    )
    basis: Literal["count", "value"]

    @model_validator(mode="after")
    def _fraction(self) -> CncEquipment:
        if self.numerator > self.denominator:
            raise ValueError("numerator cannot exceed denominator")
        return self


class MarketShare(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Literal["national", "global"]
    rank: Annotated[int, Field(ge=1, le=100000)]


class IndicatorsIn(BaseModel):
    """One year's figures; money in yuan. PUT replaces the whole year."""

    model_config = ConfigDict(extra="forbid")

    employees: Count | None = Field(None, description="从业人员 (annual average, persons)")
    revenue: Money | None = Field(None, description="营业收入")
    main_business_revenue: Money | None = Field(None, description="主营业务收入")
    total_assets: Money | None = Field(None, description="资产总额")
    total_liabilities: Money | None = Field(None, description="负债总额")
    net_profit: SignedMoney | None = Field(None, description="净利润 (may be negative)")
    rd_expense: Money | None = Field(None, description="研发费用")
    rd_staff: Count | None = None
    invention_patents: Count | None = Field(
        None, description="Applied invention patents (应用于主营的发明专利)"
    )
    cnc_equipment: CncEquipment | None = Field(None, description="装备数控化: numerator, denominator, basis")
    on_cloud: bool | None = Field(None, description="企业上云")
    export_revenue: Money | None = None
    market_share: MarketShare | None = Field(None, description="Niche market rank, national or global")
    niche_years: Annotated[int, Field(ge=0, le=200)] | None = Field(
        None, description="Years in its niche market"
    )
    evaluation_score: Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)] | None = Field(
        None, description="专精特新 evaluation score (0–100)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> IndicatorsIn:
        if (
            self.main_business_revenue is not None
            and self.revenue is not None
            and self.main_business_revenue > self.revenue
        ):
            raise ValueError("main_business_revenue cannot exceed revenue")
        if (
            self.export_revenue is not None
            and self.revenue is not None
            and self.export_revenue > self.revenue
        ):
            raise ValueError("export_revenue cannot exceed revenue")
        return self


class Ratios(BaseModel):
    """Percent strings with 2 places; null when a figure is missing or the base is zero."""

    rd_intensity: str | None = Field(None, description="研发投入强度 = rd_expense ÷ revenue × 100")
    main_business_share: str | None = Field(None, description="main_business_revenue ÷ revenue × 100")
    debt_ratio: str | None = Field(None, description="资产负债率 = total_liabilities ÷ total_assets × 100")
    cnc_rate: str | None = Field(None, description="装备数控化率 = numerator ÷ denominator × 100")


class IndicatorsOut(IndicatorsIn):
    model_config = ConfigDict(extra="ignore")
    credit_code: str
    year: int
    size: SizeOut | None = Field(None, description="Size class for this year (null when figures are missing)")
    size_missing: list[str] = Field(default_factory=list, description="Indicators sizing needs but not given")
    ratios: Ratios

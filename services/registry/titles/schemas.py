from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.common.today import today_shanghai
from services.common.types import text

TitleKind = Literal[
    "tech_sme",
    "high_tech",
    "innovative_sme",
    "specialized_sme",
    "little_giant",
    "champion_candidate",
    "champion",
    "zhejiang_made",
    "other",
]
Short = text(StringConstraints(strip_whitespace=True, min_length=1, max_length=200))


class TitleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: TitleKind = Field(
        description="tech_sme 科技型中小企业, high_tech 高新技术企业, innovative_sme 创新型中小企业, "
        "specialized_sme 专精特新中小企业, little_giant 专精特新“小巨人”, champion 隐形冠军, …"
    )
    level: Literal["national", "provincial", "city", "county"]
    issuer: Short | None = Field(None, description="e.g. 浙江省经济和信息化厅")
    batch: Short | None = Field(None, description="e.g. 2022年第一批")
    valid_from: date
    valid_to: date | None = Field(None, description="Last valid day (titles are typically valid 3 years)")
    rule_version: Short | None = Field(None, description="Rule set the title was judged under")
    source_document: Short | None = Field(None, description="e.g. 浙经信企业〔2022〕63号")

    @model_validator(mode="after")
    def _dates(self) -> TitleIn:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        if self.valid_from < date(1949, 1, 1) or self.valid_from.year > today_shanghai().year + 1:
            raise ValueError("valid_from must lie between 1949 and next year")
        return self


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: text(StringConstraints(strip_whitespace=True, min_length=1, max_length=200), multiline=True)
    revoked_on: date | None = Field(
        None, description="Defaults to today (Asia/Shanghai); a later date takes effect on that day"
    )


class TitleOut(BaseModel):
    id: int
    credit_code: str
    kind: str
    level: str
    issuer: str | None
    batch: str | None
    valid_from: date
    valid_to: date | None
    status: Literal["active", "revoked"]
    state: Literal["active", "pending", "expired", "revoked"] = Field(
        description="As of today (Asia/Shanghai): pending (not yet valid), active, expired (past "
        "valid_to), revoked (from its revoked_on: a revocation dated later keeps the title active "
        "until that day)"
    )
    revoked_on: date | None
    revoke_reason: str | None
    rule_version: str | None
    source_document: str | None
    created_at: datetime

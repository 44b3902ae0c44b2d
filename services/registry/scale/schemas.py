from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.common.types import text


class ScaleStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["above", "below"] = Field(description="above: in the 规模以上 directory")
    effective_year: Annotated[int, Field(ge=1949, le=2100)]
    source: text(StringConstraints(strip_whitespace=True, max_length=200)) | None = Field(
        None, description="e.g. 统计局规上名录 2022"
    )


class ScaleStatusOut(BaseModel):
    id: int
    credit_code: str
    status: Literal["above", "below"]
    effective_year: int
    source: str | None
    recorded_at: datetime
    entry: bool = Field(description="小升规: this fact moves the enterprise from below (or unknown) to above")

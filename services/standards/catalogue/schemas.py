"""Catalogue request and response bodies."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.common.types import CreditCode, text
from services.standards.catalogue.codes import is_zhejiang_made, normalize_standard_code

Level = Literal["international", "national", "industry", "local", "group", "zhejiang_made"]
StandardStatus = Literal["current", "withdrawn"]
Degree = Literal["IDT", "MOD", "NEQ"]
Role = Literal["lead", "participant"]

StandardCode = text(
    StringConstraints(min_length=1, max_length=80),
    AfterValidator(lru_cache(maxsize=65536)(normalize_standard_code)),  # pure; numbers recur
    Field(
        examples=["T/ZZB 0001—2023"],
        description="Standard number; `T/ZZB NNNN—YYYY` accepted with em-dash, en-dash or hyphen and "
        "stored with an em-dash",
    ),
)
Title = text(StringConstraints(strip_whitespace=True, min_length=1, max_length=500))


class Adoption(BaseModel):
    """The international standard this one adopts, and how closely (GB/T 20000.2)."""

    model_config = ConfigDict(extra="forbid")
    international_code: text(StringConstraints(strip_whitespace=True, min_length=1, max_length=80))
    degree: Degree = Field(description="IDT identical, MOD modified, NEQ not equivalent")


def _check_level(code: str, level: str) -> None:
    if level == "zhejiang_made" and not is_zhejiang_made(code):
        raise ValueError("a zhejiang_made standard is numbered T/ZZB NNNN—YYYY")
    if is_zhejiang_made(code) and level != "zhejiang_made":
        raise ValueError("T/ZZB standards are at level zhejiang_made")
    if level == "group" and not code.startswith("T/"):
        raise ValueError("group standards are numbered T/…")


class StandardCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: StandardCode
    level: Level
    title: Title
    published_on: date | None = None
    status: StandardStatus = "current"
    adoption: Adoption | None = None

    @model_validator(mode="after")
    def _level_matches_code(self) -> StandardCreate:
        _check_level(self.code, self.level)
        return self


class StandardPatch(BaseModel):
    """Fields to change; the code is the standard's identity and does not change."""

    model_config = ConfigDict(extra="forbid")
    level: Level | None = None
    title: Title | None = None
    published_on: date | None = None
    status: StandardStatus | None = None
    adoption: Adoption | None = None


class StandardOut(BaseModel):
    code: str
    level: Level
    title: str
    published_on: date | None
    status: StandardStatus
    adoption: Adoption | None


class DrafterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credit_code: CreditCode
    role: Role


class DrafterOut(BaseModel):
    standard_code: str
    credit_code: str
    role: Role


class EnterpriseStandardOut(StandardOut):
    role: Role = Field(description="The enterprise's part in drafting: lead (主导) or participant")

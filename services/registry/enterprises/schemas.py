"""Enterprises' request and response shapes: the bodies, the list's query model, and the one
serialisation of an enterprise row (`item`) that every answer uses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.common.auth import Principal
from services.common.batch import batch_request
from services.common.export import Format, FormatParam
from services.common.pagination import DEFAULT_LIMIT, MAX_LIMIT, PAGING, PageParams, cursor_binding
from services.common.today import today_shanghai
from services.common.types import CreditCode, Money, RegionPrefix, Text, patterned, text
from services.registry.pool.tiers import Tier
from services.registry.reference.data import region, regions
from services.registry.reference.industries import class_problem
from services.registry.scope import DIRECTORY_ONLY, HIDDEN_FROM_DIRECTORY_READERS

SizeClass = Literal["large", "medium", "small", "micro"]
ScaleStatus = Literal["above", "below"]
Name = text(StringConstraints(strip_whitespace=True, min_length=1, max_length=200))
# A registered address is one line, as on the business licence.
Address = text(StringConstraints(strip_whitespace=True, max_length=500))


def check_region(v: str) -> str:
    """A record's region is a current county-level code: a retired one names its successors
    (rows filed under a retired code before it retired stay, and are moved: docs/registry.md)."""
    v = v.strip()
    r = region(v)
    if r is None or r.level != "county":
        raise ValueError(
            f"{v} is not a known Zhejiang county-level region code (GB/T 2260; see GET /v1/regions)"
        )
    if r.retired:
        now = "、".join(f"{c} {region(c).name}" for c in r.successors)
        raise ValueError(f"{v} {r.name} was retired on {r.retired_on} ({r.note}); use {now}")
    return v


def check_industry(v: str) -> str:
    v = v.strip()
    problem = class_problem(v)
    if problem:
        raise ValueError(problem)
    return v


class EnterpriseFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    established_on: date | None = Field(None, description="Date of establishment (YYYY-MM-DD)")
    registered_capital: Money | None = Field(None, description="Registered capital in yuan")
    address: Address | None = None
    legal_representative: text(StringConstraints(strip_whitespace=True, max_length=100)) | None = None

    @field_validator("established_on")
    @classmethod
    def _established(cls, v: date | None) -> date | None:
        if v is not None and not (date(1949, 1, 1) <= v <= today_shanghai()):
            raise ValueError("established_on must lie between 1949-01-01 and today")
        return v


class EnterpriseCreate(EnterpriseFields):
    credit_code: CreditCode
    name: Name
    region_code: Text = Field(
        description="Current county-level GB/T 2260 code (a retired one is refused, naming its successors)",
        examples=["330106"],
    )
    industry_code: Text = Field(description="GB/T 4754-2017 class (4 digits)", examples=["3311"])

    _region = field_validator("region_code")(classmethod(lambda cls, v: check_region(v)))
    _industry = field_validator("industry_code")(classmethod(lambda cls, v: check_industry(v)))


EnterpriseBatchRequest = batch_request(
    "EnterpriseBatchRequest",
    EnterpriseCreate,
    {
        "credit_code": "91330106MA27XK3L4D",
        "name": "杭州示例精密机械有限公司",
        "region_code": "330106",
        "industry_code": "3311",
        "established_on": "2016-05-18",
        "registered_capital": "5000000.00",
        "address": "杭州市西湖区文三路 90 号",
        "legal_representative": "王明",
    },
)


class EnterprisePatch(EnterpriseFields):
    name: Name | None = None
    region_code: Text | None = None
    industry_code: Text | None = None

    @field_validator("region_code")
    @classmethod
    def _region(cls, v: str | None) -> str | None:
        return None if v is None else check_region(v)

    @field_validator("industry_code")
    @classmethod
    def _industry(cls, v: str | None) -> str | None:
        return None if v is None else check_industry(v)


class EnterpriseOut(BaseModel):
    credit_code: str
    name: str
    region_code: str
    region_name: str | None = None
    city_code: str
    industry_code: str
    industry_section: str | None
    size_class: SizeClass | None = Field(None, description="From the latest indicator year")
    size_year: int | None = None
    scale_status: ScaleStatus | None = Field(None, description="Latest effective 规上 status")
    scale_year: int | None = None
    tier: Tier | None = Field(None, description="Active cultivation-pool tier")
    tier_year: int | None = None
    titles: list[str] = Field(default_factory=list, description="Kinds of the titles active today")
    established_on: date | None = None
    registered_capital: Money | None = None
    address: str | None = None
    legal_representative: str | None = None
    rule_set_version: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


# ---- the list's query model -----------------------------------------------------------------


class Filters(BaseModel):
    """The list's filters (also the export's): the query-string model of both routes
    (validated in one pydantic call) and the input of the repository's statements."""

    region: RegionPrefix | None = Field(
        None, description="Region code prefix: 3301 = Hangzhou, 330106 = 西湖区"
    )
    industry: text(*patterned(r"^([A-Ta-t]|\d{2,4})$")) | None = Field(
        None,
        description="Section letter (C), division (34), group (344) or class (3441) of GB/T 4754-2017",
    )
    size: SizeClass | None = None
    tier: Tier | None = None
    title: text(*patterned(r"^[a-z_]{2,40}$")) | None = Field(
        None, description="An active title kind, e.g. tech_sme"
    )
    scale: ScaleStatus | None = None
    q: text(StringConstraints(min_length=1, max_length=100)) | None = Field(
        None,
        description="Name search, best first: exact name, name prefix, every character pair present; "
        "when there are none of those, fuzzy matches (one character mistyped, extra or missing), "
        "closest first. Or an exact credit code",
    )

    @property
    def search(self) -> str | None:
        return self.q.strip() if self.q and self.q.strip() else None


LIST_ENDPOINT = "registry.list_enterprises"  # what the list's cursors are bound to


class ListQuery(Filters):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size (max 500)")
    cursor: text(StringConstraints(max_length=2048)) | None = Field(
        None,
        description="Opaque cursor from the previous page's next_cursor; valid only for the same "
        "list, with the same filters, for the same caller",
    )

    def page(self, principal: Principal) -> PageParams:
        """The page asked for; its cursors are bound to this list, the filters and the caller."""
        filters = self.model_dump(mode="json", exclude=PAGING)
        binding = cursor_binding(LIST_ENDPOINT, principal, filters)
        return PageParams(limit=self.limit, cursor=self.cursor, binding=binding)


class ExportQuery(Filters):
    format: Format = FormatParam


# ---- rows as `EnterpriseOut` ------------------------------------------------------------------
# The repository's rows carry EnterpriseOut's keys in its order (region_name as a placeholder, a
# search row's match_rank last); these fill in the region name and serialise once with orjson.


@cache
def _region_names() -> dict[str, str]:
    return {code: r.name for code, r in regions().items()}


def item(row: Any) -> dict[str, Any]:
    """A row in the shape of `EnterpriseOut` (same keys, order and formats)."""
    return items([row])[0]


def items(rows: Sequence[Any]) -> list[dict[str, Any]]:
    if not rows:
        return []
    keys = tuple(k for k in rows[0].keys() if k != "match_rank")  # match_rank comes last
    names = _region_names()
    out = []
    for row in rows:
        d = dict(zip(keys, row, strict=False))  # a search row's match_rank (last) is left out
        d["region_name"] = names.get(d["region_code"])
        out.append(d)
    return out


def page_json(rows: Sequence[Any], cursor: str | None) -> bytes:
    """The list page's body."""
    return orjson.dumps({"items": items(rows), "next_cursor": cursor}, option=orjson.OPT_UTC_Z)


def detail_json(row: Any, principal: Principal) -> bytes:
    """The detail record's body: the directory record (registered facts left empty) for banks,
    guarantors and certifiers."""
    out = item(row)
    if principal.kind in DIRECTORY_ONLY:
        out.update(dict.fromkeys(HIDDEN_FROM_DIRECTORY_READERS))
    return orjson.dumps(out, option=orjson.OPT_UTC_Z)

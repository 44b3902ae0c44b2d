"""Reference data (regions, industries) and the public helpers (credit code, size class)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import StringConstraints

from services.common.credit_code import check_credit_code, describe
from services.common.errors import NotFound, responses
from services.common.types import RegionCode, patterned, text
from services.registry.errors import IndicatorRequired, UnknownIndustry
from services.registry.reference import data, industries
from services.registry.reference.schemas import (
    CreditCodeOut,
    IndustryList,
    RegionDetail,
    RegionList,
    SizeOut,
)
from services.registry.reference.service import size_out
from services.registry.reference.sizing import MissingIndicator, classify

router = APIRouter(prefix="/v1", tags=["reference"])


def _region_dict(r: data.Region) -> dict:
    return {**r.__dict__, "successors": list(r.successors)}


@router.get("/regions", summary="Zhejiang administrative divisions (GB/T 2260)")
async def list_regions(
    level: Annotated[text(*patterned("^(province|city|county)$")) | None, Query()] = None,
    parent: Annotated[RegionCode | None, Query()] = None,
    include_retired: Annotated[bool, Query(description="Also list retired codes (marked retired)")] = True,
) -> RegionList:
    """Province, 11 cities, 90 county-level units; retired codes (330103, 330104, …) are listed with
    `retired: true`, their date and successors. Public."""
    version, regions = data.regions_data()
    items = [
        _region_dict(r)
        for r in regions.values()
        if (level is None or r.level == level)
        and (parent is None or r.parent == parent)
        and (include_retired or not r.retired)
    ]
    return RegionList(version=version, items=items)


@router.get("/regions/{code}", summary="One region with its children", responses=responses(NotFound))
async def get_region(code: Annotated[RegionCode, Path()]) -> RegionDetail:
    version, regions = data.regions_data()
    r = regions.get(code)
    if r is None:
        raise NotFound(what="region", key=code)
    children = [_region_dict(c) for c in regions.values() if c.parent == code]
    return RegionDetail(**_region_dict(r), version=version, children=children)


@router.get("/industries", summary="GB/T 4754-2017: every section, division, group and class")
async def list_industries(
    level: Annotated[
        text(*patterned("^(section|division|group|class)$")) | None,
        Query(description="Only this level"),
    ] = None,
    parent: Annotated[
        text(*patterned(r"^([A-T]|\d{2,3})$")) | None,
        Query(description="Only the codes directly under this one (a section letter, a division, a group)"),
    ] = None,
) -> IndustryList:
    """The whole classification in the standard's order: 20 sections, 97 divisions, 473 groups and
    1,381 classes (the original 2017 edition; docs/registry.md). An enterprise's industry is one of
    the classes. Public."""
    items = [
        i.__dict__
        for i in industries.industries().values()
        if (level is None or i.level == level) and (parent is None or i.parent == parent)
    ]
    return IndustryList(version=industries.VERSION, items=items)


@router.get(
    "/tools/credit-code/{code}",
    summary="Check a 统一社会信用代码 (public)",
)
async def check_credit_code_tool(
    code: Annotated[text(StringConstraints(max_length=64)), Path()],
) -> CreditCodeOut:
    """Always 200 with `valid` and, when not valid, `errors` (length, alphabet, area digits, or the
    check character with the expected one)."""
    result = check_credit_code(code)
    info = describe(result.normalized) if len(result.normalized) == 18 else {}
    return CreditCodeOut(
        valid=result.valid,
        normalized=result.normalized,
        errors=result.errors,
        expected_check_character=result.expected_check,
        **info,
    )


Persons = Annotated[int | None, Query(ge=0, le=10_000_000, description="从业人员 (persons)")]
Yuan = Annotated[Decimal | None, Query(ge=0, le=Decimal("1e15"), decimal_places=2, description="yuan")]


@router.get(
    "/tools/size-class",
    summary="Classify an enterprise's size (企业划型, public)",
    responses=responses(IndicatorRequired, UnknownIndustry),
)
async def size_class_tool(
    industry_code: Annotated[text(*patterned(r"^\d{4}$")), Query(description="GB/T 4754-2017 class")],
    employees: Persons = None,
    revenue: Annotated[
        Decimal | None, Query(ge=0, le=Decimal("1e15"), decimal_places=2, description="营业收入, yuan")
    ] = None,
    total_assets: Annotated[
        Decimal | None, Query(ge=0, le=Decimal("1e15"), decimal_places=2, description="资产总额, yuan")
    ] = None,
) -> SizeOut:
    """The size class under the versioned threshold table (domain.md §3), with the indicators that
    decided it and the row's bounds (persons / yuan). An industry the rules do not cover (J 金融业,
    P, Q84, S, T, 53, 7040) answers `size: null`, `in_scope: false` and the reason. A missing
    indicator the industry needs is a 422 naming it, unless a given one already proves micro."""
    problem = industries.class_problem(industry_code)
    if problem:
        raise UnknownIndustry(problem)
    try:
        result = classify(
            industry_code, {"employees": employees, "revenue": revenue, "total_assets": total_assets}
        )
    except MissingIndicator as e:
        raise IndicatorRequired(
            f"industry {industry_code} is classified on " + ", ".join(e.names),
            errors=[
                {
                    "pointer": f"#/query/{n}",
                    "code": "indicator_required",
                    "message": f"{n} is needed for this industry",
                }
                for n in e.names
            ],
        ) from e
    return SizeOut(**size_out(result))

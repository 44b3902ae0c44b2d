from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.changes import Change, record_changes
from services.common.errors import NotFound
from services.registry.enterprises import service as enterprises
from services.registry.indicators import repository as repo
from services.registry.indicators.models import Indicators
from services.registry.indicators.schemas import IndicatorsIn, IndicatorsOut, Ratios
from services.registry.reference.service import size_out
from services.registry.reference.sizing import MissingIndicator, classify

FIELDS = (
    "employees",
    "revenue",
    "main_business_revenue",
    "total_assets",
    "total_liabilities",
    "net_profit",
    "rd_expense",
    "rd_staff",
    "invention_patents",
    "on_cloud",
    "export_revenue",
    "niche_years",
    "evaluation_score",
)


def pct(num: Decimal | int | None, den: Decimal | int | None) -> str | None:
    if num is None or den is None or Decimal(den) == 0:
        return None
    return str((Decimal(num) * 100 / Decimal(den)).quantize(Decimal("0.01"), ROUND_HALF_UP))


def to_columns(code: str, year: int, body: IndicatorsIn) -> dict[str, Any]:
    values: dict[str, Any] = {"credit_code": code, "year": year}
    for f in FIELDS:
        values[f] = getattr(body, f)
    cnc = body.cnc_equipment
    values.update(
        cnc_numerator=cnc.numerator if cnc else None,
        cnc_denominator=cnc.denominator if cnc else None,
        cnc_basis=cnc.basis if cnc else None,
        market_share_scope=body.market_share.scope if body.market_share else None,
        market_share_rank=body.market_share.rank if body.market_share else None,
    )
    return values


def to_out(row: Indicators | dict[str, Any], industry_code: str) -> IndicatorsOut:
    d = row if isinstance(row, dict) else {c: getattr(row, c) for c in Indicators.__table__.c.keys()}
    data: dict[str, Any] = {f: d.get(f) for f in FIELDS}
    data["credit_code"], data["year"] = d["credit_code"], d["year"]
    if d.get("cnc_denominator") is not None:
        data["cnc_equipment"] = {
            "numerator": d["cnc_numerator"],
            "denominator": d["cnc_denominator"],
            "basis": d["cnc_basis"],
        }
    if d.get("market_share_scope"):
        data["market_share"] = {"scope": d["market_share_scope"], "rank": d["market_share_rank"]}
    try:
        data["size"] = size_out(classify(industry_code, d))
    except MissingIndicator as e:
        data["size_missing"] = e.names
    data["ratios"] = Ratios(
        rd_intensity=pct(d.get("rd_expense"), d.get("revenue")),
        main_business_share=pct(d.get("main_business_revenue"), d.get("revenue")),
        debt_ratio=pct(d.get("total_liabilities"), d.get("total_assets")),
        cnc_rate=pct(d.get("cnc_numerator"), d.get("cnc_denominator")),
    )
    return IndicatorsOut.model_validate(data)


async def put(
    session: AsyncSession, principal: Principal, code: str, year: int, body: IndicatorsIn
) -> tuple[IndicatorsOut, bool]:
    ent = await enterprises.repo.lock_visible(session, principal, code)
    if ent is None:
        raise NotFound(what="enterprise", key=code)
    values = to_columns(code, year, body)
    before = await repo.get(session, code, year)
    before_out = to_out(before, ent.industry_code) if before else None
    out = to_out(values, ent.industry_code)
    values["size_class"] = out.size.size if out.size else None
    values["size_rule_version"] = out.size.rule_version if out.size else None
    values["size_decided_by"] = [d.model_dump() for d in out.size.decided_by] if out.size else None
    values["updated_at"] = text("now()")
    created = await repo.upsert(session, values)
    await record_changes(
        session,
        "registry",
        principal,
        [
            Change(
                "created" if created else "replaced",
                "indicators",
                f"{code}/{year}",
                before_out.model_dump(mode="json") if before_out else None,
                out.model_dump(mode="json"),
            )
        ],
    )
    return out, created


async def list_years(session: AsyncSession, principal: Principal, code: str, params):
    ent = await enterprises.repo.get(session, principal, code)
    if ent is None:
        raise NotFound(what="enterprise", key=code)
    rows, cursor = await repo.list_years(session, code, params)
    return [to_out(r, ent["industry_code"]) for r in rows], cursor

"""Screening criteria evaluation: each criterion → pass | fail | missing_data with the values used."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from services.registry.reference.sizing import MissingIndicator, classify

DERIVED = {
    "rd_intensity": ("rd_expense", "revenue"),
    "main_business_share": ("main_business_revenue", "revenue"),
    "debt_ratio": ("total_liabilities", "total_assets"),
}


def indicator_value(name: str, year_row: dict[str, Any] | None, enterprise: dict[str, Any], year: int):
    """(value, missing names)."""
    if name == "operating_years":
        est = enterprise.get("established_on")
        if est is None:
            return None, ["established_on"]
        return year - est.year, []
    if year_row is None:
        return None, [f"indicators {year}"]
    if name in DERIVED:
        num, den = DERIVED[name]
        missing = [n for n in (num, den) if year_row.get(n) is None]
        if missing:
            return None, missing
        if Decimal(year_row[den]) == 0:
            return None, [den]
        return (Decimal(year_row[num]) * 100 / Decimal(year_row[den])).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        ), []
    if name == "market_rank":
        if not year_row.get("market_share_scope"):
            return None, ["market_share"]
        return {"scope": year_row["market_share_scope"], "rank": year_row["market_share_rank"]}, []
    if name == "size_class":
        if year_row.get("size_class"):
            return year_row["size_class"], []
        try:
            result = classify(enterprise["industry_code"], year_row)
        except MissingIndicator as e:
            return None, e.names
        # An industry the size rules do not cover is no SME by them: the criterion fails.
        return (result.size or "out_of_scope"), []
    v = year_row.get(name)
    return (v, []) if v is not None else (None, [name])


def _compare(op: str, value: Any, threshold: Any) -> bool:
    if op == "in":
        return value in threshold
    if op == "market_top":
        limit = threshold.get(value["scope"])
        return limit is not None and value["rank"] <= limit
    v, t = Decimal(str(value)), Decimal(str(threshold))
    return {">=": v >= t, ">": v > t, "<=": v <= t, "<": v < t}[op]


def _jsonable(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    return v


def evaluate(
    rule_set: dict[str, Any], year: int, enterprise: dict[str, Any], rows: dict[int, dict[str, Any]]
):
    results, any_fail, any_missing = [], False, False
    for c in rule_set["criteria"]:
        values, missing, ok = {}, [], True
        for offset in c["years"]:
            y = year + offset
            value, miss = indicator_value(c["indicator"], rows.get(y), enterprise, y)
            if miss:
                missing += [f"{m} ({y})" if not m.startswith("indicators") else m for m in miss]
                continue
            values[str(y)] = _jsonable(value)
            if not _compare(c["op"], value, c["threshold"]):
                ok = False
        if not ok:
            result = "fail"
        elif missing:
            result = "missing_data"
        else:
            result = "pass"
        any_fail |= result == "fail"
        any_missing |= result == "missing_data"
        results.append(
            {
                "id": c["id"],
                "result": result,
                "values": values,
                "threshold": c["threshold"],
                "missing": missing,
            }
        )
    outcome = "ineligible" if any_fail else ("incomplete" if any_missing else "eligible")
    return outcome, results

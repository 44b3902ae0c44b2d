"""Screening criteria evaluation: each criterion → pass | fail | missing_data with the values used.

A rule set's `criteria` must all hold. An entry is either one criterion (an indicator compared
with a threshold over one or more years) or a group: `{"id", "description", "any_of": [...]}`
(an official text's alternatives: one must hold) or `{"id", "description", "all_of": [...]}`
(conditions that hold together, e.g. one path among alternatives), nested as deep as the text is.
Three-valued, so missing figures are never a silent pass: all_of fails when one part fails, else
is missing_data when one part is; any_of passes when one part passes, else is missing_data when
one part is, else fails.

An indicator the registry does not record (a science prize, 创客中国 placing, equity financing, a
research institution, …: anything not in `TRACKED`) is `missing_data`, named
`<indicator> (not tracked by the registry)`, so an enterprise relying on it needs a manual
decision.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from services.registry.indicators.service import FIELDS
from services.registry.reference.sizing import MissingIndicator, classify

DERIVED = {
    "rd_intensity": ("rd_expense", "revenue"),
    "main_business_share": ("main_business_revenue", "revenue"),
    "debt_ratio": ("total_liabilities", "total_assets"),
    "rd_staff_share": ("rd_staff", "employees"),
}
# Year-on-year growth in percent: (figure of the year ÷ figure of the year before − 1) × 100.
GROWTH = {"main_business_growth": "main_business_revenue"}
# Recorded per year in the indicators: the indicators' own fields (one list).
RECORDED = FIELDS
TRACKED = frozenset((*RECORDED, *DERIVED, *GROWTH, "operating_years", "market_rank", "size_class", "titles"))
# How a criterion over several years combines them: each year must hold (default), or their
# mean / sum is compared once.
AGGREGATES = ("each", "mean", "sum")


def _ratio(num: Decimal, den: Decimal) -> Decimal:
    return (Decimal(num) * 100 / Decimal(den)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def indicator_value(
    name: str,
    year_row: dict[str, Any] | None,
    enterprise: dict[str, Any],
    year: int,
    rows: dict[int, dict[str, Any]] | None = None,
):
    """(value, missing names)."""
    if name not in TRACKED:
        return None, [f"{name} (not tracked by the registry)"]
    if name == "operating_years":
        est = enterprise.get("established_on")
        if est is None:
            return None, ["established_on"]
        return year - est.year, []
    if name == "titles":
        # Title kinds the enterprise holds today (a title is a dated fact: titles/db.py).
        return sorted(enterprise.get("titles") or []), []
    if year_row is None:
        return None, [f"indicators {year}"]
    if name in DERIVED:
        num, den = DERIVED[name]
        missing = [n for n in (num, den) if year_row.get(n) is None]
        if missing:
            return None, missing
        if Decimal(year_row[den]) == 0:
            return None, [den]
        return _ratio(year_row[num], year_row[den]), []
    if name in GROWTH:
        figure = GROWTH[name]
        before = (rows or {}).get(year - 1)
        if before is None:
            return None, [f"indicators {year - 1}"]
        missing = [
            f"{figure} ({y})" for y, r in ((year, year_row), (year - 1, before)) if r.get(figure) is None
        ]
        if missing:
            return None, missing
        if Decimal(before[figure]) == 0:
            return None, [f"{figure} ({year - 1})"]
        return _ratio(Decimal(year_row[figure]) - Decimal(before[figure]), before[figure]), []
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
    if op == "contains":
        return threshold in value
    if op == "market_top":
        limit = threshold.get(value["scope"])
        return limit is not None and value["rank"] <= limit
    v, t = Decimal(str(value)), Decimal(str(threshold))
    return {">=": v >= t, ">": v > t, "<=": v <= t, "<": v < t}[op]


def _jsonable(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    return v


def _criterion(c: dict[str, Any], year: int, enterprise: dict[str, Any], rows: dict[int, dict[str, Any]]):
    values, missing, ok = {}, [], True
    aggregate = c.get("aggregate", "each")
    collected = []
    for offset in c["years"]:
        y = year + offset
        value, miss = indicator_value(c["indicator"], rows.get(y), enterprise, y, rows)
        if miss:
            missing += [m if m.startswith("indicators") or "(" in m else f"{m} ({y})" for m in miss]
            continue
        values[str(y)] = _jsonable(value)
        collected.append(value)
        if aggregate == "each" and not _compare(c["op"], value, c["threshold"]):
            ok = False
    if aggregate != "each" and not missing and collected:
        total = sum(Decimal(str(v)) for v in collected)
        combined = total if aggregate == "sum" else (total / len(collected)).quantize(Decimal("0.01"))
        values[aggregate] = _jsonable(combined)
        ok = _compare(c["op"], combined, c["threshold"])
    if not ok:
        result = "fail"
    elif missing:
        result = "missing_data"
    else:
        result = "pass"
    return {
        "id": c["id"],
        "result": result,
        "values": values,
        "threshold": c["threshold"],
        "missing": missing,
    }


def _node(c: dict[str, Any], year: int, enterprise: dict[str, Any], rows: dict[int, dict[str, Any]]):
    kind = "any_of" if "any_of" in c else "all_of" if "all_of" in c else None
    if kind is None:
        return _criterion(c, year, enterprise, rows)
    parts = [_node(p, year, enterprise, rows) for p in c[kind]]
    results = {p["result"] for p in parts}
    if kind == "all_of":
        result = "fail" if "fail" in results else "missing_data" if "missing_data" in results else "pass"
    else:
        result = "pass" if "pass" in results else "missing_data" if "missing_data" in results else "fail"
    # What is missing matters only while it could still decide the group.
    missing = [] if result != "missing_data" else [m for p in parts for m in p["missing"]]
    return {
        "id": c["id"],
        "result": result,
        "values": {},
        "threshold": None,
        "missing": missing,
        "group": kind,
        "criteria": parts,
    }


def evaluate(
    rule_set: dict[str, Any], year: int, enterprise: dict[str, Any], rows: dict[int, dict[str, Any]]
):
    results = [_node(c, year, enterprise, rows) for c in rule_set["criteria"]]
    outcomes = {r["result"] for r in results}
    outcome = (
        "ineligible" if "fail" in outcomes else ("incomplete" if "missing_data" in outcomes else "eligible")
    )
    return outcome, results


def leaves(criteria: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The single criteria of a rule set's criteria, groups opened."""
    out = []
    for c in criteria:
        group = c.get("any_of") or c.get("all_of")
        out += leaves(group) if group is not None else [c]
    return out

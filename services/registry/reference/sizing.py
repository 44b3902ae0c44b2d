"""Enterprise size classification (企业划型) from the versioned threshold table.

Large, medium and small must meet every listed lower bound of the tier, otherwise the enterprise
drops a tier; micro is whatever is below small. The table is in persons and 万元; the API speaks
yuan, so money is compared as yuan ≥ bound × 10,000.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

from services.registry.reference.data import _load

TIERS = ("large", "medium", "small")
INDICATORS = ("employees", "revenue", "total_assets")
WAN = Decimal(10000)


@dataclass(frozen=True)
class Group:
    id: str
    label: str
    match: tuple[str, ...]
    bounds: dict[str, dict[str, int]]


@dataclass
class SizeResult:
    size: str
    rule_version: str
    group: Group
    decided_by: list[dict[str, Any]] = field(default_factory=list)

    def thresholds(self) -> dict[str, dict[str, str]]:
        """The group's bounds in API units (persons, yuan)."""
        return {
            ind: {t: str(_api_bound(ind, v)) for t, v in b.items()} for ind, b in self.group.bounds.items()
        }


@dataclass(frozen=True)
class Table:
    version: str
    groups: tuple[Group, ...]

    def group_for(self, industry_code: str) -> Group:
        best, best_len = self.groups[-1], -1
        for g in self.groups:
            for prefix in g.match:
                if industry_code.startswith(prefix) and len(prefix) > best_len:
                    best, best_len = g, len(prefix)
        return best


@cache
def table() -> Table:
    raw = _load("size_thresholds.json")
    groups = tuple(Group(g["id"], g["label"], tuple(g["match"]), g["bounds"]) for g in raw["groups"])
    return Table(raw["version"], groups)


def _api_bound(indicator: str, bound: int) -> Decimal | int:
    return bound if indicator == "employees" else Decimal(bound) * WAN


class MissingIndicator(ValueError):
    def __init__(self, names: list[str]) -> None:
        super().__init__("missing: " + ", ".join(names))
        self.names = names


def needed(industry_code: str) -> list[str]:
    return list(table().group_for(industry_code).bounds)


def classify(industry_code: str, figures: dict[str, Any]) -> SizeResult:
    """`figures`: employees (persons), revenue and total_assets (yuan). Raises MissingIndicator when
    an indicator the industry's row needs is absent."""
    t = table()
    group = t.group_for(industry_code)
    missing = [ind for ind in group.bounds if figures.get(ind) is None]
    if missing:
        raise MissingIndicator(missing)
    values = {ind: Decimal(str(figures[ind])) for ind in group.bounds}

    def meets(ind: str, tier: str) -> bool:
        return values[ind] >= _api_bound(ind, group.bounds[ind][tier])

    size = "micro"
    for tier in TIERS:
        if all(meets(ind, tier) for ind in group.bounds):
            size = tier
            break
    # Deciding indicators: for large, every indicator (each met the large bound); otherwise the
    # indicators that fell short of the next tier up (they kept the enterprise out of it).
    higher = {"large": None, "medium": "large", "small": "medium", "micro": "small"}[size]
    decided = []
    for ind in group.bounds:
        if higher is None or not meets(ind, higher):
            decided.append(
                {
                    "indicator": ind,
                    "value": _fmt(ind, values[ind]),
                    "meets": size if size != "micro" else None,
                    "bound_met": _fmt(ind, _api_bound(ind, group.bounds[ind][size]))
                    if size != "micro"
                    else None,
                    "fails": higher,
                    "bound_missed": _fmt(ind, _api_bound(ind, group.bounds[ind][higher])) if higher else None,
                }
            )
    return SizeResult(size, t.version, group, decided)


def _fmt(indicator: str, v: Decimal | int) -> str:
    return str(int(v)) if indicator == "employees" else f"{Decimal(v):.2f}"


def figures_for(industry_code: str, size: str) -> dict[str, Any]:
    """Figures that classify as `size` in this industry (test data and generators)."""
    group = table().group_for(industry_code)
    out: dict[str, Any] = {
        "employees": 1,
        "revenue": Decimal("10000.00"),
        "total_assets": Decimal("10000.00"),
    }
    for ind, b in group.bounds.items():
        if size == "micro":
            out[ind] = 1 if ind == "employees" else Decimal("10000.00")
        else:
            out[ind] = _api_bound(ind, b[size])
    return out

"""Enterprise size classification (企业划型) from the versioned threshold table.

Large, medium and small must meet every listed lower bound of the tier, otherwise the enterprise
drops a tier; micro is whatever is below small, so one indicator below its small bound proves
micro even when another indicator is missing. The table is in persons and 万元; the API speaks
yuan, so money is compared as yuan ≥ bound × 10,000.

The table covers the industries of the 2017 办法 only: a code its `out_of_scope` rows match (J,
P, Q84, S, T, 53, 7040: domain.md §3) is not sized by it — `size` None, `in_scope` False, with
the row's reason — whatever its figures say.
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


@dataclass(frozen=True)
class OutOfScope:
    id: str
    match: tuple[str, ...]
    reason: str
    settled: bool


@dataclass
class SizeResult:
    size: str | None  # None: the industry is out of the table's scope
    rule_version: str
    group: Group | None
    decided_by: list[dict[str, Any]] = field(default_factory=list)
    out_of_scope: OutOfScope | None = None

    def thresholds(self) -> dict[str, dict[str, str]]:
        """The group's bounds in API units (persons, yuan)."""
        if self.group is None:
            return {}
        return {
            ind: {t: str(_api_bound(ind, v)) for t, v in b.items()} for ind, b in self.group.bounds.items()
        }


@dataclass(frozen=True)
class Table:
    version: str
    groups: tuple[Group, ...]
    out_of_scope: tuple[OutOfScope, ...]

    def row_for(self, industry_code: str) -> Group | OutOfScope:
        """The row whose prefix matches the code longest (groups and out-of-scope rows alike)."""
        best: Group | OutOfScope = self.groups[-1]
        best_len = -1
        for row in (*self.groups, *self.out_of_scope):
            for prefix in row.match:
                if industry_code.startswith(prefix) and len(prefix) > best_len:
                    best, best_len = row, len(prefix)
        return best


@cache
def table() -> Table:
    raw = _load("size_thresholds.json")
    groups = tuple(Group(g["id"], g["label"], tuple(g["match"]), g["bounds"]) for g in raw["groups"])
    outside = tuple(
        OutOfScope(o["id"], tuple(o["match"]), o["reason"], o["settled"]) for o in raw["out_of_scope"]
    )
    return Table(raw["version"], groups, outside)


def _api_bound(indicator: str, bound: int) -> Decimal | int:
    return bound if indicator == "employees" else Decimal(bound) * WAN


class MissingIndicator(ValueError):
    def __init__(self, names: list[str]) -> None:
        super().__init__("missing: " + ", ".join(names))
        self.names = names


def classify(industry_code: str, figures: dict[str, Any]) -> SizeResult:
    """`figures`: employees (persons), revenue and total_assets (yuan). Raises MissingIndicator when
    an indicator the industry's row needs is absent and the given ones do not already prove micro."""
    t = table()
    row = t.row_for(industry_code)
    if isinstance(row, OutOfScope):
        return SizeResult(None, t.version, None, [], row)
    group = row
    values = {ind: Decimal(str(figures[ind])) for ind in group.bounds if figures.get(ind) is not None}

    def meets(ind: str, tier: str) -> bool:
        return values[ind] >= _api_bound(ind, group.bounds[ind][tier])

    missing = [ind for ind in group.bounds if ind not in values]
    if missing:
        # Small needs every bound: one given indicator below its small bound proves micro.
        if not any(not meets(ind, "small") for ind in values):
            raise MissingIndicator(missing)
        size = "micro"
    else:
        size = "micro"
        for tier in TIERS:
            if all(meets(ind, tier) for ind in group.bounds):
                size = tier
                break
    # Deciding indicators: for large, every indicator (each met the large bound); otherwise the
    # indicators that fell short of the next tier up (they kept the enterprise out of it).
    higher = {"large": None, "medium": "large", "small": "medium", "micro": "small"}[size]
    decided = []
    for ind in values:
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
    group = table().row_for(industry_code)
    assert isinstance(group, Group), f"{industry_code} is not sized by the table"
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

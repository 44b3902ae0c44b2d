"""Versioned reference data shipped with the service (JSON under services/registry/data/).

Industries (GB/T 4754-2017), the size-class threshold table and the screening rule sets. (The
programme targets file is loaded into a table by a migration: services/registry/targets/.) Loaded once per process; read-only. The regions (GB/T 2260, Zhejiang) live in
the kit (`services/common/regions.py`): the gateway and every service check principals' regions
against the same table; they are re-exported here for the registry's modules.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from services.common.regions import Region, region, regions, regions_data  # noqa: F401 - re-exported


def _load(name: str) -> dict[str, Any]:
    return json.loads(resources.files("services.registry").joinpath("data", name).read_text("utf-8"))


def city_of(code: str) -> str:
    return code[:4] + "00"


@cache
def industries_data() -> tuple[str, list[dict[str, Any]], dict[str, dict[str, Any]]]:
    raw = _load("industries.json")
    items = raw["industries"]
    return raw["version"], items, {i["code"]: i for i in items if i["level"] != "section"}


SECTION_RANGES = (
    ("A", 1, 5),
    ("B", 6, 12),
    ("C", 13, 43),
    ("D", 44, 46),
    ("E", 47, 50),
    ("F", 51, 52),
    ("G", 53, 60),
    ("H", 61, 62),
    ("I", 63, 65),
    ("J", 66, 69),
    ("K", 70, 70),
    ("L", 71, 72),
    ("M", 73, 75),
    ("N", 76, 79),
    ("O", 80, 82),
    ("P", 83, 83),
    ("Q", 84, 85),
    ("R", 86, 90),
    ("S", 91, 96),
    ("T", 97, 97),
)


def section_of(industry_code: str) -> str | None:
    if len(industry_code) < 2 or not industry_code[:2].isdigit():
        return None
    d = int(industry_code[:2])
    for letter, lo, hi in SECTION_RANGES:
        if lo <= d <= hi:
            return letter
    return None


def industry_class_problem(code: str) -> str | None:
    """None when `code` is a usable GB/T 4754-2017 class; otherwise the reason."""
    if len(code) != 4 or not code.isdigit():
        return "an industry class is 4 digits (GB/T 4754-2017 小类), e.g. 3311"
    by_code = industries_data()[2]
    if code[:2] not in by_code:
        return f"division {code[:2]} does not exist in GB/T 4754-2017"
    if code[3] == "0" and code[2] == "0":
        return f"{code} is not a class code (classes end in a non-zero group digit)"
    return None


@cache
def rule_sets() -> dict[str, dict[str, Any]]:
    raw = _load("rule_sets.json")
    return {rs["id"]: rs for rs in raw["rule_sets"]}

"""Versioned reference data shipped with the service (JSON under services/registry/data/).

Regions (GB/T 2260, Zhejiang), industries (GB/T 4754-2017), the size-class threshold table, the
screening rule sets and the programme targets. Loaded once per process; read-only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


def _load(name: str) -> dict[str, Any]:
    return json.loads(resources.files("services.registry").joinpath("data", name).read_text("utf-8"))


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: str  # province | city | county
    kind: str  # province | city | district | county | county_city
    parent: str | None
    retired: bool
    retired_on: str | None = None
    note: str | None = None
    successors: tuple[str, ...] = ()


@cache
def regions_data() -> tuple[str, dict[str, Region]]:
    raw = _load("regions.json")
    out = {}
    for r in raw["regions"]:
        out[r["code"]] = Region(
            code=r["code"],
            name=r["name"],
            level=r["level"],
            kind=r["kind"],
            parent=r["parent"],
            retired=r["retired"],
            retired_on=r.get("retired_on"),
            note=r.get("note"),
            successors=tuple(r.get("successors", ())),
        )
    return raw["version"], out


def regions() -> dict[str, Region]:
    return regions_data()[1]


def region(code: str) -> Region | None:
    return regions().get(code)


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


@cache
def targets() -> dict[str, Any]:
    return _load("targets.json")

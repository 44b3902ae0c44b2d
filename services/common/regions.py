"""The region reference table (GB/T 2260, Zhejiang): one home for every process.

The registry serves it (`GET /v1/regions`) and files enterprises under its codes; the gateway and
every service check a principal's region against it, so an official's scope is always a real
province, city or county (never a blank, a wildcard or a number). Loaded once per process from
`services/common/data/regions.json`; read-only. Retired codes are kept (and marked): enterprises
filed under them still exist.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

REGION_CODE_RE = re.compile(r"^[0-9]{6}$")


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
    """(table version, code → Region)."""
    raw = json.loads(resources.files("services.common").joinpath("data", "regions.json").read_text("utf-8"))
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


def is_region_code(value: object) -> bool:
    """True for a 6-digit code of the reference table (and nothing else: not ' ', '%', 330100 the
    integer, '3301' or a made-up '339999')."""
    return isinstance(value, str) and REGION_CODE_RE.match(value) is not None and value in regions()


def check_region_code(value: str) -> str:
    """Pydantic validator form of `is_region_code`."""
    if not is_region_code(value):
        raise ValueError(f"{value!r} is not a region code of the reference table (GB/T 2260, e.g. 330106)")
    return value


@cache
def predecessors(code: str) -> tuple[str, ...]:
    """The retired codes this region succeeded (330102 上城区 ← 330104 江干区): enterprises still
    filed under one of them fall under this region's officials too, until they are moved."""
    return tuple(r.code for r in regions().values() if r.retired and code in r.successors)

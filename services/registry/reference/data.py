"""Versioned reference data shipped with the service (JSON under services/registry/data/).

The size-class threshold table and the screening rule sets; the industry classification has its
own module (reference/industries.py), the programme targets file is loaded into a table by a
migration (services/registry/targets/). Loaded once per process; read-only. The regions (GB/T
2260, Zhejiang) live in the kit (`services/common/regions.py`): the gateway and every service check principals' regions
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
def rule_sets() -> dict[str, dict[str, Any]]:
    raw = _load("rule_sets.json")
    return {rs["id"]: rs for rs in raw["rule_sets"]}

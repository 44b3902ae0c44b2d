"""The programme targets data file (`services/registry/data/programme_targets.json`): the one
source the `registry.programme_targets` table (`models.py`) is loaded from, by the migration
that ships each change of the file (`load`).

A target's window is the period its figure is measured over: the owner service sums or counts
within it, and the progress bulletin takes the elapsed share of it. Nothing else defines a window.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any

FILE = "programme_targets.json"


def document() -> dict[str, Any]:
    return json.loads(resources.files("services.registry").joinpath("data", FILE).read_text("utf-8"))


def rows() -> list[dict[str, Any]]:
    """The file's targets as rows of `registry.programme_targets` (without ids)."""
    doc = document()
    out = []
    for p in doc["programmes"]:
        for position, t in enumerate(p["targets"], 1):
            out.append(
                {
                    "programme": p["programme"],
                    "programme_name": p["name"],
                    "year": p["year"],
                    "region_code": p["region"],
                    "key": t["key"],
                    "position": position,
                    "name_zh": t["name_zh"],
                    "value": Decimal(t["value"]),
                    "unit": t["unit"],
                    "owner_service": t["owner_service"],
                    "window_start": date.fromisoformat(t["window_start"]),
                    "window_end": date.fromisoformat(t["window_end"]),
                    "note": t["note"],
                    "data_version": doc["data_version"],
                }
            )
    return out


def load(bind: Any) -> int:
    """Insert or update every target of the file (by programme, year, region and key) through the
    synchronous connection of a migration; rows the file does not name are left alone. A change to
    the file ships with a migration that calls this again."""
    from sqlalchemy.dialects.postgresql import insert

    from services.registry.targets.models import ProgrammeTarget

    table = ProgrammeTarget.__table__
    data = rows()
    stmt = insert(table).values(data)
    natural_key = ("programme", "year", "region_code", "key")
    stmt = stmt.on_conflict_do_update(
        index_elements=list(natural_key),
        set_={c: stmt.excluded[c] for c in data[0] if c not in natural_key},
    )
    bind.execute(stmt)
    return len(data)


def baseline_year(programme: str) -> int:
    """The end of this year is the programme's baseline: its cumulative figures (净增小升规 and the
    stocks) count from there. The file's `baseline_year` of the programme (`baseline_settled`
    says whether the programme text fixes it; it does not for chuying-2022)."""
    for p in document()["programmes"]:
        if p["programme"] == programme:
            return int(p["baseline_year"])
    raise KeyError(programme)

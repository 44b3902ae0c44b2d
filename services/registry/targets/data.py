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


def indicator_rows() -> list[dict[str, Any]]:
    """The file's targets as the programmes' indicators (`registry.programme_indicators`): every
    target the programme text sets is one bulletin row, for every region and year."""
    doc = document()
    out = []
    for p in doc["programmes"]:
        for position, t in enumerate(p["targets"], 1):
            start, end = date.fromisoformat(t["window_start"]), date.fromisoformat(t["window_end"])
            out.append(
                {
                    "programme": p["programme"],
                    "programme_name": p["name"],
                    "key": t["key"],
                    "position": position,
                    "name_zh": t["name_zh"],
                    "unit": t["unit"],
                    "owner_service": t["owner_service"],
                    "default_window_years": end.year - start.year + 1,
                    "source_document": t["source_document"],
                    "settled": t["settled"],
                    "note": t["note"],
                    "data_version": doc["data_version"],
                }
            )
    return out


def _upsert(bind: Any, table: Any, data: list[dict[str, Any]], natural_key: tuple[str, ...]) -> None:
    from sqlalchemy.dialects.postgresql import insert

    stmt = insert(table).values(data)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(natural_key),
        set_={c: stmt.excluded[c] for c in data[0] if c not in natural_key},
    )
    bind.execute(stmt)


def load(bind: Any, indicators: bool = True) -> int:
    """Insert or update every target of the file (by programme, year, region and key) and, with
    `indicators`, every indicator (by programme and key) through the synchronous connection of a
    migration; rows the file does not name are left alone. A change to the file ships with a
    migration that calls this again."""
    from services.registry.targets.models import ProgrammeIndicator, ProgrammeTarget

    data = rows()
    _upsert(bind, ProgrammeTarget.__table__, data, ("programme", "year", "region_code", "key"))
    if indicators:
        _upsert(bind, ProgrammeIndicator.__table__, indicator_rows(), ("programme", "key"))
    return len(data)


def baseline_year(programme: str) -> int:
    """The end of this year is the programme's baseline: its cumulative figures (净增小升规 and the
    stocks) count from there. The file's `baseline_year` of the programme (`baseline_settled`
    says whether the programme text fixes it; it does not for chuying-2022)."""
    for p in document()["programmes"]:
        if p["programme"] == programme:
            return int(p["baseline_year"])
    raise KeyError(programme)

"""The industry classification, GB/T 4754-2017 国民经济行业分类, as the standard prints it.

Shipped as data (services/registry/data/, copied from the shared reference folder, whose README
gives its sources and checks): `gbt4754-2017.csv` — 20 sections, 97 divisions, 473 groups and
1,381 classes, the original 2017 edition (amendment No. 1 is not applied) — and
`gbt4754-2011-to-2017.csv`, the standard's Appendix B concordance from the 2011 classes.

An enterprise's industry is one 2017 class (4 digits); nothing else is accepted. A code that is
only a 2011 class is refused with the 2017 classes it became, so that a caller filing from old
records knows what to send.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

VERSION = "GB/T 4754-2017"
LEVELS = ("section", "division", "group", "class")


@dataclass(frozen=True)
class Industry:
    code: str
    name: str
    level: str  # section | division | group | class
    parent: str | None
    section: str


def _rows(name: str) -> list[dict[str, str]]:
    raw = resources.files("services.registry").joinpath("data", name).read_text("utf-8")
    return list(csv.DictReader(io.StringIO(raw)))


@cache
def industries() -> dict[str, Industry]:
    """code → Industry, in the standard's order (each section followed by its divisions, …)."""
    out: dict[str, Industry] = {}
    for r in _rows("gbt4754-2017.csv"):
        parent = r["parent"] or None
        section = r["code"] if r["level"] == "section" else out[parent].section
        out[r["code"]] = Industry(r["code"], r["name"], r["level"], parent, section)
    return out


@cache
def classes_2011() -> dict[str, tuple[str, tuple[str, ...]]]:
    """2011 class code → (its 2011 name, the 2017 classes it maps to), for the 2011 codes that are
    not 2017 classes."""
    current = industries()
    out: dict[str, tuple[str, list[str]]] = {}
    for r in _rows("gbt4754-2011-to-2017.csv"):
        code = r["code_2011"]
        if code in current and current[code].level == "class":
            continue
        out.setdefault(code, (r["name_2011"], []))[1].append(r["code_2017"])
    return {code: (name, tuple(to)) for code, (name, to) in out.items()}


@cache
def section_ranges() -> tuple[tuple[str, int, int], ...]:
    """Each section's divisions as a range of numbers (C = 13–43): a section's divisions are
    consecutive in the standard (checked by the tests)."""
    divisions: dict[str, list[int]] = {}
    for i in industries().values():
        if i.level == "division":
            divisions.setdefault(i.section, []).append(int(i.code))
    return tuple((s, min(d), max(d)) for s, d in divisions.items())


def section_of(industry_code: str) -> str | None:
    """The section of a code by its division (None when the division does not exist)."""
    found = industries().get(industry_code[:2]) if industry_code[:2].isdigit() else None
    return found.section if found is not None and found.level == "division" else None


def class_problem(code: str) -> str | None:
    """None when `code` is a GB/T 4754-2017 class; otherwise the reason, for a 422."""
    if len(code) != 4 or not code.isdigit():
        return "an industry is a 4-digit GB/T 4754-2017 class (小类), e.g. 3311"
    found = industries().get(code)
    if found is not None and found.level == "class":
        return None
    old = classes_2011().get(code)
    if old is not None:
        name, to = old
        became = "、".join(f"{c} {industries()[c].name}" for c in to)
        return f"{code} ({name}) is a GB/T 4754-2011 class, not a 2017 one; in 2017 it is {became}"
    group = industries().get(code[:3])
    if group is not None and group.level == "group":
        members = [i.code for i in industries().values() if i.parent == group.code]
        return f"{code} is not a GB/T 4754-2017 class; group {group.code} {group.name} has " + ", ".join(
            members
        )
    return f"{code} is not a GB/T 4754-2017 class"

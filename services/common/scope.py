"""Region scope: the regions a caller's reads reach, one value per request, built from the principal.

The rule (docs/architecture: an official reads only what falls under their region): a scope is a
region prefix — ``33`` the province, ``3301`` a city, ``330106`` a county — or unrestricted. It
covers a code that starts with its prefix; a county's prefix is a whole code, so a county covers
exactly its own code and the retired codes it succeeded (``regions.predecessors``: 330102 上城区
covers 江干区 330104, whose enterprises it shares with 330114 钱塘区 until an official moves them). Only officials are limited by region; every other kind is unrestricted here
and limited by its own tenant rule (a bank's records, a certifier's certificates) where that lives.

Repositories apply the scope, in Python (`covers`) or in SQL (`clause` for SQLAlchemy, `where` for
raw SQL with bound parameters); services and routers only build it and pass it on. The three forms
state one rule and are tested to agree on every code (tests/common/test_scope.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, or_, true
from sqlalchemy.sql.elements import ColumnElement

from services.common.auth import Principal, invalid_principal
from services.common.errors import Problem, RegionOutOfScope
from services.common.regions import is_region_code, predecessors

# What a prefix may be: digits only, so that it never carries a LIKE wildcard.
PREFIX_RE = re.compile(r"^[0-9]{2,6}$")
COUNTY_LEN = 6
CITY_LEN = 4


def region_prefix(code: str) -> str:
    """The prefix a region code or prefix stands for (GB/T 2260 hierarchy by prefix): trailing zero
    pairs are dropped down to the province, so 330000, 3300 and 33 are the province, 330100 and
    3301 Hangzhou, 330106 西湖区."""
    code = code.strip()
    while len(code) > 2 and code.endswith("00"):
        code = code[:-2]
    return code


@dataclass(frozen=True)
class RegionScope:
    """`prefix` None: every region. `owner` is the caller's own region code (for problem details)."""

    prefix: str | None = None
    owner: str | None = None

    def __post_init__(self) -> None:
        if self.prefix is not None and not PREFIX_RE.match(self.prefix):
            raise ValueError(f"{self.prefix!r} is not a region prefix (2 to 6 digits)")

    @classmethod
    def of(cls, principal: Principal) -> RegionScope:
        """The caller's scope. An official whose region is not a code of the reference table is
        refused (401), never widened: a blank region would be the prefix of every region."""
        if principal.kind != "official":
            return UNRESTRICTED
        if not is_region_code(principal.region):
            raise invalid_principal()
        return cls(region_prefix(principal.region), principal.region)

    @property
    def restricted(self) -> bool:
        return self.prefix is not None

    @property
    def whole_province(self) -> bool:
        """Every region of the table (one province, Zhejiang): unrestricted or the province."""
        return self.prefix is None or len(self.prefix) == 2

    def narrow(self, requested: str | None, pointer: str = "#/query/region") -> RegionScope:
        """The scope of a query that names a region (a code or a prefix, normalised): that region
        if this scope covers it, else 403 ``region_out_of_scope``. None keeps this scope."""
        if requested is None:
            return self
        asked = region_prefix(requested)
        if not self.covers(asked):
            raise self.out_of_scope(requested, pointer)
        return RegionScope(asked, self.owner)

    def require(self, code: str, pointer: str) -> None:
        """A request naming a region as data (a record's region code, a bulletin's region) must
        name one this scope covers, else 403 ``region_out_of_scope``."""
        if not self.covers(code):
            raise self.out_of_scope(code, pointer)

    def out_of_scope(self, region: str, pointer: str = "#/query/region") -> Problem:
        """The 403 every service gives when a caller names a region outside their own."""
        return RegionOutOfScope(pointer=pointer, region=region, own=self.owner)

    # ---- the rule, three renderings ------------------------------------------------------

    @property
    def county_codes(self) -> tuple[str, ...]:
        """A county scope's codes: its own, then the retired codes it succeeded."""
        assert self.prefix is not None and len(self.prefix) == COUNTY_LEN
        return (self.prefix, *predecessors(self.prefix))

    def covers(self, code: str | None) -> bool:
        p = self.prefix
        if p is None:
            return True
        if not isinstance(code, str):
            return False
        return code in self.county_codes if len(p) == COUNTY_LEN else code.startswith(p)

    def clause(self, column: ColumnElement, *, city_index: bool = False) -> ColumnElement[bool]:
        """The rule as a SQLAlchemy condition on `column` (see `where` for `city_index`)."""
        p = self.prefix
        if p is None:
            return true()
        if len(p) == COUNTY_LEN:
            # equalities, not IN: an IN list compiles to an expanding parameter that a statement
            # compiled once and run on raw asyncpg (the standards feed's parity test) cannot bind
            return or_(*(column == c for c in self.county_codes))
        if city_index and len(p) == CITY_LEN:
            return func.substr(column, 1, CITY_LEN) == p
        return column.like(p + "%")

    def where(self, column: str, param: Callable[[str], str], *, city_index: bool = False) -> str:
        """The rule as a raw-SQL condition on the SQL expression `column`; `param(value)` binds a
        value and returns its placeholder (``$3``, ``:region``). A county is an equality (one per
        code, its predecessors' too: `param` is called once a code); a city
        with `city_index` an equality on ``substr(column, 1, 4)`` (the registry's expression
        indexes answer it in credit-code and name order); any other prefix a LIKE (its digits
        carry no wildcard). Unrestricted: TRUE."""
        p = self.prefix
        if p is None:
            return "TRUE"
        if len(p) == COUNTY_LEN:
            return " OR ".join(f"{column} = {param(c)}" for c in self.county_codes).join(
                ("(", ")") if len(self.county_codes) > 1 else ("", "")
            )
        if city_index and len(p) == CITY_LEN:
            return f"substr({column}, 1, {CITY_LEN}) = {param(p)}"
        return f"{column} LIKE {param(p + '%')}"


UNRESTRICTED = RegionScope()


def named(params: dict, name: str) -> Callable[[str], str]:
    """A `where` binder for SQLAlchemy ``text()``: binds the value as ``:name`` into `params`, a
    further value of the same binder as ``:name_2``, ``:name_3``…"""
    calls = 0

    def bind(value: str) -> str:
        nonlocal calls
        calls += 1
        key = name if calls == 1 else f"{name}_{calls}"
        params[key] = value
        return f":{key}"

    return bind

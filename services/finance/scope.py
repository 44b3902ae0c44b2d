"""Who sees which finance records (tenant scoping). Applied only inside repositories.

- bank: its own records (owner column = the principal's org);
- guarantor: its own guarantees;
- official: records whose borrower region falls under theirs (the kit's `RegionScope`; the
  borrower region is the registry's, or for unmatched borrowers the credit code's area digits —
  stored as ``borrower_region`` when the record is stored);
- admin: everything.

`visible` is the rule as a SQL condition (the lists and reads), `sees` the same rule in Python
over one record's facts (the change feed); tests/finance/test_events.py holds them equal.
"""

from __future__ import annotations

from sqlalchemy import false, true
from sqlalchemy.sql.elements import ColumnElement

from services.common.auth import Principal
from services.common.errors import NotFound
from services.common.scope import RegionScope
from services.finance.errors import NoInstitution


def visible(
    principal: Principal,
    *,
    region_col: ColumnElement,
    bank_col: ColumnElement | None = None,
    guarantor_col: ColumnElement | None = None,
) -> ColumnElement[bool]:
    if principal.is_admin:
        return true()
    if principal.kind == "official":
        return RegionScope.of(principal).clause(region_col)
    if principal.kind == "bank" and bank_col is not None and principal.org:
        return bank_col == principal.org
    if principal.kind == "guarantor" and guarantor_col is not None and principal.org:
        return guarantor_col == principal.org
    return false()


def sees(
    principal: Principal,
    *,
    region: str | None,
    bank: str | None = None,
    guarantor: str | None = None,
    scope: RegionScope | None = None,
) -> bool:
    """`visible` for one record: its borrower region, its bank (the lender) and its guarantor,
    None where the record has none. `scope`: the caller's `RegionScope.of(principal)`, when a
    loop over many records has built it once."""
    if principal.is_admin:
        return True
    if principal.kind == "official":
        return (scope or RegionScope.of(principal)).covers(region)
    if principal.kind == "bank" and bank is not None and principal.org:
        return bank == principal.org
    if principal.kind == "guarantor" and guarantor is not None and principal.org:
        return guarantor == principal.org
    return False


def stats_lender(principal: Principal, lender: str | None) -> str | None:
    """The lender a statistics request is limited to: a bank's own institution (naming another
    is a 404, as one that does not exist), else the `lender` filter as given."""
    if principal.kind != "bank":
        return lender
    if not principal.org:
        raise NoInstitution(kind="bank")
    if lender and lender != principal.org:
        raise NotFound(what="lender", key=lender)
    return principal.org

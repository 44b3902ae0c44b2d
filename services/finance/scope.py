"""Who sees which finance records. Applied only inside repositories.

- bank: its own records (owner column = the principal's org);
- guarantor: its own guarantees;
- official: records whose borrower region falls under theirs (registry region, or for unmatched
  borrowers the credit code's area digits — stored as ``borrower_region`` when the record is stored);
- admin: everything.
"""

from __future__ import annotations

from sqlalchemy import false, true
from sqlalchemy.sql.elements import ColumnElement

from services.common.auth import Principal


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
        prefix = principal.region_prefix() or ""
        if not prefix:
            return false()
        return region_col.startswith(prefix, autoescape=True)
    if principal.kind == "bank" and bank_col is not None and principal.org:
        return bank_col == principal.org
    if principal.kind == "guarantor" and guarantor_col is not None and principal.org:
        return guarantor_col == principal.org
    return false()

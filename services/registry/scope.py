"""Who may see which enterprise: the one place the registry's region scoping is defined.

Officials see enterprises whose region code starts with their prefix (33 province, 3301 city,
330106 county); admin sees all; banks, guarantors and certifiers may read only the directory
record of one enterprise by credit code. Repositories call these helpers in their SQL.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path
from pydantic import StringConstraints

from services.common.auth import Principal, region_out_of_scope, region_prefix, require_kind
from services.common.credit_code import check_credit_code
from services.common.types import text
from services.registry.errors import CREDIT_CODE_PROBLEMS

MANAGERS = ("official", "admin")
DIRECTORY_READERS = ("official", "admin", "bank", "guarantor", "certifier")

# Banks, guarantors and certifiers read the directory record only: these fields come back null.
DIRECTORY_ONLY = ("bank", "guarantor", "certifier")
HIDDEN_FROM_DIRECTORY_READERS = (
    "established_on",
    "registered_capital",
    "address",
    "legal_representative",
    "rule_set_version",
    "created_at",
    "updated_at",
)

Manager = Annotated[Principal, require_kind(*MANAGERS)]
DirectoryReader = Annotated[Principal, require_kind(*DIRECTORY_READERS)]


def region_like(principal: Principal) -> str | None:
    """LIKE pattern limiting an official's rows, or None (no limit)."""
    prefix = principal.region_prefix()
    return None if prefix is None else prefix + "%"


def effective_region(
    principal: Principal, requested: str | None, pointer: str = "#/query/region"
) -> str | None:
    """The region prefix a query runs on: the requested one if the caller covers it, else 403."""
    own = principal.region_prefix()
    if requested is None:
        return own
    # 330000, 3300 and 33 all mean the province; 330100 and 3301 mean Hangzhou.
    requested = region_prefix(requested)
    if own is not None and not requested.startswith(own):
        raise region_out_of_scope(principal, requested, pointer)
    return requested


async def normalized_code(  # async: no thread-pool hop per request
    credit_code: Annotated[
        text(StringConstraints(max_length=64)),
        Path(description="统一社会信用代码 (normalised: stripped, uppercased)"),
    ],
) -> str:
    result = check_credit_code(credit_code)
    if not result.valid:
        raise CREDIT_CODE_PROBLEMS[result.errors[0]["code"]](result.message)
    return result.normalized


PathCreditCode = Annotated[str, Depends(normalized_code)]

"""Who may use the registry's routes, and what directory readers see.

Managers (officials, admin) manage the registry; banks, guarantors and certifiers may read only the
directory record of one enterprise by credit code. Which regions an official reaches is the kit's
`RegionScope` (services/common/scope.py), applied in the repositories.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path
from pydantic import StringConstraints

from services.common.auth import Principal, require_kind
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

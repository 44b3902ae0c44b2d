"""Finance's named problems: raised by its services and declared by its routes (one definition
each; the kit's own are in services.common.errors)."""

from __future__ import annotations

from services.common.errors import NamedProblem

NoInstitution = NamedProblem(
    403,
    "no_institution",
    "the calling bank or guarantor client has no institution code (org)",
    detail="the calling {kind} client has no institution code (org)",
)
InstitutionExists = NamedProblem(
    409,
    "institution_exists",
    "an institution with this code is registered already",
    pointer="/code",
    detail="institution {code} exists already",
)
ConflictingPeriod = NamedProblem(
    422,
    "conflicting_period",
    "both year and from/to are given",
    pointer="#/query/year",
    detail="give either year or from/to",
)
MissingPeriod = NamedProblem(
    422,
    "missing_period",
    "only one of from and to is given",
    pointer="#/query/{missing}",
    detail="give both from and to",
)
PeriodOrder = NamedProblem(
    422, "period_order", "from is after to", pointer="#/query/from", detail="from is after to"
)
TooManyMonths = NamedProblem(
    422,
    "too_many_months",
    "group_by=month over more than 36 months",
    pointer="#/query/group_by",
    detail="group_by=month covers at most 36 months",
)

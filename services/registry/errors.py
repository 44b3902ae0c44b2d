"""The registry's named problems: raised by its services and declared by its routes (one
definition each; the kit's own are in services.common.errors)."""

from __future__ import annotations

from services.common.errors import NamedProblem

EnterpriseExists = NamedProblem(
    409,
    "enterprise_exists",
    "an enterprise with this credit code is registered already",
    pointer="/credit_code",
    detail="enterprise {credit_code} is already registered",
)
ParkExists = NamedProblem(
    409,
    "park_exists",
    "a park of this name exists in the region",
    pointer="/name",
    detail="a park named {name} exists in {region}",
)
# The year of a fact, a screening or a statistic is after next year or before 1949; the pointer is
# the field or parameter that carries it.
YearOutOfRange = NamedProblem(422, "year_out_of_range", "the year is outside the registry's years")
BaselineNotBeforeYear = NamedProblem(
    422,
    "baseline_not_before_year",
    "baseline_year is not before year",
    pointer="#/query/baseline_year",
    detail="baseline_year must be before year",
)
UnknownIndustry = NamedProblem(
    422, "unknown_industry", "the industry code is not in GB/T 4754", pointer="#/query/industry_code"
)
# One field error per missing indicator (#/query/<name>).
IndicatorRequired = NamedProblem(
    422, "indicator_required", "the industry is classified on an indicator that was not given"
)
UnknownRuleSet = NamedProblem(
    422,
    "unknown_rule_set",
    "no screening rule set has this id",
    pointer="/rule_set",
    detail="no rule set {rule_set!r}; see GET /v1/rule-sets",
)
RuleSetTierMismatch = NamedProblem(
    422, "rule_set_tier_mismatch", "the rule set does not screen this tier", pointer="/tier"
)
TooManyScreenings = NamedProblem(
    429,
    "too_many_screenings",
    "the caller runs as many screenings as allowed already; see Retry-After",
    detail="you have {running} screenings running already; start another when one has finished",
)
AlreadyInTier = NamedProblem(
    409,
    "already_in_tier",
    "the enterprise holds this tier already",
    detail="{code} already holds tier {tier}",
)
NotInTier = NamedProblem(
    409,
    "not_in_tier",
    "the enterprise does not hold this tier",
    detail="{code} does not hold tier {tier} (active tier: {current})",
)
AlreadyRevoked = NamedProblem(
    409,
    "already_revoked",
    "the title is revoked already",
    detail="title {title_id} was revoked on {revoked_on}",
)

# A credit code in the path that fails the kit's check (services.common.credit_code), by the
# check's code: the problem's code is the check's.
_CREDIT_CODE = "#/path/credit_code"
CREDIT_CODE_PROBLEMS = {
    p.code: p
    for p in (
        NamedProblem(422, "credit_code_length", "a credit code has 18 characters", pointer=_CREDIT_CODE),
        NamedProblem(
            422, "credit_code_alphabet", "a character a credit code never holds", pointer=_CREDIT_CODE
        ),
        NamedProblem(
            422, "credit_code_area", "characters 3–8 (area code) are not digits", pointer=_CREDIT_CODE
        ),
        NamedProblem(422, "credit_code_check", "the check character does not match", pointer=_CREDIT_CODE),
    )
}
INVALID_CREDIT_CODE = tuple(CREDIT_CODE_PROBLEMS.values())

# A screening's own failure, reported in the screening resource's `error` (never a route's answer).
ScreeningAbandoned = NamedProblem(
    503,
    "screening_abandoned",
    "the process running the screening stopped (no heartbeat within the lease)",
    detail="the process running this screening stopped (no heartbeat within the lease); start it again",
)
ScreeningWorkerDied = NamedProblem(
    503,
    "screening_worker_died",
    "the process evaluating the screening stopped",
    detail="the process evaluating this screening stopped; start it again",
)
ScreeningFailed = NamedProblem(
    500,
    "screening_failed",
    "the screening could not be completed",
    detail="the screening could not be completed; quote the request_id",
)

# Asynchronous exports (services/registry/exports/).
ExportNotReady = NamedProblem(
    409,
    "export_not_ready",
    "the export has not finished; poll its job",
    detail="export {job_id} is {status}; its file is there once its job has succeeded (GET {href})",
)
ExportExpired = NamedProblem(
    410,
    "export_expired",
    "the export's file was removed after its retention; start the export again",
    detail="export {job_id}'s file is kept {hours} h after it is written, and that has passed; "
    "start the export again",
)

# Targets per region and year (services/registry/targets/).
UnknownProgramme = NamedProblem(
    404, "unknown_programme", "no programme of this name", detail="programme {programme} is not known"
)
TargetsInvalid = NamedProblem(
    422, "targets_invalid", "a target names no indicator of the programme, another unit, or a bad window"
)
TargetRegionNotCurrent = NamedProblem(
    422,
    "target_region_not_current",
    "targets are set for a current region code only",
    pointer="#/path/region",
    detail="{region} is not a current region code{successors}",
)

# Service institutions and reported figures (services/registry/institutions/).
InstitutionExists = NamedProblem(
    409,
    "service_institution_exists",
    "a service institution with this credit code is recorded",
    pointer="/credit_code",
    detail="a service institution with credit code {credit_code} is recorded",
)
ReportedUnitMismatch = NamedProblem(
    422,
    "reported_unit_mismatch",
    "a reported figure is given in its indicator's unit",
    pointer="/unit",
    detail="{key} is counted in {unit}, not {given}",
)

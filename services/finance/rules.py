"""The finance rule set: numbered validation rules for bank and guarantor submissions, and the
versioned thresholds the derived figures use. Bump ``VERSION`` whenever a rule or threshold changes;
the version is stamped on every accepted record (``rule_set_version``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.common.batch import Rule, RuleSet
from services.common.types import TEXT_ERROR_TYPES

VERSION = "fin-2024.3"  # 2024.3: loan-book reports (FIN-V018), 普惠 borrower kinds and customer cap; 2024.2: FIN-V017 (text rule); FIN-W005 retired

# Versioned thresholds (domain.md §6–7; some are unsettled, so they live here, not in code paths).
INCLUSIVE_LINE_CAP = Decimal("10000000.00")  # 单户授信总额 ≤ 1000万元 inclusive
MAX_AMOUNT = Decimal("1000000000000.00")
# a whole loan book (各项贷款) is larger than any one loan: up to 10^17 yuan
MAX_BOOK_BALANCE = Decimal("99999999999999999.99")
MAX_ANNUAL_RATE = Decimal("36")
MAX_FEE_RATE = Decimal("36")
LEVERAGE_CAP = Decimal("10")
LEVERAGE_CAP_SMALL_MICRO = Decimal("15")

RULES = RuleSet(
    "finance",
    VERSION,
    [
        Rule(
            "FIN-V001",
            "error",
            "/borrower_credit_code",
            "Credit code must be a valid 18-character USCC (GB 32100-2015 check character).",
        ),
        Rule("FIN-V002", "error", "/", "Required field is missing."),
        Rule(
            "FIN-V003",
            "error",
            "/",
            "Value is not one of the allowed codes (size, product, renewal type, status, decision).",
        ),
        Rule("FIN-V004", "error", "/amount", "Amounts must be > 0 and ≤ 1,000,000,000,000.00 yuan."),
        Rule("FIN-V005", "error", "/", "Money has at most 2 decimal places and is never negative."),
        Rule(
            "FIN-V006",
            "error",
            "/annual_rate",
            "Rates are percent between 0 and 36 (share fields 0–100), at most 4 decimals.",
        ),
        Rule(
            "FIN-V007",
            "error",
            "/matures_on",
            "Dates must be in order: start ≤ end/maturity, start ≤ closing/decision dates.",
        ),
        Rule("FIN-V008", "error", "/outstanding_balance", "An outstanding balance is ≥ 0 and ≤ the amount."),
        Rule(
            "FIN-V009",
            "error",
            "/closed_on",
            "Status and its date agree: repaid/written_off/closed/released/compensated need their date, open statuses have none.",
        ),
        Rule(
            "FIN-V010",
            "error",
            "/",
            "The same reference appears more than once in this batch (every occurrence is rejected).",
        ),
        Rule(
            "FIN-V011",
            "error",
            "/",
            "Value has the wrong type or format (dates YYYY-MM-DD, numbers as decimal strings, booleans).",
        ),
        Rule(
            "FIN-V012",
            "error",
            "/",
            "Field is not part of the record (the lender or guarantor is the caller, never a field).",
        ),
        Rule(
            "FIN-V013", "error", "/", "A reference is 1–64 printable characters without spaces at either end."
        ),
        Rule("FIN-V014", "error", "/borrower_name", "Text is empty or longer than allowed."),
        Rule(
            "FIN-V015",
            "error",
            "/decided_on",
            "Decision and decided_on agree: approved/rejected need decided_on, pending has none.",
        ),
        Rule(
            "FIN-V016",
            "error",
            "/compensated_amount",
            "Compensation ≤ guaranteed amount and recovered ≤ compensated; compensation only with status compensated.",
        ),
        Rule(
            "FIN-V017",
            "error",
            "/",
            "Text may not contain control characters (NUL, tabs, line breaks, …), invisible "
            "formatting characters or broken Unicode (lone surrogates, noncharacters).",
        ),
        Rule(
            "FIN-V018",
            "error",
            "/all_loans_borrowers",
            "A loan-book report with a balance has borrowers, and one with no balance has none.",
        ),
        Rule(
            "FIN-V019",
            "error",
            "/customer_ref",
            "A business_owner loan names the bank's customer_ref of the owner (never a resident ID "
            "number); other borrower kinds have none.",
        ),
        Rule(
            "FIN-W001",
            "warning",
            "/borrower_credit_code",
            "Borrower unknown to the registry: stored as unmatched (region from the code's area digits).",
        ),
        Rule(
            "FIN-W002",
            "warning",
            "/credit_line_ref",
            "No credit line with this reference at this lender (yet).",
        ),
        Rule(
            "FIN-W003",
            "warning",
            "/guarantee_ref",
            "No guarantee with this reference naming this lender (yet).",
        ),
        Rule("FIN-W004", "warning", "/lender_code", "Lender code is not a registered bank institution."),
        # FIN-W005 ("no loan with this reference at the named lender") was retired in fin-2024.2:
        # a guarantor sees no loans, and the warning told it whether a bank holds a loan ref. The
        # link is checked where the caller may see both sides: FIN-W003, on the bank's loans.
        # Rule ids are never reused.
    ],
)

# pydantic error type → rule id, by field where needed
_TYPE_RULES = {
    "missing": "FIN-V002",
    "literal_error": "FIN-V003",
    "enum": "FIN-V003",
    "extra_forbidden": "FIN-V012",
    "decimal_max_places": "FIN-V005",
    "string_too_long": "FIN-V014",
    "string_too_short": "FIN-V014",
}
_AMOUNT_FIELDS = {"amount", "amount_requested", "guaranteed_amount"}
_MONEY_FIELDS = {
    "outstanding_balance",
    "outstanding_amount",
    "compensated_amount",
    "recovered_amount",
    "all_loans_balance",
}
_RATE_FIELDS = {"annual_rate", "fee_rate", "reguarantee_share"}
_REF_FIELDS = {"loan_ref", "line_ref", "application_ref", "guarantee_ref", "credit_line_ref", "lender_code"}


def rule_for_error(err: dict[str, Any]) -> str | None:
    """Map a pydantic error of a record to its rule id."""
    loc = err.get("loc") or ()
    field = str(loc[0]) if loc else ""
    kind = err.get("type", "")
    if kind in TEXT_ERROR_TYPES:  # before any field's own rule: the same answer for every string
        return "FIN-V017"
    if kind in ("missing", "extra_forbidden", "literal_error", "enum"):
        return _TYPE_RULES[kind]
    if field == "borrower_credit_code":
        return "FIN-V001" if kind == "value_error" else "FIN-V011"
    if field in _REF_FIELDS and kind in ("string_too_long", "string_too_short", "string_pattern_mismatch"):
        return "FIN-V013"
    if field in _RATE_FIELDS and kind in (
        "greater_than_equal",
        "less_than_equal",
        "decimal_max_places",
        "decimal_max_digits",
        "decimal_whole_digits",
    ):
        return "FIN-V006"
    if field in _AMOUNT_FIELDS and kind in (
        "greater_than",
        "less_than_equal",
        "decimal_max_digits",
        "decimal_whole_digits",
    ):
        return "FIN-V004"
    if field in (_AMOUNT_FIELDS | _MONEY_FIELDS) and kind in (
        "decimal_max_places",
        "greater_than_equal",
        "less_than_equal",
        "decimal_max_digits",
        "decimal_whole_digits",
    ):
        return "FIN-V005"
    if kind in _TYPE_RULES:
        return _TYPE_RULES[kind]
    return "FIN-V011"


# The financing figures' definitions as data: the source each follows and whether that source
# settles it (docs/finance.md, "Definitions"). An unsettled choice is changed here (a new
# rule-set version), never in a code path. `GET /v1/stats` states them beside each figure.
DEFINITIONS: dict[str, dict[str, Any]] = {
    "smb_new_loans": {
        "source": "浙江省“雏鹰行动”实施意见: 全省3年新增5000亿元投向小微企业; domain.md §1, §6",
        # 新增贷款 is the increase in balance in Chinese banking statistics, but the programme does
        # not say so, nor which 3 years (the window is the target row's)
        "settled": False,
    },
    "two_increases": {
        "source": "浙江省“雏鹰行动”实施意见: 单户授信总额1000万元以下小微企业贷款同比增速高于各项贷款增速, "
        "贷款户数高于上年同期水平; domain.md §6",
        # 高于 is strict (the programme's word); the comparison base (`base`) varies by year and
        # the denominator counts only lenders that can be assessed (a whole-book report for both dates)
        "settled": False,
        "pass_when": "inclusive balance growth > whole-book growth and inclusive borrowers > base",
    },
    "approval_rate": {
        "source": "浙江省“雏鹰行动”实施意见: 提高小微企业申贷获得率; domain.md §6",
        "settled": True,
        "sizes": ("small", "micro"),
    },
    "inclusive": {
        "source": "银保监办发〔2020〕15号 as quoted in domain.md §6 (original not re-read)",
        "settled": False,
    },
}

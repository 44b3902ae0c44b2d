"""The certification push rule set: stable ids, severity, pointer, description (GET /v1/rules)."""

from __future__ import annotations

from services.common.batch import Rule, RuleSet
from services.common.types import TEXT_ERROR_TYPES

VERSION = "STD-2024.2"  # 2024.2: STD-V015 (text rule)

RULES = RuleSet(
    "standards-certifications",
    VERSION,
    [
        Rule("STD-V001", "error", "/certificate_no", "certificate_no is required: 1–64 printable characters"),
        Rule(
            "STD-V002",
            "error",
            "/holder_credit_code",
            "holder_credit_code must be a valid 统一社会信用代码 (GB 32100-2015: 18 characters, check character)",
        ),
        Rule(
            "STD-V003",
            "error",
            "/holder_name",
            "holder_name and product are required text; holder_name ≤ 200, product ≤ 500, scope ≤ 2000 and "
            "status_reason ≤ 1000 characters",
        ),
        Rule(
            "STD-V004",
            "error",
            "/standard_code",
            "standard_code is required (a standard number, ≤ 80 characters)",
        ),
        Rule(
            "STD-V005",
            "error",
            "/rule_code",
            "rule_code is a 浙江制造 certification implementation rule number like ZJM-006-4481-2023",
        ),
        Rule(
            "STD-V006",
            "error",
            "/issued_on",
            "issued_on, expires_on and status_effective_on are required dates (YYYY-MM-DD)",
        ),
        Rule("STD-V007", "error", "/expires_on", "expires_on must be later than issued_on"),
        Rule("STD-V008", "error", "/status_effective_on", "status_effective_on cannot be before issued_on"),
        Rule(
            "STD-V009",
            "error",
            "/issued_on",
            "issued_on cannot be in the future (today in Asia/Shanghai)",
        ),
        Rule(
            "STD-V010",
            "error",
            "/status",
            "status is one of valid, suspended, revoked, cancelled (expired is derived from expires_on, "
            "never pushed)",
        ),
        Rule(
            "STD-V011",
            "error",
            "/status_reason",
            "status_reason is required when the status is suspended, revoked or cancelled",
        ),
        Rule(
            "STD-V012",
            "error",
            "/status",
            "revoked and cancelled are terminal: a certificate in either status cannot change status "
            "(valid ↔ suspended is allowed; valid or suspended → revoked or cancelled is allowed)",
        ),
        Rule(
            "STD-V013",
            "error",
            "/status_effective_on",
            "status_effective_on never moves backwards: it cannot be earlier than the stored one (or than an "
            "earlier record for the same certificate in the same batch)",
        ),
        Rule("STD-V014", "error", "/", "unknown field in the record"),
        Rule(
            "STD-V015",
            "error",
            "/",
            "text may not contain control characters (NUL, tabs or line breaks outside scope and "
            "status_reason, …), invisible formatting characters or broken Unicode (lone surrogates, "
            "noncharacters)",
        ),
        Rule(
            "STD-W001",
            "warning",
            "/standard_code",
            "standard_code is not in the standards catalogue (accepted; check the number)",
        ),
        Rule(
            "STD-W002",
            "warning",
            "/standard_code",
            'standard_code is not a "浙江制造" standard (T/ZZB NNNN—YYYY); 品字标 certification is granted '
            "against 浙江制造 standards",
        ),
        Rule(
            "STD-W003",
            "warning",
            "/holder_credit_code",
            "the holder is not in the enterprise registry yet; the certificate is kept as unmatched",
        ),
    ],
)

FIELD_RULES = {
    "certificate_no": "STD-V001",
    "holder_credit_code": "STD-V002",
    "holder_name": "STD-V003",
    "product": "STD-V003",
    "scope": "STD-V003",
    "status_reason": "STD-V003",
    "standard_code": "STD-V004",
    "rule_code": "STD-V005",
    "issued_on": "STD-V006",
    "expires_on": "STD-V006",
    "status_effective_on": "STD-V006",
    "status": "STD-V010",
}


def rule_for_error(err: dict) -> str | None:
    if err.get("type") in TEXT_ERROR_TYPES:  # before any field's own rule
        return "STD-V015"
    if err.get("type") == "extra_forbidden":
        return "STD-V014"
    loc = err.get("loc") or ()
    if loc and loc[0] in FIELD_RULES:
        return FIELD_RULES[loc[0]]
    return None

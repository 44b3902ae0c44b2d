"""统一社会信用代码 (USCC, GB 32100-2015): the enterprise key everywhere. One place for the rule.

18 characters: registration authority, entity category, 6-digit area code (at registration time,
never rejected for being unknown), 9-character organisation code, check character.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
# A normalised code as the OpenAPI documents it (18 characters of ALPHABET; the checksum is checked
# by `check`). Requests may send the code in lower case or with spaces around it: it is normalised.
PATTERN = "^[0-9A-HJ-NPQRTUWXY]{18}$"
VALUE = {c: i for i, c in enumerate(ALPHABET)}
WEIGHTS = [pow(3, i, 31) for i in range(17)]  # 1, 3, 9, 27, 19, 26, 16, …

AUTHORITIES = {
    "1": "机构编制",
    "5": "民政",
    "9": "工商",
    "Y": "其他",
    "2": "外交",
    "3": "司法行政",
    "4": "文化",
    "6": "旅游",
    "7": "宗教",
    "8": "工会",
    "A": "中央军委改革和编制办公室",
    "N": "农业",
}
CATEGORIES = {
    "91": "企业",
    "92": "个体工商户",
    "93": "农民专业合作社",
    "11": "机关",
    "12": "事业单位",
    "13": "中央编办直接管理机构编制的群众团体",
    "19": "其他",
    "51": "社会团体",
    "52": "民办非企业单位",
    "53": "基金会",
    "59": "其他",
    "Y1": "其他",
}


@dataclass
class CreditCodeCheck:
    valid: bool
    normalized: str
    errors: list[dict[str, str]] = field(default_factory=list)
    expected_check: str | None = None

    @property
    def message(self) -> str:
        return "; ".join(e["message"] for e in self.errors)


def check_character(first17: str) -> str:
    total = sum(VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def check_credit_code(raw: str) -> CreditCodeCheck:
    """Normalise (strip, uppercase) and validate; errors carry stable codes."""
    code = (raw or "").strip().upper()
    errors: list[dict[str, str]] = []
    if len(code) != 18:
        errors.append(
            {"code": "credit_code_length", "message": f"a credit code has 18 characters, got {len(code)}"}
        )
        return CreditCodeCheck(False, code, errors)
    bad = sorted({c for c in code[:17] if c not in VALUE})
    if bad:
        errors.append(
            {
                "code": "credit_code_alphabet",
                "message": f"characters not allowed in a credit code: {''.join(bad)} (I, O, S, V, Z and symbols never appear)",
            }
        )
        return CreditCodeCheck(False, code, errors)
    if not code[2:8].isdigit():
        errors.append({"code": "credit_code_area", "message": "characters 3–8 (area code) must be digits"})
        return CreditCodeCheck(False, code, errors)
    expected = check_character(code[:17])
    if code[17] != expected:
        errors.append(
            {
                "code": "credit_code_check",
                "message": f"check character is {code[17]}, expected {expected} for {code[:17]}",
            }
        )
        return CreditCodeCheck(False, code, errors, expected)
    return CreditCodeCheck(True, code, errors, expected)


def normalize_credit_code(raw: str) -> str:
    """Return the normalised code or raise ValueError with the reason (for pydantic validators)."""
    result = check_credit_code(raw)
    if not result.valid:
        raise ValueError(result.message)
    return result.normalized


def describe(code: str) -> dict[str, str | None]:
    return {
        "registration_authority": AUTHORITIES.get(code[:1]) if code else None,
        "category": CATEGORIES.get(code[:2]) if len(code) >= 2 else None,
        "area_code": code[2:8] if len(code) >= 8 else None,
    }


def make_credit_code(first17: str) -> str:
    """Complete 17 characters with their check character (test data and generators)."""
    return first17 + check_character(first17)

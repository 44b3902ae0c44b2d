"""Pydantic field types for the HTTP conventions: text, money and rates as decimal strings, credit codes.

Text
----
Every string a request carries — body field, query or path parameter, in every service and the
gateway — is validated as `text(...)` (or one of the types below built on it) before anything else
looks at it; `tests/common/test_text.py` walks every route of the four apps and fails on a string
that is not. The rule, one for all of them:

- no control characters (Unicode category Cc: C0, DEL, C1). A multi-line field (free text such as
  a reason or a certificate's scope) may hold tab, line feed and CR LF; a single-line one none;
- no line or paragraph separators (U+2028, U+2029): invisible line breaks;
- no bidirectional formatting characters (Unicode's Bidi_Control: U+061C, U+200E, U+200F,
  U+202A–U+202E, U+2066–U+2069): they make a name or number read differently from what is stored
  ("Trojan Source", CVE-2021-42574);
- no U+FEFF: a byte-order mark that slipped in from a file, invisible, so that two equal-looking
  values differ;
- no lone surrogates (category Cs; JSON's "\\ud800" decodes to one) and no noncharacters (U+FDD0–
  U+FDEF, U+xFFFE, U+xFFFF): not text PostgreSQL, UTF-8 or XML can carry.

Other format characters (Cf) stay allowed: the zero-width joiners (U+200C, U+200D) belong to
correct text in several scripts and emoji, and a soft hyphen or word joiner changes nothing a
reader, the database or an export relies on.

A refused value is the field's problem, code `text_control_character` or `text_invalid_unicode`,
with a message naming the character and its position (never the value itself). The check runs
before the field's own constraints, so a pattern or checksum field answers with the same code.
"""

from __future__ import annotations

import re
import re._parser
import unicodedata
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, StringConstraints
from pydantic_core import PydanticCustomError

from services.common.credit_code import PATTERN, normalize_credit_code

TEXT_CONTROL_CHARACTER = "text_control_character"
TEXT_INVALID_UNICODE = "text_invalid_unicode"
# Error types a batch maps to its service's text rule; pydantic's own `string_unicode` is what a
# lone surrogate in a record's key (which no field type sees) comes out as.
TEXT_ERROR_TYPES = frozenset({TEXT_CONTROL_CHARACTER, TEXT_INVALID_UNICODE, "string_unicode"})

_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
)
_INVALID = "\ud800-\udfff" + _NONCHARACTERS
_FORMAT = "\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff"
_C1_AND_DEL = "\x7f-\x9f"
_SINGLE_LINE = re.compile(f"[\x00-\x1f{_C1_AND_DEL}{_FORMAT}{_INVALID}]")
# tab and line feed allowed; CR only as the first half of CR LF
_MULTI_LINE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f{_C1_AND_DEL}{_FORMAT}{_INVALID}]|\r(?!\n)")
_UNICODE = re.compile(f"[{_INVALID}]")


def text_problem(value: str, *, multiline: bool = False) -> tuple[str, str] | None:
    """`(code, message)` for the first character the text rule refuses in `value`, or None.

    For callers outside pydantic (headers, hand-parsed parameters); fields use `text(...)`."""
    if value.isprintable():  # the common case, in C: letters, digits, CJK, punctuation, spaces
        return None
    bad = (_MULTI_LINE if multiline else _SINGLE_LINE).search(value)
    if bad is None:
        return None
    ch = bad.group()[0]
    name = f"U+{ord(ch):04X} (character {bad.start() + 1})"
    if _UNICODE.match(ch):
        what = "a lone surrogate" if 0xD800 <= ord(ch) <= 0xDFFF else "a Unicode noncharacter"
        return TEXT_INVALID_UNICODE, f"{name} is {what}, not text: send valid Unicode"
    if ch in "\t\n\r":
        allowed = "tab, line feed and CR LF only" if multiline else "no tabs or line breaks"
        kind = "multi-line" if multiline else "a single line"
        return TEXT_CONTROL_CHARACTER, f"{name}: this field is {kind} ({allowed})"
    if ch in "\u2028\u2029":
        return TEXT_CONTROL_CHARACTER, f"{name} is a Unicode line separator, not allowed in text"
    what = "a control character" if unicodedata.category(ch) == "Cc" else "an invisible formatting character"
    return TEXT_CONTROL_CHARACTER, f"{name} is {what}, not allowed in text"


def replace_refused(value: str, replacement: str = "\ufffd") -> str:
    """`value` with each character the text rule refuses (in a multi-line field) replaced: for text
    on its way out that was stored before the rule existed, so that it cannot break a file."""
    return value if value.isprintable() else _MULTI_LINE.sub(replacement, value)


def _checker(multiline: bool) -> BeforeValidator:
    def check(v: Any) -> Any:
        if isinstance(v, str):
            problem = text_problem(v, multiline=multiline)
            if problem is not None:
                raise PydanticCustomError(problem[0], "{reason}", {"reason": problem[1]})
        return v

    check.__qualname__ = f"text_rule_{'multi' if multiline else 'single'}_line"
    return BeforeValidator(check)


SINGLE_LINE_RULE = _checker(multiline=False)
MULTI_LINE_RULE = _checker(multiline=True)


def text(*metadata: Any, multiline: bool = False) -> Any:
    """A string field under the text rule, then `metadata` (StringConstraints, validators, Field).

    Build every constrained string with this instead of annotating `text()` further: the rule must
    be the outermost annotation so that it runs first and the constraints stay pydantic's own
    (``Annotated[Text, StringConstraints(...)]`` would run the constraints as generic validators
    with other error types)."""
    return Annotated[(str, *metadata, MULTI_LINE_RULE if multiline else SINGLE_LINE_RULE)]


# One line of text, no other constraint; and free text that may run over several lines.
Text = text()
MultilineText = text(multiline=True)


def _money_str(v: Decimal) -> str:
    return f"{v:.2f}"


def _rate_str(v: Decimal) -> str:
    return format(v.normalize(), "f") if v == v.to_integral() else format(v, "f")


def patterned(pattern: str) -> tuple[StringConstraints, Any]:
    r"""The constraint of a string that must match `pattern` (anchored, of bounded length), and the
    length the pattern allows written into its JSON schema (`minLength`/`maxLength`): the pattern
    is what enforces it (no stripping comes first), the schema says it outright. Use inside
    `text(...)`: ``text(*patterned(r"^\d{6}$"))``."""
    low, high = re._parser.parse(pattern).getwidth()
    if high >= re._parser.MAXREPEAT:
        raise ValueError(f"pattern {pattern!r} does not bound the length")
    return StringConstraints(pattern=pattern), Field(json_schema_extra={"minLength": low, "maxLength": high})


# Yuan with at most 2 decimal places, ≥ 0; serialised as "1250000.00". Accepts strings or numbers.
Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=17, decimal_places=2, examples=["1250000.00"]),
    PlainSerializer(_money_str, return_type=str, when_used="json"),
]
# Percent as a decimal string: "4.35" means 4.35 %.
Rate = Annotated[
    Decimal,
    Field(ge=0, le=100, max_digits=7, decimal_places=4, examples=["4.35"]),
    PlainSerializer(_rate_str, return_type=str, when_used="json"),
]
# How a credit code is documented: its normalised form (the pattern), the checksum in words. The
# code accepts up to 64 characters, strips spaces and upper-cases before it checks (below).
CREDIT_CODE_DOC = Field(
    examples=["91330000733796106P"],
    description="统一社会信用代码 (GB 32100-2015), checksum verified (sent in lower case or with "
    "spaces around it, it is normalised)",
    json_schema_extra={"pattern": PATTERN, "minLength": 18, "maxLength": 18},
)
# A validated, normalised USCC (strip + uppercase, checksum verified).
CreditCode = text(
    StringConstraints(min_length=1, max_length=64), AfterValidator(normalize_credit_code), CREDIT_CODE_DOC
)
RegionCode = text(*patterned(r"^\d{6}$"), Field(examples=["330106"]))
# A region code prefix: 33 (or 330000) the province, 3301 (330100) a city, 330106 a county.
RegionPrefix = text(*patterned(r"^\d{2,6}$"), Field(examples=["3301"]))

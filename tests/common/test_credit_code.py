"""统一社会信用代码 checksum (GB 32100-2015), with the standard's own vectors."""

import pytest

from services.common.credit_code import WEIGHTS, check_credit_code, make_credit_code


def test_weights_are_powers_of_three_mod_31():
    assert WEIGHTS == [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91330000733796106P", " 91330000733796106p "])
def test_valid_codes_normalise(code):
    r = check_credit_code(code)
    assert r.valid and r.normalized == code.strip().upper()


def test_wrong_check_character_names_the_expected_one():
    r = check_credit_code("91350100M000100Y4Z")
    assert not r.valid and r.errors[0]["code"] == "credit_code_check"
    assert "expected 3" in r.errors[0]["message"]


@pytest.mark.parametrize(
    "code, error",
    [
        ("9135010", "credit_code_length"),
        ("91350100M000100Y431", "credit_code_length"),
        ("91350100I000100Y43", "credit_code_alphabet"),
        ("9135010OM000100Y43", "credit_code_alphabet"),
        ("91A50100M000100Y43", "credit_code_area"),
    ],
)
def test_malformed_codes_are_refused_with_a_reason(code, error):
    r = check_credit_code(code)
    assert not r.valid and r.errors[0]["code"] == error


def test_make_credit_code_completes_the_check_character():
    assert make_credit_code("91350100M000100Y4") == "91350100M000100Y43"

"""Screening criteria (pool/rules.py): the size criterion reads the 2017 size rules."""

from datetime import date

from services.registry.pool.rules import indicator_value

ENTERPRISE = {"industry_code": "3311", "established_on": date(2015, 1, 1)}


def test_the_stored_size_class_is_used():
    assert indicator_value("size_class", {"size_class": "small"}, ENTERPRISE, 2022) == ("small", [])


def test_one_indicator_below_small_is_micro_without_the_other():
    assert indicator_value("size_class", {"employees": 12}, ENTERPRISE, 2022) == ("micro", [])
    assert indicator_value("size_class", {"employees": 40}, ENTERPRISE, 2022) == (None, ["revenue"])


def test_an_industry_outside_the_size_rules_fails_the_size_criterion():
    bank = {**ENTERPRISE, "industry_code": "6621"}
    assert indicator_value("size_class", {"employees": 50, "revenue": 1}, bank, 2022) == ("out_of_scope", [])

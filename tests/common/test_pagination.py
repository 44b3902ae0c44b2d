"""Keyset cursors are opaque, round-trip their values and refuse tampering."""

from datetime import date
from decimal import Decimal

import pytest

from services.common.errors import Problem
from services.common.pagination import decode_cursor, encode_cursor


def test_cursor_round_trips_typed_values(database_url):
    values = [date(2022, 3, 1), Decimal("1250000.00"), "B001", 42]
    assert decode_cursor(encode_cursor(values), 4) == values


@pytest.mark.parametrize(
    "mangle", [lambda c: c[:-2] + "xx", lambda c: "A" + c[1:], lambda c: "garbage", lambda c: ""]
)
def test_tampered_cursor_is_a_400_problem(database_url, mangle):
    cursor = encode_cursor(["330106", "91330000733796106P"])
    with pytest.raises(Problem) as e:
        decode_cursor(mangle(cursor), 2)
    assert e.value.status == 400 and e.value.code == "invalid_cursor"
    assert e.value.errors[0]["pointer"] == "#/query/cursor"


def test_cursor_of_another_shape_is_refused(database_url):
    with pytest.raises(Problem):
        decode_cursor(encode_cursor(["a"]), 2)

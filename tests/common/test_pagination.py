"""Keyset cursors are opaque, round-trip their values, refuse tampering and belong to the list, the
filters and the caller they were issued for: any other use is a 400 `invalid_cursor` problem."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.common.auth import Principal
from services.common.errors import Problem
from services.common.pagination import PageParams, cursor_binding, decode_cursor, encode_cursor
from tests.finance.helpers import loan
from tests.registry_data import add_enterprise

BANK_A = Principal(sub="client:a", kind="bank", org="BA")


def page(cursor=None, endpoint="finance.list_loans", caller=BANK_A, filters=()):
    return PageParams(limit=50, cursor=cursor, binding=cursor_binding(endpoint, caller, filters))


def refused(p: PageParams, types) -> Problem:
    with pytest.raises(Problem) as e:
        decode_cursor(p, types)
    assert e.value.status == 400 and e.value.code == "invalid_cursor"
    assert e.value.errors[0]["pointer"] == "#/query/cursor"
    return e.value


def test_cursor_round_trips_typed_values(database_url):
    values = [date(2022, 3, 1), Decimal("1250000.00"), "B001", 42, datetime(2024, 5, 1, 8, tzinfo=UTC)]
    values.append(uuid.UUID("12345678-1234-5678-1234-567812345678"))
    types = [date, Decimal, str, int, datetime, uuid.UUID]
    assert decode_cursor(page(encode_cursor(page(), values)), types) == values


@pytest.mark.parametrize(
    "mangle", [lambda c: c[:-2] + "xx", lambda c: "A" + c[1:], lambda c: "garbage", lambda c: ""]
)
def test_tampered_cursor_is_a_400_problem(database_url, mangle):
    cursor = encode_cursor(page(), ["330106", "91330000733796106P"])
    refused(page(mangle(cursor)), [str, str])


def test_a_cursor_belongs_to_its_endpoint_filters_and_caller(database_url):
    issued = page(filters={"status": "outstanding"})
    cursor = encode_cursor(issued, [41])
    assert decode_cursor(page(cursor, filters={"status": "outstanding"}), [int]) == [41]
    refused(page(cursor, endpoint="registry.list_enterprises", filters={"status": "outstanding"}), [int])
    refused(page(cursor, filters={"status": "closed"}), [int])
    refused(page(cursor), [int])  # the filter left out
    other_bank = Principal(sub="client:b", kind="bank", org="BB")
    refused(page(cursor, caller=other_bank, filters={"status": "outstanding"}), [int])
    same_org_other_client = Principal(sub="client:a2", kind="bank", org="BA")
    refused(page(cursor, caller=same_org_other_client, filters={"status": "outstanding"}), [int])


def test_the_binding_adds_nothing_to_a_cursors_length(database_url):
    """Signed with the binding, not carrying it: the values and a 16-character signature."""
    long_filters = encode_cursor(page(filters={"q": "杭州" * 50, "region": "3301"}), [123456789])
    assert len(long_filters) == len(encode_cursor(page(), [123456789])) == len("WzEyMzQ1Njc4OV0") + 17


@pytest.mark.parametrize(
    "values, types",
    [
        (["a"], [str, str]),  # another arity
        (["91330000733796106P"], [int]),  # a string where the list orders by an integer
        ([True], [int]),  # a boolean is not an integer
        ([1], [str]),
        ([{"d": "2022-03-01"}], [datetime]),  # a date where a timestamp is expected
        ([{"d": "not-a-date"}], [date]),
        ([{"n": "abc"}], [Decimal]),
        ([None], [int]),
    ],
)
def test_a_well_signed_cursor_of_the_wrong_shape_or_types_is_a_400(database_url, values, types):
    """Values are checked against the list's order columns before they reach SQL."""
    refused(page(encode_cursor(page(), values)), types)


def test_a_page_without_its_binding_cannot_issue_cursors(database_url):
    with pytest.raises(RuntimeError):
        encode_cursor(PageParams(limit=1, cursor=None), [1])


async def test_a_registry_cursor_on_the_finance_loans_list_is_a_400_not_a_500(client_for, as_, db):
    registry, finance = client_for("registry"), client_for("finance")
    for _ in range(2):
        await add_enterprise(db)
    admin = as_("admin")
    first = (await registry.get("/v1/enterprises", params={"limit": 1}, headers=admin)).json()
    assert first["next_cursor"]
    r = await finance.get("/v1/loans", params={"cursor": first["next_cursor"]}, headers=admin)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "invalid_cursor"
    assert r.json()["errors"][0]["pointer"] == "#/query/cursor"


async def test_a_loans_cursor_on_another_finance_list_is_a_400(client_for, as_):
    c, bank = client_for("finance"), as_("bank", org="B1")
    r = await c.post("/v1/loans/batch", json={"records": [loan(), loan()]}, headers=bank)
    assert r.status_code == 200
    cursor = (await c.get("/v1/loans", params={"limit": 1}, headers=bank)).json()["next_cursor"]
    for path in ("/v1/credit-lines", "/v1/applications", "/v1/guarantees"):
        r = await c.get(path, params={"cursor": cursor}, headers=bank)
        assert r.status_code == 400 and r.json()["code"] == "invalid_cursor", (path, r.text)


def test_a_cursor_signed_with_the_retired_key_is_accepted_during_a_rotation(database_url, monkeypatch):
    """EAGLET_CURSOR_KEY_PREVIOUS: cursors (the webhook dispatcher's stored feed positions among
    them) signed before the rotation still read; new ones carry the new key's signature."""
    from pydantic import SecretStr

    from services.common import pagination
    from services.common.settings import get_settings

    old = get_settings()
    before = encode_cursor(page(), ["330106", "91330000733796106P"])
    rotated = old.model_copy(
        update={
            "cursor_key": SecretStr("the-new-cursor-key-0123456789abcdef"),
            "cursor_key_previous": old.cursor_key,
        }
    )
    monkeypatch.setattr(pagination, "get_settings", lambda: rotated)
    assert decode_cursor(page(before), [str, str]) == ["330106", "91330000733796106P"]
    after = encode_cursor(page(), ["330106", "91330000733796106P"])
    assert after != before and decode_cursor(page(after), [str, str]) == ["330106", "91330000733796106P"]
    monkeypatch.setattr(
        pagination, "get_settings", lambda: rotated.model_copy(update={"cursor_key_previous": None})
    )
    refused(page(before), [str, str])

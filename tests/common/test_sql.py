"""The kit's SQL builder (services/common/sql.py): values become numbered arguments, never text."""

from services.common.sql import Sql


def test_arguments_are_numbered_in_order_of_use_with_optional_casts():
    sql = Sql()
    sql.where(f"e.region_code = {sql.arg('330106', 'text')}")
    sql.where(f"e.tier = {sql.arg('seedling')}")
    assert sql.where_sql == "e.region_code = $1::text AND e.tier = $2"
    assert sql.args == ["330106", "seedling"]


def test_no_condition_is_true():
    assert Sql().where_sql == "TRUE"


def test_a_copy_is_extended_without_touching_the_original():
    base = Sql()
    base.where(f"l.lender = {base.arg('B001')}")
    more = base.copy()
    more.where(f"l.issued_on <= {more.arg('2024-12-31', 'date')}")
    assert base.where_sql == "l.lender = $1" and base.args == ["B001"]
    assert more.where_sql == "l.lender = $1 AND l.issued_on <= $2::date"
    assert more.args == ["B001", "2024-12-31"]

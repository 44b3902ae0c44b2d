"""A name's grams: the query side (Python, `search.letters` and `bigrams`) and the name side
(`registry.name_grams`, declared in services/registry/enterprises/db.py, whose results the GIN
index holds) read a name alike: lower case, whitespace removed; pairs plus the skip pairs a_b."""

import pytest

from services.registry.enterprises.search import bigrams
from services.registry.enterprises.search import letters as _letters


def _expected(name: str) -> list[str]:
    s = _letters(name)
    skips = {f"{s[i]}_{s[i + 2]}" for i in range(len(s) - 2)}
    return sorted(set(bigrams(name)) | skips)


@pytest.mark.parametrize(
    "name",
    [
        "华东精密仪器有限公司",
        "Zhe Jiang  ABC 科技",
        "华",
        "",
        " ",
        "华东",
        "华华华华",  # repeated pairs once
        "A\tB\nC\r\fD\vE",  # every ASCII space
        "华东\u3000精密",  # ideographic space
        "ÀÉ Σx",  # non-ASCII upper case
        "a_b",  # an underscore in the name itself
    ],
)
async def test_a_querys_pairs_are_the_pairs_the_database_indexes_for_the_same_name(db, name):
    assert await db.fetchval("SELECT registry.name_grams($1)", name) == _expected(name)


@pytest.mark.xfail(
    strict=True,
    reason="known disagreement: Python's str.split()/lower() treat NBSP, U+2007 and U+202F as "
    "whitespace and lower 'İ' to 'i̇', the database keeps them (C.UTF-8 [[:space:]] and lower())",
)
@pytest.mark.parametrize("name", ["华东\u00a0精密", "华东\u202f精密", "İSTANBUL"])
async def test_names_where_python_and_the_database_read_differently(db, name):
    assert await db.fetchval("SELECT registry.name_grams($1)", name) == _expected(name)


async def test_a_null_name_has_no_grams(db):
    assert await db.fetchval("SELECT registry.name_grams(NULL)") == []

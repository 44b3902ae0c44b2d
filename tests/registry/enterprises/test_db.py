"""A name's grams: the query side (Python, `search.letters` and `bigrams`) and the name side
(`registry.name_grams`, declared in services/registry/enterprises/db.py, whose results the GIN
index holds) read a name alike: the database's spaces removed, lowered character by character;
pairs plus the skip pairs a_b."""

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


@pytest.mark.parametrize(
    "name",
    [
        "华东\u00a0精密",  # no-break space: not a space to the database
        "华东\u2007精密",  # figure space
        "华东\u202f精密",  # narrow no-break space
        "A\x1cB\x1fC\x85D",  # separators Python's split() would remove
        "İSTANBUL",  # lowered to a plain i, not i + combining dot
        "ΟΔΟΣ ΣΑΣ",  # a final capital sigma lowers to σ, not ς
    ],
)
async def test_names_python_reads_differently_from_str_lower_and_split(db, name):
    assert await db.fetchval("SELECT registry.name_grams($1)", name) == _expected(name)


async def test_every_character_is_read_alike(db):
    """Every code point (surrogates are no characters), in runs of 256: the database's grams of
    each run are the ones the query side computes for it."""
    chars = [chr(i) for i in range(1, 0x110000) if not 0xD800 <= i <= 0xDFFF]
    runs = ["".join(chars[i : i + 256]) for i in range(0, len(chars), 256)]
    rows = await db.fetch(
        "SELECT registry.name_grams(r) AS g FROM unnest($1::text[]) WITH ORDINALITY AS u(r, n) ORDER BY n",
        runs,
    )
    differ = [f"U+{ord(r[0]):04X}" for r, row in zip(runs, rows, strict=True) if row["g"] != _expected(r)]
    assert differ == []


async def test_a_null_name_has_no_grams(db):
    assert await db.fetchval("SELECT registry.name_grams(NULL)") == []

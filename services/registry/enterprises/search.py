"""The name search's algorithm: which character pairs (grams) a query is matched by, and how a
fuzzy match is decided. Pure functions of the query, no I/O: the repository turns their answers
into SQL over `registry.name_grams(name)` (the names' grams, GIN-indexed).

A name matches strictly when it starts with the query, or holds every useful pair of it. When no
name does, fuzzy matches count: for queries up to MAX_ONE_EDIT_QUERY characters the names within
one edit (a character mistyped, extra or missing), for longer ones the names sharing most pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from math import comb
from typing import Literal

from services.common.credit_code import check_credit_code

# Pairs nearly every company name has: useless for telling names apart.
STOP_BIGRAMS = frozenset(
    {"有限", "限公", "公司", "股份", "份有", "集团", "责任", "任公", "有限责", "浙江", "江省"}
)
MAX_FUZZY_COMBINATIONS = 40
# Queries up to this many characters match fuzzily within one edit (a handful of index probes per
# character); longer ones by the share of pairs, which is selective enough at that length.
MAX_ONE_EDIT_QUERY = 12
# Joins one set's grams into one text (a control character: the text rule refuses it in a query,
# so it never occurs in a gram).
GRAM_SEPARATOR = "\x1f"

# What `[[:space:]]` matches in the database (C.UTF-8 ctype), which `registry.name_grams` removes:
# fewer than Python's whitespace (not U+001C–U+001F, U+0085, U+00A0, U+2007, U+202F).
NAME_SPACES = (
    "\t\n\v\f\r \u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2008\u2009\u200a\u2028\u2029\u205f\u3000"
)
_DROP_SPACES = dict.fromkeys(map(ord, NAME_SPACES))
# The database lowers character by character (simple case mapping); Python's str.lower() applies
# the full mapping (İ → i + combining dot) and the final-sigma rule (Σ → ς).
_SIMPLE_LOWER = {"\u0130": "i"}


def letters(q: str) -> str:
    """The query as `registry.name_grams(name)` reads a name: the database's spaces removed, each
    character lowered as the database lowers it."""
    return "".join(_SIMPLE_LOWER.get(c) or c.lower() for c in q.translate(_DROP_SPACES))


def bigrams(q: str) -> list[str]:
    """The distinct character pairs of a query (the two-character grams of `registry.name_grams`)."""
    s = letters(q)
    if len(s) <= 1:
        return [s] if s else []
    return sorted({s[i : i + 2] for i in range(len(s) - 1)})


def fuzzy_need(k: int) -> int:
    """For queries longer than MAX_ONE_EDIT_QUERY: how many of the k pairs a fuzzy match must
    share — about two thirds, at least 2, never more than k − 2 (one mistyped character inside the
    query breaks two pairs: 精密机械 → 精蜜机械 loses 精密 and 密机)."""
    if k <= 2:
        return k
    return max(2, min((2 * k + 2) // 3, k - 2))


@lru_cache(maxsize=4096)  # a search page builds up to three statements from the same query
def one_edit_grams(q: str) -> tuple[tuple[str, ...], ...]:
    """The gram sets of the names within one edit of `q`, one set per kind of edit and position:
    the pairs the edit leaves intact plus the gram bridging it — the skip pair `a_b` around a
    mistyped character or a missing one, the pair `ab` where the query has a character too many.
    A name holding every gram of one set is a fuzzy match. Sets of fewer than two useful grams
    (they would match thousands of names) and sets implied by a smaller one are left out."""
    s = letters(q)
    n = len(s)
    pairs = [s[j : j + 2] for j in range(n - 1)]  # pair j covers characters j and j + 1

    def intact(*lost: int) -> list[str]:
        return [p for j, p in enumerate(pairs) if j not in lost]

    sets: set[frozenset[str]] = set()
    for i in range(n):  # character i mistyped or one too many
        kept = intact(i - 1, i)
        if 0 < i < n - 1:
            sets.add(frozenset([*kept, f"{s[i - 1]}_{s[i + 1]}"]))
            sets.add(frozenset([*kept, s[i - 1] + s[i + 1]]))
        else:
            sets.add(frozenset(kept))
    for i in range(1, n):  # a character missing between i − 1 and i
        sets.add(frozenset([*intact(i - 1), f"{s[i - 1]}_{s[i]}"]))
    useful = {frozenset(g for g in gs if g not in STOP_BIGRAMS) for gs in sets}
    useful = {gs for gs in useful if len(gs) >= 2}
    return tuple(sorted(tuple(sorted(gs)) for gs in useful if not any(o < gs for o in useful)))


@lru_cache(maxsize=4096)  # asked by every condition and rank of a search page's statements
def search_terms(q: str) -> tuple[str, tuple[str, ...], int]:
    """(prefix LIKE pattern, pairs used for matching, pairs a long fuzzy query must share)."""
    grams = bigrams(q)
    useful = tuple(g for g in grams if g not in STOP_BIGRAMS) or tuple(grams)
    return (
        q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",
        useful,
        fuzzy_need(len(useful)),
    )


@dataclass(frozen=True)
class Fuzzy:
    """How the fuzzy matches of a query are found, in a form the GIN index on name_grams answers
    without reading every row that shares one common stretch with the query:

    - `one_edit`: the names holding every gram of one of `sets` (none: no fuzzy match at all);
    - `all`: the names holding every one of `grams`;
    - `any_set`: the names holding every gram of one of `sets` (the combinations of `need` pairs);
    - `shared`: (pigeonhole) the names holding one of `sets[0]` — the first k − need + 1 pairs —
      that share at least `need` of `grams`.
    """

    kind: Literal["one_edit", "all", "any_set", "shared"]
    sets: tuple[tuple[str, ...], ...] = ()
    grams: tuple[str, ...] = ()
    need: int = 0


def fuzzy(q: str) -> Fuzzy:
    """The fuzzy match of `q`: within one edit for short queries; for long ones sharing `need` of
    the k pairs — all of them when need = k, an OR of "contains these `need` pairs" over the
    combinations when there are few, else the pigeonhole form."""
    if len(letters(q)) <= MAX_ONE_EDIT_QUERY:
        return Fuzzy("one_edit", sets=one_edit_grams(q))
    _, grams, need = search_terms(q)
    k = len(grams)
    if need >= k:
        return Fuzzy("all", grams=grams)
    if comb(k, need) <= MAX_FUZZY_COMBINATIONS:
        return Fuzzy("any_set", sets=tuple(combinations(grams, need)))
    return Fuzzy("shared", sets=(grams[: k - need + 1],), grams=grams, need=need)


def is_name_search(q: str | None) -> bool:
    """A search by name (not an exact credit code)."""
    return q is not None and not check_credit_code(q).valid

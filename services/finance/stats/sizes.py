"""Which records the statistics count as small/micro (小微), as SQL: the record's `size_class`
(derived when it is stored: the registry's size for the record's year, else the bank's) is one of
the sizes. One home for the loans' rule (new small/micro loans, their balances, the 5000亿
target's balance and gross issuance, in the scans and in the month totals' triggers alike);
申贷获得率 counts the sizes its definition names (`rules.DEFINITIONS["approval_rate"]["sizes"]`)."""

from __future__ import annotations

SMALL_MICRO = ("small", "micro")


def size_in(column: str, sizes: tuple[str, ...] = SMALL_MICRO) -> str:
    """`column IN ('small', 'micro')`: NULL (no size known) for a NULL size, so only a CASE WHEN or
    WHERE, never a NOT, may take it as false."""
    assert all(s.isalpha() for s in sizes), sizes  # literals: letters only, nothing to quote
    return f"{column} IN ({', '.join(repr(s) for s in sizes)})"

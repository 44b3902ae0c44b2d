"""The one builder of dynamic SQL text sent straight to asyncpg: conditions and their arguments.

Repositories that assemble a statement from optional parts (the enterprise list and search, the
financing statistics) collect them here: every value becomes a positional argument (`$1`, `$2`, …
numbered in order of use), never text, so a statement's text depends only on which parts it has —
a handful of distinct texts, each prepared once per connection by asyncpg's statement cache.
"""

from __future__ import annotations

from typing import Any


class Sql:
    """WHERE conditions (joined with AND) and the positional arguments of one statement."""

    __slots__ = ("args", "conditions")

    def __init__(self, conditions: list[str] | None = None, args: list[Any] | None = None) -> None:
        self.conditions: list[str] = conditions if conditions is not None else []
        self.args: list[Any] = args if args is not None else []

    def arg(self, value: Any, pg_type: str | None = None) -> str:
        """The placeholder of a new argument holding `value`, cast to `pg_type` when given."""
        self.args.append(value)
        return f"${len(self.args)}::{pg_type}" if pg_type else f"${len(self.args)}"

    def where(self, condition: str) -> None:
        self.conditions.append(condition)

    def copy(self) -> Sql:
        """The same conditions and arguments, to extend without touching this one."""
        return Sql(list(self.conditions), list(self.args))

    @property
    def where_sql(self) -> str:
        return " AND ".join(self.conditions) if self.conditions else "TRUE"

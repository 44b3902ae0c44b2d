"""A repository's SQLAlchemy select run on a `Reader` (the read pool: on the replica when
`db.read_url` is set, docs/deploy.md "Read replicas") instead of the request's ORM session.

The statement is the repository's own — the same scope rule, filters, keyset order and limit —
compiled once here as `compiled` compiles an export's (services/common/export.py), and its rows
come back as objects read by attribute, like the ORM instances the routes read before: `r.id`,
`Out.model_validate(r)` (from attributes). Each value is what the ORM would have given: the
type's own result processing is applied, and a JSON column (which a plain asyncpg connection
returns as text) is decoded.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import JSON, Numeric, Select, text

from services.common.export import _DIALECT
from services.common.readpool import Reader

# The OID the asyncpg dialect's numeric processor is asked about: the columns are `numeric`.
_NUMERIC_OID = 1700


def _processor(type_: Any) -> Any:
    if isinstance(type_, JSON):
        return lambda v: orjson.loads(v) if isinstance(v, str | bytes) else v
    return type_._cached_result_processor(_DIALECT, _NUMERIC_OID if isinstance(type_, Numeric) else None)


def _arguments(c: Any) -> list[Any]:
    """A compiled statement's positional arguments, each through its type's bind processing."""
    processors = c._bind_processors
    args = []
    for name in c.positiontup or ():
        value = c.params[name]
        process = processors.get(name)
        args.append(process(value) if process is not None else value)
    return args


async def fetch_objects(reads: Reader, stmt: Select) -> list[SimpleNamespace]:
    """`stmt`'s rows, read on `reads`, as objects with one attribute per selected column (an
    entity's columns for `select(Model)`)."""
    c = stmt.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
    args = _arguments(c)
    columns = [(entry.keyname, _processor(entry.type)) for entry in c._result_columns]
    out = []
    for record in await reads.fetch(c.string, *args):
        out.append(
            SimpleNamespace(
                **{
                    key: value if process is None or value is None else process(value)
                    for (key, process), value in zip(columns, record.values(), strict=True)
                }
            )
        )
    return out


def compiled_text(sql: str, params: dict[str, Any]) -> tuple[str, list[Any]]:
    """A `:name` SQL text and its parameters (as a session's `text()` takes them) as asyncpg's
    `$n` text and positional arguments, to run on a reader's connection."""
    c = text(sql).bindparams(**params).compile(dialect=_DIALECT)
    return c.string, _arguments(c)

"""All SQL on enterprises: the ORM writes (every read of them goes through `scoped()`, region
prefix for officials), the batch upsert, and the hot reads — the list, the name search, the detail
and the export — sent as one parameterised SQL text each to the read pool.

The hot reads skip the ORM: each statement is assembled from a few fixed fragments (a handful of
distinct texts, each prepared once per connection of the read pool) and rows come straight from
asyncpg in the shape of `EnterpriseOut` (serialised by `schemas.item`). Scope, filters, search
ranking and keyset order are defined here only; the list, the detail, the export, the create and
patch answers and `bench/registry.py` all use these statements. The name search's algorithm (which
grams, which fuzzy form) is `search.py`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import Select, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.credit_code import check_credit_code
from services.common.db import raw_connection
from services.common.pagination import PageParams, decode_cursor, encode_cursor
from services.common.readpool import Reader
from services.common.scope import RegionScope
from services.common.sql import Sql
from services.registry.enterprises import search
from services.registry.enterprises.models import Enterprise
from services.registry.enterprises.schemas import Filters
from services.registry.titles.db import ACTIVE_TITLE, titles_of

E = Enterprise.__table__
FIELDS = (
    "name",
    "region_code",
    "industry_code",
    "established_on",
    "registered_capital",
    "address",
    "legal_representative",
)


def scoped(stmt: Select, principal: Principal) -> Select:
    scope = RegionScope.of(principal)
    return stmt.where(scope.clause(Enterprise.region_code)) if scope.restricted else stmt


async def get(session: AsyncSession, principal: Principal, code: str) -> Any | None:
    """The detail record inside the request's unit of work (it sees the request's own writes);
    the same statement as the read path's (`one_statement`)."""
    conn = await raw_connection(session)
    text_, args = one_statement(principal, code)
    return await conn.fetchrow(text_, *args)


async def regions_of(conn: Any, codes: Sequence[str]) -> dict[str, str]:
    """The region codes of these enterprises, by credit code (the change feed's scope: the same
    column `scoped` limits); an unknown code is absent."""
    rows = await conn.fetch(
        "SELECT credit_code, region_code FROM registry.enterprises WHERE credit_code = ANY($1::text[])",
        list(codes),
    )
    return {r["credit_code"]: r["region_code"] for r in rows}


async def exists_visible(session: AsyncSession, principal: Principal, code: str) -> bool:
    stmt = scoped(select(literal(1)).select_from(E).where(Enterprise.credit_code == code), principal)
    return (await session.execute(stmt)).first() is not None


async def lock_visible(session: AsyncSession, principal: Principal, code: str) -> Enterprise | None:
    stmt = scoped(select(Enterprise).where(Enterprise.credit_code == code), principal).with_for_update()
    return (await session.execute(stmt)).scalars().first()


async def exists_any(session: AsyncSession, code: str) -> bool:
    return (
        await session.execute(select(literal(1)).where(Enterprise.credit_code == code))
    ).first() is not None


async def insert(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert; False when the credit code exists already."""
    stmt = pg_insert(E).values(**values).on_conflict_do_nothing(index_elements=["credit_code"])
    result = await session.execute(stmt.returning(E.c.credit_code))
    return result.first() is not None


async def update_fields(session: AsyncSession, code: str, values: dict[str, Any]) -> None:
    await session.execute(update(E).where(E.c.credit_code == code).values(**values, updated_at=func.now()))


# The batch write, never read-then-decide-then-write: the insert decides `created` (the primary
# key), the rows already registered are locked before they are compared, and the update decides
# `updated` within the caller's region. Concurrent batches posting the same credit codes see one
# `created` per code, and a record never moves out of the region it is registered in. Rows go in
# credit-code order so that concurrent batches wait for each other instead of deadlocking.
_BATCH_TYPES = {
    "credit_code": "text",
    "name": "text",
    "region_code": "text",
    "industry_code": "text",
    "established_on": "date",
    "registered_capital": "numeric",
    "address": "text",
    "legal_representative": "text",
}
_BATCH_COLUMNS = ", ".join(_BATCH_TYPES)
_UNNEST = ", ".join(f"${i}::{t}[]" for i, t in enumerate(_BATCH_TYPES.values(), start=1))
_N = len(_BATCH_TYPES)

_INSERT_NEW = f"""
INSERT INTO registry.enterprises AS t ({_BATCH_COLUMNS}, rule_set_version)
SELECT i.*, ${_N + 1} FROM unnest({_UNNEST}) AS i({_BATCH_COLUMNS})
ORDER BY i.credit_code
ON CONFLICT (credit_code) DO NOTHING
RETURNING t.credit_code
"""

_LOCK = f"""
SELECT credit_code, {", ".join(FIELDS)} FROM registry.enterprises
WHERE credit_code = ANY($1::text[]) ORDER BY credit_code FOR UPDATE
"""


def _update_changed(scope: str) -> str:
    fields = ", ".join(f"t.{f}" for f in FIELDS)
    new = ", ".join(f"i.{f}" for f in FIELDS)
    return f"""
    UPDATE registry.enterprises AS t
       SET {", ".join(f"{f} = i.{f}" for f in FIELDS)}, rule_set_version = ${_N + 1}, updated_at = now()
      FROM unnest({_UNNEST}) AS i({_BATCH_COLUMNS})
     WHERE t.credit_code = i.credit_code{scope} AND ({fields}) IS DISTINCT FROM ({new})
    RETURNING t.credit_code
    """


def _columns(rows: list[dict[str, Any]]) -> list[list[Any]]:
    rows = sorted(rows, key=lambda r: r["credit_code"])
    return [[r.get(c) for r in rows] for c in _BATCH_TYPES]


async def insert_new(session: AsyncSession, rows: list[dict[str, Any]], rule_set_version: str) -> set[str]:
    """Insert the rows whose credit code is not registered; return the codes this statement
    created. The primary key decides: of concurrent inserts of one code exactly one creates it,
    the others wait for it to commit and skip it."""
    if not rows:
        return set()
    conn = await raw_connection(session)
    return {r[0] for r in await conn.fetch(_INSERT_NEW, *_columns(rows), rule_set_version)}


async def lock_many(session: AsyncSession, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The registered facts of these enterprises as last committed, locked until the unit of work
    ends (a concurrent batch waits here, then sees this one's result)."""
    if not codes:
        return {}
    conn = await raw_connection(session)
    rows = await conn.fetch(_LOCK, sorted(codes))
    return {r["credit_code"]: dict(r) for r in rows}


async def update_changed(
    session: AsyncSession, principal: Principal, rows: list[dict[str, Any]], rule_set_version: str
) -> set[str]:
    """Update the rows that differ from the stored record and lie in the caller's region; return
    the codes updated. A record registered outside the caller's region is never touched."""
    if not rows:
        return set()
    region = RegionScope.of(principal)
    args: list[Any] = [*_columns(rows), rule_set_version]

    def bind(value: str) -> str:
        args.append(value)
        return f"${len(args)}"

    scope = f" AND {region.where('t.region_code', bind)}" if region.restricted else ""
    conn = await raw_connection(session)
    return {r[0] for r in await conn.fetch(_update_changed(scope), *args)}


# ==== the hot reads ===============================================================================

# A list item as `EnterpriseOut` has it, keys in its order: computed in SQL where that is cheaper
# than in Python (city code, money as a 2-decimal string); region_name is filled in from the
# reference data (the placeholder keeps the key order); titles are added per page row.
ITEM = (
    "e.credit_code", "e.name", "e.region_code", "NULL::text AS region_name",
    "substr(e.region_code, 1, 4) || '00' AS city_code", "e.industry_code", "e.industry_section",
    "e.size_class", "e.size_year", "e.scale_status", "e.scale_year", "e.tier", "e.tier_year",
)  # fmt: skip
DETAIL = (
    "e.established_on", "e.registered_capital::text AS registered_capital", "e.address",
    "e.legal_representative", "e.rule_set_version", "e.created_at", "e.updated_at",
)  # fmt: skip
ITEM_COLUMNS, DETAIL_COLUMNS = ", ".join(ITEM), ", ".join(DETAIL)


def _outer(columns: Sequence[str], alias: str) -> str:
    """The same columns read back by name from a subquery."""
    return ", ".join(f"{alias}.{c.rsplit(' AS ', 1)[-1].removeprefix('e.')}" for c in columns)


# ---- filters and scope --------------------------------------------------------------------


def add_filters(sql: Sql, principal: Principal, f: Filters) -> None:
    """The caller's scope and the filters. An official's region filter must lie inside their
    region (403); without one they get their whole region. 330000 and 330100 mean 33 and 3301."""
    scope = RegionScope.of(principal).narrow(f.region)
    if scope.restricted:
        sql.where(scope.where("e.region_code", lambda v: sql.arg(v, "text"), city_index=True))
    if f.industry:
        if f.industry.isalpha():
            sql.where(f"e.industry_section = {sql.arg(f.industry.upper(), 'text')}")
        else:
            sql.where(f"e.industry_code LIKE {sql.arg(f.industry + '%', 'text')}")
    if f.size:
        sql.where(f"e.size_class = {sql.arg(f.size, 'text')}")
    if f.tier:
        sql.where(f"e.tier = {sql.arg(f.tier, 'text')}")
    if f.scale:
        sql.where(f"e.scale_status = {sql.arg(f.scale, 'text')}")
    if f.title:
        sql.where(
            "EXISTS (SELECT 1 FROM registry.titles t WHERE t.credit_code = e.credit_code "
            f"AND t.kind = {sql.arg(f.title, 'text')} AND {ACTIVE_TITLE})"
        )


# ---- name search (the algorithm: search.py) -----------------------------------------------


def _fuzzy_match(sql: Sql, q: str) -> str:
    """The fuzzy matches of `q` (`search.fuzzy` decides the form) as one condition."""
    plan = search.fuzzy(q)
    if plan.kind == "one_edit":
        if not plan.sets:
            return "FALSE"
        # The sets as one array parameter, probed one by one: planning does not cost a dozen OR
        # branches on every search. The candidates are read back by row address (a TID scan, one
        # heap page each), not looked up again by credit code (a B-tree descent each): the
        # addresses come from the same statement's snapshot, so they are the rows it sees.
        arms = sql.arg([search.GRAM_SEPARATOR.join(gs) for gs in plan.sets], "text[]")
        return (
            "e.ctid = ANY(ARRAY(SELECT f.ctid FROM unnest("
            f"{arms}) AS arm(grams), LATERAL (SELECT n.ctid FROM registry.enterprises n "
            f"WHERE n.name_grams @> string_to_array(arm.grams, E'\\x1f')) f))"
        )
    if plan.kind == "all":
        return f"e.name_grams @> {sql.arg(plan.grams, 'text[]')}"
    if plan.kind == "any_set":
        ors = [f"e.name_grams @> {sql.arg(list(c), 'text[]')}" for c in plan.sets]
        return "(" + " OR ".join(ors) + ")"
    return (
        f"(e.name_grams && {sql.arg(plan.sets[0], 'text[]')} AND {_shared(sql, plan.grams)} >= {plan.need})"
    )


def _shared(sql: Sql, grams: Sequence[str]) -> str:
    """How many of `grams` a row's name has: a sum of containment tests, cheaper per row than
    intersecting the arrays in a subquery (docs/registry.md#performance-benchregistrypy)."""
    return "(" + " + ".join(f"(e.name_grams @> {sql.arg([g], 'text[]')})::int" for g in grams) + ")"


SearchMode = Literal["prefix", "contains", "strict", "fuzzy"]


def add_search(sql: Sql, q: str, mode: SearchMode) -> None:
    """The match condition: the exact credit code; else the names starting with `q` (`prefix`),
    the other names holding every pair of `q` (`contains`), both (`strict`), or the names within
    one edit of `q` (`fuzzy`; for long queries, sharing most pairs)."""
    code = check_credit_code(q)
    if code.valid:
        sql.where(f"e.credit_code = {sql.arg(code.normalized, 'text')}")
        return
    pattern, grams, _ = search.search_terms(q)
    if mode == "fuzzy":
        sql.where(_fuzzy_match(sql, q))
    elif mode == "prefix":
        sql.where(f"e.name LIKE {sql.arg(pattern, 'text')}")
    elif mode == "contains":
        sql.where(
            f"e.name_grams @> {sql.arg(grams, 'text[]')} AND NOT e.name LIKE {sql.arg(pattern, 'text')}"
        )
    else:
        sql.where(f"(e.name LIKE {sql.arg(pattern, 'text')} OR e.name_grams @> {sql.arg(grams, 'text[]')})")


def match_rank(sql: Sql, q: str) -> str:
    """The rank of a match: 0 exact credit code or exact name, 1 name prefix, 2 every pair
    present, then fuzzy matches closest first: 3 + the number of the query's pairs missing."""
    if check_credit_code(q).valid:
        return "0"
    pattern, grams, _ = search.search_terms(q)
    return (
        f"CASE WHEN e.name = {sql.arg(q.strip(), 'text')} THEN 0 "
        f"WHEN e.name LIKE {sql.arg(pattern, 'text')} THEN 1 "
        f"WHEN e.name_grams @> {sql.arg(grams, 'text[]')} THEN 2 "
        f"ELSE {3 + len(grams)} - {_shared(sql, grams)} END"
    )


# ---- statements ---------------------------------------------------------------------------


# What a list cursor holds: the last credit code; for a search, match rank, name and credit code.
CODE_CURSOR, SEARCH_CURSOR = (str,), (int, str, str)


def page_statement(
    principal: Principal, f: Filters, page: PageParams, mode: SearchMode = "strict"
) -> tuple[str, list]:
    """One page (limit + 1 rows, to know whether another follows) in keyset order: credit code;
    for a search, match rank, then name (in byte order, the order of the name index), then credit
    code. Titles are read for the page's rows only."""
    sql = Sql()
    add_filters(sql, principal, f)
    if f.search is None:
        if page.cursor:
            (after,) = decode_cursor(page, CODE_CURSOR)
            sql.where(f"e.credit_code > {sql.arg(after, 'text')}")
        limit = sql.arg(page.limit + 1, "int")
        text = (
            f"SELECT {ITEM_COLUMNS}, {titles_of('e')}, {DETAIL_COLUMNS} FROM registry.enterprises e "
            f"WHERE {sql.where_sql} ORDER BY e.credit_code LIMIT {limit}"
        )
        return text, sql.args
    add_search(sql, f.search, mode)
    rank = match_rank(sql, f.search)
    cursor = decode_cursor(page, SEARCH_CURSOR) if page.cursor else None
    if mode == "prefix":
        # Names starting with q, read in the name index's order: a page costs its own rows even
        # when a tenth of all names start with q (杭州). The exact name sorts first, so rank
        # order (0 exact, 1 prefix) is name order here.
        if cursor:
            name, code = sql.arg(cursor[1], "text"), sql.arg(cursor[2], "text")
            # The first term starts the index scan at the cursor (an OR alone is only a filter).
            sql.where(f"e.name ~>=~ {name} AND (e.name ~>~ {name} OR e.credit_code > {code})")
        limit = sql.arg(page.limit + 1, "int")
        text = (
            f"SELECT {ITEM_COLUMNS}, {titles_of('e')}, {DETAIL_COLUMNS}, {rank} AS match_rank "
            f"FROM registry.enterprises e WHERE {sql.where_sql} "
            f"ORDER BY e.name USING ~<~, e.credit_code LIMIT {limit}"
        )
        return text, sql.args
    after = ""
    if cursor:
        r, name, code = (sql.arg(cursor[0], "int"), sql.arg(cursor[1], "text"), sql.arg(cursor[2], "text"))
        after = (
            f"WHERE m.match_rank > {r} OR (m.match_rank = {r} AND "
            f"(m.name ~>~ {name} OR (m.name = {name} AND m.credit_code > {code})))"
        )
    limit = sql.arg(page.limit + 1, "int")
    # The page (keyset on rank, name and code) first, then the page rows' titles: a search's
    # matches are ranked and cut in one pass over the rows it reads anyway, and titles are read
    # for 50 of them.
    order = "match_rank, {0}.name USING ~<~, {0}.credit_code"
    text = (
        f"SELECT {_outer(ITEM, 'p')}, {titles_of('p')}, {_outer(DETAIL, 'p')}, p.match_rank FROM ("
        f"SELECT * FROM (SELECT {ITEM_COLUMNS}, {DETAIL_COLUMNS}, e.active_titles, e.titles_until, "
        f"{rank} AS match_rank "
        f"FROM registry.enterprises e WHERE {sql.where_sql}) m {after} "
        f"ORDER BY m.{order.format('m')} LIMIT {limit}) p ORDER BY p.{order.format('p')}"
    )
    return text, sql.args


def one_statement(principal: Principal, code: str) -> tuple[str, list]:
    """One enterprise by credit code, within the caller's region."""
    sql = Sql()
    add_filters(sql, principal, Filters())
    sql.where(f"e.credit_code = {sql.arg(code, 'text')}")
    return (
        f"SELECT {ITEM_COLUMNS}, {titles_of('e')}, {DETAIL_COLUMNS} FROM registry.enterprises e "
        f"WHERE {sql.where_sql}",
        sql.args,
    )


def exists_statement(principal: Principal, f: Filters) -> tuple[str, list]:
    """Whether any strict match exists (a search falls back to fuzzy only when none does)."""
    sql = Sql()
    add_filters(sql, principal, f)
    add_search(sql, f.search or "", "strict")
    return f"SELECT EXISTS (SELECT 1 FROM registry.enterprises e WHERE {sql.where_sql})", sql.args


def export_statement(principal: Principal, f: Filters, fuzzy: bool = False) -> tuple[str, list]:
    """Every matching row in credit-code order, with its active titles."""
    sql = Sql()
    add_filters(sql, principal, f)
    if f.search is not None:
        add_search(sql, f.search, "fuzzy" if fuzzy else "strict")
    return (
        f"SELECT {ITEM_COLUMNS}, {titles_of('e')}, {DETAIL_COLUMNS} FROM registry.enterprises e "
        f"WHERE {sql.where_sql} ORDER BY e.credit_code",
        sql.args,
    )


# ---- running them -------------------------------------------------------------------------
# Every statement runs on the read pool within the caller's share of it: `reads` is the request's
# `Reader` (services/common/readpool.py).


async def _strict_exists(reads: Reader, principal: Principal, f: Filters) -> bool:
    text_, args = exists_statement(principal, f)
    return (await reads.fetch(text_, *args))[0][0]


def _first(rows: int) -> PageParams:
    """The first page of `rows` rows (the limit + 1 convention: limit rows - 1)."""
    return PageParams.model_construct(limit=rows - 1, cursor=None)


async def _page(
    reads: Reader, principal: Principal, f: Filters, page: PageParams, mode: SearchMode
) -> list[Any]:
    text_, args = page_statement(principal, f, page, mode)
    return await reads.fetch(text_, *args)


async def _search_rows(reads: Reader, principal: Principal, f: Filters, page: PageParams) -> list[Any]:
    """A name search's page: the strict matches — name prefixes (rank 0–1) read from the name
    index, then the other names holding every pair (rank 2) — and only when there are none at
    all, the fuzzy ones (rank 3+). The cursor's rank says which of these a later page continues,
    so cursors stay valid across pages."""
    after = decode_cursor(page, SEARCH_CURSOR) if page.cursor else None
    rank_after = after[0] if after else -1
    rows: list[Any] = []
    if rank_after <= 1:
        rows = await _page(reads, principal, f, page, "prefix")
        if len(rows) > page.limit:
            return rows
    if rank_after <= 2:
        rest = page if rank_after == 2 else _first(page.limit + 1 - len(rows))
        rows += await _page(reads, principal, f, rest, "contains")
        if rows or after:
            return rows
    return await _page(reads, principal, f, page, "fuzzy")


async def list_page(
    reads: Reader, principal: Principal, f: Filters, page: PageParams
) -> tuple[list[Any], str | None]:
    """One page of the list (or of a search) and the next page's cursor."""
    if search.is_name_search(f.search):
        rows = await _search_rows(reads, principal, f, page)
    else:
        rows = await _page(reads, principal, f, page, "strict")
    cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        last = rows[-1]
        cursor = encode_cursor(
            page,
            [last["match_rank"], last["name"], last["credit_code"]] if f.search else [last["credit_code"]],
        )
    return rows, cursor


async def one_row(reads: Reader, principal: Principal, code: str) -> Any | None:
    """The detail record, or None when it does not exist or lies outside the caller's region."""
    text_, args = one_statement(principal, code)
    rows = await reads.fetch(text_, *args)
    return rows[0] if rows else None


async def export_plan(reads: Reader, principal: Principal, f: Filters) -> tuple[str, list]:
    """The export's statement (strict matches, else fuzzy), built before the response starts so
    a region outside the caller's is still a 403 problem. Whether strict matches exist is asked
    on the read pool, like the list; the rows are read by the kit's
    `stream_rows` (services/common/export.py)."""
    fuzzy = search.is_name_search(f.search) and not await _strict_exists(reads, principal, f)
    return export_statement(principal, f, fuzzy)

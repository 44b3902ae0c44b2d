"""The enterprise list, name search and export: one parameterised SQL text per request.

This is the registry's hottest read (officials' list screens and search box), so it skips the ORM:
the statement is assembled from a few fixed fragments (a handful of distinct texts, each prepared
once per connection of the read pool), rows come straight from asyncpg and the page is serialised
once with orjson in the shape of `EnterpriseOut`. Scope, filters, search ranking and keyset order
are defined here only; the list, the export and `bench/registry.py` all use these statements.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from functools import cache, lru_cache
from itertools import combinations
from math import comb
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field, StringConstraints

from services.common.auth import Principal
from services.common.credit_code import check_credit_code
from services.common.errors import NotFound
from services.common.pagination import PageParams, decode_cursor, encode_cursor
from services.common.readpool import caller_key, fetch
from services.common.scope import RegionScope
from services.common.types import RegionPrefix, text
from services.registry.enterprises.schemas import ScaleStatus, SizeClass, Tier
from services.registry.reference.data import regions
from services.registry.scope import DIRECTORY_ONLY, HIDDEN_FROM_DIRECTORY_READERS
from services.registry.titles.db import ACTIVE_TITLE, titles_of

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


class Filters(BaseModel):
    """The list's filters (also the export's): the query-string model of both routes
    (validated in one pydantic call) and the input of the statements below."""

    region: RegionPrefix | None = Field(
        None, description="Region code prefix: 3301 = Hangzhou, 330106 = 西湖区"
    )
    industry: text(StringConstraints(pattern=r"^([A-Ta-t]|\d{2,4})$")) | None = Field(
        None,
        description="Section letter (C), division (34), group (344) or class (3441) of GB/T 4754-2017",
    )
    size: SizeClass | None = None
    tier: Tier | None = None
    title: text(StringConstraints(pattern=r"^[a-z_]{2,40}$")) | None = Field(
        None, description="An active title kind, e.g. tech_sme"
    )
    scale: ScaleStatus | None = None
    q: text(StringConstraints(min_length=1, max_length=100)) | None = Field(
        None,
        description="Name search, best first: exact name, name prefix, every character pair present; "
        "when there are none of those, fuzzy matches (one character mistyped, extra or missing), "
        "closest first. Or an exact credit code",
    )

    @property
    def search(self) -> str | None:
        return self.q.strip() if self.q and self.q.strip() else None


class Sql:
    """WHERE conditions with their positional arguments ($1, $2, … in order of use)."""

    def __init__(self) -> None:
        self.args: list[Any] = []
        self.conditions: list[str] = []

    def arg(self, value: Any, pg_type: str) -> str:
        self.args.append(value)
        return f"${len(self.args)}::{pg_type}"

    def where(self, condition: str) -> None:
        self.conditions.append(condition)

    @property
    def where_sql(self) -> str:
        return " AND ".join(self.conditions) if self.conditions else "TRUE"


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


# ---- name search --------------------------------------------------------------------------

# Pairs nearly every company name has: useless for telling names apart.
STOP_BIGRAMS = frozenset(
    {"有限", "限公", "公司", "股份", "份有", "集团", "责任", "任公", "有限责", "浙江", "江省"}
)
MAX_FUZZY_COMBINATIONS = 40
# Queries up to this many characters match fuzzily within one edit (a handful of index probes per
# character); longer ones by the share of pairs, which is selective enough at that length.
MAX_ONE_EDIT_QUERY = 12
GRAM_SEPARATOR = "\x1f"


def _letters(q: str) -> str:
    """The query as `registry.name_grams(name)` reads a name: lower case, whitespace removed."""
    return "".join(q.lower().split())


def bigrams(q: str) -> list[str]:
    """The distinct character pairs of a query (the two-character grams of `registry.name_grams`)."""
    s = _letters(q)
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
    s = _letters(q)
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


def _fuzzy_match(sql: Sql, q: str) -> str:
    """The fuzzy matches of `q`, in a form the GIN index on name_grams answers without reading
    every row that shares one common stretch with the query: names within one edit (holding every
    gram of one of the sets) for short queries; for long ones the names sharing `need` of the k
    pairs — an OR of "contains these `need` pairs" over the combinations when there are few, else
    (pigeonhole) "shares one of the first k − need + 1 pairs" narrowed by the exact count."""
    if len(_letters(q)) <= MAX_ONE_EDIT_QUERY:
        sets = one_edit_grams(q)
        if not sets:
            return "FALSE"
        # The sets as one array parameter, probed one by one: planning does not cost a dozen OR
        # branches on every search (fuzzy statement 1.5 → 1.25 ms sequentially on 1M names).
        # \x1f is whitespace to `_letters`, so it never occurs in a gram.
        arms = sql.arg([GRAM_SEPARATOR.join(gs) for gs in sets], "text[]")
        return (
            "e.credit_code = ANY(ARRAY(SELECT f.credit_code FROM unnest("
            f"{arms}) AS arm(grams), LATERAL (SELECT n.credit_code FROM registry.enterprises n "
            f"WHERE n.name_grams @> string_to_array(arm.grams, E'\\x1f')) f))"
        )
    _, grams, need = search_terms(q)
    k = len(grams)
    if need >= k:
        return f"e.name_grams @> {sql.arg(grams, 'text[]')}"
    if comb(k, need) <= MAX_FUZZY_COMBINATIONS:
        ors = [f"e.name_grams @> {sql.arg(list(c), 'text[]')}" for c in combinations(grams, need)]
        return "(" + " OR ".join(ors) + ")"
    return f"(e.name_grams && {sql.arg(grams[: k - need + 1], 'text[]')} AND {_shared(sql, grams)} >= {need})"


def _shared(sql: Sql, grams: Sequence[str]) -> str:
    """How many of `grams` a row's name has (a sum of containment tests: a quarter cheaper per
    row than intersecting the arrays in a subquery, measured over a thousand candidates)."""
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
    pattern, grams, _ = search_terms(q)
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
    pattern, grams, _ = search_terms(q)
    return (
        f"CASE WHEN e.name = {sql.arg(q.strip(), 'text')} THEN 0 "
        f"WHEN e.name LIKE {sql.arg(pattern, 'text')} THEN 1 "
        f"WHEN e.name_grams @> {sql.arg(grams, 'text[]')} THEN 2 "
        f"ELSE {3 + len(grams)} - {_shared(sql, grams)} END"
    )


def is_name_search(f: Filters) -> bool:
    return f.search is not None and not check_credit_code(f.search).valid


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
# Every statement runs on the read pool within the caller's share of it (services/common/readpool.py).


async def _fetch(app: Any, statement: tuple[str, list], caller: str) -> list[Any]:
    return await fetch(app, statement[0], *statement[1], caller=caller)


async def _strict_exists(app: Any, principal: Principal, f: Filters) -> bool:
    return (await _fetch(app, exists_statement(principal, f), caller_key(principal)))[0][0]


def _first(rows: int) -> PageParams:
    """The first page of `rows` rows (the limit + 1 convention: limit rows - 1)."""
    return PageParams.model_construct(limit=rows - 1, cursor=None)


async def _search_rows(app: Any, principal: Principal, f: Filters, page: PageParams) -> list[Any]:
    """A name search's page: the strict matches — name prefixes (rank 0–1) read from the name
    index, then the other names holding every pair (rank 2) — and only when there are none at
    all, the fuzzy ones (rank 3+). The cursor's rank says which of these a later page continues,
    so cursors stay valid across pages."""
    caller = caller_key(principal)
    after = decode_cursor(page, SEARCH_CURSOR) if page.cursor else None
    rank_after = after[0] if after else -1
    rows: list[Any] = []
    if rank_after <= 1:
        rows = await _fetch(app, page_statement(principal, f, page, "prefix"), caller)
        if len(rows) > page.limit:
            return rows
    if rank_after <= 2:
        rest = page if rank_after == 2 else _first(page.limit + 1 - len(rows))
        rows += await _fetch(app, page_statement(principal, f, rest, "contains"), caller)
        if rows or after:
            return rows
    return await _fetch(app, page_statement(principal, f, page, "fuzzy"), caller)


async def list_page(
    app: Any, principal: Principal, f: Filters, page: PageParams
) -> tuple[list[Any], str | None]:
    if is_name_search(f):
        rows = await _search_rows(app, principal, f, page)
    else:
        rows = await _fetch(app, page_statement(principal, f, page), caller_key(principal))
    cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        last = rows[-1]
        cursor = encode_cursor(
            page,
            [last["match_rank"], last["name"], last["credit_code"]] if f.search else [last["credit_code"]],
        )
    return rows, cursor


async def one_json(app: Any, principal: Principal, code: str) -> bytes:
    """The detail record (the directory record for banks, guarantors and certifiers); 404 when
    it does not exist or lies outside the caller's region."""
    rows = await _fetch(app, one_statement(principal, code), caller_key(principal))
    if not rows:
        raise NotFound(what="enterprise", key=code)
    out = item(rows[0])
    if principal.kind in DIRECTORY_ONLY:
        out.update(dict.fromkeys(HIDDEN_FROM_DIRECTORY_READERS))
    return orjson.dumps(out, option=orjson.OPT_UTC_Z)


async def export_plan(app: Any, principal: Principal, f: Filters) -> tuple[str, list]:
    """The export's statement (strict matches, else fuzzy), built before the response starts so
    a region outside the caller's is still a 403 problem. Whether strict matches exist is asked
    on the read pool, like the list; the rows are read by `export_rows`."""
    fuzzy = is_name_search(f) and not await _strict_exists(app, principal, f)
    return export_statement(principal, f, fuzzy)


# Writing a file is Python per row (≈ 40 µs: decoding, cells, CSV), and a download filling a
# client's buffers — a stalled client's too: several MB before it stalls — would take the event
# loop from the lookups it serves. An export therefore works in slices of a few rows and pauses
# after each, in proportion: the exports running together take at most `loop_share` of the loop
# (each 1/n of it when n run), and a lookup waits for a slice at most, never for a download.
SLICE_ROWS = 10
MAX_PAUSE_S = 0.05  # a slice that waited on a slow client is not a slice of work
_exporting = 0  # exports streaming in this process


async def export_rows(
    conn: Any, statement: tuple[str, list], prefetch: int, loop_share: float = 1.0
) -> AsyncIterator[Any]:
    """The export's rows from a server-side cursor on `conn` (an export connection: never the
    read pool's), `prefetch` rows per round trip, paced to `loop_share` (see above). Closing the
    iterator ends its transaction."""
    global _exporting
    text, args = statement
    n = 0
    _exporting += 1
    try:
        async with conn.transaction(readonly=True):
            started = time.perf_counter()
            async for row in conn.cursor(text, *args, prefetch=prefetch):
                yield row
                n += 1
                if n % SLICE_ROWS == 0:
                    spent = time.perf_counter() - started
                    await asyncio.sleep(min(MAX_PAUSE_S, spent * max(0.0, _exporting / loop_share - 1)))
                    started = time.perf_counter()
    finally:
        _exporting -= 1


# ---- serialising --------------------------------------------------------------------------


@cache
def _region_names() -> dict[str, str]:
    return {code: r.name for code, r in regions().items()}


def item(row: Any) -> dict[str, Any]:
    """A row in the shape of `EnterpriseOut` (same keys, order and formats)."""
    return items([row])[0]


def items(rows: Sequence[Any]) -> list[dict[str, Any]]:
    if not rows:
        return []
    keys = tuple(k for k in rows[0].keys() if k != "match_rank")  # match_rank comes last
    names = _region_names()
    out = []
    for row in rows:
        d = dict(zip(keys, row, strict=False))  # a search row's match_rank (last) is left out
        d["region_name"] = names.get(d["region_code"])
        out.append(d)
    return out


def page_json(rows: Sequence[Any], cursor: str | None) -> bytes:
    return orjson.dumps({"items": items(rows), "next_cursor": cursor}, option=orjson.OPT_UTC_Z)

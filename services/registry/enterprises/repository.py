"""All SQL on enterprises; every read goes through `scoped()` (region prefix for officials)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from itertools import combinations
from math import comb
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.pagination import PageParams, keyset, page_of
from services.registry.enterprises.models import Enterprise
from services.registry.scope import region_like
from services.registry.titles.models import Title

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


def active_titles_clause(as_of: Any = None):
    as_of = as_of if as_of is not None else func.current_date()
    return and_(
        Title.status == "active",
        Title.valid_from <= as_of,
        or_(Title.valid_to.is_(None), Title.valid_to >= as_of),
    )


def titles_column():
    return func.array(
        select(Title.kind)
        .where(Title.credit_code == Enterprise.credit_code, active_titles_clause())
        .distinct()
        .order_by(Title.kind)
        .scalar_subquery()
    ).label("titles")


def scoped(stmt: Select, principal: Principal) -> Select:
    like = region_like(principal)
    return stmt if like is None else stmt.where(Enterprise.region_code.like(like))


def directory_select() -> Select:
    return select(*[c for c in E.c if c.name != "name_bigrams"], titles_column())


async def get(session: AsyncSession, principal: Principal, code: str) -> Any | None:
    stmt = scoped(directory_select().where(Enterprise.credit_code == code), principal)
    return (await session.execute(stmt)).mappings().first()


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


async def fetch_many(session: AsyncSession, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
    if not codes:
        return {}
    rows = await session.execute(
        select(E.c.credit_code, *[E.c[f] for f in FIELDS]).where(E.c.credit_code == func.any(list(codes)))
    )
    return {r.credit_code: dict(r._mapping) for r in rows}


async def upsert_many(session: AsyncSession, rows: list[dict[str, Any]], rule_set_version: str) -> None:
    """One multi-row INSERT … ON CONFLICT DO UPDATE (set-based)."""
    if not rows:
        return
    values = [{**r, "rule_set_version": rule_set_version} for r in rows]
    stmt = pg_insert(E).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["credit_code"],
        set_={
            **{f: stmt.excluded[f] for f in FIELDS},
            "rule_set_version": stmt.excluded.rule_set_version,
            "updated_at": func.now(),
        },
    )
    await session.execute(stmt)


# ---- listing and search -------------------------------------------------------------------

STOP_BIGRAMS = frozenset(
    {"有限", "限公", "公司", "股份", "份有", "集团", "责任", "任公", "有限责", "浙江", "江省"}
)


def bigrams(q: str) -> list[str]:
    s = "".join(q.lower().split())
    if len(s) <= 1:
        return [s] if s else []
    return sorted({s[i : i + 2] for i in range(len(s) - 1)})


def _industry_clause(industry: str):
    if industry.isalpha():
        return Enterprise.industry_section == industry.upper()
    return Enterprise.industry_code.like(industry + "%")


def region_clause(region: str):
    """Region prefix as the indexes answer it in credit-code order (migration 0008): equality on the
    county code or on the city part; other lengths as a LIKE (region codes have 6 digits)."""
    if len(region) == 6:
        return Enterprise.region_code == region
    if len(region) == 4:
        return func.substr(Enterprise.region_code, literal_column("1"), literal_column("4")) == region
    return Enterprise.region_code.like(region + "%")


def filtered(
    principal: Principal,
    *,
    region: str | None = None,
    industry: str | None = None,
    size: str | None = None,
    tier: str | None = None,
    title: str | None = None,
    scale: str | None = None,
    columns: Sequence[Any] | None = None,
) -> Select:
    stmt = scoped(select(*(columns or [E])), principal)
    if region:
        stmt = stmt.where(region_clause(region))
    if industry:
        stmt = stmt.where(_industry_clause(industry))
    if size:
        stmt = stmt.where(Enterprise.size_class == size)
    if tier:
        stmt = stmt.where(Enterprise.tier == tier)
    if scale:
        stmt = stmt.where(Enterprise.scale_status == scale)
    if title:
        stmt = stmt.where(
            exists().where(
                Title.credit_code == Enterprise.credit_code, Title.kind == title, active_titles_clause()
            )
        )
    return stmt


def search_terms(q: str) -> tuple[str, list[str], int]:
    """(prefix pattern, bigrams used for matching, bigrams a fuzzy match must share)."""
    grams = bigrams(q)
    useful = [g for g in grams if g not in STOP_BIGRAMS] or grams
    need = len(useful) if len(useful) <= 2 else max(2, (len(useful) * 2 + 2) // 3)
    return q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%", useful, need


MAX_FUZZY_COMBINATIONS = 40


def _fuzzy_match(grams: list[str], need: int, shared):
    """Rows sharing at least `need` of `grams`, in a form the GIN index on name_bigrams answers
    without reading every row that shares just one common pair: an OR of "contains these `need`
    pairs" over the combinations when there are few, else (pigeonhole) "shares one of the first
    k − need + 1 pairs" narrowed by the exact count."""
    k = len(grams)
    if need >= k:
        return Enterprise.name_bigrams.contains(cast(grams, ARRAY(Text)))
    if comb(k, need) <= MAX_FUZZY_COMBINATIONS:
        return or_(
            *[Enterprise.name_bigrams.contains(cast(list(c), ARRAY(Text))) for c in combinations(grams, need)]
        )
    return and_(Enterprise.name_bigrams.overlap(cast(grams[: k - need + 1], ARRAY(Text))), shared >= need)


def with_search(stmt: Select, q: str, credit_code: str | None, fuzzy: bool = True) -> tuple[Select, Any]:
    """Add the name/credit-code search; returns the statement and its rank expression
    (0 exact credit code or exact name, 1 name prefix, 2 all bigrams present, 3 fuzzy).
    `fuzzy=False` keeps only the strict matches (prefix, all bigrams present)."""
    if credit_code:
        rank = literal(0, Integer)
        return stmt.where(Enterprise.credit_code == credit_code), rank
    pattern, grams, need = search_terms(q)
    grams_arr = cast(grams, ARRAY(Text))
    shared = func.cardinality(
        func.array(
            select(func.unnest(Enterprise.name_bigrams))
            .intersect(select(func.unnest(grams_arr)))
            .scalar_subquery()
        )
    )
    rank = case(
        (Enterprise.name == q.strip(), 0),
        (Enterprise.name.like(pattern), 1),
        (Enterprise.name_bigrams.contains(grams_arr), 2),
        else_=3,
    )
    if not fuzzy:
        match = or_(Enterprise.name.like(pattern), Enterprise.name_bigrams.contains(grams_arr))
    else:
        match = _fuzzy_match(grams, need, shared)
    return stmt.where(match), rank


async def any_row(session: AsyncSession, stmt: Select) -> bool:
    return (
        await session.execute(select(literal(1)).select_from(stmt.limit(1).subquery()))
    ).first() is not None


def page_select(stmt: Select, params: PageParams, rank=None) -> Select:
    """The page: keyset order and limit first, then the active titles of just those rows."""
    if rank is None:
        order = [Enterprise.credit_code]
        return keyset(stmt.add_columns(titles_column()), order, params)
    ranked = stmt.add_columns(rank.label("match_rank")).subquery()
    page = keyset(select(ranked), [ranked.c.match_rank, ranked.c.credit_code], params).subquery()
    titles = func.array(
        select(Title.kind)
        .where(Title.credit_code == page.c.credit_code, active_titles_clause())
        .distinct()
        .order_by(Title.kind)
        .scalar_subquery()
    ).label("titles")
    return select(page, titles).order_by(page.c.match_rank, page.c.credit_code)


def page_key(rank=None):
    if rank is None:
        return lambda r: (r["credit_code"],)
    return lambda r: (r["match_rank"], r["credit_code"])


async def list_page(session: AsyncSession, stmt: Select, params: PageParams, rank=None):
    rows = (await session.execute(page_select(stmt, params, rank))).mappings().all()
    return page_of(list(rows), params, page_key(rank))


async def stream_rows(conn, stmt: Select):
    result = await conn.stream(stmt.add_columns(titles_column()).order_by(Enterprise.credit_code))
    async for partition in result.mappings().partitions(1000):
        for row in partition:
            yield row


def today() -> date:
    return date.today()


__all__ = ["text"]

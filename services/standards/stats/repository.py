"""Statistics SQL over standards tables and the registry views (docs/contracts.md). Every query
filters by the caller's region scope and groups by the requested level with GROUPING SETS, so totals are
distinct counts, not sums of group rows. They run on a read-pool connection (a replica's copy when
one is configured: docs/deploy.md "Read replicas")."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from services.common.code_region import code_region_sql
from services.common.reader_select import compiled_text
from services.common.scope import RegionScope, named
from services.standards.registry_views import DIRECTORY, SCALE_HISTORY, SIZES


def _group_expr(region_sql: str, group_by: str | None) -> str:
    if group_by == "city":
        return f"substr({region_sql}, 1, 4) || '00'"
    if group_by == "county":
        return region_sql
    return "NULL::text"


def _head(group_by: str | None) -> str:
    return "GROUPING(g) = 1 AS total, g" if group_by else "TRUE AS total, NULL::text AS g"


def _group(group_by: str | None) -> str:
    return "GROUP BY GROUPING SETS ((), (g))" if group_by else ""


async def _rows(conn: asyncpg.Connection, sql: str, params: dict[str, Any]) -> dict[str | None, tuple]:
    """{None: total, group: values}."""
    out: dict[str | None, tuple] = {}
    statement, args = compiled_text(sql, params)
    for row in await conn.fetch(statement, *args):
        key = None if row[0] else row[1]
        out[key] = tuple(row[2:])
    return out


async def intl_standards_led(
    conn: asyncpg.Connection, end: date, scope: RegionScope, group_by: str | None
) -> dict[str | None, tuple]:
    region = code_region_sql("dr.credit_code", "d.region_code")
    params: dict[str, Any] = {"end": end}
    sql = f"""
        SELECT {_head(group_by)}, count(DISTINCT s.id)
        FROM (
          SELECT s.id, {_group_expr(region, group_by)} AS g
          FROM standards.standards s
          JOIN standards.standard_drafters dr ON dr.standard_id = s.id AND dr.role = 'lead'
          LEFT JOIN {DIRECTORY} d ON d.credit_code = dr.credit_code
          WHERE s.level = 'international' AND (s.published_on IS NULL OR s.published_on <= :end)
            AND {scope.where(region, named(params, "prefix"))}
        ) s
        {_group(group_by)}
    """
    return await _rows(conn, sql, params)


async def zhejiang_made_standards(
    conn: asyncpg.Connection, end: date, scope: RegionScope, group_by: str | None
) -> dict[str | None, tuple]:
    # A stock (the programme's "到2022年…3000项"): every standard published by the year end,
    # withdrawn ones included (a withdrawal does not undo that it was made).
    base = "s.level = 'zhejiang_made' AND (s.published_on IS NULL OR s.published_on <= :end)"
    region = code_region_sql("dr.credit_code", "d.region_code")
    params: dict[str, Any] = {"end": end}
    sql = f"""
        SELECT {_head(group_by)}, count(DISTINCT s.id)
        FROM (
          SELECT s.id, {_group_expr(region, group_by)} AS g
          FROM standards.standards s
          JOIN standards.standard_drafters dr ON dr.standard_id = s.id AND dr.role = 'lead'
          LEFT JOIN {DIRECTORY} d ON d.credit_code = dr.credit_code
          WHERE {base} AND {scope.where(region, named(params, "prefix"))}
        ) s
        {_group(group_by)}
    """
    out = await _rows(conn, sql, params)
    if scope.whole_province:
        statement, args = compiled_text(
            f"SELECT count(*) FROM standards.standards s WHERE {base}", {"end": end}
        )
        total = await conn.fetchval(statement, *args)
        out[None] = (total,)
    return out


async def pinzibiao_smes(
    conn: asyncpg.Connection, end: date, year: int, scope: RegionScope, group_by: str | None
) -> dict[str | None, tuple]:
    region = code_region_sql("c.holder_credit_code", "d.region_code")
    params: dict[str, Any] = {"end": end, "year": year}
    sql = f"""
        WITH at_end AS (
          SELECT DISTINCT ON (h.certificate_id) h.certificate_id, h.status
          FROM standards.certificate_history h
          WHERE h.status_effective_on <= :end
          ORDER BY h.certificate_id, h.status_effective_on DESC, h.revision DESC
        )
        SELECT {_head(group_by)}, count(DISTINCT holder)
        FROM (
          SELECT c.holder_credit_code AS holder, {_group_expr(region, group_by)} AS g
          FROM standards.certificates c
          JOIN at_end ON at_end.certificate_id = c.id AND at_end.status = 'valid'
          JOIN LATERAL (
            SELECT es.size_class FROM {SIZES} es
            WHERE es.credit_code = c.holder_credit_code AND es.year <= :year
            ORDER BY es.year DESC LIMIT 1
          ) sz ON sz.size_class IN ('small', 'medium', 'micro')
          LEFT JOIN {DIRECTORY} d ON d.credit_code = c.holder_credit_code
          WHERE c.issued_on <= :end AND c.expires_on >= :end
            AND {scope.where(region, named(params, "prefix"))}
        ) x
        {_group(group_by)}
    """
    return await _rows(conn, sql, params)


async def adoption(
    conn: asyncpg.Connection, year: int, scope: RegionScope, group_by: str | None
) -> dict[str | None, tuple]:
    region = "d.region_code"
    params: dict[str, Any] = {"year": year}
    sql = f"""
        SELECT {_head(group_by)},
               COALESCE(sum(adopting), 0), COALESCE(sum(main), 0)
        FROM (
          SELECT a.adopting_count AS adopting, a.main_products AS main, {_group_expr(region, group_by)} AS g
          FROM standards.adoption_reports a
          JOIN {DIRECTORY} d ON d.credit_code = a.credit_code AND d.industry_section IN ('B', 'C', 'D')
          JOIN LATERAL (
            SELECT sh.status FROM {SCALE_HISTORY} sh
            WHERE sh.credit_code = a.credit_code AND sh.effective_year <= :year
            ORDER BY sh.effective_year DESC LIMIT 1
          ) ss ON ss.status = 'above'
          WHERE a.year = :year AND {scope.where(region, named(params, "prefix"))}
        ) x
        {_group(group_by)}
    """
    return await _rows(conn, sql, params)

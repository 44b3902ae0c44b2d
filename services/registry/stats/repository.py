"""Statistics SQL: every figure is one set-based query, grouped by city or county on demand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.scope import UNRESTRICTED, RegionScope, named
from services.registry.stats.db import COLS
from services.registry.titles.db import held_on

KEYS = {
    None: "'all'",
    "city": "substr({a}.region_code, 1, 4) || '00'",
    "county": "{a}.region_code",
}

# 小升规 (domain.md §4): per industrial (B, C, D) enterprise with scale facts up to :y (the latest
# fact of a year wins), its status at the end of :y (sy) and of the baseline :b (sb), and where its
# last entry into above came from (came_from: 'below' — a 小升规; 'none' — its first fact was above,
# a 新建投产 entrant, listed but not counted) and in which year (entered).
SCALE_STEPS = """
  SELECT {ke} AS k, e.credit_code, e.name, e.region_code,
    (array_agg(f.status ORDER BY f.yr DESC))[1] AS sy,
    (array_agg(f.status ORDER BY f.yr DESC) FILTER (WHERE f.yr <= :b))[1] AS sb,
    (array_agg(coalesce(f.prev, 'none') ORDER BY f.yr DESC)
      FILTER (WHERE f.status = 'above' AND f.prev IS DISTINCT FROM 'above'))[1] AS came_from,
    (array_agg(f.yr ORDER BY f.yr DESC)
      FILTER (WHERE f.status = 'above' AND f.prev IS DISTINCT FROM 'above'))[1] AS entered
  FROM (SELECT credit_code, yr, status,
               lag(status) OVER (PARTITION BY credit_code ORDER BY yr) AS prev
        FROM (SELECT DISTINCT ON (credit_code, effective_year) credit_code, effective_year AS yr, status
              FROM registry.scale_statuses WHERE effective_year <= :y
              ORDER BY credit_code, effective_year, id DESC) d) f
  JOIN registry.enterprises e USING (credit_code)
  WHERE e.industry_section IN ('B', 'C', 'D') AND {re}
  GROUP BY 1, 2, 3, 4
"""

TIERS_AT = """
  SELECT DISTINCT ON (credit_code) credit_code, tier, decision
  FROM registry.pool_decisions
  WHERE year <= :y AND decision IN ('admit', 'exit')
  ORDER BY credit_code, year DESC, id DESC
"""


def _key(group_by: str | None, alias: str) -> str:
    return KEYS[group_by].format(a=alias)


async def _rows(session: AsyncSession, sql: str, params: dict[str, Any]) -> list[Any]:
    return list((await session.execute(text(sql), params)).mappings().all())


def _statements() -> list[tuple[str, str]]:
    """(name, SQL template) of every statistics statement; `{ke}`/`{kp}` is the group key over the
    enterprise's / park's region, `{re}`/`{rp}`/`{rs}` the region scope over the enterprise's /
    park's / summary's region (parameter :rl); parameters :y, :b (baseline), :as_of."""
    return [
        (
            "titles",
            """SELECT {ke} AS k, t.kind, count(DISTINCT t.credit_code) AS n
            FROM registry.titles t JOIN registry.enterprises e USING (credit_code)
            WHERE t.kind IN ('tech_sme', 'high_tech') AND {re}
              AND """
            + held_on("t", ":as_of")
            + """
            GROUP BY 1, 2""",
        ),
        (
            "scale",
            # 小升规 over (end of :b, end of :y], industrial enterprises only (SCALE_STEPS).
            """SELECT k,
              count(*) FILTER (WHERE sy = 'above') AS above_year,
              count(*) FILTER (WHERE sb = 'above') AS above_baseline,
              count(*) FILTER (WHERE sy = 'above' AND sb IS DISTINCT FROM 'above' AND came_from = 'below') AS entries,
              count(*) FILTER (WHERE sy = 'above' AND sb IS DISTINCT FROM 'above' AND came_from = 'none') AS new_entrants,
              count(*) FILTER (WHERE sb = 'above' AND sy IS DISTINCT FROM 'above') AS exits
            FROM ({SCALE_STEPS}) p
            GROUP BY 1""",
        ),
        (
            # Pool tiers from the per-(region, year) summaries (stats/db.py): deltas summed over
            # years ≤ year. (Their scale and cloud columns count all sections and single years;
            # the programme's figures are the "scale" and "cloud" statements.)
            "summaries",
            """SELECT {ks} AS k,
              coalesce(sum(s.seedling), 0) AS seedling,
              coalesce(sum(s.specialized), 0) AS specialized,
              coalesce(sum(s.champion_candidate), 0) AS champion_candidate,
              coalesce(sum(s.champion), 0) AS champion
            FROM registry.region_year_summaries s
            WHERE {rs} AND s.year <= :y  -- baseline < year
            GROUP BY 1""",
        ),
        (
            "tiers",
            """SELECT {ke} AS k, d.tier, count(*) AS n
            FROM ({TIERS_AT}) d JOIN registry.enterprises e USING (credit_code)
            WHERE d.decision = 'admit' AND {re}
            GROUP BY 1, 2""",
        ),
        (
            # The same for the tiers the summaries do not keep (innovative, little_giant).
            "unsummarised_tiers",
            """SELECT {ke} AS k, d.tier, count(*) AS n
            FROM ({TIERS_AT}) d JOIN registry.enterprises e USING (credit_code)
            WHERE d.decision = 'admit' AND d.tier NOT IN ({SUMMARISED}) AND {re}
            GROUP BY 1, 2""",
        ),
        (
            # 企业上云 is a stock: enterprises that have reported on_cloud for any year up to :y.
            "cloud",
            """SELECT {ke} AS k, count(DISTINCT i.credit_code) AS n
            FROM registry.indicators i JOIN registry.enterprises e USING (credit_code)
            WHERE i.year <= :y AND i.on_cloud AND {re}
            GROUP BY 1""",
        ),
        (
            "cnc",
            # Only enterprises reporting CNC figures for the year (partial index, indicators/models.py),
            # each with its tier at the year end looked up by index.
            """SELECT {ke} AS k, i.cnc_basis AS basis, sum(i.cnc_numerator) AS num,
                   sum(i.cnc_denominator) AS den, count(*) AS n
            FROM registry.indicators i
            JOIN registry.enterprises e USING (credit_code)
            CROSS JOIN LATERAL (
              SELECT d.tier, d.decision FROM registry.pool_decisions d
              WHERE d.credit_code = i.credit_code AND d.year <= :y AND d.decision IN ('admit', 'exit')
              ORDER BY d.year DESC, d.id DESC LIMIT 1) d
            WHERE i.year = :y AND i.cnc_denominator IS NOT NULL AND {re}
              AND d.decision = 'admit' AND d.tier IN ('champion', 'champion_candidate')
            GROUP BY 1, 2""",
        ),
        (
            "parks",
            """SELECT {kp} AS k,
              count(*) FILTER (WHERE p.opened_on IS NULL OR p.opened_on <= :as_of) AS parks,
              count(*) FILTER (WHERE p.star_rating >= 4 AND (p.rated_on IS NULL OR p.rated_on <= :as_of)
                               AND (p.opened_on IS NULL OR p.opened_on <= :as_of)) AS star_parks,
              count(*) FILTER (WHERE p.national_demo_base
                               AND (p.opened_on IS NULL OR p.opened_on <= :as_of)) AS national_demo_bases
            FROM registry.parks p WHERE {rp} GROUP BY 1""",
        ),
        (
            "park_tenants",
            """SELECT {kp} AS k, count(DISTINCT t.credit_code) AS n
            FROM registry.park_tenants t JOIN registry.parks p ON p.id = t.park_id
            WHERE {rp} AND t.moved_in_on <= :as_of
              AND (t.moved_out_on IS NULL OR t.moved_out_on > :as_of)
            GROUP BY 1""",
        ),
    ]


def _render(sql: str, group_by: str | None, scope: RegionScope, bind: Callable[[str], str]) -> str:
    return sql.format(
        ke=_key(group_by, "e"),
        kp=_key(group_by, "p"),
        ks=_key(group_by, "s"),
        re=scope.where("e.region_code", bind),
        rp=scope.where("p.region_code", bind),
        rs=scope.where("s.region_code", bind),
        TIERS_AT=TIERS_AT,
        SUMMARISED=", ".join(f"'{t}'" for t in SUMMARISED_TIERS),
        SCALE_STEPS=SCALE_STEPS.format(ke=_key(group_by, "e"), re=scope.where("e.region_code", bind)),
    )


def raw_statements(
    group_by: str | None, names: tuple[str, ...] | None = None, scope: RegionScope = UNRESTRICTED
) -> list[str]:
    """The same statements for asyncpg ($1 the region scope's value, $2 year, $3 baseline,
    $4 as_of), as the benchmark's raw baseline runs them."""
    out = []
    for name, sql in _statements():
        if names is not None and name not in names:
            continue
        sql = _render(sql, group_by, scope, lambda _: "$1::text")
        for k, v in ((":y", "$2::int"), (":b", "$3::int"), (":as_of", "$4::date")):
            sql = sql.replace(k, v)
        out.append(sql)
    return out


async def data_version(session: AsyncSession) -> int:
    """Bumped by every statement that changes a table the statistics read (stats/db.py)."""
    return (
        await session.execute(text("SELECT pg_sequence_last_value('registry.data_version')"))
    ).scalar() or 0


def add_up(groups: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The total over groups for the additive figures (every enterprise and park is in exactly one
    group); park_tenants is not additive (an enterprise may rent in two cities) and is left out."""
    total: dict[str, Any] = {}
    for figures_ in groups.values():
        for name, value in figures_.items():
            if name == "park_tenants":
                continue
            if isinstance(value, tuple):
                prev = total.get(name, (0, 0, 0))
                total[name] = tuple(a + b for a, b in zip(prev, value, strict=True))
            else:
                total[name] = total.get(name, 0) + value
    return total


# The tiers with a column in the summaries (stats/db.py); the others are counted directly.
SUMMARISED_TIERS = COLS[COLS.index("seedling") :]
DIRECT = ("titles", "scale", "tiers", "cloud", "cnc", "parks", "park_tenants")


def default_names(year: int, baseline: int) -> tuple[str, ...]:
    """The statements a request runs: the summaries instead of the direct tier counts."""
    return ("summaries", "unsummarised_tiers", "titles", "scale", "cloud", "cnc", "parks", "park_tenants")


async def figures(
    session: AsyncSession,
    scope: RegionScope,
    year: int,
    baseline: int,
    as_of: date,
    group_by: str | None,
    names: tuple[str, ...] | None = None,
) -> dict[str, dict[str, Any]]:
    """{group key: {figure: value}}; the key is 'all' without grouping. `names` limits the
    statements run (see `_statements`)."""
    p: dict[str, Any] = {"y": year, "b": baseline, "as_of": as_of}
    bind = named(p, "rl")
    out: dict[str, dict[str, Any]] = {}

    def put(k: str, name: str, value: Any) -> None:
        out.setdefault(k, {})[name] = value

    if names is None:
        names = default_names(year, baseline)
    for name, sql in _statements():
        if name not in names:
            continue
        for r in await _rows(session, _render(sql, group_by, scope, bind), p):
            if name == "summaries":
                for t in SUMMARISED_TIERS:
                    if r[t]:
                        put(r["k"], "tier:" + t, r[t])
            elif name == "titles":
                put(r["k"], "tech_smes" if r["kind"] == "tech_sme" else "high_tech", r["n"])
            elif name == "scale":
                for f in ("above_year", "above_baseline", "entries", "new_entrants", "exits"):
                    put(r["k"], f, r[f])
            elif name in ("tiers", "unsummarised_tiers"):
                put(r["k"], "tier:" + r["tier"], r["n"])
            elif name == "cloud":
                put(r["k"], "cloud_enterprises", r["n"])
            elif name == "cnc":
                put(r["k"], "cnc:" + r["basis"], (r["num"], r["den"], r["n"]))
            elif name == "parks":
                put(r["k"], "parks", r["parks"])
                put(r["k"], "star_parks", r["star_parks"])
                put(r["k"], "national_demo_bases", r["national_demo_bases"])
            else:
                put(r["k"], "park_tenants", r["n"])
    return out


async def new_entrants(
    session: AsyncSession, scope: RegionScope, year: int, baseline: int
) -> list[dict[str, Any]]:
    """The 新建投产 entrants of `figures`' "scale" statement, one row each: industrial enterprises
    above at the end of `year` whose first scale fact, after the baseline, was already above."""
    p: dict[str, Any] = {"y": year, "b": baseline}
    sql = SCALE_STEPS.format(ke="'all'", re=scope.where("e.region_code", named(p, "rl")))
    return await _rows(
        session,
        f"""SELECT credit_code, name, region_code, entered AS year FROM ({sql}) p
        WHERE sy = 'above' AND sb IS DISTINCT FROM 'above' AND came_from = 'none'
        ORDER BY credit_code""",
        p,
    )

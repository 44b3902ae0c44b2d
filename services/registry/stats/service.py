from __future__ import annotations

import asyncio
import time
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.scope import RegionScope
from services.common.targets import REPORTED, ProgrammeTarget, reported_targets
from services.common.today import today_shanghai
from services.registry.errors import BaselineNotBeforeYear, YearOutOfRange
from services.registry.institutions import repository as institutions
from services.registry.institutions.schemas import REPORTED_KEYS
from services.registry.institutions.service import counties_of, coverage
from services.registry.pool.tiers import TIERS
from services.registry.reference.data import region as region_info
from services.registry.stats import repository as repo
from services.registry.stats.definitions import DEFINITIONS
from services.registry.stats.schemas import (
    CncBasis,
    Figures,
    GroupStats,
    NewEntrant,
    PoolSizes,
    Reported,
    StatsOut,
    Target,
)
from services.registry.targets.data import baseline_year as programme_baseline

# Computed figures per (database, region, year, baseline, as_of, grouping), valid while the data
# version (bumped by every statement on the tables read) is unchanged, and for CACHE_TTL_S at most
# (bounding the one staleness a version cannot see: a write that commits while figures are being
# computed).
CACHE_TTL_S = 10.0
CACHE_MAX = 256
_cache: dict[tuple, tuple[int, float, Any]] = {}
_locks: dict[tuple, asyncio.Lock] = {}  # per event loop and key


def _cache_get(key: tuple, version: int) -> Any | None:
    hit = _cache.get(key)
    if hit is None or hit[0] != version or time.monotonic() - hit[1] > CACHE_TTL_S:
        return None
    return hit[2]


def _cache_put(key: tuple, version: int, value: Any) -> None:
    if len(_cache) >= CACHE_MAX:
        _cache.clear()
    _cache[key] = (version, time.monotonic(), value)


async def _compute(session, key, scope, year, baseline, as_of, group_by) -> tuple[dict, dict, dict]:
    version = await repo.data_version(session)
    cached = _cache_get(key, version)
    if cached is not None:
        return cached
    if group_by:
        # One grouped pass; the total is the sum of the groups, except the distinct tenants.
        raw = await repo.figures(session, scope, year, baseline, as_of, group_by)
        total = repo.add_up(raw)
        total.update(
            (await repo.figures(session, scope, year, baseline, as_of, None, ("park_tenants",))).get(
                "all", {}
            )
        )
    else:
        raw = {}
        total = (await repo.figures(session, scope, year, baseline, as_of, None)).get("all", {})
    # The targets are read with the figures they are set against, and cached with them.
    entrants = [NewEntrant(**r) for r in await repo.new_entrants(session, scope, year, baseline)]
    cached = (total, raw, await reported_targets(session, "registry"), entrants)
    if await repo.data_version(session) == version:
        _cache_put(key, version, cached)
    return cached


def _rate(num: Decimal, den: Decimal) -> str | None:
    if not den:
        return None
    return str((Decimal(num) * 100 / Decimal(den)).quantize(Decimal("0.01"), ROUND_HALF_UP))


def target_actuals(
    figures: Figures, targets: dict[str, ProgrammeTarget], reported: dict[str, Reported] | None = None
) -> dict[str, Target]:
    """The progress-bulletin feed: each registry-owned target key with its actual figure, a
    reported figure with its source document (null value while none is reported). A key these
    figures do not count (yet) is left out; the bulletin shows it `not_tracked` and says so."""
    reported = reported or {}
    out = {}
    for key, t in targets.items():
        if key in REPORTED_KEYS:
            r = reported.get(key)
            out[key] = Target(
                value=r.value if r else None,
                target=t.value_text,
                unit=t.unit,
                definition=DEFINITIONS[key],
                source=r.source_document if r else None,
            )
            continue
        if key not in Figures.model_fields:
            continue
        actual = getattr(figures, key)
        out[key] = Target(
            value=None if actual is None else str(actual),
            target=t.value_text,
            unit=t.unit,
            definition=DEFINITIONS[key],
        )
    return out


def scope_region(scope: RegionScope) -> str:
    """The region code a scope's prefix stands for (the province when unrestricted)."""
    return (scope.prefix or "33").ljust(6, "0")


async def outside_figures(
    session: AsyncSession, scope: RegionScope, year: int, as_of: date
) -> tuple[int, str | None, dict[str, Reported]]:
    """Service institutions, county platform coverage and the reported figures: read afresh on
    every request (small tables, outside the summaries' cache and its data version)."""
    count, with_platform = await institutions.institution_figures(session, scope, as_of)
    cov = coverage(counties_of(scope), with_platform)
    latest = await institutions.latest_reported(session, scope_region(scope), date(year, 1, 1), as_of)
    reported = {
        k: Reported(
            value=f"{r.value:.2f}",
            unit=r.unit,
            period_end=r.period_end,
            source_document=r.source_document,
            reported_at=r.created_at,
        )
        for k, r in latest.items()
    }
    return count, None if cov is None else str(cov), reported


def build(raw: dict[str, Any]) -> tuple[Figures, PoolSizes]:
    cnc = {}
    for basis in ("count", "value"):
        if f"cnc:{basis}" in raw:
            num, den, n = raw[f"cnc:{basis}"]
            cnc[basis] = CncBasis(
                numerator=f"{num:.2f}", denominator=f"{den:.2f}", rate=_rate(num, den), enterprises=n
            )
    figures = Figures(
        tech_smes=raw.get("tech_smes", 0),
        high_tech=raw.get("high_tech", 0),
        net_new_above_scale=raw.get("entries", 0) - raw.get("exits", 0),
        above_scale_entries=raw.get("entries", 0),
        above_scale_new_entrants=raw.get("new_entrants", 0),
        above_scale_exits=raw.get("exits", 0),
        above_scale=raw.get("above_year", 0),
        above_scale_baseline=raw.get("above_baseline", 0),
        champion_candidates=raw.get("tier:champion_candidate", 0),
        champions=raw.get("tier:champion", 0),
        cloud_enterprises=raw.get("cloud_enterprises", 0),
        champion_cnc_rate=cnc["count"].rate if "count" in cnc else None,
        champion_cnc=cnc,
        parks=raw.get("parks", 0),
        park_tenants=raw.get("park_tenants", 0),
        star_parks=raw.get("star_parks", 0),
        national_demo_bases=raw.get("national_demo_bases", 0),
    )
    pool = PoolSizes(**{t: raw.get("tier:" + t, 0) for t in TIERS})
    return figures, pool


async def stats(
    session: AsyncSession,
    principal: Principal,
    year: int | None,
    region: str | None,
    group_by: str | None,
    baseline_year: int | None,
) -> StatsOut:
    today = today_shanghai()  # the programme's today (services/common/today.py)
    year = year or today.year
    if year > today.year + 1:
        raise YearOutOfRange(f"year must be ≤ {today.year + 1}", pointer="#/query/year")
    if baseline_year is not None:
        baseline = baseline_year
    else:
        # The programme's baseline (data); a year not after it is measured against the year before.
        baseline = programme_baseline(REPORTED[0])
        if baseline >= year:
            baseline = year - 1
    if baseline >= year:
        raise BaselineNotBeforeYear()
    scope = RegionScope.of(principal).narrow(region)
    as_of = min(date(year, 12, 31), today)
    key = (str(session.bind.url), scope.prefix, year, baseline, as_of, group_by)
    cached = _cache_get(key, await repo.data_version(session))
    if cached is None:
        # Single flight: concurrent misses of one key wait for the first to compute, then read
        # its entry (or compute themselves when the data changed meanwhile).
        lock_key = (id(asyncio.get_running_loop()), key)
        lock = _locks.get(lock_key)
        if lock is None:
            if len(_locks) >= CACHE_MAX:
                _locks.clear()
            lock = _locks[lock_key] = asyncio.Lock()
        async with lock:
            cached = await _compute(session, key, scope, year, baseline, as_of, group_by)
    total, raw, targets, entrants = cached
    figures, pool = build(total)
    figures.service_institutions, figures.county_platform_coverage, reported = await outside_figures(
        session, scope, year, as_of
    )
    groups = None
    if group_by:
        groups = []
        for key in sorted(raw):
            f, p = build(raw[key])
            r = region_info(key)
            groups.append(GroupStats(region_code=key, region_name=r.name if r else None, figures=f, pool=p))
    return StatsOut(
        year=year,
        baseline_year=baseline,
        as_of=as_of,
        region=scope.prefix,
        figures=figures,
        pool=pool,
        targets=target_actuals(figures, targets, reported),
        reported=reported,
        groups=groups,
        above_scale_new_entrants=entrants,
    )

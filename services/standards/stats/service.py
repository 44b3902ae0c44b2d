"""Statistics: the caller's region scope (narrowed by `region`), figures and targets."""

from __future__ import annotations

from datetime import date

from services.common.auth import Principal
from services.common.readpool import Reader
from services.common.scope import RegionScope
from services.common.targets import reported_targets
from services.standards.adoption.schemas import rate_of
from services.standards.stats import repository as repo
from services.standards.stats.definitions import DEFINITIONS
from services.standards.stats.schemas import Figures, GroupFigures, Ratio, StatsOut, TargetOut


def _ratio(numerator: int, denominator: int) -> Ratio:
    return Ratio(
        rate=rate_of(numerator, denominator) if denominator else None,
        numerator=numerator,
        denominator=denominator,
    )


async def stats(
    reads: Reader, principal: Principal, year: int, region: str | None, group_by: str | None
) -> StatsOut:
    scope = RegionScope.of(principal).narrow(region)
    region = region or scope.owner  # the region the figures are for, as named (else the caller's)
    end = date(year, 12, 31)
    async with reads.connection() as conn:  # one read-pool connection, statement after statement
        intl = await repo.intl_standards_led(conn, end, scope, group_by)
        zzb = await repo.zhejiang_made_standards(conn, end, scope, group_by)
        smes = await repo.pinzibiao_smes(conn, end, year, scope, group_by)
        adopt = await repo.adoption(conn, year, scope, group_by)
        reported = await reported_targets(conn, "standards")

    def figures(key: str | None) -> dict:
        num, den = adopt.get(key, (0, 0))
        return {
            "intl_standards_led": intl.get(key, (0,))[0],
            "zhejiang_made_standards": zzb.get(key, (0,))[0],
            "pinzibiao_smes": smes.get(key, (0,))[0],
            "adoption_rate": _ratio(int(num), int(den)),
        }

    total = Figures(**figures(None))
    groups = None
    if group_by:
        keys = sorted({k for d in (intl, zzb, smes, adopt) for k in d if k is not None})
        groups = [GroupFigures(region_code=k, **figures(k)) for k in keys]
    values = {
        "intl_standards_led": str(total.intl_standards_led),
        "zhejiang_made_standards": str(total.zhejiang_made_standards),
        "pinzibiao_smes": str(total.pinzibiao_smes),
        "adoption_rate": str(total.adoption_rate.rate) if total.adoption_rate.rate is not None else None,
    }
    targets = {
        key: TargetOut(
            value=values[key],
            unit=t.unit,
            definition=DEFINITIONS[key],
            target=t.value_text,
            programme=t.programme_name,
        )
        for key, t in reported.items()
    }
    return StatsOut(
        **total.model_dump(),
        year=year,
        region=region,
        as_of=end,
        groups=groups,
        targets=targets,
    )

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from services.common.db import DbSession
from services.common.errors import Forbidden, RegionOutOfScope, responses
from services.common.http import json_response
from services.common.types import RegionPrefix
from services.registry.errors import BaselineNotBeforeYear, YearOutOfRange
from services.registry.scope import Manager
from services.registry.stats import service
from services.registry.stats.schemas import StatsOut

router = APIRouter(prefix="/v1", tags=["statistics"])

DESCRIPTION = """Registry figures for the progress bulletin (雏鹰行动 targets, domain.md §1), for the
caller's region or a sub-region, as of the end of `year` (today for the current year).

- **tech_smes / high_tech**: distinct enterprises holding a tech_sme / high_tech title valid on
  as_of (valid_from ≤ as_of ≤ valid_to, not revoked by then). Expired titles stop counting.
- **net_new_above_scale** (净增小升规): over industrial enterprises (sections B, C, D), 小升规
  entries minus exits between the end of `baseline_year` and the end of `year` (cumulative). The
  status at a year end is the latest scale fact with effective_year ≤ that year. An entry is an
  enterprise above at the end of `year`, not at the end of `baseline_year`, whose scale fact before
  it became above was `below`; one whose first fact was already above (新建投产) is not counted but
  listed in `above_scale_new_entrants`; an exit was above at the end of `baseline_year` and is not
  at the end of `year`. `baseline_year` defaults to the programme's baseline (data, 2019; a year
  not after it takes year − 1).
- **champion_candidates / champions** and **pool**: enterprises holding that tier at the end of
  `year` (latest admit/exit decision with year ≤ `year`).
- **cloud_enterprises** (企业上云, a stock): enterprises whose indicators of any year up to `year`
  say on_cloud.
- **champion_cnc_rate** (装备数控化率): Σ numerator ÷ Σ denominator × 100 over the `year` indicators of
  enterprises at tier champion or champion_candidate, count basis; `champion_cnc` gives both bases.
- **parks**: parks opened by as_of; **star_parks**: rated 4 or 5 stars; **park_tenants**: distinct
  enterprises with a tenancy in force on as_of (moved_in_on ≤ as_of < moved_out_on).
- **national_demo_bases**: parks with national_demo_base true opened by as_of.
- **service_institutions**: service institutions and platforms recognised by as_of;
  **county_platform_coverage**: current counties with ≥ 1 platform recognised by as_of ÷ all
  current counties of the region × 100 (both for the whole region, null in groups).
- **reported**: other departments' figures for exactly this region (POST /v1/reported-figures): per
  key the latest period ending in `year` up to as_of, of its rows the last appended; the target
  feed names its `source`.
- Enterprise figures use the enterprise's region; park figures the park's region.
- **targets**: the programme's registry-owned targets (province-wide), as docs/contracts.md defines.
"""


@router.get(
    "/stats",
    summary="Registry statistics and programme targets",
    description=DESCRIPTION,
    response_model=StatsOut,
    responses=responses(Forbidden, RegionOutOfScope, BaselineNotBeforeYear, YearOutOfRange),
)
async def get_stats(
    session: DbSession,
    principal: Manager,
    year: Annotated[int | None, Query(ge=1949, le=2100, description="Default: the current year")] = None,
    region: Annotated[RegionPrefix | None, Query(description="Region prefix within yours")] = None,
    group_by: Annotated[Literal["city", "county"] | None, Query()] = None,
    baseline_year: Annotated[
        int | None,
        Query(
            ge=1949,
            le=2100,
            description="Default: the programme baseline (2019), or year − 1 for a year not after it",
        ),
    ] = None,
) -> Response:
    return json_response(await service.stats(session, principal, year, region, group_by, baseline_year))

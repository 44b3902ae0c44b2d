"""The progress bulletin: the programme targets (services/common/targets.py) against the owner
services' statistics. A figure and the elapsed share it is compared with both come from the
target's one window: the owner service measures its figure over it, the bulletin takes the share of it.

Status of a target:
- `met`: actual ≥ target;
- `on_track`: not met, and actual ÷ target ≥ the share of the target period already elapsed
  (for counts and sums that accumulate; a percent level is `behind` until it is met);
- `behind`: otherwise;
- `not_tracked`: the platform does not track it (owner `none`), its service did not answer
  within the aggregate deadline (listed in `degraded`), or the caller's scopes do not include that
  service's read scope (not asked; listed in `withheld`).
"""

from __future__ import annotations

import io
import logging
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.aggregate import readable, within_deadline
from gateway.core import Gateway
from gateway.errors import NoTargets
from gateway.progress.schemas import ProgressItem, ProgressReport
from gateway.upstream import UpstreamError
from services.common.auth import Principal
from services.common.errors import Forbidden, Problem
from services.common.scope import RegionScope
from services.common.spreadsheet import cell_text
from services.common.targets import ProgrammeTarget, regions_with_targets, targets_of
from services.common.today import SHANGHAI, shanghai_date

log = logging.getLogger("eaglet.gateway.progress")
HUNDRED = Decimal(100)
Q2 = Decimal("0.01")


def elapsed_share(start: date, end: date, today: date) -> Decimal:
    """Share of [start, end] elapsed by the end of `today` (0–1)."""
    if today < start:
        return Decimal(0)
    if today >= end:
        return Decimal(1)
    return Decimal((today - start).days + 1) / Decimal((end - start).days + 1)


def status_of(
    t: ProgrammeTarget, actual: Decimal | None, today: date
) -> tuple[str, Decimal | None, Decimal | None]:
    expected = (elapsed_share(t.window_start, t.window_end, today) * HUNDRED).quantize(Q2)
    if actual is None or t.owner_service == "none":
        return "not_tracked", None, expected
    ratio = (actual / t.value * HUNDRED).quantize(Q2) if t.value else None
    if actual >= t.value:
        return "met", ratio, expected
    if t.unit != "percent" and ratio is not None and ratio >= expected:
        return "on_track", ratio, expected
    return "behind", ratio, expected


async def _stats(gw: Gateway, service: str, principal: Principal, year: int, region: str, rid: str | None):
    status, body = await gw.upstreams[service].get_json(
        "/v1/stats", gw.signer.sign(principal, rid), rid, {"year": year, "region": region}
    )
    if status == 403:
        raise Forbidden(f"the {service} service refuses these statistics to this caller")
    if status != 200 or not isinstance(body, dict):
        raise UpstreamError(service, "unavailable", detail=f"(stats answered {status})")
    return body.get("targets") or {}


async def build_report(
    session: AsyncSession,
    gw: Gateway,
    principal: Principal,
    programme: str,
    year: int,
    region: str,
    rid: str | None,
) -> ProgressReport:
    RegionScope.of(principal).require(region, "#/query/region")
    targets = await targets_of(session, programme, year, region)
    if not targets:
        regions = await regions_with_targets(session, programme, year)
        where = f"; targets exist for regions {', '.join(regions)}" if regions else ""
        raise NoTargets(programme=programme, year=year, region=region, where=where)
    owners = sorted({t.owner_service for t in targets if t.owner_service != "none"})
    services, withheld = readable(principal, owners)
    results = await within_deadline(
        {s: _stats(gw, s, principal, year, region, rid) for s in services},
        gw.gw.upstream.aggregate_deadline_s,
    )
    actuals: dict[str, dict] = {}
    degraded: list[str] = []
    for service, result in results.items():
        if isinstance(result, Problem):
            raise result
        if isinstance(result, BaseException):
            log.warning("progress: %s statistics unavailable: %s", service, result)
            degraded.append(service)
            continue
        actuals[service] = result
    now = datetime.now(SHANGHAI)
    today = shanghai_date(now)
    items = []
    for t in targets:
        fact = actuals.get(t.owner_service, {}).get(t.key) or {}
        actual = None
        if fact.get("value") is not None:
            try:
                actual = Decimal(str(fact["value"]))
            except InvalidOperation:
                log.warning("progress: %s sent a non-decimal value for %s", t.owner_service, t.key)
        status, ratio, expected = status_of(t, actual, today)
        items.append(
            ProgressItem(
                key=t.key,
                name_zh=t.name_zh,
                target=t.value,
                actual=actual,
                unit=t.unit,
                ratio=ratio,
                expected_ratio=expected if status != "not_tracked" else None,
                status=status,
                owner_service=t.owner_service,
                period_start=t.window_start,
                period_end=t.window_end,
                definition=fact.get("definition"),
                note=t.note,
            )
        )
    return ProgressReport(
        programme=programme,
        year=year,
        region=region,
        targets_version=targets[0].data_version,
        as_of=now,
        partial=bool(degraded),
        degraded=degraded,
        withheld=withheld,
        items=items,
    )


STATUS_ZH = {"met": "已完成", "on_track": "进度正常", "behind": "滞后", "not_tracked": "未纳入监测"}


def to_xlsx(report: ProgressReport) -> bytes:
    """The bulletin as a spreadsheet a bureau would circulate."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "进展通报"
    ws.append([f"雏鹰行动目标任务进展通报 ({report.programme}, {report.year}年, 区域 {report.region})"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(
        [f"截至 {report.as_of.strftime('%Y-%m-%d %H:%M')} (北京时间); 目标数据版本 {report.targets_version}"]
    )
    if report.partial:
        ws.append([f"注意: 以下服务数据暂缺 {', '.join(report.degraded)}"])
    if report.withheld:
        ws.append([f"注意: 以下服务数据不在本凭证权限范围内 {', '.join(report.withheld)}"])
    ws.append([])
    header = [
        "序号",
        "指标",
        "指标名称",
        "目标值",
        "实际值",
        "单位",
        "完成率(%)",
        "时序进度(%)",
        "状态",
        "责任服务",
        "备注",
    ]
    ws.append(header)
    header_row = ws.max_row
    for cell in ws[header_row]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center")
    for i, it in enumerate(report.items, 1):
        cells = [
            i,
            it.key,
            it.name_zh,
            it.target,
            it.actual,
            it.unit,
            it.ratio,
            it.expected_ratio,
            STATUS_ZH[it.status],
            it.owner_service,
            it.note or "",
        ]
        ws.append([cell_text(v) if isinstance(v, str) else v for v in cells])  # no text runs as a formula
    for col, width in zip("ABCDEFGHIJK", (6, 24, 36, 18, 18, 12, 12, 12, 12, 12, 24), strict=True):
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=header_row + 1, min_col=4, max_col=5):
        for cell in row:
            cell.number_format = "#,##0.##"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()

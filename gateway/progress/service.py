"""The progress bulletin: the programme targets (services/common/targets.py) against the owner
services' statistics. A figure and the elapsed share it is compared with both come from the
target's one window: the owner service measures its figure over it, the bulletin takes the share of it.

Status of a target:
- `met`: actual ≥ target;
- `on_track`: not met, and actual ÷ target ≥ the share of the target period already elapsed
  (for counts and sums that accumulate; a percent level is `behind` until it is met);
- `behind`: otherwise;
- `no_target`: an actual, but the region has no target of its own for the key and year (a city
  is never measured against the province's targets);
- `not_tracked`: no actual, with its `reason`: the platform does not track it (owner `none`), the
  owner service's statistics do not report the key (yet), its service did not answer within the
  aggregate deadline (listed in `degraded`), or the caller's scopes do not include that service's
  read scope (not asked; listed in `withheld`).

Every indicator of the programme is a row (services/common/targets.py, `indicators_of`), whether
or not the region has a target for it: a commitment is never silently absent.
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
from services.common.targets import OWNER_ZH, UNIT_ZH, ProgrammeTarget, indicators_of, targets_of
from services.common.today import SHANGHAI, shanghai_date

log = logging.getLogger("eaglet.gateway.progress")
# Why a row is not_tracked: code → (English, Chinese for the spreadsheet).
REASONS = {
    "none": ("not tracked by this platform", "未纳入平台监测"),
    "withheld": ("not asked: the credential's scopes lack {owner}:read", "凭证权限不含该服务数据"),
    "degraded": ("the {owner} service did not answer within the aggregate deadline", "服务未及时响应"),
    "not_reported": ("the {owner} statistics do not report this figure yet", "暂无数据来源(统计口径待接入)"),
    "no_data": ("the {owner} statistics hold no data for this region and year", "本区域本年度暂无数据"),
    "not_a_number": ("the {owner} statistics sent a value that is not a number", "数据格式有误"),
}
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
    keys: set[str] | None = None,
) -> ProgressReport:
    """The bulletin of a programme, year and region (only the rows of `keys`, if given)."""
    RegionScope.of(principal).require(region, "#/query/region")
    indicators = [i for i in await indicators_of(session, programme) if keys is None or i.key in keys]
    if not indicators:
        raise NoTargets(programme=programme, year=year, region=region, where="")
    targets = {t.key: t for t in await targets_of(session, programme, year, region)}
    owners = sorted({i.owner_service for i in indicators if i.owner_service != "none"})
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
    for ind in indicators:
        owner = ind.owner_service
        fact = actuals.get(owner, {}).get(ind.key) or {}
        actual, reason = None, None
        if owner == "none":
            reason = "none"
        elif owner in withheld:
            reason = "withheld"
        elif owner in degraded:
            reason = "degraded"
        elif ind.key not in actuals.get(owner, {}):
            reason = "not_reported"
        elif fact.get("value") is None:
            reason = "no_data"
        else:
            try:
                actual = Decimal(str(fact["value"]))
            except InvalidOperation:
                log.warning("progress: %s sent a non-decimal value for %s", owner, ind.key)
                reason = "not_a_number"
        t = targets.get(ind.key)
        if actual is None:
            status, ratio, expected = "not_tracked", None, None
        elif t is None:
            status, ratio, expected = "no_target", None, None
        else:
            status, ratio, expected = status_of(t, actual, today)
        items.append(
            ProgressItem(
                key=ind.key,
                name_zh=ind.name_zh,
                target=t.value if t else None,
                actual=actual,
                unit=ind.unit,
                ratio=ratio,
                expected_ratio=expected if status not in ("not_tracked", "no_target") else None,
                status=status,
                owner_service=owner,
                period_start=t.window_start if t else None,
                period_end=t.window_end if t else None,
                definition=fact.get("definition"),
                source_document=ind.source_document,
                source=fact.get("source") if actual is not None else None,
                settled=ind.settled,
                reason=REASONS[reason][0].format(owner=owner) if reason else None,
                reason_code=reason,
                note=(t.note if t and t.note else ind.note),
            )
        )
    return ProgressReport(
        programme=programme,
        year=year,
        region=region,
        targets_version=indicators[0].data_version,
        as_of=now,
        partial=bool(degraded),
        degraded=degraded,
        withheld=withheld,
        items=items,
    )


STATUS_ZH = {
    "met": "已完成",
    "on_track": "进度正常",
    "behind": "滞后",
    "no_target": "本区域未设目标",
    "not_tracked": "未纳入监测",
}


def to_xlsx(report: ProgressReport, number: str | None = None, sha256: str | None = None) -> bytes:
    """The bulletin as a spreadsheet a bureau would circulate: Chinese throughout (units, owners,
    statuses, notes), the figures as numbers. A published bulletin carries its number and hash."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "进展通报"
    title = f"雏鹰行动目标任务进展通报 ({report.programme}, {report.year}年, 区域 {report.region})"
    ws.append([cell_text(title)])
    ws["A1"].font = Font(bold=True, size=14)
    if number:
        ws.append([cell_text(f"通报编号 {number}; 内容校验值 (SHA-256) {sha256}")])
    ws.append(
        [
            f"截至 {report.as_of.strftime('%Y-%m-%d %H:%M')} (北京时间); 目标数据版本 {cell_text(report.targets_version)}"
        ]
    )
    if report.partial:
        ws.append([f"注意: 以下服务数据暂缺 {', '.join(OWNER_ZH.get(s, s) for s in report.degraded)}"])
    if report.withheld:
        ws.append(
            [
                f"注意: 以下服务数据不在本凭证权限范围内 {', '.join(OWNER_ZH.get(s, s) for s in report.withheld)}"
            ]
        )
    ws.append([])
    header = [
        "序号",
        "指标代码",
        "指标名称",
        "目标值",
        "实际值",
        "单位",
        "完成率(%)",
        "时序进度(%)",
        "状态",
        "责任单位",
        "口径是否确定",
        "依据",
        "说明",
    ]
    ws.append(header)
    header_row = ws.max_row
    for cell in ws[header_row]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center")
    for i, it in enumerate(report.items, 1):
        source = f"数据来源: {it.source}" if it.source else None
        notes = [n for n in (it.note, source, REASONS[it.reason_code][1] if it.reason_code else None) if n]
        cells = [
            i,
            it.key,
            it.name_zh,
            it.target,
            it.actual,
            UNIT_ZH.get(it.unit, it.unit),
            it.ratio,
            it.expected_ratio,
            STATUS_ZH[it.status],
            OWNER_ZH.get(it.owner_service, it.owner_service),
            "是" if it.settled else "否(待确定)",
            it.source_document,
            "; ".join(notes),
        ]
        ws.append([cell_text(v) if isinstance(v, str) else v for v in cells])  # no text runs as a formula
    for col, width in zip("ABCDEFGHIJKLM", (6, 24, 36, 18, 18, 8, 12, 12, 14, 24, 12, 36, 40), strict=True):
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=header_row + 1, min_col=4, max_col=5):
        for cell in row:
            cell.number_format = "#,##0.##"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()

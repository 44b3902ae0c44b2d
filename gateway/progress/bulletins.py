"""Published bulletins: the bulletin of a year and region frozen as a numbered snapshot.

Publishing stores the whole bulletin JSON as it stood (`content`), its SHA-256 over the canonical
JSON (keys sorted, no spaces, UTF-8) and the number `{year}-{region}-{sequence:02d}`, the sequence
counting that year's and region's bulletins from 1. Rows are inserted only: a published bulletin
answers the same numbers and hash forever after, whatever the data does since. A bulletin whose
figures are incomplete (an owner service did not answer, or the caller's scopes withhold one) is
not published. A caller sees and publishes bulletins of regions in their scope only; another
region's bulletin is a 404 (docs/architecture.md).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core import Gateway
from gateway.progress.models import PublishedBulletin
from gateway.progress.schemas import BulletinOut, ProgressReport
from gateway.progress.service import build_report
from services.common.auth import Principal
from services.common.errors import NamedProblem, NotFound
from services.common.scope import RegionScope

BulletinIncomplete = NamedProblem(
    409,
    "bulletin_incomplete",
    "the bulletin lacks figures (an owner service did not answer, or the credential withholds one)",
    detail="not published: figures of {services} are missing",
)


def canonical(content: dict[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_of(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(content)).hexdigest()


def to_out(b: PublishedBulletin) -> BulletinOut:
    return BulletinOut(
        id=b.id,
        number=b.number,
        programme=b.programme,
        year=b.year,
        region=b.region_code,
        as_of=b.as_of,
        content_sha256=b.content_sha256,
        published_by=b.published_by,
        published_at=b.published_at,
        bulletin=ProgressReport.model_validate(b.content),
    )


async def publish(
    session: AsyncSession,
    gw: Gateway,
    principal: Principal,
    programme: str,
    year: int,
    region: str,
    rid: str | None,
) -> BulletinOut:
    report = await build_report(session, gw, principal, programme, year, region, rid)
    if report.partial or report.withheld:
        raise BulletinIncomplete(services=", ".join(report.degraded + report.withheld))
    content = report.model_dump(mode="json")
    # One publisher at a time per year and region, so sequences never collide.
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"bulletin:{year}:{region}"}
    )
    last = await session.scalar(
        select(func.max(PublishedBulletin.sequence)).where(
            PublishedBulletin.year == year, PublishedBulletin.region_code == region
        )
    )
    sequence = (last or 0) + 1
    row = PublishedBulletin(
        number=f"{year}-{region}-{sequence:02d}",
        programme=programme,
        year=year,
        region_code=region,
        sequence=sequence,
        as_of=report.as_of,
        content=content,
        content_sha256=sha256_of(content),
        published_by=f"{principal.kind}:{principal.sub}",
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return to_out(row)


async def get(session: AsyncSession, principal: Principal, bulletin_id: int) -> BulletinOut:
    row = await session.get(PublishedBulletin, bulletin_id)
    if row is None or not RegionScope.of(principal).covers(row.region_code):
        raise NotFound(what="bulletin", key=str(bulletin_id))
    return to_out(row)


async def list_(session: AsyncSession, principal: Principal, year: int, region: str) -> list[BulletinOut]:
    RegionScope.of(principal).require(region, "#/query/region")
    rows = await session.scalars(
        select(PublishedBulletin)
        .where(PublishedBulletin.year == year, PublishedBulletin.region_code == region)
        .order_by(PublishedBulletin.sequence)
    )
    return [to_out(r) for r in rows]

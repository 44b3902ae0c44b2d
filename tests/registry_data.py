"""Arrange registry rows in one call (for every service's tests).

`await add_enterprise(db, region_code="330212", sizes={2022: "small"}, tier="seedling")` writes the
enterprise and its facts straight into the registry tables; the directory views
(`registry.enterprise_directory`, `enterprise_sizes`, `scale_status_history`) then show them.
The signature is stable: other services' tests rely on it.
"""

from __future__ import annotations

import itertools
import json
import random
from datetime import date, timedelta

import asyncpg

from services.common.credit_code import ALPHABET, make_credit_code
from services.common.today import today_shanghai
from services.registry.reference.sizing import classify, figures_for

_counter = itertools.count(1)
_rng = random.Random(20220601)


def new_credit_code(region_code: str = "330106", category: str = "91") -> str:
    """A valid, unused-looking USCC for the given area code."""
    n = next(_counter)
    org = "".join(_rng.choice(ALPHABET) for _ in range(4)) + f"{n:05d}"
    return make_credit_code(category + region_code + org)


async def add_enterprise(
    db: asyncpg.Connection,
    *,
    credit_code: str | None = None,
    name: str = "浙江测试实业有限公司",
    region_code: str = "330106",
    industry_code: str = "3311",
    sizes: dict[int, str] | None = None,
    scale: list[tuple[str, int]] | None = None,
    tier: str | None = None,
    titles: list[str] | None = None,
) -> str:
    """Insert an enterprise; `sizes` year → size class (written as indicator rows whose figures
    yield that class), `scale` [(above|below, effective_year)], `tier` an active pool tier
    (admitted this year), `titles` kinds active today. Returns the credit code."""
    code = credit_code or new_credit_code(region_code)
    await db.execute(
        "INSERT INTO registry.enterprises (credit_code, name, region_code, industry_code, established_on) "
        "VALUES ($1, $2, $3, $4, $5)",
        code,
        name,
        region_code,
        industry_code,
        date(2010, 1, 1),
    )
    for year, size in sorted((sizes or {}).items()):
        figures = figures_for(industry_code, size)
        result = classify(industry_code, figures)
        assert result.size == size, (industry_code, size, result.size)
        await db.execute(
            "INSERT INTO registry.indicators (credit_code, year, employees, revenue, total_assets, "
            "size_class, size_rule_version, size_decided_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)",
            code,
            year,
            int(figures["employees"]),
            figures["revenue"],
            figures["total_assets"],
            result.size,
            result.rule_version,
            json.dumps(result.decided_by, ensure_ascii=False),
        )
    for status, year in scale or []:
        await db.execute(
            "INSERT INTO registry.scale_statuses (credit_code, status, effective_year, source) "
            "VALUES ($1, $2, $3, 'test')",
            code,
            status,
            year,
        )
    if tier:
        await db.execute(
            "INSERT INTO registry.pool_decisions (credit_code, tier, year, decision, reason, decided_by) "
            "VALUES ($1, $2, $3, 'admit', 'test arrangement', 'test')",
            code,
            tier,
            today_shanghai().year,
        )
    today = today_shanghai()
    for kind in titles or []:
        await db.execute(
            "INSERT INTO registry.titles (credit_code, kind, level, issuer, valid_from, valid_to) "
            "VALUES ($1, $2, 'provincial', '浙江省经济和信息化厅', $3, $4)",
            code,
            kind,
            today - timedelta(days=365),
            today + timedelta(days=730),
        )
    return code

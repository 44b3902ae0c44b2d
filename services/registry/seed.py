"""Demo data for `eaglet up` (deterministic) and the bulk generator for benchmarks (COPY).

`seed_demo(conn)`: ~330 plausible enterprises across all 11 cities and many industries, 2021 and
2022 indicators, scale facts, titles, pool tiers and parks. Seeded RNG: other services' seeds read
these enterprises from `registry.enterprise_directory` and rely on getting the same ones.

`generate(conn, count)`: `count` more enterprises with two years of indicators, plus scale facts,
titles and pool tiers for a share of them, loaded with COPY.
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from decimal import Decimal

import asyncpg

from services.common.credit_code import ALPHABET, make_credit_code
from services.registry.reference.data import regions
from services.registry.reference.sizing import classify, figures_for

DEMO_PER_CITY = 30
YEARS = (2021, 2022)
INDUSTRIES = [
    ("3484", "机械"),
    ("3670", "汽车部件"),
    ("3443", "阀门"),
    ("3451", "轴承"),
    ("3825", "光伏"),
    ("3841", "新能源"),
    ("3976", "光电"),
    ("3982", "电子"),
    ("4011", "自动化"),
    ("2929", "塑料"),
    ("1761", "纺织"),
    ("1811", "服饰"),
    ("1951", "鞋业"),
    ("2110", "家具"),
    ("2614", "化工"),
    ("2710", "药业"),
    ("3311", "钢构"),
    ("3421", "机床"),
    ("3441", "泵业"),
    ("1441", "乳业"),
    ("6513", "软件"),
    ("6531", "信息技术"),
    ("6420", "网络科技"),
    ("5137", "服装贸易"),
    ("5161", "五金贸易"),
    ("5211", "百货"),
    ("5430", "物流"),
    ("7320", "研究院"),
    ("4710", "建设"),
    ("6210", "餐饮"),
]
WORDS = [
    "华",
    "恒",
    "鑫",
    "盛",
    "宏",
    "达",
    "瑞",
    "泰",
    "丰",
    "源",
    "隆",
    "昌",
    "立",
    "新",
    "宇",
    "天",
    "博",
    "信",
    "诚",
    "邦",
    "创",
    "锐",
    "海",
    "山",
    "江",
    "星",
    "鹰",
    "峰",
    "远",
    "通",
]
ENTERPRISE_COLUMNS = (
    "credit_code",
    "name",
    "region_code",
    "industry_code",
    "established_on",
    "registered_capital",
    "address",
    "legal_representative",
    "rule_set_version",
)
INDICATOR_COLUMNS = (
    "credit_code",
    "year",
    "employees",
    "revenue",
    "main_business_revenue",
    "total_assets",
    "total_liabilities",
    "net_profit",
    "rd_expense",
    "rd_staff",
    "invention_patents",
    "cnc_numerator",
    "cnc_denominator",
    "cnc_basis",
    "on_cloud",
    "export_revenue",
    "market_share_scope",
    "market_share_rank",
    "niche_years",
    "evaluation_score",
    "size_class",
    "size_rule_version",
    "size_decided_by",
)
SIZE_WEIGHTS = (("micro", 55), ("small", 33), ("medium", 10), ("large", 2))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑"


def _counties() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in regions().values():
        if r.level == "county" and not r.retired:
            out.setdefault(r.parent, []).append(r.code)
    return out


def _code(region_code: str, marker: str, n: int) -> str:
    digits = []
    for _ in range(8):
        n, d = divmod(n, 31)
        digits.append(ALPHABET[d])
    return make_credit_code("91" + region_code + marker + "".join(reversed(digits)))


def _pick_size(rng: random.Random) -> str:
    x = rng.uniform(0, 100)
    for size, w in SIZE_WEIGHTS:
        if x < w:
            return size
        x -= w
    return "micro"


def _figures(rng: random.Random, industry: str, size: str, growth: float) -> dict:
    base = figures_for(industry, size)
    f = 1 + rng.random() * 0.35
    employees = max(1, int(int(base["employees"]) * f * growth)) if size != "micro" else rng.randint(1, 8)
    revenue = (
        int(Decimal(base["revenue"]) * Decimal(f * growth))
        if size != "micro"
        else rng.randint(100_000, 2_500_000)
    )
    assets = (
        int(Decimal(base["total_assets"]) * Decimal(f)) if size != "micro" else rng.randint(50_000, 900_000)
    )
    revenue = max(revenue, 50_000)
    assets = max(assets, 50_000)
    return {"employees": employees, "revenue": revenue, "total_assets": assets}


def _indicator_row(
    rng: random.Random, code: str, industry: str, year: int, size: str, growth: float
) -> tuple:
    figs = _figures(rng, industry, size, growth)
    result = classify(industry, figs)
    revenue = figs["revenue"]
    rd = int(revenue * rng.uniform(0.0, 0.08))
    cnc_den = rng.randint(10, 200) if industry[:2] < "44" and industry[:2] > "12" else None
    return (
        code,
        year,
        figs["employees"],
        Decimal(revenue),
        Decimal(int(revenue * rng.uniform(0.6, 1.0))),
        Decimal(figs["total_assets"]),
        Decimal(int(figs["total_assets"] * rng.uniform(0.2, 0.85))),
        Decimal(int(revenue * rng.uniform(-0.05, 0.15))),
        Decimal(rd),
        max(0, figs["employees"] // 8),
        rng.choice((0, 0, 1, 2, 3, 4, 5, 8)),
        Decimal(rng.randint(0, cnc_den)) if cnc_den else None,
        Decimal(cnc_den) if cnc_den else None,
        "count" if cnc_den else None,
        rng.random() < 0.6,
        Decimal(int(revenue * rng.uniform(0, 0.3))),
        rng.choice(("national", "global")) if size in ("medium", "large") else None,
        rng.randint(1, 15) if size in ("medium", "large") else None,
        rng.randint(1, 20),
        Decimal(rng.randint(40, 95)),
        result.size,
        result.rule_version,
        json.dumps(result.decided_by, ensure_ascii=False),
    )


async def seed_demo(conn: asyncpg.Connection) -> None:
    rng = random.Random(3300)
    counties = _counties()
    cities = sorted(counties)
    first = _code(counties[cities[0]][0], "M", 1)
    if await conn.fetchval("SELECT 1 FROM registry.enterprises WHERE credit_code = $1", first):
        return  # already loaded (seed --force re-runs the others)
    enterprises, indicators, scale, titles, decisions = [], [], [], [], []
    n = 0
    for city in cities:
        city_name = regions()[city].name.removesuffix("市")
        for i in range(DEMO_PER_CITY):
            n += 1
            county = counties[city][i % len(counties[city])]
            code = first if n == 1 else _code(county, "M", n)
            industry, word = INDUSTRIES[(n * 7 + i) % len(INDUSTRIES)]
            name = f"{city_name}{rng.choice(WORDS)}{rng.choice(WORDS)}{word}{'股份' if i % 9 == 0 else ''}有限公司"
            established = date(rng.randint(1995, 2020), rng.randint(1, 12), rng.randint(1, 28))
            enterprises.append(
                (
                    code,
                    name,
                    county,
                    industry,
                    established,
                    Decimal(rng.choice((100, 500, 1000, 3000, 5000))) * 10000,
                    f"{regions()[county].name}{rng.choice(WORDS)}{rng.choice(WORDS)}路{rng.randint(1, 999)}号",
                    rng.choice(SURNAMES) + rng.choice(WORDS),
                    "seed",
                )
            )
            size = _pick_size(rng)
            for k, year in enumerate(YEARS):
                indicators.append(_indicator_row(rng, code, industry, year, size, 1 + 0.08 * k))
            if size in ("medium", "large") or rng.random() < 0.15:
                if rng.random() < 0.3:
                    scale.append((code, "below", 2019, "统计局规上名录"))
                scale.append((code, "above", rng.choice((2020, 2021, 2022)), "统计局规上名录"))
            if rng.random() < 0.35:
                start = date(2021, 1, 1) + timedelta(days=rng.randint(0, 900))
                titles.append(
                    (
                        code,
                        "tech_sme",
                        "provincial",
                        "浙江省科学技术厅",
                        "2022年第一批",
                        start,
                        start + timedelta(days=3 * 365 - 1),
                        "2022",
                        "浙科发〔2022〕",
                    )
                )
            if rng.random() < 0.12:
                start = date(2020, 1, 1) + timedelta(days=rng.randint(0, 1200))
                titles.append(
                    (
                        code,
                        "high_tech",
                        "national",
                        "浙江省高新技术企业认定管理工作领导小组",
                        None,
                        start,
                        start + timedelta(days=3 * 365 - 1),
                        "2016",
                        "国科发火〔2016〕32号",
                    )
                )
            if rng.random() < 0.25:
                tier = rng.choice(
                    ("seedling", "seedling", "seedling", "specialized", "champion_candidate", "champion")
                )
                if tier != "seedling":
                    decisions.append((code, "seedling", 2021, "admit", "2021年度入库", None, "seed"))
                decisions.append(
                    (
                        code,
                        tier,
                        2022,
                        "admit",
                        "2022年度评审",
                        "seedling" if tier != "seedling" else None,
                        "seed",
                    )
                )
                if tier in ("specialized", "little_giant"):
                    titles.append(
                        (
                            code,
                            "specialized_sme",
                            "provincial",
                            "浙江省经济和信息化厅",
                            "2022年",
                            date(2022, 7, 1),
                            date(2025, 6, 30),
                            "2022",
                            "浙经信企业〔2022〕",
                        )
                    )
    await conn.copy_records_to_table(
        "enterprises", schema_name="registry", records=enterprises, columns=ENTERPRISE_COLUMNS
    )
    await conn.copy_records_to_table(
        "indicators", schema_name="registry", records=indicators, columns=INDICATOR_COLUMNS
    )
    await conn.copy_records_to_table(
        "scale_statuses",
        schema_name="registry",
        records=scale,
        columns=("credit_code", "status", "effective_year", "source"),
    )
    await conn.copy_records_to_table(
        "titles",
        schema_name="registry",
        records=titles,
        columns=(
            "credit_code",
            "kind",
            "level",
            "issuer",
            "batch",
            "valid_from",
            "valid_to",
            "rule_version",
            "source_document",
        ),
    )
    await conn.copy_records_to_table(
        "pool_decisions",
        schema_name="registry",
        records=decisions,
        columns=("credit_code", "tier", "year", "decision", "reason", "previous_tier", "decided_by"),
    )
    # Parks: two per city (one in a county with tenants), ratings 2–5.
    for k, city in enumerate(cities):
        for j in range(2):
            county = counties[city][j % len(counties[city])]
            stars = (k + j) % 4 + 2
            park_id = await conn.fetchval(
                "INSERT INTO registry.parks (name, region_code, address, opened_on, star_rating, rated_on, national_demo_base) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (region_code, name) DO NOTHING RETURNING id",
                f"{regions()[county].name}小微企业园{'一' if j == 0 else '二'}期",
                county,
                f"{regions()[county].name}园区路{j + 1}号",
                date(2017 + j, 6, 1),
                stars,
                date(2022, 3, 1),
                stars == 5,
            )
            if park_id is None:
                continue
            tenants = [e[0] for e in enterprises if e[2] == county][:8]
            await conn.executemany(
                "INSERT INTO registry.park_tenants (park_id, credit_code, moved_in_on) VALUES ($1, $2, $3)",
                [(park_id, t, date(2019 + (h % 3), 3, 1)) for h, t in enumerate(tenants)],
            )


async def generate(conn: asyncpg.Connection, count: int, *, chunk: int = 50_000, seed: int = 4754) -> None:
    """Bulk-load `count` enterprises (codes marked 'G' at position 9) with two indicator years,
    plus scale facts (~8 %), tech_sme titles (~6 %) and pool tiers (~4 %), by COPY in chunks."""
    rng = random.Random(seed)
    counties = _counties()
    all_counties = [c for cs in counties.values() for c in cs]
    start = (
        await conn.fetchval("SELECT count(*) FROM registry.enterprises WHERE substr(credit_code, 9, 1) = 'G'")
    ) or 0
    today = date.today()
    done = 0
    while done < count:
        n_chunk = min(chunk, count - done)
        ents, inds, scale, titles, decisions = [], [], [], [], []
        for _ in range(n_chunk):
            n = start + done + 1
            done += 1
            county = all_counties[n % len(all_counties)]
            industry, word = INDUSTRIES[rng.randrange(len(INDUSTRIES))]
            city = regions()[county[:4] + "00"].name.removesuffix("市")
            name = f"{city}{rng.choice(WORDS)}{rng.choice(WORDS)}{rng.choice(WORDS)}{word}有限公司"
            code = _code(county, "G", n)
            ents.append(
                (
                    code,
                    name,
                    county,
                    industry,
                    date(1990 + n % 33, 1 + n % 12, 1 + n % 28),
                    None,
                    None,
                    None,
                    "generated",
                )
            )
            size = _pick_size(rng)
            for k, year in enumerate(YEARS):
                figs = _figures(rng, industry, size, 1 + 0.05 * k)
                revenue = figs["revenue"]
                cls = classify(industry, figs).size
                inds.append(
                    (
                        code,
                        year,
                        figs["employees"],
                        Decimal(revenue),
                        Decimal(revenue * 9 // 10),
                        Decimal(figs["total_assets"]),
                        Decimal(figs["total_assets"] // 2),
                        None,
                        Decimal(revenue // 30),
                        None,
                        n % 7,
                        None,
                        None,
                        None,
                        n % 3 != 0,
                        None,
                        None,
                        None,
                        None,
                        None,
                        cls,
                        "2017-213",
                        None,
                    )
                )
            r = rng.random()
            if r < 0.08:
                scale.append((code, "above", rng.choice((2020, 2021, 2022)), "generated"))
            if r < 0.06:
                titles.append(
                    (code, "tech_sme", "provincial", today - timedelta(days=200), today + timedelta(days=800))
                )
            if r < 0.04:
                decisions.append(
                    (
                        code,
                        rng.choice(("seedling", "seedling", "specialized", "champion_candidate", "champion")),
                        2022,
                        "admit",
                        "generated",
                    )
                )
        async with conn.transaction():
            await conn.copy_records_to_table(
                "enterprises", schema_name="registry", records=ents, columns=ENTERPRISE_COLUMNS
            )
            await conn.copy_records_to_table(
                "indicators", schema_name="registry", records=inds, columns=INDICATOR_COLUMNS
            )
            await conn.copy_records_to_table(
                "scale_statuses",
                schema_name="registry",
                records=scale,
                columns=("credit_code", "status", "effective_year", "source"),
            )
            await conn.copy_records_to_table(
                "titles",
                schema_name="registry",
                records=titles,
                columns=("credit_code", "kind", "level", "valid_from", "valid_to"),
            )
            await conn.copy_records_to_table(
                "pool_decisions",
                schema_name="registry",
                records=decisions,
                columns=("credit_code", "tier", "year", "decision", "decided_by"),
            )
    await conn.execute(
        "ANALYZE registry.enterprises; ANALYZE registry.indicators; ANALYZE registry.titles; "
        "ANALYZE registry.scale_statuses; ANALYZE registry.pool_decisions"
    )

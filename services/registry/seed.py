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
from alembic_utils.pg_trigger import PGTrigger

from services.common.credit_code import ALPHABET, VALUE, WEIGHTS, make_credit_code
from services.common.today import today_shanghai
from services.registry.enterprises.repository import FIELDS
from services.registry.indicators import db as indicators_db
from services.registry.pool import db as pool_db
from services.registry.reference.data import regions
from services.registry.reference.sizing import classify, figures_for, table
from services.registry.scale import db as scale_db
from services.registry.stats import db as stats_db

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
    ("6429", "网络科技"),
    ("5132", "服装贸易"),
    ("5174", "五金贸易"),
    ("5211", "百货"),
    ("5431", "物流"),
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
ENTERPRISE_COLUMNS = ("credit_code", *FIELDS, "rule_set_version")
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


# ---- bulk generator -------------------------------------------------------------------------
# Every generated value is a deterministic function of the enterprise number n: r(k) below is a
# pseudo-random number in [0, 1) from PostgreSQL's hashint8extended(n, k). The rows are made by
# INSERT … SELECT FROM generate_series inside the server (no per-row round trips, no Python loop).


def _r(k: int) -> str:
    return f"((hashint8extended(g.n, {k} * 100003 + @SEED) & 2147483647)::float8 / 2147483648.0)"


def _pick(options: tuple[str, ...] | list[str], k: int) -> str:
    arr = "ARRAY[" + ", ".join(f"'{o}'" for o in options) + "]"
    return f"({arr})[1 + floor({_r(k)} * {len(options)})::int]"


def _figures_sql(k: int) -> tuple[str, str, str]:
    """employees, revenue, total_assets for indicator year index k (0 = 2021, 1 = 2022); `ind`
    carries the industry's base figures per size (small/medium/large) and `g.size`."""
    f = f"(1 + {_r(10 + k)} * 0.35)"
    growth = f"{1 + 0.05 * k}"

    def base(ind: str) -> str:
        return (
            f"CASE g.size WHEN 'small' THEN ind.{ind}_s WHEN 'medium' THEN ind.{ind}_m ELSE ind.{ind}_l END"
        )

    employees = (
        f"CASE WHEN g.size = 'micro' THEN 1 + floor({_r(20 + k)} * 8)::int "
        f"ELSE greatest(1, floor(({base('emp')})::int * {f} * {growth})::int) END"
    )
    revenue = (
        f"greatest(50000, CASE WHEN g.size = 'micro' THEN 100000 + floor({_r(22 + k)} * 2400001) "
        f"ELSE floor(({base('rev')}) * {f} * {growth}) END)::numeric(17, 2)"
    )
    assets = (
        f"greatest(50000, CASE WHEN g.size = 'micro' THEN 50000 + floor({_r(24 + k)} * 850001) "
        f"ELSE floor(({base('ta')}) * {f}) END)::numeric(17, 2)"
    )
    return employees, revenue, assets


def _classify_sql(emp: str, rev: str, ta: str) -> str:
    """The size table (services/registry/reference/sizing.py) in SQL over `ind`'s bounds (yuan)."""

    def meets(t: str) -> str:
        return (
            f"(ind.b_emp_{t} IS NULL OR {emp} >= ind.b_emp_{t}) AND (ind.b_rev_{t} IS NULL OR {rev} >= ind.b_rev_{t}) "
            f"AND (ind.b_ta_{t} IS NULL OR {ta} >= ind.b_ta_{t})"
        )

    return (
        f"CASE WHEN {meets('l')} THEN 'large' WHEN {meets('m')} THEN 'medium' "
        f"WHEN {meets('s')} THEN 'small' ELSE 'micro' END"
    )


def _generated(start: int, count: int) -> str:
    """One row per generated enterprise n with its pseudo-random choices (a subquery `g`)."""
    sizes = "CASE " + " ".join(
        f"WHEN {_r(5)} * 100 < {sum(w for _, w in SIZE_WEIGHTS[: i + 1])} THEN '{s}'"
        for i, (s, _) in enumerate(SIZE_WEIGHTS)
    )
    digits = " + ".join(f"((n / {31 ** (7 - i)}) % 31) * {WEIGHTS[9 + i]}" for i in range(8))
    code_digits = " || ".join(
        f"substr('{ALPHABET}', 1 + ((n / {31 ** (7 - i)}) % 31)::int, 1)" for i in range(8)
    )
    return f"""(SELECT n, c.county, c.city_name, c.psum,
               floor({_r(1)} * {len(INDUSTRIES)})::int AS industry_idx,
               '91' || c.county || 'G' || {code_digits}
                 || substr('{ALPHABET}', 1 + ((31 - (c.psum + {digits}) % 31) % 31)::int, 1) AS code,
               {sizes} ELSE 'micro' END AS size,
               {_r(30)} AS r_facts
        FROM generate_series({start + 1}::bigint, {start + count}::bigint) AS n
        JOIN _gen_counties c ON c.idx = n % (SELECT count(*) FROM _gen_counties)) g
       JOIN _gen_industries ind ON ind.idx = g.industry_idx""".replace("g.n,", "n,")


async def _reference_tables(conn: asyncpg.Connection) -> None:
    """Temp tables the generator joins: counties (with the credit-code checksum of '91' + county +
    'G'), industries with base figures per size and the size bounds in API units."""
    counties = _counties()
    all_counties = [c for cs in counties.values() for c in cs]
    await conn.execute(
        "CREATE TEMP TABLE _gen_counties (idx int PRIMARY KEY, county text, city_name text, psum int) "
        "ON COMMIT DROP;"
        "CREATE TEMP TABLE _gen_industries (idx int PRIMARY KEY, code text, word text, "
        "emp_s int, emp_m int, emp_l int, rev_s numeric, rev_m numeric, rev_l numeric, "
        "ta_s numeric, ta_m numeric, ta_l numeric, "
        "b_emp_s int, b_emp_m int, b_emp_l int, b_rev_s numeric, b_rev_m numeric, b_rev_l numeric, "
        "b_ta_s numeric, b_ta_m numeric, b_ta_l numeric) ON COMMIT DROP"
    )
    rows = []
    for i, county in enumerate(all_counties):
        prefix = "91" + county + "G"
        psum = sum(VALUE[ch] * w for ch, w in zip(prefix, WEIGHTS, strict=False))
        rows.append((i, county, regions()[county[:4] + "00"].name.removesuffix("市"), psum))
    await conn.copy_records_to_table("_gen_counties", records=rows)
    rows = []
    for i, (code, word) in enumerate(INDUSTRIES):
        figs = {s: figures_for(code, s) for s in ("small", "medium", "large")}
        bounds = table().row_for(code).bounds
        row: list = [i, code, word]
        for ind in ("employees", "revenue", "total_assets"):
            row += [int(figs[s][ind]) if ind == "employees" else Decimal(figs[s][ind]) for s in figs]
        for ind in ("employees", "revenue", "total_assets"):
            b = bounds.get(ind)
            row += [
                None if b is None else (b[t] if ind == "employees" else Decimal(b[t]) * 10000)
                for t in ("small", "medium", "large")
            ]
        rows.append(tuple(row))
    await conn.copy_records_to_table("_gen_industries", records=rows)


async def generate(conn: asyncpg.Connection, count: int, *, chunk: int = 250_000, seed: int = 4754) -> None:
    """Bulk-load `count` enterprises (codes marked 'G' at position 9) with 2021 and 2022
    indicators, plus scale facts (~8 %), tech_sme titles (~6 %) and pool tiers (~4 %).

    Rows are generated inside PostgreSQL (INSERT … SELECT FROM generate_series). The statement
    triggers that keep the enterprises' derived columns (size class, scale status, tier) are
    switched off for the load, and the same values are written with the enterprise rows in the
    same pass (they are all new enterprises, so the latest fact is the generated one). `seed`
    shifts the pseudo-random streams."""
    start = (
        await conn.fetchval("SELECT count(*) FROM registry.enterprises WHERE substr(credit_code, 9, 1) = 'G'")
    ) or 0
    today = today_shanghai()
    done = 0
    while done < count:
        n_chunk = min(chunk, count - done)
        async with conn.transaction():
            await _load_chunk(conn, start + done, n_chunk, today, seed)
        done += n_chunk
    # The statistics summaries' triggers were off during the load: refill them in one pass.
    await conn.execute("SELECT registry.rebuild_summaries()")
    # VACUUM sets the visibility map, so the covering indexes answer index-only scans at once.
    for t in (
        "enterprises",
        "indicators",
        "titles",
        "scale_statuses",
        "pool_decisions",
        "region_year_summaries",
    ):
        await conn.execute(f"VACUUM ANALYZE registry.{t}")


def load_triggers() -> list[PGTrigger]:
    """The triggers switched off during the bulk load, as their modules declare them: the
    derived-column triggers (the load writes those columns itself) and the statistics summaries'
    write triggers (rebuilt once at the end)."""
    return [*indicators_db.TRIGGERS, *scale_db.TRIGGERS, *pool_db.TRIGGERS, *stats_db.FACT_SUMMARY_TRIGGERS]


async def _load_chunk(conn: asyncpg.Connection, start: int, count: int, today: date, seed: int) -> None:
    async def ex(sql: str, *args) -> None:
        await conn.execute(sql.replace("@SEED", str(seed)), *args)

    await _reference_tables(conn)
    for trigger in load_triggers():
        await conn.execute(f"ALTER TABLE {trigger.on_entity} DISABLE TRIGGER {trigger.signature}")
    g = _generated(start, count)
    emp, rev, ta = _figures_sql(1)
    size_2022 = _classify_sql(emp, rev, ta)
    has_scale = "g.r_facts < 0.08"
    has_tier = "g.r_facts < 0.04"
    tier = _pick(("seedling", "seedling", "specialized", "champion_candidate", "champion"), 32)
    scale_year = f"2020 + floor({_r(31)} * 3)::int"
    words = [_pick(WORDS, k) for k in (2, 3, 4)]
    await ex(
        f"""INSERT INTO registry.enterprises (credit_code, name, region_code, industry_code, established_on,
              rule_set_version, size_class, size_year, scale_status, scale_year, tier, tier_year)
            SELECT g.code, g.city_name || {" || ".join(words)} || ind.word || '有限公司', g.county, ind.code,
                   make_date(1990 + (g.n % 33)::int, 1 + (g.n % 12)::int, 1 + (g.n % 28)::int), 'generated',
                   {size_2022}, 2022,
                   CASE WHEN {has_scale} THEN 'above' END, CASE WHEN {has_scale} THEN {scale_year} END,
                   CASE WHEN {has_tier} THEN {tier} END, CASE WHEN {has_tier} THEN 2022 END
            FROM {g}"""
    )
    for k, year in enumerate(YEARS):
        emp, rev, ta = _figures_sql(k)
        await ex(
            f"""INSERT INTO registry.indicators (credit_code, year, employees, revenue, main_business_revenue,
                  total_assets, total_liabilities, rd_expense, invention_patents, on_cloud, size_class,
                  size_rule_version)
                SELECT credit_code, {year}, emp, rev, floor(rev * 9 / 10), ta, floor(ta / 2), floor(rev / 30),
                       (n % 7)::int, n % 3 <> 0,
                       {_classify_sql("emp", "rev", "ta")}, '{table().version}'
                FROM (SELECT g.code AS credit_code, g.n, ind.*, {emp} AS emp, {rev} AS rev, {ta} AS ta FROM {g}) ind"""
        )
    await ex(
        f"""INSERT INTO registry.scale_statuses (credit_code, status, effective_year, source)
            SELECT g.code, 'above', {scale_year}, 'generated' FROM {g} WHERE {has_scale}"""
    )
    await ex(
        f"""INSERT INTO registry.titles (credit_code, kind, level, valid_from, valid_to)
            SELECT g.code, 'tech_sme', 'provincial', $1::date, $2::date FROM {g} WHERE g.r_facts < 0.06""",
        today - timedelta(days=200),
        today + timedelta(days=800),
    )
    await ex(
        f"""INSERT INTO registry.pool_decisions (credit_code, tier, year, decision, reason, decided_by)
            SELECT g.code, {tier}, 2022, 'admit', 'generated', 'generated' FROM {g} WHERE {has_tier}"""
    )
    for trigger in load_triggers():
        await conn.execute(f"ALTER TABLE {trigger.on_entity} ENABLE TRIGGER {trigger.signature}")

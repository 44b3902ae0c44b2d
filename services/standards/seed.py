"""Standards demo data and the bulk certificate generator (`eaglet seed standards --certificates N`).

`seed_demo(conn)`: a catalogue of real-looking national and international standards (some adopted
IDT/MOD/NEQ), a hundred T/ZZB 浙江制造 standards, drafters, adoption reports, and certificates from
three certification bodies (CQM 方圆标志认证集团, CQC 中国质量认证中心, ZJGX 浙江公信认证) for the
registry's demo enterprises (read from `registry.enterprise_directory`) in every status, each with
its history — written through the same bulk SQL the push API uses. Deterministic: fixed random seed,
enterprises in credit-code order; certificate dates are relative to the seed day.
"""

from __future__ import annotations

import json
import random
import time
from datetime import date, timedelta

import asyncpg

from services.common.credit_code import ALPHABET, make_credit_code
from services.common.today import today_shanghai
from services.standards.certifications.repository import STATE_FIELDS, write_states
from services.standards.certifications.rules import VERSION

# The demo certificates' change rows: each one's state (as a push logs it) and its body.
_STATE_PAIRS = ", ".join(f"'{f}', {f}" for f in STATE_FIELDS)

BODIES = [("CQM", "方圆标志认证集团有限公司"), ("CQC", "中国质量认证中心"), ("ZJGX", "浙江公信认证有限公司")]
INTERNATIONAL = [
    ("ISO 9001:2015", "Quality management systems — Requirements", "2015-09-15"),
    ("ISO 14001:2015", "Environmental management systems — Requirements with guidance for use", "2015-09-15"),
    ("ISO 45001:2018", "Occupational health and safety management systems", "2018-03-12"),
    ("IEC 60335-1:2020", "Household and similar electrical appliances — Safety — Part 1", "2020-09-14"),
    ("IEC 60034-1:2022", "Rotating electrical machines — Part 1: Rating and performance", "2022-02-10"),
    ("ISO 6336-1:2019", "Calculation of load capacity of spur and helical gears — Part 1", "2019-11-05"),
    ("ISO 281:2007", "Rolling bearings — Dynamic load ratings and rating life", "2007-02-15"),
    (
        "ISO 4406:2021",
        "Hydraulic fluid power — Fluids — Method for coding the level of contamination",
        "2021-01-20",
    ),
    ("ISO 10816-3:2009", "Mechanical vibration — Evaluation of machine vibration", "2009-02-01"),
    (
        "IEC 61000-6-2:2016",
        "Electromagnetic compatibility — Immunity for industrial environments",
        "2016-08-24",
    ),
    ("ISO 8502-3:2017", "Preparation of steel substrates — Assessment of dust", "2017-04-01"),
    ("ISO 13849-1:2023", "Safety of machinery — Safety-related parts of control systems", "2023-04-20"),
    ("ISO 20653:2023", "Road vehicles — Degrees of protection (IP code)", "2023-01-17"),
    ("IEC 62660-1:2018", "Secondary lithium-ion cells for electric road vehicles — Part 1", "2018-12-12"),
    ("ISO 22000:2018", "Food safety management systems", "2018-06-19"),
    ("ISO 3744:2010", "Acoustics — Determination of sound power levels", "2010-10-01"),
]
NATIONAL = [
    ("GB/T 19001-2016", "national", "质量管理体系 要求", "2016-12-30", "ISO 9001:2015", "IDT"),
    ("GB/T 24001-2016", "national", "环境管理体系 要求及使用指南", "2016-10-13", "ISO 14001:2015", "IDT"),
    (
        "GB/T 45001-2020",
        "national",
        "职业健康安全管理体系 要求及使用指南",
        "2020-03-06",
        "ISO 45001:2018",
        "IDT",
    ),
    (
        "GB 4706.1-2005",
        "national",
        "家用和类似用途电器的安全 第1部分：通用要求",
        "2005-08-26",
        "IEC 60335-1:2020",
        "MOD",
    ),
    ("GB/T 755-2019", "national", "旋转电机 定额和性能", "2019-10-18", "IEC 60034-1:2022", "IDT"),
    (
        "GB/T 3480.1-2019",
        "national",
        "直齿轮和斜齿轮承载能力计算 第1部分",
        "2019-12-10",
        "ISO 6336-1:2019",
        "MOD",
    ),
    ("GB/T 6391-2010", "national", "滚动轴承 额定动载荷和额定寿命", "2010-09-02", "ISO 281:2007", "IDT"),
    (
        "GB/T 14039-2002",
        "national",
        "液压传动 油液 固体颗粒污染等级代号",
        "2002-07-25",
        "ISO 4406:2021",
        "MOD",
    ),
    (
        "GB/T 17799.2-2023",
        "national",
        "电磁兼容 通用标准 工业环境中的抗扰度标准",
        "2023-05-23",
        "IEC 61000-6-2:2016",
        "IDT",
    ),
    (
        "GB/T 16855.1-2018",
        "national",
        "机械安全 控制系统安全相关部件 第1部分",
        "2018-12-28",
        "ISO 13849-1:2023",
        "IDT",
    ),
    (
        "GB/T 22000-2006",
        "national",
        "食品安全管理体系 食品链中各类组织的要求",
        "2006-03-01",
        "ISO 22000:2018",
        "IDT",
    ),
    ("GB/T 3767-2016", "national", "声学 声压法测定噪声源声功率级", "2016-02-24", "ISO 3744:2010", "NEQ"),
    ("GB 18401-2010", "national", "国家纺织产品基本安全技术规范", "2011-01-14", None, None),
    ("GB/T 1184-1996", "national", "形状和位置公差 未注公差值", "1996-03-01", None, None),
    ("JB/T 10391-2008", "industry", "Y系列(IP44)三相异步电动机 技术条件", "2008-06-04", None, None),
    ("QB/T 1333-2018", "industry", "手提包", "2018-11-01", None, None),
    ("DB33/T 2350-2021", "local", "数字化车间通用要求", "2021-06-01", None, None),
    ("DB33/T 944.1-2022", "local", "小微企业园建设与管理规范", "2022-03-01", None, None),
    ("T/CAMS 105-2022", "group", "工业机器人用精密减速器", "2022-07-01", None, None),
    ("T/CEEIA 496-2021", "group", "永磁同步电动机能效分级", "2021-09-01", None, None),
]
ZZB_PRODUCTS = [
    "齿轮减速电机",
    "电动工具用锂电池包",
    "不锈钢保温杯",
    "智能马桶盖",
    "汽车轮毂轴承单元",
    "液压齿轮泵",
    "高速精密冲床",
    "工业缝纫机",
    "永磁同步电动机",
    "LED 筒灯",
    "塑料拉链",
    "袜子",
    "竹制砧板",
    "五金合页",
    "电热水壶",
    "燃气灶具",
    "光伏逆变器",
    "伺服电机",
    "数控车床",
    "阀门执行器",
    "羊绒衫",
    "茶叶(龙井)",
    "锂电池隔膜",
    "电动自行车控制器",
    "水泵机组",
]
SEED_SUB = "seed:standards"


def zzb_catalogue() -> list[tuple[str, str, str]]:
    out = []
    for i in range(1, 101):
        year = 2015 + (i * 7) % 9
        product = ZZB_PRODUCTS[i % len(ZZB_PRODUCTS)]
        out.append(
            (
                f"T/ZZB {i:04d}—{year}",
                f"{product}（第{(i // len(ZZB_PRODUCTS)) + 1}版）",
                f"{year}-{(i % 12) + 1:02d}-15",
            )
        )
    return out


async def _holders(conn: asyncpg.Connection, limit: int) -> list[tuple[str, str, str | None]]:
    rows = await conn.fetch(
        "SELECT credit_code, name, industry_section FROM registry.enterprise_directory "
        "ORDER BY credit_code LIMIT $1",
        limit,
    )
    holders = [(r["credit_code"], r["name"], r["industry_section"]) for r in rows]
    rng = random.Random(7)
    while len(holders) < min(limit, 12):  # no registry demo data: unmatched holders still verify
        code = make_credit_code("91330106" + "".join(rng.choice(ALPHABET) for _ in range(9)))
        holders.append((code, f"浙江示例制造有限公司{len(holders) + 1}", "C"))
    return holders


async def seed_demo(conn: asyncpg.Connection) -> None:
    rng = random.Random(20220601)
    rows = [(c, "international", t, date.fromisoformat(d), None, None) for c, t, d in INTERNATIONAL]
    from services.standards.catalogue.codes import normalize_standard_code

    rows += [
        (normalize_standard_code(c), lvl, t, date.fromisoformat(d), ic, deg)
        for c, lvl, t, d, ic, deg in NATIONAL
    ]
    rows += [(c, "zhejiang_made", t, date.fromisoformat(d), None, None) for c, t, d in zzb_catalogue()]
    await conn.executemany(
        "INSERT INTO standards.standards (code, level, title, published_on, adoption_international_code, "
        "adoption_degree) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (code) DO NOTHING",
        rows,
    )
    ids = {r["code"]: r["id"] for r in await conn.fetch("SELECT code, id FROM standards.standards")}
    zzb = [c for c, _, _ in zzb_catalogue()]
    holders = await _holders(conn, 60)
    codes = [h[0] for h in holders]

    # Drafting: a few international standards led from Zhejiang, every T/ZZB with a lead drafter.
    drafters = []
    for i, (code, _, _) in enumerate(INTERNATIONAL[:8]):
        drafters.append((ids[code], codes[i % len(codes)], "lead"))
        drafters.append((ids[code], codes[(i + 5) % len(codes)], "participant"))
    for i, code in enumerate(zzb):
        drafters.append((ids[code], codes[(i * 3) % len(codes)], "lead"))
        drafters.append((ids[code], codes[(i * 3 + 1) % len(codes)], "participant"))
    await conn.executemany(
        "INSERT INTO standards.standard_drafters (standard_id, credit_code, role) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING",
        drafters,
    )

    # Adoption reports for industrial holders, 2021–2023.
    reports = []
    for code, _, section in holders:
        if section not in ("B", "C", "D"):
            continue
        for year in (2021, 2022, 2023):
            main = rng.randint(2, 8)
            adopting = [
                {
                    "product": f"主导产品{k + 1}",
                    "standard_code": INTERNATIONAL[rng.randrange(len(INTERNATIONAL))][0],
                    "degree": rng.choice(["IDT", "IDT", "MOD", "NEQ"]),
                }
                for k in range(rng.randint(0, main))
            ]
            counted = sum(1 for p in adopting if p["degree"] in ("IDT", "MOD"))
            reports.append(
                (code, year, main, counted, json.dumps(adopting, ensure_ascii=False), f"{year}年度统计报表")
            )
    await conn.executemany(
        "INSERT INTO standards.adoption_reports (credit_code, year, main_products, adopting_count, "
        "adopting_products, basis) VALUES ($1, $2, $3, $4, $5::jsonb, $6) ON CONFLICT DO NOTHING",
        reports,
    )

    # Certificates in every status, with their histories.
    today = today_shanghai()  # dates relative to the seed day, so the demo shows live certificates
    statuses = ["valid", "valid", "valid", "suspended", "revoked", "cancelled", "expired"]
    for b, (body, _) in enumerate(BODIES):
        if await conn.fetchval("SELECT count(*) FROM standards.certificates WHERE certifier = $1", body):
            continue  # already seeded (`eaglet seed --force` keeps existing certificates)
        finals: dict[str, dict] = {}
        history: list[dict] = []
        for i, (code, name, _) in enumerate(holders):
            if i % len(BODIES) != b:
                continue
            kind = statuses[i % len(statuses)]
            issued = today - timedelta(days=rng.randrange(90, 900))
            if kind == "expired":
                issued = today - timedelta(days=1095 + rng.randrange(1, 300))
            expires = issued + timedelta(days=3 * 365)
            no = f"{body}-ZJM{issued.year % 100:02d}-{i + 1:05d}"
            record = {
                "certificate_no": no,
                "holder_credit_code": code,
                "holder_name": name,
                "product": ZZB_PRODUCTS[i % len(ZZB_PRODUCTS)],
                "scope": "产品设计、生产和服务",
                "standard_code": zzb[i % len(zzb)],
                "rule_code": f"ZJM-{i % 40 + 1:03d}-{4400 + i:04d}-{issued.year}",
                "issued_on": issued,
                "expires_on": expires,
                "status": "valid",
                "status_effective_on": issued,
                "status_reason": None,
            }
            steps = [dict(record)]
            if kind in ("suspended", "revoked", "cancelled"):
                when = issued + timedelta(days=rng.randrange(30, (today - issued).days))
                reason = {
                    "suspended": "年度监督审核发现不符合项",
                    "revoked": "监督抽样检验不合格",
                    "cancelled": "持证人申请注销",
                }[kind]
                steps.append({**record, "status": kind, "status_effective_on": when, "status_reason": reason})
            for revision, step in enumerate(steps, start=1):
                history.append(
                    {
                        "certificate_no": no,
                        "revision": revision,
                        "action": "created" if revision == 1 else "updated",
                        "status": step["status"],
                        "status_effective_on": step["status_effective_on"],
                        "status_reason": step["status_reason"],
                        "record": {k: (v.isoformat() if isinstance(v, date) else v) for k, v in step.items()},
                    }
                )
            finals[no] = {**{f: steps[-1][f] for f in STATE_FIELDS}, "revision": len(steps)}
        await write_states(conn, body, finals, history, VERSION, SEED_SUB, None)
    await conn.execute(
        "INSERT INTO standards.changes (actor_subject, actor_kind, action, entity_type, entity_key, after) "
        "SELECT $1, 'admin', 'created', 'certificate', certifier || '|' || certificate_no, "
        # the certificate's state as a push logs it, and the body (the seed is no certifier)
        f"jsonb_build_object({_STATE_PAIRS}, 'revision', revision, "
        "'certifier', certifier) FROM standards.certificates "
        "WHERE NOT EXISTS (SELECT 1 FROM standards.changes ch WHERE ch.entity_type = 'certificate' "
        "AND ch.entity_key = certificates.certifier || '|' || certificates.certificate_no)",
        SEED_SUB,
    )


async def generate(conn: asyncpg.Connection, count: int) -> None:
    """Bulk-generate `count` certificates (COPY) across the three bodies, each with a history row."""
    rng = random.Random(count)
    tag = f"G{int(time.time()) % 10_000_000:07d}"
    holders = [
        r["credit_code"] for r in await conn.fetch("SELECT credit_code FROM registry.enterprise_directory")
    ]
    if not holders:
        holders = [
            make_credit_code(
                "91330" + f"{rng.randrange(100, 1000)}" + "".join(rng.choice(ALPHABET) for _ in range(9))
            )
            for _ in range(5000)
        ]
    zzb = [c for c, _, _ in zzb_catalogue()]
    rows = []
    for i in range(count):
        issued = date(2020, 1, 1) + timedelta(days=rng.randrange(0, 1800))
        status = rng.choices(["valid", "suspended", "revoked", "cancelled"], [85, 5, 5, 5])[0]
        rows.append(
            (
                BODIES[i % 3][0],
                f"{tag}-{i:09d}",
                holders[i % len(holders)],
                f"浙江生成企业{i % 99991}有限公司",
                ZZB_PRODUCTS[i % len(ZZB_PRODUCTS)],
                None,
                zzb[i % len(zzb)],
                "ZJM-006-4481-2023",
                issued,
                issued + timedelta(days=1095),
                status,
                issued if status == "valid" else issued + timedelta(days=180),
                None if status == "valid" else "生成数据",
                1,
                VERSION,
            )
        )
    async with conn.transaction():
        await conn.copy_records_to_table(
            "certificates",
            schema_name="standards",
            records=rows,
            columns=["certifier", "certificate_no", *STATE_FIELDS, "revision", "rule_set_version"],
        )
        await conn.execute(
            "INSERT INTO standards.certificate_history (certificate_id, revision, action, certifier, "
            "certificate_no, status, status_effective_on, status_reason, record, rule_set_version, pushed_by) "
            "SELECT id, 1, 'created', certifier, certificate_no, status, status_effective_on, status_reason, "
            "jsonb_build_object('certificate_no', certificate_no, 'status', status), rule_set_version, $2 "
            "FROM standards.certificates WHERE certificate_no LIKE $1",
            f"{tag}-%",
            SEED_SUB,
        )

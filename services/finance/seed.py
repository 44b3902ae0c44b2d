"""Finance demo data and the bulk loan generator (`eaglet seed finance --loans N`).

`seed_demo(conn)`: five banks, two guarantors, and for the registry's demo enterprises (read from
`registry.enterprise_directory`) loans, credit lines, applications and guarantees over 2020–2022,
written through the same set-based upserts the API uses (so derived fields and the change log are
the same). Deterministic: a fixed random seed and enterprises in credit-code order.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import asyncpg

from services.common.auth import Principal
from services.common.credit_code import ALPHABET, make_credit_code
from services.finance import bulk
from services.finance.applications.repository import SPEC as APPLICATIONS
from services.finance.book.repository import SPEC as BOOKS
from services.finance.guarantees.repository import SPEC as GUARANTEES
from services.finance.lines.repository import SPEC as LINES
from services.finance.loans.repository import REPORTED as LOAN_COLUMNS
from services.finance.loans.repository import SPEC as LOANS
from services.finance.loans.repository import inclusive_of, recompute_inclusive
from services.finance.rules import VERSION

BANKS = [
    ("ICBC-ZJ", "中国工商银行浙江省分行", "330100"),
    ("CCB-ZJ", "中国建设银行浙江省分行", "330100"),
    ("ZJRCU", "浙江农商联合银行", "330100"),
    ("NBCB", "宁波银行", "330200"),
    ("TZB", "台州银行", "331000"),
]
GUARANTORS = [
    ("ZJGC", "浙江省融资担保有限公司", "330100", Decimal("5000000000.00"), True),
    ("WZGC", "温州市融资担保有限公司", "330300", Decimal("1200000000.00"), True),
]
PRODUCTS = [
    "credit",
    "guaranteed",
    "mortgage",
    "pledge",
    "ip_pledge",
    "receivables",
    "supply_chain",
    "inventory",
]
SEED_ACTOR = Principal(sub="seed:finance", kind="admin")


def _d(rng: random.Random, year: int) -> date:
    return date(year, 1, 1) + timedelta(days=rng.randrange(0, 360))


async def seed_demo(conn: asyncpg.Connection) -> None:
    rng = random.Random(20220601)
    await conn.executemany(
        "INSERT INTO finance.institutions (code, name, kind, region_code) VALUES ($1, $2, 'bank', $3) "
        "ON CONFLICT (code) DO NOTHING",
        BANKS,
    )
    await conn.executemany(
        "INSERT INTO finance.institutions (code, name, kind, region_code, net_assets, small_micro_focused) "
        "VALUES ($1, $2, 'guarantor', $3, $4, $5) ON CONFLICT (code) DO NOTHING",
        GUARANTORS,
    )
    rows = await conn.fetch(
        "SELECT credit_code, name, size_class FROM registry.enterprise_directory ORDER BY credit_code LIMIT 200"
    )
    enterprises = [(r["credit_code"], r["name"], r["size_class"] or "small") for r in rows]
    if not enterprises:  # registry not seeded: a few borrowers the registry does not know (unmatched)
        enterprises = [
            (
                make_credit_code("91330106" + "".join(rng.choice(ALPHABET) for _ in range(9))),
                f"演示企业{i}",
                "small",
            )
            for i in range(20)
        ]
    loans: dict[str, list] = {b[0]: [] for b in BANKS}
    lines: dict[str, list] = {b[0]: [] for b in BANKS}
    apps: dict[str, list] = {b[0]: [] for b in BANKS}
    guarantees: dict[str, list] = {g[0]: [] for g in GUARANTORS}
    for i, (code, name, size) in enumerate(enterprises):
        bank = BANKS[i % len(BANKS)][0]
        if i % 3 == 0:
            amount = Decimal(rng.choice([3, 5, 8, 12])) * 1_000_000
            granted = _d(rng, 2020)
            lines[bank].append(
                (f"CL-{i:05d}", code, amount, granted, granted + timedelta(days=3 * 365), "active", None)
            )
        for year in (2020, 2021, 2022):
            issued = _d(rng, year)
            amount = Decimal(rng.randrange(20, 500)) * 10_000
            repaid = year < 2022 and rng.random() < 0.5
            ref = f"L-{year}-{i:05d}"
            status = "repaid" if repaid else "outstanding"
            loans[bank].append(
                (
                    ref, code, name, size, rng.choice(PRODUCTS), amount,
                    Decimal(rng.randrange(300, 700)) / 100, issued, issued + timedelta(days=365),
                    "new" if year == 2020 else rng.choice(["new", "renewal_without_repayment"]),
                    year == 2020 and i % 4 == 0, None,
                    f"G-{i:05d}" if i % 5 == 0 and year == 2022 else None,
                    Decimal("0.00") if repaid else (amount * Decimal("0.8")).quantize(Decimal("0.01")),
                    status, issued + timedelta(days=300) if repaid else None, "enterprise", None,
                )
            )  # fmt: skip
            applied = issued - timedelta(days=20)
            decision = "approved" if rng.random() < 0.8 else "rejected"
            apps[bank].append(
                (f"A-{year}-{i:05d}", code, applied, amount, decision, applied + timedelta(days=7), size)
            )
        if i % 5 == 0:
            g = GUARANTORS[i % 2][0]
            compensated = i % 25 == 0
            guarantees[g].append(
                (
                    f"G-{i:05d}", code, bank, f"L-2022-{i:05d}", Decimal("1000000.00"),
                    Decimal("0.00") if compensated else Decimal("800000.00"), Decimal("0.9"),
                    date(2022, 3, 1), date(2023, 3, 1), "compensated" if compensated else "active", None,
                    date(2022, 11, 1) if compensated else None,
                    Decimal("300000.00") if compensated else Decimal("0"),
                    Decimal("50000.00") if compensated else Decimal("0"), True, Decimal("40"),
                )
            )  # fmt: skip
    for bank, recs in lines.items():
        await bulk.upsert(conn, LINES, bank, recs, SEED_ACTOR, VERSION)
    for bank, recs in loans.items():
        await bulk.upsert(conn, LOANS, bank, recs, SEED_ACTOR, VERSION)
        await recompute_inclusive(conn, bank, sorted({r[1] for r in recs}), SEED_ACTOR)
    for bank, recs in apps.items():
        await bulk.upsert(conn, APPLICATIONS, bank, recs, SEED_ACTOR, VERSION)
    # each bank's whole loan book (各项贷款) at the year ends, for 两增: growing 8–12 % a year
    for n, (bank, *_rest) in enumerate(BANKS):
        balance, borrowers, books = Decimal(400_000_000_000 + n * 50_000_000_000), 150_000 + n * 10_000, []
        for year in (2019, 2020, 2021, 2022):
            books.append((date(year, 12, 31), balance, borrowers))
            balance = (balance * Decimal(108 + rng.randrange(0, 5)) / 100).quantize(Decimal("0.01"))
            borrowers += rng.randrange(2_000, 9_000)
        await bulk.upsert(conn, BOOKS, bank, books, SEED_ACTOR, VERSION)
    for g, recs in guarantees.items():
        await bulk.upsert(conn, GUARANTEES, g, recs, SEED_ACTOR, VERSION)


GEN_COLUMNS = [
    "lender", *LOAN_COLUMNS, "borrower_region", "matched", "size_class", "size_source", "line_total",
    "loans_total", "inclusive", "inclusive_reason", "rule_set_version",
]  # fmt: skip
REGIONS = ["330102", "330106", "330110", "330203", "330212", "330302", "330402", "330502", "330602",
           "330702", "330802", "330902", "331002", "331102"]  # fmt: skip


def generated_loans(count: int, seed: int = 1, lender_prefix: str = "GEN", first_ref: int = 0) -> list[tuple]:
    """Deterministic loan rows (GEN_COLUMNS order) for unmatched borrowers across Zhejiang."""
    rng = random.Random(seed)
    borrowers = [
        make_credit_code("91" + rng.choice(REGIONS) + "".join(rng.choice(ALPHABET) for _ in range(9)))
        for _ in range(max(1, count // 4))
    ]
    drawn = []
    for i in range(count):
        code = borrowers[rng.randrange(len(borrowers))]
        size = rng.choice(("small", "micro", "micro", "medium", "large"))
        amount = Decimal(rng.randrange(10, 20000)) * 1000
        issued = date(2020, 1, 1) + timedelta(days=rng.randrange(0, 1095))
        closed = issued + timedelta(days=rng.randrange(30, 720)) if rng.random() < 0.4 else None
        drawn.append((f"{lender_prefix}{i % 8}", code, size, amount, issued, closed))
    # the customer's loans at the lender on each issue date (no lines): `customer_loans_total`
    by_customer: dict[tuple[str, str], list[int]] = {}
    for i, (lender, code, *_rest) in enumerate(drawn):
        by_customer.setdefault((lender, code), []).append(i)
    out = []
    for i, (lender, code, size, amount, issued, closed) in enumerate(drawn):
        total = amount + sum(
            (drawn[j][3] for j in by_customer[(lender, code)]
             if j != i and drawn[j][4] <= issued and (drawn[j][5] is None or drawn[j][5] > issued)),
            Decimal(0),
        )  # fmt: skip
        inclusive, reason = inclusive_of("enterprise", size, None, total)
        out.append(
            (
                lender, f"G{first_ref + i:010d}", code, "生成企业", size, rng.choice(PRODUCTS),
                amount, Decimal(rng.randrange(250, 900)) / 100, issued, issued + timedelta(days=365),
                "new", rng.random() < 0.1, None, None,
                Decimal("0.00") if closed else amount, "repaid" if closed else "outstanding", closed,
                "enterprise", None, code[2:8], False, size, "bank", None, total, inclusive, reason, VERSION,
            )
        )  # fmt: skip
    return out


async def generate(conn: asyncpg.Connection, count: int) -> None:
    """Bulk-load `count` generated loans with COPY (no change log: generated benchmark data)."""
    step = 200_000
    first = int(await conn.fetchval("SELECT count(*) FROM finance.loans"))
    for start in range(0, count, step):
        rows = generated_loans(min(step, count - start), seed=first + start + 7, first_ref=first + start)
        await conn.copy_records_to_table("loans", schema_name="finance", records=rows, columns=GEN_COLUMNS)

"""Change feed benchmark: how fast `GET /v1/events` reads a few hundred thousand change rows from
the start, against the bare commit-order query it is built on.

    .venv/bin/python bench/events_feed.py                  # 300,000 change rows (225,000 loans)
    .venv/bin/python bench/events_feed.py --rows 1000000
    .venv/bin/python bench/events_feed.py --reuse          # keep the scratch database between runs

Data: generated loans (`services.finance.seed.generate`, 8 banks, borrowers across Zhejiang) and
their change log as the batch upsert writes it — one `created` row per loan with the whole row in
`after`, then an `updated` row (before and after) for a third of them, a tenth of those flipping
the inclusive flag — in transactions of 5,000 rows. Uses DATABASE_URL when set (scratch database
`eaglet_bench_events`), else an embedded PostgreSQL in a temp folder.

Figures, each from the start of the log to its end, 500 per page:
- raw: `changes_after` alone (the commit-order query), rows/s: the baseline;
- core, admin: `read_events` in-process on one connection (every row an event), events/s;
- HTTP, admin: the same through `eaglet serve finance` (principal verification, read pool,
  JSON), events/s, one client reading page after page;
- a bank (one of 8: an eighth of the rows are its), and an official of Hangzhou (one lookup of
  the stored loans per page), in-process, events/s and page latency;
- a bank with no rows at all: every page examines `events.scan_rows` rows and finds nothing;
  its page latency is what such a caller costs.
Ratios are against the raw baseline of the same run. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHUNK = 5000
PAGE = 500
DATABASE = "eaglet_bench_events"

_LOG = """
INSERT INTO finance.changes (actor_subject, actor_kind, actor_org, action, entity_type, entity_key,
                             before, after)
SELECT 'bench', 'bank', l.lender, 'created', 'loan', l.lender || '/' || l.loan_ref, NULL, to_jsonb(l)
FROM finance.loans l WHERE l.id > $1 AND l.id <= $2 ORDER BY l.id
"""
# a third of the loans updated (a repayment), a tenth of those also flipping the inclusive flag
_UPDATE = """
INSERT INTO finance.changes (actor_subject, actor_kind, actor_org, action, entity_type, entity_key,
                             before, after)
SELECT 'bench', 'bank', l.lender, 'updated', 'loan', l.lender || '/' || l.loan_ref, to_jsonb(l),
       to_jsonb(l) || jsonb_build_object('outstanding_balance', 0,
                                         'inclusive', CASE WHEN l.id % 30 = 0 THEN NOT l.inclusive
                                                           ELSE l.inclusive END)
FROM finance.loans l WHERE l.id > $1 AND l.id <= $2 AND l.id % 3 = 0 ORDER BY l.id
"""


def loans_for(rows: int) -> int:
    return rows * 3 // 4  # each loan one row, a third of them a second


async def generate(conn: asyncpg.Connection, loans: int) -> None:
    from services.finance.seed import generate as generate_loans

    await generate_loans(conn, loans)
    for sql in (_LOG, _UPDATE):
        for start in range(0, loans, CHUNK):
            async with conn.transaction():  # transactions of the batch size, each its xid
                await conn.execute(sql, start, start + CHUNK)


def expect_rows(rows: int):
    async def holds(conn: asyncpg.Connection) -> bool:
        try:
            return await conn.fetchval("SELECT count(*) FROM finance.changes") == expected(rows)
        except asyncpg.UndefinedTableError:
            return False

    return holds


def expected(rows: int) -> int:
    loans = loans_for(rows)
    return loans + loans // 3


def quantiles(xs: list[float]) -> str:
    xs = sorted(xs)
    p50 = statistics.median(xs)
    p99 = xs[min(len(xs) - 1, int(len(xs) * 0.99))]
    return f"page p50 {p50 * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms"


async def raw(conn: asyncpg.Connection) -> tuple[int, float]:
    from services.common.changes import changes_after

    n, cursor, started = 0, None, time.perf_counter()
    while rows := await changes_after(conn, "finance", cursor, PAGE):
        n += len(rows)
        cursor = (rows[-1]["xid"], rows[-1]["seq"])
    return n, time.perf_counter() - started


async def core(conn: asyncpg.Connection, principal) -> tuple[int, int, float, list[float]]:
    from services.common.events import read_events

    n = pages = 0
    after, times = None, []
    started = time.perf_counter()
    while True:
        t = time.perf_counter()
        page = await read_events(conn, "finance", principal, after, None, PAGE)
        times.append(time.perf_counter() - t)
        n, pages, after = n + len(page.events), pages + 1, page.next_cursor
        if not page.has_more:
            return n, pages, time.perf_counter() - started, times


async def http(url: str, principal) -> tuple[int, float, list[float]]:
    from services.common.auth import mint_principal

    headers = {"X-Eaglet-Principal": mint_principal(principal, ttl_s=86_400)}
    n, after, times = 0, None, []
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        started = time.perf_counter()
        while True:
            t = time.perf_counter()
            r = await client.get(
                "/v1/events", params={"limit": PAGE} | ({"after": after} if after else {}), headers=headers
            )
            times.append(time.perf_counter() - t)
            r.raise_for_status()
            body = r.json()
            n, after = n + len(body["items"]), body["next_cursor"]
            if not body["has_more"]:
                return n, time.perf_counter() - started, times


async def main(rows: int, reuse: bool) -> None:
    os.environ.setdefault("EAGLET_ENV", "dev")
    from bench.database import prepare
    from bench.processes import start
    from services.common.auth import Principal
    from services.common.settings import get_settings

    loans = loans_for(rows)
    db = await prepare(
        DATABASE,
        keep_if=expect_rows(rows) if reuse else None,
        generate=lambda conn: generate(conn, loans),
    )
    try:
        conn = await asyncpg.connect(db.dsn, server_settings={"TimeZone": "UTC"})
        await conn.execute("VACUUM ANALYZE finance.changes")
        size = await conn.fetchrow(
            "SELECT count(*) AS n, pg_total_relation_size('finance.changes') AS bytes, "
            "avg(pg_column_size(after) + coalesce(pg_column_size(before), 0)) AS json FROM finance.changes"
        )
        made = (
            f"generated in {db.generated_s:.0f} s"
            if db.generated_s is not None
            else "kept from a previous run"
        )
        print(
            f"data: {size['n']:,} change rows of {loans:,} loans (8 banks), finance.changes "
            f"{size['bytes'] / 2**20:,.0f} MB with indexes, before+after {size['json']:.0f} B a row ({made})"
        )
        print(f"pages of {PAGE}; a page examines at most {get_settings().events.scan_rows:,} rows")
        await raw(conn)  # warm the cache
        n, raw_s = await raw(conn)
        raw_rate = n / raw_s
        print(
            f"  raw   changes_after alone            : {n:9,} rows   {raw_s:6.2f} s {raw_rate:10,.0f} rows/s"
        )

        admin = Principal("bench", "admin")
        n, pages, s, times = await core(conn, admin)
        print(
            f"  core  read_events, admin             : {n:9,} events {s:6.2f} s {n / s:10,.0f} events/s "
            f"(ratio {n / s / raw_rate:.2f})  {quantiles(times)}"
        )
        service = start("finance")
        try:
            await http(service.url, admin)  # warm-up: read pool, prepared statements
            n, s, times = await http(service.url, admin)
            print(
                f"  HTTP  GET /v1/events, admin          : {n:9,} events {s:6.2f} s {n / s:10,.0f} events/s "
                f"(ratio {n / s / raw_rate:.2f})  {quantiles(times)}"
            )
        finally:
            service.stop()
        for label, who in (
            ("core  a bank (an eighth of the rows)", Principal("bench", "bank", org="GEN0")),
            ("core  an official of Hangzhou       ", Principal("bench", "official", region="330100")),
            ("core  a bank with no rows           ", Principal("bench", "bank", org="NOBODY")),
        ):
            n, pages, s, times = await core(conn, who)
            print(
                f"  {label} : {n:9,} events {s:6.2f} s {n / s:10,.0f} events/s  "
                f"{pages:,} pages ({size['n'] / s:,.0f} rows examined/s)  {quantiles(times)}"
            )
        await conn.close()
    finally:
        db.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=300_000, help="change rows to generate (default 300,000)")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the scratch database when it holds the rows"
    )
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.reuse))

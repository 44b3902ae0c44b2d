"""Registry benchmark: N generated enterprises, 16 concurrent clients.

The registry runs as a real server process (`eaglet serve registry`: uvicorn, `--workers`, default
1; no access log). The HTTP load comes from wrk (C, one thread, 16 keep-alive connections, closed
loop; each connection has its own read-pool share, as 16 officials would; `apt-get install wrk`;
without it this process drives the load with aiohttp, which costs the shared cores far more).
This process also runs the same SQL through raw asyncpg (a pool of 16) in the same run. Operations: get by credit code, filtered list
(region + tier), name search (prefix and fuzzy), stats grouped by city. Prints data sizes, p50/p99
for each and the app/raw ratio, and each goal of the issue as met or missed.

    .venv/bin/python bench/registry.py                      # 1,000,000 enterprises (the issue's size)
    .venv/bin/python bench/registry.py --scale 0.1          # 100,000 (quicker)
    .venv/bin/python bench/registry.py --reuse              # keep a database loaded by an earlier run
    .venv/bin/python bench/registry.py --scale 3 --database eaglet_bench3 --reuse --ops search_fuzzy

Uses DATABASE_URL when set (a scratch database `eaglet_bench` is created in it), else an embedded
PostgreSQL in a temp folder. The machine's cores are shared by the server, PostgreSQL and this
process, as they would be on one small host.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import sys
import time
from datetime import date
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402

from bench import database, processes, wrk  # noqa: E402

GOALS = {"get": None, "list": 50.0, "search_prefix": 50.0, "search_fuzzy": 50.0, "stats_city": 300.0}
CITIES = ["3301", "3302", "3303", "3304", "3305", "3306", "3307", "3308", "3309", "3310", "3311"]
TIERS = ["seedling", "specialized", "champion_candidate", "champion"]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def run_clients(n_clients: int, n_requests: int, call) -> list[float]:
    timings: list[float] = []
    queue = list(range(n_requests))

    async def worker() -> None:
        while queue:
            i = queue.pop()
            t = time.perf_counter()
            await call(i)
            timings.append((time.perf_counter() - t) * 1000)

    await asyncio.gather(*[worker() for _ in range(n_clients)])
    return timings


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--enterprises", type=int, default=1_000_000)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply --enterprises (e.g. 0.1)")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes for the registry")
    ap.add_argument(
        "--read-pool", type=int, default=0, help="read connections per worker (0: the service default)"
    )
    ap.add_argument("--seconds", type=float, default=10, help="wrk run per operation (app side)")
    ap.add_argument("--requests", type=int, default=800, help="requests per operation")
    ap.add_argument("--stats-requests", type=int, default=64)
    ap.add_argument(
        "--ops",
        default=",".join(GOALS),
        help=f"comma-separated operations to measure (default: all of {','.join(GOALS)})",
    )
    ap.add_argument(
        "--reuse", action="store_true", help="reuse the database when it already holds the generated data"
    )
    ap.add_argument("--database", default="eaglet_bench", help="the scratch database's name (one per size)")
    args = ap.parse_args()
    ops = {op: GOALS[op] for op in args.ops.split(",")}
    count = int(args.enterprises * args.scale)

    from services.registry.seed import generate
    from services.registry.stats import repository as stats_repo

    db = await database.prepare(
        args.database,
        keep_if=database.generated_enterprises(count) if args.reuse else None,
        generate=lambda conn: generate(conn, count),
    )
    if db.generated_s is not None:
        load_s = db.generated_s
        print(f"generated {count:,} enterprises in {load_s:.1f} s ({count / load_s:,.0f} enterprises/s)")
    conn = await asyncpg.connect(db.dsn)
    sizes = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM registry.enterprises) AS enterprises,
                  (SELECT count(*) FROM registry.indicators) AS indicators,
                  (SELECT count(*) FROM registry.titles) AS titles,
                  (SELECT count(*) FROM registry.scale_statuses) AS scale,
                  (SELECT count(*) FROM registry.enterprises WHERE tier IS NOT NULL) AS pool,
                  pg_size_pretty(pg_total_relation_size('registry.enterprises')) AS ent_size,
                  pg_size_pretty(pg_total_relation_size('registry.indicators')) AS ind_size"""
    )
    print(
        f"data: {sizes['enterprises']:,} enterprises ({sizes['ent_size']} with indexes), "
        f"{sizes['indicators']:,} indicator rows ({sizes['ind_size']}), {sizes['titles']:,} titles, "
        f"{sizes['scale']:,} scale facts, {sizes['pool']:,} in the pool"
    )
    sample = [
        r["credit_code"]
        for r in await conn.fetch(
            "SELECT credit_code FROM registry.enterprises ORDER BY md5(credit_code) LIMIT 2000"
        )
    ]
    names = [
        r["name"]
        for r in await conn.fetch(
            "SELECT name FROM registry.enterprises ORDER BY md5(credit_code || 'n') LIMIT 500"
        )
    ]
    await conn.close()

    from services.common.auth import PRINCIPAL_HEADER, Principal, mint_principal
    from services.common.settings import DatabaseSettings

    read_pool = args.read_pool or DatabaseSettings().read_pool_size
    # The ORM pool holds a connection per client; the read pool (list, search, detail) is the
    # service's default unless --read-pool says otherwise: requests wait for a connection in
    # arrival order, and more connections than cores mostly add PostgreSQL processes competing for CPU.
    # The clients stand for as many officials, each with one request in flight (a closed loop): one
    # caller's share of the read pool (EAGLET_DB__READ_POOL_PER_CALLER, 2) is sized for each of them,
    # so the bench's one principal gets a share per client. With the default share all 16 would queue
    # for 2 connections as one caller's backlog (bench/isolation.py measures that case).
    registry = processes.start(
        "registry",
        env={
            "EAGLET_DB__POOL_SIZE": str(args.clients),
            "EAGLET_DB__READ_POOL_SIZE": str(read_pool),
            "EAGLET_DB__READ_POOL_PER_CALLER": str(args.clients),
        },
        workers=args.workers,
    )
    base = registry.url
    admin_h = {PRINCIPAL_HEADER: mint_principal(Principal(sub="bench", kind="admin"), ttl_s=3600)}
    http = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=args.clients, keepalive_timeout=60),
        timeout=aiohttp.ClientTimeout(total=60),
    )
    pool = await asyncpg.create_pool(db.dsn, min_size=args.clients, max_size=args.clients)
    try:
        rng = random.Random(1)

        def fuzzy(name: str) -> str:
            """The name without city and 有限公司, one character mistyped."""
            core = name[2:-4]
            i = rng.randrange(len(core))
            return core[:i] + "蜜" + core[i + 1 :]

        async def get(path: str, params: dict | None = None) -> None:
            async with http.get(base + path, params=params, headers=admin_h) as r:
                body = await r.read()
                assert r.status == 200, body[:500]

        def app_paths(op: str) -> list[str]:
            """The requests of one operation, as paths with their query strings."""
            if op == "get":
                return [f"/v1/enterprises/{code}" for code in sample]
            if op == "list":
                return [f"/v1/enterprises?region={c}&tier={t}" for c in CITIES for t in TIERS]
            if op == "search_prefix":
                return ["/v1/enterprises?q=" + quote(n[:4]) for n in names]
            if op == "search_fuzzy":
                return ["/v1/enterprises?q=" + quote(q) for q in fuzzy_q]
            return ["/v1/stats?year=2022&group_by=city"]

        async def via_app(op: str, i: int) -> None:
            paths = app_paths(op)
            await get(paths[i % len(paths)])

        as_of = date(2022, 12, 31)
        from services.common.auth import Principal as P
        from services.common.pagination import PageParams
        from services.registry.enterprises.repository import one_statement, page_statement
        from services.registry.enterprises.schemas import Filters

        bench_principal = P(sub="bench", kind="admin")
        first_page = PageParams(limit=50, cursor=None)

        def one_sql(code: str) -> tuple:
            text, args = one_statement(bench_principal, code)
            return (text, *args)

        def page_sql(mode: str = "strict", **filters) -> tuple[str, list]:
            """A statement the list route sends for these filters (first page)."""
            return page_statement(bench_principal, Filters(**filters), first_page, mode)

        list_sql = {(c, t): page_sql(region=c, tier=t) for c in CITIES for t in TIERS}
        prefix_sql = [(page_sql("prefix", q=n[:4]), page_sql("contains", q=n[:4])) for n in names]
        fuzzy_q = [fuzzy(n) for n in names]
        fuzzy_sql = [
            (page_sql("prefix", q=q), page_sql("contains", q=q), page_sql("fuzzy", q=q)) for q in fuzzy_q
        ]

        # Every statement takes all four parameters (asyncpg must type each one).
        stats_sql = [
            f"SELECT * FROM ({sql}) q WHERE $1::text IS NOT NULL AND $2::int IS NOT NULL "
            "AND $3::int IS NOT NULL AND $4::date IS NOT NULL"
            for sql in stats_repo.raw_statements("city", stats_repo.default_names(2022, 2021))
            + stats_repo.raw_statements(None, ("park_tenants",))
        ]

        async def via_raw(op: str, i: int) -> None:
            # The statements the service sends for the same request, on one pooled connection.
            async with pool.acquire() as c:
                if op == "get":
                    await c.fetch(*one_sql(sample[i % len(sample)]))
                elif op == "list":
                    sql, params = list_sql[(rng.choice(CITIES), rng.choice(TIERS))]
                    await c.fetch(sql, *params)
                elif op in ("search_prefix", "search_fuzzy"):
                    # As the route: name prefixes; if they do not fill the page, the other names
                    # holding every pair; if there are none of either, the fuzzy matches.
                    steps = (prefix_sql if op == "search_prefix" else fuzzy_sql)[i % len(names)]
                    found = 0
                    for n, (sql, params) in enumerate(steps):
                        found += len(await c.fetch(sql, *params))
                        if (n == 0 and found > first_page.limit) or (n == 1 and found):
                            break
                else:
                    for sql in stats_sql:
                        await c.fetch(sql, "%", 2022, 2021, as_of)

        # As the services do at startup (services/common/gc_tuning.py): the objects built so far
        # are never collected, so a full collection of them does not become the raw side's p99.
        gc.collect()
        gc.freeze()
        # Warm up caches, the server's pool and ours.
        for op in ops:
            await run_clients(args.clients, args.clients * 2, lambda i, op=op: via_app(op, i))
            await run_clients(args.clients, args.clients * 2, lambda i, op=op: via_raw(op, i))

        use_wrk = wrk.available()
        load = (
            f"app side: wrk, {args.seconds:.0f} s per operation"
            if use_wrk
            else f"app side: aiohttp, {args.requests} requests (install wrk for a lighter load generator)"
        )
        print(f"\nload average (1, 5, 15 min) at the start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(
            f"{args.clients} concurrent clients (a read-pool share each), {args.workers} uvicorn "
            f"worker(s) with {read_pool} read connections each; {load}; raw side: "
            f"asyncpg, {args.requests} requests ({args.stats_requests} for stats); times in ms"
        )
        print(
            f"{'operation':<15}{'app p50':>9}{'app p99':>9}{'raw p50':>9}{'raw p99':>9}"
            f"{'ratio p50':>11}{'ratio p99':>11}{'load':>6}  goal (app p99)"
        )
        for op, goal in ops.items():
            n = args.stats_requests if op == "stats_city" else args.requests
            if use_wrk:
                result = await asyncio.to_thread(
                    wrk.run,
                    base,
                    app_paths(op),
                    connections=args.clients,
                    seconds=args.seconds,
                    headers=admin_h,
                )
                assert result.errors == 0, f"{op}: {result.errors} failed requests"
                a50, a99 = result.p50_ms, result.p99_ms
            else:
                app_t = await run_clients(args.clients, n, lambda i, op=op: via_app(op, i))
                a50, a99 = pct(app_t, 50), pct(app_t, 99)
            raw_t = await run_clients(args.clients, n, lambda i, op=op: via_raw(op, i))
            r50, r99 = pct(raw_t, 50), pct(raw_t, 99)
            verdict = "-" if goal is None else (f"< {goal:.0f} " + ("met" if a99 < goal else "MISSED"))
            print(
                f"{op:<15}{a50:>9.1f}{a99:>9.1f}{r50:>9.1f}{r99:>9.1f}"
                f"{a50 / r50:>11.2f}{a99 / r99:>11.2f}{os.getloadavg()[0]:>6.1f}  {verdict}"
            )
        # One stats request alone (no queueing behind 15 others).
        if "stats_city" not in ops:
            return
        single = []
        for _ in range(5):
            t = time.perf_counter()
            await via_app("stats_city", 0)
            single.append((time.perf_counter() - t) * 1000)
        print(f"stats_city with one client: median {pct(single, 50):.1f} ms")
    finally:
        await http.close()
        await pool.close()
        registry.stop()
        db.stop()


if __name__ == "__main__":
    asyncio.run(main())

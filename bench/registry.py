"""Registry benchmark: N generated enterprises, 16 concurrent clients.

Measures, through the registry app (in-process ASGI, real PostgreSQL) and the same SQL through raw
asyncpg in the same run: get by credit code, filtered list (region + tier), name search (prefix
and fuzzy), stats grouped by city. Prints p50/p99 and the app/raw ratio.

    .venv/bin/python bench/registry.py --enterprises 1000000      # the issue's size
    .venv/bin/python bench/registry.py --scale 0.1                # 100,000 (quicker)

Uses DATABASE_URL when set (a scratch database is created in it), else an embedded PostgreSQL in a
temp folder.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

GOALS = {"get": None, "list": 50.0, "search_prefix": 50.0, "search_fuzzy": 50.0, "stats_city": 300.0}


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
    ap.add_argument("--requests", type=int, default=800, help="requests per operation")
    ap.add_argument("--stats-requests", type=int, default=64)
    args = ap.parse_args()
    count = int(args.enterprises * args.scale)

    tmp = None
    pg = None
    base_url = os.environ.get("DATABASE_URL") or os.environ.get("EAGLET_DATABASE_URL")
    if not base_url:
        from services.common.embedded_pg import EmbeddedPostgres

        tmp = tempfile.mkdtemp(prefix="eaglet-bench-")
        pg = EmbeddedPostgres(Path(tmp) / "pgdata", delete_on_stop=True)
        base_url = pg.url("postgres")
    from sqlalchemy.engine import make_url

    from services.common.db import plain_url

    admin = await asyncpg.connect(plain_url(base_url))
    await admin.execute('DROP DATABASE IF EXISTS "eaglet_bench" WITH (FORCE)')
    await admin.execute('CREATE DATABASE "eaglet_bench"')
    await admin.close()
    url = make_url(base_url).set(database="eaglet_bench").render_as_string(hide_password=False)
    os.environ["EAGLET_DATABASE_URL"] = url
    os.environ.setdefault("EAGLET_LOG_LEVEL", "WARNING")
    os.environ["EAGLET_DB__POOL_SIZE"] = str(args.clients)

    from services.cli import run_migrations

    await asyncio.to_thread(run_migrations, url)
    from services.registry.seed import generate

    conn = await asyncpg.connect(plain_url(url))
    t = time.perf_counter()
    await generate(conn, count)
    load_s = time.perf_counter() - t
    sample = [
        r["credit_code"]
        for r in await conn.fetch(
            "SELECT credit_code FROM registry.enterprises TABLESAMPLE SYSTEM (1) LIMIT 2000"
        )
    ]
    names = [
        r["name"]
        for r in await conn.fetch("SELECT name FROM registry.enterprises TABLESAMPLE SYSTEM (1) LIMIT 500")
    ]
    n_tier = await conn.fetchval("SELECT count(*) FROM registry.enterprises WHERE tier IS NOT NULL")
    await conn.close()
    print(
        f"loaded {count:,} enterprises ({2 * count:,} indicator rows, {n_tier:,} in the pool) "
        f"in {load_s:.1f} s ({count / load_s:,.0f} enterprises/s)"
    )

    from services.common.auth import principal_headers
    from services.registry.app import create_app
    from services.registry.enterprises import repository as repo

    app = create_app()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://registry", timeout=60)
    admin_h = principal_headers("admin", sub="bench")
    pool = await asyncpg.create_pool(plain_url(url), min_size=args.clients, max_size=args.clients)
    rng = random.Random(1)
    cities = ["3301", "3302", "3303", "3304", "3305", "3306", "3307", "3308", "3309", "3310", "3311"]
    tiers = ["seedling", "specialized", "champion_candidate", "champion"]

    def fuzzy(name: str) -> str:
        core = name[2:-4]  # drop city and 有限公司
        i = rng.randrange(len(core))
        return core[:i] + "蜜" + core[i + 1 :]

    _, grams_sample, need_sample = repo.search_terms("杭州鑫")

    raw_sql = {
        "get": (
            "SELECT e.*, ARRAY(SELECT DISTINCT kind FROM registry.titles t WHERE t.credit_code = e.credit_code "
            "AND t.status = 'active' AND t.valid_from <= current_date AND (t.valid_to IS NULL OR t.valid_to >= current_date)) "
            "FROM registry.enterprises e WHERE credit_code = $1"
        ),
        "list": (
            "SELECT * FROM registry.enterprises WHERE region_code LIKE $1 AND tier = $2 "
            "ORDER BY credit_code LIMIT 51"
        ),
        "search_prefix": "SELECT * FROM registry.enterprises WHERE name LIKE $1 ORDER BY credit_code LIMIT 51",
        "search_fuzzy": (
            "SELECT * FROM registry.enterprises WHERE name_bigrams @> $1::text[] OR "
            "(name_bigrams && $1::text[] AND cardinality(ARRAY(SELECT unnest(name_bigrams) INTERSECT "
            "SELECT unnest($1::text[]))) >= $2) ORDER BY credit_code LIMIT 51"
        ),
        "stats_city": None,
    }

    async def via_app(op: str, i: int) -> None:
        if op == "get":
            r = await client.get(f"/v1/enterprises/{sample[i % len(sample)]}", headers=admin_h)
        elif op == "list":
            r = await client.get(
                "/v1/enterprises",
                params={"region": rng.choice(cities), "tier": rng.choice(tiers)},
                headers=admin_h,
            )
        elif op == "search_prefix":
            r = await client.get("/v1/enterprises", params={"q": names[i % len(names)][:4]}, headers=admin_h)
        elif op == "search_fuzzy":
            r = await client.get(
                "/v1/enterprises", params={"q": fuzzy(names[i % len(names)])}, headers=admin_h
            )
        else:
            r = await client.get("/v1/stats", params={"year": 2022, "group_by": "city"}, headers=admin_h)
        assert r.status_code == 200, r.text

    from services.registry.stats import repository as stats_repo

    async def via_raw(op: str, i: int) -> None:
        async with pool.acquire() as c:
            if op == "get":
                await c.fetch(raw_sql["get"], sample[i % len(sample)])
            elif op == "list":
                await c.fetch(raw_sql["list"], rng.choice(cities) + "%", rng.choice(tiers))
            elif op == "search_prefix":
                await c.fetch(raw_sql["search_prefix"], names[i % len(names)][:4] + "%")
            elif op == "search_fuzzy":
                _, grams, need = repo.search_terms(fuzzy(names[i % len(names)]))
                await c.fetch(raw_sql["search_fuzzy"], grams, need)
            else:
                # The same statements the service runs, one after another, on one connection.
                from sqlalchemy.dialects import postgresql  # noqa: F401

                for sql in STATS_SQL:
                    await c.fetch(sql, "%", 2022, 2021, __import__("datetime").date(2022, 12, 31))

    # The stats statements rendered for asyncpg ($n parameters).
    import inspect
    import re

    src = inspect.getsource(stats_repo.figures)
    STATS_SQL = []
    for block in re.findall(r'f"""(.*?)"""', src, flags=re.S):
        sql = (
            block.replace("{ke}", "substr(e.region_code, 1, 4) || '00'")
            .replace("{kp}", "substr(p.region_code, 1, 4) || '00'")
            .replace("{TIERS_AT}", stats_repo.TIERS_AT)
        )
        sql = sql.replace(":rl", "$1").replace(":y", "$2").replace(":b", "$3").replace(":as_of", "$4::date")
        sql = sql.replace("$2::int", "$2")
        # Every statement takes all four parameters (asyncpg needs each one typed).
        STATS_SQL.append(
            f"SELECT * FROM ({sql}) q WHERE $1::text IS NOT NULL AND $2::int IS NOT NULL "
            "AND $3::int IS NOT NULL AND $4::date IS NOT NULL"
        )

    # Warm up caches and the app's pool.
    for op in GOALS:
        await run_clients(args.clients, args.clients * 2, lambda i, op=op: via_app(op, i))
        await run_clients(args.clients, args.clients * 2, lambda i, op=op: via_raw(op, i))

    print(
        f"\n{args.clients} concurrent clients; {args.requests} requests per operation "
        f"({args.stats_requests} for stats); times in ms"
    )
    print(
        f"{'operation':<15}{'app p50':>10}{'app p99':>10}{'raw p50':>10}{'raw p99':>10}{'ratio p50':>11}{'ratio p99':>11}  goal p99"
    )
    for op, goal in GOALS.items():
        n = args.stats_requests if op == "stats_city" else args.requests
        app_t = await run_clients(args.clients, n, lambda i, op=op: via_app(op, i))
        raw_t = await run_clients(args.clients, n, lambda i, op=op: via_raw(op, i))
        a50, a99, r50, r99 = pct(app_t, 50), pct(app_t, 99), pct(raw_t, 50), pct(raw_t, 99)
        verdict = "-" if goal is None else (f"< {goal:.0f} " + ("met" if a99 < goal else "MISSED"))
        print(
            f"{op:<15}{a50:>10.1f}{a99:>10.1f}{r50:>10.1f}{r99:>10.1f}{a50 / r50:>11.2f}{a99 / r99:>11.2f}  {verdict}"
        )
    print(f"(median of all app requests: {statistics.median(app_t):.1f} ms for the last operation)")
    await client.aclose()
    await pool.close()
    await app.state.engine.dispose()
    if pg is not None:
        pg.stop()
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())

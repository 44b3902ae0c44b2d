"""Standards benchmark: 品字标 certificate push through the HTTP API vs a raw asyncpg COPY+upsert
baseline, then public verification latency at 32 concurrent clients vs the same SQL through raw
asyncpg.

    .venv/bin/python bench/standards.py               # 200,000 certificates pushed (the issue's size)
    .venv/bin/python bench/standards.py --scale 0.1   # 20,000, for a quick run

Uses DATABASE_URL when set (a scratch database `eaglet_bench_standards` is created in it), else an
embedded PostgreSQL in a temp folder. Starts the standards service (`eaglet serve standards`: one
uvicorn worker, or `--workers N`) on a free port. Pushes 5,000 records per request from 4 bodies at
once (a body's batches are serialised by the service, so 4 bodies = 4 requests in flight). The
baseline loads the same records (under 4 other body codes, numbers prefixed RAW) by COPY into a staging table, one
INSERT … ON CONFLICT … DO UPDATE … WHERE changed RETURNING, and one history INSERT … SELECT per
5,000, with the same 4-way concurrency. It skips what the API adds: JSON, per-record validation and
lifecycle rules, catalogue/registry look-ups, the change log and idempotency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import database, processes, wrk  # noqa: E402
from services.standards.certifications.repository import STATE_FIELDS  # noqa: E402

BATCH = 5000
BODIES = 4
FIELDS = ("certificate_no", *STATE_FIELDS)  # a pushed record: its number and its state


def make_records(n: int, seed: int = 1) -> list[dict]:
    from services.common.credit_code import ALPHABET, make_credit_code

    rng = random.Random(seed)
    holders = [
        make_credit_code(
            "91330" + f"{rng.randrange(100, 1000)}" + "".join(rng.choice(ALPHABET) for _ in range(9))
        )
        for _ in range(5000)
    ]
    out = []
    for i in range(n):
        issued = date(2024, 1, 1) + timedelta(days=rng.randrange(0, 600))
        out.append(
            {
                "certificate_no": f"BENCH-{i:09d}",
                "holder_credit_code": holders[i % len(holders)],
                "holder_name": f"浙江基准制造有限公司{i % 4999}",
                "product": "齿轮减速电机",
                "scope": "设计、生产和服务",
                "standard_code": f"T/ZZB {i % 100 + 1:04d}-2023",
                "rule_code": "ZJM-006-4481-2023",
                "issued_on": issued.isoformat(),
                "expires_on": (issued + timedelta(days=1095)).isoformat(),
                "status": "valid",
                "status_effective_on": issued.isoformat(),
                "status_reason": None,
            }
        )
    return out


async def push_all(base: str, per_body: dict[str, list[list[dict]]]) -> tuple[float, dict]:
    from services.common.auth import principal_headers

    totals: dict[str, int] = {}

    async def body_loop(session: aiohttp.ClientSession, body: str, batches: list[list[dict]]) -> None:
        for batch in batches:
            headers = {
                **principal_headers("certifier", org=body, sub=f"bench:{body}"),
                "content-type": "application/json",
            }
            payload = json.dumps({"records": batch}, ensure_ascii=False).encode()
            async with session.post(base + "/v1/certifications/batch", data=payload, headers=headers) as r:
                assert r.status == 200, await r.text()
                summary = (await r.json())["summary"]
                assert summary["rejected"] == 0, summary
                for k in ("created", "updated", "unchanged"):
                    totals[k] = totals.get(k, 0) + summary[k]

    timeout = aiohttp.ClientTimeout(total=3600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        started = time.perf_counter()
        await asyncio.gather(*(body_loop(session, b, bs) for b, bs in per_body.items()))
        return time.perf_counter() - started, totals


STATE = FIELDS[1:]


async def raw_push(dsn: str, per_body: dict[str, list[list[dict]]]) -> float:
    cols = ", ".join(STATE)
    pool = await asyncpg.create_pool(dsn, min_size=BODIES, max_size=BODIES)

    def row(r: dict) -> tuple:
        return (
            "RAW" + r["certificate_no"],
            r["holder_credit_code"],
            r["holder_name"],
            r["product"],
            r["scope"],
            r["standard_code"].replace("-", "—"),
            r["rule_code"],
            date.fromisoformat(r["issued_on"]),
            date.fromisoformat(r["expires_on"]),
            r["status"],
            date.fromisoformat(r["status_effective_on"]),
            r["status_reason"],
            json.dumps(r, ensure_ascii=False),
        )

    async def body_loop(body: str, batches: list[list[dict]]) -> None:
        for batch in batches:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "CREATE TEMP TABLE _s (certificate_no text, holder_credit_code text, holder_name text, "
                    "product text, scope text, standard_code text, rule_code text, issued_on date, "
                    "expires_on date, status text, status_effective_on date, status_reason text, record text) "
                    "ON COMMIT DROP"
                )
                await conn.copy_records_to_table("_s", records=[row(r) for r in batch])
                await conn.execute(
                    f"""
                    WITH up AS (
                      INSERT INTO standards.certificates AS c (certifier, certificate_no, {cols}, revision,
                                                               rule_set_version)
                      SELECT $1, certificate_no, {cols}, 1, 'raw' FROM _s
                      ON CONFLICT (certifier, certificate_no) DO UPDATE SET
                        {", ".join(f"{f} = excluded.{f}" for f in STATE)}, revision = c.revision + 1
                      WHERE ({", ".join(f"c.{f}" for f in STATE)})
                            IS DISTINCT FROM ({", ".join(f"excluded.{f}" for f in STATE)})
                      RETURNING id, certificate_no, revision
                    )
                    INSERT INTO standards.certificate_history (certificate_id, revision, action, certifier,
                        certificate_no, status, status_effective_on, status_reason, record, rule_set_version,
                        pushed_by)
                    SELECT up.id, up.revision, CASE WHEN up.revision = 1 THEN 'created' ELSE 'updated' END,
                           $1, up.certificate_no, s.status, s.status_effective_on, s.status_reason,
                           s.record::jsonb, 'raw', 'raw'
                    FROM up JOIN _s s USING (certificate_no)
                    """,
                    body,
                )

    started = time.perf_counter()
    await asyncio.gather(*(body_loop(b, bs) for b, bs in per_body.items()))
    elapsed = time.perf_counter() - started
    await pool.close()
    return elapsed


def split(records: list[dict], prefix: str) -> dict[str, list[list[dict]]]:
    per_body: dict[str, list[list[dict]]] = {f"{prefix}{k}": [] for k in range(BODIES)}
    bodies = list(per_body)
    for i in range(0, len(records), BATCH):
        per_body[bodies[(i // BATCH) % BODIES]].append(records[i : i + BATCH])
    return per_body


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


async def verify_http(
    base: str, numbers: list[str], requests: int, concurrency: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    queue = iter(range(requests))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client(k: int) -> None:
            rng = random.Random(k)
            for _ in queue:
                no = numbers[rng.randrange(len(numbers))]
                t = time.perf_counter()
                async with session.get(f"{base}/v1/public/certifications/{no}") as r:
                    await r.read()
                    assert r.status == 200, r.status
                latencies.append(time.perf_counter() - t)

        started = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(concurrency)))
        return latencies, time.perf_counter() - started


async def verify_raw(
    dsn: str, numbers: list[str], requests: int, concurrency: int
) -> tuple[list[float], float]:
    # The service's statement, one number per request: what a client without the service's
    # coalescing of concurrent lookups (services/common/coalesce.py) sends.
    from services.standards.verification.repository import MANY

    pool = await asyncpg.create_pool(dsn, min_size=10, max_size=20)  # the service's pool: 10 + 10 overflow
    latencies: list[float] = []
    queue = iter(range(requests))

    async def client(k: int) -> None:
        rng = random.Random(k)
        for _ in queue:
            no = numbers[rng.randrange(len(numbers))]
            t = time.perf_counter()
            async with pool.acquire() as conn:
                rows = await conn.fetch(MANY, [no])
                assert rows
            latencies.append(time.perf_counter() - t)

    started = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(concurrency)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return latencies, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 200,000 certificates")
    parser.add_argument("--requests", type=int, default=20000, help="verification requests per side")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15, help="wrk run for the HTTP verification side")
    parser.add_argument(
        "--read-pool", type=int, default=0, help="read connections per worker (0: clients ÷ workers)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="uvicorn worker processes for the service (the load generator and PostgreSQL share the cores)",
    )
    args = parser.parse_args()
    n = max(BATCH, int(200_000 * args.scale))

    db = asyncio.run(database.prepare("eaglet_bench_standards"))
    dsn = db.dsn
    # The service's default read pool unless asked otherwise (requests wait for a connection in
    # arrival order; more connections than cores mostly add PostgreSQL processes competing for CPU).
    from services.common.settings import DatabaseSettings

    read_pool = args.read_pool or DatabaseSettings().read_pool_size
    standards = None
    try:
        standards = processes.start(
            "standards",
            env={"EAGLET_ENV": "dev", "EAGLET_DB__READ_POOL_SIZE": str(read_pool)},
            workers=args.workers,
        )
        base = standards.url
        records = make_records(n)
        print(
            f"standards benchmark · {n:,} certificates in batches of {BATCH:,}, {BODIES} bodies in flight, "
            f"{args.workers} uvicorn worker(s) with {read_pool} read connections each, {os.cpu_count()} CPUs"
        )

        api_s, totals = asyncio.run(push_all(base, split(records, "API")))
        raw_s = asyncio.run(raw_push(dsn, split(records, "RAW")))
        print(
            f"push (create)  API {n / api_s:>9,.0f} records/s ({api_s:.1f} s, {totals})   "
            f"raw COPY+upsert {n / raw_s:>9,.0f} records/s ({raw_s:.1f} s)   API/raw throughput {raw_s / api_s:.2f}"
        )
        # Second pass on a quarter of the data: every 10th record suspended, the rest unchanged.
        m = max(BATCH, n // 4)
        again = [
            {**r, "status": "suspended", "status_effective_on": "2026-01-05", "status_reason": "监督审核"}
            if i % 10 == 0
            else r
            for i, r in enumerate(records[:m])
        ]
        api2, totals2 = asyncio.run(push_all(base, split(again, "API")))
        raw2 = asyncio.run(raw_push(dsn, split(again, "RAW")))
        print(
            f"push (re-push) API {m / api2:>9,.0f} records/s ({api2:.1f} s, {totals2})   "
            f"raw COPY+upsert {m / raw2:>9,.0f} records/s ({raw2:.1f} s)   API/raw throughput {raw2 / api2:.2f}"
        )

        async def analyze() -> None:
            conn = await asyncpg.connect(dsn)
            await conn.execute("ANALYZE standards.certificates")
            await conn.close()

        asyncio.run(analyze())
        numbers = [r["certificate_no"] for r in records]
        total = asyncio.run(asyncpg_count(dsn))
        asyncio.run(verify_http(base, numbers, 1000, args.concurrency))  # warm-up
        if wrk.available():
            # wrk: a C load generator, so the shared cores go to the service, not to the client.
            rng = random.Random(7)
            paths = [
                f"/v1/public/certifications/{quote(numbers[rng.randrange(len(numbers))])}"
                for _ in range(5000)
            ]
            result = wrk.run(base, paths, connections=args.concurrency, seconds=args.seconds)
            assert result.errors == 0, f"{result.errors} failed verifications"
            http_p50, http_p99, http_rate, client = result.p50_ms, result.p99_ms, result.rate, "wrk"
        else:
            http_lat, http_s = asyncio.run(verify_http(base, numbers, args.requests, args.concurrency))
            http_p50, http_p99 = pct(http_lat, 50), pct(http_lat, 99)
            http_rate, client = args.requests / http_s, "aiohttp"
        raw_lat, raw_s2 = asyncio.run(verify_raw(dsn, numbers, args.requests, args.concurrency))
        print(
            f"verification over {total:,} stored certificates, {args.concurrency} concurrent clients, "
            f"random numbers pushed through the API; HTTP load from {client}, raw: {args.requests:,} "
            "requests from this process"
        )
        print(
            f"  HTTP GET /v1/public/certifications/{{no}}  p50 {http_p50:6.2f} ms  "
            f"p99 {http_p99:6.2f} ms  {http_rate:7,.0f} req/s"
        )
        print(
            f"  raw asyncpg, same SQL                    p50 {pct(raw_lat, 50):6.2f} ms  "
            f"p99 {pct(raw_lat, 99):6.2f} ms  {args.requests / raw_s2:7,.0f} req/s"
        )
        print(
            f"  p99 ratio HTTP/raw {http_p99 / pct(raw_lat, 99):.1f}×   goal p99 < 20 ms: "
            f"{'met' if http_p99 < 20 else 'NOT met'}"
        )
    finally:
        if standards is not None:
            standards.stop()
        db.stop()


async def asyncpg_count(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT count(*) FROM standards.certificates")
    finally:
        await conn.close()


if __name__ == "__main__":
    main()

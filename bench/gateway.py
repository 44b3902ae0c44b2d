"""Gateway overhead: the same calls through the gateway and straight to the service.

    .venv/bin/python bench/gateway.py [--scale 1.0] [--connections 32] [--gateway-workers 1] [--get-rounds 3]

Starts an embedded PostgreSQL in a temp folder (or creates a scratch database `eaglet_bench_gateway`
on the server DATABASE_URL names), migrates, starts registry, finance and the gateway as real
processes (`eaglet serve`: uvicorn), then measures (GETs with wrk when installed —
`apt-get install -y wrk`, a C load generator that leaves the shared cores to the processes being
measured — else an aiohttp load generator in this process; batches with aiohttp):
1. a registry GET (`/v1/enterprises/{code}`, or `/v1/whoami` if the registry does not serve it
   yet) with N concurrent connections for a fixed time: direct (signed principal header) vs
   through the gateway (API key), in rounds of one run each (alternating which goes first):
   throughputs and ratio per round, the median round's latency p50/p99 and what the gateway adds;
2. a 5,000-loan `POST /v1/loans/batch` (fresh loan refs each round): direct vs gateway, median of
   rounds, ratio. The direct call is the baseline (the raw service in the same run).
3. compression (gateway/compression.py) over `--compress-enterprises` generated enterprises
   (20,000 at scale 1): a list page of 50 and of 500, one enterprise (under 1 KiB: sent as it
   is), the CSV and the XLSX export of a city, each through the gateway with `Accept-Encoding:
   identity` (the baseline, same run), `gzip` and `br`: bytes on the wire and the gateway
   process's CPU per request (/proc), medians of `--compress-runs` runs.
4. rate-limit decisions in the process vs in Redis (`EAGLET_REDIS_URL`, a `redis-server` this
   script starts when Debian's package is installed): a second gateway shares the database and
   decides in Redis; a client whose bucket is empty is answered 429 by the gateway itself (key
   cached, no upstream), so each call's latency is the admission path with the decision in it:
   `--ratelimit-calls` calls on one connection to each gateway, p50/p99, medians of 3 alternating
   runs, and the difference; plus the Redis round trip the gateway itself measured
   (`eaglet_gateway_ratelimit_redis_seconds`, mean).
Goals (issue 6): GET ratio ≥ 0.65, batch ratio ≥ 0.9.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import database, processes, wrk  # noqa: E402
from bench.keys import api_keys  # noqa: E402
from services.common.auth import principal_headers  # noqa: E402
from services.common.credit_code import make_credit_code  # noqa: E402
from services.common.db import plain_url  # noqa: E402


async def load(url: str, headers_fn, seconds: float, connections: int) -> tuple[int, list[float], int]:
    """Closed-loop load: `connections` workers each sending requests back to back."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=connections, keepalive_timeout=60)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                async with session.get(url, headers=headers_fn()) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(connections)))
    return len(latencies), latencies, errors


@dataclass
class Measured:
    rate: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


async def get_load(
    base: str, path: str, headers: dict[str, str], seconds: float, connections: int
) -> Measured:
    """Closed-loop GETs of one path: wrk when installed, else the aiohttp generator above."""
    if wrk.available():
        r = wrk.run(base, [path], connections=connections, seconds=seconds, headers=headers)
        return Measured(r.rate, r.p50_ms, r.p99_ms, r.requests, r.errors)
    count, lat, errors = await load(base + path, lambda: headers, seconds, connections)
    return Measured(count / seconds, pct(lat, 0.5), pct(lat, 0.99), count, errors)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


def loans(n: int, tag: str, borrower: str) -> dict:
    return {
        "records": [
            {
                "loan_ref": f"BENCH-{tag}-{i:06d}",
                "borrower_credit_code": borrower,
                "borrower_name": "杭州基准测试科技有限公司",
                "borrower_size": "small",
                "product": "credit",
                "amount": "1000000.00",
                "annual_rate": "4.35",
                "issued_on": "2022-03-01",
                "matures_on": "2023-03-01",
                "renewal_type": "new",
                "is_first_loan": False,
                "outstanding_balance": "1000000.00",
                "status": "outstanding",
            }
            for i in range(n)
        ]
    }


async def post_batch(url: str, headers: dict, body: dict) -> tuple[float, int]:
    async with aiohttp.ClientSession() as session:
        t0 = time.perf_counter()
        async with session.post(
            url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=300)
        ) as r:
            await r.read()
            return time.perf_counter() - t0, r.status


def process_cpu_s(pid: int) -> float:
    """CPU time of a process's threads so far, in seconds (Linux schedstat: nanoseconds, where
    /proc/<pid>/stat counts 10 ms ticks), worker threads (large bodies are compressed in one)
    included."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended meanwhile
    return total / 1e9


async def wire_get(session: aiohttp.ClientSession, url: str, headers: dict) -> tuple[int, int]:
    """Status and the body's size as sent (aiohttp does not decode: auto_decompress=False)."""
    async with session.get(url, headers=headers) as r:
        body = await r.read()
        return r.status, len(body)


async def measure_compression(args, gw: str, gateway_pid: int, key: str, conn_url: str) -> None:
    from services.registry.seed import generate

    count = max(2_000, int(args.compress_enterprises * args.scale))
    conn = await asyncpg.connect(plain_url(conn_url))
    try:
        if await conn.fetchval("SELECT count(*) FROM registry.enterprises") < count:
            await generate(conn, count)
        one = await conn.fetchval("SELECT credit_code FROM registry.enterprises ORDER BY credit_code LIMIT 1")
        city = await conn.fetchval(
            "SELECT left(region_code, 4) FROM registry.enterprises GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )
        in_city = await conn.fetchval(
            "SELECT count(*) FROM registry.enterprises WHERE region_code LIKE $1 || '%'", city
        )
    finally:
        await conn.close()
    targets = [
        ("list, 50 items", "/registry/v1/enterprises?limit=50", 200),
        ("list, 500 items", "/registry/v1/enterprises?limit=500", 40),
        ("one enterprise", f"/registry/v1/enterprises/{one}", 200),
        (f"CSV export, {count:,} rows", "/registry/v1/enterprises/export?region=33&format=csv", 3),
        (f"XLSX export, {in_city:,} rows", f"/registry/v1/enterprises/export?region={city}&format=xlsx", 1),
    ]
    codings = ("identity", "gzip", "br")
    print(
        f"compression — {count:,} enterprises; gateway CPU per request (its process, /proc), "
        f"bytes as sent; median of {args.compress_runs} runs, codings interleaved"
    )
    session = aiohttp.ClientSession(auto_decompress=False, timeout=aiohttp.ClientTimeout(total=600))
    try:
        for label, path, n in targets:
            per: dict[str, list[tuple[float, int, float]]] = {c: [] for c in codings}
            for run in range(args.compress_runs + 1):  # run 0 warms up
                for coding in codings:
                    headers = {"Authorization": f"Bearer {key}", "Accept-Encoding": coding}
                    cpu0, t0 = process_cpu_s(gateway_pid), time.perf_counter()
                    size = 0
                    for _ in range(n):
                        status, size = await wire_get(session, gw + path, headers)
                        assert status == 200, (path, status)
                    wall = (time.perf_counter() - t0) / n
                    cpu = (process_cpu_s(gateway_pid) - cpu0) / n
                    if run:
                        per[coding].append((cpu, size, wall))
            base_cpu = statistics.median(c for c, _, _ in per["identity"])
            base_size = per["identity"][0][1]
            print(f"  {label}:")
            for coding in codings:
                cpu = statistics.median(c for c, _, _ in per[coding])
                wall = statistics.median(w for _, _, w in per[coding])
                size = per[coding][0][1]
                print(
                    f"    {coding:8s} {size:>11,} B ({size / base_size:5.3f})  gateway CPU {cpu * 1000:8.3f} ms "
                    f"({(cpu - base_cpu) * 1000:+8.3f})  wall {wall * 1000:8.1f} ms"
                )
    finally:
        await session.close()


async def sequential_latencies(url: str, headers: dict, calls: int) -> tuple[list[float], dict[int, int]]:
    """`calls` GETs back to back on one keep-alive connection: each one's latency, and the statuses."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=1, keepalive_timeout=60)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(calls):
            t0 = time.perf_counter()
            async with session.get(url, headers=headers) as resp:
                await resp.read()
            latencies.append(time.perf_counter() - t0)
            statuses[resp.status] = statuses.get(resp.status, 0) + 1
    return latencies, statuses


def histogram_mean(metrics: str, name: str) -> tuple[float, float]:
    """(mean, count) of a histogram without labels in a /metrics text."""
    values = {}
    for line in metrics.splitlines():
        for suffix in ("_sum", "_count"):
            if line.startswith(name + suffix + " "):
                values[suffix] = float(line.split()[1])
    count = values.get("_count", 0.0)
    return (values.get("_sum", 0.0) / count if count else float("nan")), count


async def measure_ratelimit(args, env: dict, ports: dict, services: list, gw: str, url: str) -> None:
    redis = processes.start_redis()
    if redis is None:
        print("rate-limit decisions: skipped (redis-server is not installed: apt-get install redis-server)")
        return
    services.append(redis)
    shared_env = dict(env, EAGLET_REDIS_URL=redis.url)
    shared = processes.start("gateway", env=shared_env, workers=args.gateway_workers)
    services.append(shared)

    from decimal import Decimal

    from gateway.clients.schemas import ClientCreate
    from services.common.settings import get_settings

    (slow_key,) = await api_keys(
        get_settings(),
        ClientCreate(kind="bank", org="B-BENCH-RL", name="bench rate", rate_per_s=Decimal("0.01")),
    )
    headers = {"Authorization": f"Bearer {slow_key}"}
    target = "/registry/v1/whoami"
    n = args.ratelimit_calls
    print(f"rate-limit decisions: {n} calls on one connection, an empty bucket (429 from the gateway)")
    for base in (gw, shared.url):  # warm-up: the key verified and cached, the bucket emptied
        await sequential_latencies(base + target, headers, 50)
    runs: dict[str, list[tuple[float, float]]] = {"local": [], "redis": []}
    for r in range(3):
        order = (
            (("local", gw), ("redis", shared.url)) if r % 2 == 0 else (("redis", shared.url), ("local", gw))
        )
        for label, base in order:
            lat, statuses = await sequential_latencies(base + target, headers, n)
            assert set(statuses) == {429}, statuses
            runs[label].append((pct(lat, 0.5), pct(lat, 0.99)))  # ms
    med = {
        k: (statistics.median(p50 for p50, _ in v), statistics.median(p99 for _, p99 in v))
        for k, v in runs.items()
    }
    for label in ("local", "redis"):
        p50s = ", ".join(f"{p50:.3f}" for p50, _ in runs[label])
        print(
            f"  {label:5s}: p50 {med[label][0]:.3f} ms  p99 {med[label][1]:.3f} ms  (p50 of the runs: {p50s})"
        )
    print(
        f"  Redis adds: p50 {med['redis'][0] - med['local'][0]:+.3f} ms, "
        f"p99 {med['redis'][1] - med['local'][1]:+.3f} ms per decision"
    )
    metrics = httpx.get(shared.url + "/metrics").text  # noqa: ASYNC210 - after the measurement
    mean, count = histogram_mean(metrics, "eaglet_gateway_ratelimit_redis_seconds")
    print(
        f"  the gateway's own measure of the script's round trip: mean {mean * 1000:.3f} ms over {count:.0f}"
    )


def main(args) -> None:
    os.environ["EAGLET_ENV"] = "dev"
    db = asyncio.run(database.prepare("eaglet_bench_gateway"))
    services: list[processes.Service] = []
    try:
        asyncio.run(measure(args, db.url, services))
    finally:
        for service in services:
            service.stop()
        db.stop()


async def measure(args, url: str, services: list[processes.Service]) -> None:
    if True:
        from services.common.settings import get_settings

        conn = await asyncpg.connect(plain_url(url))
        code = make_credit_code("91330106BENCH0001")
        await conn.execute(
            "INSERT INTO registry.enterprises (credit_code, name, region_code, industry_code, established_on) "
            "VALUES ($1, '杭州基准测试科技有限公司', '330106', '3311', '2010-01-01') ON CONFLICT DO NOTHING",
            code,
        )
        await conn.close()

        env = dict(os.environ, EAGLET_DATABASE_URL=url, EAGLET_ENV="dev", EAGLET_LOG_LEVEL="WARNING")
        ports = {name: processes.free_port() for name in ("registry", "finance", "gateway")}
        for name in ("registry", "finance"):
            env[f"EAGLET_{name.upper()}__URL"] = f"http://127.0.0.1:{ports[name]}"
            env[f"EAGLET_{name.upper()}__PORT"] = str(ports[name])
        env["EAGLET_RATES__BANK"] = "1000000"  # measure the proxy, not the limiter
        env["EAGLET_RATES__OFFICIAL"] = "1000000"
        for name in ("registry", "finance"):
            services.append(processes.start(name, env=env, port=ports[name]))
        services.append(
            processes.start("gateway", env=env, port=ports["gateway"], workers=args.gateway_workers)
        )

        from gateway.clients.schemas import ClientCreate

        bank_key, official_key = await api_keys(
            get_settings(),
            ClientCreate(kind="bank", org="B-BENCH", name="bench"),
            ClientCreate(kind="official", region="330000", name="bench official"),
        )

        direct_reg = f"http://127.0.0.1:{ports['registry']}"
        gw = f"http://127.0.0.1:{ports['gateway']}"
        spec = httpx.get(direct_reg + "/openapi.json").json()  # noqa: ASYNC210 - set-up, not measured
        path = (
            f"/v1/enterprises/{code}"
            if "/v1/enterprises/{credit_code}" in spec.get("paths", {})
            else "/v1/whoami"
        )
        seconds = max(1.0, 10 * args.scale)
        n = args.connections

        # A principal minted for each run (valid 120 s): the service verifies it on every call.
        def official_principal() -> dict[str, str]:
            return principal_headers("official", region="330000", sub="bench")

        gw_headers = {"Authorization": f"Bearer {official_key}"}
        check = httpx.get(gw + "/registry" + path, headers=gw_headers)  # noqa: ASYNC210
        assert check.status_code == 200, check.text

        print(f"eaglet gateway benchmark — registry GET {path}, {n} connections, {seconds:.0f} s per run")
        print(f"gateway workers: {args.gateway_workers}; cores: {os.cpu_count()}")
        if not args.skip_get:
            print(
                f"  load generator: {'wrk' if wrk.available() else 'aiohttp (install wrk for figures that spare the cores)'}"
            )

            def direct(seconds: float, connections: int) -> Awaitable[Measured]:
                return get_load(direct_reg, path, official_principal(), seconds, connections)

            def gateway(seconds: float, connections: int) -> Awaitable[Measured]:
                return get_load(gw, "/registry" + path, gw_headers, seconds, connections)

            await direct(1.0, n)  # warm-up
            await gateway(1.0, n)
            # Rounds of one direct and one gateway run, in alternating order: on a shared machine the
            # throughput drifts between runs, so the ratio is taken per round and the median reported.
            rounds = []
            for r in range(args.get_rounds):
                if r % 2 == 0:
                    d, g = await direct(seconds, n), await gateway(seconds, n)
                else:
                    g, d = await gateway(seconds, n), await direct(seconds, n)
                rounds.append((g.rate / d.rate, d, g))
                print(
                    f"  round {r + 1}: direct {d.rate:6.0f} req/s, gateway {g.rate:6.0f} req/s, ratio {g.rate / d.rate:.2f}"
                )
            ratio, d, g = sorted(rounds, key=lambda x: x[0])[len(rounds) // 2]
            print("  the median round:")
            for label, m in (("direct ", d), ("gateway", g)):
                print(
                    f"  {label}: {m.rate:8.0f} req/s  p50 {m.p50_ms:6.2f} ms  p99 {m.p99_ms:6.2f} ms  "
                    f"({m.requests} requests, {m.errors} errors or non-200)"
                )
            if g.errors or d.errors:
                after = httpx.get(gw + "/registry" + path, headers=gw_headers)  # noqa: ASYNC210
                print(f"  !! errors under load; a call now answers {after.status_code}: {after.text[:300]}")
            print(
                f"  GET throughput ratio gateway/direct: {ratio:.2f}, median of {len(rounds)} rounds "
                f"({', '.join(f'{x[0]:.2f}' for x in rounds)})  (goal ≥ 0.65)"
            )
            print(
                f"  latency added by the gateway: p50 {g.p50_ms - d.p50_ms:+.2f} ms, "
                f"p99 {g.p99_ms - d.p99_ms:+.2f} ms (under {n}-connection load)"
            )
            # single-connection latency (no queueing): what one call costs through the gateway
            d1, g1 = await direct(seconds / 2, 1), await gateway(seconds / 2, 1)
            print(
                f"  one connection: direct p50 {d1.p50_ms:.2f} ms, gateway p50 {g1.p50_ms:.2f} ms "
                f"(adds {g1.p50_ms - d1.p50_ms:.2f} ms), p99 {d1.p99_ms:.2f} / {g1.p99_ms:.2f} ms"
            )

        if not args.skip_compression:
            await measure_compression(args, gw, services[-1].proc.pid, official_key, url)
        if not args.skip_ratelimit:
            await measure_ratelimit(args, env, ports, services, gw, url)
        if args.skip_batch:
            return

        size = max(100, int(5000 * min(1.0, args.scale)))
        rounds = args.rounds
        direct_fin = f"http://127.0.0.1:{ports['finance']}"
        bank_principal = lambda: principal_headers("bank", org="B-BENCH", sub="bench")  # noqa: E731
        times: dict[str, list[float]] = {"direct": [], "gateway": []}
        body_bytes = 0
        for rnd in range(rounds + 1):  # round 0 warms up
            for mode in ("direct", "gateway"):
                body = loans(size, f"{mode}{rnd}", code)
                if mode == "direct":
                    t, status = await post_batch(direct_fin + "/v1/loans/batch", bank_principal(), body)
                else:
                    t, status = await post_batch(
                        gw + "/finance/v1/loans/batch", {"Authorization": f"Bearer {bank_key}"}, body
                    )
                assert status == 200, status
                body_bytes = len(str(body).encode())
                if rnd:
                    times[mode].append(t)
        d_med, g_med = statistics.median(times["direct"]), statistics.median(times["gateway"])
        print(f"{size:,}-loan batch POST (~{body_bytes / 1e6:.1f} MB), median of {rounds} rounds:")
        print(f"  direct : {d_med * 1000:8.0f} ms  ({size / d_med:,.0f} loans/s)")
        print(f"  gateway: {g_med * 1000:8.0f} ms  ({size / g_med:,.0f} loans/s)")
        print(f"  batch throughput ratio gateway/direct: {d_med / g_med:.2f}  (goal ≥ 0.9)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 10 s GET runs, 5,000-loan batches")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="batch rounds per mode")
    parser.add_argument("--gateway-workers", type=int, default=1)
    parser.add_argument("--skip-get", action="store_true", help="only the batch comparison")
    parser.add_argument("--get-rounds", type=int, default=3, help="direct/gateway GET run pairs (median)")
    parser.add_argument("--skip-batch", action="store_true", help="no batch comparison")
    parser.add_argument("--skip-compression", action="store_true", help="no compression figures")
    parser.add_argument("--compress-enterprises", type=int, default=20_000, help="at scale 1")
    parser.add_argument("--compress-runs", type=int, default=5, help="runs per coding (median)")
    parser.add_argument("--skip-ratelimit", action="store_true", help="no local vs Redis decision figures")
    parser.add_argument("--ratelimit-calls", type=int, default=2000, help="calls per run (3 runs each)")
    main(parser.parse_args())

"""Isolation benchmark: one tenant's lookups while another tenant does something heavy.

A bank's enterprise detail GETs (another tenant's directory look-ups) are measured alone, then
while, in turn:
  (a) 12 export downloads by 12 officials stall (the clients read the response head, then stop);
  (b) a province-wide screening runs (every enterprise, the champion rule set: a background run,
      evaluated by the job worker, `eaglet worker`, started beside the registry);
  (c) one official sends 16 concurrent stop-word searches (`q=有限公司`: every name matches).
The registry runs as a real server process (`eaglet serve registry`: 1 uvicorn worker, the
service's default pool sizes); the bank's load comes from wrk (4 keep-alive connections, closed
loop; `apt-get install wrk`; without it this process drives it with aiohttp), (c)'s searches from a
second wrk. The same detail statement through raw asyncpg, alone, is the baseline of the same
run. Rounds repeat all phases; the medians are printed. Goal (issue #12): the bank's p99 under 50 ms during each.

    .venv/bin/python bench/isolation.py                      # 200,000 enterprises, 3 rounds
    .venv/bin/python bench/isolation.py --enterprises 1000000 --rounds 5
    .venv/bin/python bench/isolation.py --reuse              # keep a database of an earlier run

Uses DATABASE_URL when set (a scratch database `eaglet_isolation` is created in it), else an
embedded PostgreSQL in a temp folder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402

from bench import database, processes, wrk  # noqa: E402
from bench.registry import pct, run_clients  # noqa: E402

GOAL_P99_MS = 50.0
BANK_CONNECTIONS = 4
STALLED_EXPORTS = 12
STOP_WORD_SEARCHES = 16
STOP_WORD = "有限公司"
SCREENING = {"tier": "champion_candidate", "year": 2022, "rule_set": "champion-zj-2022"}
PHASES = ("alone", "stalled exports", "screening", "stop-word searches")


class StalledDownload:
    """An export request whose client reads the response head and then nothing more."""

    def __init__(self, base: str, path: str, headers: dict[str, str]) -> None:
        self.base, self.path, self.headers = base, path, headers
        self.status: int | None = None
        self.code: str | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.task: asyncio.Task | None = None

    async def _open(self) -> None:
        host, port = self.base.removeprefix("http://").split(":")
        reader, self.writer = await asyncio.open_connection(host, int(port))
        lines = [f"GET {self.path} HTTP/1.1", f"Host: {host}"] + [
            f"{k}: {v}" for k, v in self.headers.items()
        ]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])
        if self.status != 200:  # a refusal: a small problem body
            self.code = json.loads(await reader.read(4096)).get("code")

    def start(self) -> None:
        self.task = asyncio.create_task(self._open())

    async def close(self) -> None:
        if self.task and not self.task.done():
            self.task.cancel()
        if self.writer:
            self.writer.close()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--enterprises", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10, help="measurement window per phase")
    ap.add_argument("--requests", type=int, default=2000, help="raw baseline requests (and aiohttp's)")
    ap.add_argument("--reuse", action="store_true", help="reuse eaglet_isolation when it holds the data")
    ap.add_argument("--per-caller", type=int, default=0, help="read connections per caller (0: default)")
    ap.add_argument(
        "--only", nargs="*", choices=("stalled", "screening", "stop-word"), help="run only these phases"
    )
    args = ap.parse_args()
    if args.per_caller:
        os.environ["EAGLET_DB__READ_POOL_PER_CALLER"] = str(args.per_caller)

    from services.registry.seed import generate

    db = await database.prepare(
        "eaglet_isolation",
        keep_if=database.generated_enterprises(args.enterprises) if args.reuse else None,
        generate=lambda conn: generate(conn, args.enterprises),
    )
    if db.generated_s is not None:
        print(f"generated {args.enterprises:,} enterprises in {db.generated_s:.1f} s")
    from services.common.auth import PRINCIPAL_HEADER, Principal, mint_principal
    from services.common.settings import Settings

    conn = await asyncpg.connect(db.dsn)
    sizes = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM registry.enterprises) AS enterprises,
                  (SELECT count(*) FROM registry.indicators) AS indicators,
                  (SELECT count(*) FROM registry.enterprises WHERE name LIKE '%有限公司%') AS stop,
                  pg_size_pretty(pg_total_relation_size('registry.enterprises')) AS ent_size"""
    )
    codes = [
        r["credit_code"]
        for r in await conn.fetch(
            "SELECT credit_code FROM registry.enterprises ORDER BY md5(credit_code) LIMIT 2000"
        )
    ]
    await conn.close()
    settings = Settings()
    print(f"load average (1, 5, 15 min) at the start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"data: {sizes['enterprises']:,} enterprises ({sizes['ent_size']} with indexes), "
        f"{sizes['indicators']:,} indicator rows; {sizes['stop']:,} names contain {STOP_WORD}"
    )
    print(
        f"registry: 1 uvicorn worker, read pool {settings.db.read_pool_size} "
        f"(≤ {settings.db.read_pool_per_caller} per caller, {settings.db.read_statement_timeout_ms} ms "
        f"statement timeout), exports {settings.export.connections} connections "
        f"(≤ {settings.export.per_caller} per caller, wait {settings.export.wait_s:g} s, send timeout "
        f"{settings.export.send_timeout_s:g} s), screenings in the background above "
        f"{settings.screening.background_above:,} enterprises"
    )

    def principal(**kw) -> dict[str, str]:
        return {PRINCIPAL_HEADER: mint_principal(Principal(**kw), ttl_s=7200)}

    bank = principal(sub="bench-bank", kind="bank", org="B001")
    province = principal(sub="bench-province", kind="official", region="330000")
    officials = [principal(sub=f"bench-exporter-{i}", kind="official", region="330000") for i in range(12)]
    detail_paths = [f"/v1/enterprises/{c}" for c in codes]
    search_path = "/v1/enterprises?q=" + quote(STOP_WORD)

    registry = processes.start(
        "registry",
        env={"EAGLET_DB__POOL_SIZE": "16", "EAGLET_DB__READ_POOL_SIZE": str(settings.db.read_pool_size)},
    )
    worker = processes.start_worker()  # runs the background screenings
    base = registry.url
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
    use_wrk = wrk.available()
    try:

        async def get(path: str, headers: dict) -> None:
            async with http.get(base + path, headers=headers) as r:
                await r.read()
                assert r.status == 200, (path, r.status)

        async def bank_load(seconds: float) -> tuple[float, float, int]:
            """The bank's detail GETs for `seconds`: (p50, p99, requests)."""
            if use_wrk:
                res = await asyncio.to_thread(
                    wrk.run, base, detail_paths, connections=BANK_CONNECTIONS, seconds=seconds, headers=bank
                )
                assert res.errors == 0, f"{res.errors} failed detail GETs"
                return res.p50_ms, res.p99_ms, res.requests
            times: list[float] = []
            deadline = time.monotonic() + seconds

            async def one() -> None:
                i = 0
                while time.monotonic() < deadline:
                    t = time.perf_counter()
                    await get(detail_paths[i % len(detail_paths)], bank)
                    times.append((time.perf_counter() - t) * 1000)
                    i += 1

            await asyncio.gather(*[one() for _ in range(BANK_CONNECTIONS)])
            return pct(times, 50), pct(times, 99), len(times)

        # Warm-up: caches, pools, the screening workers (a county's screening spawns them).
        await run_clients(BANK_CONNECTIONS, 400, lambda i: get(detail_paths[i % len(detail_paths)], bank))
        await get(search_path, province)
        async with http.post(
            base + "/v1/screenings", json={**SCREENING, "region": "330106"}, headers=province
        ) as r:
            assert r.status in (201, 202), await r.text()

        # Raw baseline: the detail statement through asyncpg, alone.
        from services.registry.enterprises.repository import one_statement

        raw_pool = await asyncpg.create_pool(db.dsn, min_size=BANK_CONNECTIONS, max_size=BANK_CONNECTIONS)
        bank_p = Principal(sub="bench-bank", kind="bank", org="B001")

        async def raw(i: int) -> None:
            text, params = one_statement(bank_p, codes[i % len(codes)])
            async with raw_pool.acquire() as c:
                await c.fetch(text, *params)

        await run_clients(BANK_CONNECTIONS, 200, raw)
        raw_t = await run_clients(BANK_CONNECTIONS, args.requests, raw)
        await raw_pool.close()

        results: dict[str, list[tuple[float, float, int]]] = {p: [] for p in PHASES}
        notes: dict[str, list[str]] = {p: [] for p in PHASES}

        async def stalled_exports() -> None:
            downloads = [
                StalledDownload(base, "/v1/enterprises/export?format=csv", officials[i])
                for i in range(STALLED_EXPORTS)
            ]
            for d in downloads:
                d.start()
            # Measured from the start: the downloads fill their clients' buffers first (several
            # MB each), then stall.
            await asyncio.sleep(0.2)
            results["stalled exports"].append(await bank_load(args.seconds))
            await asyncio.wait([d.task for d in downloads], timeout=30)
            streaming = sum(d.status == 200 for d in downloads)
            refused = sorted({f"{d.status} {d.code}" for d in downloads if d.status not in (None, 200)})
            notes["stalled exports"].append(
                f"{streaming} streaming (stalled), refused: {', '.join(refused) or '-'}"
            )
            for d in downloads:
                await d.close()
            await asyncio.sleep(2)  # the server sees the disconnects and frees the export connections

        async def screening() -> None:
            t0 = time.monotonic()
            async with http.post(base + "/v1/screenings", json=SCREENING, headers=province) as r:
                accepted = await r.json()
                assert r.status == 202, accepted
                location = r.headers["Location"]
            status_url = f"{base}/v1/{location}"
            results["screening"].append(await bank_load(args.seconds))
            while True:
                async with http.get(status_url, headers=province) as r:
                    s = await r.json()
                if s["status"] != "running":
                    break
                await asyncio.sleep(1)
            assert s["status"] == "done", s
            notes["screening"].append(f"{s['evaluated']:,} evaluated in {time.monotonic() - t0:.0f} s")

        async def stop_word_searches() -> None:
            if use_wrk:
                searches = asyncio.create_task(
                    asyncio.to_thread(
                        wrk.run,
                        base,
                        [search_path],
                        connections=STOP_WORD_SEARCHES,
                        seconds=args.seconds + 2,
                        headers=province,
                    )
                )
                await asyncio.sleep(1)
                results["stop-word searches"].append(await bank_load(args.seconds))
                res = await searches
                notes["stop-word searches"].append(
                    f"{res.requests / res.seconds:.1f} searches/s, p50 {res.p50_ms:.0f} ms, "
                    f"{res.errors} not 200"
                )
                await drain()
                return
            stop = time.monotonic() + args.seconds + 2

            async def searcher() -> None:
                while time.monotonic() < stop:
                    async with http.get(base + search_path, headers=province) as r:
                        await r.read()

            searching = [asyncio.create_task(searcher()) for _ in range(STOP_WORD_SEARCHES)]
            await asyncio.sleep(1)
            results["stop-word searches"].append(await bank_load(args.seconds))
            await asyncio.gather(*searching)

        async def drain() -> None:
            """wrk stops with searches still queued in the official's share (the server runs a
            request whose client left): one more search, queued behind them, answers when they
            are done, so the next phase starts without them."""
            async with http.get(base + search_path, headers=province) as r:
                await r.read()

        runs = {
            "stalled exports": stalled_exports,
            "screening": screening,
            "stop-word searches": stop_word_searches,
        }
        phases = ["alone", *(p for p in PHASES[1:] if not args.only or p.split()[0] in args.only)]
        for rnd in range(1, args.rounds + 1):
            results["alone"].append(await bank_load(args.seconds))
            for phase in phases[1:]:
                await runs[phase]()
            print(
                f"round {rnd}: "
                + "; ".join(f"{p} {results[p][-1][0]:.1f}/{results[p][-1][1]:.1f}" for p in phases)
            )

        load = f"wrk, {BANK_CONNECTIONS} connections" if use_wrk else f"aiohttp, {BANK_CONNECTIONS} clients"
        print(
            f"\nbank detail GETs ({load}, {args.seconds:.0f} s per phase), medians of {args.rounds} rounds, ms; "
            f"raw asyncpg alone: p50 {pct(raw_t, 50):.2f} / p99 {pct(raw_t, 99):.2f}"
        )
        print(
            f"{'phase':<20}{'p50':>8}{'p99':>8}{'req/s':>8}  goal p99 < {GOAL_P99_MS:.0f}   notes (per round)"
        )
        for phase in phases:
            rs = results[phase]
            p50 = statistics.median(r[0] for r in rs)
            p99 = statistics.median(r[1] for r in rs)
            rate = statistics.median(r[2] for r in rs) / args.seconds
            verdict = "-" if phase == "alone" else ("met" if p99 < GOAL_P99_MS else "MISSED")
            print(f"{phase:<20}{p50:>8.1f}{p99:>8.1f}{rate:>8.0f}  {verdict:<13} {' | '.join(notes[phase])}")
        print("p99 per round: " + "; ".join(f"{p}: {[round(r[1], 1) for r in results[p]]}" for p in phases))
        print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        await http.close()
        registry.stop(timeout_s=30)
        worker.stop(timeout_s=40)
        db.stop()


if __name__ == "__main__":
    asyncio.run(main())

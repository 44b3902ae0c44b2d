"""Events and webhooks: writes at a steady rate, five subscribed receivers, and what reached them.

    .venv/bin/python bench/events.py [--rate 200] [--duration 60] [--slow-delay 1.0] [--drain 30]

Starts an embedded PostgreSQL in a temp folder (or a scratch database `eaglet_bench_events` on
the server DATABASE_URL names), migrates, starts finance and the gateway as real processes
(`eaglet serve`) and the webhook dispatcher (`python -m gateway.webhooks.dispatcher`), and five
receivers on loopback (aiohttp, in this process): one per bank, each bank's endpoint subscribed
to its loan events through `POST /v1/webhooks`. Receiver 1 is slow (answers after
`--slow-delay` s), receiver 2 fails half its calls (500), receivers 3–5 are healthy.

For `--duration` s the five banks post `--rate` events per second in all through the gateway's
real batch route (`POST /finance/v1/loans/batch`, a batch every 100 ms per bank, 70 % new loans
and 30 % updates of earlier ones; each record one event). Then it waits up to `--drain` s for
the healthy receivers to have everything, and moves the failing receiver's pending retries to
now (the schedule's 5 min, 30 min … would outlast any benchmark) until it has everything too.

Prints: commit→delivery p50/p99/max for the healthy receivers (from the write's response, by
which its transaction had committed; the write itself took the printed time before it), events
lost (written, visible to the endpoint's owner, and neither received nor queued: must be 0),
duplicates the receivers saw, the slow receiver's backlog, the feed read throughput from the
start (events/s, a bank's and an admin's view), and the data sizes. Goal: healthy p99 < 1 s.
With BENCH_TIMELINE=1 it also prints the healthy latencies by second of the run, and how they
split between the feed and fan-out (commit → delivery queued) and the sending (queued → received).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import database, processes  # noqa: E402
from bench.keys import api_keys  # noqa: E402
from services.common.credit_code import make_credit_code  # noqa: E402

BANKS = [f"B-EVT-{i}" for i in range(1, 6)]
TYPES = ["loan.created", "loan.updated"]
TICK_S = 0.1


@dataclass
class Receiver:
    name: str
    kind: str  # healthy | slow | failing
    delay_s: float = 0.0
    port: int = 0
    first_seen: dict[str, float] = field(default_factory=dict)  # event key → first 2xx answer time
    ids: dict[str, int] = field(default_factory=dict)  # webhook-id → 2xx answers
    calls: int = 0
    failed: int = 0
    _runner: web.AppRunner | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.ids.values() if n > 1)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        arrived = time.time()
        self.calls += 1
        if self.kind == "failing" and self.rng.random() < 0.5:
            self.failed += 1
            return web.Response(status=500, text="try again")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        event = json.loads(body)
        if event["type"] == "webhook.test":
            return web.Response(status=204)
        key = key_of(event)
        self.first_seen.setdefault(key, arrived)
        wid = request.headers["webhook-id"]
        self.ids[wid] = self.ids.get(wid, 0) + 1
        return web.Response(status=204)

    def reset(self) -> None:
        self.first_seen.clear()
        self.ids.clear()
        self.calls = self.failed = 0

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def event_key(subject_key: str, balance: str) -> str:
    return f"{subject_key}@{balance}"


def key_of(event: dict) -> str:
    """The write an event reports: its loan and the figure that write set (a new loan's amount,
    an update's balance; every write of the run sets a figure of its own)."""
    data = event["data"]
    return event_key(event["subject"]["key"], data.get("outstanding_balance") or data["amount"])


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


@dataclass
class Writer:
    """The five banks' writes: what each committed (event key → when its response came)."""

    gateway: str
    keys: dict[str, str]  # bank → API key
    per_batch: int
    borrower: str
    acked: dict[str, dict[str, float]] = field(default_factory=lambda: {b: {} for b in BANKS})
    request_s: list[float] = field(default_factory=list)
    errors: int = 0
    _n: int = 0
    _balance: int = 0
    _refs: dict[str, list[str]] = field(default_factory=lambda: {b: [] for b in BANKS})
    rng: random.Random = field(default_factory=lambda: random.Random(16))

    def batch(self, bank: str) -> tuple[list[dict], list[str]]:
        records, keys = [], []
        for _ in range(self.per_batch):
            self._balance += 1
            balance = f"{500000 + self._balance}.00"
            earlier = self._refs[bank]
            if earlier and self.rng.random() < 0.3:
                ref = self.rng.choice(earlier)
            else:
                self._n += 1
                ref = f"EVT-{self._n:07d}"
            if ref in (r["loan_ref"] for r in records):  # one record per loan in a batch
                self._n += 1
                ref = f"EVT-{self._n:07d}"
            records.append(loan(ref, self.borrower, balance))
            keys.append(event_key(f"{bank}/{ref}", balance))
        for r in records:
            if r["loan_ref"] not in earlier:
                earlier.append(r["loan_ref"])
        return records, keys

    async def post(self, session: aiohttp.ClientSession, bank: str) -> None:
        records, keys = self.batch(bank)
        t0 = time.time()
        async with session.post(
            self.gateway + "/finance/v1/loans/batch",
            json={"records": records},
            headers={"Authorization": f"Bearer {self.keys[bank]}"},
        ) as r:
            out = await r.json()
        done = time.time()
        self.request_s.append(done - t0)
        if r.status != 200:
            self.errors += len(records)
            return
        for result, key in zip(out["results"], keys, strict=True):
            if result["status"] in ("created", "updated"):
                self.acked[bank][key] = done
            else:
                self.errors += 1

    async def run(self, seconds: float) -> None:
        connector = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(connector=connector) as session:
            tasks: set[asyncio.Task] = set()
            start = time.perf_counter()
            tick = 0
            while time.perf_counter() - start < seconds:
                for bank in BANKS:
                    t = asyncio.create_task(self.post(session, bank))
                    tasks.add(t)
                    t.add_done_callback(tasks.discard)
                tick += 1
                await asyncio.sleep(max(0.0, start + tick * TICK_S - time.perf_counter()))
            if tasks:
                await asyncio.gather(*tasks)


def loan(ref: str, borrower: str, balance: str) -> dict:
    return {
        "loan_ref": ref,
        "borrower_credit_code": borrower,
        "borrower_name": "杭州基准测试科技有限公司",
        "borrower_size": "small",
        "product": "credit",
        "amount": balance,  # a loan.created event carries the amount, an update the balance
        "annual_rate": "4.35",
        "issued_on": "2022-03-01",
        "matures_on": "2023-03-01",
        "renewal_type": "new",
        "is_first_loan": False,
        "outstanding_balance": balance,
        "status": "outstanding",
    }


async def create_clients() -> dict[str, str]:
    from gateway.clients.schemas import ClientCreate
    from services.common.settings import get_settings

    keys = await api_keys(get_settings(), *(ClientCreate(kind="bank", org=bank, name=bank) for bank in BANKS))
    return dict(zip(BANKS, keys, strict=True))


async def feed_throughput(dsn: str, principal, seconds_cap: float = 30.0) -> tuple[int, float]:
    """Read the finance feed from the start as `principal`, pages of 500: (events, seconds)."""
    from gateway.webhooks import source

    conn = await asyncpg.connect(dsn)
    try:
        events, cursor, t0 = 0, None, time.perf_counter()
        while time.perf_counter() - t0 < seconds_cap:
            page = await source.read_events(conn, "finance", principal, cursor, None, 500)
            events += len(page.events)
            cursor = page.next_cursor
            if not page.has_more:
                break
        return events, time.perf_counter() - t0
    finally:
        await conn.close()


def start_dispatcher(env: dict[str, str]) -> processes.Service:
    """The webhook dispatcher as its own process (what the worker runs)."""
    log_path = os.path.join(tempfile.gettempdir(), "eaglet-bench-dispatcher.log")
    with open(log_path, "wb") as log:  # the child holds its own descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.webhooks.dispatcher"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return processes.Service("dispatcher", "", proc, log_path)


async def measure(args, db: database.BenchDatabase, procs: list) -> None:
    env = dict(os.environ, EAGLET_DATABASE_URL=db.url, EAGLET_ENV="dev", EAGLET_LOG_LEVEL="WARNING")
    ports = {name: processes.free_port() for name in ("finance", "gateway")}
    env["EAGLET_FINANCE__URL"] = f"http://127.0.0.1:{ports['finance']}"
    env["EAGLET_RATES__BANK"] = "1000000"
    env["EAGLET_WEBHOOKS__PER_ENDPOINT"] = str(args.per_endpoint)
    procs.append(processes.start("finance", env=env, port=ports["finance"]))
    procs.append(processes.start("gateway", env=env, port=ports["gateway"]))
    gateway = f"http://127.0.0.1:{ports['gateway']}"

    keys = await create_clients()
    kinds = ["slow", "failing", "healthy", "healthy", "healthy"]
    receivers = [
        Receiver(f"receiver {i + 1} ({k})", k, args.slow_delay if k == "slow" else 0.0)
        for i, k in enumerate(kinds)
    ]
    for r in receivers:
        await r.start()
    endpoints = {}
    async with aiohttp.ClientSession() as session:
        for bank, r in zip(BANKS, receivers, strict=True):
            async with session.post(
                gateway + "/v1/webhooks",
                json={"url": r.url, "event_types": TYPES, "description": r.name},
                headers={"Authorization": f"Bearer {keys[bank]}"},
            ) as resp:
                assert resp.status == 201, await resp.text()
                endpoints[bank] = (await resp.json())["id"]

    procs.append(start_dispatcher(env))
    # ready when every receiver has had its endpoint's test event (the slow one: in its time)
    async with aiohttp.ClientSession() as session:
        for bank in BANKS:
            async with session.post(
                f"{gateway}/v1/webhooks/{endpoints[bank]}/test",
                headers={"Authorization": f"Bearer {keys[bank]}"},
            ) as resp:
                assert resp.status == 202, await resp.text()
    deadline = time.monotonic() + 60
    while any(r.calls == 0 for r in receivers) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    for r in receivers:
        r.reset()

    borrower = make_credit_code("91330106MA2EW0001")
    per_batch = max(1, round(args.rate * TICK_S / len(BANKS)))
    writer = Writer(gateway, keys, per_batch, borrower)
    print(
        f"writing {per_batch * len(BANKS) / TICK_S:.0f} events/s for {args.duration:.0f} s "
        f"({len(BANKS)} banks, a batch of {per_batch} every {TICK_S * 1000:.0f} ms each); "
        f"slow receiver answers after {args.slow_delay:g} s, {args.per_endpoint} deliveries per endpoint at once"
    )
    t_start = time.time()
    await writer.run(args.duration)
    written = time.time() - t_start
    total = sum(len(a) for a in writer.acked.values())
    print(f"written: {total} events in {written:.1f} s ({total / written:.0f}/s), {writer.errors} refused")

    healthy = [(b, r) for b, r in zip(BANKS, receivers, strict=True) if r.kind == "healthy"]
    deadline = time.monotonic() + args.drain
    while time.monotonic() < deadline:
        if all(len(r.first_seen) >= len(writer.acked[b]) for b, r in healthy):
            break
        await asyncio.sleep(0.2)
    lat = [r.first_seen[k] - t for b, r in healthy for k, t in writer.acked[b].items() if k in r.first_seen]
    if os.environ.get("BENCH_TIMELINE"):  # the healthy latencies by second of the run
        by_s: dict[int, list[float]] = {}
        for b, r in healthy:
            for k, t in writer.acked[b].items():
                if k in r.first_seen:
                    by_s.setdefault(int(t - t_start), []).append(r.first_seen[k] - t)
        for sec in sorted(by_s):
            v = by_s[sec]
            print(
                f"  second {sec:3}: {len(v):4} events, p50 {pct(v, 0.5) * 1000:6.0f} ms, max {max(v) * 1000:6.0f} ms"
            )

    conn = await asyncpg.connect(db.dsn)
    try:
        failing_bank = BANKS[kinds.index("failing")]
        rounds = manual = 0
        failing = receivers[kinds.index("failing")]
        while len(failing.first_seen) < len(writer.acked[failing_bank]) and rounds < 40:
            rounds += 1
            await conn.execute(
                "UPDATE gateway.webhook_deliveries SET next_attempt_at = now() "
                "WHERE endpoint_id = $1::uuid AND status = 'pending' AND locked_until IS NULL",
                endpoints[failing_bank],
            )
            # those that used up the schedule (ten failures in a row): retried as an operator would
            exhausted = await conn.fetch(
                "SELECT id FROM gateway.webhook_deliveries WHERE endpoint_id = $1::uuid AND status = 'failed'",
                endpoints[failing_bank],
            )
            async with aiohttp.ClientSession() as session:
                for row in exhausted:
                    url = f"{gateway}/v1/webhooks/{endpoints[failing_bank]}/deliveries/{row['id']}/retry"
                    async with session.post(url, headers={"Authorization": f"Bearer {keys[failing_bank]}"}):
                        manual += 1
            await asyncio.sleep(1.0)

        print("\nreceiver                 events  received  p50 ms  p99 ms  max ms  dupl.  backlog")
        lost = 0
        for bank, r in zip(BANKS, receivers, strict=True):
            expected = writer.acked[bank]
            got = [k for k in expected if k in r.first_seen]
            queued = await conn.fetchval(
                "SELECT count(*) FROM gateway.webhook_deliveries WHERE endpoint_id = $1::uuid",
                endpoints[bank],
            )
            pending = await conn.fetchval(
                "SELECT count(*) FROM gateway.webhook_deliveries WHERE endpoint_id = $1::uuid AND status <> 'delivered'",
                endpoints[bank],
            )
            # lost: committed, and neither received nor waiting in the endpoint's queue
            missing = len(expected) - len(got)
            lost_here = max(0, len(expected) - queued) + (missing if r.kind == "healthy" else 0)
            lost += lost_here
            mine = [r.first_seen[k] - expected[k] for k in got]
            figures = (
                f"{pct(mine, 0.5) * 1000:7.0f} {pct(mine, 0.99) * 1000:7.0f} {max(mine) * 1000:7.0f}"
                if mine
                else "      -       -       -"
            )
            print(
                f"{r.name:24} {len(expected):6} {len(got):9} {figures} {r.duplicates:6} {pending:8}"
                + (
                    f"  ({r.failed} of {r.calls} calls failed; retries moved to now {rounds}×, {manual} retried by hand)"
                    if r.kind == "failing"
                    else ""
                )
            )
        if os.environ.get("BENCH_TIMELINE"):  # where the time goes: the feed and fan-out, or sending
            queued_at = {}
            for row in await conn.fetch(
                "SELECT body::jsonb AS e, extract(epoch FROM created_at) AS at FROM gateway.webhook_deliveries"
            ):
                e = json.loads(row["e"]) if isinstance(row["e"], str) else row["e"]
                if e["type"] != "webhook.test":
                    queued_at[key_of(e)] = float(row["at"])
            fan, send = [], []
            for b, r in healthy:
                for k, t in writer.acked[b].items():
                    if k in r.first_seen and k in queued_at:
                        fan.append(queued_at[k] - t)
                        send.append(r.first_seen[k] - queued_at[k])
            print(
                f"  commit→queued p50 {pct(fan, 0.5) * 1000:.0f} ms p99 {pct(fan, 0.99) * 1000:.0f} ms; "
                f"queued→received p50 {pct(send, 0.5) * 1000:.0f} ms p99 {pct(send, 0.99) * 1000:.0f} ms"
            )
        print(
            f"\nhealthy receivers, commit→delivery: p50 {pct(lat, 0.5) * 1000:.0f} ms, "
            f"p99 {pct(lat, 0.99) * 1000:.0f} ms, max {max(lat or [0]) * 1000:.0f} ms over {len(lat)} events "
            f"(goal p99 < 1000 ms); the writes themselves: p50 {pct(writer.request_s, 0.5) * 1000:.0f} ms, "
            f"p99 {pct(writer.request_s, 0.99) * 1000:.0f} ms"
        )
        print(f"events lost: {lost} (must be 0); duplicates seen: {sum(r.duplicates for r in receivers)}")

        from services.common.auth import Principal

        for who in (Principal(sub="bench", kind="bank", org=BANKS[2]), Principal(sub="bench", kind="admin")):
            n, s = await feed_throughput(db.dsn, who)
            print(f"feed read from the start as {who.kind}: {n} events in {s:.2f} s = {n / s:,.0f} events/s")

        sizes = []
        for table in (
            "finance.changes",
            "finance.loans",
            "gateway.webhook_deliveries",
            "gateway.webhook_attempts",
        ):
            rows = await conn.fetchval(f"SELECT count(*) FROM {table}")
            size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size($1::regclass))", table)
            sizes.append(f"{table} {rows:,} rows ({size})")
        print("data: " + ", ".join(sizes))
    finally:
        await conn.close()
        for r in receivers:
            await r.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=200, help="events per second, all banks together")
    ap.add_argument("--duration", type=float, default=60, help="seconds of writing")
    ap.add_argument("--slow-delay", type=float, default=1.0, help="the slow receiver's answer time (s)")
    ap.add_argument("--per-endpoint", type=int, default=4, help="EAGLET_WEBHOOKS__PER_ENDPOINT")
    ap.add_argument("--drain", type=float, default=30, help="seconds to wait for the healthy receivers")
    args = ap.parse_args()
    os.environ["EAGLET_ENV"] = "dev"
    db = asyncio.run(database.prepare("eaglet_bench_events"))
    procs: list = []
    try:
        asyncio.run(measure(args, db, procs))
    finally:
        for p in reversed(procs):
            p.stop()
        db.stop()


if __name__ == "__main__":
    main()

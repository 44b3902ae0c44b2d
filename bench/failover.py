"""Failover and restarts without loss: a bank's batches and reads through the gateway while the
database is crashed and restarted three times, then replaced by a promoted standby.

    .venv/bin/python bench/failover.py [--banks 2] [--readers 2] [--batch 50] [--down-s 3] [--up-s 5] [--trace FILE]

Starts a PostgreSQL of its own (tests/scratch_pg.py: initdb'd from the embedded server's binaries
in a temp folder, on a Unix socket), migrates it, and starts registry, finance, the gateway and the
job worker as real processes (`eaglet serve`, `eaglet worker`) whose database URL is a TCP front
(`Proxy`, standing in for CloudNativePG's `-rw` Service). Meanwhile:

- `--banks` clients each post loan batches (`POST /finance/v1/loans/batch`, `--batch` fresh loans,
  an Idempotency-Key of their own) back to back, and send a batch again with the same key, as a
  bank would, on a 503 (after Retry-After), a 409 (the key's first request still running) or a
  connection error / 30 s timeout (after 1 s), until it is answered 200: then it is acknowledged;
- `--readers` clients read `GET /finance/v1/loans?limit=20` back to back (no retry of their own).

The database is stopped with `pg_ctl stop -m immediate` (its processes quit at once, as in a
crash) for `--down-s` and started again, three times, `--up-s` apart; then a streaming standby is
taken (pg_basebackup, synchronous replication as the cluster runs it), the primary is stopped
immediately, the front is pointed at the standby and the standby is promoted.

Printed: acknowledged batches and rows, the rows present on the final primary, duplicates (must be
0), acknowledged rows lost (must be 0), the longest time a client saw no success, what the clients
saw (status counts; `conn` = connection error, `timeout` = no answer in 30 s), and whether every
process is still running.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import processes  # noqa: E402
from bench.keys import api_keys  # noqa: E402
from services.common.credit_code import make_credit_code  # noqa: E402
from services.common.db import plain_url  # noqa: E402
from tests.finance.helpers import loan  # noqa: E402
from tests.scratch_pg import Proxy, ScratchPostgres, promote, stop_standby  # noqa: E402
from tests.standby import Standby  # noqa: E402

DB = "eaglet_bench_failover"
ATTEMPT_TIMEOUT_S = 30
# Each batch lends to a borrower of its own (of these, in turn): one borrower for every batch
# makes each batch's per-borrower checks read all the loans before it, slower as the run goes on.
BORROWERS = [(make_credit_code(f"913301060{i:08d}"), f"杭州基准测试{i}科技有限公司") for i in range(2000)]


class Seen:
    """What the clients saw: status counts per kind of call, and the longest stretch a client
    went without a success (from its first failure to its next success)."""

    def __init__(self) -> None:
        self.counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.longest_s = 0.0
        self.hangs = 0
        self.trace: list[str] = []  # every batch attempt: when, its answer, how long it took

    def client(self, kind: str) -> _Client:
        return _Client(self, kind)


class _Client:
    def __init__(self, seen: Seen, kind: str) -> None:
        self.seen, self.kind = seen, kind
        self.failing_since: float | None = None

    def saw(self, what: str | int) -> None:
        self.seen.counts[self.kind][str(what)] += 1
        now = time.monotonic()
        if what == 200:
            if self.failing_since is not None:
                self.seen.longest_s = max(self.seen.longest_s, now - self.failing_since)
                self.failing_since = None
        elif self.failing_since is None:
            self.failing_since = now


async def attempt(
    session: aiohttp.ClientSession, method: str, url: str, **kw
) -> tuple[str | int, float, str]:
    """One call: its status (or `conn` / `timeout`), the Retry-After it asked for, its body."""
    try:
        async with session.request(
            method, url, timeout=aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT_S), **kw
        ) as r:
            body = await r.text()
            return r.status, float(r.headers.get("Retry-After", "1")), body
    except TimeoutError:
        return "timeout", 1.0, ""
    except aiohttp.ClientError:
        return "conn", 1.0, ""


async def bank(
    gw: str, key: str, n: int, batch: int, stop: asyncio.Event, seen: Seen, acked: list[str], odd: list[str]
) -> None:
    client = seen.client("batch")
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession() as session:
        seq = 0
        while not stop.is_set():
            seq += 1
            refs = [f"FO-{n}-{seq:06d}-{i:03d}" for i in range(batch)]
            borrower = BORROWERS[(seq * 7 + n) % len(BORROWERS)]
            body = {
                "records": [
                    loan(loan_ref=ref, borrower=borrower[0], borrower_name=borrower[1]) for ref in refs
                ]
            }
            idem = {**headers, "Idempotency-Key": str(uuid.uuid4())}
            while True:  # the same batch, the same key, until it is answered
                began = time.monotonic()
                status, retry_after, text = await attempt(
                    session, "POST", gw + "/finance/v1/loans/batch", json=body, headers=idem
                )
                client.saw(status)
                seen.trace.append(
                    f"{began:.1f} bank {n} batch {seq}: {status} in {time.monotonic() - began:.2f} s"
                )
                if status == "timeout":
                    seen.hangs += 1
                if status == 200:
                    acked.extend(refs)
                    break
                if status not in (409, 503, "conn", "timeout"):
                    odd.append(f"batch {status}: {text[:300]}")
                await asyncio.sleep(min(retry_after, 5.0))


async def reader(gw: str, key: str, stop: asyncio.Event, seen: Seen, odd: list[str]) -> None:
    client = seen.client("read")
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            status, _, text = await attempt(
                session, "GET", gw + "/finance/v1/loans?limit=20", headers=headers
            )
            client.saw(status)
            if status == "timeout":
                seen.hangs += 1
            if status != 200:
                if status not in (503, "conn", "timeout"):
                    odd.append(f"read {status}: {text[:300]}")
                await asyncio.sleep(0.2)


async def sample_slow(proxy: Proxy, stop: asyncio.Event, seen: Seen) -> None:
    """(--trace) Every second, the statements and transactions running for over 2 s."""
    while not stop.is_set():
        await asyncio.sleep(1)
        try:
            conn = await asyncpg.connect(proxy.url(DB).replace(f"/{DB}", "/postgres"), timeout=2)
            try:
                for r in await conn.fetch(
                    "SELECT application_name, state, wait_event_type, wait_event, "
                    "extract(epoch FROM now() - xact_start) AS xact_s, left(query, 100) AS query "
                    "FROM pg_stat_activity WHERE xact_start < now() - interval '2 s' AND pid <> pg_backend_pid()"
                ):
                    seen.trace.append(f"{time.monotonic():.1f} slow: {dict(r)}")
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError):
            pass


async def worker_connected(dsn: str, worker: processes.Service, timeout_s: float = 60) -> None:
    """Wait until the worker's procrastinate connections are open (it serves no /healthz)."""
    conn = await asyncpg.connect(dsn)
    try:
        async with asyncio.timeout(timeout_s):
            while not await conn.fetchval(  # noqa: ASYNC110 - polling the server
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'eaglet-worker%'"
            ):
                if worker.proc.poll() is not None:
                    raise RuntimeError(f"the worker exited; see {worker.log_path}")
                await asyncio.sleep(0.2)
    finally:
        await conn.close()


async def make_bank_key(url: str) -> str:
    from gateway.clients.schemas import ClientCreate
    from services.common.settings import get_settings

    (key,) = await api_keys(
        get_settings().model_copy(update={"database_url": url}),
        ClientCreate(kind="bank", org="B-FAILOVER", name="bench"),
    )
    return key


async def measure(args, pg: ScratchPostgres, services: list[processes.Service]) -> None:
    from services.cli import run_migrations

    direct = pg.create_database(DB)
    await asyncio.to_thread(run_migrations, direct)
    conn = await asyncpg.connect(plain_url(direct))
    await conn.executemany(
        "INSERT INTO registry.enterprises (credit_code, name, region_code, industry_code, established_on) "
        "VALUES ($1, $2, '330106', '3311', '2010-01-01') ON CONFLICT DO NOTHING",
        BORROWERS,
    )
    await conn.close()
    key = await make_bank_key(direct)

    proxy = await Proxy(pg.root).start()
    env = dict(os.environ, EAGLET_DATABASE_URL=proxy.url(DB), EAGLET_ENV="dev", EAGLET_LOG_LEVEL="WARNING")
    ports = {name: processes.free_port() for name in ("registry", "finance", "gateway")}
    for name in ("registry", "finance"):
        env[f"EAGLET_{name.upper()}__URL"] = f"http://127.0.0.1:{ports[name]}"
        env[f"EAGLET_{name.upper()}__PORT"] = str(ports[name])
    env["EAGLET_RATES__BANK"] = "1000000"  # measure the outages, not the limiter
    # The processes are started from a thread: the front they connect through runs on this loop.
    for name in ("registry", "finance", "gateway"):
        services.append(await asyncio.to_thread(processes.start, name, env=env, port=ports[name]))
    services.append(await asyncio.to_thread(processes.start_worker, env=env))
    await worker_connected(plain_url(direct), services[-1])
    gw = f"http://127.0.0.1:{ports['gateway']}"

    seen, acked, odd = Seen(), [], []
    stop = asyncio.Event()
    clients = [
        asyncio.create_task(bank(gw, key, n, args.batch, stop, seen, acked, odd)) for n in range(args.banks)
    ]
    clients += [asyncio.create_task(reader(gw, key, stop, seen, odd)) for _ in range(args.readers)]
    events: list[str] = []
    t0 = time.monotonic()
    if args.trace:
        clients.append(asyncio.create_task(sample_slow(proxy, stop, seen)))

    def event(what: str) -> None:
        events.append(f"  {time.monotonic() - t0:6.1f} s  {what}")

    standby = None
    try:
        await asyncio.sleep(args.up_s)
        for i in range(3):
            event(f"restart {i + 1}: pg_ctl stop -m immediate")
            await asyncio.to_thread(pg.stop, "immediate")
            await asyncio.sleep(args.down_s)
            await asyncio.to_thread(pg.start)
            event(f"restart {i + 1}: started")
            await asyncio.sleep(args.up_s)

        standby = await asyncio.to_thread(Standby(pg).start)
        primary = await asyncpg.connect(plain_url(pg.url(DB)))
        await primary.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
        await primary.execute("SELECT pg_reload_conf()")
        await primary.close()
        event("standby streaming (synchronous)")
        await asyncio.sleep(args.up_s)
        event("failover: primary stopped -m immediate")
        await asyncio.to_thread(pg.stop, "immediate")
        proxy.point_at(standby.root)
        await asyncio.sleep(1)
        await asyncio.to_thread(promote, standby)
        event("failover: standby promoted")
        await asyncio.sleep(args.up_s)
    finally:
        stop.set()
        # every bank finishes the batch it has under way (retried until it is acknowledged)
        await asyncio.wait_for(asyncio.gather(*clients, return_exceptions=True), 120)
    elapsed = time.monotonic() - t0
    alive = {s.name: s.proc.poll() is None for s in services}

    final = standby.url(pg.url(DB)) if standby is not None else pg.url(DB)
    conn = await asyncpg.connect(plain_url(final))
    try:
        present = {
            r["loan_ref"]: r["n"]
            for r in await conn.fetch(
                "SELECT loan_ref, count(*) AS n FROM finance.loans WHERE loan_ref LIKE 'FO-%' GROUP BY loan_ref"
            )
        }
    finally:
        await conn.close()
    duplicates = sum(n - 1 for n in present.values())
    lost = len(set(acked) - set(present))
    await proxy.close()
    if standby is not None:
        await asyncio.to_thread(stop_standby, standby)
        shutil.rmtree(standby.root, ignore_errors=True)

    print(f"failover benchmark — {args.banks} banks × {args.batch}-loan batches, {args.readers} readers,")
    print(
        f"  through the gateway, {elapsed:.0f} s; 3 × (stop -m immediate, {args.down_s:.0f} s down, start),"
    )
    print("  then a promoted synchronous standby; cores: " + str(os.cpu_count()))
    print("\n".join(events))
    print(f"acknowledged batches: {len(acked) // args.batch}  ({len(acked)} rows)")
    print(f"rows present on the final primary: {sum(present.values())}")
    print(f"duplicates: {duplicates}")
    print(f"lost acknowledged rows: {lost}")
    print(
        f"longest unavailability seen by a client: {seen.longest_s:.1f} s; hangs (no answer in 30 s): {seen.hangs}"
    )
    for kind, counts in sorted(seen.counts.items()):
        print(
            f"  {kind}: "
            + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: str(kv[0])))
        )
    print(
        "processes running at the end: " + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in alive.items())
    )
    if args.trace:
        await asyncio.to_thread(Path(args.trace).write_text, "\n".join(seen.trace) + "\n")
    if odd:
        print(f"other answers ({len(odd)}), first ones:")
        for line in odd[:5]:
            print("  " + line)


def main(args) -> None:
    os.environ["EAGLET_ENV"] = "dev"
    pg = ScratchPostgres().init()
    services: list[processes.Service] = []
    try:
        asyncio.run(measure(args, pg, services))
    finally:
        for service in services:
            service.stop()
        pg.remove()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--banks", type=int, default=2, help="bank clients posting batches back to back")
    ap.add_argument("--readers", type=int, default=2, help="clients reading back to back")
    ap.add_argument("--batch", type=int, default=50, help="loans per batch")
    ap.add_argument("--down-s", type=float, default=3.0, help="how long the database stays stopped")
    ap.add_argument("--up-s", type=float, default=5.0, help="how long it runs between outages")
    ap.add_argument("--trace", help="write every batch attempt (when, answer, how long) to this file")
    main(ap.parse_args())

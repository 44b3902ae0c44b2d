"""Finance benchmark: loan batch ingest through the HTTP API vs a raw asyncpg COPY+upsert baseline,
then province statistics grouped by city.

    .venv/bin/python bench/finance.py               # default scale 0.2: 200,000 loans posted, 400,000 for stats
    .venv/bin/python bench/finance.py --scale 1     # the issue's sizes: 1,000,000 posted, 2,000,000 for stats

Uses DATABASE_URL when set, else an embedded PostgreSQL in a temp folder. Starts the finance
service with uvicorn on a free port and posts 5,000 loans per request, 4 requests in flight.
The baseline loads the same rows (another lender) by COPY into a staging table and
INSERT … ON CONFLICT into the same table, with the same 4-way concurrency. The table's statement
triggers (statistics summaries) are part of the table, so the baseline runs with them on; a
second baseline run with the triggers off is printed for reference. Then the same loans are
posted again, each with another borrower name (every record an update, logged with the row it
replaced), against the baseline upserting the renamed rows over its own.

    .venv/bin/python bench/finance.py --banks 4     # concurrent ingest through the gateway

`--banks N` runs only the concurrent-ingest comparison (issue 19): registry, finance and the
gateway as real processes (`eaglet serve`), N banks each with its own API key posting its own
borrowers' loans through the gateway (`--bank-loans` each per run, 5,000 per request, one request
in flight per bank: N in flight); the same total posted by one bank with N requests in flight;
and the raw baseline: the same rows by COPY into a staging table and INSERT … ON CONFLICT into a
bare table of the loans' columns (`LIKE finance.loans INCLUDING ALL`: its keys and indexes, no
triggers), N connections at once. `--runs` rounds (the order of the three rotates), each with
fresh loan refs; per run and as medians: aggregate and per-bank loans/s, the ratios against the
raw baseline, and lock waits (pg_stat_activity sampled every 20 ms during the run: the share of
samples with a backend waiting on a lock, and the waits by kind).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BATCH = 5000
CONCURRENCY = 4


def records_for(rows) -> list[dict]:
    from services.finance.loans.repository import REPORTED

    out = []
    for r in rows:
        d = dict(zip(REPORTED, r[1 : 1 + len(REPORTED)], strict=True))  # generated rows: lender first
        out.append(
            {
                k: (str(v) if not isinstance(v, bool) and v is not None and not isinstance(v, str) else v)
                for k, v in d.items()
                if v is not None
            }
        )
    return out


def bodies(rows: list[tuple]) -> list[bytes]:
    """Generated rows as request bodies of BATCH records."""
    recs = records_for(rows)
    return [json.dumps({"records": recs[i : i + BATCH]}).encode() for i in range(0, len(recs), BATCH)]


async def post_all(url: str, headers: dict, batches: list[bytes], expect: str = "created") -> float:
    sem = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:

        async def one(body: bytes) -> None:
            async with sem:
                r = await client.post(
                    "/v1/loans/batch", content=body, headers={**headers, "content-type": "application/json"}
                )
                r.raise_for_status()
                s = r.json()["summary"]
                assert s["rejected"] == 0 and s[expect] == s["received"], s

        started = time.perf_counter()
        await asyncio.gather(*(one(b) for b in batches))
        return time.perf_counter() - started


async def baseline(
    dsn: str, rows: list[tuple], table: str = "finance.loans", concurrency: int = CONCURRENCY
) -> float:
    from services.finance.ledgers import LOANS
    from services.finance.seed import GEN_COLUMNS

    # the ledger's natural key carries the borrower and the partition date (services/finance/ledgers.py)
    target = f"{LOANS.owner_col}, {LOANS.ref_col}, borrower_credit_code, {LOANS.dated_col}"
    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)
    cols = ", ".join(GEN_COLUMNS)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in GEN_COLUMNS[2:])

    async def one(chunk: list[tuple]) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                f"CREATE TEMP TABLE _b ON COMMIT DROP AS SELECT {cols} FROM finance.loans WITH NO DATA"
            )
            await conn.copy_records_to_table("_b", records=chunk, columns=GEN_COLUMNS)
            await conn.execute(
                f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _b ORDER BY loan_ref "
                f"ON CONFLICT ({target}) DO UPDATE SET {sets}"
            )

    sem = asyncio.Semaphore(concurrency)

    async def guarded(chunk):
        async with sem:
            await one(chunk)

    started = time.perf_counter()
    await asyncio.gather(*(guarded(rows[i : i + BATCH]) for i in range(0, len(rows), BATCH)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return elapsed


async def main(scale: float, stats_runs: int, stats_only: bool = False) -> None:
    os.environ.setdefault("EAGLET_ENV", "dev")
    os.environ.setdefault("EAGLET_LOG_LEVEL", "WARNING")
    from services.cli import run_migrations
    from services.common.auth import Principal, mint_principal
    from services.common.db import plain_url
    from services.finance.seed import GEN_COLUMNS, generate, generated_loans
    from tests.support import start_live

    pg = None
    url = os.environ.get("DATABASE_URL")
    if not url:
        from services.common.embedded_pg import EmbeddedPostgres

        pg = EmbeddedPostgres(
            os.path.join(tempfile.mkdtemp(prefix="eaglet-bench-"), "pgdata"), delete_on_stop=True
        )
        url = pg.ensure_database("eaglet_bench")
    os.environ["EAGLET_DATABASE_URL"] = url
    from services.common.settings import get_settings

    get_settings.cache_clear()
    await asyncio.to_thread(run_migrations, url)
    dsn = plain_url(url)
    conn = await asyncpg.connect(dsn)
    if not stats_only:
        await conn.execute("TRUNCATE finance.loans, finance.changes RESTART IDENTITY")

    n = int(1_000_000 * scale) // BATCH * BATCH
    if not stats_only:
        rows = generated_loans(n, seed=42)
        recs = records_for(rows)
        batches = [json.dumps({"records": recs[i : i + BATCH]}).encode() for i in range(0, n, BATCH)]
    server = start_live("finance", env={"EAGLET_DATABASE_URL": url})
    try:
        if not stats_only:
            token = mint_principal(Principal(sub="bench", kind="bank", org="BENCH"), ttl_s=86400)
            headers = {"X-Eaglet-Principal": token}
            await post_all(server.url, headers, batches[:2])  # warm-up (then truncated)
            await conn.execute("TRUNCATE finance.loans, finance.changes RESTART IDENTITY")
            api_s = await post_all(server.url, headers, batches)
            api_rate = n / api_s
            # the same loans again, each with another borrower name: every record an update
            renamed = [dict(r, borrower_name=r["borrower_name"] + " (2)") for r in recs]
            del batches
            re_batches = [
                json.dumps({"records": renamed[i : i + BATCH]}).encode() for i in range(0, n, BATCH)
            ]
            del renamed
            api_up_s = await post_all(server.url, headers, re_batches, expect="updated")
            del re_batches
            # The baseline loads the same rows into the same table. The summary triggers are part of that
            # table (every writer keeps the statistics exact, in its own transaction), so the fair baseline
            # keeps them on; the figure with the triggers off is printed too, for comparison.
            raw_s = await baseline(dsn, [("RAW", *r[1:]) for r in rows])
            name_at = GEN_COLUMNS.index("borrower_name")
            raw_up_s = await baseline(
                dsn, [("RAW", *r[1:name_at], r[name_at] + " (2)", *r[name_at + 1 :]) for r in rows]
            )
            await conn.execute("DELETE FROM finance.loans WHERE lender = 'RAW'")  # summaries stay exact
            # the delete leaves the baseline lender's summary rows at zero: drop them (still exact)
            await conn.execute("DELETE FROM finance.loan_month_totals WHERE lender = 'RAW'")
            await conn.execute("DELETE FROM finance.loan_inclusive_borrower_months WHERE delta = 0")
            await conn.execute("ALTER TABLE finance.loans DISABLE TRIGGER USER")
            try:
                bare_s = await baseline(dsn, [("RAWX", *r[1:]) for r in rows])
                await conn.execute("DELETE FROM finance.loans WHERE lender = 'RAWX'")
            finally:
                await conn.execute("ALTER TABLE finance.loans ENABLE TRIGGER USER")
            raw_rate, bare_rate = n / raw_s, n / bare_s
            api_up_rate, raw_up_rate = n / api_up_s, n / raw_up_s
            print(f"ingest: {n:,} loans, {BATCH} per request, {CONCURRENCY} concurrent")
            print(
                f"  API  POST /v1/loans/batch : {api_s:8.1f} s  {api_rate:10,.0f} loans/s (incl. validation, derived fields, change log)"
            )
            print(
                f"  raw  COPY + INSERT … ON CONFLICT, same table (summary triggers on) : {raw_s:8.1f} s  {raw_rate:10,.0f} loans/s"
            )
            print(
                f"  raw  COPY + INSERT … ON CONFLICT, summary triggers off (reference) : {bare_s:8.1f} s  {bare_rate:10,.0f} loans/s"
            )
            print(f"  ratio API / raw (same table, triggers on) = {api_rate / raw_rate:.2f} (goal ≥ 0.35)")
            print(f"  ratio API / raw with triggers off        = {api_rate / bare_rate:.2f}")
            print(f"updates: the same {n:,} loans posted again, each with another borrower name")
            print(
                f"  API  POST /v1/loans/batch : {api_up_s:8.1f} s  {api_up_rate:10,.0f} loans/s (every record updated)"
            )
            print(
                f"  raw  COPY + INSERT … ON CONFLICT DO UPDATE, same table (summary triggers on) : {raw_up_s:8.1f} s  {raw_up_rate:10,.0f} loans/s"
            )
            print(f"  ratio API / raw (updates)                = {api_up_rate / raw_up_rate:.2f}")
        sizes = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM finance.loan_month_totals) AS t,"
            " (SELECT count(*) FROM finance.loan_inclusive_borrower_months) AS m"
        )

        target = int(2_000_000 * scale)
        have = await conn.fetchval("SELECT count(*) FROM finance.loans")
        if have < target:
            await generate(conn, target - have)
        await conn.execute("VACUUM ANALYZE finance.loans")
        await conn.execute("VACUUM ANALYZE finance.loan_month_totals")
        await conn.execute("VACUUM ANALYZE finance.loan_inclusive_borrower_months")
        total = await conn.fetchval("SELECT count(*) FROM finance.loans")
        official = {
            "X-Eaglet-Principal": mint_principal(
                Principal(sub="bench", kind="official", region="330000"), ttl_s=86400
            )
        }
        times = []
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
            for i in range(stats_runs + 2):
                started = time.perf_counter()
                r = await client.get("/v1/stats", params={"year": 2022, "group_by": "city"}, headers=official)
                r.raise_for_status()
                if i >= 2:
                    times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(
            f"stats: GET /v1/stats?year=2022&group_by=city as a province official over {total:,} loans, {len(times)} runs"
        )
        print(f"  p50 {statistics.median(times):.0f} ms   p99 {p99:.0f} ms   (goal p50 < 300 ms)")
        print(
            f"  summaries after ingest: {sizes['t']:,} month-total rows, {sizes['m']:,} borrower-month rows"
        )
    finally:
        server.stop()
        await conn.close()
        if pg:
            pg.stop()


class LockSampler:
    """pg_stat_activity sampled every 20 ms while a run lasts: how often some backend of the
    database waits on a lock (wait_event_type 'Lock'), and on which kind."""

    def __init__(self, dsn: str) -> None:
        self.dsn, self.samples, self.waiting, self.kinds = dsn, 0, 0, {}
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> LockSampler:
        conn = await asyncpg.connect(self.dsn)

        async def sample() -> None:
            try:
                while True:
                    rows = await conn.fetch(
                        "SELECT wait_event FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                    )
                    self.samples += 1
                    self.waiting += bool(rows)
                    for r in rows:
                        self.kinds[r[0]] = self.kinds.get(r[0], 0) + 1
                    await asyncio.sleep(0.02)
            finally:
                await conn.close()

        self._task = asyncio.create_task(sample())
        return self

    async def __aexit__(self, *exc) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def share(self) -> float:
        return self.waiting / self.samples if self.samples else 0.0

    def describe(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.kinds.items(), key=lambda x: -x[1])) or "none"
        return f"{self.share():5.1%} of {self.samples} samples (backend-samples by kind: {kinds})"


async def post_bank(client: httpx.AsyncClient, key: str, payloads: list[bytes], in_flight: int) -> float:
    """One bank's batches through the gateway, `in_flight` at a time; seconds to the last answer."""
    sem = asyncio.Semaphore(in_flight)
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}

    async def one(body: bytes) -> None:
        async with sem:
            r = await client.post("/finance/v1/loans/batch", content=body, headers=headers)
            assert r.status_code == 200, r.text[:300]
            s = r.json()["summary"]
            assert s["rejected"] == 0 and s["created"] == s["received"], s

    started = time.perf_counter()
    await asyncio.gather(*(one(b) for b in payloads))
    return time.perf_counter() - started


async def banks_main(args) -> None:
    """The concurrent-ingest comparison (`--banks N`; the module's docstring)."""
    os.environ["EAGLET_ENV"] = "dev"
    from bench import database, processes
    from services.common.settings import get_settings
    from services.finance.seed import generated_loans

    banks, per_bank = args.banks, args.bank_loans // BATCH * BATCH
    db = await database.prepare("eaglet_bench_finance_banks")
    services: list[processes.Service] = []
    try:
        env = dict(os.environ, EAGLET_DATABASE_URL=db.url, EAGLET_ENV="dev", EAGLET_LOG_LEVEL="WARNING")
        ports = {name: processes.free_port() for name in ("registry", "finance", "gateway")}
        for name in ("registry", "finance"):
            env[f"EAGLET_{name.upper()}__URL"] = f"http://127.0.0.1:{ports[name]}"
            env[f"EAGLET_{name.upper()}__PORT"] = str(ports[name])
        env["EAGLET_RATES__BANK"] = "1000000"  # measure the ingest, not the limiter
        services.append(processes.start("registry", env=env, port=ports["registry"]))
        services.append(
            processes.start("finance", env=env, port=ports["finance"], workers=args.finance_workers)
        )
        services.append(processes.start("gateway", env=env, port=ports["gateway"]))
        keys = await _bank_keys([f"BANK{i}" for i in range(banks)] + ["SOLO"], get_settings())
        conn = await asyncpg.connect(db.dsn)
        await conn.execute(
            "DROP TABLE IF EXISTS finance.bench_bare;"
            " CREATE TABLE finance.bench_bare (LIKE finance.loans INCLUDING ALL)"
        )

        runs: list[dict] = []
        gw = f"http://127.0.0.1:{ports['gateway']}"
        async with httpx.AsyncClient(base_url=gw, timeout=600) as client:
            # warm-up: one batch per key (the keys cached, the connections open)
            for i, key in enumerate(keys.values()):
                await post_bank(
                    client,
                    key,
                    bodies(generated_loans(BATCH, seed=900 + i, first_ref=9 * 10**8 + i * BATCH)),
                    1,
                )
            for run in range(args.runs):
                ref0 = (run + 1) * 10**7
                # each bank its own borrowers (its own seed), fresh refs every run
                own = [generated_loans(per_bank, seed=1000 * run + b, first_ref=ref0) for b in range(banks)]
                solo = generated_loans(per_bank * banks, seed=1000 * run + 500, first_ref=ref0)
                raw = [
                    ("RAW", *r[1:])
                    for r in generated_loans(per_bank * banks, seed=1000 * run + 700, first_ref=ref0)
                ]
                out = await one_run(run, client, keys, db.dsn, banks, per_bank, own, solo, raw)
                many_rate, per, many_locks = out["many"]
                one_rate, one_locks = out["one"]
                runs.append({"many": many_rate, "per": per, "one": one_rate, "raw": out["raw"],
                             "locks": many_locks.share(), "one_locks": one_locks.share()})  # fmt: skip
                print(
                    f"run {run + 1}: {banks} banks {many_rate:8,.0f} loans/s (per bank "
                    f"{', '.join(f'{x:,.0f}' for x in per)}), 1 bank {one_rate:8,.0f} loans/s, "
                    f"raw {out['raw']:8,.0f} loans/s; ratio {banks} banks/raw {many_rate / out['raw']:.2f}, "
                    f"1 bank/raw {one_rate / out['raw']:.2f}"
                )
                print(f"  lock waits, {banks} banks: {many_locks.describe()}")
                print(f"  lock waits, 1 bank : {one_locks.describe()}")
        med = statistics.median
        print(
            f"concurrent ingest through the gateway: {per_bank:,} loans per bank per run, {BATCH} per request, "
            f"medians of {len(runs)} runs"
        )
        print(f"  {banks} banks at once : {med(r['many'] for r in runs):10,.0f} loans/s aggregate, per bank "
              f"{med(x for r in runs for x in r['per']):,.0f} loans/s (median over banks and runs)")  # fmt: skip
        print(f"  1 bank, {banks} in flight: {med(r['one'] for r in runs):10,.0f} loans/s")
        print(f"  raw COPY → staging → INSERT … ON CONFLICT into a bare table, {banks} connections: "
              f"{med(r['raw'] for r in runs):10,.0f} loans/s")  # fmt: skip
        print(f"  ratio {banks} banks / raw = {med(r['many'] / r['raw'] for r in runs):.2f} (goal ≥ 0.35); "
              f"1 bank / raw = {med(r['one'] / r['raw'] for r in runs):.2f}")  # fmt: skip
        print(f"  {banks} banks / 1 bank = {med(r['many'] / r['one'] for r in runs):.2f} (goal ≥ 1)")
        print(f"  samples with a lock wait: {banks} banks {med(r['locks'] for r in runs):.1%}, "
              f"1 bank {med(r['one_locks'] for r in runs):.1%}")  # fmt: skip
        await conn.execute("DROP TABLE finance.bench_bare")
        await conn.close()
    finally:
        for service in services:
            service.stop()
        db.stop()


async def one_run(run, client, keys, dsn, banks, per_bank, own, solo, raw) -> dict:
    """One run of the three (`banks_main`), in an order that rotates with the run."""
    out: dict = {}

    async def many() -> None:
        payloads = [bodies(rows) for rows in own]
        async with LockSampler(dsn) as locks:
            started = time.perf_counter()
            each = await asyncio.gather(
                *(post_bank(client, keys[f"BANK{b}"], payloads[b], 1) for b in range(banks))
            )
            total = time.perf_counter() - started
        out["many"] = (per_bank * banks / total, [per_bank / t for t in each], locks)

    async def one() -> None:
        payload = bodies(solo)
        async with LockSampler(dsn) as locks:
            t = await post_bank(client, keys["SOLO"], payload, banks)
        out["one"] = (per_bank * banks / t, locks)

    async def bare() -> None:
        out["raw"] = per_bank * banks / await baseline(dsn, raw, "finance.bench_bare", banks)

    steps = [many, one, bare]
    for step in steps[run % 3 :] + steps[: run % 3]:
        await step()
    return out


async def _bank_keys(orgs: list[str], settings) -> dict[str, str]:
    """An API client and key for each bank (the gateway's own client service)."""
    from gateway.clients.schemas import ClientCreate
    from gateway.clients.service import create_client
    from services.common.auth import Principal
    from services.common.db import create_engine, create_sessionmaker

    engine = create_engine(
        settings.model_copy(update={"db": settings.db.model_copy(update={"pool": "null"})}), "bench"
    )
    keys = {}
    async with create_sessionmaker(engine)() as session:
        for org in orgs:
            made = await create_client(
                session, Principal(sub="bench", kind="admin"), ClientCreate(kind="bank", org=org, name=org)
            )
            keys[org] = made.key
        await session.commit()
    await engine.dispose()
    return keys


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.2, help="1.0 = 1,000,000 posted, 2,000,000 for stats")
    ap.add_argument("--stats-runs", type=int, default=20)
    ap.add_argument(
        "--stats-only",
        action="store_true",
        help="skip the ingest; statistics over the loans already in DATABASE_URL",
    )
    ap.add_argument("--banks", type=int, help="only the concurrent ingest of this many banks (see above)")
    ap.add_argument("--bank-loans", type=int, default=20_000, help="loans per bank per run (--banks)")
    ap.add_argument("--runs", type=int, default=3, help="runs of the --banks comparison")
    ap.add_argument("--finance-workers", type=int, default=1, help="finance service processes (--banks)")
    args = ap.parse_args()
    if args.banks:
        asyncio.run(banks_main(args))
    else:
        asyncio.run(main(args.scale, args.stats_runs, args.stats_only))

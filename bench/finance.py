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
    from services.finance.seed import GEN_COLUMNS

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
                f"ON CONFLICT (lender, loan_ref) DO UPDATE SET {sets}"
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


# --- province scale (`--stats-loans N`): the statistics over tens of millions of loans ---------

PROVINCE_QUERIES = [
    # (label, query): what officials ask most (docs/finance.md "Statistics")
    (
        "province by city (普惠 new loans, balances, borrowers, 首贷户, 申贷获得率)",
        {"year": 2022, "group_by": "city"},
    ),
    ("两增 per lender", {"year": 2022, "group_by": "lender"}),
    ("a city by county (Hangzhou)", {"year": 2022, "region": "330100", "group_by": "county"}),
    ("province total, one half-year (month-aligned)", {"from": "2022-01-01", "to": "2022-06-30"}),
]


def _h(k: int) -> str:
    """SQL: a deterministic non-negative pseudo-random bigint of the series value `g` (stream k)."""
    return f"(hashint8extended(g, {k}) & 9223372036854775807)"


def province_loans_sql() -> str:
    """INSERT … SELECT of loans $1..$2 over $3 borrowers, generated by the server (no rows cross the
    wire). Each borrower has one region (seed.REGIONS, by borrower number) and one size; lender,
    product, amount, rate, issue date, first-loan flag and closing are drawn per loan as
    seed.generated_loans draws them. The inclusive flag and reason are `inclusive_sql` (the one
    home of the rule) with the loan's amount as the customer's loans total (generated borrowers
    have no credit lines)."""
    from services.finance.loans.repository import inclusive_sql

    flag, reason = inclusive_sql("'enterprise'", "x.size", "NULL::numeric", "x.amount")
    return f"""
    INSERT INTO finance.loans (lender, loan_ref, borrower_credit_code, borrower_name, borrower_size, product,
        amount, annual_rate, issued_on, matures_on, renewal_type, is_first_loan, credit_line_ref,
        guarantee_ref, outstanding_balance, status, closed_on, borrower_kind, customer_ref,
        borrower_region, matched, size_class, size_source, line_total, loans_total, inclusive,
        inclusive_reason, rule_set_version)
    SELECT x.lender, x.loan_ref, '91' || x.region || 'G' || lpad(x.b::text, 8, '0') || '0', '生成企业',
           x.size, x.product, x.amount, x.rate, x.issued, x.issued + 365, 'new', x.first, NULL, NULL,
           CASE WHEN x.closed IS NULL THEN x.amount ELSE 0 END,
           CASE WHEN x.closed IS NULL THEN 'outstanding' ELSE 'repaid' END, x.closed, 'enterprise', NULL,
           x.region, false, x.size, 'bank', NULL, x.amount, {flag}, {reason}, $4
    FROM (
        SELECT s.*, $5::text[] AS _r,
               ($5::text[])[1 + s.b % cardinality($5::text[])] AS region,
               ($6::text[])[1 + (hashint8extended(s.b, 9) & 9223372036854775807) % 5] AS size,
               CASE WHEN s.closes THEN s.issued + 30 + s.close_after END AS closed
        FROM (
            SELECT g, {_h(0)} % $3 AS b, 'GEN' || {_h(1)} % 8 AS lender,
                   'G' || lpad(g::text, 10, '0') AS loan_ref,
                   ($7::text[])[1 + {_h(2)} % 8] AS product,
                   ((10 + {_h(3)} % 19990) * 1000)::numeric(17, 2) AS amount,
                   ((250 + {_h(4)} % 650) / 100.0)::numeric(7, 4) AS rate,
                   date '2020-01-01' + ({_h(5)} % 1095)::int AS issued,
                   {_h(6)} % 10 = 0 AS first,
                   {_h(7)} % 10 < 4 AS closes, ({_h(8)} % 690)::int AS close_after
            FROM generate_series($1::bigint, $2::bigint) g
        ) s
    ) x"""


PROVINCE_APPLICATIONS_SQL = f"""
    INSERT INTO finance.loan_applications (lender, application_ref, borrower_credit_code, borrower_region,
        applied_on, amount_requested, decision, decided_on, borrower_size, size_class, size_source,
        rule_set_version)
    SELECT x.lender, 'A' || lpad(x.g::text, 10, '0'), '91' || x.region || 'G' || lpad(x.b::text, 8, '0') || '0',
           x.region, x.applied, x.amount, x.decision, x.applied + 7, x.size, x.size, 'bank', $4
    FROM (
        SELECT s.*, ($5::text[])[1 + s.b % cardinality($5::text[])] AS region,
               ($6::text[])[1 + (hashint8extended(s.b, 9) & 9223372036854775807) % 5] AS size
        FROM (
            SELECT g, {_h(10)} % $3 AS b, 'GEN' || {_h(11)} % 8 AS lender,
                   date '2020-01-01' + ({_h(12)} % 1095)::int AS applied,
                   ((10 + {_h(13)} % 19990) * 1000)::numeric(17, 2) AS amount,
                   CASE WHEN {_h(14)} % 10 < 8 THEN 'approved' ELSE 'rejected' END AS decision
            FROM generate_series($1::bigint, $2::bigint) g
        ) s
    ) x"""


async def seed_province(conn: asyncpg.Connection, loans: int, step: int = 1_000_000) -> dict[str, float]:
    """`loans` loans (a borrower per 4 loans), half as many loan applications and the lenders'
    whole-book reports, then the statistics summaries rebuilt from the loans. Returns seconds per
    phase.

    The loans are inserted `step` at a time by server-side INSERT … SELECT with the summary
    triggers off, then the summaries are rebuilt by `stats_db.REBUILD`: the statements the
    migration that reshaped them runs (every loan's month totals and every inclusive borrower's
    islands through the apply trigger's own SQL), in one transaction — so the summaries are those a
    production database holds, computed by the one home of their rules."""
    from services.finance.rules import VERSION
    from services.finance.seed import PRODUCTS, REGIONS
    from services.finance.stats import db as stats_db

    sizes = ["small", "micro", "micro", "medium", "large"]
    borrowers = max(1, loans // 4)
    took: dict[str, float] = {}
    started = time.perf_counter()
    await conn.execute("ALTER TABLE finance.loans DISABLE TRIGGER USER")
    try:
        sql = province_loans_sql()
        for a in range(1, loans + 1, step):
            b = min(loans, a + step - 1)
            await conn.execute(sql, a, b, borrowers, VERSION, REGIONS, sizes, PRODUCTS)
            print(
                f"  loans {b:,} / {loans:,}  {time.perf_counter() - started:6.0f} s  load {_load()}",
                flush=True,
            )
    finally:
        await conn.execute("ALTER TABLE finance.loans ENABLE TRIGGER USER")
    took["loans"] = time.perf_counter() - started
    t = time.perf_counter()
    apps = loans // 2
    for a in range(1, apps + 1, step):
        await conn.execute(
            PROVINCE_APPLICATIONS_SQL, a, min(apps, a + step - 1), borrowers, VERSION, REGIONS, sizes
        )
    # each lender's whole book at the year ends (两增's comparison), growing 10 % a year
    await conn.execute(
        """INSERT INTO finance.loan_book_reports (lender, period_end, all_loans_balance, all_loans_borrowers,
               rule_set_version)
           SELECT 'GEN' || i, make_date(y, 12, 31), (4e11 * power(1.1, y - 2019))::numeric(20, 2),
                  150000 + (y - 2019) * 5000, $1
           FROM generate_series(0, 7) i, generate_series(2019, 2022) y""",
        VERSION,
    )
    took["applications"] = time.perf_counter() - t
    t = time.perf_counter()
    async with conn.transaction():
        for statement in stats_db.REBUILD:
            await conn.execute(statement)
    took["summaries"] = time.perf_counter() - t
    t = time.perf_counter()
    for table in ("loans", "loan_applications", "loan_month_totals", "loan_inclusive_islands",
                  "loan_inclusive_borrower_months", "loan_summary_borrowers"):  # fmt: skip
        await conn.execute(f"VACUUM ANALYZE finance.{table}")
    took["vacuum"] = time.perf_counter() - t
    return took


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


async def print_sizes(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch(
        """SELECT c.relname, c.reltuples::bigint AS approx_rows,
                  pg_total_relation_size(c.oid) AS total, pg_relation_size(c.oid) AS heap,
                  pg_indexes_size(c.oid) AS indexes
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'finance' AND c.relkind = 'r'
             AND c.relname IN ('loans', 'loan_applications', 'loan_month_totals', 'loan_inclusive_islands',
                               'loan_inclusive_borrower_months', 'loan_summary_borrowers')
           ORDER BY pg_total_relation_size(c.oid) DESC"""
    )
    mb = 1024 * 1024
    print("sizes (pg_total_relation_size = heap + indexes + TOAST):")
    for r in rows:
        exact = await conn.fetchval(f"SELECT count(*) FROM finance.{r['relname']}")
        print(f"  finance.{r['relname']:32s} {exact:12,} rows  total {r['total'] / mb:9,.0f} MB"
              f"  (heap {r['heap'] / mb:8,.0f} MB, indexes {r['indexes'] / mb:8,.0f} MB)")  # fmt: skip
    for r in await conn.fetch(
        """SELECT indexrelid::regclass::text AS name, pg_relation_size(indexrelid) AS size
           FROM pg_index WHERE indrelid = 'finance.loans'::regclass ORDER BY 2 DESC"""
    ):
        print(f"    index {r['name']:45s} {r['size'] / mb:8,.0f} MB")
    months = await conn.fetchrow(
        """SELECT count(DISTINCT lender) AS lenders, count(DISTINCT month) AS months,
                  count(DISTINCT (scope_region, scope_lender)) AS cells
           FROM finance.loan_inclusive_borrower_months"""
    )
    print(f"  borrower months: {months['cells']:,} scope cells × {months['months']} months "
          f"(kept in the rows of {months['lenders']} lenders)")  # fmt: skip
    print(f"  database {await conn.fetchval('SELECT pg_size_pretty(pg_database_size(current_database()))')}")


class RecordingReader:
    """A stand-in for the service's `Reader` over an asyncpg pool: hands `service.stats` real
    connections and records every statement it sends (text and arguments), so the same SQL can
    be replayed raw and explained."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool, self.statements = pool, []

    def connection(self):
        reader = self

        class Recorded:
            def __init__(self, conn):
                self._conn = conn

            def __getattr__(self, name):
                attr = getattr(self._conn, name)
                if name in ("fetch", "fetchrow", "fetchval"):

                    async def call(sql, *args):
                        reader.statements.append((name, sql, args))
                        return await attr(sql, *args)

                    return call
                return attr

        class Lease:
            async def __aenter__(self):
                self._cm = reader.pool.acquire()
                return Recorded(await self._cm.__aenter__())

            async def __aexit__(self, *exc):
                return await self._cm.__aexit__(*exc)

        return Lease()


def p50_p99(times: list[float]) -> tuple[float, float]:
    s = sorted(times)
    return statistics.median(s), s[min(len(s) - 1, round(0.99 * (len(s) - 1)))]


async def statements_of(dsn: str, principal, params: dict) -> list[tuple]:
    """The statements `service.stats` sends for these query parameters (one recorded call)."""
    from datetime import date

    from services.finance.stats import service

    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    try:
        reader = RecordingReader(pool)
        await service.stats(
            reader, principal, year=params.get("year"),
            p_from=date.fromisoformat(params["from"]) if "from" in params else None,
            p_to=date.fromisoformat(params["to"]) if "to" in params else None,
            region=params.get("region"), lender=None, base="same_period_last_year",
            group_by=params.get("group_by"),
        )  # fmt: skip
        return reader.statements
    finally:
        await pool.close()


async def province_main(args) -> None:
    """`--stats-loans N`: the statistics at province scale (the module's docstring)."""
    os.environ["EAGLET_ENV"] = "dev"
    from bench import database, processes
    from services.common.auth import Principal
    from services.common.settings import get_settings

    n = args.stats_loans
    print(f"province-scale statistics: {n:,} loans; load {_load()}; cores {os.cpu_count()}", flush=True)
    took: dict[str, float] = {}

    async def generate(conn: asyncpg.Connection) -> None:
        took.update(await seed_province(conn, n))

    db = await database.prepare(f"eaglet_bench_finance_{n}", generate=generate)
    services: list[processes.Service] = []
    try:
        total_s = sum(took.values())
        print(f"seeding: {total_s:,.0f} s in all — loans {took['loans']:,.0f} s ({n / took['loans']:,.0f} loans/s, "
              f"server-side INSERT … SELECT, summary triggers off), applications and book reports "
              f"{took['applications']:,.0f} s, summaries rebuilt (stats_db.REBUILD) {took['summaries']:,.0f} s, "
              f"VACUUM ANALYZE {took['vacuum']:,.0f} s; load {_load()}")  # fmt: skip
        conn = await asyncpg.connect(db.dsn)
        await print_sizes(conn)
        env = dict(os.environ, EAGLET_DATABASE_URL=db.url, EAGLET_ENV="dev", EAGLET_LOG_LEVEL="WARNING")
        if args.read_timeout_ms:
            env["EAGLET_DB__READ_STATEMENT_TIMEOUT_MS"] = str(args.read_timeout_ms)
        ports = {name: processes.free_port() for name in ("registry", "finance", "gateway")}
        for name in ("registry", "finance"):
            env[f"EAGLET_{name.upper()}__URL"] = f"http://127.0.0.1:{ports[name]}"
            env[f"EAGLET_{name.upper()}__PORT"] = str(ports[name])
        for name in ("registry", "finance", "gateway"):
            services.append(processes.start(name, env=env, port=ports[name]))
        key = await _official_key(get_settings())
        official = Principal(sub="bench", kind="official", region="330000")
        gw = f"http://127.0.0.1:{ports['gateway']}"
        headers = {"Authorization": f"Bearer {key}"}
        raw_pool = await asyncpg.create_pool(db.dsn, min_size=2, max_size=2)
        async with httpx.AsyncClient(base_url=gw, timeout=600) as client:
            for label, params in PROVINCE_QUERIES:
                statements = await statements_of(db.dsn, official, params)
                api, raw, status = [], [], None
                for i in range(args.stats_runs + 2):
                    t = time.perf_counter()
                    r = await client.get("/finance/v1/stats", params=params, headers=headers)
                    took_ms = (time.perf_counter() - t) * 1000
                    status = r.status_code
                    if status != 200:
                        break
                    t = time.perf_counter()
                    # the same statements, as the service runs them: side by side, on the two
                    # connections an official's share of the read pool allows
                    await asyncio.gather(*(getattr(raw_pool, kind)(sql, *a) for kind, sql, a in statements))
                    raw_ms = (time.perf_counter() - t) * 1000
                    if i >= 2:
                        api.append(took_ms)
                        raw.append(raw_ms)
                query = "&".join(f"{k}={v}" for k, v in params.items())
                print(f"GET /finance/v1/stats?{query} — {label}; load {_load()}")
                if status != 200:
                    print(f"  answered {status}: {r.text[:300]}")
                else:
                    (a50, a99), (r50, r99) = p50_p99(api), p50_p99(raw)
                    print(f"  through the gateway : p50 {a50:7.0f} ms  p99 {a99:7.0f} ms  ({len(api)} runs; goal p50 < 300 ms: "
                          f"{'met' if a50 < 300 else 'missed'})")  # fmt: skip
                    print(
                        f"  raw SQL (its {len(statements)} statements, 2 connections): p50 {r50:7.0f} ms  p99 {r99:7.0f} ms"
                    )
                if args.explain:
                    for _kind, sql, a in statements:
                        t = time.perf_counter()
                        await conn.fetch(sql, *a)
                        ms = (time.perf_counter() - t) * 1000
                        first = " ".join(sql.split())[:110]
                        print(f"    {ms:8.0f} ms  {first}")
                        if ms > args.explain:
                            plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *a)
                            for p in plan:
                                print(f"              {p[0]}")
        await raw_pool.close()
        await conn.close()
    finally:
        for service in services:
            service.stop()
        if not args.keep:
            db.stop()
            if os.environ.get("DATABASE_URL"):
                admin = await asyncpg.connect(os.environ["DATABASE_URL"].replace("+asyncpg", ""))
                await admin.execute(f'DROP DATABASE IF EXISTS "eaglet_bench_finance_{n}" WITH (FORCE)')
                await admin.close()


async def _official_key(settings) -> str:
    """An API client and key of a province official (the gateway's own client service)."""
    from gateway.clients.schemas import ClientCreate
    from gateway.clients.service import create_client
    from services.common.auth import Principal
    from services.common.db import create_engine, create_sessionmaker

    engine = create_engine(
        settings.model_copy(update={"db": settings.db.model_copy(update={"pool": "null"})}), "bench"
    )
    async with create_sessionmaker(engine)() as session:
        made = await create_client(
            session,
            Principal(sub="bench", kind="admin"),
            ClientCreate(kind="official", region="330000", name="bench province official"),
        )
        await session.commit()
    await engine.dispose()
    return made.key


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
    ap.add_argument("--stats-loans", type=int, help="only the province-scale statistics over this many loans")
    ap.add_argument("--explain", type=float, default=0, metavar="MS",
                    help="(--stats-loans) time each statement; EXPLAIN ANALYZE those slower than MS")  # fmt: skip
    ap.add_argument("--read-timeout-ms", type=int, help="(--stats-loans) the read pool's statement timeout")
    ap.add_argument("--keep", action="store_true", help="(--stats-loans) keep the database afterwards")
    args = ap.parse_args()
    if args.banks:
        asyncio.run(banks_main(args))
    elif args.stats_loans:
        asyncio.run(province_main(args))
    else:
        asyncio.run(main(args.scale, args.stats_runs, args.stats_only))

"""Export benchmark: the loan export (`GET /v1/loans/export`, CSV and XLSX) through the finance
service vs a raw `COPY (SELECT …) TO STDOUT` of the same rows, with the service's peak memory.

    .venv/bin/python bench/exports.py                   # 200,000 loans, medians of 3 runs
    .venv/bin/python bench/exports.py --rows 50000 --runs 5

Uses DATABASE_URL when set, else an embedded PostgreSQL in a temp folder. Loads `--rows` generated
loans of one bank (COPY), and a tenth as many of a second bank, starts the finance service
(`eaglet serve finance`, one worker) and downloads each bank's export as that bank, one at a
time, reading the body as it streams. The baseline is `COPY (SELECT <the export's columns> FROM
finance.loans WHERE lender = … ORDER BY id) TO STDOUT (FORMAT csv, HEADER)` on one asyncpg
connection, its output discarded. Runs are interleaved (COPY, CSV, XLSX, then again); medians.

Peak RSS: the service process's resident set (with any children), sampled every 10 ms while a
download runs; printed with the process's RSS just before it. The export of the small bank shows
whether memory grows with the export's size (it must not: both formats are written as they stream).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.processes import start  # noqa: E402


def rss_kib(pid: int) -> int:
    """Resident set of `pid` and its children, KiB (Linux /proc)."""
    total = 0
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


class PeakRss:
    """The peak resident set of a process while the block runs (sampled every 10 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.before = pid, 0, 0
        self._stop = threading.Event()

    def __enter__(self) -> PeakRss:
        self.before = self.peak = rss_kib(self.pid)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_kib(self.pid))

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kib(self.pid))


async def download(
    client: httpx.AsyncClient, headers: dict, fmt: str, pid: int
) -> tuple[float, int, int, int]:
    """(seconds, bytes, peak RSS KiB, RSS before KiB) of one export."""
    with PeakRss(pid) as rss:
        started = time.perf_counter()
        size = 0
        async with client.stream("GET", "/v1/loans/export", params={"format": fmt}, headers=headers) as r:
            r.raise_for_status()
            async for chunk in r.aiter_raw():
                size += len(chunk)
        seconds = time.perf_counter() - started
    return seconds, size, rss.peak, rss.before


async def copy_baseline(dsn: str, lender: str, columns: list[str]) -> tuple[float, int]:
    conn = await asyncpg.connect(dsn)
    size = 0

    async def sink(data: bytes) -> None:
        nonlocal size
        size += len(data)

    try:
        started = time.perf_counter()
        await conn.copy_from_query(
            f"SELECT {', '.join(columns)} FROM finance.loans WHERE lender = $1 ORDER BY id",
            lender,
            output=sink,
            format="csv",
            header=True,
        )
        return time.perf_counter() - started, size
    finally:
        await conn.close()


async def main(rows: int, runs: int) -> None:
    os.environ.setdefault("EAGLET_ENV", "dev")
    os.environ.setdefault("EAGLET_LOG_LEVEL", "WARNING")
    from services.cli import run_migrations
    from services.common.auth import Principal, mint_principal
    from services.common.db import plain_url
    from services.finance.exports import LOAN_COLUMNS
    from services.finance.seed import GEN_COLUMNS, generated_loans

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
    banks = {"BENCH": rows, "SMALL": max(1, rows // 10)}
    await conn.execute("DELETE FROM finance.loans WHERE lender = ANY($1::text[])", list(banks))
    first = 0
    for lender, count in banks.items():
        for start_at in range(0, count, 100_000):
            chunk = generated_loans(min(100_000, count - start_at), seed=start_at + 1, first_ref=first)
            first += len(chunk)
            await conn.copy_records_to_table(
                "loans", schema_name="finance", records=[(lender, *r[1:]) for r in chunk], columns=GEN_COLUMNS
            )
    await conn.execute("VACUUM ANALYZE finance.loans")
    await conn.close()

    server = start("finance", env={"EAGLET_DATABASE_URL": url})
    pid = server.proc.pid
    idle = rss_kib(pid) / 1024
    results: dict[tuple[str, str], list[tuple]] = {}
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=600) as client:
            for lender in banks:
                headers = {
                    "X-Eaglet-Principal": mint_principal(
                        Principal(sub="bench", kind="bank", org=lender), ttl_s=86400
                    )
                }
                await download(client, headers, "csv", pid)  # warm-up: connections, imports, caches
                await download(client, headers, "xlsx", pid)
                for _ in range(runs):
                    results.setdefault((lender, "copy"), []).append(
                        await copy_baseline(dsn, lender, LOAN_COLUMNS)
                    )
                    for fmt in ("csv", "xlsx"):
                        results.setdefault((lender, fmt), []).append(
                            await download(client, headers, fmt, pid)
                        )
    finally:
        server.stop()
        if pg:
            pg.stop()

    print(f"loan export, finance service (one worker) vs COPY (SELECT …) TO STDOUT; medians of {runs} runs")
    print(f"  the service's RSS when started, before any export: {idle:.1f} MiB")
    for lender, count in banks.items():
        copy_s = statistics.median(s for s, _ in results[(lender, "copy")])
        copy_bytes = results[(lender, "copy")][0][1]
        print(f"  {count:,} loans of one bank")
        print(
            f"    raw  COPY … TO STDOUT (csv)  : {copy_s:7.2f} s  {count / copy_s:10,.0f} rows/s  {copy_bytes / 1e6:7.1f} MB"
        )
        for fmt in ("csv", "xlsx"):
            runs_ = results[(lender, fmt)]
            s = statistics.median(r[0] for r in runs_)
            size = runs_[0][1]
            peak = statistics.median(r[2] for r in runs_) / 1024
            before = statistics.median(r[3] for r in runs_) / 1024
            print(
                f"    API  GET /v1/loans/export?format={fmt:<4}: {s:7.2f} s  {count / s:10,.0f} rows/s  "
                f"{size / 1e6:7.1f} MB  ratio {copy_s / s:.2f} of COPY  "
                f"peak RSS {peak:6.1f} MiB (before {before:.1f} MiB, +{peak - before:.1f})"
            )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--rows", type=int, default=200_000, help="loans of the bank exported (a second bank: a tenth)"
    )
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    asyncio.run(main(args.rows, args.runs))

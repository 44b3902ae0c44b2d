"""File submissions benchmark: a CSV of loans uploaded through the gateway and written by the job
worker, against a raw COPY + INSERT … ON CONFLICT of the same file into the same table.

    .venv/bin/python bench/submissions.py --rows 1000000   # the issue's size (about 200 MB)
    .venv/bin/python bench/submissions.py --rows 20000     # a quick run

Starts an embedded PostgreSQL in a temp folder (or a scratch database `eaglet_bench_submissions`
on the server DATABASE_URL names), migrates, generates `rows ÷ 4` registry enterprises
(services/registry/seed.py) and writes the CSV files deterministically: the loan batch's fields
(LoanIn) as the header, unique loan refs, every line valid, borrowers drawn from the generated
enterprises (about 4 loans each, so the registry look-ups match and the 普惠 totals have
neighbours to re-derive), issue dates in 2021–2022 (the years the registry has sizes for).

For each file size (`--sizes`, default a tenth of `--rows` and `--rows`):
1. **submission**: fresh finance, gateway and worker processes (`eaglet serve`, `eaglet worker`),
   a bank API key; the file is streamed from disk as the body of
   `POST /finance/v1/submissions?kind=loans` (text/csv, Content-Length, 1 MiB reads). Timed: the
   upload to the 202 (MB/s), then until the submission is `completed` (the database polled every
   0.1 s; the status and counts are then read through the gateway). Peak RSS is each process's
   VmHWM from /proc/<pid>/status just before it stops (fresh processes, so it is this file's peak).
2. **raw**: in one transaction, `COPY` of the same file into a temp staging table typed like
   finance.loans, then one `INSERT … SELECT … ON CONFLICT` (the ledger's natural key) `DO UPDATE` into
   finance.loans itself. The derived columns the table requires are plain expressions of the row
   (no registry look-up, no totals, no change log): the floor of loading this file into this table.
   A second raw figure computes the derived columns with the upsert's own SQL (the registry joins
   and the customer's loan totals, services/finance/loans/repository.py SPEC), for reference.

The baseline's table: the real finance.loans (its indexes, checks and the statistics summaries'
triggers are part of the table, as in bench/finance.py), emptied before every run of either path
(loans, change log, summaries, findings), so both start from the same empty table and the same
registry. A bare copy of the columns would leave out work every writer of the table pays.

Then (`--sweep-rows`, default min(rows, 100,000)) the worker's time for the same file at several
chunk sizes (EAGLET_SUBMISSIONS__CHUNK_ROWS ranges up to 50,000; each submission's `chunk_rows` is
set before the worker starts, so one stack serves every size) and the worker's peak RSS at each.
Last (`--profile-rows`), the worker's path run in this process on one file: wall time per phase
(wrappers around the pipeline's functions) and the cProfile top functions of its event-loop thread.

Sizes up to `--many-below` rows (default 200,000) are measured `--runs` times (default 3), paths
alternating, and medians quoted; larger ones once. Files and processes are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import csv
import functools
import io
import os
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import database, processes  # noqa: E402
from bench.keys import api_keys  # noqa: E402

LENDER = "B-SUBMBENCH"
SUMMARY_TABLES = (
    "loans",
    "changes",
    "loan_month_totals",
    "loan_inclusive_islands",
    "loan_inclusive_borrower_months",
    "loan_summary_marks",
    "submission_findings",
)
DONE = ("completed", "completed_with_errors", "failed", "expired")
PRODUCTS = ["credit", "guaranteed", "mortgage", "pledge", "receivables", "supply_chain", "other"]
RENEWALS = ["new", "new", "new", "renewal_without_repayment", "refinance", "extension"]


# ---- data ---------------------------------------------------------------------------------------


def loan_fields() -> list[str]:
    """The header of a `loans` file (services/finance/submissions.py, the kit's kinds.py)."""
    from services.finance.submissions import SUBMISSIONS

    return SUBMISSIONS.kind("loans").fields


def write_csv(path: Path, n: int, borrowers: list[tuple[str, str]], seed: int = 17) -> int:
    """`n` valid loan lines (about 4 per borrower, from the first n ÷ 4 borrowers); the file's size.
    The header is the kind's own (its batch record's fields, as the template's)."""
    fields = loan_fields()
    rng = random.Random(seed)
    pool = borrowers[: max(1, n // 4)]
    first = date(2021, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(fields)
        for i in range(n):
            code, name = pool[rng.randrange(len(pool))]
            amount = rng.randrange(10, 20000) * 1000
            issued = first + timedelta(days=rng.randrange(0, 730))
            repaid = rng.random() < 0.3
            row = {
                "loan_ref": f"SUB-{i:09d}",
                "borrower_credit_code": code,
                "borrower_name": name,
                "borrower_size": rng.choice(("small", "micro", "micro", "medium", "large")),
                "product": rng.choice(PRODUCTS),
                "amount": f"{amount}.00",
                "annual_rate": f"{rng.randrange(250, 900) / 100:.2f}",
                "issued_on": issued.isoformat(),
                "matures_on": (issued + timedelta(days=365)).isoformat(),
                "renewal_type": rng.choice(RENEWALS),
                "is_first_loan": "true" if rng.random() < 0.1 else "false",
                "outstanding_balance": "0.00" if repaid else f"{amount * rng.randrange(10, 101) // 100}.00",
                "status": "repaid" if repaid else "outstanding",
                "closed_on": (issued + timedelta(days=rng.randrange(30, 360))).isoformat() if repaid else "",
                "borrower_kind": "enterprise",  # as the pipeline stores an absent one
            }
            w.writerow([row.get(k, "") for k in fields])
    return path.stat().st_size


async def seed(conn: asyncpg.Connection, enterprises: int) -> None:
    from services.registry.seed import generate

    await generate(conn, enterprises)
    await conn.execute(
        "INSERT INTO finance.institutions (code, name, kind, region_code) "
        "VALUES ($1, '基准测试银行', 'bank', '330100') ON CONFLICT DO NOTHING",
        LENDER,
    )


async def empty_tables(dsn: str) -> None:
    """Every run of either path starts from an empty loans table (and its summaries, change log,
    findings), the registry untouched; a checkpoint so the previous run's dirty pages are not
    written during this one."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "TRUNCATE " + ", ".join(f"finance.{t}" for t in SUMMARY_TABLES) + " RESTART IDENTITY"
        )
        await conn.execute("VACUUM ANALYZE finance.loans")
        try:
            await conn.execute("CHECKPOINT")
        except asyncpg.PostgresError:
            pass  # not a superuser on a server of yours
    finally:
        await conn.close()


# ---- processes ----------------------------------------------------------------------------------


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> tuple[float, float]:
    """(VmHWM, VmRSS) of a process in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmHWM"], values["VmRSS"]


def settled(worker: processes.Service, timeout_s: float = 20) -> None:
    """Wait until the worker has started: its resident size unchanged for a second (it serves
    no HTTP to ask), so a run neither waits for its imports nor reads a half-started process."""
    last, since = -1.0, time.monotonic()
    deadline = since + timeout_s
    while time.monotonic() < deadline:
        if worker.proc.poll() is not None:
            raise RuntimeError(f"the worker exited ({worker.proc.returncode}); see {worker.log_path}")
        rss = peak_rss_mb(worker.proc.pid)[1]
        if rss != last:
            last, since = rss, time.monotonic()
        elif time.monotonic() - since >= 1.0 and rss > 50:
            return
        time.sleep(0.1)


class Stack:
    """Finance, gateway and (optionally) the worker, started fresh for one run."""

    def __init__(self, env: dict[str, str], ports: dict[str, int]) -> None:
        self.env, self.ports = env, ports
        self.procs: dict[str, processes.Service] = {}

    def start(self, *names: str) -> None:
        for name in names:
            if name == "worker":
                self.procs[name] = worker = processes.start_worker(env=self.env)
                settled(worker)
            else:
                self.procs[name] = processes.start(name, env=self.env, port=self.ports[name])

    def rss(self) -> dict[str, tuple[float, float]]:
        return {n: peak_rss_mb(s.proc.pid) for n, s in self.procs.items() if s.proc.poll() is None}

    def cpu(self) -> dict[str, float]:
        return {n: cpu_s(s.proc.pid) for n, s in self.procs.items() if s.proc.poll() is None}

    def stop(self, keep_files: bool = False) -> None:
        for s in self.procs.values():
            s.stop()
        self.procs.clear()
        if not keep_files:  # the stored submission files (200 MB each at a million lines)
            shutil.rmtree(self.env["EAGLET_SUBMISSIONS__DIR"], ignore_errors=True)

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"


def file_blocks(path: Path, size: int = 1024 * 1024):
    with path.open("rb") as f:
        while block := f.read(size):
            yield block


def upload(gateway: str, key: str, path: Path) -> tuple[float, dict]:
    """Stream the file as the body of the submission; seconds to the 202, and its answer."""
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "text/csv",
        "Content-Length": str(path.stat().st_size),
    }
    with httpx.Client(timeout=600) as client:
        t0 = time.perf_counter()
        r = client.post(
            gateway + "/finance/v1/submissions",
            params={"kind": "loans"},
            content=file_blocks(path),
            headers=headers,
        )
        elapsed = time.perf_counter() - t0
    if r.status_code != 202:
        raise RuntimeError(f"upload answered {r.status_code}: {r.text[:500]}")
    return elapsed, r.json()


async def wait_done(dsn: str, submission_id: int, timeout_s: float = 7200) -> tuple[float, float | None]:
    """Poll the submission (every 0.05 s) until it has ended: (the client's clock when it was seen
    ended, the worker's seconds from the first poll that saw it `validating` to its finished_at,
    None if no poll did)."""
    conn = await asyncpg.connect(dsn)
    started_at = None
    try:
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            row = await conn.fetchrow(
                "SELECT status, clock_timestamp() AS now, finished_at FROM finance.submissions WHERE id = $1",
                submission_id,
            )
            if row["status"] == "validating" and started_at is None:
                started_at = row["now"]
            if row["status"] in DONE:
                seen = time.perf_counter()
                worker_s = (row["finished_at"] - started_at).total_seconds() if started_at else None
                return seen, worker_s
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise RuntimeError(f"submission {submission_id} did not end in {timeout_s:.0f} s")


async def worker_seconds(dsn: str, submission_id: int) -> float:
    """From the submission's row (stored once the body was received, so the 202's moment) to its
    finished_at: the worker's time with a worker that was waiting for it (LISTEN/NOTIFY)."""
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(
            "SELECT extract(epoch FROM finished_at - created_at)::float8 FROM finance.submissions WHERE id = $1",
            submission_id,
        )
    finally:
        await conn.close()


def api_status(gateway: str, key: str, submission_id: int) -> dict:
    r = httpx.get(
        f"{gateway}/finance/v1/submissions/{submission_id}", headers={"Authorization": f"Bearer {key}"}
    )
    r.raise_for_status()
    return r.json()


async def submission_run(stack: Stack, dsn: str, key: str, path: Path, n: int) -> dict:
    await empty_tables(dsn)
    stack.start("finance", "gateway", "worker")
    try:
        idle, cpu0 = stack.rss(), stack.cpu()
        t0 = time.perf_counter()
        up_s, sub = await asyncio.to_thread(upload, stack.gateway, key, path)
        seen, _ = await wait_done(dsn, sub["id"])
        done = await asyncio.to_thread(api_status, stack.gateway, key, sub["id"])
        worker_s = await worker_seconds(dsn, sub["id"])
        rss, cpu1 = stack.rss(), stack.cpu()
    finally:
        stack.stop()
    cpu = {name: cpu1[name] - cpu0[name] for name in cpu1}
    expected = {"created": n, "updated": 0, "unchanged": 0, "rejected": 0}
    if done["status"] != "completed" or done["counts"] != expected:
        raise RuntimeError(f"submission ended {done['status']} with {done['counts']}; expected {expected}")
    return {
        "upload_s": up_s,
        "total_s": seen - t0,
        "worker_s": worker_s,
        "rss": rss,
        "idle": idle,
        "cpu": cpu,
    }


# ---- the raw path -------------------------------------------------------------------------------


def raw_sql(derived_by_spec: bool) -> tuple[str, str, list[str]]:
    """(staging table, INSERT statement, the CSV's columns) of the raw path."""
    from services.finance.loans import repository

    fields = loan_fields()
    rows = [f for f in fields if f != "borrower_kind"]
    if derived_by_spec:  # the upsert's own SQL for the derived columns (its joins read this stage)
        stage = "_stage_loans"
        derived = dict(repository.SPEC.derived)
        joins = repository.SPEC.joins
        kind = "s.borrower_kind"
    else:  # plain expressions of the row: no look-up
        stage = "_raw_loans"
        derived = {
            "borrower_region": "substr(s.borrower_credit_code, 3, 6)",
            "matched": "false",
            "size_class": "s.borrower_size",
            "size_source": "'bank'",
            "line_total": "NULL::numeric",
            "loans_total": "NULL::numeric",
            "inclusive": "false",
            "inclusive_reason": "'not_small_micro'",
        }
        joins = ""
        kind = "COALESCE(s.borrower_kind, 'enterprise')"
    cols = ["lender", *rows, "borrower_kind", *derived, "rule_set_version"]
    select = ["$1::text", *[f"s.{c}" for c in rows], kind, *derived.values(), "$2::text"]
    compared = [c for c in cols if c not in ("lender", "loan_ref")]
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in compared)
    sql = (
        f"INSERT INTO finance.loans AS t ({', '.join(cols)}) "
        f"SELECT {', '.join(select)} FROM {stage} s {joins} ORDER BY s.loan_ref "
        f"ON CONFLICT ({conflict_target()}) DO UPDATE SET {sets}, updated_at = now()"
    )
    return stage, sql, fields


def conflict_target() -> str:
    """The loans' natural key as the ledger declares it (with the borrower and the partition date)."""
    from services.finance.ledgers import LOANS

    return f"{LOANS.owner_col}, {LOANS.ref_col}, borrower_credit_code, {LOANS.dated_col}"


def csv_blocks(path: Path, lines: int) -> list[bytes]:
    """The file cut into CSV texts of `lines` lines each, every one with the header."""
    with path.open("rb") as f:
        header, body = f.readline(), f.readlines()
    return [header + b"".join(body[i : i + lines]) for i in range(0, len(body), lines)]


async def raw_run(
    dsn: str, path: Path, n: int, derived_by_spec: bool = False, chunk: int | None = None
) -> float:
    """The raw path's seconds: the whole file in one transaction, or with `chunk` the same
    statements per `chunk` lines, one transaction each (as the worker commits)."""
    from services.finance.rules import RULES

    await empty_tables(dsn)
    stage, sql, fields = raw_sql(derived_by_spec)
    sources: list = [path] if chunk is None else [io.BytesIO(b) for b in csv_blocks(path, chunk)]
    conn = await asyncpg.connect(dsn)
    try:
        t0 = time.perf_counter()
        for source in sources:
            async with conn.transaction():
                await conn.execute(
                    f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS "
                    f"SELECT {', '.join(fields)} FROM finance.loans WITH NO DATA"
                )
                await conn.copy_to_table(stage, source=source, columns=fields, format="csv", header=True)
                if derived_by_spec and chunk is None:
                    await conn.execute(f"ANALYZE {stage}")  # a million rows: plan the joins as hashes
                status = await conn.execute(sql, LENDER, RULES.version)
        elapsed = time.perf_counter() - t0
        stored = await conn.fetchval("SELECT count(*) FROM finance.loans WHERE lender = $1", LENDER)
    finally:
        await conn.close()
    if stored != n:
        raise RuntimeError(f"raw path stored {stored} loans ({status}); expected {n}")
    return elapsed


# ---- chunk sizes and the profile ---------------------------------------------------------------


async def upload_parked(stack: Stack, dsn: str, key: str, path: Path, chunk_rows: int) -> int:
    """Upload with no worker running, then set the submission's chunk size; its id."""
    stack.start("finance", "gateway")
    _, sub = await asyncio.to_thread(upload, stack.gateway, key, path)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "UPDATE finance.submissions SET chunk_rows = $2 WHERE id = $1", sub["id"], chunk_rows
        )
    finally:
        await conn.close()
    return sub["id"]


async def chunk_run(stack: Stack, dsn: str, key: str, path: Path, n: int, chunk_rows: int) -> dict:
    await empty_tables(dsn)
    try:
        submission_id = await upload_parked(stack, dsn, key, path, chunk_rows)
        polling = asyncio.create_task(wait_done(dsn, submission_id))  # sees it taken
        await asyncio.to_thread(stack.start, "worker")
        _, worker_s = await polling
        rss = stack.rss()
    finally:
        stack.stop()
    return {"worker_s": worker_s, "rss": rss["worker"][0]}


class Phases:
    """Wall time per phase of the worker's path: wrappers around the pipeline's own functions,
    installed in this process only (the services' code is unchanged)."""

    def __init__(self) -> None:
        self.t: dict[str, float] = {}
        self.undo: list[tuple[object, str, object]] = []
        # each chunk's seconds, and the phases' totals when it started and when it ended
        self.chunks: list[tuple[float, dict[str, float], dict[str, float]]] = []

    def mark_chunks(self, owner: object, name: str) -> None:
        """Time each chunk (the kit's `_chunk`: its batch ingest and commit, not the reading of its
        lines) and keep the phases' totals around it, so a part of the file (its first or last
        tenth) can be split by phase."""
        fn = getattr(owner, name)
        self.undo.append((owner, name, fn))

        @functools.wraps(fn)
        async def timed(*a, **k):
            t0, start = time.perf_counter(), dict(self.t)
            try:
                return await fn(*a, **k)
            finally:
                self.chunks.append((time.perf_counter() - t0, start, dict(self.t)))

        setattr(owner, name, timed)

    def part(self, first: int, last: int) -> tuple[float, dict[str, float]]:
        """Seconds of chunks first..last-1 and each phase's share of them."""
        before, after = self.chunks[first][1], self.chunks[last - 1][2]
        seconds = sum(c for c, _, _ in self.chunks[first:last])
        return seconds, {k: v - before.get(k, 0.0) for k, v in after.items()}

    def add(self, label: str, seconds: float) -> None:
        self.t[label] = self.t.get(label, 0.0) + seconds

    def wrap(self, owner: object, name: str, label: str) -> None:
        fn = getattr(owner, name)
        self.undo.append((owner, name, fn))
        if asyncio.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def timed(*a, **k):
                t0 = time.perf_counter()
                try:
                    return await fn(*a, **k)
                finally:
                    self.add(label, time.perf_counter() - t0)
        else:

            @functools.wraps(fn)
            def timed(*a, **k):
                t0 = time.perf_counter()
                try:
                    return fn(*a, **k)
                finally:
                    self.add(label, time.perf_counter() - t0)

        setattr(owner, name, timed)

    def wrap_generator(self, owner: object, name: str, label: str) -> None:
        fn = getattr(owner, name)
        self.undo.append((owner, name, fn))

        def timed(*a, **k):
            it = fn(*a, **k)
            try:
                while True:
                    t0 = time.perf_counter()
                    try:
                        item = next(it)
                    except StopIteration:
                        return
                    finally:
                        self.add(label, time.perf_counter() - t0)
                    yield item
            finally:
                it.close()

        setattr(owner, name, timed)

    def restore(self) -> None:
        for owner, name, fn in reversed(self.undo):
            setattr(owner, name, fn)


async def profile_run(
    stack: Stack, dsn: str, key: str, path: Path, n: int, chunk_rows: int, top: int
) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession

    from services.common import batch
    from services.common.settings import get_settings
    from services.common.submissions import repository as sub_repo
    from services.common.submissions import service
    from services.finance import batching, bulk
    from services.finance import submissions as finance_submissions
    from services.finance.loans import repository as loan_repo
    from services.finance.loans import service as loans

    async def one_pass(profiler: cProfile.Profile | None) -> tuple[float, Phases, dict]:
        await empty_tables(dsn)
        try:
            submission_id = await upload_parked(stack, dsn, key, path, chunk_rows)
        finally:
            stack.stop(keep_files=True)  # the worker's path runs here, on the stored file
        settings = get_settings().for_process("worker")
        store = Path(stack.env["EAGLET_SUBMISSIONS__DIR"])
        settings = settings.model_copy(
            update={"submissions": settings.submissions.model_copy(update={"dir": store})}
        )
        ph = Phases()
        ph.wrap(
            service, "count_lines", "count the file's lines (rows_total: a first pass, on the event loop)"
        )
        ph.wrap_generator(service, "chunks_of", "read + parse the CSV lines (in a thread)")
        ph.wrap(batch, "parse", "pydantic validation of the records (one list call)")
        ph.wrap(loans, "cross_check", "record rules (cross_check)")
        ph.wrap(loan_repo, "borrowers_of", "look-up: borrowers of these refs")
        ph.wrap(loan_repo, "known_borrowers", "look-up: registry directory")
        ph.wrap(batching, "hold_institution", "advisory lock of the institution")
        ph.wrap(bulk, "upsert", "upsert: COPY to stage + INSERT … ON CONFLICT + change log")
        ph.wrap(loan_repo, "recompute_inclusive_in", "re-derive the borrowers' other loans (普惠 totals)")
        ph.wrap(batch, "_answer", "batch answer (results as plain data)")
        ph.wrap(service, "findings_of", "findings rows of the chunk")
        ph.wrap(sub_repo, "commit_chunk", "chunk record + findings COPY")
        ph.wrap(AsyncSession, "commit", "COMMIT (summary triggers applied at commit)")
        ph.mark_chunks(service, "_chunk")
        try:
            t0 = time.perf_counter()
            if profiler:
                profiler.enable()
            await finance_submissions.process(settings, submission_id)
            if profiler:
                profiler.disable()
            total = time.perf_counter() - t0
        finally:
            ph.restore()
            stack.stop()
        conn = await asyncpg.connect(dsn)
        try:
            row = await conn.fetchrow(
                "SELECT status, created, rejected FROM finance.submissions WHERE id = $1", submission_id
            )
            actions = await conn.fetch(
                "SELECT action, count(*) AS n FROM finance.changes GROUP BY 1 ORDER BY 1"
            )
            row = {**row, "changes": {r["action"]: r["n"] for r in actions}}
        finally:
            await conn.close()
        return total, ph, row

    total, ph, row = await one_pass(None)
    print(
        f"\nprofile: the worker's path in this process, {n:,} lines, chunks of {chunk_rows:,} "
        f"(ended {row['status']}, {row['created']:,} created, {row['rejected']} rejected)"
    )
    changes = ", ".join(f"{v:,} {k}" for k, v in row["changes"].items())
    print(f"  change log: {changes}")
    print(f"  total {total:6.2f} s = {n / total:,.0f} rows/s; wall time per phase:")
    nested = ("record rules", "look-up", "advisory", "upsert", "re-derive", "batch answer", "pydantic")
    for label, s in sorted(ph.t.items(), key=lambda kv: -kv[1]):
        mark = "  (in the batch pipeline)" if label.startswith(nested) else ""
        print(f"  {s:7.2f} s  {100 * s / total:5.1f} %  {label}{mark}")
    print(f"  {total - sum(ph.t.values()):7.2f} s  rest (sessions, take/finish, the event loop)")
    tenth = max(1, len(ph.chunks) // 10)
    if len(ph.chunks) >= 2 * tenth:
        print(
            f"  the file's first and last tenth ({tenth} chunks each), seconds per chunk by phase "
            "(its ingest and commit):"
        )
        parts = {"first": ph.part(0, tenth), "last": ph.part(len(ph.chunks) - tenth, len(ph.chunks))}
        print(f"    {'first':>7} {'last':>7}  phase")
        print(f"    {parts['first'][0] / tenth:7.3f} {parts['last'][0] / tenth:7.3f}  the whole chunk")
        labels = sorted(parts["last"][1], key=lambda k: -parts["last"][1][k])
        for label in labels:
            a, b = (parts[w][1].get(label, 0.0) / tenth for w in ("first", "last"))
            if max(a, b) >= 0.001:
                print(f"    {a:7.3f} {b:7.3f}  {label}")
    if top <= 0:
        return
    profiler = cProfile.Profile()
    cp_total, _, _ = await one_pass(profiler)
    print(
        f"  top {top} functions by own time, a second pass under cProfile ({cp_total:.2f} s; the "
        "event-loop thread only, awaiting the database is the epoll line):"
    )
    stats = pstats.Stats(profiler)
    entries = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:top]  # type: ignore[attr-defined]
    for (file, line, name), (_cc, calls, tt, ct, _callers) in entries:
        where = f"{Path(file).name}:{line} {name}" if line else name
        print(f"    {tt:7.2f} s own {ct:7.2f} s cum {calls:>10,} calls  {where}")


# ---- report -------------------------------------------------------------------------------------


def med(values: list[float]) -> float:
    return statistics.median(values)


async def measure(args, db: database.BenchDatabase, work: Path) -> None:
    from gateway.clients.schemas import ClientCreate
    from services.common.settings import get_settings

    sizes = sorted(set(args.sizes or [max(1000, args.rows // 10), args.rows]))
    conn = await asyncpg.connect(db.dsn)
    try:
        borrowers = [
            (r["credit_code"], r["name"])
            for r in await conn.fetch(
                "SELECT credit_code, name FROM registry.enterprises WHERE substr(credit_code, 9, 1) = 'G' "
                "ORDER BY credit_code"
            )
        ]
    finally:
        await conn.close()
    (bank_key,) = await api_keys(get_settings(), ClientCreate(kind="bank", org=LENDER, name="bench bank"))

    ports = {name: processes.free_port() for name in ("finance", "gateway")}
    env = dict(os.environ, EAGLET_DATABASE_URL=db.url, EAGLET_ENV="dev", EAGLET_LOG_LEVEL="WARNING")
    env["EAGLET_FINANCE__URL"] = f"http://127.0.0.1:{ports['finance']}"
    env["EAGLET_RATES__BANK"] = "1000000"  # measure the path, not the limiter
    env["EAGLET_SUBMISSIONS__DIR"] = str(work / "store")
    env["EAGLET_SUBMISSIONS__CHUNK_ROWS"] = str(args.chunk_rows)
    stack = Stack(env, ports)

    files: dict[int, tuple[Path, int]] = {}
    for n in sorted(set([*sizes, args.sweep_rows, args.profile_rows]) - {0}):
        path = work / f"loans-{n}.csv"
        t0 = time.perf_counter()
        files[n] = (path, write_csv(path, n, borrowers))
        print(f"file: {n:,} lines, {files[n][1] / 1e6:,.1f} MB, written in {time.perf_counter() - t0:.1f} s")
    print(
        f"cores: {os.cpu_count()}; load average at start: {os.getloadavg()[0]:.1f}; "
        f"chunk rows {args.chunk_rows:,}; {len(borrowers):,} registry enterprises"
    )

    results = []
    try:
        for n in [] if args.skip_main else sizes:
            path, size = files[n]
            runs = args.runs if n <= args.many_below else args.big_runs
            subs, raws, specs = [], [], []
            for r in range(runs):
                order = ("sub", "raw") if r % 2 == 0 else ("raw", "sub")
                for what in order:
                    if what == "sub":
                        subs.append(await submission_run(stack, db.dsn, bank_key, path, n))
                    else:
                        raws.append(await raw_run(db.dsn, path, n))
                if not args.skip_spec_raw:
                    specs.append(await raw_run(db.dsn, path, n, derived_by_spec=True))
                s = subs[-1]
                print(
                    f"  {n:,} lines, run {r + 1}/{runs}: upload {s['upload_s']:.2f} s, submission {s['total_s']:.2f} s "
                    f"(worker {s['worker_s'] or float('nan'):.2f} s; CPU s: worker {s['cpu']['worker']:.1f}, "
                    f"finance {s['cpu']['finance']:.1f}, gateway {s['cpu']['gateway']:.1f}), raw {raws[-1]:.2f} s"
                    + (f", raw with the upsert's derived SQL {specs[-1]:.2f} s" if specs else "")
                    + f"; peak RSS MB: finance {s['rss']['finance'][0]:.0f}, gateway {s['rss']['gateway'][0]:.0f}, "
                    f"worker {s['rss']['worker'][0]:.0f}; load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
            results.append((n, size, runs, subs, raws, specs))
        if results:
            report(results)
        if args.sweep_rows:
            n = args.sweep_rows
            path, _ = files[n]
            print(
                f"\nchunk size: the worker's time for the {n:,}-line file (first poll seeing it validating → finished_at)"
            )
            for chunk in args.chunks:
                times, rss = [], []
                for _ in range(args.sweep_runs):
                    c = await chunk_run(stack, db.dsn, bank_key, path, n, chunk)
                    times.append(c["worker_s"])
                    rss.append(c["rss"])
                how = (
                    "EAGLET_SUBMISSIONS__CHUNK_ROWS range" if chunk <= 50_000 else "over the setting's bound"
                )
                raw_c = await raw_run(db.dsn, path, n, chunk=chunk)
                spec_c = await raw_run(db.dsn, path, n, derived_by_spec=True, chunk=chunk)
                print(
                    f"  {chunk:>7,} rows per chunk: worker {med(times):7.2f} s = {n / med(times):8,.0f} rows/s, "
                    f"worker peak RSS {max(rss):6.0f} MB  ({len(times)} run(s): "
                    f"{', '.join(f'{t:.2f}' for t in times)}; {how}); raw in the same chunks {raw_c:.2f} s, "
                    f"with the upsert's derived SQL {spec_c:.2f} s"
                )
        if args.profile_rows:
            path, _ = files[args.profile_rows]
            await profile_run(stack, db.dsn, bank_key, path, args.profile_rows, args.chunk_rows, args.top)
    finally:
        stack.stop()


def report(results) -> None:
    print(
        "\nsubmission (through the gateway, worker) vs raw COPY + INSERT … ON CONFLICT, same table emptied before each"
    )
    print(
        f"  {'lines':>9} {'MB':>7} {'runs':>4} {'upload MB/s':>11} {'total s':>8} {'rows/s':>8} "
        f"{'raw s':>7} {'raw rows/s':>10} {'ratio':>6} {'spec-raw s':>10} {'ratio':>6}"
    )
    for n, size, runs, subs, raws, specs in results:
        total = med([s["total_s"] for s in subs])
        up = med([s["upload_s"] for s in subs])
        raw = med(raws)
        spec = med(specs) if specs else float("nan")
        print(
            f"  {n:>9,} {size / 1e6:>7.1f} {runs:>4} {size / 1e6 / up:>11.1f} {total:>8.2f} {n / total:>8,.0f} "
            f"{raw:>7.2f} {n / raw:>10,.0f} {raw / total:>6.2f} {spec:>10.2f} {spec / total:>6.2f}"
        )
    print("  ratio = raw time ÷ submission time (upload to completed), medians; goal ≥ 0.5.")
    print("  spec-raw: the raw path with the upsert's own derived-column SQL (registry joins, loan totals).")
    print(
        "\npeak RSS, MB (VmHWM of fresh processes; idle VmRSS after start in brackets), the largest of the runs:"
    )
    print(f"  {'lines':>9} {'finance':>16} {'gateway':>16} {'worker':>16}")
    for n, _size, _runs, subs, _raws, _specs in results:
        cells = []
        for name in ("finance", "gateway", "worker"):
            peak = max(s["rss"][name][0] for s in subs)
            idle = max(s["idle"][name][1] for s in subs)
            cells.append(f"{peak:7.0f} ({idle:5.0f})")
        print(f"  {n:>9,} {cells[0]:>16} {cells[1]:>16} {cells[2]:>16}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="the largest file's loan lines")
    ap.add_argument("--sizes", type=int, nargs="*", help="file sizes measured (default: rows ÷ 10 and rows)")
    ap.add_argument("--runs", type=int, default=3, help="runs per path for sizes up to --many-below (median)")
    ap.add_argument("--big-runs", type=int, default=1, help="runs per path for larger sizes")
    ap.add_argument("--many-below", type=int, default=200_000)
    ap.add_argument(
        "--chunk-rows", type=int, default=20_000, help="EAGLET_SUBMISSIONS__CHUNK_ROWS (≤ 50,000)"
    )
    ap.add_argument(
        "--sweep-rows", type=int, help="file for the chunk-size sweep (default min(rows, 100,000); 0: none)"
    )
    ap.add_argument("--chunks", type=int, nargs="*", default=[5000, 20000, 50000])
    ap.add_argument("--sweep-runs", type=int, default=1)
    ap.add_argument("--profile-rows", type=int, help="file profiled (default min(rows, 100,000); 0: none)")
    ap.add_argument("--top", type=int, default=25, help="cProfile functions printed (0: no cProfile pass)")
    ap.add_argument("--skip-main", action="store_true", help="only the chunk sizes and the profile")
    ap.add_argument("--skip-spec-raw", action="store_true", help="no raw run with the upsert's derived SQL")
    args = ap.parse_args()
    if args.sweep_rows is None:
        args.sweep_rows = min(args.rows, 100_000)
    if args.profile_rows is None:
        args.profile_rows = min(args.rows, 100_000)
    largest = max([args.rows, *(args.sizes or []), args.sweep_rows, args.profile_rows])

    os.environ["EAGLET_ENV"] = "dev"
    enterprises = max(1000, largest // 4)
    db = asyncio.run(
        database.prepare(
            "eaglet_bench_submissions",
            keep_if=database.generated_enterprises(enterprises),
            generate=lambda conn: seed(conn, enterprises),
        )
    )
    work = Path(tempfile.mkdtemp(prefix="eaglet-bench-submissions-"))
    try:
        if db.generated_s is not None:
            print(f"registry: {enterprises:,} enterprises generated in {db.generated_s:.1f} s")
        asyncio.run(measure(args, db, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        db.stop()


if __name__ == "__main__":
    main()

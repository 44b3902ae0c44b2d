"""Settings for every eaglet process, from environment variables prefixed ``EAGLET_``.

Nested groups use ``__``: ``EAGLET_DB__POOL_SIZE=20``, ``EAGLET_FINANCE__PORT=9102``.
Secrets have development defaults that are refused unless ``EAGLET_ENV=dev``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_INTERNAL_KEY = "dev-internal-key-not-for-production-use-0000"
DEV_CURSOR_KEY = "dev-cursor-key-not-for-production-use-00000"
DEV_TOKEN_KEY = "dev-token-key-not-for-production-use-000000"

SERVICES = ("registry", "finance", "standards")


class DatabaseSettings(BaseModel):
    pool_size: int = 10
    max_overflow: int = 10
    # The asyncpg pool of the hot read paths (services/common/readpool.py), beside the engine's.
    read_pool_size: int = 10
    # How many of those connections one caller (a bank, a guarantor, an official) may hold at once;
    # their further statements wait for their own turn, behind nobody else's.
    read_pool_per_caller: int = 2
    # The statement timeout on the read pool: a list, search or lookup running longer is cancelled
    # and answered 422 query_too_broad (the engine's sessions keep statement_timeout_ms).
    read_statement_timeout_ms: int = 3_000
    pool_timeout_s: float = 10.0
    statement_timeout_ms: int = 30_000
    # Every engine checkout is checked with a ping first (one short round trip): a connection the
    # database dropped (a restart, a failover) is replaced there instead of failing a request.
    pre_ping: bool = True
    # How long opening a connection may take (every pool of the process): a database that is away
    # answers 503 database_unavailable after this, never a request hanging on the connect.
    connect_timeout_s: float = Field(5.0, gt=0)
    # Retry-After (seconds) on the 503 database_unavailable (docs/operations.md "Database failover
    # and restarts").
    retry_after_s: int = Field(2, ge=1)
    # Prepared statements asyncpg keeps per connection (and SQLAlchemy's cache beside it; both
    # default to 100), on every pool of the process. Behind PgBouncer in transaction mode a
    # statement may run on another server connection than the one that prepared it: 0 there
    # (docs/deploy.md "Pooler and statement cache").
    statement_cache_size: int = Field(100, ge=0)
    # The gateway's LISTEN connection (key revocations) needs a session of its own, which
    # PgBouncer in transaction mode cannot give: the primary directly. Empty: the database URL.
    listen_url: str | None = None
    # A streaming replica (a CloudNativePG cluster's `-ro` service or pooler) for the hot reads:
    # the read pool and the export pool connect here, the engine and the lookups that must see
    # the caller's own writes stay on the database URL (docs/deploy.md "Read replicas").
    # Empty: every read on the database URL, as before. A process with its own role URL takes
    # its own read URL too (EAGLET_<PROCESS>__READ_URL: `Settings.for_process`).
    read_url: str | None = None
    recycle_s: int = 1800
    # "queue" (a real pool) or "null" (a connection per session; for tools that hop event loops)
    pool: Literal["queue", "null"] = "queue"


class ExportSettings(BaseModel):
    """Downloads (every list export, services/common/export.py): their own connections, never the
    read pool's."""

    # Connections of the export pool per process: at most this many exports stream at once.
    connections: int = 4
    # Exports one caller may run at once per process; one more is a 429 too_many_exports.
    per_caller: int = 2
    # A download waits this long for an export connection, then gets 429 exports_busy.
    wait_s: float = 10.0
    # A client that takes no more data for this long is dropped and its cursor closed.
    send_timeout_s: float = 30.0
    # Rows fetched per round trip of an export's cursor.
    fetch_rows: int = 200
    # The share of a process's event loop the exports running in it take together at most (the
    # rest stays with the lookups; an export alone on an idle process is slowed by as much).
    loop_share: float = 0.5
    # Asynchronous exports (`POST /v1/exports`, written by the job worker) one caller may have
    # queued or running at once; one more is a 429 too_many_exports.
    async_per_caller: int = 2


class ScreeningSettings(BaseModel):
    """Screenings of the cultivation pool (services/registry/pool/runner.py, pool/tasks.py)."""

    # Regions with more enterprises than this are screened in the background by the job worker:
    # 202 and a status resource. Smaller ones are answered with their results (201), as before.
    background_above: int = 5_000
    # Processes evaluating screenings: per service process for the answered ones, per worker
    # process for the background ones.
    processes: int = 1
    # Niceness of those processes: the evaluation yields the CPU to the requests being served.
    nice: int = 10
    # Background screenings one caller may have queued or running at once; one more is a 429.
    per_caller: int = 2


class EventsSettings(BaseModel):
    """The change feed (services/common/events.py)."""

    # The feed's horizon: it serves the events of the last `retention_days` days. A cursor whose
    # next events are older is a 410 cursor_expired; the change log itself (the audit trail) is
    # never deleted.
    retention_days: int = Field(30, gt=0)
    # Change rows one page examines at most, whatever it finds: a caller whose events are rare
    # among other callers' rows gets a short page (maybe empty) and a cursor past what was read.
    scan_rows: int = Field(2_000, gt=0)


class JobsSettings(BaseModel):
    """The job runner (procrastinate, services/jobs/): the `eaglet worker` process."""

    # Connections of the worker's procrastinate pool (psycopg): fetching jobs, heartbeats,
    # LISTEN for new jobs. Its tasks' own SQL uses a separate asyncpg pool of `task_pool_size`.
    pool_size: int = Field(4, ge=2)
    task_pool_size: int = Field(4, ge=1)
    # Jobs one worker process runs at once (asyncio tasks; screenings' CPU work goes to processes).
    concurrency: int = Field(4, ge=1)
    # A worker writes its heartbeat this often; a worker silent for stalled_after_s is taken as
    # dead, and the jobs it held are run again (by the `stalled` periodic job, see its schedule).
    heartbeat_s: float = Field(10.0, gt=0)
    stalled_after_s: float = Field(30.0, gt=0)
    # Without a notification, a worker looks for new jobs this often.
    poll_s: float = Field(5.0, gt=0)
    # On SIGTERM a worker waits this long for its running jobs, then aborts them (they are retried).
    shutdown_grace_s: float = Field(30.0, ge=0)
    # Periodic jobs, as cron lines in UTC (a sixth field counts seconds): stalled jobs retried; the
    # enterprises' cached titles refreshed (after midnight in Shanghai, 16:00 UTC); expired
    # Idempotency-Keys purged; what is kept only for the feed horizon removed (retention);
    # stalled file submissions expired.
    stalled_cron: str = "* * * * *"
    titles_cron: str = "5 16 * * *"
    idempotency_cron: str = "17 * * * *"
    retention_cron: str = "40 17 * * *"
    # File submissions whose worker stopped (or that none took) marked expired (submissions/sweep.py).
    submissions_cron: str = "*/2 * * * *"
    # The ledgers' month partitions (services/finance/partitions.py): created this many months
    # ahead, every day; a date beyond them lands in the ledger's DEFAULT partition meanwhile.
    ledger_partitions_cron: str = "25 18 * * *"
    ledger_months_ahead: int = Field(3, ge=1, le=60)
    # Asynchronous exports: a finished file is kept this long, then removed (410 export_expired).
    export_retention_h: int = Field(24, ge=1)
    # The worker's /healthz, /readyz and /metrics for an orchestrator's probes (services/jobs/health.py);
    # port 0: none (`eaglet up` needs none).
    health_host: str = "127.0.0.1"
    health_port: int = Field(0, ge=0, le=65535)
    # The worker's own database URL (its role, eaglet_worker: docs/roles.md); empty: the shared one.
    database_url: str | None = None

    @field_validator(
        "stalled_cron",
        "titles_cron",
        "idempotency_cron",
        "retention_cron",
        "submissions_cron",
        "ledger_partitions_cron",
    )
    @classmethod
    def _cron(cls, value: str) -> str:
        from croniter import croniter  # procrastinate's own schedule parser

        if not croniter.is_valid(value):
            raise ValueError(f"not a cron line: {value!r} (minute hour day month weekday [second])")
        return value


class WebhookSettings(BaseModel):
    """Webhooks at the gateway (gateway/webhooks/): registration rules and the dispatcher."""

    # Hosts (exact names, case-insensitive) whose webhook URLs may resolve to any address,
    # private ones included (a bank's internal receiver). Outside EAGLET_ENV=dev every other
    # host must resolve to public addresses only; https is required outside dev for all.
    allow_hosts: Annotated[list[str], NoDecode] = []
    # One delivery attempt's whole deadline: connect, send, response head and its first 2 KB.
    timeout_s: float = Field(15.0, gt=0)
    # Deliveries to one endpoint in flight at once, per dispatcher (its leases over all dispatchers:
    # twice this, the ones being sent and as many next in line): a slow receiver fills only its
    # own slots.
    per_endpoint: int = Field(4, ge=1, le=100)
    # Deliveries one dispatcher process has in flight at once, over all endpoints.
    max_in_flight: int = Field(64, ge=1)
    # A claimed delivery is leased for this long; a dispatcher that dies mid-delivery leaves it
    # to another after the lease (longer than timeout_s, so a live attempt is never sent twice).
    lease_s: float = Field(60.0, gt=0)
    # How often the dispatcher reads the feeds and looks for due deliveries when idle.
    poll_s: float = Field(0.1, gt=0)
    # Events asked for per feed page (the feed's page limit, 500, at most).
    batch: int = Field(500, ge=1, le=500)
    # After a secret rotation the previous secret keeps signing beside the new one this long.
    rotation_grace_h: float = Field(24.0, ge=0)
    # An endpoint whose every delivery has failed for this long is disabled (5 days).
    disable_after_failing_h: float = Field(120.0, gt=0)
    # Name resolution of a webhook URL's host, at registration and before each delivery.
    dns_timeout_s: float = Field(5.0, gt=0)
    # Endpoints one owner (an API client, a person) may have.
    max_endpoints_per_owner: int = Field(20, ge=1)
    # Encrypts the signing secrets at rest (AES-GCM); empty: a key derived from internal_key
    # (then changing EAGLET_INTERNAL_KEY makes every stored secret unreadable: rotate them).
    secrets_key: SecretStr | None = None
    # During a rotation of secrets_key, the key being retired: secrets sealed under it still open
    # until `eaglet webhooks reseal` has sealed them all under secrets_key (docs/operations.md).
    secrets_key_previous: SecretStr | None = None

    @field_validator("allow_hosts", mode="before")
    @classmethod
    def _host_list(cls, v):
        if isinstance(v, str):
            v = v.strip()
            v = json.loads(v) if v.startswith("[") else [h for h in v.split(",")]
        return [h.strip().lower().rstrip(".") for h in v if h and h.strip()]

    @model_validator(mode="after")
    def _lease_outlives_an_attempt(self) -> WebhookSettings:
        if self.lease_s <= self.timeout_s:
            raise ValueError("webhooks.lease_s must be longer than webhooks.timeout_s")
        return self


class SubmissionsSettings(BaseModel):
    """File submissions (`POST /v1/submissions`): where the files are kept, how large one may be,
    and how many lines the worker writes per chunk (one transaction each)."""

    # Empty: `<data_dir>/submissions`. The services and the worker must see the same directory.
    dir: Path | None = None
    # A body over this is answered 413, announced (Content-Length) or counted while it streams.
    max_bytes: int = Field(2 * 1024**3, gt=0)
    # Lines per chunk: each chunk runs the kind's batch ingest once, in one transaction. Not the
    # JSON batch's bound (5,000 records a request): the worker's memory grows with the chunk, never
    # with the file, and fewer chunks re-derive a borrower's earlier loans fewer times
    # (docs/submissions.md has the measurements).
    chunk_rows: int = Field(20_000, ge=1, le=50_000)
    # An S3-compatible object store keeps the files when a bucket is named (empty: the directory
    # above keeps them; it stays the uploads' and the worker's scratch space either way).
    s3_bucket: str = ""
    # Empty: AWS's own endpoint for the region; e.g. http://127.0.0.1:9000 for a local store.
    s3_endpoint: str = ""
    s3_region: str = "us-east-1"
    # The objects' names begin with this within the bucket.
    s3_prefix: str = "submissions/"
    # Empty: the credentials of the environment (AWS_ACCESS_KEY_ID..., an instance's role).
    s3_access_key_id: str = ""
    s3_secret_access_key: SecretStr | None = None
    # An http:// endpoint is refused unless this is set (a local store in development).
    s3_allow_http: bool = False
    # The worker stamps a validating submission's heartbeat at least this often (during a chunk too).
    heartbeat_s: float = Field(30.0, gt=0)
    # A validating submission silent this long, or a received one never taken, is `expired`.
    stall_s: float = Field(600.0, gt=0)
    # An ended submission's file is deleted this many days after it ended (summary and findings stay).
    retention_days: int = Field(30, ge=1)


class ServiceSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int
    # Where the gateway reaches this service; defaults to http://host:port.
    url: str | None = None
    # uvicorn worker processes `eaglet serve` runs for this process (one listening socket shared
    # by all; `--workers` overrides it and sets it for the workers, so they know their number).
    workers: int = Field(1, ge=1)
    # This process's own database URL (its role, e.g. eaglet_finance: docs/roles.md); empty: the
    # shared EAGLET_DATABASE_URL, which stays the owner's (migrations, seeds, the CLI).
    database_url: str | None = None
    # This process's own replica URL (its role on the replica: docs/deploy.md "Read replicas");
    # empty: EAGLET_DB__READ_URL.
    read_url: str | None = None

    @property
    def base_url(self) -> str:
        return self.url or f"http://{self.host}:{self.port}"


# One class per process so that setting one field (e.g. EAGLET_REGISTRY__URL) keeps the default port.
class RegistrySettings(ServiceSettings):
    port: int = 8101


class FinanceSettings(ServiceSettings):
    port: int = 8102


class StandardsSettings(ServiceSettings):
    port: int = 8103


class GatewayProcessSettings(ServiceSettings):
    port: int = 8000
    # Gateway replicas behind the load balancer. Buckets kept in a process (no EAGLET_REDIS_URL,
    # or Redis unreachable) allow rate ÷ (replicas × workers), so that all of them together never
    # let a client past its rate (gateway/ratelimit.py).
    replicas: int = Field(1, ge=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="EAGLET_", env_nested_delimiter="__", extra="ignore", populate_by_name=True
    )

    env: Literal["dev", "test", "prod"] = "dev"
    # Empty: `eaglet up` starts the embedded PostgreSQL under data_dir.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("EAGLET_DATABASE_URL", "DATABASE_URL")
    )
    data_dir: Path = Path(".eaglet")
    log_level: str = "INFO"

    # Signs the X-Eaglet-Principal JWT between gateway and services (HS256).
    internal_key: SecretStr = SecretStr(DEV_INTERNAL_KEY)
    # During a rotation, the key being retired: still accepted, never used to sign, so processes
    # holding the old and the new key keep talking while the rollout runs (docs/operations.md).
    internal_key_previous: SecretStr | None = None
    principal_ttl_s: int = 120
    # Signs pagination and change-feed cursors so a tampered cursor is detected.
    cursor_key: SecretStr = SecretStr(DEV_CURSOR_KEY)
    # During a rotation, the key being retired: cursors it signed are still accepted, new ones are
    # signed with cursor_key.
    cursor_key_previous: SecretStr | None = None
    # Signs the dev person tokens `eaglet token` mints (HS256), when no OIDC issuer is configured.
    token_key: SecretStr = SecretStr(DEV_TOKEN_KEY)

    max_body_bytes: int = 32 * 1024 * 1024
    idempotency_retention_h: int = 48
    # A claimed Idempotency-Key's lease: renewed while its request runs; when the holder dies the
    # next retry takes the claim over at most this long after the last renewal.
    idempotency_lease_s: float = Field(10.0, gt=0)

    db: DatabaseSettings = DatabaseSettings()
    export: ExportSettings = ExportSettings()
    screening: ScreeningSettings = ScreeningSettings()
    events: EventsSettings = EventsSettings()
    jobs: JobsSettings = JobsSettings()
    submissions: SubmissionsSettings = SubmissionsSettings()
    webhooks: WebhookSettings = WebhookSettings()
    registry: RegistrySettings = RegistrySettings()
    finance: FinanceSettings = FinanceSettings()
    standards: StandardsSettings = StandardsSettings()
    gateway: GatewayProcessSettings = GatewayProcessSettings()

    @model_validator(mode="after")
    def _secrets_not_default_outside_dev(self) -> Settings:
        if self.env == "dev":
            return self
        defaults = {
            "internal_key": DEV_INTERNAL_KEY,
            "cursor_key": DEV_CURSOR_KEY,
            "token_key": DEV_TOKEN_KEY,
        }
        bad = [name for name, dev in defaults.items() if getattr(self, name).get_secret_value() == dev]
        if bad:
            raise ValueError(
                f"EAGLET_ENV={self.env} refuses development secrets; set "
                + ", ".join(f"EAGLET_{n.upper()}" for n in bad)
            )
        return self

    def verifying_keys(self, name: str) -> tuple[bytes, ...]:
        """The keys a signature by `name` (internal_key, cursor_key) is checked against: the
        key, then the one being retired."""
        previous = getattr(self, f"{name}_previous")
        keys = (getattr(self, name), *([previous] if previous is not None else []))
        return tuple(k.get_secret_value().encode() for k in keys)

    def submissions_dir(self) -> Path:
        return self.submissions.dir or self.data_dir / "submissions"

    def service(self, name: str) -> ServiceSettings:
        return getattr(self, name)

    def process_database_url(self, process: str) -> str | None:
        """The URL `process` (registry, finance, standards, gateway or worker) sets of its own;
        None for any other name."""
        if process == "worker":
            return self.jobs.database_url
        group = getattr(self, process, None)
        return group.database_url if isinstance(group, ServiceSettings) else None

    def for_process(self, process: str) -> Settings:
        """These settings as `process` runs with them: `database_url` is its own URL when it has
        one (EAGLET_<PROCESS>__DATABASE_URL, the worker's EAGLET_JOBS__DATABASE_URL), so it
        connects as its own role; otherwise the shared URL. Likewise `db.read_url` is its own
        replica URL (EAGLET_<PROCESS>__READ_URL) when it has one."""
        url = self.process_database_url(process)
        group = getattr(self, process, None)
        read_url = group.read_url if isinstance(group, ServiceSettings) else None
        update: dict = {}
        if url and url != self.database_url:
            update["database_url"] = url
        if read_url and read_url != self.db.read_url:
            update["db"] = self.db.model_copy(update={"read_url": read_url})
        return self.model_copy(update=update) if update else self


@lru_cache
def get_settings() -> Settings:
    return Settings()

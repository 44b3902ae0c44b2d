"""The `eaglet` command: run the stack, migrate, seed, and (from the gateway) manage clients and tokens."""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import typer

from services.common.db import plain_url
from services.common.settings import SERVICES, Settings, get_settings

ROOT = Path(__file__).resolve().parents[1]
app = typer.Typer(
    help="eaglet — backend of the 雏鹰行动 SME cultivation platform",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
seed_app = typer.Typer(help="Load demo data, or bulk-generate data for benchmarks")
app.add_typer(seed_app, name="seed")

PROCESSES = (*SERVICES, "gateway")
APP_MODULES = {
    "registry": "services.registry.app:create_app",
    "finance": "services.finance.app:create_app",
    "standards": "services.standards.app:create_app",
    "gateway": "gateway.app:create_app",
}
# Demo data, loaded in this order on the first `eaglet up` (each module's `seed_demo(conn)`).
SEED_MODULES = ("services.registry.seed", "services.finance.seed", "services.standards.seed", "gateway.seed")


def _fail(message: str) -> None:
    typer.secho(f"eaglet: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def _demo_data_refused(settings: Settings) -> str | None:
    """Why the demo data set may not be loaded here (None: it may). Its API keys are derived from
    a public string (README prints the admin's), so it belongs to development databases only."""
    if settings.env == "dev":
        return None
    return (
        f"demo data (with its public API keys, an admin's among them) is loaded only with "
        f"EAGLET_ENV=dev; this is EAGLET_ENV={settings.env}. Create real clients with "
        "`eaglet clients create`."
    )


@contextmanager
def database(settings: Settings):
    """Yield a database URL: DATABASE_URL when set, else the embedded server under data_dir.

    The embedded server is stopped on exit unless another eaglet process (e.g. `eaglet up`) uses it.
    """
    if settings.database_url:
        yield settings.database_url
        return
    from services.common.embedded_pg import EmbeddedPostgres

    pg = EmbeddedPostgres(settings.data_dir / "pgdata")
    try:
        yield pg.ensure_database("eaglet")
    finally:
        pg.stop()


def run_migrations(url: str, revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = url
    command.upgrade(cfg, revision)


async def _seed_demo(url: str, force: bool = False) -> list[str]:
    import asyncpg

    done = []
    conn = await asyncpg.connect(plain_url(url))
    try:
        for module_name in SEED_MODULES:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError:
                continue
            seeded = await conn.fetchval("SELECT 1 FROM public.eaglet_seeds WHERE name = $1", module_name)
            if seeded and not force:
                continue
            async with conn.transaction():
                await module.seed_demo(conn)
                await conn.execute(
                    "INSERT INTO public.eaglet_seeds (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET seeded_at = now()",
                    module_name,
                )
            done.append(module_name)
    finally:
        await conn.close()
    return done


@app.command("db-url")
def db_url() -> None:
    """Print the database URL (starting the embedded server, which keeps running, if none is set)."""
    settings = get_settings()
    if settings.database_url:
        typer.echo(settings.database_url)
        return
    from services.common.embedded_pg import EmbeddedPostgres

    pg = EmbeddedPostgres(settings.data_dir / "pgdata")
    pg.server.cleanup_mode = None  # leave it running for the caller
    typer.echo(pg.ensure_database("eaglet"))


@app.command()
def migrate(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Apply the Alembic migrations (all schemas, one history)."""
    with database(get_settings()) as url:
        run_migrations(url, revision)
    typer.echo(f"migrated to {revision}")


@app.command("refresh-titles")
def refresh_titles() -> None:
    """Refresh the enterprises' cached active titles that ran out (daily, after midnight UTC)."""
    import asyncpg

    from services.registry.titles.cache import refresh_stale

    async def go(url: str) -> int:
        conn = await asyncpg.connect(plain_url(url))
        try:
            return await refresh_stale(conn)
        finally:
            await conn.close()

    with database(get_settings()) as url:
        typer.echo(f"refreshed {asyncio.run(go(url)):,} enterprises' titles")


@seed_app.callback(invoke_without_command=True)
def seed(ctx: typer.Context, force: bool = typer.Option(False, help="Load demo data again")) -> None:
    """Load the demo data set (once; --force to load again)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = get_settings()
    refused = _demo_data_refused(settings)
    if refused:
        _fail(refused)
    with database(settings) as url:
        done = asyncio.run(_seed_demo(url, force))
    typer.echo("seeded: " + (", ".join(done) if done else "nothing (already seeded)"))


def _bulk(module_name: str, count: int) -> None:
    import asyncpg

    module = importlib.import_module(module_name)

    async def go(url: str) -> None:
        conn = await asyncpg.connect(plain_url(url))
        try:
            started = time.perf_counter()
            await module.generate(conn, count)
            typer.echo(f"generated {count:,} in {time.perf_counter() - started:.1f} s")
        finally:
            await conn.close()

    with database(get_settings()) as url:
        asyncio.run(go(url))


@seed_app.command("registry")
def seed_registry(
    enterprises: int = typer.Option(..., help="How many enterprises (with indicators)"),
) -> None:
    """Bulk-generate enterprises with two years of indicators (COPY)."""
    _bulk("services.registry.seed", enterprises)


@seed_app.command("finance")
def seed_finance(loans: int = typer.Option(..., help="How many loans")) -> None:
    """Bulk-generate loans (COPY)."""
    _bulk("services.finance.seed", loans)


@seed_app.command("standards")
def seed_standards(certificates: int = typer.Option(..., help="How many certificates")) -> None:
    """Bulk-generate certificates (COPY)."""
    _bulk("services.standards.seed", certificates)


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _wait_ready(urls: dict[str, str], procs: dict[str, subprocess.Popen], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pending = dict(urls)
    while pending:
        for name in list(pending):
            if procs[name].poll() is not None:
                raise RuntimeError(
                    f"{name} exited during start-up (code {procs[name].returncode}); see its log above"
                )
            try:
                if httpx.get(pending[name] + "/readyz", timeout=1.0).status_code == 200:
                    del pending[name]
            except httpx.HTTPError:
                pass
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"not ready after {timeout_s:.0f} s: {', '.join(pending)}")
        time.sleep(0.2)


def _demo_credentials() -> list[str]:
    try:
        module = importlib.import_module("gateway.seed")
    except ModuleNotFoundError:
        return []
    return list(getattr(module, "demo_credentials", lambda: [])())


@app.command()
def serve(
    process: str = typer.Argument(..., help="registry, finance, standards or gateway"),
    host: str | None = typer.Option(None, help="Default: the process's EAGLET_<NAME>__HOST"),
    port: int | None = typer.Option(None, help="Default: the process's EAGLET_<NAME>__PORT"),
    http: str = typer.Option("auto", help="HTTP parser: auto (httptools when installed), httptools, h11"),
    workers: int = typer.Option(1, min=1),
    log_level: str = typer.Option("info"),
    access_log: bool = typer.Option(False, help="uvicorn's own access log (eaglet writes its own)"),
    timeout_graceful_shutdown: int | None = typer.Option(None, help="Seconds"),
) -> None:
    """Run one process with uvicorn, answering even the HTTP parser's refusals as problems."""
    from services.common import server

    if process not in APP_MODULES:
        _fail(f"unknown process {process!r}; one of {', '.join(APP_MODULES)}")
    if http != "auto" and http not in server.PROTOCOLS:
        _fail(f"unknown HTTP parser {http!r}; one of auto, {', '.join(server.PROTOCOLS)}")
    svc = get_settings().service(process)
    server.serve(
        APP_MODULES[process],
        host=host or svc.host,
        port=port if port is not None else svc.port,
        http=http,
        workers=workers,
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=timeout_graceful_shutdown,
    )


def serve_command(process: str, *options: str) -> list[str]:
    """The command line that runs one process (`eaglet serve`) with this interpreter."""
    return [sys.executable, "-m", "services.cli", "serve", process, *options]


@app.command()
def up(
    seed_demo: bool | None = typer.Option(
        None, "--seed/--no-seed", help="Load demo data on the first start (default: with EAGLET_ENV=dev only)"
    ),
    ready_timeout: float = typer.Option(60.0, help="Seconds to wait for every /readyz"),
) -> None:
    """Start PostgreSQL (embedded unless DATABASE_URL is set), migrate, seed on first start (in dev), then
    registry, finance, standards and the gateway. Ctrl-C stops everything."""
    settings = get_settings()
    refused = _demo_data_refused(settings)
    if seed_demo and refused:
        _fail(refused)
    if seed_demo is None:
        seed_demo = refused is None
    taken = [
        f"{name} port {settings.service(name).port}"
        for name in PROCESSES
        if not _port_free(settings.service(name).host, settings.service(name).port)
    ]
    if taken:
        _fail(
            f"{', '.join(taken)} already in use; stop what holds it or set e.g. EAGLET_GATEWAY__PORT / "
            "EAGLET_REGISTRY__PORT"
        )

    with database(settings) as url:
        typer.echo("eaglet: migrating …")
        run_migrations(url)
        if seed_demo:
            done = asyncio.run(_seed_demo(url))
            typer.echo(
                "eaglet: demo data " + ("loaded: " + ", ".join(done) if done else "already loaded earlier")
            )

        env = dict(os.environ, EAGLET_DATABASE_URL=url)
        procs: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(*_args) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            for name in PROCESSES:
                svc = settings.service(name)
                procs[name] = subprocess.Popen(
                    serve_command(
                        name, "--host", svc.host, "--port", str(svc.port), "--timeout-graceful-shutdown", "5"
                    ),
                    env=env,
                    start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
                )
            urls = {
                name: f"http://{settings.service(name).host}:{settings.service(name).port}"
                for name in PROCESSES
            }
            _wait_ready(urls, procs, ready_timeout)
            typer.echo("")
            typer.secho("eaglet is up", fg=typer.colors.GREEN, bold=True)
            for name in PROCESSES:
                typer.echo(f"  {name:<10} {urls[name]}   (docs: {urls[name]}/docs)")
            typer.echo(f"  database   {url}")
            creds = _demo_credentials()
            if creds:
                typer.echo("\ndev credentials (send as 'Authorization: Bearer <key>' to the gateway):")
                for line in creds:
                    typer.echo(f"  {line}")
            typer.echo("\nCtrl-C stops every process and the database.")
            while not stopping:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        typer.secho(
                            f"eaglet: {name} exited (code {proc.returncode}); stopping everything",
                            fg=typer.colors.RED,
                            err=True,
                        )
                        stopping = True
                        break
                time.sleep(0.3)
        except RuntimeError as e:
            typer.secho(f"eaglet: {e}", fg=typer.colors.RED, err=True)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.terminate()
            for proc in procs.values():
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            typer.echo("eaglet: stopped services; stopping the database …")


def _register_optional() -> None:
    """Subcommands that live with their owner (the gateway's `clients` and `token`)."""
    try:
        module = importlib.import_module("gateway.cli")
    except ModuleNotFoundError:
        return
    module.register(app)


_register_optional()

if __name__ == "__main__":
    app()

"""`eaglet serve` (one process under uvicorn) and `eaglet up` (the whole stack, in order)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import httpx
import typer

from services.cli.database import run_migrations
from services.cli.seeding import demo_data_refused, seed_demo_data
from services.cli.worker import worker_command
from services.common.commands import database, fail
from services.common.settings import SERVICES, get_settings

PROCESSES = (*SERVICES, "gateway")
APP_MODULES = {
    "registry": "services.registry.app:create_app",
    "finance": "services.finance.app:create_app",
    "standards": "services.standards.app:create_app",
    "gateway": "gateway.app:create_app",
}


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


def serve(
    process: str = typer.Argument(..., help="registry, finance, standards or gateway"),
    host: str | None = typer.Option(None, help="Default: the process's EAGLET_<NAME>__HOST"),
    port: int | None = typer.Option(None, help="Default: the process's EAGLET_<NAME>__PORT"),
    http: str = typer.Option("auto", help="HTTP parser: auto (httptools when installed), httptools, h11"),
    workers: int | None = typer.Option(
        None,
        min=1,
        help="uvicorn worker processes sharing the port (default: EAGLET_<PROCESS>__WORKERS, 1)",
    ),
    log_level: str = typer.Option("info"),
    access_log: bool = typer.Option(False, help="uvicorn's own access log (eaglet writes its own)"),
    timeout_graceful_shutdown: int | None = typer.Option(
        None, help="Seconds SIGTERM waits for in-flight requests (default: as long as they take)"
    ),
) -> None:
    """Run one process with uvicorn, answering even the HTTP parser's refusals as problems.

    With several workers, uvicorn's supervisor binds the port once and runs that many worker
    processes on the one socket (the kernel spreads the connections); it restarts a worker that
    dies, and on SIGTERM stops accepting and lets every worker finish its in-flight requests
    (within --timeout-graceful-shutdown) before it exits."""
    from services.common import server

    if process not in APP_MODULES:
        fail(f"unknown process {process!r}; one of {', '.join(APP_MODULES)}")
    if http != "auto" and http not in server.PROTOCOLS:
        fail(f"unknown HTTP parser {http!r}; one of auto, {', '.join(server.PROTOCOLS)}")
    svc = get_settings().service(process)
    workers = workers or svc.workers
    # The workers read their number from the settings (the gateway's local rate-limit buckets
    # take rate ÷ replicas × workers): spawned processes inherit this environment.
    os.environ[f"EAGLET_{process.upper()}__WORKERS"] = str(workers)
    metrics_dir = _multiprocess_metrics_dir(process) if workers > 1 else None
    try:
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
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _multiprocess_metrics_dir(process: str) -> str | None:
    """A fresh directory for the workers' Prometheus values (services/common/metrics.py), made
    here, removed when the supervisor ends; None when PROMETHEUS_MULTIPROC_DIR is set already (it
    is the operator's: emptied by them between runs) or no temporary directory can be written
    (then each worker's /metrics reports that worker alone)."""
    from services.common.metrics import MULTIPROC_ENV

    if os.environ.get(MULTIPROC_ENV):
        return None
    try:
        path = tempfile.mkdtemp(prefix=f"eaglet-metrics-{process}-")
    except OSError as e:
        typer.secho(
            f"eaglet: no temporary directory for the workers' metrics ({e}); each worker's /metrics "
            "reports that worker alone (set PROMETHEUS_MULTIPROC_DIR to a writable, empty directory)",
            err=True,
        )
        return None
    os.environ[MULTIPROC_ENV] = path
    return path


def serve_command(process: str, *options: str) -> list[str]:
    """The command line that runs one process (`eaglet serve`) with this interpreter."""
    return [sys.executable, "-m", "services.cli", "serve", process, *options]


def embedded_role_urls(url: str, settings) -> dict[str, str]:
    """On the embedded server each process connects as its own role, as deployed (docs/roles.md):
    the roles get LOGIN (`eaglet db-roles`; the server trusts its local socket, so no password is
    needed in the URLs). A process URL the environment sets already is kept."""
    from services.cli.roles import ROLES, URL_VARIABLES, ensure_roles, role_url

    asyncio.run(ensure_roles(url, settings))
    return {
        URL_VARIABLES[p]: role_url(url, role, None)
        for p, role in ROLES.items()
        if not settings.process_database_url(p)
    }


def up(
    seed_demo: bool | None = typer.Option(
        None, "--seed/--no-seed", help="Load demo data on the first start (default: with EAGLET_ENV=dev only)"
    ),
    ready_timeout: float = typer.Option(60.0, help="Seconds to wait for every /readyz"),
    workers: int | None = typer.Option(
        None,
        min=1,
        help="uvicorn workers per service and gateway (default: each one's EAGLET_<PROCESS>__WORKERS, 1)",
    ),
) -> None:
    """Start PostgreSQL (embedded unless DATABASE_URL is set), migrate, seed on first start (in dev), then
    registry, finance, standards, the gateway and the job worker. Ctrl-C stops everything."""
    settings = get_settings()
    refused = demo_data_refused(settings)
    if seed_demo and refused:
        fail(refused)
    if seed_demo is None:
        seed_demo = refused is None
    taken = [
        f"{name} port {settings.service(name).port}"
        for name in PROCESSES
        if not _port_free(settings.service(name).host, settings.service(name).port)
    ]
    if taken:
        fail(
            f"{', '.join(taken)} already in use; stop what holds it or set e.g. EAGLET_GATEWAY__PORT / "
            "EAGLET_REGISTRY__PORT"
        )

    from services.cli.seeds import demo_credentials  # every seed module, before anything starts

    with database(settings) as url:
        typer.echo("eaglet: migrating …")
        run_migrations(url)
        if seed_demo:
            done = asyncio.run(seed_demo_data(url))
            typer.echo(
                "eaglet: demo data " + ("loaded: " + ", ".join(done) if done else "already loaded earlier")
            )

        env = dict(os.environ, EAGLET_DATABASE_URL=url)
        if not settings.database_url:
            env |= embedded_role_urls(url, settings)
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
                options = ["--host", svc.host, "--port", str(svc.port), "--timeout-graceful-shutdown", "5"]
                options += ["--workers", str(workers or svc.workers)]
                procs[name] = subprocess.Popen(
                    serve_command(name, *options),
                    env=env,
                    start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
                )
            urls = {
                name: f"http://{settings.service(name).host}:{settings.service(name).port}"
                for name in PROCESSES
            }
            _wait_ready(urls, procs, ready_timeout)
            # The worker after the services (it needs only the database; nothing waits for it).
            procs["worker"] = subprocess.Popen(worker_command(), env=env, start_new_session=True)
            typer.echo("")
            typer.secho("eaglet is up", fg=typer.colors.GREEN, bold=True)
            for name in PROCESSES:
                n = workers or settings.service(name).workers
                many = f", {n} workers" if n > 1 else ""
                typer.echo(f"  {name:<10} {urls[name]}   (docs: {urls[name]}/docs{many})")
            typer.echo(
                f"  worker     pid {procs['worker'].pid} (jobs: background screenings, exports, upkeep)"
            )
            typer.echo(f"  database   {url}")
            if not settings.database_url:
                typer.echo("             (each process as its own role: eaglet_registry … eaglet_worker)")
            creds = demo_credentials()
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
            for name, proc in procs.items():
                # the worker lets its running jobs finish (or aborts them: they are retried)
                grace = settings.jobs.shutdown_grace_s + 5 if name == "worker" else 10
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    proc.kill()
            typer.echo("eaglet: stopped services; stopping the database …")

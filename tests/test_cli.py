"""The `eaglet` command's guard rails."""

import asyncio
import socket
import subprocess
import sys

import asyncpg
from typer.testing import CliRunner

from services.cli import app
from services.common.db import plain_url


def test_up_refuses_a_taken_port_with_one_clear_line(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        monkeypatch.setenv("EAGLET_GATEWAY__PORT", str(port))
        from services.common.settings import get_settings

        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(app, ["up"])
        finally:
            monkeypatch.undo()
            get_settings.cache_clear()
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and f"gateway port {port} already in use" in lines[0]
    assert "Traceback" not in result.output


PROD_ENV = {
    "EAGLET_ENV": "prod",
    "EAGLET_INTERNAL_KEY": "prod-internal-key-for-this-test-000000000000",
    "EAGLET_CURSOR_KEY": "prod-cursor-key-for-this-test-0000000000000",
    "EAGLET_TOKEN_KEY": "prod-token-key-for-this-test-00000000000000",
}


def invoke_as_prod(monkeypatch, args: list[str]):
    from services.common.settings import get_settings

    for name, value in PROD_ENV.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, args)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def count(database_url: str, table: str) -> int:
    async def go() -> int:
        conn = await asyncpg.connect(plain_url(database_url))
        try:
            return await conn.fetchval(f"SELECT count(*) FROM {table}")
        finally:
            await conn.close()

    return asyncio.run(go())


def test_seed_outside_dev_refuses_to_create_the_demo_clients(database_url, monkeypatch):
    result = invoke_as_prod(monkeypatch, ["seed"])
    assert result.exit_code == 1, result.output
    assert "EAGLET_ENV=dev" in result.output and "EAGLET_ENV=prod" in result.output
    assert "Traceback" not in result.output
    assert count(database_url, "gateway.api_clients") == 0
    assert count(database_url, "registry.enterprises") == 0  # nothing half-loaded


def test_up_outside_dev_refuses_to_seed_before_starting_anything(monkeypatch):
    with socket.socket() as s:  # were it to go on, `up` would stop at this taken port
        s.bind(("127.0.0.1", 0))
        s.listen()
        monkeypatch.setenv("EAGLET_GATEWAY__PORT", str(s.getsockname()[1]))
        result = invoke_as_prod(monkeypatch, ["up", "--seed"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "EAGLET_ENV=dev" in lines[0] and "already in use" not in lines[0]


async def test_demo_seed_of_the_gateway_refuses_outside_dev(database_url, db, monkeypatch):
    import pytest

    from gateway.seed import seed_demo
    from services.common.settings import get_settings

    for name, value in PROD_ENV.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="EAGLET_ENV=dev"):
            await seed_demo(db)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert await db.fetchval("SELECT count(*) FROM gateway.api_clients") == 0


def test_serve_refuses_an_unknown_process_or_parser_with_one_clear_line():
    for args, says in (
        (["serve", "regsitry"], "unknown process 'regsitry'"),
        (["serve", "registry", "--http", "h2"], "unknown HTTP parser 'h2'"),
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, result.output
        assert says in result.output and "Traceback" not in result.output


def test_the_seed_registry_lists_every_seed_module_in_loading_order():
    from services.cli import ROOT
    from services.cli.seeds import BY_OWNER, SEEDS

    on_disk = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for pattern in ("services/*/seed.py", "gateway/seed.py")
        for p in ROOT.glob(pattern)
    }
    assert {s.name for s in SEEDS} == on_disk
    # the registry's enterprises first (the others read them from registry.enterprise_directory)
    assert [s.owner for s in SEEDS] == ["registry", "finance", "standards", "gateway"]
    assert all(BY_OWNER[o].generate for o in ("registry", "finance", "standards"))


def test_a_seed_module_that_cannot_be_imported_stops_seeding_before_anything_loads(database_url, monkeypatch):
    seeds_recorded = count(database_url, "public.eaglet_seeds")
    monkeypatch.delitem(
        sys.modules, "services.cli.seeds", raising=False
    )  # the registry imports its seeds again …
    monkeypatch.setitem(sys.modules, "services.finance.seed", None)  # … and this one cannot be
    result = CliRunner().invoke(app, ["seed"])
    assert result.exit_code == 1
    assert isinstance(result.exception, ImportError) and "services.finance.seed" in str(result.exception)
    assert "seeded:" not in result.output
    assert count(database_url, "registry.enterprises") == 0  # not even the seeds before it
    assert count(database_url, "public.eaglet_seeds") == seeds_recorded


def test_the_gateway_commands_do_not_import_the_eaglet_command():
    # the dependency goes one way: services/cli registers gateway/cli's commands
    code = "import sys, gateway.cli; assert not any(m.startswith('services.cli') for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_serve_runs_the_workers_of_the_settings_and_tells_them_their_number(monkeypatch):
    """`eaglet serve` takes its workers from EAGLET_<PROCESS>__WORKERS (or --workers), exports the
    number for the workers' own settings, and gives several workers one metrics directory."""
    import os

    from services.common import server
    from services.common.settings import get_settings

    seen = []

    def fake_serve(app_path, **options):
        metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        seen.append(
            (
                app_path,
                options["workers"],
                os.environ["EAGLET_GATEWAY__WORKERS"],
                metrics_dir and os.path.isdir(metrics_dir),
            )
        )

    monkeypatch.setattr(server, "serve", fake_serve)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setenv("EAGLET_GATEWAY__WORKERS", "3")
    get_settings.cache_clear()
    try:
        assert CliRunner().invoke(app, ["serve", "gateway"]).exit_code == 0
        made = os.environ.pop("PROMETHEUS_MULTIPROC_DIR")
        assert not os.path.exists(made)  # removed when the supervisor ends
        assert CliRunner().invoke(app, ["serve", "gateway", "--workers", "1"]).exit_code == 0
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert seen == [("gateway.app:create_app", 3, "3", True), ("gateway.app:create_app", 1, "1", None)]


def test_up_passes_workers_to_every_http_process(monkeypatch):
    from contextlib import contextmanager

    from services.cli import stack

    started: list[list[str]] = []

    class FakeProc:
        pid = 1
        returncode = 0

        def __init__(self, args, **_kw) -> None:
            started.append(list(args))

        def poll(self):
            return None

        def terminate(self) -> None:
            pass

        def wait(self, timeout=None) -> int:
            return 0

    @contextmanager
    def fake_database(_settings):
        yield "postgresql://nowhere/eaglet"

    def not_ready(*_args) -> None:
        raise RuntimeError("stopped by the test before /readyz")

    monkeypatch.setattr(stack, "database", fake_database)
    monkeypatch.setattr(stack, "run_migrations", lambda _url: None)
    monkeypatch.setattr(stack, "_port_free", lambda *_a: True)
    monkeypatch.setattr(stack, "_wait_ready", not_ready)
    monkeypatch.setattr(stack.subprocess, "Popen", FakeProc)
    import signal

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = CliRunner().invoke(app, ["up", "--no-seed", "--workers", "2"])
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
    assert "stopped by the test" in result.output
    assert [cmd[cmd.index("serve") + 1] for cmd in started] == ["registry", "finance", "standards", "gateway"]
    assert all(cmd[cmd.index("--workers") + 1] == "2" for cmd in started)

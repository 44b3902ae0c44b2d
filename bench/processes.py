"""A benchmark's service processes, each run as every deployment runs it: `eaglet serve <process>`
(uvicorn with the kit's HTTP protocols, no proxy headers, no WebSockets), on a loopback port.

uvicorn's access log is off (`eaglet serve`'s default) and both uvicorn and the kit log warnings
only, to a file in the temp folder that a failed start names. `start` returns once `/healthz`
answers 200.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Service:
    name: str
    url: str
    proc: subprocess.Popen
    log_path: str

    def stop(self, timeout_s: float = 10) -> None:
        """Ask the process to stop (SIGTERM: uvicorn finishes what is in flight); kill it if it
        is still running after `timeout_s`."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(
    name: str,
    *,
    env: dict[str, str] | None = None,
    port: int | None = None,
    workers: int = 1,
    timeout_s: float = 60,
) -> Service:
    """Start `eaglet serve <name>` with this process's environment plus `env`, on `port` (default:
    a free one) with `workers` uvicorn worker processes, and wait for its `/healthz`."""
    from services.cli import serve_command

    port = port or free_port()
    full_env = {**os.environ, "EAGLET_LOG_LEVEL": "WARNING", **(env or {})}
    command = serve_command(
        name,
        *("--host", "127.0.0.1", "--port", str(port)),
        *("--workers", str(workers), "--log-level", "warning", "--no-access-log"),
    )
    log_path = os.path.join(tempfile.gettempdir(), f"eaglet-bench-{name}-{port}.log")
    with open(log_path, "wb") as log:  # the child holds its own descriptor
        proc = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    service = Service(name=name, url=f"http://127.0.0.1:{port}", proc=proc, log_path=log_path)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited ({proc.returncode}); see {log_path}")
        try:
            if httpx.get(service.url + "/healthz", timeout=0.5).status_code == 200:
                return service
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    service.stop()
    raise RuntimeError(f"{name} did not answer /healthz in {timeout_s:.0f} s; see {log_path}")


def start_worker(*, env: dict[str, str] | None = None) -> Service:
    """Start `eaglet worker` (the job runner: background screenings, exports) with this process's
    environment plus `env`. It serves no HTTP: it is running once it has started."""
    from services.cli.worker import worker_command

    full_env = {**os.environ, "EAGLET_LOG_LEVEL": "WARNING", **(env or {})}
    log_path = os.path.join(tempfile.gettempdir(), f"eaglet-bench-worker-{os.getpid()}.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            worker_command(), cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
    return Service(name="worker", url="", proc=proc, log_path=log_path)


def start_redis(timeout_s: float = 10) -> Service | None:
    """A `redis-server` (Debian: `apt-get install redis-server`) on a free loopback port, no
    persistence; None when it is not installed."""
    import shutil

    binary = shutil.which("redis-server")
    if binary is None:
        return None
    port = free_port()
    log_path = os.path.join(tempfile.gettempdir(), f"eaglet-bench-redis-{port}.log")
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, cwd=tempfile.gettempdir(), stdout=log, stderr=subprocess.STDOUT)
    service = Service(name="redis", url=f"redis://127.0.0.1:{port}/0", proc=proc, log_path=log_path)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return service
        except OSError:
            time.sleep(0.05)
    service.stop()
    raise RuntimeError(f"redis-server did not answer in {timeout_s:.0f} s; see {log_path}")

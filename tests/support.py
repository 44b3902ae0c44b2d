"""Helpers shared by tests: app factories and real uvicorn servers on free loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import httpx

from gateway.app import create_app as create_gateway
from services.finance.app import create_app as create_finance
from services.registry.app import create_app as create_registry
from services.standards.app import create_app as create_standards

SERVICE_FACTORIES = {
    "registry": create_registry,
    "finance": create_finance,
    "standards": create_standards,
}
APP_MODULES = {
    "registry": "services.registry.app:create_app",
    "finance": "services.finance.app:create_app",
    "standards": "services.standards.app:create_app",
    "gateway": "gateway.app:create_app",
}
__all__ = ["SERVICE_FACTORIES", "LiveServer", "start_live", "free_port", "create_gateway"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    name: str
    port: int
    env: dict[str, str]
    proc: subprocess.Popen | None = None
    log_path: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30) -> LiveServer:
        self.log_path = f"/tmp/eaglet-test-{self.name}-{self.port}.log"
        log = open(self.log_path, "wb")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                APP_MODULES[self.name],
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
                "--no-proxy-headers",  # the gateway decides which proxies to believe (trusted_proxies)
                "--log-level",
                "warning",
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {open(self.log_path).read()[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start in {timeout_s} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_live(name: str, env: dict[str, str] | None = None, port: int | None = None) -> LiveServer:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return LiveServer(name=name, port=port or free_port(), env=full_env).start()

"""HTTP load from `wrk` (C, one thread): the load generator costs the shared cores little, so what
is measured is the service, not a Python client. Closed loop like the raw asyncpg side: each of the
N connections sends its next request when the previous answer arrived.

Install it with `apt-get install -y wrk`; `available()` tells whether it is on PATH.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SCRIPT = r"""
local paths, headers, n, i = {}, {}, 0, 0
%(paths)s
%(headers)s
n = #paths
request = function()
  i = i %% n + 1
  return wrk.format("GET", paths[i], headers)
end
local non2xx = 0
response = function(status, hdrs, body)
  if status ~= 200 then non2xx = non2xx + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format('WRK_JSON {"requests": %%d, "seconds": %%f, "p50_us": %%d, "p99_us": %%d, "max_us": %%d, "errors": %%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99), latency.max,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout + summary.errors.status))
end
"""


@dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(s: str) -> str:
    if not s.isascii():
        raise ValueError(f"percent-encode paths and headers for wrk: {s!r}")
    return json.dumps(s)  # a JSON string of ASCII text is a valid Lua string literal


def run(
    base: str, paths: list[str], *, connections: int, seconds: float, headers: dict[str, str] | None = None
) -> Result:
    """GET each path in turn (round robin over the list) for `seconds` on `connections` connections."""
    lua = SCRIPT % {
        "paths": "\n".join(f"paths[{i + 1}] = {_lua_string(p)}" for i, p in enumerate(paths)),
        "headers": "\n".join(
            f"headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in (headers or {}).items()
        ),
    }
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.lua"
        script.write_text(lua)
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                base,
            ],
            capture_output=True,
            text=True,
        )
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if out.returncode or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr or out.stdout}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    return Result(
        requests=data["requests"],
        seconds=data["seconds"],
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors=data["errors"],
    )

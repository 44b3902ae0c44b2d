"""The contract harness: the npm tools pinned in `node/package-lock.json` (installed with `npm ci`
from the npm registry the first time, and again when the lockfile changes), and the merged OpenAPI
document of the live test gateway once every service's part is in it."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

NODE = Path(__file__).parent / "node"


def _npm_ci() -> Path:
    lock = (NODE / "package-lock.json").read_bytes()
    stamp = NODE / "node_modules" / ".eaglet-lock-sha256"
    digest = hashlib.sha256(lock).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        npm = shutil.which("npm")
        assert npm, "the contract tests need Node.js and npm (see README: tests)"
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=NODE,
            check=True,
            capture_output=True,
            timeout=600,
        )
        stamp.write_text(digest)
    return NODE / "node_modules" / ".bin"


@pytest.fixture(scope="session")
def node_bin() -> Path:
    """The folder of the pinned npm tools' commands (`tsc`, `openapi-typescript`, `spectral`)."""
    return _npm_ci()


@pytest.fixture(scope="session")
def merged_openapi(gateway_live) -> dict:
    """The gateway's merged document, asked again until no service's part is missing."""
    deadline = time.monotonic() + 30
    while True:
        doc = httpx.get(gateway_live.url + "/openapi.json", timeout=15).json()
        if not doc.get("info", {}).get("x-eaglet-missing-services"):
            return doc
        assert time.monotonic() < deadline, doc["info"]["x-eaglet-missing-services"]
        time.sleep(0.3)


@pytest.fixture(scope="session")
def merged_openapi_file(merged_openapi, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("contract") / "openapi.json"
    path.write_text(json.dumps(merged_openapi, ensure_ascii=False))
    return path

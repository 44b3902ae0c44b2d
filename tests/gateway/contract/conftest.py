"""The contract harness: the npm tools pinned in `node/package-lock.json` (installed with `npm ci`
from the npm registry the first time, and again when the lockfile changes), the merged OpenAPI
document of the live test gateway once every service's part is in it, and the clients generated
from that document once per run: TypeScript types (openapi-typescript) beside the usage files of
`ts/`, and a Python package (openapi-python-client)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

NODE = Path(__file__).parent / "node"
TS = Path(__file__).parent / "ts"
PYTHON_CLIENT = "eaglet_client"


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


@pytest.fixture(scope="session")
def ts_project(node_bin, merged_openapi_file, tmp_path_factory) -> Path:
    """A folder holding `ts/` (tsconfig and usage files), the types openapi-typescript generated
    from the merged document (`schema.d.ts`) and the pinned `node_modules` (a link)."""
    project = tmp_path_factory.mktemp("ts")
    for f in TS.iterdir():
        if f.is_file() and f.suffix in (".ts", ".json"):
            shutil.copy(f, project / f.name)
    (project / "node_modules").symlink_to(node_bin.parent, target_is_directory=True)
    subprocess.run(
        [node_bin / "openapi-typescript", merged_openapi_file, "--output", project / "schema.d.ts"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return project


@dataclass
class GeneratedPythonClient:
    folder: Path  # put on sys.path to import the package
    package: Path
    returncode: int
    output: str


@pytest.fixture(scope="session")
def python_client(merged_openapi_file, tmp_path_factory) -> GeneratedPythonClient:
    """The Python client openapi-python-client generated from the merged document (package
    `eaglet_client`), with what the generator said (`--fail-on-warning`: a warning is exit 1)."""
    folder = tmp_path_factory.mktemp("python-client")
    config = folder / "config.json"
    # A file submission's body is CSV or XLSX (services/common/tabular.py MEDIA); the generator
    # reads a file body only as application/octet-stream, and is told (its documented override)
    # that both are files.
    from services.common.tabular import MEDIA

    overrides = {media: "application/octet-stream" for media in MEDIA.values()}
    config.write_text(
        json.dumps(
            {"package_name_override": PYTHON_CLIENT, "post_hooks": [], "content_type_overrides": overrides}
        )
    )
    package = folder / PYTHON_CLIENT
    out = subprocess.run(
        [
            *(sys.executable, "-m", "openapi_python_client", "generate"),
            *("--path", str(merged_openapi_file), "--output-path", str(package)),
            *("--meta", "none", "--config", str(config), "--fail-on-warning"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return GeneratedPythonClient(folder, package, out.returncode, out.stdout + out.stderr)

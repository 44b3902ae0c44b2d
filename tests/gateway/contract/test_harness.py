"""The harness itself: the pinned tools run, and the merged document holds every service."""

import subprocess


def test_pinned_tools_run(node_bin):
    out = subprocess.run([node_bin / "tsc", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("Version 5.9.3")


def test_merged_document_holds_every_service(merged_openapi):
    prefixes = {path.split("/")[1] for path in merged_openapi["paths"]}
    assert {"registry", "finance", "standards", "v1"} <= prefixes

"""docs/operations.md names only what exists: every eaglet metric (and the labels it is written
with) is registered by the code, every `EAGLET_*` variable is a field of the settings classes,
every `eaglet …` command is one the CLI has, every CloudNativePG manifest validates against the
CRD schema tests/deploy validates the overlays with, and every page it links to is there.

Names are read from the code (prometheus_client's registry, the pydantic models, the Typer app),
never from a copy kept here. No cluster, no database: it runs in a few seconds."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.deploy.conftest import K8S, ROOT, is_setting
from tests.deploy.test_render import CUSTOM, validator

GUIDE = ROOT / "docs" / "operations.md"
CNPG = "postgresql.cnpg.io/v1"


@pytest.fixture(scope="module")
def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def _code_spans(text: str) -> list[str]:
    """Inline code and the lines of code blocks: where the guide names things."""
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    blocks = re.findall(r"```[\w-]*\n(.*?)```", text, flags=re.S)
    return spans + [line for b in blocks for line in b.splitlines()]


def _yaml_blocks(text: str) -> list[dict]:
    docs = []
    for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.S):
        docs += [d for d in yaml.safe_load_all(block) if d]
    return docs


# -- metrics ---------------------------------------------------------------------------------------


def _registered() -> dict[str, object]:
    """Every sample name of the processes' registry → its collector, after importing the modules
    that declare eaglet's metrics (the gateway's app imports its upstream, breaker and rate limits;
    every service app the kit's request metrics)."""
    from prometheus_client import REGISTRY

    import gateway.app  # noqa: F401
    import services.common.metrics  # noqa: F401

    return dict(REGISTRY._names_to_collectors)


def test_every_metric_named_is_registered(guide):
    from gateway.auth import NOTIFY_CHANNEL
    from services.cli.roles import ROLES

    registered = _registered()
    # `eaglet_…` words that are not metrics: the database roles and the revocation channel.
    others = {*ROLES.values(), "eaglet_owner", NOTIFY_CHANNEL}
    named = {}
    for span in _code_spans(guide):
        for name, labels in re.findall(r"\b(eaglet_[a-z0-9_]+)(?:\{([^}]*)\})?", span):
            if name not in others:
                named.setdefault(name, set()).update(re.findall(r"([a-z_]+)\s*(?:=~|=|,|$)", labels or ""))
    assert len(named) >= 9, f"the metrics table lost its metrics: {sorted(named)}"
    for name, labels in named.items():
        assert name in registered, f"docs/operations.md names {name}, which no code registers"
        declared = set(getattr(registered[name], "_labelnames", ()))
        assert labels <= declared, f"{name} has labels {sorted(declared)}, the guide uses {sorted(labels)}"


def test_the_metric_reader_sees_names_and_labels():
    text = '`eaglet_gateway_breaker_state{upstream}` and `eaglet_http_requests_total{status=~"5.."}`'
    found = {
        n: ls for s in _code_spans(text) for n, ls in re.findall(r"\b(eaglet_[a-z0-9_]+)(?:\{([^}]*)\})?", s)
    }
    assert found == {
        "eaglet_gateway_breaker_state": "upstream",
        "eaglet_http_requests_total": 'status=~"5.."',
    }


# -- settings --------------------------------------------------------------------------------------


def test_every_setting_named_is_a_setting(guide):
    named = set(re.findall(r"\bEAGLET_[A-Z0-9_]*[A-Z0-9]\b", guide))
    assert len(named) >= 20, sorted(named)
    unknown = sorted(n for n in named if not is_setting(n))
    assert not unknown, f"docs/operations.md names settings the code does not have: {unknown}"


def test_the_setting_check_refuses_a_misspelt_name():
    assert is_setting("EAGLET_GATEWAY__REPLICAS") and is_setting("EAGLET_REDIS_URL")
    assert not is_setting("EAGLET_GATEWAY__REPLICA")
    assert not is_setting("EAGLET_DB__PRE_PING__X")


# -- commands --------------------------------------------------------------------------------------


def _cli():
    import typer.main

    from services.cli.app import app

    return typer.main.get_command(app)


def test_every_eaglet_command_named_exists(guide):
    cli = _cli()
    named = []
    for span in _code_spans(guide):  # a command starts its span or line (`kubectl -n eaglet …` does not)
        m = re.match(r"eaglet ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", span.strip())
        if m:
            named.append((m.group(1), m.group(2)))
    assert len(named) >= 5, named
    for command, sub in named:
        assert command in cli.commands, f"`eaglet {command}` is not a command (eaglet --help)"
        group = cli.commands[command]
        if hasattr(group, "commands") and sub:  # a group's subcommand must be one of its own
            assert sub in group.commands, f"`eaglet {command} {sub}` is not a command of `eaglet {command}`"


# -- CloudNativePG manifests -----------------------------------------------------------------------


def test_cloudnativepg_manifests_validate_against_the_crd_schemas(guide):
    manifests = [d for d in _yaml_blocks(guide) if d.get("apiVersion") == CNPG]
    assert manifests, "the guide's recovery Cluster is gone"
    for doc in manifests:
        key = (doc["apiVersion"], doc["kind"])
        assert key in CUSTOM, f"no schema for {key}: add it to tests/deploy/schemas/"
        errors = [
            f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator(CUSTOM[key]).iter_errors(doc)
        ]
        assert not errors, f"{doc['kind']}/{doc['metadata']['name']}: {errors}"


def test_the_recovery_cluster_restores_the_manifests_archive(guide):
    """A point in time, read from the archive the live Cluster writes: its plugin, its
    ObjectStore, and its name as the server name; and the copy itself archives nothing (it would
    write into that archive)."""
    base = [d for d in yaml.safe_load_all((K8S / "base" / "database.yaml").read_text()) if d]
    (live,) = [d for d in base if d["kind"] == "Cluster"]
    (archiver,) = [p for p in live["spec"]["plugins"] if p.get("isWALArchiver")]
    (recovery,) = [d for d in _yaml_blocks(guide) if d.get("kind") == "Cluster"]
    spec = recovery["spec"]
    target = spec["bootstrap"]["recovery"]
    assert target["recoveryTarget"]["targetTime"]
    assert target["database"] == live["spec"]["bootstrap"]["initdb"]["database"]
    assert target["owner"] == live["spec"]["bootstrap"]["initdb"]["owner"]
    (source,) = [c for c in spec["externalClusters"] if c["name"] == target["source"]]
    assert source["plugin"]["name"] == archiver["name"]
    assert source["plugin"]["parameters"] == {
        "barmanObjectName": archiver["parameters"]["barmanObjectName"],
        "serverName": live["metadata"]["name"],
    }
    assert "plugins" not in spec
    assert recovery["metadata"]["name"] != live["metadata"]["name"]
    assert spec["imageName"] == live["spec"]["imageName"]


# -- links -----------------------------------------------------------------------------------------


def test_every_page_linked_exists(guide):
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", guide)
    assert links
    for link in links:
        if "://" not in link:
            assert (GUIDE.parent / link).exists(), f"docs/operations.md links to {link}, which is not there"

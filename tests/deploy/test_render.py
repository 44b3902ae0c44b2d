"""Every overlay renders, and every object in it is valid: the core kinds against Kubernetes'
own schemas (kubernetes-validate, strict: an unknown field fails), the CloudNativePG and Barman
Cloud objects against their CRDs' schemas (tests/deploy/schemas/), plus the operator's rules that
a JSON Schema cannot say (its CEL rules and admission webhook)."""

from __future__ import annotations

import json
from functools import cache

import kubernetes_validate
import pytest
from jsonschema import Draft7Validator

from tests.deploy.conftest import K8S, OVERLAYS, SCHEMAS

# The oldest Kubernetes the manifests are for, and the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")

CUSTOM = {
    ("postgresql.cnpg.io/v1", "Cluster"): "cnpg/cluster-v1.json",
    ("postgresql.cnpg.io/v1", "Pooler"): "cnpg/pooler-v1.json",
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): "cnpg/scheduledbackup-v1.json",
    ("barmancloud.cnpg.io/v1", "ObjectStore"): "barman-cloud/objectstore-v1.json",
}

KINDS = {
    "ServiceAccount": 1,
    "ConfigMap": 1,
    "Deployment": 5,
    "Service": 4,
    "Job": 1,
    "HorizontalPodAutoscaler": 4,
    "PodDisruptionBudget": 5,
    "NetworkPolicy": 11,
    "Cluster": 1,
    "Pooler": 2,
    "ObjectStore": 1,
    "ScheduledBackup": 1,
}

# The PgBouncer parameters CloudNativePG's admission webhook accepts (v1.30.0,
# internal/webhook/v1/pooler_webhook.go); any other is refused.
PGBOUNCER_PARAMETERS = frozenset(
    """application_name_add_host auth_type autodb_idle_timeout cancel_wait_timeout client_idle_timeout
    client_login_timeout client_tls_ciphers client_tls_sslmode client_tls13_ciphers default_pool_size
    disable_pqexec dns_max_ttl dns_nxdomain_ttl idle_transaction_timeout ignore_startup_parameters
    listen_backlog log_connections log_disconnections log_pooler_errors log_stats max_client_conn
    max_db_connections max_packet_size max_prepared_statements max_user_connections min_pool_size pkt_buf
    query_timeout query_wait_timeout reserve_pool_size reserve_pool_timeout sbuf_loopcnt server_check_delay
    server_check_query server_connect_timeout server_fast_close server_idle_timeout server_lifetime
    server_login_retry server_reset_query server_reset_query_always server_round_robin server_tls_ciphers
    server_tls13_ciphers server_tls_protocols server_tls_sslmode stats_period suspend_timeout
    tcp_defer_accept tcp_socket_buffer tcp_keepalive tcp_keepcnt tcp_keepidle tcp_keepintvl
    tcp_user_timeout track_extra_parameters verbose""".split()
)


@cache
def validator(path: str) -> Draft7Validator:
    return Draft7Validator(json.loads((SCHEMAS / path).read_text()))


def test_the_overlays_are_dev_and_prod():
    found = {p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").exists()}
    assert found == set(OVERLAYS)


def test_each_overlay_renders_the_same_kinds(rendered):
    counts: dict[str, int] = {}
    for d in rendered.docs:
        counts[d["kind"]] = counts.get(d["kind"], 0) + 1
    assert counts == KINDS
    names = [(d["kind"], d["metadata"]["name"]) for d in rendered.docs]
    assert len(names) == len(set(names))
    assert {d["metadata"].get("namespace") for d in rendered.docs} == {
        {"dev": "eaglet-dev", "prod": "eaglet"}[rendered.overlay]
    }


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_objects_are_valid_strictly(rendered, version):
    core = [d for d in rendered.docs if (d["apiVersion"], d["kind"]) not in CUSTOM]
    assert core
    for doc in core:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError as e:
            pytest.fail(f"{rendered.overlay}: no Kubernetes {version} schema for {doc['kind']}: {e}")
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{rendered.overlay}: {doc['kind']}/{doc['metadata']['name']} on {version}: {e}")


def test_custom_resources_are_valid_against_their_crds(rendered):
    custom = [
        d for d in rendered.docs if "." in d["apiVersion"].split("/")[0] and "k8s.io" not in d["apiVersion"]
    ]
    assert {(d["apiVersion"], d["kind"]) for d in custom} == set(CUSTOM)
    for doc in custom:
        errors = [
            f"{'/'.join(map(str, e.path))}: {e.message}"
            for e in validator(CUSTOM[doc["apiVersion"], doc["kind"]]).iter_errors(doc)
        ]
        assert not errors, f"{rendered.overlay}: {doc['kind']}/{doc['metadata']['name']}: {errors}"


def test_the_crd_schemas_refuse_a_misspelt_field():
    cluster = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "x"},
        "spec": {"instances": 3, "instancess": 3},
    }
    assert not validator(CUSTOM["postgresql.cnpg.io/v1", "Cluster"]).is_valid(cluster)
    store = {
        "apiVersion": "barmancloud.cnpg.io/v1",
        "kind": "ObjectStore",
        "metadata": {"name": "x"},
        "spec": {"configuration": {"destinationPath": "s3://b/", "walz": {}}},
    }
    assert not validator(CUSTOM["barmancloud.cnpg.io/v1", "ObjectStore"]).is_valid(store)


def test_what_the_operator_checks_beyond_the_schemas(rendered):
    cluster = rendered.get("Cluster", "eaglet-db")["spec"]
    sync = cluster["postgresql"].get("synchronous")
    if rendered.overlay == "prod":
        # the finance ledger waits for one standby: quorum-based, over three instances
        assert cluster["instances"] == 3
        assert sync == {"method": "any", "number": 1}
    else:
        assert cluster["instances"] == 1 and sync is None  # nobody to wait for
    if sync is not None:  # the operator's webhook: fewer synchronous standbys than instances
        assert 0 < sync["number"] < cluster["instances"]
    assert not ("imageName" in cluster and "imageCatalogRef" in cluster)
    for pooler in rendered.of("Pooler"):
        spec = pooler["spec"]
        assert spec["cluster"]["name"] == "eaglet-db"
        assert set(spec["pgbouncer"].get("parameters", {})) <= PGBOUNCER_PARAMETERS
        assert pooler["metadata"]["name"] != "eaglet-db"  # a pooler may not be named as its cluster
    for store in rendered.of("ObjectStore"):
        assert "serverName" not in store["spec"]["configuration"]


def test_backups_go_through_the_barman_cloud_plugin(rendered):
    plugin = "barman-cloud.cloudnative-pg.io"
    cluster = rendered.get("Cluster", "eaglet-db")["spec"]
    (archiver,) = [p for p in cluster["plugins"] if p["name"] == plugin]
    assert archiver["isWALArchiver"] is True
    assert archiver["parameters"]["barmanObjectName"] in rendered.names("ObjectStore")
    assert "backup" not in cluster  # the in-tree barmanObjectStore is deprecated: the plugin only
    (scheduled,) = rendered.of("ScheduledBackup")
    assert scheduled["spec"]["cluster"]["name"] == "eaglet-db"
    assert scheduled["spec"]["method"] == "plugin"
    assert scheduled["spec"]["pluginConfiguration"]["name"] == plugin
    assert len(scheduled["spec"]["schedule"].split()) == 6  # CloudNativePG's schedule has seconds


def test_strict_validation_refuses_a_misspelt_field(rendered):
    deployment = json.loads(json.dumps(rendered.get("Deployment", "eaglet-gateway")))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)

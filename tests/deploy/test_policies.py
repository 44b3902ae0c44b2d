"""Policies over the rendered manifests: every container is probed, sized and locked down, every
Deployment has its disruption budget (and its autoscaler, but the worker), the NetworkPolicies
allow exactly what each pod needs, no manifest holds a secret, the gateway's rate limits are
shared through Redis (and bounded without it), and migrations run first, as the schema owner."""

from __future__ import annotations

import json
import re

from tests.deploy.conftest import ROOT, Rendered, is_setting

HTTP = {"gateway": 8000, "registry": 8101, "finance": 8102, "standards": 8103}
PROCESSES = (*HTTP, "worker")
WORKER_PORT = 8090


def _env(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def _config(rendered: Rendered) -> dict[str, str]:
    return rendered.get("ConfigMap", "eaglet-config")["data"]


def _setting(rendered: Rendered, container: dict, name: str) -> str | None:
    """The value a container sees for `name`: its own env over the ConfigMap's."""
    own = _env(container).get(name)
    if own is not None:
        return own["value"]
    return _config(rendered).get(name)


def _component(obj: dict) -> str:
    return obj["metadata"]["labels"]["app.kubernetes.io/component"]


# -- containers ------------------------------------------------------------------------------


def test_every_process_has_its_deployment(rendered):
    assert rendered.names("Deployment") == {f"eaglet-{p}" for p in PROCESSES}


def test_every_container_has_the_three_probes_on_its_health_routes(rendered):
    for deployment in rendered.of("Deployment"):
        for c in deployment["spec"]["template"]["spec"]["containers"]:
            ports = {p["name"]: p["containerPort"] for p in c["ports"]}
            for probe, path in (
                ("startupProbe", "/healthz"),
                ("livenessProbe", "/healthz"),
                ("readinessProbe", "/readyz"),
            ):
                assert probe in c, f"{rendered.overlay}: {c['name']} has no {probe}"
                get = c[probe]["httpGet"]
                assert get["path"] == path and get["port"] in ports, (c["name"], probe, get)
            port = ports["http"]
            assert port == HTTP.get(_component(deployment), WORKER_PORT)
            # a startup probe gives the process time before liveness may kill it
            start = c["startupProbe"]
            assert start["periodSeconds"] * start["failureThreshold"] >= 30


def test_every_container_has_requests_and_limits(rendered):
    for obj, c in rendered.containers():
        r = c["resources"]
        assert {"cpu", "memory"} <= set(r["requests"]), (obj["metadata"]["name"], r)
        assert {"cpu", "memory"} <= set(r["limits"]), (obj["metadata"]["name"], r)
    for pooler in rendered.of("Pooler"):
        (bouncer,) = pooler["spec"]["template"]["spec"]["containers"]
        assert bouncer["name"] == "pgbouncer" and {"requests", "limits"} <= set(bouncer["resources"])
    cluster = rendered.get("Cluster", "eaglet-db")["spec"]["resources"]
    assert {"requests", "limits"} <= set(cluster)


def test_every_pod_runs_locked_down(rendered):
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    (image_user,) = re.findall(r"^USER (\d+):(\d+)$", dockerfile, re.M)
    for obj, pod in rendered.workloads():
        name = obj["metadata"]["name"]
        sc = pod["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["runAsUser"] > 0, name
        assert (str(sc["runAsUser"]), str(sc["runAsGroup"])) == image_user, name
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC"), name
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        assert all(set(v) == {"name", "emptyDir"} for v in volumes.values()), name  # no hostPath, no disk
        for c in pod["containers"] + pod.get("initContainers", []):
            csc = c["securityContext"]
            assert csc["allowPrivilegeEscalation"] is False, name
            assert csc["readOnlyRootFilesystem"] is True, name
            assert csc["capabilities"] == {"drop": ["ALL"]}, name
            assert csc["runAsNonRoot"] is True and not csc.get("privileged"), name
            assert csc["seccompProfile"] == {"type": "RuntimeDefault"}, name
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            assert set(mounts) == {"/tmp"} and mounts["/tmp"] in volumes, name  # the one writable place


def test_every_container_runs_the_overlays_image(rendered):
    for obj, c in rendered.containers():
        image, _, tag = c["image"].rpartition(":")
        assert image == "registry.example.internal/eaglet/eaglet", (obj["metadata"]["name"], c["image"])
        assert tag and tag != "latest"


def test_the_pause_before_stopping_fits_in_the_grace_period(rendered):
    for deployment in rendered.of("Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        command = c["lifecycle"]["preStop"]["exec"]["command"]
        assert command[0] == "sleep"
        pause = int(command[1])
        assert pause > 0
        if _component(deployment) == "worker":
            drain = float(_setting(rendered, c, "EAGLET_JOBS__SHUTDOWN_GRACE_S"))
        else:
            drain = int(c["command"][c["command"].index("--timeout-graceful-shutdown") + 1])
        assert pod["terminationGracePeriodSeconds"] > pause + drain, deployment["metadata"]["name"]


# -- scaling and disruption ----------------------------------------------------------------------


def _selects(selector: dict, labels: dict) -> bool:
    assert set(selector) == {"matchLabels"}
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


def test_every_deployment_has_a_disruption_budget(rendered):
    budgets = rendered.of("PodDisruptionBudget")
    for deployment in rendered.of("Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        mine = [b for b in budgets if _selects(b["spec"]["selector"], labels)]
        assert len(mine) == 1, deployment["metadata"]["name"]
        assert mine[0]["spec"] == {"maxUnavailable": 1, "selector": mine[0]["spec"]["selector"]}


def test_every_http_deployment_scales_on_its_autoscaler_and_the_worker_has_a_fixed_count(rendered):
    scalers = {h["spec"]["scaleTargetRef"]["name"]: h["spec"] for h in rendered.of("HorizontalPodAutoscaler")}
    assert set(scalers) == {f"eaglet-{p}" for p in HTTP}
    for name, spec in scalers.items():
        assert spec["scaleTargetRef"]["kind"] == "Deployment"
        assert 1 <= spec["minReplicas"] <= spec["maxReplicas"]
        assert "replicas" not in rendered.get("Deployment", name)["spec"]  # the HPA owns the count
        if rendered.overlay == "prod":
            assert spec["minReplicas"] >= 2 and spec["maxReplicas"] >= 2 * spec["minReplicas"]
    worker = rendered.get("Deployment", "eaglet-worker")["spec"]
    assert worker["replicas"] == (3 if rendered.overlay == "prod" else 1)
    for deployment in rendered.of("Deployment"):
        strategy = deployment["spec"]["strategy"]["rollingUpdate"]
        assert strategy["maxUnavailable"] == 0  # a rollout never drops below the count


def test_every_http_deployment_has_its_service(rendered):
    for process, port in HTTP.items():
        service = rendered.get("Service", f"eaglet-{process}")["spec"]
        labels = rendered.get("Deployment", f"eaglet-{process}")["spec"]["template"]["metadata"]["labels"]
        assert all(labels.get(k) == v for k, v in service["selector"].items())
        assert service["ports"] == [{"name": "http", "port": port, "targetPort": "http"}]
    assert "eaglet-worker" not in rendered.names("Service")


# -- network policies ------------------------------------------------------------------------------

DNS = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}
MONITORING = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
INGRESS = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
OPERATOR = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "cnpg-system"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "cloudnative-pg"}},
}
INSTANCES = {"podSelector": {"matchLabels": {"cnpg.io/cluster": "eaglet-db", "cnpg.io/podRole": "instance"}}}
POOLER_RW = {"podSelector": {"matchLabels": {"cnpg.io/poolerName": "eaglet-db-pooler-rw"}}}
POOLER_RO = {"podSelector": {"matchLabels": {"cnpg.io/poolerName": "eaglet-db-pooler-ro"}}}
POOLERS = {
    "podSelector": {
        "matchExpressions": [
            {
                "key": "cnpg.io/poolerName",
                "operator": "In",
                "values": ["eaglet-db-pooler-rw", "eaglet-db-pooler-ro"],
            }
        ]
    }
}
PRIVATE_V4 = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "127.0.0.0/8",
]
PUBLIC = [
    {"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_V4}},
    {"ipBlock": {"cidr": "::/0", "except": ["fc00::/7", "fe80::/10", "::1/128"]}},
]
# Each overlay's addresses of the Kubernetes API server and of the object store.
PLATFORM = {
    "dev": (
        {"ipBlock": {"cidr": "172.18.0.2/32"}},
        [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "minio"}},
                "podSelector": {"matchLabels": {"app": "minio"}},
            }
        ],
        9000,
    ),
    "prod": ({"ipBlock": {"cidr": "10.0.0.0/28"}}, [{"ipBlock": {"cidr": "10.20.0.0/24"}}], 443),
}
# Each overlay's Redis (the gateway's shared rate-limit buckets), reached on 6379 by the gateway only.
REDIS = {
    "dev": {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "redis"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "redis"}},
    },
    "prod": {"ipBlock": {"cidr": "10.30.0.8/29"}},
}
REDIS_PORT = 6379


def app(name: str) -> dict:
    return {"podSelector": {"matchLabels": {"app.kubernetes.io/name": f"eaglet-{name}"}}}


def tcp(*ports: int) -> list[tuple[str, int]]:
    return [("TCP", p) for p in ports]


def expected_policies(overlay: str) -> dict[str, tuple[dict, list | None, list | None]]:
    """name → (pod selector, ingress rules, egress rules); a rule is (peers, ports); None: the
    policy does not restrict that direction (the default deny does)."""
    kube_api, object_store, store_port = PLATFORM[overlay]
    selector = lambda peer: peer["podSelector"]  # noqa: E731
    policies = {
        "eaglet-default-deny": ({}, [], []),
        "eaglet-dns": ({}, None, [([DNS], [("UDP", 53), ("TCP", 53)])]),
        "eaglet-gateway": (
            selector(app("gateway")),
            [([INGRESS], tcp(8000)), ([MONITORING], tcp(8000))],
            [
                ([app("registry")], tcp(8101)),
                ([app("finance")], tcp(8102)),
                ([app("standards")], tcp(8103)),
                ([POOLER_RW], tcp(5432)),
                ([INSTANCES], tcp(5432)),
                ([REDIS[overlay]], tcp(REDIS_PORT)),
            ],
        ),
        "eaglet-worker": (
            selector(app("worker")),
            [([MONITORING], tcp(WORKER_PORT))],
            [([INSTANCES], tcp(5432)), (PUBLIC, tcp(443))],
        ),
        "eaglet-migrate": (selector(app("migrate")), [], [([INSTANCES], tcp(5432))]),
        "eaglet-db": (
            selector(INSTANCES),
            [
                ([POOLERS], tcp(5432)),
                ([app("gateway"), app("worker"), app("migrate")], tcp(5432)),
                ([INSTANCES], tcp(5432, 8000)),
                ([OPERATOR], tcp(5432, 8000)),
                ([MONITORING], tcp(9187)),
            ],
            [([INSTANCES], tcp(5432, 8000)), ([kube_api], tcp(443, 6443)), (object_store, tcp(store_port))],
        ),
        "eaglet-db-pooler-rw": (
            selector(POOLER_RW),
            [
                ([app("gateway"), app("registry"), app("finance"), app("standards")], tcp(5432)),
                ([MONITORING], tcp(9127)),
            ],
            [([INSTANCES], tcp(5432)), ([kube_api], tcp(443, 6443))],
        ),
        "eaglet-db-pooler-ro": (
            selector(POOLER_RO),
            [
                ([app("registry"), app("finance"), app("standards")], tcp(5432)),
                ([MONITORING], tcp(9127)),
            ],
            [([INSTANCES], tcp(5432)), ([kube_api], tcp(443, 6443))],
        ),
    }
    for name in ("registry", "finance", "standards"):
        policies[f"eaglet-{name}"] = (
            selector(app(name)),
            [([app("gateway")], tcp(HTTP[name])), ([MONITORING], tcp(HTTP[name]))],
            [([POOLER_RW, POOLER_RO], tcp(5432))],
        )
    return policies


def _rules(rules: list[dict], side: str) -> list[tuple[list, list]]:
    out = []
    for rule in rules:
        assert set(rule) == {side, "ports"}, rule  # a rule without peers or ports allows everyone
        assert rule[side], rule
        out.append((rule[side], [(p["protocol"], p["port"]) for p in rule["ports"]]))
    return out


def _canon(rules):
    return (
        None
        if rules is None
        else sorted(json.dumps([peers, sorted(ports)], sort_keys=True) for peers, ports in rules)
    )


def test_network_policies_allow_exactly_what_is_listed(rendered):
    expected = expected_policies(rendered.overlay)
    found = {p["metadata"]["name"]: p["spec"] for p in rendered.of("NetworkPolicy")}
    assert set(found) == set(expected)
    for name, (selector, ingress, egress) in expected.items():
        spec = found[name]
        assert spec["podSelector"] == selector, name
        types = [t for t, rules in (("Ingress", ingress), ("Egress", egress)) if rules is not None]
        assert spec["policyTypes"] == types, name
        assert _canon(_rules(spec["ingress"], "from") if "ingress" in spec else None) == _canon(ingress), name
        assert _canon(_rules(spec["egress"], "to") if "egress" in spec else None) == _canon(egress), name


def test_the_default_deny_covers_every_pod_and_each_workload_has_its_policy(rendered):
    deny = rendered.get("NetworkPolicy", "eaglet-default-deny")["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress", "Egress"]
    assert deny["ingress"] == [] and deny["egress"] == []
    selectors = [p["spec"]["podSelector"] for p in rendered.of("NetworkPolicy") if p["spec"]["podSelector"]]
    for obj, _pod in rendered.workloads():
        labels = obj["spec"]["template"]["metadata"]["labels"]
        assert sum(_selects(s, labels) for s in selectors if "matchLabels" in s) == 1, obj["metadata"]["name"]


def test_webhook_egress_reaches_no_private_address(rendered):
    import ipaddress

    egress = rendered.get("NetworkPolicy", "eaglet-worker")["spec"]["egress"]
    blocks = [peer["ipBlock"] for rule in egress for peer in rule["to"] if "ipBlock" in peer]
    assert all(
        rule["ports"] == [{"protocol": "TCP", "port": 443}] for rule in egress if "ipBlock" in rule["to"][0]
    )
    for address in (
        "10.1.2.3",
        "172.20.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "127.0.0.1",
        "fd00::1",
        "fe80::1",
        "::1",
    ):
        ip = ipaddress.ip_address(address)
        allowed = [
            b
            for b in blocks
            if ip.version == ipaddress.ip_network(b["cidr"]).version
            and ip in ipaddress.ip_network(b["cidr"])
            and not any(ip in ipaddress.ip_network(x) for x in b.get("except", []))
        ]
        assert not allowed, address


# -- secrets ---------------------------------------------------------------------------------------

SECRET_NAMES = {
    "eaglet-keys",
    "eaglet-db-app",
    "eaglet-db-registry",
    "eaglet-db-finance",
    "eaglet-db-standards",
    "eaglet-db-gateway",
    "eaglet-db-worker",
    "eaglet-backup-s3",
    "eaglet-redis",
}
# user:password@ or :password@ (Redis has no user by default)
CREDENTIAL_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@", re.I)
SECRETISH = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|^KEY$|CREDENTIAL", re.I)


def _strings(node, path=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _strings(v, f"{path}/{i}")
    elif isinstance(node, str):
        yield path, node


def _secret_refs(node) -> set[str]:
    refs = set()
    if isinstance(node, dict):
        for key in ("secretKeyRef", "secretRef", "passwordSecret"):
            if key in node:
                refs.add(node[key]["name"])
        for key in ("accessKeyId", "secretAccessKey"):
            if isinstance(node.get(key), dict) and "name" in node[key]:
                refs.add(node[key]["name"])
        for v in node.values():
            refs |= _secret_refs(v)
    elif isinstance(node, list):
        for v in node:
            refs |= _secret_refs(v)
    return refs


def test_no_manifest_holds_a_secret(rendered):
    assert not rendered.of("Secret")  # every Secret comes from the platform or the operator, by name
    for doc in rendered.docs:
        for path, value in _strings(doc):
            assert not CREDENTIAL_URL.search(value), f"{doc['kind']}/{doc['metadata']['name']}{path}"
            assert "-----BEGIN" not in value, f"{doc['kind']}/{doc['metadata']['name']}{path}"
    for key in _config(rendered):
        assert not SECRETISH.search(key), key
    for obj, c in rendered.containers():
        for e in c.get("env", []):
            if SECRETISH.search(e["name"]):
                assert "value" not in e and "secretKeyRef" in e["valueFrom"], (
                    obj["metadata"]["name"],
                    e["name"],
                )
        assert {"configMapRef", "secretRef"} >= {k for ref in c.get("envFrom", []) for k in ref}


def test_every_secret_named_is_known_and_documented(rendered):
    named = set().union(*(_secret_refs(d) for d in rendered.docs))
    assert named == SECRET_NAMES
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for name in named:
        assert f"`{name}`" in guide, f"docs/deploy.md does not say where Secret {name} comes from"


# -- the gateway's rate limits ---------------------------------------------------------------------


def _setting_name(settings: type, *path: str) -> str:
    """The env var of a setting, from its class: prefix, field names, nesting delimiter."""
    model = settings
    for part in path:
        assert part in model.model_fields, (settings.__name__, path)
        model = model.model_fields[part].annotation
    config = settings.model_config
    return (config["env_prefix"] + config["env_nested_delimiter"].join(path)).upper()


def _gateway(rendered: Rendered) -> tuple[dict, dict]:
    """The gateway Deployment and its container."""
    deployment = rendered.get("Deployment", "eaglet-gateway")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return deployment, container


def test_the_gateway_shares_its_buckets_through_redis_named_by_its_secret(rendered):
    """The URL (which may carry a password) comes whole from Secret eaglet-redis. Production
    does not start without it; development runs with per-process buckets until it exists."""
    from gateway.settings import GatewaySettings

    _deployment, c = _gateway(rendered)
    redis = _env(c)[_setting_name(GatewaySettings, "redis_url")]
    assert "value" not in redis
    ref = redis["valueFrom"]["secretKeyRef"]
    assert {k: ref[k] for k in ("name", "key")} == {"name": "eaglet-redis", "key": "url"}
    assert ref.get("optional", False) is (rendered.overlay == "dev")


def test_without_redis_all_gateway_replicas_together_stay_within_the_rate(rendered):
    """Each process alone allows rate ÷ (EAGLET_GATEWAY__REPLICAS × workers): the setting is the
    most replicas the autoscaler may run."""
    from services.common.settings import Settings

    deployment, c = _gateway(rendered)
    (hpa,) = [
        h
        for h in rendered.of("HorizontalPodAutoscaler")
        if h["spec"]["scaleTargetRef"]
        == {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment["metadata"]["name"]}
    ]
    replicas = _setting(rendered, c, _setting_name(Settings, "gateway", "replicas"))
    assert replicas is not None and int(replicas) == hpa["spec"]["maxReplicas"], rendered.overlay


# -- database wiring -------------------------------------------------------------------------------


def _process_roles() -> set[str]:
    """The processes' login roles, from their one home (`eaglet db-roles`, services/cli/roles.py)."""
    from services.cli.roles import ROLES

    return set(ROLES.values())


def _url(value: str):
    from sqlalchemy.engine import make_url

    return make_url(value)


def test_the_managed_roles_are_the_processes_and_the_owner(rendered):
    cluster = rendered.get("Cluster", "eaglet-db")["spec"]
    roles = {r["name"]: r for r in cluster["managed"]["roles"]}
    assert set(roles) == _process_roles() | {"eaglet_owner"}
    assert cluster["bootstrap"]["initdb"]["owner"] == "eaglet_owner"
    assert "secret" not in cluster["bootstrap"]["initdb"]  # the operator generates eaglet-db-app
    assert roles["eaglet_owner"]["passwordSecret"] == {"name": "eaglet-db-app"}
    for name, role in roles.items():
        assert role["ensure"] == "present" and role["login"] is True, name
        assert not role.get("superuser") and not role.get("createrole") and not role.get("bypassrls"), name
        if name != "eaglet_owner":
            assert role["passwordSecret"] == {"name": "eaglet-db-" + name.removeprefix("eaglet_")}
    assert cluster["enableSuperuserAccess"] is False


def test_each_process_connects_as_its_role_through_the_right_door(rendered):
    roles = {
        r["name"]: r["passwordSecret"]["name"]
        for r in rendered.get("Cluster", "eaglet-db")["spec"]["managed"]["roles"]
    }
    poolers = {p["metadata"]["name"]: p["spec"] for p in rendered.of("Pooler")}
    for obj, c in rendered.containers():
        env = _env(c)
        url = _url(env["EAGLET_DATABASE_URL"]["value"])
        role = "eaglet_owner" if _component(obj) == "migrate" else f"eaglet_{_component(obj)}"
        assert url.username == role and url.password is None and url.database == "eaglet", obj["metadata"][
            "name"
        ]
        assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": roles[role], "key": "password"}
        if _component(obj) in ("worker", "migrate"):
            # sessions of their own: LISTEN, search_path at startup, DDL
            assert url.host == "eaglet-db-rw", obj["metadata"]["name"]
        else:
            assert url.host == "eaglet-db-pooler-rw", obj["metadata"]["name"]
        if url.host in poolers:
            pgbouncer = poolers[url.host]["pgbouncer"]
            if pgbouncer["poolMode"] != "session":  # transaction pooling keeps no prepared statement
                assert _setting(rendered, c, "EAGLET_DB__STATEMENT_CACHE_SIZE") == "0", obj["metadata"][
                    "name"
                ]
                assert "statement_timeout" in pgbouncer["parameters"]["ignore_startup_parameters"].split(",")
        if _component(obj) == "gateway":
            listen = _url(env["EAGLET_DB__LISTEN_URL"]["value"])
            assert listen.host == "eaglet-db-rw" and listen.username == role and listen.password is None


def test_the_services_hot_reads_go_to_the_standbys_where_there_are_any(rendered):
    """registry, finance and standards read lists, search, verification, statistics, exports and
    the feed through the read-only pooler (docs/deploy.md "Read replicas"): as their own role
    (its password is the primary's on a physical replica), through a transaction-mode pooler like
    the read-write one (the statement-cache rule covers it). With one instance (dev) there is no
    standby behind that pooler: the read URL is the database URL, every read on the primary. The
    gateway, the worker and the migration read nothing on a replica."""
    cluster = rendered.get("Cluster", "eaglet-db")["spec"]
    poolers = {p["metadata"]["name"]: p["spec"] for p in rendered.of("Pooler")}
    for obj, c in rendered.containers():
        env = _env(c)
        name = obj["metadata"]["name"]
        if _component(obj) not in ("registry", "finance", "standards"):
            assert (
                "EAGLET_DB__READ_URL" not in env and _setting(rendered, c, "EAGLET_DB__READ_URL") is None
            ), name
            continue
        url = _url(env["EAGLET_DB__READ_URL"]["value"])
        own = _url(env["EAGLET_DATABASE_URL"]["value"])
        assert url.username == own.username and url.password is None and url.database == "eaglet", name
        if cluster["instances"] > 1:
            assert url.host == "eaglet-db-pooler-ro" and poolers[url.host]["type"] == "ro", name
        else:
            assert url == own, name
        assert poolers[url.host]["pgbouncer"]["poolMode"] == "transaction", name
        assert _setting(rendered, c, "EAGLET_DB__STATEMENT_CACHE_SIZE") == "0", name


def test_the_poolers_pool_transactions_of_the_cluster(rendered):
    for pooler in rendered.of("Pooler"):
        spec = pooler["spec"]
        assert pooler["metadata"]["name"] == f"eaglet-db-pooler-{spec['type']}"
        assert spec["pgbouncer"]["poolMode"] == "transaction"
        assert spec["instances"] >= (2 if rendered.overlay == "prod" else 1)


def test_the_connections_fit_the_server_and_each_roles_limit(rendered):
    """At most: every pooler pod's server pool per role, every worker's pools (procrastinate's,
    its tasks', the webhook dispatcher's 4), one LISTEN connection per gateway at the HPA's
    maximum, the migration, and a reserve for the operator, replication and superuser."""
    cluster = rendered.get("Cluster", "eaglet-db")["spec"]
    roles = {r["name"]: r for r in cluster["managed"]["roles"]}
    config = _config(rendered)
    worker = rendered.get("Deployment", "eaglet-worker")
    gateways = rendered.get("HorizontalPodAutoscaler", "eaglet-gateway")["spec"]["maxReplicas"]
    per_worker = (
        int(config.get("EAGLET_JOBS__POOL_SIZE", 4)) + int(config.get("EAGLET_JOBS__TASK_POOL_SIZE", 4)) + 4
    )
    by_role = {
        "eaglet_worker": worker["spec"]["replicas"] * per_worker,
        "eaglet_gateway": gateways,
        "eaglet_owner": 1,
    }
    # Each pooler's server connections land on its side: the read-write one's on the primary, the
    # read-only one's on the standbys (each standby at most all of them, whichever it is; a
    # standby has the primary's max_connections and enforces each role's limit on its own).
    readers = {
        "rw": ["eaglet_gateway", "eaglet_registry", "eaglet_finance", "eaglet_standards"],
        "ro": ["eaglet_registry", "eaglet_finance", "eaglet_standards"],
    }
    on_standby: dict[str, int] = {}
    for pooler in rendered.of("Pooler"):
        spec = pooler["spec"]
        per_role = spec["instances"] * int(spec["pgbouncer"]["parameters"]["default_pool_size"])
        side = by_role if spec["type"] == "rw" else on_standby
        for role in readers[spec["type"]]:
            side[role] = side.get(role, 0) + per_role
    reserve = 10 + cluster["instances"]
    for server in (by_role, on_standby):
        for role, most in server.items():
            limit = roles[role].get("connectionLimit", -1) if role in roles else -1
            assert limit == -1 or most <= limit, (role, most, limit)
        assert sum(server.values()) + reserve <= int(cluster["postgresql"]["parameters"]["max_connections"])


def test_the_database_default_timeout_is_the_engines(rendered):
    """Through PgBouncer the engine's statement_timeout cannot be sent at startup: the database's
    default stands in for it, and the owner's migrations have none."""
    sql = rendered.get("Cluster", "eaglet-db")["spec"]["bootstrap"]["initdb"]["postInitApplicationSQL"]
    ms = int(_config(rendered)["EAGLET_DB__STATEMENT_TIMEOUT_MS"])
    assert f"ALTER DATABASE eaglet SET statement_timeout = '{ms // 1000}s'" in sql
    assert "ALTER ROLE eaglet_owner IN DATABASE eaglet SET statement_timeout = 0" in sql


def test_every_setting_named_is_a_setting(rendered):
    names = set(_config(rendered))
    for _obj, c in rendered.containers():
        names |= {e["name"] for e in c.get("env", []) if e["name"].startswith("EAGLET_")}
    for name in names:
        assert is_setting(name), name


# -- migrations ------------------------------------------------------------------------------------


def _wave(obj: dict) -> int:
    return int(obj["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0"))


def test_migrations_run_as_the_owner_before_any_new_pod(rendered):
    (job,) = rendered.of("Job")
    (c,) = job["spec"]["template"]["spec"]["containers"]
    assert c["command"] == ["eaglet", "migrate"]
    assert _url(_env(c)["EAGLET_DATABASE_URL"]["value"]).username == "eaglet_owner"
    notes = job["metadata"]["annotations"]
    assert notes["argocd.argoproj.io/hook"] == "Sync"
    assert notes["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # Argo CD applies wave by wave, waiting for each to be healthy (a Job: complete)
    database = [d for d in rendered.docs if d["kind"] in ("Cluster", "Pooler")]
    assert max(_wave(d) for d in database) < _wave(job)
    for deployment in rendered.of("Deployment"):
        assert _wave(job) < _wave(deployment), deployment["metadata"]["name"]
    for kind in ("ConfigMap", "ServiceAccount", "NetworkPolicy"):  # what the Job itself needs
        assert all(_wave(d) < _wave(job) for d in rendered.of(kind)), kind


def test_the_apply_steps_of_the_guide_select_what_they_say(rendered):
    """docs/deploy.md applies with label selectors when there is no Argo CD: first the objects of
    component `database` and those of no component (settings, identity, policies), then the
    migration, then everything."""
    labels = {(d["kind"], d["metadata"]["name"]): d["metadata"].get("labels", {}) for d in rendered.docs}
    assert all(v.get("app.kubernetes.io/part-of") == "eaglet" for v in labels.values())
    first = {k for k, v in labels.items() if v.get("app.kubernetes.io/component") == "database"}
    assert {kind for kind, _ in first} == {"Cluster", "Pooler", "ObjectStore", "ScheduledBackup"}
    plain = {k for k, v in labels.items() if "app.kubernetes.io/component" not in v}
    assert {kind for kind, _ in plain} == {"ServiceAccount", "ConfigMap", "NetworkPolicy"}
    assert {k for k, v in labels.items() if v.get("app.kubernetes.io/component") == "migrate"} == {
        ("Job", "eaglet-migrate")
    }
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for selector in (
        "'app.kubernetes.io/component in (database)'",
        "'app.kubernetes.io/part-of=eaglet,!app.kubernetes.io/component'",
        "app.kubernetes.io/component=migrate",
    ):
        assert f"-l {selector}" in guide, selector

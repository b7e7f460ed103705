"""What the manifests promise beyond the generic policy: the scaler's exact permissions,
meaningful probes, writable paths on emptyDirs, zone spreading and data safety in prod."""

from __future__ import annotations

import csv
import io

import pytest
from k8s_manifests import K8S, containers, find, pod_templates

from tests.support.servers import PLANNER_SETTINGS

SCALED = ("peakshop-web", "peakshop-worker")
APP_IMAGE = "ghcr.io/peakshop/peakshop"


def container(objects, kind, name, container_name, init=False):
    pod = find(objects, kind, name)["spec"]["template"]["spec"]
    key = "initContainers" if init else "containers"
    return next(c for c in pod[key] if c["name"] == container_name)


def env_value(objects, spec, variable):
    """The value a container sees for `variable`: its own env, else its ConfigMaps."""
    for entry in spec.get("env") or []:
        if entry["name"] == variable and "value" in entry:
            return entry["value"]
    for source in spec.get("envFrom") or []:
        data = find(objects, "ConfigMap", source["configMapRef"]["name"]).get("data", {})
        if variable in data:
            return data[variable]
    raise KeyError(variable)


def test_scaler_role_grants_exactly_what_the_scaler_uses(rendered):
    """Deployments read, status read and scale changed (both by name), Events, its own Lease."""
    objects = rendered("prod")
    rules = {(tuple(r["apiGroups"]), tuple(r["resources"]), tuple(sorted(r["verbs"])),
              tuple(sorted(r.get("resourceNames", ()))))
             for r in find(objects, "Role", "peakshop-scaler")["rules"]}
    assert rules == {
        (("apps",), ("deployments",), ("get", "list", "watch"), ()),
        (("apps",), ("deployments/status",), ("get",), SCALED),
        (("apps",), ("deployments/scale",), ("get", "patch", "update"), SCALED),
        (("",), ("events",), ("create", "patch"), ()),
        (("coordination.k8s.io",), ("leases",), ("create",), ()),
        (("coordination.k8s.io",), ("leases",), ("get", "patch", "update"), ("peakshop-scaler",)),
        # in-place resize of the web pods (the in-place-resize component, on in prod)
        (("",), ("pods",), ("list",), ()),
        (("",), ("pods/resize",), ("patch",), ()),
    }
    for name in SCALED:  # the names the Role pins exist
        find(objects, "Deployment", name)


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_only_the_scaler_holds_a_kubernetes_token(rendered, overlay):
    """The Role is bound to the scaler's ServiceAccount; every other pod mounts no token."""
    objects = rendered(overlay)
    binding = find(objects, "RoleBinding", "peakshop-scaler")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": "peakshop-scaler"}
    assert [s["name"] for s in binding["subjects"]] == ["peakshop-scaler"]
    for template in pod_templates(objects):
        name = template.owner["metadata"]["name"]
        if name == "peakshop-scaler":
            assert template.spec["serviceAccountName"] == "peakshop-scaler"
        else:
            assert template.spec.get("automountServiceAccountToken") is False, name


# Each role runs the Dockerfile target that holds only what it imports.
ROLE_IMAGES = {"peakshop-web": APP_IMAGE, "peakshop-worker": APP_IMAGE,
               "peakshop-scaler": APP_IMAGE + "-scaler",
               "peakshop-backup": APP_IMAGE + "-backup",
               "peakshop-backup-drill": APP_IMAGE + "-backup",
               "peakshop-locust-master": APP_IMAGE + "-loadtest",
               "peakshop-locust-worker": APP_IMAGE + "-loadtest"}


@pytest.mark.parametrize("overlay", ["dev", "prod", "loadtest"])
def test_each_role_runs_its_own_image_all_of_one_version(rendered, overlay):
    objects = rendered(overlay)
    ours = [c for c in containers(objects) if c.spec["image"].startswith(APP_IMAGE)]
    assert ours
    for c in ours:
        workload = c.owner["metadata"]["name"]
        assert c.spec["image"].rsplit(":", 1)[0] == ROLE_IMAGES[workload], c.label
    assert len({c.spec["image"].rsplit(":", 1)[1] for c in ours}) == 1


def test_storefront_probes_use_the_health_endpoints(rendered):
    web = container(rendered("prod"), "Deployment", "peakshop-web", "web")
    assert web["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert web["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert web["args"] == ["serve"]
    assert {"name": "http", "containerPort": 8000, "protocol": "TCP"} in web["ports"]


def test_metrics_have_a_port_the_ingress_does_not_route(rendered):
    """gunicorn's master serves /metrics on PEAKSHOP_METRICS_BIND; Prometheus and the scaler
    read that port, the Ingress only ever routes `http`."""
    objects = rendered("prod")
    deployment = find(objects, "Deployment", "peakshop-web")
    web = container(objects, "Deployment", "peakshop-web", "web")
    assert {"name": "metrics", "containerPort": 9101, "protocol": "TCP"} in web["ports"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == "9101"
    assert env_value(objects, web, "PEAKSHOP_METRICS_BIND") == "0.0.0.0:9101"
    assert env_value(objects, web, "PEAKSHOP_ENV") == "production"
    service = find(objects, "Service", "peakshop-web")
    service_ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert service_ports["metrics"]["targetPort"] == "metrics"
    ingress = find(objects, "Ingress", "peakshop")
    routed = {path["backend"]["service"]["port"].get("name")
              for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]}
    assert routed == {"http"}
    monitor = find(objects, "PodMonitor", "peakshop-web")
    assert [e["port"] for e in monitor["spec"]["podMetricsEndpoints"]] == ["metrics"]


def test_storefront_runs_migrations_first(rendered):
    migrate = container(rendered("prod"), "Deployment", "peakshop-web", "migrate", init=True)
    assert migrate["args"] == ["db", "upgrade"]


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_services_target_named_container_ports(rendered, overlay):
    """Each Service port's targetPort is a port its pods declare."""
    objects = rendered(overlay)
    for service in (o for o in objects if o["kind"] == "Service"):
        selector = service["spec"]["selector"].items()
        pods = [t for t in pod_templates(objects)
                if selector <= (t.labels
                                | {"statefulset.kubernetes.io/pod-name":
                                   t.owner["metadata"]["name"] + "-0"}).items()]
        assert pods, f"Service {service['metadata']['name']} selects no pod template"
        names = {p["name"] for t in pods for c in t.spec["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in names, (service["metadata"]["name"], port)


@pytest.mark.parametrize("workload,name", [("Deployment", "peakshop-web"),
                                           ("Deployment", "peakshop-worker")])
def test_writable_paths_are_empty_dirs(rendered, workload, name):
    """With a read-only root, every path the app writes to is an emptyDir mount."""
    objects = rendered("prod")
    pod = find(objects, workload, name)["spec"]["template"]["spec"]
    empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    for spec in pod.get("initContainers", []) + pod["containers"]:
        mounts = {m["mountPath"] for m in spec["volumeMounts"] if m["name"] in empty_dirs}
        assert "/tmp" in mounts
        assert env_value(objects, spec, "PEAKSHOP_INSTANCE_PATH") in mounts
        for variable in ("PROMETHEUS_MULTIPROC_DIR", "PEAKSHOP_WORKER_HEARTBEAT_FILE"):
            try:
                path = env_value(objects, spec, variable)
            except KeyError:
                continue
            assert any(path == m or path.startswith(m + "/") for m in mounts), variable


def test_worker_has_time_to_finish_a_message(rendered):
    """The pod outlives the worker's own grace period, so the worker ends a batch itself."""
    objects = rendered("prod")
    pod = find(objects, "Deployment", "peakshop-worker")["spec"]["template"]["spec"]
    worker_grace_s = float(env_value(objects, pod["containers"][0], "PEAKSHOP_WORKER_GRACE_S"))
    assert worker_grace_s >= 30
    assert pod["terminationGracePeriodSeconds"] >= worker_grace_s + 15
    assert "ports" not in pod["containers"][0]
    assert pod["containers"][0]["livenessProbe"]["exec"]["command"] == [
        "peakshop", "worker", "--check"]


@pytest.mark.parametrize("name", SCALED)
@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_scaled_deployments_leave_replicas_to_the_scaler(rendered, overlay, name):
    """A `replicas` in the manifest would reset the scaler's choice on every apply."""
    assert "replicas" not in find(rendered(overlay), "Deployment", name)["spec"]


def test_dev_runs_one_replica_of_everything(rendered):
    objects = rendered("dev")
    for template in pod_templates(objects):
        assert template.owner["spec"].get("replicas", 1) == 1, template.owner["metadata"]["name"]
    args = container(objects, "Deployment", "peakshop-scaler", "scaler")["args"]
    assert "--min-replicas=1" in args


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_namespace_enforces_restricted_pod_security(rendered, overlay):
    objects = rendered(overlay)
    [namespace] = [o for o in objects if o["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("overlay", ["dev", "prod", "loadtest"])
def test_network_is_default_deny_and_every_pod_has_its_own_rules(rendered, overlay):
    objects = rendered(overlay)
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    deny = find(objects, "NetworkPolicy", "default-deny-all")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for template in pod_templates(objects):
        labels = template.labels
        own = [p for p in policies if p["spec"]["podSelector"].get("matchLabels")
               and p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()]
        assert own, f"no NetworkPolicy of its own for {template.owner['metadata']['name']}"


@pytest.mark.parametrize("name", ["peakshop-web", "peakshop-worker", "peakshop-scaler"])
def test_prod_spreads_over_zones(rendered, name):
    pod = find(rendered("prod"), "Deployment", name)["spec"]["template"]["spec"]
    zone = [c for c in pod["topologySpreadConstraints"]
            if c["topologyKey"] == "topology.kubernetes.io/zone"]
    assert zone and zone[0]["whenUnsatisfiable"] == "DoNotSchedule" and zone[0]["maxSkew"] == 1
    assert zone[0]["labelSelector"]["matchLabels"].items() <= (
        find(rendered("prod"), "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        .items())


def test_prod_scaler_has_a_standby_and_reads_prometheus(rendered):
    scaler = find(rendered("prod"), "Deployment", "peakshop-scaler")
    assert scaler["spec"]["replicas"] == 2
    assert "--prometheus" in scaler["spec"]["template"]["spec"]["containers"][0]["args"]


def test_the_suite_plans_queries_as_prod_postgres_does(rendered):
    """The suite's and the benchmarks' PostgreSQL run with production's planner settings."""
    cluster = find(rendered("prod"), "Cluster", "peakshop-db")["spec"]
    parameters = cluster["postgresql"]["parameters"]
    assert {name: parameters.get(name) for name in PLANNER_SETTINGS} == PLANNER_SETTINGS


def test_prod_postgres_is_ha_with_off_region_backups(rendered):
    objects = rendered("prod")
    cluster = find(objects, "Cluster", "peakshop-db")["spec"]
    assert cluster["instances"] >= 3
    assert cluster["affinity"]["topologyKey"] == "topology.kubernetes.io/zone"
    assert cluster["affinity"]["podAntiAffinityType"] == "required"
    assert cluster["minSyncReplicas"] >= 1
    store = cluster["backup"]["barmanObjectStore"]
    assert store["destinationPath"].startswith("s3://") and store["wal"]
    backup = find(objects, "ScheduledBackup", "peakshop-db-daily")["spec"]
    assert backup["cluster"]["name"] == "peakshop-db"
    # The app reaches the primary through the operator's PgBouncer in transaction mode,
    # flagged so that it prepares no statements, with the operator's app Secret.
    web = container(objects, "Deployment", "peakshop-web", "web")
    pooler = find(objects, "Pooler", "peakshop-db-pooler-rw")["spec"]
    assert pooler["cluster"]["name"] == "peakshop-db" and pooler["type"] == "rw"
    assert pooler["pgbouncer"]["poolMode"] == "transaction" and pooler["instances"] >= 3
    assert env_value(objects, web, "PEAKSHOP_DATABASE_HOST") == "peakshop-db-pooler-rw"
    assert env_value(objects, web, "PEAKSHOP_DATABASE_QUERY") == "?pgbouncer=true"
    url = next(e["value"] for e in web["env"] if e["name"] == "PEAKSHOP_DATABASE_URL")
    assert url.endswith("$(PEAKSHOP_DATABASE_QUERY)")
    secrets = {e["valueFrom"]["secretKeyRef"]["name"] for e in web["env"]
               if e["name"].startswith("PEAKSHOP_DATABASE_")
               and "secretKeyRef" in e.get("valueFrom", {})}
    assert secrets == {"peakshop-db-app"}


def test_prod_redis_persists_and_replicates_across_zones(rendered):
    objects = rendered("prod")
    redis = find(objects, "StatefulSet", "peakshop-redis")
    assert redis["spec"]["replicas"] >= 2
    [term] = redis["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "topology.kubernetes.io/zone"
    config_map = next(v["configMap"]["name"] for v in redis["spec"]["template"]["spec"]["volumes"]
                      if "configMap" in v)
    config = find(objects, "ConfigMap", config_map)["data"]["redis.conf"].splitlines()
    assert "appendonly yes" in config and "maxmemory-policy noeviction" in config
    assert redis["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
    primary = find(objects, "Service", "peakshop-redis")["spec"]["selector"]
    assert primary["statefulset.kubernetes.io/pod-name"] == "peakshop-redis-0"


def test_loadtest_runs_locust_from_the_image_with_the_generated_trace(rendered):
    objects = rendered("loadtest")
    master = container(objects, "Deployment", "peakshop-locust-master", "locust")
    worker = container(objects, "Deployment", "peakshop-locust-worker", "locust")
    for spec in (master, worker):
        assert spec["command"] == ["locust"]
        assert spec["args"][:2] == ["-f", "/app/loadtests/locustfile.py"]
    assert "--master" in master["args"] and "--worker" in worker["args"]
    pod = find(objects, "Deployment", "peakshop-locust-master")["spec"]["template"]["spec"]
    [volume] = [v for v in pod["volumes"] if "configMap" in v]
    trace_map = find(objects, "ConfigMap", volume["configMap"]["name"])
    assert trace_map["metadata"]["name"].startswith("locust-trace-")  # generated, hashed
    [mount] = [m for m in master["volumeMounts"] if m["name"] == volume["name"]]
    trace_path = env_value(objects, master, "LOCUST_TRACE")
    assert trace_path == f"{mount['mountPath']}/trace.csv"
    shipped = (K8S / "components" / "loadtest" / "trace.csv").read_text()
    assert trace_map["data"]["trace.csv"] == shipped


def test_loadtest_trace_is_a_valid_trace():
    """second,rps,orders_per_s with consecutive seconds and non-negative rates."""
    rows = list(csv.DictReader(io.StringIO(
        (K8S / "components" / "loadtest" / "trace.csv").read_text())))
    assert list(rows[0]) == ["second", "rps", "orders_per_s"]
    assert [int(r["second"]) for r in rows] == list(range(len(rows)))
    assert all(float(r["rps"]) >= 0 and float(r["orders_per_s"]) >= 0 for r in rows)
    assert max(float(r["rps"]) for r in rows) > 4 * float(rows[0]["rps"])  # it has a peak


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_web_pods_publish_their_backlog_where_the_scaler_listens(rendered, overlay):
    """The push on Kubernetes: each web pod publishes its listen backlog to the Redis the
    scaler reads, and the scaler does not turn the push off."""
    objects = rendered(overlay)
    web = container(objects, "Deployment", "peakshop-web", "web")
    scaler = container(objects, "Deployment", "peakshop-scaler", "scaler")
    assert env_value(objects, web, "PEAKSHOP_PUBLISH_BACKLOG") == "true"
    assert env_value(objects, web, "PEAKSHOP_REDIS_URL") == env_value(
        objects, scaler, "PEAKSHOP_REDIS_URL")
    assert "--no-push" not in scaler["args"]


def test_web_pods_can_grow_their_cpu_in_place_and_follow_it(rendered):
    """CPU is resizable without a restart, and gunicorn turns it into workers. Prod resizes
    (the in-place-resize component, Kubernetes >= 1.33); dev, for any cluster, does not."""
    objects = rendered("prod")
    web = container(objects, "Deployment", "peakshop-web", "web")
    assert {"resourceName": "cpu", "restartPolicy": "NotRequired"} in web["resizePolicy"]
    assert env_value(objects, web, "PEAKSHOP_FOLLOW_CPU_LIMIT") == "true"
    args = container(objects, "Deployment", "peakshop-scaler", "scaler")["args"]
    assert args.count("--max-pod-size") == 1 and args[args.index("--max-pod-size") + 1] == "2"
    assert "--max-pod-size" not in container(rendered("dev"), "Deployment", "peakshop-scaler",
                                             "scaler")["args"]


@pytest.fixture(scope="module")
def with_in_place_resize(tmp_path_factory):
    """The dev overlay with the in-place-resize component, rendered as a user would add it
    (kustomize wants relative paths); prod has it already."""
    import os

    from k8s_manifests import render

    folder = tmp_path_factory.mktemp("dev-resize")
    (folder / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n  - {os.path.relpath(K8S / 'overlays' / 'dev', folder)}\n"
        f"components:\n  - {os.path.relpath(K8S / 'components' / 'in-place-resize', folder)}\n")
    return render(folder)


def test_the_in_place_resize_component_grants_the_resize_and_turns_it_on(with_in_place_resize):
    from k8s_rbac import allowed, api_request
    from k8s_schema import schema_errors

    objects = with_in_place_resize
    assert schema_errors(objects) == []
    args = container(objects, "Deployment", "peakshop-scaler", "scaler")["args"]
    assert args[args.index("--max-pod-size") + 1] == "2"
    rules = find(objects, "Role", "peakshop-scaler")["rules"]
    pods = "/api/v1/namespaces/peakshop/pods"
    assert allowed(rules, api_request("GET", f"{pods}?labelSelector=app"))
    assert allowed(rules, api_request("PATCH", f"{pods}/peakshop-web-abc/resize"))
    # ...and nothing else of a pod: not its spec, not its logs, not exec
    assert not allowed(rules, api_request("PATCH", f"{pods}/peakshop-web-abc"))
    assert not allowed(rules, api_request("GET", f"{pods}/peakshop-web-abc/log"))
    assert not allowed(rules, api_request("POST", f"{pods}/peakshop-web-abc/exec"))

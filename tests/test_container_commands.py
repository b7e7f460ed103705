"""The image's commands, run the way their containers run them, outside a container.

No container runtime runs here, so each process is started the way the kubelet would start
it from the rendered manifests: the image's ENTRYPOINT/CMD (from the Dockerfile) with the
container's `command`/`args`, and the Dockerfile's ENV plus the container's envFrom
ConfigMaps, Secret references, downward-API fields and `$(VAR)` expansion. Only the
cluster's own facts are swapped for stand-ins:

- Secrets: values made here (the test Redis requires the `redis-password`; the database role
  is created in the test PostgreSQL with the `peakshop-db-app` credentials);
- addresses: the Services (peakshop-db-rw, peakshop-redis, peakshop-web) become these real
  servers on loopback, and a container port becomes a free loopback port;
- volumes: each emptyDir becomes a temp folder, and path-valued variables follow it;
- the image: `peakshop` runs as `python -m peakshop.cli` from this checkout (the console script
  calls the same `main`), the WORKDIR /app is a copy of what the Dockerfile COPYs there;
- the Kubernetes API: kmock's emulator (the closest stand-in: no cluster runs here).

Each process runs in a private mount namespace where every filesystem is remounted
read-only except the emptyDir stand-ins, which is what readOnlyRootFilesystem means: a
write anywhere else fails. The one variable added is TMPDIR (the /tmp emptyDir's stand-in),
because the host's /tmp is read-only in there while a pod's /tmp is an emptyDir.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.k8s.dockerfile_rules import environment as image_environment
from tests.k8s.dockerfile_rules import parse as parse_dockerfile
from tests.k8s.journey import shopper_journey
from tests.k8s.k8s_kubelet import command_line, config_maps, container_environment
from tests.k8s.k8s_manifests import OVERLAYS, find, render
from tests.k8s.k8s_rbac import allowed, api_request
from tests.support.servers import free_port, redis_server_binary, wait_for_port

REPO = Path(__file__).resolve().parents[1]
DEADLINE_S = 120  # generous: the machine is shared, and a stuck process must still end the test

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

if shutil.which("kubectl") is None:
    pytest.skip("kubectl renders the manifests and is not installed", allow_module_level=True)
try:
    import peakshop.cli  # noqa: F401
except ImportError as missing:  # the commands are built alongside these manifests
    pytest.skip(f"the peakshop CLI cannot be imported: {missing}", allow_module_level=True)

# Runs as PID 1 of the process's view: make the stand-ins writable mounts of their own, turn
# every other filesystem read-only, then exec the command.
SANDBOX = r"""
set -e
count=$1; shift
writable=""
while [ "$count" -gt 0 ]; do
  mount --bind "$1" "$1"; writable="$writable|$1|"; shift; count=$((count - 1))
done
awk '{print $5}' /proc/self/mountinfo | while read -r point; do
  case "$point" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
  case "$writable" in *"|$point|"*) continue ;; esac
  mount -o remount,bind,ro "$point" 2>/dev/null || true
done
exec "$@"
"""


def sandbox_available() -> bool:
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


SANDBOXED = shutil.which("unshare") is not None and sandbox_available()


@dataclass
class Image:
    """What the Dockerfile's final stage puts in the container."""
    entrypoint: list[str]
    cmd: list[str]
    environment: dict[str, str]
    workdir: str
    workdir_files: list[str]

    @classmethod
    def from_dockerfile(cls) -> Image:
        import json

        final = parse_dockerfile((REPO / "Dockerfile").read_text())[-1]
        files = []
        for instruction in final.instructions:
            words = instruction.value.split()
            if instruction.keyword == "COPY" and not any(w.startswith("--from") for w in words):
                files += [w for w in words[:-1] if not w.startswith("--")]
        env = image_environment(final)
        env.pop("PATH")  # the venv's; here the interpreter running the tests has the packages
        return cls(json.loads(final.last("ENTRYPOINT").value), json.loads(final.last("CMD").value),
                   env, final.last("WORKDIR").value, files)


@dataclass
class Cluster:
    """The stand-ins for what a cluster provides: Secrets, Services, the pod's identity."""
    secret_values: dict[tuple[str, str], str]
    config_overrides: dict[str, str]
    urls: dict[str, str] = field(default_factory=dict)  # in-cluster URL prefix -> loopback
    namespace: str = "peakshop-dev"

    def secret(self, name: str, key: str) -> str | None:
        return self.secret_values.get((name, key))


class Pod:
    """One container of a rendered workload, started as its kubelet would start it."""

    def __init__(self, objects: list[dict], kind: str, name: str, container: str,
                 cluster: Cluster, root: Path, image: Image, init: bool = False):
        self.template = find(objects, kind, name)["spec"]["template"]["spec"]
        key = "initContainers" if init else "containers"
        self.spec = next(c for c in self.template[key] if c["name"] == container)
        self.name = f"{name}-{uuid.uuid4().hex[:5]}"
        self.root = root / self.name
        self.cluster = cluster
        self.ports = {p["containerPort"]: free_port() for p in self.spec.get("ports", [])}
        self.writable = self._empty_dirs()
        self.read_only = self._config_map_volumes(objects)
        self.workdir = self._workdir(image)
        pod_fields = {"metadata.name": self.name, "metadata.namespace": cluster.namespace}
        declared = container_environment(
            config_maps(objects), self.spec, secret=cluster.secret, field=pod_fields.__getitem__,
            config_overrides=cluster.config_overrides)
        self.environment = self._environment(image, declared)
        self.argv = [self._local(word, argument=True) for word in
                     command_line(self.spec, image.entrypoint, image.cmd, declared)]
        self.argv = self._localize_command(self.argv)

    def _empty_dirs(self) -> dict[str, Path]:
        empty = {v["name"] for v in self.template.get("volumes", []) if "emptyDir" in v}
        folders = {}
        for mount in self.spec.get("volumeMounts", []):
            if mount["name"] in empty:
                folder = self.root / "volumes" / mount["name"]
                folder.mkdir(parents=True, exist_ok=True)
                folders[mount["mountPath"]] = folder
        return folders

    def _config_map_volumes(self, objects: list[dict]) -> dict[str, Path]:
        """Each mounted ConfigMap as a folder of its keys (read-only, like the kubelet's)."""
        volumes = {v["name"]: v["configMap"]["name"] for v in self.template.get("volumes", [])
                   if "configMap" in v}
        folders = {}
        for mount in self.spec.get("volumeMounts", []):
            if mount["name"] in volumes:
                folder = self.root / "volumes" / mount["name"]
                folder.mkdir(parents=True, exist_ok=True)
                for key, value in find(objects, "ConfigMap", volumes[mount["name"]])[
                        "data"].items():
                    (folder / key).write_text(value)
                folders[mount["mountPath"]] = folder
        return folders

    def _workdir(self, image: Image) -> Path:
        """A copy of the image's WORKDIR content; read-only like the rest of the image."""
        folder = self.root / "image" / image.workdir.strip("/")
        folder.mkdir(parents=True)
        for source in image.workdir_files:
            path = REPO / source
            if path.is_dir():
                shutil.copytree(path, folder / source,
                                ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(path, folder / source)
        self.workdir_in_image = image.workdir
        return folder

    def _local(self, value: str, argument: bool = False) -> str:
        """A container path or address (or, as an argument, port) as seen outside."""
        mounts = {**self.writable, **self.read_only, self.workdir_in_image: self.workdir}
        for mount_path in sorted(mounts, key=len, reverse=True):
            if value == mount_path or value.startswith(mount_path + "/"):
                return str(mounts[mount_path]) + value[len(mount_path):]
        for in_cluster, local in self.cluster.urls.items():
            if value.startswith(in_cluster):
                return local + value[len(in_cluster):]
        if value.startswith("0.0.0.0:") and int(value.split(":")[1]) in self.ports:
            return f"127.0.0.1:{self.ports[int(value.split(':')[1])]}"
        if argument and value.isdigit() and int(value) in self.ports:
            return str(self.ports[int(value)])
        return value

    def _environment(self, image: Image, declared: dict[str, str]) -> dict[str, str]:
        environment = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8",
                       **image.environment, **declared}
        environment = {k: self._local(v) for k, v in environment.items()}
        environment["PYTHONPATH"] = str(REPO)
        if "/tmp" in self.writable:
            environment["TMPDIR"] = str(self.writable["/tmp"])
        return environment

    def _localize_command(self, argv: list[str]) -> list[str]:
        programs = {"peakshop": [sys.executable, "-m", "peakshop.cli"],
                    "python": [sys.executable], "locust": [sys.executable, "-m", "locust"]}
        return [*programs.get(argv[0], [argv[0]]), *argv[1:]]

    def port(self, container_port: int) -> int:
        return self.ports[container_port]

    def sandboxed(self, argv: list[str]) -> list[str]:
        if not SANDBOXED:
            return argv
        folders = [str(f) for f in self.writable.values()]
        return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", SANDBOX,
                "sandbox", str(len(folders)), *folders, *argv]

    def start(self) -> subprocess.Popen:
        # The child keeps its own copy of the file descriptor.
        with open(self.root / f"{self.spec['name']}.log", "wb") as log:
            return subprocess.Popen(self.sandboxed(self.argv), cwd=self.workdir,
                                    env=self.environment, stdout=log, stderr=subprocess.STDOUT)

    def run(self, argv: list[str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(self.sandboxed(argv or self.argv), cwd=self.workdir,
                              env=self.environment, capture_output=True, text=True,
                              timeout=DEADLINE_S)

    def exec_probe(self, probe: str) -> int:
        """Exit status of the container's exec probe, run inside the same container view."""
        command = self._localize_command([self._local(w, argument=True)
                                          for w in self.spec[probe]["exec"]["command"]])
        return self.run(command).returncode

    def log(self) -> str:
        path = self.root / f"{self.spec['name']}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def wait_until(condition, what: str, process: subprocess.Popen | None = None,
               pod: Pod | None = None):
    """Poll `condition` until it is truthy; fail if the process dies or the deadline passes."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            pytest.fail(f"{what}: the process exited with {process.returncode}:\n"
                        f"{pod.log() if pod else ''}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {DEADLINE_S} s:\n"
                        f"{pod.log() if pod else ''}")
        time.sleep(0.2)


def stop(process: subprocess.Popen, pod: Pod) -> int:
    """SIGTERM, as the kubelet sends it, and the exit status within the pod's grace period."""
    process.send_signal(signal.SIGTERM)
    grace = pod.template.get("terminationGracePeriodSeconds", 30)
    try:
        return process.wait(timeout=grace + 30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"{pod.name} ignored SIGTERM for {grace + 30} s:\n{pod.log()}")


def answers(url: str) -> int | None:
    try:
        return requests.get(url, timeout=5).status_code
    except requests.RequestException:
        return None


@pytest.fixture(scope="module")
def image() -> Image:
    return Image.from_dockerfile()


@pytest.fixture(scope="module")
def redis_with_password(tmp_path_factory):
    """A real redis-server that, like the manifests' Redis, requires a password."""
    password = secrets.token_hex(16)
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen([redis_server_binary(), "--port", str(port), "--bind",
                                "127.0.0.1", "--requirepass", password, "--dir", str(folder),
                                "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    yield port, password
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(postgres_server, redis_with_password) -> Cluster:
    """Secrets with fresh values and the Services' addresses on loopback."""
    import psycopg

    role, password = f"peakshop_{uuid.uuid4().hex[:8]}", secrets.token_hex(16)
    database = f"{role}_db"
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{postgres_server.port}/postgres",
                         autocommit=True) as connection:
        connection.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        connection.execute(f'CREATE DATABASE "{database}" OWNER {role}')
    redis_port, redis_password = redis_with_password
    return Cluster(
        secret_values={("peakshop-app", "secret-key"): secrets.token_hex(32),
                       ("peakshop-app", "redis-password"): redis_password,
                       ("peakshop-db-app", "username"): role,
                       ("peakshop-db-app", "password"): password,
                       ("peakshop-stripe", "api-key"): "sk_test_container_commands",
                       ("peakshop-stripe", "webhook-secret"): "whsec_container_commands"},
        config_overrides={"PEAKSHOP_DATABASE_HOST": "127.0.0.1",
                          "PEAKSHOP_DATABASE_PORT": str(postgres_server.port),
                          "PEAKSHOP_DATABASE_NAME": database,
                          "PEAKSHOP_REDIS_HOST": "127.0.0.1",
                          "PEAKSHOP_REDIS_PORT": str(redis_port)})


@pytest.fixture(scope="module")
def manifests() -> dict[str, list[dict]]:
    return {name: render(OVERLAYS[name]) for name in ("dev", "prod")}


@pytest.fixture(scope="module")
def migrated(manifests, cluster, image, tmp_path_factory) -> None:
    """The storefront's init container has run: the schema is at head."""
    pod = Pod(manifests["dev"], "Deployment", "peakshop-web", "migrate", cluster,
              tmp_path_factory.mktemp("migrate"), image, init=True)
    completed = pod.run()
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.fixture(scope="module")
def storefront(manifests, cluster, image, migrated, tmp_path_factory):
    """`peakshop serve` of the dev overlay, ready; its address is peakshop-web for others."""
    pod = Pod(manifests["dev"], "Deployment", "peakshop-web", "web", cluster,
              tmp_path_factory.mktemp("web"), image)
    process = pod.start()
    url = f"http://127.0.0.1:{pod.port(8000)}"
    wait_until(lambda: answers(url + "/readyz") == 200, "/readyz 200", process, pod)
    cluster.urls["http://peakshop-web"] = url
    yield pod, process, url
    if process.poll() is None:
        stop(process, pod)


@pytest.fixture(scope="module")
def worker(manifests, cluster, image, migrated, tmp_path_factory):
    pod = Pod(manifests["dev"], "Deployment", "peakshop-worker", "worker", cluster,
              tmp_path_factory.mktemp("worker"), image)
    process = pod.start()
    wait_until(lambda: pod.exec_probe("startupProbe") == 0, "worker startup probe",
               process, pod)
    yield pod, process
    if process.poll() is None:
        stop(process, pod)


@pytest.mark.skipif(not SANDBOXED, reason="needs `unshare --mount` (root) for a read-only view")
def test_only_the_empty_dirs_are_writable(manifests, cluster, image, tmp_path):
    """Inside a container's view, the image and the checkout are read-only, emptyDirs not."""
    pod = Pod(manifests["dev"], "Deployment", "peakshop-web", "web", cluster, tmp_path, image)
    script = ("import os, sys\n"
              "for path in sys.argv[1:]:\n"
              "    try:\n"
              "        open(os.path.join(path, 'probe-write'), 'w').close(); print('ok', path)\n"
              "    except OSError as error:\n"
              "        print('refused', path, error.errno)\n")
    instance = pod.environment["PEAKSHOP_INSTANCE_PATH"]
    completed = pod.run([sys.executable, "-c", script, str(pod.workdir), str(REPO), instance,
                         pod.environment["TMPDIR"]])
    lines = completed.stdout.splitlines()
    assert f"refused {pod.workdir} 30" in lines  # 30 = EROFS
    assert f"refused {REPO} 30" in lines
    assert f"ok {instance}" in lines and f"ok {pod.environment['TMPDIR']}" in lines


def test_storefront_is_ready_healthy_and_measured(storefront):
    pod, process, url = storefront
    assert answers(url + "/healthz") == 200
    metrics = requests.get(url + "/metrics", timeout=10)
    assert metrics.status_code == 200 and "# TYPE" in metrics.text
    # gunicorn's workers share their samples through the metrics emptyDir.
    assert any(Path(pod.environment["PROMETHEUS_MULTIPROC_DIR"]).iterdir())
    assert pod.argv[-1] == "serve"


def test_shopper_journey_through_storefront_and_worker(storefront, worker):
    """An order placed on the storefront is confirmed by the worker, via Redis and PostgreSQL."""
    _, _, url = storefront
    result = shopper_journey(url, confirm_deadline_s=DEADLINE_S)
    assert result.statuses[-1] == "confirmed"
    assert result.total == {"amount": 3998, "currency": "EUR"}


def test_worker_probes_pass_while_it_runs(worker):
    pod, process = worker
    assert process.poll() is None
    assert pod.exec_probe("livenessProbe") == 0
    assert pod.exec_probe("readinessProbe") == 0


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_serve_and_worker_stop_cleanly_on_sigterm(manifests, cluster, image, migrated, tmp_path,
                                                  overlay):
    """SIGTERM (a rollout, a scale-down) ends both with status 0; the probe then fails."""
    web = Pod(manifests[overlay], "Deployment", "peakshop-web", "web", cluster, tmp_path, image)
    worker = Pod(manifests[overlay], "Deployment", "peakshop-worker", "worker", cluster,
                 tmp_path, image)
    web_process, worker_process = web.start(), worker.start()
    try:
        url = f"http://127.0.0.1:{web.port(8000)}"
        wait_until(lambda: answers(url + "/readyz") == 200, "/readyz 200", web_process, web)
        wait_until(lambda: worker.exec_probe("startupProbe") == 0, "worker heartbeat",
                   worker_process, worker)
    finally:
        web_status = stop(web_process, web) if web_process.poll() is None else web_process.poll()
        worker_status = (stop(worker_process, worker) if worker_process.poll() is None
                         else worker_process.poll())
    assert web_status == 0, web.log()
    assert worker_status == 0, worker.log()
    assert worker.exec_probe("livenessProbe") != 0, "a stopped worker must not look alive"


def test_scaler_dry_run_stays_within_its_role(manifests, cluster, image, storefront, tmp_path):
    """The scaler of the dev overlay, in --dry-run, against a Kubernetes API stand-in: it
    takes the Lease, decides, serves its probes, changes no Deployment, and every request it
    makes is allowed by the Role it is bound to."""
    from tests.scaler.live_fixtures import KubernetesStandIn, deployment

    objects = manifests["dev"]
    api = KubernetesStandIn().start()
    try:
        for name in ("peakshop-web", "peakshop-worker"):
            api.put_object("deployments.v1.apps", cluster.namespace, name,
                           deployment(name, cluster.namespace, replicas=1, ready=1))
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: stand-in\n"
            f"clusters: [{{name: stand-in, cluster: {{server: '{api.url}'}}}}]\n"
            "users: [{name: scaler, user: {}}]\n"
            "contexts: [{name: stand-in, context: {cluster: stand-in, user: scaler}}]\n")
        pod = Pod(objects, "Deployment", "peakshop-scaler", "scaler", cluster, tmp_path, image)
        # Outside a pod there is no service-account token: the same API, through a kubeconfig.
        pod.argv += ["--dry-run", "--period", "1", "--kubeconfig", str(kubeconfig)]
        process = pod.start()
        metrics_url = f"http://127.0.0.1:{pod.port(9102)}"
        try:
            spec = pod.spec
            wait_until(lambda: "peakshop_scaler_decisions_total{" in (
                requests.get(metrics_url + "/metrics", timeout=5).text
                if answers(metrics_url + "/metrics") == 200 else ""),
                "a scaling decision", process, pod)
            for probe in ("livenessProbe", "readinessProbe"):
                assert answers(metrics_url + spec[probe]["httpGet"]["path"]) == 200
            lease = api.get_object("leases.v1.coordination.k8s.io", cluster.namespace,
                                   "peakshop-scaler")
            assert lease["spec"]["holderIdentity"].startswith(pod.name)
        finally:
            status = stop(process, pod)
        assert status == 0, pod.log()
        for name in ("peakshop-web", "peakshop-worker"):
            stored = api.get_object("deployments.v1.apps", cluster.namespace, name)
            assert stored["spec"]["replicas"] == 1  # --dry-run changes nothing
        rules = find(objects, "Role", "peakshop-scaler")["rules"]
        made = [api_request(getattr(r.method, "value", str(r.method)).upper(), str(r.url))
                for r in api.call(lambda: list(api.handler))]
        assert made, "the scaler made no API request"
        assert [r for r in made if not allowed(rules, r)] == []
        assert {r.namespace for r in made} == {cluster.namespace}
    finally:
        api.stop()


def test_distributed_locust_from_the_loadtest_overlay(cluster, image, storefront, tmp_path):
    """The Locust master of the loadtest component serves its UI (the probes' path) with the
    generated trace mounted, and a worker started from the same manifests joins it."""
    objects = render(OVERLAYS["loadtest"])
    master = Pod(objects, "Deployment", "peakshop-locust-master", "locust", cluster, tmp_path,
                 image)
    assert Path(master.environment["LOCUST_TRACE"]).is_file()
    master_process = master.start()
    worker_process = None
    ui = f"http://127.0.0.1:{master.port(8089)}"
    try:
        wait_until(lambda: answers(ui + master.spec["readinessProbe"]["httpGet"]["path"]) == 200,
                   "the Locust web UI", master_process, master)
        worker = Pod(objects, "Deployment", "peakshop-locust-worker", "locust", cluster,
                     tmp_path, image)
        # The master's Service and port, as this test's loopback sees them.
        addresses = {"peakshop-locust-master": "127.0.0.1", "5557": str(master.port(5557))}
        worker.argv = [addresses.get(word, word) for word in worker.argv]
        worker_process = worker.start()
        wait_until(lambda: requests.get(ui + "/stats/requests", timeout=5).json().get(
            "worker_count", 0) >= 1, "the worker joining the master", worker_process, worker)
    finally:
        for process, pod in ((worker_process, locals().get("worker")),
                             (master_process, master)):
            if process is not None and process.poll() is None:
                stop(process, pod)

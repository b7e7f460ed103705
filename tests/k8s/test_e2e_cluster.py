"""The dev overlay on a real cluster: deploy it, then a shopper buys through the storefront.

Runs only when PEAKSHOP_E2E_KUBECONFIG names a kubeconfig (kind, minikube, k3d, a spare
cluster); no cluster runs where CI does, so there it is skipped. Optional:
PEAKSHOP_E2E_IMAGE (`registry/name:tag`, an image the cluster can pull or has loaded, e.g.
with `kind load docker-image`), PEAKSHOP_E2E_KEEP=1 to leave the namespace for inspection.

It applies the overlay with kubectl, creates the two Secrets of the README's three commands,
waits for every rollout, forwards a local port to the storefront Service, and walks the
shopper's journey (merchant, product, cart, checkout) until the order is confirmed, which
needs the storefront, the worker, PostgreSQL and Redis of the overlay to work together.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import time
from pathlib import Path

import pytest
from journey import shopper_journey
from k8s_manifests import OVERLAYS, kubectl

KUBECONFIG = os.environ.get("PEAKSHOP_E2E_KUBECONFIG")
NAMESPACE = "peakshop-dev"
ROLLOUTS = ["statefulset/peakshop-db", "deployment/peakshop-redis", "deployment/peakshop-web",
            "deployment/peakshop-worker", "deployment/peakshop-scaler"]

pytestmark = pytest.mark.skipif(
    not KUBECONFIG, reason="PEAKSHOP_E2E_KUBECONFIG is not set: no Kubernetes cluster to "
                           "deploy the dev overlay to")


def run_kubectl(*args: str, stdin: str | None = None, timeout: float = 120) -> str:
    completed = subprocess.run([kubectl(), "--kubeconfig", KUBECONFIG, *args], input=stdin,
                               capture_output=True, text=True, timeout=timeout)
    assert completed.returncode == 0, (f"kubectl {' '.join(args)} failed:\n"
                                       f"{completed.stdout}\n{completed.stderr}")
    return completed.stdout


def overlay_to_apply(folder: Path) -> Path:
    """The dev overlay, with PEAKSHOP_E2E_IMAGE swapped in when given."""
    image = os.environ.get("PEAKSHOP_E2E_IMAGE")
    if not image:
        return OVERLAYS["dev"]
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        pytest.fail(f"PEAKSHOP_E2E_IMAGE must be registry/name:tag, got {image!r}")
    # kustomize takes only relative paths to a base.
    base = os.path.relpath(OVERLAYS["dev"], folder)
    (folder / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: ['{base}']\n"
        "images:\n"
        f"- {{name: ghcr.io/peakshop/peakshop, newName: '{name}', newTag: '{tag}'}}\n"
        # The scaler's image is the same build's `scaler` target, pushed beside it.
        f"- {{name: ghcr.io/peakshop/peakshop-scaler, newName: '{name}-scaler', "
        f"newTag: '{tag}'}}\n")
    return folder


def create_secret(name: str, *literals: str, kind: str | None = None) -> None:
    """Create or update a Secret (idempotent, like the README's commands on a fresh cluster)."""
    extra = [f"--type={kind}"] if kind else []
    manifest = run_kubectl("-n", NAMESPACE, "create", "secret", "generic", name, *extra,
                           *[f"--from-literal={item}" for item in literals],
                           "--dry-run=client", "-o", "yaml")
    run_kubectl("apply", "-f", "-", stdin=manifest)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    run_kubectl("apply", "-k", str(overlay_to_apply(tmp_path_factory.mktemp("overlay"))),
                timeout=300)
    create_secret("peakshop-app", f"secret-key={secrets.token_hex(32)}",
                  f"redis-password={secrets.token_hex(16)}")
    create_secret("peakshop-db-app", "username=peakshop", f"password={secrets.token_hex(16)}",
                  kind="kubernetes.io/basic-auth")
    for rollout in ROLLOUTS:
        run_kubectl("-n", NAMESPACE, "rollout", "status", rollout, "--timeout=600s",
                    timeout=660)
    yield
    if os.environ.get("PEAKSHOP_E2E_KEEP") != "1":
        run_kubectl("delete", "namespace", NAMESPACE, "--wait=false")


@pytest.fixture
def storefront_url(deployed):
    """A local port forwarded to the storefront Service, for as long as the test runs."""
    port = free_port()
    forward = subprocess.Popen([kubectl(), "--kubeconfig", KUBECONFIG, "-n", NAMESPACE,
                                "port-forward", "svc/peakshop-web", f"{port}:80"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not re.search(r"Forwarding from 127\.0\.0\.1", forward.stdout.readline()):
            if forward.poll() is not None or time.monotonic() > deadline:
                pytest.fail("kubectl port-forward to svc/peakshop-web did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        forward.terminate()
        forward.wait(timeout=30)


def test_shopper_buys_on_the_dev_overlay(storefront_url):
    result = shopper_journey(storefront_url, confirm_deadline_s=180)
    assert result.statuses[-1] == "confirmed"
    assert result.total == {"amount": 3998, "currency": "EUR"}


def test_every_pod_is_ready_and_none_restarted(deployed):
    """Probes that pass on a healthy install: ready, and never killed by a liveness probe."""
    pods = run_kubectl("-n", NAMESPACE, "get", "pods", "-o",
                       "jsonpath={range .items[*]}{.metadata.name} "
                       "{.status.containerStatuses[*].ready} "
                       "{.status.containerStatuses[*].restartCount}{'\\n'}{end}")
    for line in filter(None, pods.splitlines()):
        name, ready, restarts = line.split(" ", 2)
        assert "false" not in ready.split(), f"{name} is not ready"
        assert set(restarts.split()) <= {"0"}, f"{name} restarted: {restarts}"

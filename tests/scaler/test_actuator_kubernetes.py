"""The Kubernetes actuator through the official `kubernetes` client, over real HTTP.

No API server can run on this machine, so kmock's KubernetesEmulator (an in-memory,
aiohttp-based Kubernetes API on loopback) stands in for it. What it does not do, and how the
tests cope: it has no Deployment controller (the tests write `status.readyReplicas` the way
the controller would), it serves the `scale` subresource as the whole Deployment rather than
an autoscaling/v1 Scale (the client reads the same `spec.replicas` from it), and it neither
assigns nor checks `resourceVersion` (so the Lease's optimistic-concurrency precondition is
sent but not enforced here). It serves a pod's `resize` subresource as a merge patch of the
whole pod, with no kubelet behind it (what the pod asks for changes, no cgroup does), and it
ignores `labelSelector` on lists (the tests check the selector was sent; the actuator also
filters by label itself).
"""

from __future__ import annotations

import pytest
from kubernetes import client

from scaler.actuators import ActuatorError
from scaler.actuators.kubernetes import KubernetesActuator
from scaler.actuators.lease import LeaseElector
from scaler.model import Decision, Reason
from tests.scaler import live_fixtures
from tests.scaler.live_fixtures import deployment, kubernetes_client

# The real servers these tests run against, as this module's fixtures.
kubernetes_api = live_fixtures.kubernetes_api

NAMESPACE = "shop"
DEPLOYMENTS = "apps/v1/deployments"
LEASES = "coordination.k8s.io/v1/leases"


@pytest.fixture
def cluster(kubernetes_api):
    kubernetes_api.put_object(DEPLOYMENTS, NAMESPACE, "peakshop-web",
                              deployment("peakshop-web", NAMESPACE, replicas=3, ready=2))
    kubernetes_api.put_object(DEPLOYMENTS, NAMESPACE, "peakshop-worker",
                              deployment("peakshop-worker", NAMESPACE, replicas=2, ready=2))
    return kubernetes_api


@pytest.fixture
def actuator(cluster):
    api = kubernetes_client(cluster.url)
    yield KubernetesActuator(api, NAMESPACE, "peakshop-web", "peakshop-worker",
                             identity="scaler-test")
    api.close()


def test_reads_requested_from_scale_and_ready_from_status(actuator, cluster):
    counts = actuator.replicas()
    assert (counts.web_requested, counts.web_ready) == (3, 2)
    assert (counts.workers_requested, counts.workers_ready) == (2, 2)

    # The Deployment controller brings the third pod up.
    cluster.patch_object(DEPLOYMENTS, NAMESPACE, "peakshop-web", {"status": {"readyReplicas": 3}})
    assert actuator.replicas().web_ready == 3


def test_scale_patches_the_scale_subresource_and_emits_an_event(actuator, cluster):
    actuator.scale("web", 7, Decision(7, Reason.REQUEST_RATE), current=3)

    assert cluster.get_object(DEPLOYMENTS, NAMESPACE, "peakshop-web")["spec"]["replicas"] == 7
    assert actuator.requested("web") == 7
    patches = cluster.call(lambda: list(cluster.handler["patch"]))
    assert [(r.name, r.subresource, r.data) for r in patches] == [
        ("peakshop-web", "scale", {"spec": {"replicas": 7}})]

    (event,) = cluster.objects_of("v1/events")
    assert event["involvedObject"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                       "name": "peakshop-web", "namespace": NAMESPACE}
    assert event["reason"] == "SuccessfulRescale"
    assert event["type"] == "Normal"
    assert event["message"] == "New size: 7; reason: request_rate (was 3, Deployment peakshop-web)"
    assert event["source"] == {"component": "peakshop-scaler"}


def test_each_change_gets_its_own_event(actuator, cluster):
    actuator.scale("workers", 5, Decision(5, Reason.QUEUE_AGE), current=2)
    actuator.scale("workers", 3, Decision(3, Reason.QUEUE_BACKLOG), current=5)
    messages = sorted(event["message"] for event in cluster.objects_of("v1/events"))
    assert messages == [
        "New size: 3; reason: queue_backlog (was 5, Deployment peakshop-worker)",
        "New size: 5; reason: queue_age (was 2, Deployment peakshop-worker)",
    ]


def test_missing_deployment_is_an_actuator_error_that_says_what_to_check(cluster):
    api = kubernetes_client(cluster.url)
    actuator = KubernetesActuator(api, NAMESPACE, "no-such-web", "peakshop-worker")
    with pytest.raises(ActuatorError, match="shop/no-such-web: 404.*--namespace"):
        actuator.replicas()
    api.close()


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def elector(cluster, identity: str, clock: ManualClock, duration_s: int = 15) -> LeaseElector:
    return LeaseElector(client.CoordinationV1Api(kubernetes_client(cluster.url)), NAMESPACE,
                        "peakshop-scaler", identity, duration_s, clock=clock)


def test_first_candidate_creates_and_renews_the_lease(cluster):
    clock = ManualClock()
    first = elector(cluster, "scaler-a", clock)
    assert first.try_acquire_or_renew()
    lease = cluster.get_object(LEASES, NAMESPACE, "peakshop-scaler")
    assert lease["spec"]["holderIdentity"] == "scaler-a"
    assert lease["spec"]["leaseDurationSeconds"] == 15
    created_renew = lease["spec"]["renewTime"]

    clock.now += 5
    assert first.try_acquire_or_renew()
    renewed = cluster.get_object(LEASES, NAMESPACE, "peakshop-scaler")["spec"]
    assert renewed["holderIdentity"] == "scaler-a"
    assert renewed["renewTime"] != created_renew


def test_second_candidate_waits_until_the_holder_stops_renewing(cluster):
    clock_a, clock_b = ManualClock(), ManualClock()
    first, second = elector(cluster, "scaler-a", clock_a), elector(cluster, "scaler-b", clock_b)
    assert first.try_acquire_or_renew()

    assert not second.try_acquire_or_renew()
    clock_b.now += 10
    assert not second.try_acquire_or_renew()  # 10 s < 15 s: still the holder's

    first.try_acquire_or_renew()  # the holder renews...
    clock_b.now += 10
    assert not second.try_acquire_or_renew()  # ...so the wait starts again from here
    assert cluster.get_object(LEASES, NAMESPACE, "peakshop-scaler")["spec"][
        "holderIdentity"] == "scaler-a"

    clock_b.now += 16  # no renewal for longer than the lease duration
    assert second.try_acquire_or_renew()
    lease = cluster.get_object(LEASES, NAMESPACE, "peakshop-scaler")["spec"]
    assert lease["holderIdentity"] == "scaler-b"
    assert lease["leaseTransitions"] == 1

    # The old holder notices on its next round and stands by.
    assert not first.try_acquire_or_renew()


def test_released_lease_is_taken_at_once(cluster):
    first, second = elector(cluster, "scaler-a", ManualClock()), elector(
        cluster, "scaler-b", ManualClock())
    assert first.try_acquire_or_renew()
    assert not second.try_acquire_or_renew()
    first.release()
    assert second.try_acquire_or_renew()


def test_actuator_leads_only_with_the_lease(cluster):
    api = kubernetes_client(cluster.url)
    clock = ManualClock()
    holder = elector(cluster, "scaler-a", clock)
    standby = KubernetesActuator(api, NAMESPACE, "peakshop-web", "peakshop-worker",
                                 elector(cluster, "scaler-b", clock))
    assert holder.try_acquire_or_renew()
    assert not standby.is_leader()
    holder.release()
    assert standby.is_leader()
    standby.close()
    assert cluster.get_object(LEASES, NAMESPACE, "peakshop-scaler")["spec"].get(
        "holderIdentity") is None


# --- in-place resize (pods/resize, Kubernetes >= 1.33) ------------------------------------

PODS = "v1/pods"


def web_pod(name: str, cpu_request: str = "250m", cpu_limit: str = "1",
            labels: dict | None = None, deleting: bool = False) -> dict:
    """A running web pod as the API server holds it (the fields the resize reads)."""
    metadata = {"name": name, "namespace": NAMESPACE, "uid": f"uid-{name}",
                "labels": labels if labels is not None else {"app": "peakshop-web"}}
    if deleting:
        metadata["deletionTimestamp"] = "2026-12-05T01:00:00Z"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": {"containers": [{"name": "peakshop-web", "image": "peakshop:1",
                                     "resources": {"requests": {"cpu": cpu_request},
                                                   "limits": {"cpu": cpu_limit}}}]},
            "status": {"phase": "Running"}}


@pytest.fixture
def resizable(cluster):
    """The web Deployment's template asks for 250m and is limited to one core; two web pods
    run, and one pod of another app shares the namespace."""
    cluster.patch_object(DEPLOYMENTS, NAMESPACE, "peakshop-web", {"spec": {"template": {"spec": {
        "containers": [{"name": "peakshop-web", "image": "peakshop:1",
                        "resources": {"requests": {"cpu": "250m"},
                                      "limits": {"cpu": "1"}}}]}}}})
    for name in ("peakshop-web-a", "peakshop-web-b"):
        cluster.put_object(PODS, NAMESPACE, name, web_pod(name))
    cluster.put_object(PODS, NAMESPACE, "other-app", web_pod("other-app",
                                                             labels={"app": "other"}))
    return cluster


def resize_patches(cluster) -> list[tuple[str, str, dict]]:
    return [(r.name, r.subresource, r.data)
            for r in cluster.call(lambda: list(cluster.handler["patch"]))]


def test_resize_patches_each_web_pods_resize_subresource_with_the_templates_cpu_times_size(
        resizable):
    api = kubernetes_client(resizable.url)
    actuator = KubernetesActuator(api, NAMESPACE, "peakshop-web", "peakshop-worker",
                                  max_pod_size=2.0)
    try:
        assert actuator.resize("web", 1.5) == ["peakshop-web-a", "peakshop-web-b"]
        body = {"spec": {"containers": [{"name": "peakshop-web", "resources": {
            "requests": {"cpu": "375m"}, "limits": {"cpu": "1500m"}}}]}}
        assert resize_patches(resizable) == [("peakshop-web-a", "resize", body),
                                             ("peakshop-web-b", "resize", body)]
        # The pods now ask for what was sent (kmock applies the patch to the stored pod).
        pod = resizable.get_object(PODS, NAMESPACE, "peakshop-web-a")
        assert pod["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "1500m"}
        assert resizable.get_object(PODS, NAMESPACE, "other-app")["spec"]["containers"][0][
            "resources"]["limits"] == {"cpu": "1"}

        assert actuator.resize("web", 1.5) == []       # already that size: nothing sent
        assert len(resize_patches(resizable)) == 2
        lists = resizable.call(lambda: [r.params for r in resizable.handler["list"]])
        assert lists and all(params.get("labelSelector") == "app=peakshop-web"
                             for params in lists)
    finally:
        api.close()


@pytest.mark.parametrize(("asked", "limit"), [
    (5.0, "2000m"),      # bounded by --max-pod-size (2x the template)
    (0.5, "1000m"),      # never below the template
    (1.0, "1000m"),
])
def test_resize_is_bounded_by_the_template_and_the_max_pod_size(resizable, asked, limit):
    resizable.patch_object(PODS, NAMESPACE, "peakshop-web-b", {"spec": {"containers": [
        {"name": "peakshop-web", "image": "peakshop:1",
         "resources": {"requests": {"cpu": "300m"}, "limits": {"cpu": "1200m"}}}]}})
    api = kubernetes_client(resizable.url)
    actuator = KubernetesActuator(api, NAMESPACE, "peakshop-web", "peakshop-worker",
                                  max_pod_size=2.0)
    try:
        actuator.resize("web", asked)
        for name in ("peakshop-web-a", "peakshop-web-b"):
            pod = resizable.get_object(PODS, NAMESPACE, name)
            assert pod["spec"]["containers"][0]["resources"]["limits"]["cpu"] in (limit, "1")
        resized_b = resizable.get_object(PODS, NAMESPACE, "peakshop-web-b")
        assert resized_b["spec"]["containers"][0]["resources"]["limits"]["cpu"] == limit
    finally:
        api.close()


def test_a_leaving_pod_is_not_resized(resizable):
    resizable.put_object(PODS, NAMESPACE, "peakshop-web-a",
                         web_pod("peakshop-web-a", deleting=True))
    api = kubernetes_client(resizable.url)
    actuator = KubernetesActuator(api, NAMESPACE, "peakshop-web", "peakshop-worker",
                                  max_pod_size=2.0)
    try:
        assert actuator.resize("web", 2.0) == ["peakshop-web-b"]
    finally:
        api.close()


def test_a_template_without_cpu_cannot_be_resized_and_says_what_to_set(cluster):
    api = kubernetes_client(cluster.url)
    actuator = KubernetesActuator(api, NAMESPACE, "peakshop-web", "peakshop-worker",
                                  max_pod_size=2.0)
    try:
        with pytest.raises(ActuatorError, match="no CPU request or limit.*limits.cpu"):
            actuator.resize("web", 2.0)
    finally:
        api.close()

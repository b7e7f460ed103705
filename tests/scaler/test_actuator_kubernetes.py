"""The Kubernetes actuator through the official `kubernetes` client, over real HTTP.

No API server can run on this machine, so kmock's KubernetesEmulator (an in-memory,
aiohttp-based Kubernetes API on loopback) stands in for it. What it does not do, and how the
tests cope: it has no Deployment controller (the tests write `status.readyReplicas` the way
the controller would), it serves the `scale` subresource as the whole Deployment rather than
an autoscaling/v1 Scale (the client reads the same `spec.replicas` from it), and it neither
assigns nor checks `resourceVersion` (so the Lease's optimistic-concurrency precondition is
sent but not enforced here).
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

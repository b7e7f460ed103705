"""Kubernetes: replicas through the `deployments/scale` subresource, an Event for each change,
and in-pod capacity through the pods' `resize` subresource.

Only subresources are written: `deployments/scale` (the same narrow permission an HPA
needs) and `pods/resize` (in-place resize, Kubernetes >= 1.33), so the scaler's Role can
alter neither a pod template nor a pod's image. Ready replicas come from the Deployment's
status.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import time
from pathlib import Path

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity

from scaler.actuators import ActuatorError, ReplicaCounts
from scaler.actuators.lease import LeaseElector
from scaler.model import Decision

log = logging.getLogger("peakshop.scaler.kubernetes")

COMPONENT = "peakshop-scaler"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def api_client(kubeconfig: str | None = None, context: str | None = None) -> client.ApiClient:
    """An API client from in-cluster config, or from `kubeconfig` (or ~/.kube/config)."""
    configuration = client.Configuration()
    if kubeconfig is None:
        try:
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
        except config.ConfigException:
            pass  # not in a pod: fall back to the user's kubeconfig
    try:
        config.load_kube_config(config_file=kubeconfig, context=context,
                                client_configuration=configuration)
    except (config.ConfigException, OSError) as error:
        raise ActuatorError(f"no Kubernetes credentials: not in a pod and kubeconfig "
                            f"{kubeconfig or '~/.kube/config'} unusable ({error}); "
                            "pass --kubeconfig PATH") from None
    return client.ApiClient(configuration)


def current_namespace(default: str = "default") -> str:
    """The pod's own namespace when in a cluster, else `default`."""
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or default
    except OSError:
        return default


def default_identity() -> str:
    """A name for this scaler replica: the pod name (hostname) plus the process id."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{os.getpid()}"


def rescale_message(deployment: str, current: int, replicas: int, decision: Decision) -> str:
    """The Event message, in the words `kubectl describe hpa` users know."""
    return (f"New size: {replicas}; reason: {decision.reason.value} "
            f"(was {current}, Deployment {deployment})")


class KubernetesActuator:
    """Scales the web and worker Deployments of one namespace."""

    def __init__(self, api: client.ApiClient, namespace: str, web_deployment: str,
                 worker_deployment: str, elector: LeaseElector | None = None,
                 identity: str | None = None, max_pod_size: float = 1.0) -> None:
        self.api = api
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)
        self.namespace = namespace
        self.deployments = {"web": web_deployment, "workers": worker_deployment}
        self.elector = elector
        self.identity = identity or default_identity()
        self.max_pod_size = max_pod_size   # the largest in-place size, x the template

    def replicas(self) -> ReplicaCounts:
        """Ready replicas from each Deployment's status, requested from its scale."""
        web_ready, web_requested = self._counts(self.deployments["web"])
        workers_ready, workers_requested = self._counts(self.deployments["workers"])
        return ReplicaCounts(web_ready=web_ready, web_requested=web_requested,
                             workers_ready=workers_ready, workers_requested=workers_requested)

    def requested(self, deployment: str) -> int:
        """`spec.replicas` of the Deployment, read through the scale subresource."""
        name = self.deployments[deployment]
        try:
            scale = self.apps.read_namespaced_deployment_scale(name, self.namespace)
        except (ApiException, urllib3.exceptions.HTTPError) as error:
            raise self._error("read the scale of", name, error) from None
        return scale.spec.replicas or 0

    def _counts(self, name: str) -> tuple[int, int]:
        try:
            scale = self.apps.read_namespaced_deployment_scale(name, self.namespace)
            deployment = self.apps.read_namespaced_deployment_status(name, self.namespace)
        except (ApiException, urllib3.exceptions.HTTPError) as error:
            raise self._error("read", name, error) from None
        ready = (deployment.status.ready_replicas or 0) if deployment.status else 0
        return ready, scale.spec.replicas or 0

    def scale(self, deployment: str, replicas: int, decision: Decision, current: int) -> None:
        """Patch `spec.replicas` through the scale subresource and emit an Event."""
        name = self.deployments[deployment]
        try:
            self.apps.patch_namespaced_deployment_scale(
                name, self.namespace, {"spec": {"replicas": replicas}})
        except (ApiException, urllib3.exceptions.HTTPError) as error:
            raise self._error("scale", name, error) from None
        self.emit_event(name, rescale_message(name, current, replicas, decision))

    def resize(self, deployment: str, size: float) -> list[str]:
        """Give each running pod of `deployment` `size` times its template's CPU (requests
        and limits), in place through the pods' `resize` subresource; `size` is bounded to
        1 (the template) .. `max_pod_size`. The pods whose CPU was changed, by name."""
        name = self.deployments[deployment]
        size = min(max(size, 1.0), self.max_pod_size)
        try:
            template = self.apps.read_namespaced_deployment(name, self.namespace)
        except (ApiException, urllib3.exceptions.HTTPError) as error:
            raise self._error("read", name, error) from None
        container = template.spec.template.spec.containers[0]
        wanted = resized_cpu(container.resources, size)
        if not wanted:
            raise ActuatorError(f"cannot resize Deployment {self.namespace}/{name}: its "
                                f"container {container.name!r} has no CPU request or limit "
                                "to grow from (set resources.limits.cpu in its template)")
        labels = template.spec.selector.match_labels or {}
        selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
        try:
            pods = self.core.list_namespaced_pod(self.namespace, label_selector=selector).items
        except (ApiException, urllib3.exceptions.HTTPError) as error:
            raise self._pod_error("list the pods of", name, error) from None
        body = {"spec": {"containers": [{"name": container.name, "resources": wanted}]}}
        resized = []
        for pod in pods:
            if (pod.metadata.deletion_timestamp is not None
                    # (the API server selects by label already; checked again, it is cheap)
                    or any((pod.metadata.labels or {}).get(key) != value
                           for key, value in labels.items())
                    or pod_cpu(pod, container.name) == {kind: wanted[kind]["cpu"]
                                                        for kind in wanted}):
                continue   # leaving, or already this size
            try:
                self.core.patch_namespaced_pod_resize(pod.metadata.name, self.namespace, body)
            except (ApiException, urllib3.exceptions.HTTPError) as error:
                if isinstance(error, ApiException) and error.status == 404:
                    continue   # gone since it was listed
                raise self._pod_error("resize", pod.metadata.name, error) from None
            resized.append(pod.metadata.name)
        return resized

    def emit_event(self, deployment_name: str, message: str,
                   reason: str = "SuccessfulRescale") -> None:
        """A core/v1 Event on the Deployment; failing to record never undoes the scaling."""
        now = datetime.datetime.now(datetime.UTC)
        event = client.CoreV1Event(
            metadata=client.V1ObjectMeta(
                # Unique like kubectl's: object name, then a hex timestamp.
                name=f"{deployment_name}.{time.time_ns():x}", namespace=self.namespace),
            involved_object=client.V1ObjectReference(
                api_version="apps/v1", kind="Deployment", name=deployment_name,
                namespace=self.namespace),
            reason=reason, message=message, type="Normal", count=1,
            first_timestamp=now, last_timestamp=now,
            source=client.V1EventSource(component=COMPONENT),
            reporting_component=COMPONENT, reporting_instance=self.identity)
        try:
            self.core.create_namespaced_event(self.namespace, event)
        except (ApiException, urllib3.exceptions.HTTPError) as error:
            log.warning("could not record Event on %s: %s", deployment_name, error)

    def is_leader(self) -> bool:
        """One election round on the Lease (always True without an elector)."""
        return self.elector.try_acquire_or_renew() if self.elector else True

    def close(self) -> None:
        """Release the Lease and the HTTP connections."""
        if self.elector is not None:
            self.elector.release()
        self.api.close()

    def _pod_error(self, verb: str, name: str, error: Exception) -> ActuatorError:
        if isinstance(error, ApiException) and error.status == 403:
            return ActuatorError(f"cannot {verb} {self.namespace}/{name}: 403 {error.reason} "
                                 "(the scaler's ServiceAccount needs list on pods and patch "
                                 "on pods/resize)")
        if isinstance(error, ApiException):
            return ActuatorError(f"cannot {verb} {self.namespace}/{name}: {error.status} "
                                 f"{error.reason} (in-place resize needs Kubernetes >= 1.33)")
        return ActuatorError(f"cannot {verb} {self.namespace}/{name}: API server "
                             f"unreachable ({error})")

    def _error(self, verb: str, name: str, error: Exception) -> ActuatorError:
        if not isinstance(error, ApiException):
            return ActuatorError(f"cannot {verb} Deployment {self.namespace}/{name}: "
                                 f"API server unreachable ({error})")
        hint = ""
        if error.status == 403:
            hint = (" (the scaler's ServiceAccount needs get/patch on deployments/scale "
                    "and get on deployments)")
        elif error.status == 404:
            hint = " (check --namespace and the Deployment name flags)"
        return ActuatorError(f"cannot {verb} Deployment {self.namespace}/{name}: "
                             f"{error.status} {error.reason}{hint}")


def millicores(cores) -> str:
    """A CPU quantity in the API's canonical millicore form, e.g. 1.5 -> "1500m"."""
    return f"{round(float(cores) * 1000)}m"


def cpu_of(resources: client.V1ResourceRequirements | None) -> dict[str, str]:
    """CPU requests and limits in millicores, e.g. {"requests": "250m", "limits": "1000m"};
    pure. A kind without CPU is left out."""
    found = {}
    for kind in ("requests", "limits"):
        cpu = (getattr(resources, kind, None) or {}).get("cpu") if resources else None
        if cpu is not None:
            found[kind] = millicores(parse_quantity(cpu))
    return found


def resized_cpu(resources: client.V1ResourceRequirements | None,
                size: float) -> dict[str, dict[str, str]]:
    """The template's CPU requests and limits, `size` times, as a resize body wants them;
    pure. Empty when the template has neither."""
    return {kind: {"cpu": millicores(parse_quantity(cpu) * parse_quantity(str(size)))}
            for kind, cpu in cpu_of(resources).items()}


def pod_cpu(pod: client.V1Pod, container_name: str) -> dict[str, str]:
    """What a pod's container asks for now (its spec, which a resize changes)."""
    return next((cpu_of(container.resources) for container in pod.spec.containers
                 if container.name == container_name), {})

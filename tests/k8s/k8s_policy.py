"""The house rules every rendered object must follow; each rule yields one-line violations."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from k8s_manifests import Container, containers, object_name, pod_templates

PROBE_HANDLERS = ("httpGet", "exec", "tcpSocket", "grpc")
RBAC_KINDS = ("Role", "ClusterRole")
RBAC_FIELDS = ("verbs", "resources", "apiGroups")
# `$(NAME)` is expanded by the kubelet; `$$(NAME)` is its escape for a literal `$(NAME)`.
ENV_REFERENCE = re.compile(r"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def policy_violations(objects: list[dict[str, Any]]) -> list[str]:
    """Every breach of the rules below in `objects`, one line each (empty when all is well)."""
    violations: list[str] = []
    config_maps = {obj["metadata"]["name"]: obj.get("data") or {}
                   for obj in objects if obj.get("kind") == "ConfigMap"}
    for container in containers(objects):
        violations += image_violations(container.label, container.spec.get("image"))
        violations += resource_violations(container.label, container.spec.get("resources"))
        violations += security_violations(container)
        violations += env_reference_violations(container, config_maps)
        if long_running(container):
            violations += probe_violations(container)
    for template in pod_templates(objects):
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if template.spec.get(field):
                violations.append(f"{object_name(template.owner)}: {field} is true")
    for obj in objects:
        if obj.get("kind") in RBAC_KINDS:
            violations += rbac_violations(obj)
        if obj.get("kind") == "Cluster" and obj.get("apiVersion", "").startswith(
                "postgresql.cnpg.io/"):
            violations += cnpg_cluster_violations(obj)
    return violations


def image_violations(label: str, image: str | None) -> Iterator[str]:
    """An image must be pinned: a digest, or an explicit tag other than `latest`."""
    if not image:
        yield f"{label}: no image"
        return
    if "@sha256:" in image:
        return
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        yield f"{label}: image {image!r} has no tag (pin an explicit version)"
    elif tag == "latest":
        yield f"{label}: image {image!r} uses the `latest` tag (pin an explicit version)"


def resource_violations(label: str, resources: dict[str, Any] | None) -> Iterator[str]:
    """CPU and memory, both requested and limited."""
    resources = resources or {}
    for bound in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if not (resources.get(bound) or {}).get(resource):
                yield f"{label}: no resources.{bound}.{resource}"


def security_violations(container: Container) -> Iterator[str]:
    """Non-root, read-only root, no escalation, no capabilities, the runtime's seccomp."""
    own = container.spec.get("securityContext") or {}
    pod = container.pod_spec.get("securityContext") or {}

    def effective(field: str) -> Any:
        # The container's own value wins; these two fields fall back to the pod's.
        return own[field] if field in own else pod.get(field)

    label = container.label
    if effective("runAsNonRoot") is not True:
        yield f"{label}: securityContext.runAsNonRoot is not true"
    if own.get("readOnlyRootFilesystem") is not True:
        yield f"{label}: securityContext.readOnlyRootFilesystem is not true"
    if own.get("allowPrivilegeEscalation") is not False:
        yield f"{label}: securityContext.allowPrivilegeEscalation is not false"
    if own.get("privileged"):
        yield f"{label}: securityContext.privileged is true"
    if "ALL" not in ((own.get("capabilities") or {}).get("drop") or []):
        yield f"{label}: securityContext.capabilities.drop does not hold ALL"
    if ((own.get("capabilities") or {}).get("add") or []):
        yield f"{label}: securityContext.capabilities.add is not empty"
    if (effective("seccompProfile") or {}).get("type") != "RuntimeDefault":
        yield f"{label}: securityContext.seccompProfile.type is not RuntimeDefault"


def long_running(container: Container) -> bool:
    """Probes only mean something for containers that run until stopped.

    Init containers (other than restartable sidecars) and Job pods run to completion, and
    the API refuses liveness and readiness probes on init containers.
    """
    if container.owner.get("kind") in ("Job", "CronJob"):
        return False
    return not container.init or container.spec.get("restartPolicy") == "Always"


def probe_violations(container: Container) -> Iterator[str]:
    """A long-running container says whether it is alive and whether it is ready."""
    for probe in ("livenessProbe", "readinessProbe"):
        handlers = [h for h in PROBE_HANDLERS if (container.spec.get(probe) or {}).get(h)]
        if not handlers:
            yield f"{container.label}: no {probe}"


def env_reference_violations(container: Container,
                             config_maps: dict[str, dict[str, str]]) -> Iterator[str]:
    """A `$(NAME)` must name a variable defined before it, or the kubelet leaves it as is."""
    defined: set[str] = set()
    for source in container.spec.get("envFrom") or []:
        name = (source.get("configMapRef") or {}).get("name")
        if name not in config_maps:
            return  # keys of a Secret or an external ConfigMap are unknown here
        defined |= {source.get("prefix", "") + key for key in config_maps[name]}
    for variable in container.spec.get("env") or []:
        for reference in ENV_REFERENCE.findall(variable.get("value") or ""):
            if reference not in defined:
                yield (f"{container.label}: env {variable['name']} refers to $({reference}), "
                       "which is not defined before it")
        defined.add(variable["name"])
    for field in ("command", "args"):
        for argument in container.spec.get(field) or []:
            for reference in ENV_REFERENCE.findall(str(argument)):
                if reference not in defined:
                    yield (f"{container.label}: {field} refers to $({reference}), "
                           "which is not an environment variable of the container")


def rbac_violations(role: dict[str, Any]) -> Iterator[str]:
    """No wildcard in verbs, resources or API groups: grant exactly what is used."""
    for index, rule in enumerate(role.get("rules") or []):
        for field in RBAC_FIELDS:
            wildcards = [value for value in rule.get(field) or [] if "*" in value]
            if wildcards:
                yield (f"{object_name(role)} rule {index}: wildcard {wildcards} in {field}")


def cnpg_cluster_violations(cluster: dict[str, Any]) -> Iterator[str]:
    """A CloudNativePG cluster pins its PostgreSQL image and bounds its resources."""
    label = object_name(cluster)
    spec = cluster.get("spec") or {}
    if "imageName" not in spec:
        yield (f"{label}: no spec.imageName (the operator's default image changes with the "
               "operator's version)")
    else:
        yield from image_violations(label, spec["imageName"])
    yield from resource_violations(label, spec.get("resources"))

"""Render kustomizations with `kubectl kustomize` and walk the pods they would create."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Every kustomization an operator may apply; the loadtest overlay brings in the component.
OVERLAYS = {
    "base": K8S / "base",
    "dev": K8S / "overlays" / "dev",
    "prod": K8S / "overlays" / "prod",
    "loadtest": K8S / "overlays" / "loadtest",
}

# Where each workload kind keeps its pod template.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


class RenderError(Exception):
    """`kubectl kustomize` refused a kustomization; the message carries its complaint."""


def kubectl() -> str:
    """Path of the kubectl binary that renders kustomizations."""
    found = shutil.which("kubectl")
    if found is None:
        raise RenderError("kubectl is not installed: it renders the kustomizations "
                          "(apt-get install kubectl, or any kubectl >= 1.27 on PATH)")
    return found


def render(kustomization_dir: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize DIR` produces; RenderError if it fails."""
    completed = subprocess.run([kubectl(), "kustomize", str(kustomization_dir)],
                               capture_output=True, text=True, timeout=60, check=False)
    if completed.returncode != 0:
        raise RenderError(f"kubectl kustomize {kustomization_dir} failed: "
                          f"{completed.stderr.strip()}")
    return load_documents(completed.stdout)


def load_documents(text: str) -> list[dict[str, Any]]:
    """The non-empty YAML documents in `text`."""
    return [document for document in yaml.safe_load_all(text) if document]


def load_file(path: Path) -> list[dict[str, Any]]:
    """The non-empty YAML documents of a manifest file."""
    return load_documents(path.read_text())


def expectations(path: Path) -> list[str]:
    """The `# expect: ...` lines of a broken fixture: what its check must report."""
    return [line.split(":", 1)[1].strip() for line in path.read_text().splitlines()
            if line.startswith("# expect:")]


def object_name(obj: dict[str, Any]) -> str:
    """`Kind/name` of a Kubernetes object, for messages."""
    return f"{obj.get('kind', '?')}/{obj.get('metadata', {}).get('name', '?')}"


@dataclass(frozen=True)
class PodTemplate:
    owner: dict[str, Any]
    spec: dict[str, Any]

    @property
    def labels(self) -> dict[str, str]:
        """The labels its pods get (a CronJob's sit two templates deep)."""
        metadata: Any = self.owner
        for key in POD_SPEC_PATHS[self.owner["kind"]][:-1]:
            metadata = (metadata or {}).get(key)
        return ((metadata or {}).get("metadata") or {}).get("labels") or {}


@dataclass(frozen=True)
class Container:
    owner: dict[str, Any]
    pod_spec: dict[str, Any]
    spec: dict[str, Any]
    init: bool

    @property
    def label(self) -> str:
        kind = "init container" if self.init else "container"
        return f"{object_name(self.owner)} {kind} {self.spec.get('name', '?')}"


def pod_templates(objects: list[dict[str, Any]]) -> Iterator[PodTemplate]:
    """Each pod spec the objects would create, with the object that owns it."""
    for obj in objects:
        path = POD_SPEC_PATHS.get(obj.get("kind", ""))
        if path is None:
            continue
        spec: Any = obj
        for key in path:
            spec = (spec or {}).get(key)
        yield PodTemplate(owner=obj, spec=spec or {})


def containers(objects: list[dict[str, Any]]) -> Iterator[Container]:
    """Every container and init container of every pod template."""
    for template in pod_templates(objects):
        for init, key in ((True, "initContainers"), (False, "containers")):
            for spec in template.spec.get(key) or []:
                yield Container(owner=template.owner, pod_spec=template.spec, spec=spec,
                                init=init)


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The object of `kind` called `name`; KeyError naming what is there otherwise."""
    for obj in objects:
        if obj.get("kind") == kind and obj.get("metadata", {}).get("name") == name:
            return obj
    present = sorted(object_name(obj) for obj in objects if obj.get("kind") == kind)
    raise KeyError(f"no {kind}/{name}; there are {present}")


def referenced_secrets(objects: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Secret name -> the objects that use it (env, envFrom, volumes, Ingress TLS, CNPG)."""
    uses: dict[str, set[str]] = {}

    def use(name: str | None, obj: dict[str, Any]) -> None:
        if name:
            uses.setdefault(name, set()).add(object_name(obj))

    for container in containers(objects):
        for variable in container.spec.get("env") or []:
            use(((variable.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name"),
                container.owner)
        for source in container.spec.get("envFrom") or []:
            use((source.get("secretRef") or {}).get("name"), container.owner)
    for template in pod_templates(objects):
        for volume in template.spec.get("volumes") or []:
            use((volume.get("secret") or {}).get("secretName"), template.owner)
    for obj in objects:
        if obj.get("kind") == "Ingress":
            for tls in obj.get("spec", {}).get("tls") or []:
                use(tls.get("secretName"), obj)
        if obj.get("kind") == "Cluster":
            credentials = ((obj.get("spec", {}).get("backup") or {}).get("barmanObjectStore")
                           or {}).get("s3Credentials") or {}
            for selector in credentials.values():
                if isinstance(selector, dict):
                    use(selector.get("name"), obj)
    return uses


def undocumented_secrets(objects: list[dict[str, Any]], readme: str) -> list[str]:
    """Secrets the manifests use but do not create, and that the README does not name."""
    created = {obj["metadata"]["name"] for obj in objects if obj.get("kind") == "Secret"}
    return [f"Secret {name!r} (used by {', '.join(sorted(users))}) is not documented in "
            "k8s/README.md" for name, users in sorted(referenced_secrets(objects).items())
            if name not in created and f"`{name}`" not in readme]

"""Schema checks: built-in kinds with kubernetes-validate (strict), CRDs with shipped schemas."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
import yaml
from k8s_manifests import FIXTURES, object_name

# kubernetes-validate re-reads its (megabyte-sized) schema files for every object; the files
# never change during a run and are only read, so each is parsed once. Same results, a fifth
# of the time.
kubernetes_validate.utils.schema_contents = cache(kubernetes_validate.utils.schema_contents)
kubernetes_validate.utils.all_versions = cache(kubernetes_validate.utils.all_versions)

# The oldest Kubernetes release we support and the newest the validator knows: a field
# that is too new for the first, or removed by the second, fails either way.
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.latest_version())
CRD_SCHEMAS = FIXTURES / "crd-schemas"


@cache
def crd_validators() -> dict[tuple[str, str], jsonschema.Draft202012Validator]:
    """(apiVersion, kind) -> validator, for each custom resource schema we ship."""
    validators = {}
    for path in sorted(CRD_SCHEMAS.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        jsonschema.Draft202012Validator.check_schema(document["schema"])
        validators[(document["apiVersion"], document["kind"])] = (
            jsonschema.Draft202012Validator(document["schema"]))
    return validators


def schema_errors(objects: list[dict[str, Any]],
                  versions: tuple[str, ...] = KUBERNETES_VERSIONS) -> list[str]:
    """Every object that does not match its kind's schema, one line per problem."""
    errors: list[str] = []
    for obj in objects:
        key = (obj.get("apiVersion", ""), obj.get("kind", ""))
        if key in crd_validators():
            errors += custom_resource_errors(obj, crd_validators()[key])
        else:
            errors += builtin_errors(obj, versions)
    return errors


def custom_resource_errors(obj: dict[str, Any],
                           validator: jsonschema.Draft202012Validator) -> list[str]:
    """All the ways a custom resource breaks its shipped schema."""
    return [f"{object_name(obj)}: {_path(error.absolute_path)}: {error.message}"
            for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.path))]


def builtin_errors(obj: dict[str, Any], versions: tuple[str, ...]) -> list[str]:
    """The first problem kubernetes-validate --strict finds, per Kubernetes version."""
    # Overlays share most objects; each distinct one is validated once per session.
    key = (json.dumps(obj, sort_keys=True), versions)
    if key not in _validated:
        _validated[key] = _builtin_errors(obj, versions)
    return list(_validated[key])


_validated: dict[tuple[str, tuple[str, ...]], list[str]] = {}


def _builtin_errors(obj: dict[str, Any], versions: tuple[str, ...]) -> list[str]:
    errors = []
    for version in versions:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{object_name(obj)} (Kubernetes {version}): "
                          f"{_path(error.path)}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError:
            # An unknown kind is a typo or a CRD nobody checks: never let it pass silently.
            errors.append(f"{object_name(obj)}: no schema for apiVersion "
                          f"{obj.get('apiVersion')!r} kind {obj.get('kind')!r} in Kubernetes "
                          f"{version} (a typo? a CRD needs a schema in {CRD_SCHEMAS.name}/)")
            break
    return errors


def _path(parts: Any) -> str:
    return ".".join(str(part) for part in parts) or "(top level)"


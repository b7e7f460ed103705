"""How the kubelet turns a container spec into a process: command line and environment."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

# `$$` is a literal `$`; `$(NAME)` is replaced when NAME is defined, else left as written.
_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, defined: Mapping[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion of one env value, command or argument."""
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return defined.get(match.group(1), match.group(0))
    return _REFERENCE.sub(replace, text)


def config_maps(objects: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """ConfigMap name -> data, of the rendered objects."""
    return {obj["metadata"]["name"]: obj.get("data") or {}
            for obj in objects if obj.get("kind") == "ConfigMap"}


def container_environment(maps: Mapping[str, Mapping[str, str]], spec: dict[str, Any], *,
                          secret: Callable[[str, str], str | None],
                          field: Callable[[str], str],
                          config_overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables the kubelet gives the container: envFrom first, then env in order.

    `secret(name, key)` and `field(path)` stand in for the cluster's Secrets and the downward
    API; `config_overrides` replaces ConfigMap values (the cluster's addresses, for example).
    """
    overrides = config_overrides or {}
    environment: dict[str, str] = {}
    for source in spec.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            data = maps[source["configMapRef"]["name"]]
            environment |= {prefix + k: overrides.get(k, v) for k, v in data.items()}
        else:
            raise ValueError(f"envFrom {source} is not supported here")
    for variable in spec.get("env") or []:
        name = variable["name"]
        if "value" in variable:
            environment[name] = expand(variable["value"], environment)
            continue
        source = variable.get("valueFrom") or {}
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            value = secret(ref["name"], ref["key"])
            if value is None:
                if ref.get("optional"):
                    continue
                raise LookupError(f"Secret {ref['name']} has no key {ref['key']}: the pod "
                                  "would not start (CreateContainerConfigError)")
            environment[name] = value
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            data = maps[ref["name"]]
            environment[name] = overrides.get(ref["key"], data[ref["key"]])
        elif "fieldRef" in source:
            environment[name] = field(source["fieldRef"]["fieldPath"])
        else:
            raise ValueError(f"env {name}: {source} is not supported here")
    return environment


def command_line(spec: dict[str, Any], entrypoint: list[str], cmd: list[str],
                 environment: Mapping[str, str]) -> list[str]:
    """`command` replaces the image's ENTRYPOINT and `args` its CMD, both `$(VAR)`-expanded."""
    command = spec.get("command")
    args = spec.get("args")
    if command is not None:
        words = [*command, *(args or [])]
    else:
        words = [*entrypoint, *(cmd if args is None else args)]
    return [expand(str(word), environment) for word in words]

"""Which RBAC rule, if any, allows an HTTP request to the Kubernetes API (no side effects)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


@dataclass(frozen=True)
class ApiRequest:
    verb: str
    api_group: str
    resource: str  # with its subresource, e.g. "deployments/scale"
    name: str | None
    namespace: str | None


def api_request(method: str, url: str) -> ApiRequest:
    """The RBAC attributes of a request, as the API server's authorizer derives them."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if segments[:1] == ["api"]:
        group, rest = "", segments[2:]
    elif segments[:1] == ["apis"]:
        group, rest = segments[1], segments[3:]
    else:
        raise ValueError(f"not a resource request: {url}")
    namespace = None
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else None
    if len(rest) >= 3:
        resource = f"{resource}/{rest[2]}"
    watching = parse_qs(parts.query).get("watch", ["false"])[0] in ("true", "1")
    if method == "GET":
        verb = "get" if name else ("watch" if watching else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = VERBS[method]
    return ApiRequest(verb, group, resource, name, namespace)


def allowed(rules: list[dict[str, Any]], request: ApiRequest) -> bool:
    """Whether any rule grants the request (exact matches: our roles carry no wildcards)."""
    for rule in rules:
        names = rule.get("resourceNames")
        if (request.verb in rule.get("verbs", ())
                and request.api_group in rule.get("apiGroups", ())
                and request.resource in rule.get("resources", ())
                and (not names or request.name in names)):
            return True
    return False

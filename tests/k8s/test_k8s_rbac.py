"""The request-to-RBAC mapping that judges the scaler's real API calls, on a table of requests."""

from __future__ import annotations

import pytest
from k8s_manifests import find
from k8s_rbac import allowed, api_request

NS = "/apis/apps/v1/namespaces/peakshop"


@pytest.mark.parametrize("method,url,verdict", [
    ("GET", f"{NS}/deployments/peakshop-web/scale", True),
    ("PATCH", f"{NS}/deployments/peakshop-worker/scale", True),
    ("GET", f"{NS}/deployments/peakshop-web/status", True),
    ("GET", f"{NS}/deployments?watch=true", True),
    ("POST", "/api/v1/namespaces/peakshop/events", True),
    ("POST", "/apis/coordination.k8s.io/v1/namespaces/peakshop/leases", True),
    ("PATCH", "/apis/coordination.k8s.io/v1/namespaces/peakshop/leases/peakshop-scaler", True),
    # What the scaler must not be able to do:
    ("PATCH", f"{NS}/deployments/peakshop-db/scale", False),
    ("PATCH", f"{NS}/deployments/peakshop-web", False),
    ("DELETE", f"{NS}/deployments/peakshop-web", False),
    ("GET", "/api/v1/namespaces/peakshop/secrets/peakshop-app", False),
    ("PATCH", "/apis/coordination.k8s.io/v1/namespaces/peakshop/leases/kube-scheduler", False),
    ("GET", f"{NS}/statefulsets/peakshop-redis/scale", False),
])
def test_scaler_role_decides_requests(rendered, method, url, verdict):
    rules = find(rendered("prod"), "Role", "peakshop-scaler")["rules"]
    assert allowed(rules, api_request(method, url)) is verdict


def test_request_attributes():
    assert api_request("GET", f"{NS}/deployments").verb == "list"
    request = api_request("PUT", f"{NS}/deployments/peakshop-web/scale")
    assert (request.verb, request.api_group, request.resource, request.name,
            request.namespace) == ("update", "apps", "deployments/scale", "peakshop-web",
                                   "peakshop")

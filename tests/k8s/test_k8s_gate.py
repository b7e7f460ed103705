"""The edge gate in the web pod: shoppers enter through it, gunicorn sits behind it."""

from __future__ import annotations

import pytest
from k8s_manifests import find
from test_k8s_design import container, env_value


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_shoppers_enter_through_the_gate_and_it_forwards_to_gunicorn(rendered, overlay):
    objects = rendered(overlay)
    gate = container(objects, "Deployment", "peakshop-web", "gate")
    web = container(objects, "Deployment", "peakshop-web", "web")
    assert gate["args"] == ["gate"]
    gate_port = next(p for p in gate["ports"] if p["name"] == "gate")["containerPort"]
    web_port = next(p for p in web["ports"] if p["name"] == "http")["containerPort"]
    assert env_value(objects, gate, "PEAKSHOP_BIND").endswith(f":{gate_port}")
    assert env_value(objects, gate, "PEAKSHOP_GATE_UPSTREAM") == f"127.0.0.1:{web_port}"
    service = find(objects, "Service", "peakshop-web")
    http = next(p for p in service["spec"]["ports"] if p["name"] == "http")
    assert http["targetPort"] == "gate"
    # The ingress controller's address is appended by the gate: gunicorn trusts one more hop.
    assert (int(env_value(objects, web, "PEAKSHOP_PROXY_HOPS"))
            == int(env_value(objects, gate, "PEAKSHOP_PROXY_HOPS")) + 1)
    # One /metrics for both: the gate writes its counters where gunicorn's master reads.
    assert (env_value(objects, gate, "PROMETHEUS_MULTIPROC_DIR")
            == env_value(objects, web, "PROMETHEUS_MULTIPROC_DIR"))
    # The gate needs the line and the signing key, never the database.
    assert "PEAKSHOP_DATABASE_URL" not in {e["name"] for e in gate.get("env", [])}
    policy = find(objects, "NetworkPolicy", "peakshop-web")
    from_ingress = policy["spec"]["ingress"][0]
    assert {p["port"] for p in from_ingress["ports"]} == {gate_port}

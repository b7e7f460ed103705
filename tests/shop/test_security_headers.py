"""The edges of every response: hardening headers, TLS behind a trusted proxy, rate limits,
the production secret, the metrics Content-Type and the Stripe webhook under the dummy gateway.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shop.core.settings import ConfigError, load_settings

HARDENING = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
SAFE_REFERRER_POLICIES = {"strict-origin-when-cross-origin", "same-origin", "no-referrer",
                          "strict-origin"}
STRONG_SECRET = "s" * 48


def assert_hardened(response):
    for name, value in HARDENING.items():
        if name == "Referrer-Policy":  # pages may choose a stricter one of their own
            assert response.headers.get(name) in SAFE_REFERRER_POLICIES, dict(response.headers)
        else:  # pages may carry a fuller CSP of their own; it must still forbid framing
            assert value in response.headers.get(name, ""), (name, dict(response.headers))


def test_every_kind_of_response_is_hardened(client, api, shop):
    api.add_product(shop, "TEA")
    responses = [
        client.get("/healthz"),
        client.get("/api/v1/openapi.json"),
        client.get(f"/api/v1/shops/{shop.slug}/products/TEA"),
        client.get("/api/v1/nothing-here"),                       # problem 404
        client.post("/api/v1/merchants", json={}),               # problem 422
        client.get(f"/shops/{shop.slug}/products/TEA", headers={"Accept": "text/html"}),
        client.get("/no-such-page", headers={"Accept": "text/html"}),
        client.get("/metrics"),
    ]
    for response in responses:
        assert_hardened(response)
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP


def test_forwarded_proto_is_ignored_without_a_trusted_proxy(client, api, shop):
    api.add_product(shop, "TEA")
    response = client.get(f"/shops/{shop.slug}/products/TEA",
                          headers={"X-Forwarded-Proto": "https", "Accept": "text/html"})
    assert "Strict-Transport-Security" not in response.headers
    assert all("Secure" not in cookie for cookie in response.headers.getlist("Set-Cookie"))


def test_behind_a_trusted_tls_proxy_hsts_and_secure_cookies(make_app, api, shop):
    """One trusted hop: its X-Forwarded-Proto/-For are believed; a spoofed extra hop is not."""
    api.add_product(shop, "TEA")
    client = make_app(proxy_hops=1).test_client()
    # The cart page notes the visit in a session cookie (a first visit's product page, which
    # shared caches keep, sets none).
    page = client.get(f"/shops/{shop.slug}/cart",
                      headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5",
                               "Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    cookies = page.headers.getlist("Set-Cookie")
    assert cookies and all("; Secure" in cookie for cookie in cookies)
    assert_hardened(page)
    plain = client.get("/healthz", headers={"X-Forwarded-Proto": "http"})
    assert "Strict-Transport-Security" not in plain.headers


def test_cart_creation_is_bounded_per_client(make_app, api, shop, redis_client):
    """Flask-Limiter counts in the real Redis; the 4th cart of a minute is a 429 problem with
    Retry-After, and another client is not affected."""
    client = make_app(env="production", secret_key=STRONG_SECRET,
                      cart_rate_limit="3/minute").test_client()
    flooder = {"REMOTE_ADDR": "203.0.113.7"}
    for _ in range(3):
        assert client.post(f"/api/v1/shops/{shop.slug}/carts",
                           environ_base=flooder).status_code == 201
    refused = client.post(f"/api/v1/shops/{shop.slug}/carts", environ_base=flooder)
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["code"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert_hardened(refused)
    other = client.post(f"/api/v1/shops/{shop.slug}/carts",
                        environ_base={"REMOTE_ADDR": "198.51.100.1"})
    assert other.status_code == 201
    assert any(b"peakshop:limits" in key for key in redis_client.keys()), redis_client.keys()


def test_loopback_is_not_limited_in_development(make_app, shop):
    client = make_app(cart_rate_limit="2/minute").test_client()
    statuses = {client.post(f"/api/v1/shops/{shop.slug}/carts").status_code for _ in range(4)}
    assert statuses == {201}


@pytest.mark.parametrize("secret", ["dev-only-insecure-secret", "short", "x" * 31])
def test_production_refuses_a_weak_secret(secret):
    with pytest.raises(ConfigError, match="PEAKSHOP_SECRET_KEY .*production"):
        load_settings({"PEAKSHOP_ENV": "production", "PEAKSHOP_SECRET_KEY": secret})
    with pytest.raises(ConfigError, match="PEAKSHOP_SECRET_KEY"):
        load_settings({"PEAKSHOP_ENV": "production"})  # the default secret
    assert load_settings({"PEAKSHOP_SECRET_KEY": secret}).env == "development"
    assert load_settings({"PEAKSHOP_ENV": "production",
                          "PEAKSHOP_SECRET_KEY": STRONG_SECRET}).env == "production"


def test_unknown_environment_is_refused():
    with pytest.raises(ConfigError, match="PEAKSHOP_ENV must be one of development, production"):
        load_settings({"PEAKSHOP_ENV": "prod"})


def test_serve_stops_with_one_line_in_production_with_the_default_secret(tmp_path):
    env = {**os.environ, "PEAKSHOP_ENV": "production", "PEAKSHOP_INSTANCE_PATH": str(tmp_path)}
    env.pop("PEAKSHOP_SECRET_KEY", None)
    result = subprocess.run([sys.executable, "-m", "peakshop.cli", "serve"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "PEAKSHOP_SECRET_KEY" in lines[0] and "secrets" in lines[0]


def test_metrics_content_type_names_its_charset_once(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=1.0.0; charset=utf-8"


def test_stripe_webhook_under_the_dummy_gateway_is_400(client):
    unsigned = client.post("/api/v1/payments/stripe/webhook", json={"type": "x"})
    assert unsigned.status_code == 400
    assert unsigned.mimetype == "application/problem+json"
    signed_badly = client.post("/api/v1/payments/stripe/webhook", data=b"{}",
                               content_type="application/json",
                               headers={"Stripe-Signature": "t=1,v1=00"})
    assert signed_badly.status_code == 400
    assert "PEAKSHOP_PAYMENT_GATEWAY" in signed_badly.get_json()["detail"]


def test_the_limiter_runs_for_limited_views_only(make_app, api, shop, redis_client):
    """Flask-Limiter's hooks are skipped on views that no limit marks (a product read asks
    nothing of it and writes nothing to its storage), and the marked view stays limited,
    with its headers."""
    app = make_app(env="production", secret_key=STRONG_SECRET, cart_rate_limit="2/minute")
    client = app.test_client()
    limiter = app.extensions["peakshop_limiter"]
    asked: list[str] = []

    @limiter.request_filter
    def count_questions() -> bool:  # the limiter asks its filters before any check
        from flask import request
        asked.append(request.endpoint)
        return False

    api.add_product(shop, "MUG", price=1250, stock=5)
    reader = {"REMOTE_ADDR": "203.0.113.9"}
    for path in (f"/api/v1/shops/{shop.slug}/products/MUG", f"/api/v1/shops/{shop.slug}/products",
                 f"/shops/{shop.slug}/products/MUG", "/healthz"):
        assert client.get(path, environ_base=reader).status_code == 200, path
    assert asked == []
    assert not any(b"peakshop:limits" in key for key in redis_client.keys())
    opened = client.post(f"/api/v1/shops/{shop.slug}/carts", environ_base=reader)
    assert opened.status_code == 201
    assert opened.headers["X-RateLimit-Limit"] == "2"
    assert asked and set(asked) == {"cart_api.create_cart"}
    assert any(b"peakshop:limits" in key for key in redis_client.keys())
    assert client.post(f"/api/v1/shops/{shop.slug}/carts",
                       environ_base=reader).status_code == 201
    refused = client.post(f"/api/v1/shops/{shop.slug}/carts", environ_base=reader)
    assert refused.status_code == 429 and refused.get_json()["code"] == "rate_limited"

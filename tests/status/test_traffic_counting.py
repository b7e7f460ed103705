"""Requests counted per component in Redis, read back per window."""

import pytest

from shop.status import slo_counter
from shop.status.burnrate import Window
from shop.status.components import Component
from shop.status.traffic import component_of

T0 = 1_800_000_000.0  # a fixed clock: bucket arithmetic, not wall time, is under test


@pytest.mark.parametrize("rule, component", [
    ("/api/v1/carts/<cart_id>/checkout", Component.CHECKOUT),
    ("/shops/<slug>/checkout", Component.CHECKOUT),
    ("/api/v1/payments/stripe/webhook", Component.PAYMENTS),
    ("/api/v1/orders/<order_id>", Component.ORDER_PROCESSING),
    ("/orders/<order_id>", Component.ORDER_PROCESSING),
    ("/api/v1/shops/<slug>/products", Component.STOREFRONT),
    ("/shops/<slug>/", Component.STOREFRONT),
    ("/healthz", None), ("/readyz", None), ("/metrics", None),
    ("/status", None), ("/api/v1/status", None), ("/shops/<slug>/status", None),
    ("/api/v1/ops/incidents", None), ("/static/<path:filename>", None), (None, None),
])
def test_routes_map_to_components(rule, component):
    assert component_of(rule) == component


def test_windows_add_up_the_right_buckets(redis_client):
    slo_counter.record(redis_client, "checkout", good=5, bad=0, now=T0 - 3 * 3600)
    slo_counter.record(redis_client, "checkout", good=10, bad=2, now=T0 - 1200)
    slo_counter.record(redis_client, "checkout", good=7, bad=3, now=T0 - 30)
    slo_counter.record(redis_client, "payments", good=0, bad=50, now=T0)
    counts = slo_counter.window_counts(redis_client, "checkout", [300, 1800, 3600, 21600],
                                       now=T0)
    assert counts == {300: Window(7, 3), 1800: Window(17, 5), 3600: Window(17, 5),
                      21600: Window(22, 5)}
    assert 0 < redis_client.ttl(slo_counter.bucket_key("checkout", int((T0 - 30) // 60))) \
        <= slo_counter.RETENTION_S


def test_requests_are_counted_good_and_bad(client, shop, redis_client, make_app):
    from tests.support.servers import free_port

    client.get(f"/api/v1/shops/{shop.slug}/products")
    client.get("/api/v1/shops/no-such-shop/products")  # a 404 is the caller's, not ours
    client.get("/healthz")
    broken = make_app(database_url=f"postgresql+psycopg://x@127.0.0.1:{free_port()}/gone")
    assert broken.test_client().get(f"/api/v1/shops/{shop.slug}/products").status_code == 503
    counts = slo_counter.window_counts(redis_client, "storefront", [300])
    # Sign-up (the `shop` fixture), two product lists, one failure.
    assert counts[300] == Window(good=3, bad=1)


def test_counting_never_fails_a_request_when_redis_is_down(make_app):
    from tests.support.servers import free_port

    app = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    assert app.test_client().get("/api/v1/shops/any/products").status_code == 404

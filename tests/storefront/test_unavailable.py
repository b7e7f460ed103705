"""Redis or the database down: a 503 page with Retry-After, never a 500.

The outages are real: the app is pointed at a loopback port where nothing listens (Redis,
PostgreSQL) or at a path SQLite cannot open, so the drivers fail exactly as in production.
"""

import pytest

from shop import create_app
from shop.core.errors import RETRY_AFTER_S
from tests.storefront.pages import SAME_ORIGIN
from tests.support.servers import free_port


@pytest.fixture
def app_without_redis(settings_overrides):
    application = create_app({**settings_overrides,
                              "redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    yield application
    application.extensions["peakshop"].database.dispose()


@pytest.fixture
def app_without_database(settings_overrides, tmp_path):
    if settings_overrides["database_url"].startswith("sqlite"):
        # A directory where the database file should be: SQLite cannot open it.
        unreachable = f"sqlite:///{tmp_path}"
    else:
        unreachable = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/peakshop"
    application = create_app({**settings_overrides, "database_url": unreachable})
    yield application
    application.extensions["peakshop"].database.dispose()


def assert_unavailable_page(response) -> None:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_S)
    assert "text/html" in response.content_type
    assert "Back in a moment" in response.get_data(as_text=True)


def test_cart_page_without_redis(app, app_without_redis, shopper, api, shop):
    api.add_product(shop, "MUG")
    shopper.add_to_cart(shop.slug, "MUG", 1)
    # The same browser (session cookie) now reaches a server whose Redis is down.
    client = app_without_redis.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"],
                      shopper.client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value)
    response = client.get(f"/shops/{shop.slug}/cart")
    assert_unavailable_page(response)
    assert "cart store" in response.get_data(as_text=True)


def test_add_to_cart_without_redis(app_without_redis, api, shop):
    api.add_product(shop, "MUG")
    client = app_without_redis.test_client()
    page = client.get(f"/shops/{shop.slug}/products/MUG")
    assert page.status_code == 200  # browsing needs only the database
    response = client.post(f"/shops/{shop.slug}/cart/items",
                           data={"csrf_token": "", "sku": "MUG", "quantity": "1"},
                           headers=SAME_ORIGIN)
    assert_unavailable_page(response)


def test_catalog_without_database(app_without_database):
    response = app_without_database.test_client().get("/shops/nordpol-geschenke/")
    assert_unavailable_page(response)
    assert "database" in response.get_data(as_text=True)


def test_order_page_without_database(app_without_database):
    response = app_without_database.test_client().get(f"/orders/{'0' * 32}?token=x")
    assert_unavailable_page(response)

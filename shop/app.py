"""The application factory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from shop.core import edge, errors, metrics, openapi, security
from shop.core import logging as shop_logging
from shop.core import redis as shop_redis
from shop.core.db import Database
from shop.core.resources import Resources
from shop.core.settings import Settings, load_settings
from shop.orders.metrics import init_app as init_order_metrics
from shop.payments.registry import gateway_for


def create_app(config: Mapping[str, Any] | Settings | None = None) -> Flask:
    """Build the storefront: defaults, then the environment, then `config` (tests)."""
    settings = config if isinstance(config, Settings) else load_settings(overrides=config)
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=settings.max_body_bytes,
                      TESTING=settings.testing, SESSION_COOKIE_SAMESITE="Lax")
    app.extensions["peakshop"] = Resources(
        settings=settings,
        database=Database(settings.database_url),
        redis=shop_redis.connect(settings.redis_url, settings.instance_path),
        gateway=gateway_for(settings),
    )
    shop_logging.configure(json_lines=settings.log_json)
    shop_logging.init_app(app)
    metrics.init_app(app)
    init_order_metrics(app)
    errors.init_app(app)
    edge.init_app(app)
    _register_blueprints(app)
    openapi.init_app(app)
    security.init_app(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from shop.cart.api import blueprint as cart_api
    from shop.catalog.api import blueprint as catalog_api
    from shop.checkout.api import blueprint as checkout_api
    from shop.fulfilment.api import blueprint as fulfilment_api
    from shop.merchants.api import blueprint as merchants_api
    from shop.ops.api import blueprint as ops
    from shop.orders.api import blueprint as orders_api
    from shop.payments.webhooks import blueprint as payment_webhooks
    from shop.storefront.views import blueprint as storefront

    for blueprint in (ops, merchants_api, catalog_api, cart_api, checkout_api, orders_api,
                      fulfilment_api, payment_webhooks, storefront):
        app.register_blueprint(blueprint)

"""The application factory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from sqlalchemy.orm import configure_mappers

from shop.core import edge, errors, metrics, openapi, security
from shop.core import logging as shop_logging
from shop.core import redis as shop_redis
from shop.core.db import Database
from shop.core.resources import Resources
from shop.core.settings import Settings, load_settings
from shop.orders.metrics import init_app as init_order_metrics
from shop.payments.registry import gateway_for
from shop.status.metrics import init_app as init_status_metrics
from shop.status.traffic import init_app as init_status_counting
from shop.waiting_room.gate import init_app as init_waiting_room


def create_app(config: Mapping[str, Any] | Settings | None = None) -> Flask:
    """Build the storefront: defaults, then the environment, then `config` (tests)."""
    settings = config if isinstance(config, Settings) else load_settings(overrides=config)
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=settings.max_body_bytes,
                      TESTING=settings.testing, SESSION_COOKIE_SAMESITE="Lax")
    redis_client = shop_redis.connect(settings.redis_url, settings.instance_path)
    app.extensions["peakshop"] = Resources(
        settings=settings,
        database=Database(settings.database_url),
        redis=redis_client,
        gateway=gateway_for(settings, redis_client),
    )
    shop_logging.configure(json_lines=settings.log_json)
    shop_logging.init_app(app)
    metrics.init_app(app)
    init_order_metrics(app)
    errors.init_app(app)
    edge.init_app(app)
    _register_blueprints(app)
    init_status_counting(app)
    init_status_metrics(app)
    _register_merchant_area(app)
    _answer_revalidations_early(app)
    _answer_shopper_writes_early(app)
    _register_images(app)
    init_waiting_room(app)
    openapi.init_app(app)
    security.init_app(app)
    _keep_personal_answers_private(app)
    _remember_sync_answers(app)
    # Every model is imported by now: set up their mappers here, not in the middle of a
    # worker's first request (SQLAlchemy's advice for an application).
    configure_mappers()
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
    from shop.privacy.api import blueprint as privacy_api
    from shop.storefront.views import blueprint as storefront
    from shop.waiting_room.api import blueprint as waiting_room_api

    for blueprint in (ops, merchants_api, catalog_api, cart_api, checkout_api, orders_api,
                      fulfilment_api, payment_webhooks, storefront):
        app.register_blueprint(blueprint)
    from shop.breaches.api import blueprint as breaches_api
    from shop.status.api import blueprint as status_api
    from shop.status.pages import blueprint as status_pages
    from shop.webhooks.api import blueprint as webhooks_api

    for blueprint in (status_api, status_pages, webhooks_api, breaches_api):
        app.register_blueprint(blueprint)
    app.register_blueprint(privacy_api)
    from shop.fulfilment.shipping_api import blueprint as shipping_api
    app.register_blueprint(shipping_api)
    app.register_blueprint(waiting_room_api)
    from shop.merchants.settings_api import blueprint as shop_settings_api
    app.register_blueprint(shop_settings_api)


def _register_merchant_area(app: Flask) -> None:
    from shop.catalog.transfer_api import blueprint as catalog_transfer_api
    from shop.events.api import blueprint as events_api
    from shop.events.ops_api import blueprint as events_ops_api
    from shop.merchants.access import init_app as init_merchant_access
    from shop.merchants.account_api import blueprint as merchant_account_api
    from shop.merchants.pages import blueprint as merchant_pages

    for blueprint in (merchant_account_api, events_api, events_ops_api, catalog_transfer_api,
                      merchant_pages):
        app.register_blueprint(blueprint)
    init_merchant_access(app)


def _answer_revalidations_early(app: Flask) -> None:
    from shop.storefront import revalidation

    # Before the waiting room wraps the app: its FastLine then runs first.
    revalidation.init_app(app)


def _keep_personal_answers_private(app: Flask) -> None:
    from shop.core import http_cache
    from shop.waiting_room.views import ROOM_HEADER

    # Last: it must see the final headers, cookies and visitors' passes included.
    http_cache.init_app(app, personal_headers=(ROOM_HEADER,))
def _register_images(app: Flask) -> None:
    from shop.images.api import init_app as init_images

    init_images(app)


def _remember_sync_answers(app: Flask) -> None:
    from shop.core import dispatch

    dispatch.init_app(app)


def _answer_shopper_writes_early(app: Flask) -> None:
    from shop.storefront import early_writes as early

    # Before the waiting room wraps the app: its FastLine then runs first.
    early.init_app(app)

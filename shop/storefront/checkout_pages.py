"""Checkout and the order status page."""

from __future__ import annotations

import uuid

from flask import Response, flash, make_response, redirect, request, url_for

from shop.cart.api import cart_json
from shop.checkout import service as checkout
from shop.checkout.rules import Limits
from shop.core import resources
from shop.core.errors import InvalidInput, Problem
from shop.core.resources import Resources
from shop.core.timeutil import utcnow
from shop.fulfilment import countries
from shop.merchants.models import Merchant
from shop.orders import service as orders
from shop.orders.api import order_json
from shop.storefront import cart_session, delivery, formatting, forms
from shop.storefront.blueprint import blueprint, load_shop, page
from shop.storefront.cart_pages import priced_cart
from shop.storefront.messages import problem_text

# While an order can still change, its page reloads itself this often (no JavaScript).
REFRESH_S = 5


def render_checkout(current: Resources, merchant: Merchant, slug: str, status: int = 200,
                    error: str | None = None, form: dict | None = None):
    """The checkout form beside the order summary; a new one-time key on every render."""
    cart, lines = priced_cart(current, merchant, slug)
    if not lines:
        flash("Your cart is empty: add products before checking out.")
        return redirect(url_for(".show_cart", slug=slug), 303)
    form = form or {}
    with current.database.reading() as session:
        country = delivery.default_country(session, merchant.id, form.get("country"),
                                           request.args.get("country"))
        shipping = delivery.delivery_view(session, merchant.id, lines, country,
                                          form.get("shipping_option"), utcnow(),
                                          merchant.prices_include_vat)
    response = make_response(*page(
        "checkout.html", status, shop=merchant,
        summary=cart_json(cart, lines, prices_include_vat=merchant.prices_include_vat),
        form={**form, "country": country}, idempotency_key=uuid.uuid4().hex,
        cards=forms.card_choices(current.gateway.name), error=error, delivery=shipping,
        countries=countries.choices(), format_date=formatting.format_date))
    # The form carries a one-time key: a page from the cache would replay an old checkout.
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/shops/<slug>/checkout")
def show_checkout(slug: str):
    """E-mail, shipping address and payment for the cart."""
    current = resources.current()
    return render_checkout(current, load_shop(slug), slug)


@blueprint.post("/shops/<slug>/checkout")
def place_order(slug: str):
    """Reserve, pay and place the order, then show its status page."""
    current = resources.current()
    merchant = load_shop(slug)
    if "update_delivery" in request.form:
        # The shopper changed the country: show that country's options, keep what was typed.
        return render_checkout(current, merchant, slug, form=request.form.to_dict())
    try:
        key = forms.idempotency_key(request.form)
        cart_id = cart_session.cart_id(slug)
        if cart_id is None:
            raise InvalidInput("your cart is empty: add products before checking out",
                               code="empty_cart")
        order_request = checkout.parse_request(
            forms.checkout_body(request.form, current.gateway.name), current.gateway)
        result = checkout.checkout(current.database, current.redis, current.gateway,
                                   cart_id=cart_id, request=order_request, idempotency_key=key,
                                   limits=Limits.from_settings(current.settings))
    except Problem as problem:
        if problem.status >= 500:
            raise
        return _refused(current, merchant, slug, problem)
    return _to_order(current, result.order.id)


def _refused(current: Resources, merchant: Merchant, slug: str, problem: Problem):
    if problem.code == "cart_already_checked_out":
        # This browser's cart was ordered already (another tab, an older form): show it.
        flash("This cart was already ordered: here is that order. Nothing was charged again.")
        return _to_order(current, problem.extra["order_id"])
    cart, lines = priced_cart(current, merchant, slug)
    names = {line.product.sku: line.product.name for line in lines}
    return render_checkout(current, merchant, slug, problem.status,
                           problem_text(problem, names), form=request.form.to_dict())


def _to_order(current: Resources, order_id: str) -> Response:
    token = orders.access_token(current.settings.secret_key, order_id)
    return redirect(url_for(".show_order", order_id=order_id, token=token), 303)


@blueprint.get("/orders/<order_id>")
def show_order(order_id: str):
    """The order's status, lines, total and promised delivery; reloads until final."""
    current = resources.current()
    with current.database.reading() as session:
        order = order_json(orders.order_for_shopper(session, current.settings.secret_key,
                                                    order_id, request.args.get("token", "")))
    words = formatting.status_words(order["status"])
    response = make_response(*page(
        "order.html", order=order, words=words,
        failure=formatting.failure_text(order["failure_reason"]),
        # The date promised at checkout, until a worker books it (then the booked one).
        delivery=formatting.format_date(order["shipping"]["promised_date"]),
        christmas=formatting.christmas_text(order["shipping"]["arrives_before_christmas"]),
        refresh_s=None if words.final else REFRESH_S, shop_slug=cart_session.last_shop()))
    # The URL carries the order's access token: keep the page out of shared caches.
    response.headers["Cache-Control"] = "no-store"
    return response
